/*
 * bindreview.c - regression checks for defects a review of SOCKS BIND
 * (listen/accept through the proxy) found, run by tests/bindreview.sh
 * under the shim in a private network namespace with only lo (and
 * 10.9.9.9, fd00::9 on it), with SOCKSIFY_PROXY=socks5://127.0.0.1:1080.
 *
 * The proxy is a small SOCKS5 server in a thread of this program (its
 * sockets are on loopback, which the shim passes through): CONNECT is
 * answered with BND 10.0.0.1:4000 and then (with "send") the bytes
 * "DATA"; BIND with BND 10.0.0.1:5000, then, after the case's delay, the
 * second reply naming 203.0.113.5:20 and the peer's bytes "PEER"; it notes
 * when the program's end of that stream closes.
 *
 *   bindreview wakeleak    a refused BIND (reply 7) leaks no fd of the
 *                          shim's (20 listen() calls)
 *   bindreview pollcancel  a poll() cancelled while it is held for a
 *                          waiting session (sfy_bind_hold) leaks no
 *                          reference: close() frees the session's fds
 *   bindreview acceptnull  accept(fd, NULL, &len) is fine, as with the
 *                          kernel (len is not looked at): the loopback
 *                          client and the BIND stream
 *   bindreview namenull    getsockname/getpeername(fd, NULL, NULL) is
 *                          EFAULT on proxied and BIND sockets, as on any
 *   bindreview forkeof     after fork, the process that accepts the
 *                          stream closes it and the peer sees the end at
 *                          once, although the other process lives on
 *                          with its copy of the listener (both orders)
 *   bindreview forkpidfd   a child whose waiter watches the reader forks:
 *                          the grandchild inherits no pidfd of the child's
 *                          waiter
 *   bindreview orphan      the process reading the second reply exec()s
 *                          (its pid lives on, its waiter does not): the
 *                          other still fails the wait after bind_timeout
 *   bindreview filter      the listener's socket filter: loopback clients
 *                          in, direct connections from 10.9.9.9 and
 *                          fd00::9 dropped, the stream delivered; IPv4,
 *                          IPv6 dual-stack and v6only wildcards, specific
 *                          IPv4 / IPv6 / v4-mapped addresses, ::ffff:0.0.0.0
 *   bindreview cancelclose a thread cancelled in close() of a BIND
 *                          listener whose waiter runs leaves no lock of
 *                          the shim's held (the fd table still answers)
 *   bindreview cancelpoint listen() and getsockname(), which are no
 *                          cancellation points, are not made ones by the
 *                          BIND handshake in them (a thread cancelled there
 *                          goes on and unlocks its mutex)
 *   bindreview dualnov6    a dual-stack listener ([::], IPV6_V6ONLY off)
 *                          where IPv6 is disabled: listen() works, the
 *                          stream arrives, IPv4 loopback clients get in
 *   bindreview listenconnect  connect() on a listening BIND socket fails
 *                          EISCONN (the kernel's answer) and the session
 *                          lives on
 *   bindreview misfire     (auto) a socket bound to port 0 that asks
 *                          getsockname() and then connects (curl
 *                          --interface) sends no BIND and sees its own
 *                          address
 *
 * One "ok: ..." or "FAIL: ..." line per fact (fact.h).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fact.h"

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* --- the proxy ------------------------------------------------------------ */

static int g_refuse;		 /* BIND: reply 7 */
static int g_delay_ms = 200;	 /* BIND: the second reply after; -1 never */
static int g_send;		 /* CONNECT: send "DATA" */
static int g_first_ms;		 /* BIND: the first reply after */
static atomic_int g_binds;	 /* BIND requests seen */
static atomic_llong g_peer_sent; /* when "PEER" went out */
static atomic_llong g_peer_eof;	 /* when the program's end closed */

