/*
 * bindfake.c - the call-back pattern (an FTP-style client) for the fake
 * SOCKS5 server's BIND cases.
 *
 *   bindfake HOST PORT [--v6] [--sockname-first] [--early] [--second]
 *             [--close-after MS] [--expect DATA] [--send DATA] [--quick]
 *             [--accept4]
 *
 * Counts every entry of /proc/self/fd (the shim's own, at 512 and above,
 * included: a session's control connection lives there), connects a TCP
 * control connection to HOST PORT (through the shim: the proxy), then
 * makes a TCP socket (AF_INET6 with --v6), binds it to the wildcard
 * address, port 0, listens and accepts, printing one line per step:
 *
 *     control=0 | control=-1 errno=ENAME
 *     sockname_early=ADDR          (--sockname-first: getsockname before
 *                                   listen, as curl -P - does)
 *     listen=0 | listen=-1 errno=ENAME
 *     sockname=ADDR                getsockname on the listener
 *     early_accept=...             (--early: the listener non-blocking, an
 *     poll_before=N                 accept and a poll(0) at once, then a
 *     poll_after=N                  poll of up to 5 s; "N" is revents&POLLIN)
 *     accept=ok | accept=-1 errno=ENAME
 *     accept_ms=N                  the time accept took (after listen)
 *     accept_addr=ADDR             what accept() wrote
 *     peername=ADDR                getpeername on the accepted fd
 *     accepted_sockname=ADDR       getsockname on the accepted fd
 *     accepted_nonblock=N          O_NONBLOCK on it (accept4 with
 *     accepted_cloexec=N           --accept4: SOCK_NONBLOCK|SOCK_CLOEXEC)
 *     data=ok | data=mismatch got=HEX
 *                                  (--expect: everything until EOF, 3 s
 *                                   at most, is exactly DATA)
 *     send=0 | send=-1 errno=...   (--send: written after the data)
 *     second_accept=...            (--second: a non-blocking accept once
 *                                   the session is over)
 *     closed_listener=1            (--close-after: the listener closed MS
 *                                   ms after listen, nothing accepted)
 *     fds_leaked=N                 fds left once all of ours are closed
 *                                  (retried for 2 s: a waiter thread may
 *                                   still be letting its fds go)
 *     fd_left=N TARGET             each of them (readlink)
 *
 * --quick: _exit(0) as soon as accept() has failed (a program that gives
 * up at once: the shim's line about why must be out by then).
 *
 * ADDR is A.B.C.D:PORT or [V6]:PORT.  Exit status: 0 when the program ran
 * (the test judges the lines), 2 on a usage or setup error.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* The fds open at the start, by number (the shim's own go up to
 * 1024 and beyond, hence a bitmap of 4096). */
struct fdset {
	unsigned char bits[4096 / 8];
};

static void snapshot(struct fdset *set)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int fd;

	memset(set, 0, sizeof(*set));
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd >= 0 && fd < 4096)
			set->bits[fd / 8] |= (unsigned char)(1u << (fd % 8));
	}
	closedir(d);
}

/* "fd_left=N TARGET" for each fd open now and not at the start. */
static void print_new_fds(const struct fdset *start)
{
	struct fdset now;
	char path[64], target[256];
	ssize_t n;
	int fd;

	snapshot(&now);
	for (fd = 0; fd < 4096; fd++) {
		if (!(now.bits[fd / 8] & (1u << (fd % 8))) ||
		    (start->bits[fd / 8] & (1u << (fd % 8))))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		printf("fd_left=%d %s\n", fd, target);
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bindfake HOST PORT [--v6] [--sockname-first] "
		"[--early] [--second] [--close-after MS] [--expect DATA] "
		"[--send DATA] [--quick] [--accept4]\n");
	exit(2);
}

/* Prints "KEY=-1 errno=ENAME" for the errno of a failed call. */
static void print_err(const char *key, int e)
{
	const char *n = strerrorname_np(e);

	if (n)
		printf("%s=-1 errno=%s\n", key, n);
	else
		printf("%s=-1 errno=E%d\n", key, e);
}

static void print_addr(const char *key, const struct sockaddr_storage *ss,
		       socklen_t len)
{
	char buf[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *i = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &i->sin_addr, buf, sizeof(buf));
		printf("%s=%s:%u\n", key, buf, ntohs(i->sin_port));
	} else if (ss->ss_family == AF_INET6 &&
		   len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *i = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &i->sin6_addr, buf, sizeof(buf));
		printf("%s=[%s]:%u\n", key, buf, ntohs(i->sin6_port));
	} else {
		printf("%s=family%d/len%u\n", key, ss->ss_family,
		       (unsigned)len);
	}
}

/* getsockname (peer 0) or getpeername (peer 1) on fd, printed as key. */
static void print_name(const char *key, int fd, int peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int rc;

	memset(&ss, 0, sizeof(ss));
	rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
		  : getsockname(fd, (struct sockaddr *)&ss, &len);
	if (rc < 0)
		print_err(key, errno);
	else
		print_addr(key, &ss, len);
}

/* Connects the control connection; returns the fd or -1 (printed). */
static int control(const char *host, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) ==
	    1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(atoi(port));
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host,
			     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(atoi(port));
		len = sizeof(struct sockaddr_in6);
	} else {
		usage();
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		print_err("control", errno);
		close(fd);
		return -1;
	}
	printf("control=0\n");
	return fd;
}

