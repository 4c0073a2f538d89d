/*
 * probe.c - a minimal TCP client for the fake SOCKS5 server tests.
 *
 *   probe HOST PORT [--send DATA] [--expect DATA] [--v6] [--nonblock]
 *         [--alarm MS]
 *
 * Counts the entries of /proc/self/fd, creates a TCP socket (AF_INET6 when
 * HOST is an IPv6 literal or with --v6, an IPv4 HOST then being v4-mapped),
 * connect()s and prints one line:
 *
 *     connect=0                  or
 *     connect=-1 errno=ENAME
 *
 * With --nonblock the socket is O_NONBLOCK; an EINPROGRESS connect is
 * followed by poll() and SO_ERROR, and the line reports the final result
 * (prefixed by "inprogress=1").  "flags_kept=1" says F_GETFL is the same
 * after connect() as before (O_NONBLOCK untouched).  After a successful
 * connect, --send writes DATA, --expect reads until DATA's length arrived (or
 * EOF / 3 s) and prints "expect=ok" or "expect=mismatch got=HEX".  Then the
 * socket is closed, the fds recounted and "fds_leaked=N" printed.
 * "elapsed_ms=N" is the time the connect took.  --alarm MS interrupts the
 * connect with SIGALRM after MS ms (a handler without SA_RESTART, as a
 * program bounding connect() with alarm() installs).
 *
 * Exit status: 0 when the probe itself ran (whatever connect returned), 1 if
 * --send failed or --expect did not match, 2 on a usage or setup error.  The
 * test script judges the printed result.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/time.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct ename {
	int num;
	const char *name;
};

static const struct ename enames[] = {
    {EPERM, "EPERM"},
    {ENOENT, "ENOENT"},
    {EINTR, "EINTR"},
    {EIO, "EIO"},
    {EBADF, "EBADF"},
    {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},
    {EFAULT, "EFAULT"},
    {EINVAL, "EINVAL"},
    {EMFILE, "EMFILE"},
    {EPIPE, "EPIPE"},
    {ENOSYS, "ENOSYS"},
    {EPROTO, "EPROTO"},
    {EBADMSG, "EBADMSG"},
    {ENOTSOCK, "ENOTSOCK"},
    {EPROTOTYPE, "EPROTOTYPE"},
    {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
    {EOPNOTSUPP, "EOPNOTSUPP"},
    {EAFNOSUPPORT, "EAFNOSUPPORT"},
    {EADDRINUSE, "EADDRINUSE"},
    {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
    {ENETDOWN, "ENETDOWN"},
    {ENETUNREACH, "ENETUNREACH"},
    {ECONNABORTED, "ECONNABORTED"},
    {ECONNRESET, "ECONNRESET"},
    {ENOBUFS, "ENOBUFS"},
    {EISCONN, "EISCONN"},
    {ENOTCONN, "ENOTCONN"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {ECONNREFUSED, "ECONNREFUSED"},
    {EHOSTDOWN, "EHOSTDOWN"},
    {EHOSTUNREACH, "EHOSTUNREACH"},
    {EALREADY, "EALREADY"},
    {EINPROGRESS, "EINPROGRESS"},
};

static const char *errname(int e, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof enames / sizeof enames[0]; i++)
		if (enames[i].num == e)
			return enames[i].name;
	snprintf(buf, len, "E%d", e);
	return buf;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	/* The shim's own fds live at 512 and above (its README: the helper
	 * thread's epoll and eventfds stay for the next connects). */
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && atoi(de->d_name) < 512)
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
	fprintf(stderr, "usage: probe HOST PORT [--send DATA] [--expect DATA] "
			"[--v6] [--nonblock] [--alarm MS]\n");
	exit(2);
}

/* Finishes a nonblocking connect: returns 0 or an errno value. */
static int finish_connect(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int r;
	do
		r = poll(&p, 1, 15000);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return ETIMEDOUT; /* probe-side bound; judged by the test */
	if (r < 0)
		return errno;
	int err = 0;
	socklen_t l = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		return errno;
	return err;
}

static int send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, data, len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = {.fd = fd, .events = POLLOUT};
				if (poll(&p, 1, 3000) <= 0)
					return -1;
				continue;
			}
			return -1;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads up to len bytes within 3 s; returns the count read. */