static int rd(int s, void *b, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = recv(s, (char *)b + got, n - got, 0);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void drain(int s)
{
	char b[256];

	while (recv(s, b, sizeof(b), 0) > 0)
		;
}

static void *conn_main(void *arg)
{
	int s = (int)(long)arg;
	unsigned char b[300];
	static const unsigned char connect_ok[] = {5, 0, 0, 1,	  10,
						   0, 0, 1, 0x0f, 0xa0};
	static const unsigned char bind_ok[] = {5, 0, 0, 1,    10,
						0, 0, 1, 0x13, 0x88};
	static const unsigned char bind_no[] = {5, 7, 0, 1, 0, 0, 0, 0, 0, 0};
	static const unsigned char second[] = {5, 0,   0, 1, 203,
					       0, 113, 5, 0, 20};
	size_t alen;

	if (rd(s, b, 2) || rd(s, b + 2, b[1]))
		goto out;
	if (send(s, "\x05\x00", 2, MSG_NOSIGNAL) != 2 || rd(s, b, 4))
		goto out;
	alen = b[3] == 1 ? 4 : b[3] == 4 ? 16 : 0;
	if (!alen || rd(s, b + 4, alen + 2))
		goto out;
	if (b[1] == 1) {
		(void)!send(s, connect_ok, sizeof(connect_ok), MSG_NOSIGNAL);
		if (g_send)
			(void)!send(s, "DATA", 4, MSG_NOSIGNAL);
		drain(s);
		goto out;
	}
	if (b[1] != 2)
		goto out;
	atomic_fetch_add(&g_binds, 1);
	if (g_refuse) {
		(void)!send(s, bind_no, sizeof(bind_no), MSG_NOSIGNAL);
		goto out;
	}
	if (g_first_ms)
		sleep_ms(g_first_ms);
	(void)!send(s, bind_ok, sizeof(bind_ok), MSG_NOSIGNAL);
	if (g_delay_ms < 0) {
		drain(s);
		goto out;
	}
	sleep_ms(g_delay_ms);
	(void)!send(s, second, sizeof(second), MSG_NOSIGNAL);
	(void)!send(s, "PEER", 4, MSG_NOSIGNAL);
	atomic_store(&g_peer_sent, now_ms());
	drain(s);
	atomic_store(&g_peer_eof, now_ms());
out:
	close(s);
	return NULL;
}

static void *srv_main(void *arg)
{
	int l = (int)(long)arg, s;
	pthread_t t;

	for (;;) {
		s = accept(l, NULL, NULL);
		if (s < 0)
			continue;
		if (pthread_create(&t, NULL, conn_main, (void *)(long)s) == 0)
			pthread_detach(t);
		else
			close(s);
	}
	return NULL;
}

static void srv_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1080)};
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	pthread_t t;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(l, 64) < 0) {
		perror("bindreview: proxy");
		exit(2);
	}
	pthread_create(&t, NULL, srv_main, (void *)(long)l);
	pthread_detach(t);
}

/* --- helpers -------------------------------------------------------------- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

/* fds at 512 and above: the shim's own. */
static int count_own(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (atoi(e->d_name) >= 512)
			n++;
	closedir(d);
	return n;
}

/* A blocking connect to 203.0.113.5:80, through the proxy. */
static int proxied(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
	int s = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "203.0.113.5", &a.sin_addr);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fact(0, "proxied connect: %s", strerror(errno));
		close(s);
		return -1;
	}
	return s;
}

static int mkaddr(const char *ip, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &a->sin6_addr);
		return sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &a->sin_addr);
		return sizeof(*a);
	}
}

/* A listening socket of family fam bound to ip:port (v6only: -1 leave). */
static int listener(int fam, const char *ip, int port, int v6only)
{
	struct sockaddr_storage ss;
	int s = socket(fam, SOCK_STREAM, 0), len = mkaddr(ip, port, &ss),
	    one = 1;

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6only >= 0)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			   sizeof(v6only));
	if (bind(s, (struct sockaddr *)&ss, (socklen_t)len) < 0) {
		fact(0, "bind %s:%d: %s", ip, port, strerror(errno));
		close(s);
		return -1;
	}
	if (listen(s, 8) < 0) {
		fact(0, "listen %s:%d: %s", ip, port, strerror(errno));
		close(s);
		return -1;
	}
	return s;
}

/* A non-blocking connect from src (NULL: any) to dst:port, in this
 * process; returns the socket, connected or not after 250 ms in
 * *connected. */
static int client_here(const char *src, const char *dst, int port,
		       int *connected)
{
	struct sockaddr_storage d, s;
	int dl = mkaddr(dst, port, &d), fd;
	struct pollfd p;
	int err = 0;
	socklen_t el = sizeof(err);

	fd = socket(d.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (src) {
		int sl = mkaddr(src, 0, &s);

		if (bind(fd, (struct sockaddr *)&s, (socklen_t)sl) < 0)
			fact(0, "client bind %s: %s", src, strerror(errno));
	}
	*connected = 0;
	if (connect(fd, (struct sockaddr *)&d, (socklen_t)dl) == 0) {
		*connected = 1;
		return fd;
	}
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, 250) == 1 &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
		*connected = 1;
	return fd;
}

