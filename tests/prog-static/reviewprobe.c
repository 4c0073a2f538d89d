/*
 * reviewprobe.c - the fresh-eyes review's findings on the supervisor, as
 * a static program (gcc -static) for tests/lab/static.sh, section k.  Each
 * mode prints "key=value" facts that are the same on every run (errno
 * names, not texts); timings go to stderr.
 *
 *   reviewprobe twoconnect ADDR PORT   connect twice, then echo: the second
 *                                      connect EISCONN, the stream intact
 *   reviewprobe samefd ADDR PORT       two threads connect one socket at
 *                                      once: one 0, the other EALREADY or
 *                                      EISCONN, then echo
 *   reviewprobe stall                  a blocking connect to a loopback
 *                                      listener whose queue is full (no
 *                                      answer), and meanwhile another
 *                                      thread's connect to a closed port:
 *                                      refused at once (< 2 s), not after
 *   reviewprobe unspec ADDR PORT       UDP sendto with AF_INET, then with
 *                                      AF_UNSPEC (the kernel sends it as
 *                                      AF_INET), and sendmsg AF_UNSPEC
 *   reviewprobe daemon ADDR PORT FILE  fork; the parent exits at once, the
 *                                      child connects 1 s later and echoes,
 *                                      writing its facts to FILE
 *   reviewprobe addrlen ADDR PORT      connect with addrlen 129 and -1
 *                                      (EINVAL), then 128 (connects)
 *   reviewprobe lsrr ADDR PORT         IP_OPTIONS loose source route via
 *                                      ADDR, then a UDP sendto and a
 *                                      non-blocking TCP connect to
 *                                      127.0.0.1:PORT (the kernel sends
 *                                      both to ADDR, the route's first hop)
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../prog/addr.h"

static const char *ename(int rc)
{
	return rc >= 0 ? "0" : strerrorname_np(errno);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct sockaddr_in dst;

static int set_dst(const char *a, const char *p)
{
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(p));
	return inet_pton(AF_INET, a, &dst.sin_addr) == 1 ? 0 : -1;
}

/* "echo" when a line written comes back on s, else what happened. */
static const char *echo(int s)
{
	static const char msg[] = "reviewprobe\n";
	char b[sizeof(msg)];
	size_t got = 0;

	if (write(s, msg, sizeof(msg) - 1) != (ssize_t)sizeof(msg) - 1)
		return strerrorname_np(errno);
	while (got < sizeof(msg) - 1) {
		ssize_t n = read(s, b + got, sizeof(msg) - 1 - got);

		if (n <= 0)
			return n == 0 ? "eof" : strerrorname_np(errno);
		got += (size_t)n;
	}
	return memcmp(b, msg, got) == 0 ? "echo" : "garbled";
}

static int mode_twoconnect(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), r;

	r = connect(s, (struct sockaddr *)&dst, sizeof(dst));
	printf("connect1=%s\n", ename(r));
	r = connect(s, (struct sockaddr *)&dst, sizeof(dst));
	printf("connect2=%s\n", ename(r));
	printf("stream=%s\n", echo(s));
	return 0;
}

static int g_s;
static const char *g_res[2];

static void *samefd_thread(void *x)
{
	long i = (long)x;
	int r = connect(g_s, (struct sockaddr *)&dst, sizeof(dst));

	g_res[i] = ename(r);
	return NULL;
}

static int mode_samefd(void)
{
	pthread_t t[2];
	long i;
	int ok = 0, other = 0;

	g_s = socket(AF_INET, SOCK_STREAM, 0);
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, samefd_thread, (void *)i);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 2; i++) {
		if (strcmp(g_res[i], "0") == 0)
			ok++;
		else if (strcmp(g_res[i], "EALREADY") == 0 ||
			 strcmp(g_res[i], "EISCONN") == 0)
			other++;
		else
			fprintf(stderr, "reviewprobe: thread %ld: %s\n", i,
				g_res[i]);
	}
	printf("succeeded=%d\n", ok);
	printf("ealready_or_eisconn=%d\n", other);
	printf("stream=%s\n", echo(g_s));
	return 0;
}

static struct sockaddr_in g_full;

static void *stall_thread(void *x)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	(void)connect(s, (struct sockaddr *)&g_full, sizeof(g_full));
	return x;
}

