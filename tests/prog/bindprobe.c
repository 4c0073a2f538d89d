/*
 * bindprobe.c - inbound TCP through SOCKS BIND (issue 9), driven by
 * tests/lab/bind.sh under the shim against tests/lab/callback.py in the
 * lab's target namespace:
 *
 *   bindprobe [options] HOST PORT MODE
 *
 * connects (through the proxy) to the call-back server at HOST:PORT (the
 * control connection), makes a TCP socket of the same family, binds it to
 * the wildcard address with port 0, listens, reads getsockname (the
 * proxy's BND: printed "bnd ADDR PORT"; the socket's own port, read with
 * a raw syscall, "real PORT"), sends "ADDR PORT DELAY SIZE" on the
 * control connection, and accepts the call-back the way MODE says:
 *
 *   poll, select       wait for readable, then accept
 *   epoll-lt           epoll (level-triggered) registered after listen;
 *                      after the accept no further event
 *   epoll-et           EPOLLET on a non-blocking listener: one event, then
 *                      accept until EAGAIN
 *   epoll-before       registered with epoll before listen()
 *   block              a blocking accept; the new fd is blocking and has
 *                      no FD_CLOEXEC
 *   nonblock           a non-blocking listener: accept gives EAGAIN and
 *                      poll reports nothing before the peer connected
 *                      (the call-back waits DELAY ms)
 *   accept4            accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) honoured
 *   thread             a second thread blocks in accept while the main
 *                      thread waits in pthread_join
 *   fork               fork after listen: the child sends the request and
 *                      accepts, the parent waits for it
 *   fork-close         the same, the parent closing its copy at once
 *   fork-parent        a child closes its copy and exits; the parent
 *                      accepts
 *   close, close_range, closefrom, close-dup
 *                      the listener goes before the peer connects: the
 *                      shim's fds (>= 512) and its waiter thread are gone
 *                      afterwards, and the call-back finds nobody
 *   local              while the BIND is in flight, a server of the
 *                      program's on 127.0.0.1 port 0 and one on 0.0.0.0
 *                      port -l (default 5555) serve local connections
 *                      (not through BIND: the shim's fds do not grow)
 *   never              run with SOCKSIFY_BIND=never: the listener stays
 *                      local (getsockname shows the real port) and the
 *                      call-back fails
 *   refused            the proxy refuses BIND: listen() fails (-e NAME,
 *                      default EOPNOTSUPP) and the socket is not listening
 *   fail               the session fails (-w ADDR: the call-back comes
 *                      from an address not the expected peer, refused by
 *                      the proxy; -d longer than bind_timeout): poll
 *                      reports it, accept() fails with -e NAME
 *
 * The accepted stream: getpeername must be the call-back's end ("from"
 * on the control connection), getsockname the listener's BND, the SIZE
 * bytes byte-exact; "back" written on it is acknowledged.
 *
 * Options: -d DELAY_MS (the call-back's wait), -n SIZE (default 100000),
 * -S (getsockname before listen, as curl does), -4/-6 (the family),
 * -l PORT (local mode's fixed port), -e ERRNAME (refused and fail modes),
 * -b PORT (bind that port instead of 0),
 * -p FILE (write the real port), -r FILE -g FILE (once listening, create
 * READY and wait for GO before the request: bind.sh connects to the real
 * port meanwhile, which a plain listener (mode never) must take and a
 * BIND listener never; in refused mode after the failed listen),
 * -w ADDR (the call-back's source address).
 *
 * One "ok:"/"FAIL:" line per fact (fact.h), "all facts hold" at the end;
 * exit status 1 on any FAIL.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fact.h"

#define OWN_BASE 512 /* SFY_OWN_FD_BASE (preload/ownfd.h) */

static const char *g_mode;
static int g_ctl = -1, g_lfd = -1, g_delay = 0, g_size = 100000;
static const char *g_src; /* -w: the call-back's source address */
static struct sockaddr_storage g_bnd;

/* "ADDR PORT", v4-mapped addresses shown as IPv4 (so that an IPv6
 * listener's peer compares with what the call-back saw). */