static const char *g_self;

/* The same from another process without the shim (a direct client the
 * shim would otherwise carry through the proxy): it keeps its end open
 * for a second.  Returns its pid. */
static pid_t client(const char *src, const char *dst, int port, int *connected)
{
	char pbuf[16], c = '0';
	int pp[2];
	pid_t pid;

	snprintf(pbuf, sizeof(pbuf), "%d", port);
	*connected = 0;
	if (pipe(pp) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pp[0]);
		dup2(pp[1], 3);
		unsetenv("LD_PRELOAD");
		execl(g_self, g_self, "client", src, dst, pbuf, (char *)NULL);
		_exit(1);
	}
	close(pp[1]);
	if (read(pp[0], &c, 1) == 1 && c == '1')
		*connected = 1;
	close(pp[0]);
	return pid;
}

static void client_done(pid_t pid)
{
	int st;

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
}

/* accept() with a bound wait (poll first); -1 when nothing came. */
static int accept_within(int l, int ms, struct sockaddr_storage *peer)
{
	struct pollfd p = {.fd = l, .events = POLLIN};
	socklen_t pl = sizeof(*peer);

	if (poll(&p, 1, ms) != 1)
		return -1;
	return accept(l, (struct sockaddr *)peer, &pl);
}

static int is_peer(const struct sockaddr_storage *a)
{
	static const unsigned char want[4] = {203, 0, 113, 5};

	if (a->ss_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)a)->sin_addr, want,
			       4);
	if (a->ss_family == AF_INET6) {
		const unsigned char *p =
		    ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;

		return p[10] == 0xff && p[11] == 0xff &&
		       !memcmp(p + 12, want, 4);
	}
	return 0;
}

static int reads_peer(int fd)
{
	char b[8] = {0};
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 2000) == 1 && recv(fd, b, 4, MSG_WAITALL) == 4 &&
	       !memcmp(b, "PEER", 4);
}

/* --- the cases ------------------------------------------------------------ */

static void wakeleak(void)
{
	int before, after, i, s, bad = 0;

	g_refuse = 1;
	before = count_fds();
	for (i = 0; i < 20; i++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_storage ss;
		int len = mkaddr("0.0.0.0", 0, &ss);

		bind(s, (struct sockaddr *)&ss, (socklen_t)len);
		if (listen(s, 1) == 0 || errno != EOPNOTSUPP)
			bad++;
		close(s);
	}
	sleep_ms(200); /* the proxy thread's own sockets go */
	after = count_fds();
	fact(!bad,
	     "[wakeleak] 20 refused BINDs fail listen() with EOPNOTSUPP "
	     "(%d did not)",
	     bad);
	fact(after == before,
	     "[wakeleak] no fd left behind (%d before, %d after)", before,
	     after);
}

static void *poll_thread(void *arg)
{
	struct pollfd *p = arg;

	poll(p, 2, 5000);
	return NULL;
}

static void pollcancel(void)
{
	struct pollfd p[2];
	pthread_t t;
	int c, l, before, after;
	long long t0;

	g_delay_ms = -1;
	g_send = 1;
	c = proxied();
	sleep_ms(100); /* "DATA" is in */
	before = count_fds();
	l = listener(AF_INET, "0.0.0.0", 0, -1);
	if (c < 0 || l < 0)
		return;
	p[0].fd = l;
	p[0].events = POLLIN;
	p[1].fd = c;
	p[1].events = POLLIN;
	t0 = now_ms();
	pthread_create(&t, NULL, poll_thread, p);
	sleep_ms(300); /* in the hold (up to 1 s) */
	pthread_cancel(t);
	pthread_join(t, NULL);
	fact(now_ms() - t0 < 900,
	     "[pollcancel] the held poll was cancelled "
	     "(after %lld ms)",
	     now_ms() - t0);
	close(l);
	sleep_ms(400); /* the waiter frees the session */
	after = count_fds();
	fact(after == before,
	     "[pollcancel] close() after a cancelled held poll frees the "
	     "session's fds (%d before listen, %d after close)",
	     before, after);
	close(c);
}