static int mode_stall(void)
{
	struct sockaddr_in c;
	socklen_t sl = sizeof(g_full);
	pthread_t t;
	double t0, took;
	int l = socket(AF_INET, SOCK_STREAM, 0), i, s, r;

	memset(&g_full, 0, sizeof(g_full));
	g_full.sin_family = AF_INET;
	g_full.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&g_full, sizeof(g_full)) < 0 ||
	    listen(l, 0) < 0 ||
	    getsockname(l, (struct sockaddr *)&g_full, &sl) < 0)
		return 1;
	for (i = 0; i < 2; i++) { /* fill the queue: later SYNs are dropped */
		s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(s, (struct sockaddr *)&g_full, sizeof(g_full));
	}
	usleep(100000);
	pthread_create(&t, NULL, stall_thread, NULL);
	usleep(300000);
	memset(&c, 0, sizeof(c));
	c.sin_family = AF_INET;
	c.sin_port = htons(1);
	c.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM, 0);
	t0 = now();
	r = connect(s, (struct sockaddr *)&c, sizeof(c));
	took = now() - t0;
	fprintf(stderr, "reviewprobe: closed port refused after %.3f s\n",
		took);
	printf("closed=%s\n", ename(r));
	printf("at_once=%s\n", took < 2.0 ? "yes" : "no");
	fflush(stdout);
	_exit(0); /* the stalled thread is still in its connect */
}

static int mode_unspec(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = dst;
	struct iovec io = {(void *)"sendmsg-unspec", 14};
	struct msghdr m = {.msg_name = &a,
			   .msg_namelen = sizeof(a),
			   .msg_iov = &io,
			   .msg_iovlen = 1};

	printf("sendto_inet=%s\n",
	       ename((int)sendto(s, "inet", 4, 0, (struct sockaddr *)&a,
				 sizeof(a))));
	a.sin_family = AF_UNSPEC;
	printf("sendto_unspec=%s\n",
	       ename((int)sendto(s, "unspec", 6, 0, (struct sockaddr *)&a,
				 sizeof(a))));
	printf("sendmsg_unspec=%s\n", ename((int)sendmsg(s, &m, 0)));
	return 0;
}

static int mode_daemon(const char *file)
{
	FILE *f;
	int s, r;

	if (fork() != 0)
		return 0;
	sleep(1);
	s = socket(AF_INET, SOCK_STREAM, 0);
	r = connect(s, (struct sockaddr *)&dst, sizeof(dst));
	if (!(f = fopen(file, "w")))
		return 1;
	fprintf(f, "daemon_connect=%s\n", ename(r));
	fprintf(f, "daemon_stream=%s\n", r == 0 ? echo(s) : "-");
	fclose(f);
	return 0;
}

static int mode_addrlen(void)
{
	struct sockaddr_storage ss;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &dst, sizeof(dst));
	printf("len129=%s\n", ename(connect(s, (struct sockaddr *)&ss, 129)));
	printf("len_negative=%s\n",
	       ename(connect(s, (struct sockaddr *)&ss, (socklen_t)-1)));
	printf("len128=%s\n", ename(connect(s, (struct sockaddr *)&ss, 128)));
	printf("stream=%s\n", echo(s));
	return 0;
}

static int mode_lsrr(void)
{
	/* NOP, LSRR (131) of length 7, pointer 4, the one hop */
	uint8_t opt[8] = {1, 131, 7, 4};
	struct sockaddr_in lo = dst;
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	int t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	memcpy(opt + 4, &dst.sin_addr, 4);
	lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(u, IPPROTO_IP, IP_OPTIONS, opt, sizeof(opt)) < 0 ||
	    setsockopt(t, IPPROTO_IP, IP_OPTIONS, opt, sizeof(opt)) < 0)
		return 1;
	printf("sendto=%s\n",
	       ename((int)sendto(u, "lsrr", 4, 0, (struct sockaddr *)&lo,
				 sizeof(lo))));
	printf("connect=%s\n",
	       ename(connect(t, (struct sockaddr *)&lo, sizeof(lo))));
	usleep(300000); /* the SYN, if any, on the wire */
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(m, "stall") == 0 && argc == 2)
		return mode_stall();
	if (argc < 4 || set_dst(argv[2], argv[3]) < 0) {
		fprintf(stderr, "usage: see reviewprobe.c\n");
		return 2;
	}
	if (strcmp(m, "twoconnect") == 0)
		return mode_twoconnect();
	if (strcmp(m, "samefd") == 0)
		return mode_samefd();
	if (strcmp(m, "unspec") == 0)
		return mode_unspec();
	if (strcmp(m, "addrlen") == 0)
		return mode_addrlen();
	if (strcmp(m, "lsrr") == 0)
		return mode_lsrr();
	if (strcmp(m, "daemon") == 0 && argc == 5)
		return mode_daemon(argv[4]);
	fprintf(stderr, "usage: see reviewprobe.c\n");
	return 2;
}