static void fmt(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *i = (const void *)ss;

		inet_ntop(AF_INET, &i->sin_addr, a, sizeof(a));
		port = ntohs(i->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *i = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&i->sin6_addr))
			inet_ntop(AF_INET, &i->sin6_addr.s6_addr[12], a,
				  sizeof(a));
		else
			inet_ntop(AF_INET6, &i->sin6_addr, a, sizeof(a));
		port = ntohs(i->sin6_port);
	}
	snprintf(out, cap, "%s %u", a, port);
}

static int is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

/* The port the kernel gave fd, past the shim's getsockname. */
static unsigned real_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (syscall(SYS_getsockname, fd, (struct sockaddr *)&ss, &l) < 0)
		return 0;
	return port_of(&ss);
}

/* fds at OWN_BASE or above: the shim's own. */
static int own_fds(char *list, size_t cap)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, dfd;
	size_t used = 0;

	if (list && cap)
		list[0] = 0;
	if (!d)
		return -1;
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dfd || fd < OWN_BASE)
			continue;
		n++;
		if (list && used + 12 < cap)
			used += (size_t)snprintf(list + used, cap - used, " %d",
						 fd);
	}
	closedir(d);
	return n;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Threads named socksify-bind (the shim's waiters). */
static int waiters(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[64], name[32];
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%.20s/comm",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) &&
		    !strncmp(name, "socksify-bind", 13))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* waiters(), once it is want or a second went by (a new thread names
 * itself). */
static int waiters_now(int want)
{
	long end = now_ms() + 1000;
	int n;

	while ((n = waiters()) != want && now_ms() < end)
		usleep(10000);
	return n;
}

static void wait_file(const char *f)
{
	long end = now_ms() + 20000;

	while (access(f, F_OK) != 0 && now_ms() < end)
		usleep(20000);
}

static void touch(const char *f)
{
	char tmp[4096];
	FILE *o;

	snprintf(tmp, sizeof(tmp), "%s.tmp", f);
	o = fopen(tmp, "w");
	if (o) {
		fputs("ready\n", o); /* non-empty: lab_wait_file */
		fclose(o);
		rename(tmp, f);
	}
}

/* One line from the control connection (without the newline), within
 * ms.  Returns its length or -1. */
static int read_line(int fd, char *buf, size_t cap, int ms)
{
	size_t n = 0;
	long end = now_ms() + ms;

	while (n + 1 < cap) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = end - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		r = read(fd, buf + n, 1);
		if (r <= 0)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = 0;
			return (int)n;
		}
		n++;
	}
	return -1;
}

/* Reads exactly n bytes (fd blocking or not) within ms. */
static ssize_t read_full(int fd, unsigned char *buf, size_t n, int ms)
{
	size_t got = 0;
	long end = now_ms() + ms;

	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = end - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		r = read(fd, buf + got, n - got);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* "ADDR PORT DELAY SIZE": the BND address, or for a wildcard (a listener
 * that stayed local) the control connection's (what an FTP client
 * advertises). */
static void send_request(int delay)
{
	struct sockaddr_storage where = g_bnd, c;
	socklen_t cl = sizeof(c);
	char a[80], line[160];
	int n;

	if (is_wildcard(&where) &&
	    getsockname(g_ctl, (struct sockaddr *)&c, &cl) == 0) {
		unsigned p = port_of(&g_bnd);

		where = c;
		((struct sockaddr_in *)&where)->sin_port = htons(p);
	}
	fmt(&where, a, sizeof(a));
	n = snprintf(line, sizeof(line), "%s %d %d%s%s\n", a, delay, g_size,
		     g_src ? " " : "", g_src ? g_src : "");
	fact(write(g_ctl, line, (size_t)n) == n, "request sent: %.*s", n - 1,
	     line);
}

/* The accepted stream's facts.  want_fl: the O_NONBLOCK and FD_CLOEXEC
 * it must have (-1: not checked). */