static void acceptnull(void)
{
	int l, c, fd, conn;
	socklen_t len = sizeof(struct sockaddr_in);

	g_delay_ms = 500;
	l = listener(AF_INET, "0.0.0.0", 34567, -1);
	if (l < 0)
		return;
	c = client_here(NULL, "127.0.0.1", 34567, &conn);
	fact(conn, "[acceptnull] a loopback client gets in");
	fd = accept(l, NULL, &len);
	fact(fd >= 0,
	     "[acceptnull] accept(fd, NULL, &len) of a loopback "
	     "client: %s",
	     fd >= 0 ? "a socket" : strerror(errno));
	if (fd >= 0)
		close(fd);
	close(c);
	len = sizeof(struct sockaddr_in);
	fd = accept(l, NULL, &len);
	fact(fd >= 0,
	     "[acceptnull] accept(fd, NULL, &len) of the BIND "
	     "stream: %s",
	     fd >= 0 ? "a socket" : strerror(errno));
	if (fd >= 0) {
		fact(reads_peer(fd), "[acceptnull] the stream carries the "
				     "peer's bytes");
		close(fd);
	}
	close(l);
}

/* name(fd, NULL, NULL) must fail EFAULT, as the kernel does. */
static void null_both(const char *what, int fd, int peer)
{
	int rc =
	    peer ? getpeername(fd, NULL, NULL) : getsockname(fd, NULL, NULL);

	fact(rc < 0 && errno == EFAULT, "[namenull] %s(%s, NULL, NULL): %s",
	     peer ? "getpeername" : "getsockname", what,
	     rc == 0 ? "0" : strerror(errno));
}

static void namenull(void)
{
	int plain = socket(AF_INET, SOCK_STREAM, 0), c, l;

	null_both("an unproxied socket (the kernel)", plain, 0);
	close(plain);
	g_delay_ms = -1;
	c = proxied();
	if (c < 0)
		return;
	null_both("a proxied connection", c, 0);
	null_both("a proxied connection", c, 1);
	l = listener(AF_INET, "0.0.0.0", 0, -1);
	if (l >= 0) {
		null_both("a BIND listener", l, 0);
		close(l);
	}
	close(c);
}

/* who: 0 the parent accepts, 1 the child does. */
static void forkeof_one(int who)
{
	int l, fd, st;
	pid_t pid;
	long long sent, eof, t0;
	const char *w = who ? "child" : "parent";

	atomic_store(&g_peer_sent, 0);
	atomic_store(&g_peer_eof, 0);
	g_delay_ms = 400;
	l = listener(AF_INET, "0.0.0.0", 0, -1);
	if (l < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (who == 1) {
			fd = accept(l, NULL, NULL);
			if (fd >= 0) {
				fact(reads_peer(fd),
				     "[forkeof %s] the child "
				     "reads the peer",
				     w);
				close(fd);
			} else {
				fact(0, "[forkeof %s] child accept: %s", w,
				     strerror(errno));
			}
		}
		sleep_ms(2500); /* lives on with its copy of the listener */
		_exit(0);
	}
	if (who == 0) {
		fd = accept(l, NULL, NULL);
		if (fd >= 0) {
			fact(reads_peer(fd),
			     "[forkeof %s] the parent reads "
			     "the peer",
			     w);
			close(fd);
		} else {
			fact(0, "[forkeof %s] accept: %s", w, strerror(errno));
		}
	}
	/* The peer (this process's proxy thread) should see the end. */
	t0 = now_ms();
	while (!atomic_load(&g_peer_eof) && now_ms() - t0 < 2000)
		sleep_ms(10);
	sent = atomic_load(&g_peer_sent);
	eof = atomic_load(&g_peer_eof);
	fact(sent && eof && eof - sent < 1000,
	     "[forkeof %s] the peer sees the stream's end once the %s closed "
	     "it, while the other process lives (%s after %lld ms)",
	     w, w, eof ? "seen" : "not seen",
	     eof ? eof - sent : now_ms() - sent);
	waitpid(pid, &st, 0);
	close(l);
}

static void forkeof(void)
{
	forkeof_one(0);
	forkeof_one(1);
}

/* A child that watches the reader forks again: the grandchild has no
 * more fds of the shim's than the child (the child's waiter's pidfd is
 * not the grandchild's). */