static size_t recv_upto(int fd, char *buf, size_t len)
{
	size_t got = 0;
	long long deadline = now_ms() + 3000;
	while (got < len) {
		long long left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		ssize_t n = recv(fd, buf + got, len - got, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Arms a one-shot SIGALRM after ms milliseconds, without SA_RESTART. */
static void arm_alarm(long ms)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
	const char *host, *sendbuf = NULL, *expectbuf = NULL;
	int want_v6 = 0, nonblock = 0, rc = 0;
	long alarm_ms = 0;
	char tmp[32];

	if (argc < 3)
		usage();
	host = argv[1];
	char *end;
	long port = strtol(argv[2], &end, 10);
	if (*end || port < 0 || port > 65535)
		usage();
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--send") && i + 1 < argc)
			sendbuf = argv[++i];
		else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
			expectbuf = argv[++i];
		else if (!strcmp(argv[i], "--v6"))
			want_v6 = 1;
		else if (!strcmp(argv[i], "--nonblock"))
			nonblock = 1;
		else if (!strcmp(argv[i], "--alarm") && i + 1 < argc)
			alarm_ms = atol(argv[++i]);
		else
			usage();
	}

	struct sockaddr_storage ss;
	socklen_t sl;
	int family;
	memset(&ss, 0, sizeof ss);
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1 && !want_v6) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr = a4;
		sl = sizeof *sin;
		family = AF_INET;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET, host, &a4) == 1) {
			memset(&a6, 0, sizeof a6);
			a6.s6_addr[10] = 0xff;
			a6.s6_addr[11] = 0xff;
			memcpy(&a6.s6_addr[12], &a4, 4);
		} else if (inet_pton(AF_INET6, host, &a6) != 1) {
			fprintf(stderr, "probe: bad address %s\n", host);
			return 2;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = a6;
		sl = sizeof *sin6;
		family = AF_INET6;
	}

	int before = count_fds();
	int fd =
	    socket(family, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0) {
		fprintf(stderr, "probe: socket: %s\n", strerror(errno));
		return 2;
	}

	int fl0 = fcntl(fd, F_GETFL);
	long long t0 = now_ms();
	if (alarm_ms > 0)
		arm_alarm(alarm_ms);
	int r = connect(fd, (struct sockaddr *)&ss, sl);
	int err = r < 0 ? errno : 0;
	if (r < 0 && nonblock && err == EINPROGRESS) {
		printf("inprogress=1\n");
		err = finish_connect(fd);
		r = err ? -1 : 0;
	}
	long long t1 = now_ms();
	if (r == 0)
		printf("connect=0\n");
	else
		printf("connect=-1 errno=%s\n", errname(err, tmp, sizeof tmp));
	printf("elapsed_ms=%lld\n", t1 - t0);
	/* the file status flags (O_NONBLOCK) must be as the program left them
	 */
	printf("flags_kept=%d\n", fcntl(fd, F_GETFL) == fl0);

	if (r == 0 && sendbuf) {
		if (send_all(fd, sendbuf, strlen(sendbuf)) < 0) {
			printf("send=-1 errno=%s\n",
			       errname(errno, tmp, sizeof tmp));
			rc = 1;
		} else {
			printf("send=ok\n");
		}
	}
	if (r == 0 && expectbuf) {
		size_t len = strlen(expectbuf);
		char *buf = malloc(len + 1);
		if (!buf)
			return 2;
		size_t got = recv_upto(fd, buf, len);
		if (got == len && !memcmp(buf, expectbuf, len)) {
			printf("expect=ok\n");
		} else {
			printf("expect=mismatch got=");
			for (size_t i = 0; i < got; i++)
				printf("%02x", (unsigned char)buf[i]);
			printf("\n");
			rc = 1;
		}
		free(buf);
	}
	fflush(stdout);

	if (close(fd) < 0) {
		printf("close=-1 errno=%s\n", errname(errno, tmp, sizeof tmp));
		rc = 1;
	}
	int after = count_fds();
	printf("fds_leaked=%d\n", after - before);
	return rc;
}