static void check_stream(int afd, int want_nonblock, int want_cloexec)
{
	struct sockaddr_storage p, s;
	socklen_t pl = sizeof(p), sl = sizeof(s);
	char pb[80], sb[80], bb[80], line[200];
	unsigned char *buf;
	ssize_t got;
	int fl, fd_fl, i, bad = -1;

	fact(afd >= 0, "accept gave fd %d (%s)", afd,
	     afd < 0 ? ename(errno) : "ok");
	if (afd < 0)
		return;
	if (want_nonblock >= 0) {
		fl = fcntl(afd, F_GETFL);
		fd_fl = fcntl(afd, F_GETFD);
		fact(fl >= 0 && !!(fl & O_NONBLOCK) == want_nonblock,
		     "accepted fd is %sO_NONBLOCK",
		     want_nonblock ? "" : "not ");
		fact(fd_fl >= 0 && !!(fd_fl & FD_CLOEXEC) == want_cloexec,
		     "accepted fd is %sFD_CLOEXEC", want_cloexec ? "" : "not ");
	}
	if (getpeername(afd, (struct sockaddr *)&p, &pl) == 0)
		fmt(&p, pb, sizeof(pb));
	else
		snprintf(pb, sizeof(pb), "error %s", ename(errno));
	if (getsockname(afd, (struct sockaddr *)&s, &sl) == 0)
		fmt(&s, sb, sizeof(sb));
	else
		snprintf(sb, sizeof(sb), "error %s", ename(errno));
	fmt(&g_bnd, bb, sizeof(bb));
	printf("peer %s\nlocal %s\n", pb, sb);
	if (read_line(g_ctl, line, sizeof(line), 15000) < 0)
		snprintf(line, sizeof(line),
			 "(nothing on the control "
			 "connection)");
	fact(!strncmp(line, "from ", 5) && !strcmp(line + 5, pb),
	     "getpeername is the call-back's end: %s (it says \"%s\")", pb,
	     line);
	fact(!strcmp(sb, bb), "getsockname of the accepted fd is the BND: %s",
	     sb);
	buf = malloc((size_t)g_size + 1);
	if (!buf)
		return;
	got = read_full(afd, buf, (size_t)g_size, 15000);
	for (i = 0; i < got; i++)
		if (buf[i] != (unsigned char)((i * 31 + 7) % 256)) {
			bad = i;
			break;
		}
	fact(got == g_size && bad < 0, "%zd of %d bytes read, byte-exact%s",
	     got, g_size, bad >= 0 ? " (NOT)" : "");
	/* nothing more before our "back" */
	{
		struct pollfd pf = {.fd = afd, .events = POLLIN};

		fact(poll(&pf, 1, 100) == 0, "nothing more to read");
	}
	fact(write(afd, "back\n", 5) == 5, "\"back\" written on the stream");
	if (read_line(g_ctl, line, sizeof(line), 15000) < 0)
		snprintf(line, sizeof(line), "(nothing)");
	fact(!strcmp(line, "back-ok"), "the call-back got it: %s", line);
	free(buf);
}

static int wait_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms);
}

static void *thread_accept(void *arg)
{
	(void)arg;
	check_stream(accept(g_lfd, NULL, NULL), 0, 0);
	return NULL;
}

/* Own fds back to base within 3 s; the waiter gone too. */
static void check_gone(int base, const char *how)
{
	char list[200];
	long end = now_ms() + 3000;
	int n, w;

	while ((n = own_fds(list, sizeof(list))) != base && now_ms() < end)
		usleep(20000);
	while ((w = waiters()) != 0 && now_ms() < end)
		usleep(20000);
	fact(n == base,
	     "after %s: the shim's fds >= %d are back to %d (now "
	     "%d:%s)",
	     how, OWN_BASE, base, n, list);
	fact(w == 0, "after %s: no socksify-bind thread left (%d)", how, w);
}