static void forkpidfd(void)
{
	int l, p[2], child, grand, st;
	pid_t pid, gpid;

	g_delay_ms = -1;
	l = listener(AF_INET, "0.0.0.0", 0, -1);
	if (l < 0 || pipe(p) < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		sleep_ms(300); /* its waiter watches the parent */
		child = count_own();
		gpid = fork();
		if (gpid == 0) {
			sleep_ms(300);
			grand = count_own();
			(void)!write(p[1], &grand, sizeof(grand));
			_exit(0);
		}
		(void)!write(p[1], &child, sizeof(child));
		waitpid(gpid, &st, 0);
		_exit(0);
	}
	if (read(p[0], &child, sizeof(child)) != sizeof(child) ||
	    read(p[0], &grand, sizeof(grand)) != sizeof(grand)) {
		fact(0, "[forkpidfd] no counts from the children");
		return;
	}
	fact(grand == child,
	     "[forkpidfd] the grandchild holds as many fds of the shim's as "
	     "the child (%d and %d)",
	     grand, child);
	waitpid(pid, &st, 0);
	close(l);
}

static void orphan(void)
{
	int l, fd;
	pid_t pid;
	struct pollfd p;
	long long t0;

	g_delay_ms = -1;
	l = listener(AF_INET, "0.0.0.0", 0, -1); /* bind_timeout 1 */
	if (l < 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid != 0) {
		/* The reader of the second reply goes on as another
		 * program: its pid lives, its waiter does not. */
		execl("/bin/sleep", "sleep", "5", (char *)NULL);
		_exit(1);
	}
	t0 = now_ms();
	p.fd = l;
	p.events = POLLIN;
	p.revents = 0;
	if (poll(&p, 1, 4000) == 1) {
		fd = accept(l, NULL, NULL);
		fact(fd < 0 && errno == ETIMEDOUT,
		     "[orphan] accept fails ETIMEDOUT after %lld ms "
		     "(bind_timeout "
		     "1 s): %s",
		     now_ms() - t0, fd < 0 ? strerror(errno) : "a socket");
	} else {
		fact(0, "[orphan] the listener never turned readable within "
			"4 s (bind_timeout 1 s)");
	}
	fflush(stdout);
	_exit(0);
}

/* One listener of the filter matrix: clients "SRC>DST" in ok get in
 * (loopback), those in bad are dropped (direct), and the BIND stream is
 * delivered. */
static void filter_one(int fam, const char *ip, int v6only, const char *ok[],
		       const char *bad[])
{
	struct sockaddr_storage peer;
	int l, c, conn, fd, i, pass, port = 34000 + (int)(now_ms() % 1000);
	const char **list;
	char tag[80], src[64], *dst;

	snprintf(tag, sizeof(tag), "[filter %s%s]", ip,
		 v6only > 0    ? " v6only"
		 : v6only == 0 ? " dual"
			       : "");
	for (i = 0; ok && ok[i]; i++)
		;
	g_delay_ms = 400;
	g_delay_ms += 500 * i;
	for (i = 0; bad && bad[i]; i++)
		;
	g_delay_ms += 500 * i;
	l = listener(fam, ip, port, v6only);
	if (l < 0)
		return;
	for (pass = 0; pass < 2; pass++) {
		list = pass ? bad : ok;
		for (i = 0; list && list[i]; i++) {
			snprintf(src, sizeof(src), "%s", list[i]);
			dst = strchr(src, '>');
			*dst++ = '\0';
			c = client(src, dst, port, &conn);
			fd = accept_within(l, 150, &peer);
			client_done(c);
			if (!pass)
				fact(conn && fd >= 0 && !is_peer(&peer),
				     "%s a client %s gets in", tag, list[i]);
			else
				fact(!conn && fd < 0,
				     "%s a direct client %s is dropped "
				     "(connected %d, accepted %s)",
				     tag, list[i], conn,
				     fd >= 0 ? "yes" : strerror(errno));
			if (fd >= 0)
				close(fd);
		}
	}
	fd = accept_within(l, 2000, &peer);
	fact(fd >= 0 && is_peer(&peer),
	     "%s accept gives the BIND stream "
	     "from the peer (%s)",
	     tag,
	     fd < 0	      ? strerror(errno)
	     : is_peer(&peer) ? "yes"
			      : "another");
	if (fd >= 0) {
		fact(reads_peer(fd), "%s the stream carries the peer's bytes",
		     tag);
		close(fd);
	}
	close(l);
}