/* Everything until EOF (3 s at most) compared with want. */
static void check_data(int fd, const char *want)
{
	char buf[4096];
	size_t got = 0, i;
	long long deadline = now_ms() + 3000, left;
	struct pollfd p;
	ssize_t n;

	while (got < sizeof(buf)) {
		left = deadline - now_ms();
		if (left <= 0)
			break;
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, (int)left) <= 0)
			break;
		n = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == strlen(want) && memcmp(buf, want, got) == 0) {
		printf("data=ok\n");
		return;
	}
	printf("data=mismatch got=");
	for (i = 0; i < got; i++)
		printf("%02x", (unsigned char)buf[i]);
	printf("\n");
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		perror("fcntl");
		exit(2);
	}
}

/* A non-blocking accept that is expected to find nothing. */
static void accept_nothing(const char *key, int l)
{
	int fd = accept(l, NULL, NULL);

	if (fd < 0) {
		print_err(key, errno);
		return;
	}
	printf("%s=%d\n", key, fd);
	close(fd);
}

static int poll_in(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? (p.revents & POLLIN) != 0 : 0;
}

int main(int argc, char **argv)
{
	const char *expect = NULL, *snd = NULL;
	int v6 = 0, sfirst = 0, early = 0, second = 0, quick = 0, i, fds0;
	int left = -1, four = 0;
	int ctl, l, a = -1;
	long close_after = -1;
	struct sockaddr_storage ss;
	struct fdset seen;
	socklen_t len;
	long long t0;

	if (argc < 3)
		usage();
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--v6"))
			v6 = 1;
		else if (!strcmp(argv[i], "--sockname-first"))
			sfirst = 1;
		else if (!strcmp(argv[i], "--early"))
			early = 1;
		else if (!strcmp(argv[i], "--second"))
			second = 1;
		else if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--accept4"))
			four = 1;
		else if (!strcmp(argv[i], "--close-after") && i + 1 < argc)
			close_after = atol(argv[++i]);
		else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
			expect = argv[++i];
		else if (!strcmp(argv[i], "--send") && i + 1 < argc)
			snd = argv[++i];
		else
			usage();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fds0 = count_fds();
	snapshot(&seen);

	ctl = control(argv[1], argv[2]);
	if (ctl < 0)
		goto out;
	l = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (l < 0) {
		perror("socket");
		return 2;
	}
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = v6 ? AF_INET6 : AF_INET;
	len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	/* As curl -P - does: the address the control connection shows
	 * (the proxy's end, from its CONNECT reply), port 0. */
	if (sfirst && !v6) {
		socklen_t cl = sizeof(ss);

		if (getsockname(ctl, (struct sockaddr *)&ss, &cl) < 0) {
			perror("getsockname");
			return 2;
		}
		((struct sockaddr_in *)&ss)->sin_port = 0;
	}
	if (bind(l, (struct sockaddr *)&ss, len) < 0) {
		perror("bind");
		return 2;
	}
	if (sfirst)
		print_name("sockname_early", l, 0);
	t0 = now_ms();
	if (listen(l, 5) < 0) {
		print_err("listen", errno);
		printf("listen_ms=%lld\n", now_ms() - t0);
		close(l);
		close(ctl);
		goto out;
	}
	printf("listen=0\n");
	printf("listen_ms=%lld\n", now_ms() - t0);
	print_name("sockname", l, 0);
	t0 = now_ms();
	if (close_after >= 0) {
		sleep_ms(close_after);
		close(l);
		printf("closed_listener=1\n");
		close(ctl);
		goto out;
	}
	if (early) {
		set_nonblock(l);
		accept_nothing("early_accept", l);
		printf("poll_before=%d\n", poll_in(l, 0));
		printf("poll_after=%d\n", poll_in(l, 5000));
	}
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	a = four ? accept4(l, (struct sockaddr *)&ss, &len,
			   SOCK_NONBLOCK | SOCK_CLOEXEC)
		 : accept(l, (struct sockaddr *)&ss, &len);
	if (a < 0) {
		print_err("accept", errno);
		printf("accept_ms=%lld\n", now_ms() - t0);
		if (quick)
			_exit(0);
	} else {
		printf("accept=ok\n");
		printf("accept_ms=%lld\n", now_ms() - t0);
		print_addr("accept_addr", &ss, len);
		print_name("peername", a, 1);
		print_name("accepted_sockname", a, 0);
		printf("accepted_nonblock=%d\n",
		       (fcntl(a, F_GETFL) & O_NONBLOCK) != 0);
		printf("accepted_cloexec=%d\n",
		       (fcntl(a, F_GETFD) & FD_CLOEXEC) != 0);
		if (expect)
			check_data(a, expect);
		if (snd) {
			if (send(a, snd, strlen(snd), MSG_NOSIGNAL) ==
			    (ssize_t)strlen(snd))
				printf("send=0\n");
			else
				print_err("send", errno);
		}
	}
	if (second) {
		set_nonblock(l);
		accept_nothing("second_accept", l);
	}
	if (a >= 0)
		close(a);
	close(l);
	close(ctl);
out:
	for (i = 0; i < 40; i++) {
		left = count_fds() - fds0;
		if (left == 0)
			break;
		sleep_ms(50);
	}
	printf("fds_leaked=%d\n", left);
	if (left > 0)
		print_new_fds(&seen);
	return 0;
}