static void local_servers(int fixed, int base)
{
	struct {
		const char *what;
		in_addr_t bind_to, conn_to;
		int port;
	} sv[2] = {
	    {"127.0.0.1 port 0", htonl(INADDR_LOOPBACK), htonl(INADDR_LOOPBACK),
	     0},
	    {"0.0.0.0 fixed port", htonl(INADDR_ANY), htonl(INADDR_LOOPBACK),
	     fixed},
	};
	int k;

	for (k = 0; k < 2; k++) {
		struct sockaddr_in a = {.sin_family = AF_INET}, g;
		socklen_t gl = sizeof(g);
		int s = socket(AF_INET, SOCK_STREAM, 0), c, acc, one = 1, rc;
		char buf[16] = "";

		a.sin_addr.s_addr = sv[k].bind_to;
		a.sin_port = htons((uint16_t)sv[k].port);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		fact(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			 listen(s, 4) == 0,
		     "local server on %s listens", sv[k].what);
		fact(getsockname(s, (struct sockaddr *)&g, &gl) == 0 &&
			 g.sin_addr.s_addr == sv[k].bind_to &&
			 ntohs(g.sin_port) == real_port(s) &&
			 (sv[k].port == 0 || ntohs(g.sin_port) == sv[k].port),
		     "local server on %s: getsockname is its own address "
		     "(port %u, the kernel's %u)",
		     sv[k].what, ntohs(g.sin_port), real_port(s));
		c = socket(AF_INET, SOCK_STREAM, 0);
		a.sin_addr.s_addr = sv[k].conn_to;
		a.sin_port = g.sin_port;
		rc = connect(c, (struct sockaddr *)&a, sizeof(a));
		fact(rc == 0, "connect to the local server on %s (%s)",
		     sv[k].what, rc == 0 ? "ok" : ename(errno));
		acc = wait_readable(s, 3000) == 1 ? accept(s, NULL, NULL) : -1;
		fact(acc >= 0, "the local server on %s accepted", sv[k].what);
		if (acc >= 0 && write(c, "ping", 4) == 4 &&
		    read_full(acc, (unsigned char *)buf, 4, 3000) == 4 &&
		    write(acc, "pong", 4) == 4 &&
		    read_full(c, (unsigned char *)buf + 4, 4, 3000) == 4)
			buf[8] = 0;
		fact(!strcmp(buf, "pingpong"),
		     "bytes both ways with the local server on %s (%s)",
		     sv[k].what, buf);
		if (acc >= 0)
			close(acc);
		close(c);
		close(s);
	}
	fact(own_fds(NULL, 0) == base + 3,
	     "the local servers opened no BIND session (the shim's fds: %d, "
	     "want %d)",
	     own_fds(NULL, 0), base + 3);
}

/* -p: the listener's real port, for bind.sh. */
static void write_port(const char *file)
{
	FILE *f;

	if (!file || (f = fopen(file, "w")) == NULL)
		return;
	fprintf(f, "%u\n", real_port(g_lfd));
	fclose(f);
}