static void filter(void)
{
	const char *v4ok[] = {"127.0.0.1>127.0.0.1", NULL};
	const char *v4bad[] = {"10.9.9.9>10.9.9.9", NULL};
	const char *dualok[] = {"::1>::1", "127.0.0.1>127.0.0.1", NULL};
	const char *dualbad[] = {"fd00::9>fd00::9", "10.9.9.9>10.9.9.9", NULL};
	const char *v6ok[] = {"::1>::1", NULL};
	const char *v6bad[] = {"fd00::9>fd00::9", NULL};

	filter_one(AF_INET, "0.0.0.0", -1, v4ok, v4bad);
	filter_one(AF_INET6, "::", 0, dualok, dualbad);
	filter_one(AF_INET6, "::", 1, v6ok, v6bad);
	filter_one(AF_INET, "10.9.9.9", -1, NULL, v4bad);
	filter_one(AF_INET6, "fd00::9", 1, NULL, v6bad);
	filter_one(AF_INET6, "::ffff:10.9.9.9", 0, NULL, v4bad);
	filter_one(AF_INET6, "::ffff:0.0.0.0", 0, v4ok, v4bad);
}

static pthread_mutex_t g_m = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_step;

/* Closes listener arg with a cancel pending: close() is a cancellation
 * point, and the cancel acts in it. */
static void *close_thread(void *arg)
{
	int l = (int)(long)arg, old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	atomic_store(&g_step, 1);
	while (atomic_load(&g_step) != 2) /* cancelled meanwhile */
		sleep_ms(5);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	close(l);
	return NULL;
}

static void *peer_thread(void *arg)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	getpeername((int)(long)arg, (struct sockaddr *)&ss, &sl);
	return NULL;
}

/* A thread cancelled in close() of a BIND listener whose waiter runs
 * leaves the shim's locks free: the fd table still answers. */
static void cancelclose(void)
{
	struct timespec until;
	pthread_t t, p;
	void *ret;
	int c, l, rc;

	g_delay_ms = -1;
	c = proxied();
	l = listener(AF_INET, "0.0.0.0", 0, -1);
	if (c < 0 || l < 0)
		return;
	pthread_create(&t, NULL, close_thread, (void *)(long)l);
	while (atomic_load(&g_step) != 1)
		sleep_ms(5);
	pthread_cancel(t);
	atomic_store(&g_step, 2);
	pthread_join(t, &ret);
	fact(ret == PTHREAD_CANCELED, "[cancelclose] the thread was "
				      "cancelled in close()");
	pthread_create(&p, NULL, peer_thread, (void *)(long)c);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	rc = pthread_timedjoin_np(p, &ret, &until);
	fact(rc == 0,
	     "[cancelclose] getpeername() on a proxied connection "
	     "afterwards returns (%s)",
	     rc == 0 ? "yes" : "hangs: the fd table's lock was lost");
	if (rc != 0) {
		fflush(stdout);
		_exit(1);
	}
	close(c);
}

/* listen() (how 0) or getsockname() (1) on a socket bound to port 0, with
 * g_m held: neither is a cancellation point (pthreads(7)). */
static void *cancel_thread(void *arg)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int how = (int)(long)arg, s = socket(AF_INET, SOCK_STREAM, 0);
	int len = mkaddr("0.0.0.0", 0, &ss);

	bind(s, (struct sockaddr *)&ss, (socklen_t)len);
	pthread_mutex_lock(&g_m);
	if (how)
		getsockname(s, (struct sockaddr *)&ss, &sl);
	else
		listen(s, 1);
	pthread_mutex_unlock(&g_m);
	close(s);
	return NULL;
}

static void cancelpoint(void)
{
	static const char *what[] = {"listen", "getsockname"};
	pthread_t t;
	void *ret;
	int how, rc;

	g_first_ms = 500; /* the BIND handshake takes half a second */
	g_delay_ms = -1;
	for (how = 0; how < 2; how++) {
		pthread_create(&t, NULL, cancel_thread, (void *)(long)how);
		sleep_ms(150);
		pthread_cancel(t);
		pthread_join(t, &ret);
		rc = pthread_mutex_trylock(&g_m);
		fact(rc == 0,
		     "[cancelpoint] %s() is no cancellation point: "
		     "the thread cancelled in it went on to unlock "
		     "its mutex (%s)",
		     what[how], rc == 0 ? "unlocked" : "still locked");
		if (rc == 0)
			pthread_mutex_unlock(&g_m);
		else
			return; /* the mutex is lost */
	}
}

