/*
 * connbench.c - sequential TCP connects with a tiny request/response.
 *
 *   connbench ADDR PORT N
 *
 * N times: socket, connect(ADDR:PORT), send "ping\n", read one line,
 * close.  The target (echod) answers "proxied\n" when the connection came
 * from the proxy's external address and "direct\n" otherwise; anything but
 * "proxied" is a failure, so a tool that silently went direct is caught.
 * Prints "CONNECTS_PER_SECOND ELAPSED_S" on stdout; exits nonzero on the
 * first failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one(const struct sockaddr_in *a, long i)
{
	static const char req[] = "ping\n";
	char buf[64];
	size_t got = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0) {
		perror("connbench: socket");
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		fprintf(stderr, "connbench: connect #%ld: %s\n", i,
			strerror(errno));
		close(fd);
		return -1;
	}
	if (send(fd, req, sizeof(req) - 1, 0) != (ssize_t)(sizeof(req) - 1)) {
		fprintf(stderr, "connbench: send #%ld: %s\n", i,
			strerror(errno));
		close(fd);
		return -1;
	}
	while (got < sizeof(buf) - 1) {
		r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(buf, '\n', got))
			break;
	}
	buf[got] = '\0';
	close(fd);
	if (strcmp(buf, "proxied\n") != 0) {
		fprintf(stderr,
			"connbench: reply #%ld: '%.*s' (want 'proxied')\n", i,
			(int)strcspn(buf, "\n"), buf);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	long n, i;
	double t0, t1;

	if (argc != 4) {
		fprintf(stderr, "usage: connbench ADDR PORT N\n");
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "connbench: bad address %s\n", argv[1]);
		return 2;
	}
	n = atol(argv[3]);
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (one(&a, i) < 0)
			return 1;
	t1 = now_s();
	printf("%.1f %.3f\n", (double)n / (t1 - t0), t1 - t0);
	return 0;
}