static int usage(void)
{
	fprintf(stderr, "usage: bindprobe [-d MS] [-n SIZE] [-S] [-4|-6] [-l "
			"PORT] [-e ERRNAME] [-p FILE] [-r FILE -g FILE] HOST "
			"PORT MODE\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *ready = NULL, *go = NULL, *portfile = NULL,
		   *want_err = "EOPNOTSUPP";
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	struct sockaddr_storage any;
	socklen_t l;
	char bb[80], eb[80] = "", list[200];
	int opt, early = 0, fixed = 5555, base, rc, ep = -1, fam, afd, i;
	int bindmode, delay_set = 0, lport = 0;

	while ((opt = getopt(argc, argv, "d:n:S46l:e:p:r:g:w:b:")) != -1) {
		switch (opt) {
		case 'd':
			g_delay = atoi(optarg);
			delay_set = 1;
			break;
		case 'n':
			g_size = atoi(optarg);
			break;
		case 'S':
			early = 1;
			break;
		case '4':
			hints.ai_family = AF_INET;
			break;
		case '6':
			hints.ai_family = AF_INET6;
			break;
		case 'l':
			fixed = atoi(optarg);
			break;
		case 'e':
			want_err = optarg;
			break;
		case 'p':
			portfile = optarg;
			break;
		case 'r':
			ready = optarg;
			break;
		case 'g':
			go = optarg;
			break;
		case 'w':
			g_src = optarg;
			break;
		case 'b':
			lport = atoi(optarg);
			break;
		default:
			return usage();
		}
	}
	if (argc - optind != 3)
		return usage();
	g_mode = argv[optind + 2];
	bindmode = strcmp(g_mode, "never") != 0;
	if (!delay_set &&
	    (!strcmp(g_mode, "nonblock") || !strncmp(g_mode, "close", 5) ||
	     !strcmp(g_mode, "local")))
		g_delay = 1000;
	alarm(60);
	setvbuf(stdout, NULL, _IOLBF, 0);

	rc = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai);
	if (rc != 0) {
		fact(0, "getaddrinfo %s: %s", argv[optind], gai_strerror(rc));
		return 1;
	}
	fam = ai->ai_family;
	g_ctl = socket(fam, SOCK_STREAM, 0);
	fact(g_ctl >= 0 && connect(g_ctl, ai->ai_addr, ai->ai_addrlen) == 0,
	     "control connection to %s port %s (%s)", argv[optind],
	     argv[optind + 1], ename(errno));
	freeaddrinfo(ai);
	base = own_fds(list, sizeof(list));
	printf("own fds before: %d:%s\n", base, list);

	g_lfd = socket(fam, SOCK_STREAM, 0);
	memset(&any, 0, sizeof(any));
	any.ss_family = (sa_family_t)fam;
	if (early) {
		/* As curl -P - does: the address the control connection
		 * shows (the proxy's end), then getsockname before listen. */
		l = sizeof(any);
		fact(getsockname(g_ctl, (struct sockaddr *)&any, &l) == 0 &&
			 any.ss_family == fam,
		     "getsockname of the control connection");
	}
	((struct sockaddr_in *)&any)->sin_port = htons((uint16_t)lport);
	i = 1;
	setsockopt(g_lfd, SOL_SOCKET, SO_REUSEADDR, &i, sizeof(i));
	fact(bind(g_lfd, (struct sockaddr *)&any,
		  fam == AF_INET ? sizeof(struct sockaddr_in)
				 : sizeof(struct sockaddr_in6)) == 0,
	     "bind to %s, port %d",
	     early ? "the control connection's address"
		   : "the wildcard address",
	     lport);
	if (!strcmp(g_mode, "epoll-before")) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = g_lfd};

		ep = epoll_create1(EPOLL_CLOEXEC);
		fact(epoll_ctl(ep, EPOLL_CTL_ADD, g_lfd, &ev) == 0,
		     "registered with epoll before listen");
	}
	if (early) {
		l = sizeof(g_bnd);
		fact(getsockname(g_lfd, (struct sockaddr *)&g_bnd, &l) == 0,
		     "getsockname before listen");
		fmt(&g_bnd, eb, sizeof(eb));
		printf("early bnd %s\n", eb);
	}

	rc = listen(g_lfd, 4);
	if (!strcmp(g_mode, "refused")) {
		int e = errno;

		printf("listen: %s\n", rc == 0 ? "ok" : ename(e));
		fact(rc < 0 && !strcmp(ename(e), want_err),
		     "listen fails with %s (got %s)", want_err,
		     rc == 0 ? "success" : ename(e));
		i = own_fds(list, sizeof(list));
		fact(i == base, "no shim fds left behind (%d:%s)", i, list);
		printf("real %u\n", real_port(g_lfd));
		write_port(portfile);
		if (ready && go) {
			touch(ready);
			wait_file(go);
		}
		goto out;
	}
	fact(rc == 0, "listen (%s)", rc == 0 ? "ok" : ename(errno));
	if (rc != 0)
		goto out;
	l = sizeof(g_bnd);
	fact(getsockname(g_lfd, (struct sockaddr *)&g_bnd, &l) == 0,
	     "getsockname after listen");
	fmt(&g_bnd, bb, sizeof(bb));
	printf("bnd %s\nreal %u\n", bb, real_port(g_lfd));
	if (early && bindmode)
		fact(!strcmp(eb, bb),
		     "getsockname before listen showed the same: %s", eb);
	if (bindmode) {
		fact(!is_wildcard(&g_bnd) && port_of(&g_bnd) != 0,
		     "getsockname shows the proxy's address: %s", bb);
		i = own_fds(list, sizeof(list));
		fact(i == base + 3,
		     "the shim holds 3 more fds (control, poke, waiter's "
		     "eventfd): %d:%s",
		     i, list);
		i = waiters_now(1);
		fact(i == 1, "one socksify-bind thread (%d)", i);
	} else {
		fact(is_wildcard(&g_bnd) &&
			 port_of(&g_bnd) == real_port(g_lfd) &&
			 (!lport || port_of(&g_bnd) == (unsigned)lport),
		     "getsockname shows the socket's own address: %s", bb);
		fact(own_fds(NULL, 0) == base, "the shim holds no more fds");
	}
	write_port(portfile);
	if (ready && go) {
		touch(ready);
		wait_file(go);
		if (bindmode) {
			fact(wait_readable(g_lfd, 0) == 0,
			     "not readable after the direct connection "
			     "attempts");
		} else {
			/* the control: a plain listener takes them */
			i = wait_readable(g_lfd, 0) == 1
				? accept(g_lfd, NULL, NULL)
				: -1;
			fact(i >= 0, "the direct connection got in (a plain "
				     "listener)");
			while (i >= 0) {
				close(i);
				i = wait_readable(g_lfd, 0) == 1
					? accept(g_lfd, NULL, NULL)
					: -1;
			}
		}
	}

	if (!strcmp(g_mode, "fork-parent")) {
		pid_t pid;
		int st = 0;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			/* as a child that closes what it does not need
			 * (or execs) */
			close(g_lfd);
			_exit(0);
		}
		rc = (int)waitpid(pid, &st, 0);
		fact(rc == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		     "a child closed its copy and exited");
		send_request(g_delay);
		fact(wait_readable(g_lfd, 15000) == 1,
		     "parent: the listener became readable");
		check_stream(accept(g_lfd, NULL, NULL), 0, 0);
		goto after;
	}
	if (!strcmp(g_mode, "fork") || !strcmp(g_mode, "fork-close")) {
		pid_t pid;
		int st = 0;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			fact_failures = 0;
			alarm(40);
			send_request(g_delay);
			fact(wait_readable(g_lfd, 15000) == 1,
			     "child: the listener became readable");
			check_stream(accept(g_lfd, NULL, NULL), 0, 0);
			_exit(fact_failures ? 1 : 0);
		}
		if (!strcmp(g_mode, "fork-close"))
			fact(close(g_lfd) == 0, "parent closed its copy");
		rc = (int)waitpid(pid, &st, 0);
		fact(rc == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		     "the child accepted the stream and all its facts held "
		     "(status %#x)",
		     st);
		if (!strcmp(g_mode, "fork-close"))
			check_gone(base, "the child's exit");
		goto out;
	}
	if (!strncmp(g_mode, "close", 5)) {
		char line[200];

		send_request(g_delay);
		if (!strcmp(g_mode, "close")) {
			fact(close(g_lfd) == 0, "close(listener)");
		} else if (!strcmp(g_mode, "close_range")) {
			fact(syscall(SYS_close_range, 0, 0, 0) == 0 ||
				 errno != ENOSYS,
			     "close_range exists");
			fact(close_range((unsigned)g_lfd, ~0u, 0) == 0,
			     "close_range(%d, ~0, 0)", g_lfd);
		} else if (!strcmp(g_mode, "closefrom")) {
			closefrom(g_lfd);
			fact(fcntl(g_lfd, F_GETFD) < 0, "closefrom(%d)", g_lfd);
		} else {
			int d = dup(g_lfd);

			fact(d >= 0 && close(g_lfd) == 0, "dup then close one");
			usleep(100000);
			fact(own_fds(NULL, 0) == base + 3 && waiters() == 1,
			     "the dup keeps the session (the shim's fds: %d)",
			     own_fds(NULL, 0));
			fact(close(d) == 0, "close the dup");
		}
		check_gone(base, g_mode);
		rc = read_line(g_ctl, line, sizeof(line), 15000);
		fact(rc >= 0 && !strncmp(line, "error ", 6),
		     "the call-back found nobody at the proxy's port: %s",
		     rc >= 0 ? line : "(nothing)");
		goto out;
	}
	if (!strcmp(g_mode, "never")) {
		char line[200];

		send_request(0);
		rc = read_line(g_ctl, line, sizeof(line), 15000);
		fact(rc >= 0 && !strncmp(line, "error ", 6),
		     "the call-back failed: %s", rc >= 0 ? line : "(nothing)");
		fact(wait_readable(g_lfd, 500) == 0, "nothing to accept");
		goto out;
	}
	if (!strcmp(g_mode, "nonblock") || !strcmp(g_mode, "epoll-et"))
		fcntl(g_lfd, F_SETFL, fcntl(g_lfd, F_GETFL) | O_NONBLOCK);
	if (!strcmp(g_mode, "epoll-lt") || !strcmp(g_mode, "epoll-et")) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = g_lfd};

		if (!strcmp(g_mode, "epoll-et"))
			ev.events |= EPOLLET;
		ep = epoll_create1(EPOLL_CLOEXEC);
		fact(epoll_ctl(ep, EPOLL_CTL_ADD, g_lfd, &ev) == 0,
		     "registered with epoll after listen");
	}
	if (!strcmp(g_mode, "thread")) {
		pthread_t t;

		fact(pthread_create(&t, NULL, thread_accept, NULL) == 0,
		     "accept thread started");
		usleep(300000); /* blocked in accept by now */
		send_request(g_delay);
		fact(pthread_join(t, NULL) == 0, "accept thread joined");
		goto out;
	}
	send_request(g_delay);
	if (!strcmp(g_mode, "fail")) {
		char line[200];

		fact(wait_readable(g_lfd, 15000) == 1, "poll: readable");
		errno = 0;
		afd = accept(g_lfd, NULL, NULL);
		fact(afd < 0 && !strcmp(ename(errno), want_err),
		     "accept fails with %s (%s)", want_err,
		     afd >= 0 ? "an fd!" : ename(errno));
		rc = read_line(g_ctl, line, sizeof(line), 5000);
		printf("call-back: %s\n", rc >= 0 ? line : "(nothing)");
		goto after;
	}
	if (!strcmp(g_mode, "nonblock")) {
		errno = 0;
		afd = accept(g_lfd, NULL, NULL);
		fact(afd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
		     "before the peer connected: accept gives EAGAIN (%s)",
		     afd >= 0 ? "an fd!" : ename(errno));
		fact(wait_readable(g_lfd, 300) == 0,
		     "before the peer connected: poll reports nothing");
	}
	if (!strcmp(g_mode, "local"))
		local_servers(fixed, base);

	if (!strcmp(g_mode, "poll") || !strcmp(g_mode, "nonblock") ||
	    !strcmp(g_mode, "local")) {
		fact(wait_readable(g_lfd, 15000) == 1, "poll: readable");
		check_stream(accept(g_lfd, NULL, NULL), 0, 0);
	} else if (!strcmp(g_mode, "select")) {
		fd_set r;
		struct timeval tv = {.tv_sec = 15};

		FD_ZERO(&r);
		FD_SET(g_lfd, &r);
		fact(select(g_lfd + 1, &r, NULL, NULL, &tv) == 1 &&
			 FD_ISSET(g_lfd, &r),
		     "select: readable");
		check_stream(accept(g_lfd, NULL, NULL), 0, 0);
	} else if (!strncmp(g_mode, "epoll", 5)) {
		struct epoll_event out[4];
		int n = epoll_wait(ep, out, 4, 15000);

		fact(n == 1 && out[0].data.fd == g_lfd &&
			 (out[0].events & EPOLLIN),
		     "epoll_wait: one EPOLLIN event (%d)", n);
		if (!strcmp(g_mode, "epoll-et")) {
			int more;

			check_stream(accept(g_lfd, NULL, NULL), 0, 0);
			errno = 0;
			more = accept(g_lfd, NULL, NULL);
			fact(more < 0 && errno == EAGAIN,
			     "edge-triggered: the next accept gives EAGAIN "
			     "(%s)",
			     more >= 0 ? "an fd!" : ename(errno));
			fact(epoll_wait(ep, out, 4, 200) == 0,
			     "edge-triggered: no further event");
		} else {
			check_stream(accept(g_lfd, NULL, NULL), 0, 0);
			fact(epoll_wait(ep, out, 4, 200) == 0,
			     "level-triggered: no event after the accept");
		}
	} else if (!strcmp(g_mode, "block")) {
		check_stream(accept(g_lfd, NULL, NULL), 0, 0);
	} else if (!strcmp(g_mode, "accept4")) {
		check_stream(
		    accept4(g_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), 1,
		    1);
	} else if (strcmp(g_mode, "local") != 0) {
		fact(0, "unknown mode %s", g_mode);
	}
after:
	if (!strcmp(g_mode, "nonblock")) {
		errno = 0;
		i = accept(g_lfd, NULL, NULL);
		fact(i < 0 && errno == EAGAIN,
		     "after the one stream: accept gives EAGAIN (%s)",
		     i >= 0 ? "an fd!" : ename(errno));
	}
	fact(wait_readable(g_lfd, 100) == 0,
	     "the listener is not readable after the accept");
out:
	if (!fact_failures)
		puts("all facts hold");
	return fact_failures ? 1 : 0;
}