/* A dual-stack listener on a machine whose loopback has no IPv6 (run with
 * IPv6 disabled): the poke cannot come from ::1. */
static void dualnov6(void)
{
	const char *ok[] = {"127.0.0.1>127.0.0.1", NULL};

	filter_one(AF_INET6, "::", 0, ok, NULL);
}

static void listenconnect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
	struct sockaddr_in got;
	socklen_t gl = sizeof(got);
	struct sockaddr_storage peer;
	int l, rc, fd;

	g_delay_ms = 500;
	l = listener(AF_INET, "0.0.0.0", 0, -1);
	if (l < 0)
		return;
	inet_pton(AF_INET, "203.0.113.5", &a.sin_addr);
	rc = connect(l, (struct sockaddr *)&a, sizeof(a));
	fact(rc < 0 && errno == EISCONN,
	     "[listenconnect] connect() on the listening socket: EISCONN, as "
	     "the kernel (%s)",
	     rc == 0 ? "0" : strerror(errno));
	getsockname(l, (struct sockaddr *)&got, &gl);
	fact(ntohs(got.sin_port) == 5000,
	     "[listenconnect] getsockname still shows the proxy's port (%d)",
	     ntohs(got.sin_port));
	fd = accept_within(l, 2000, &peer);
	fact(fd >= 0 && is_peer(&peer),
	     "[listenconnect] the stream still arrives");
	if (fd >= 0)
		close(fd);
	close(l);
}

static void misfire(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in got;
	socklen_t gl = sizeof(got);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
	int c, s, len, rc;
	char buf[64];

	g_delay_ms = -1;
	c = proxied(); /* the program has a connection through the proxy */
	if (c < 0)
		return;
	s = socket(AF_INET, SOCK_STREAM, 0);
	len = mkaddr("10.9.9.9", 0, &ss); /* curl --interface 10.9.9.9 */
	bind(s, (struct sockaddr *)&ss, (socklen_t)len);
	getsockname(s, (struct sockaddr *)&got, &gl);
	inet_ntop(AF_INET, &got.sin_addr, buf, sizeof(buf));
	fact(!strcmp(buf, "10.9.9.9"),
	     "[misfire] getsockname before connect "
	     "shows the socket's own address (%s)",
	     buf);
	inet_pton(AF_INET, "203.0.113.5", &a.sin_addr);
	rc = connect(s, (struct sockaddr *)&a, sizeof(a));
	fact(rc == 0, "[misfire] the connect works: %s",
	     rc == 0 ? "yes" : strerror(errno));
	fact(atomic_load(&g_binds) == 0,
	     "[misfire] no BIND was asked of the proxy (%d)",
	     atomic_load(&g_binds));
	close(s);
	close(c);
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	g_self = argv[0];
	if (!strcmp(c, "client") && argc == 5) {
		int conn;

		client_here(argv[2], argv[3], atoi(argv[4]), &conn);
		(void)!write(3, conn ? "1" : "0", 1);
		sleep(1);
		return 0;
	}
	srv_start();
	if (!strcmp(c, "wakeleak"))
		wakeleak();
	else if (!strcmp(c, "pollcancel"))
		pollcancel();
	else if (!strcmp(c, "acceptnull"))
		acceptnull();
	else if (!strcmp(c, "namenull"))
		namenull();
	else if (!strcmp(c, "forkeof"))
		forkeof();
	else if (!strcmp(c, "forkpidfd"))
		forkpidfd();
	else if (!strcmp(c, "orphan"))
		orphan();
	else if (!strcmp(c, "filter"))
		filter();
	else if (!strcmp(c, "cancelclose"))
		cancelclose();
	else if (!strcmp(c, "cancelpoint"))
		cancelpoint();
	else if (!strcmp(c, "dualnov6"))
		dualnov6();
	else if (!strcmp(c, "listenconnect"))
		listenconnect();
	else if (!strcmp(c, "misfire"))
		misfire();
	else {
		fprintf(stderr, "usage: bindreview CASE\n");
		return 2;
	}
	return fact_failures ? 1 : 0;
}
