/*
 * connmark.c - blocking connects with markers around each connect(), for
 * counting the system calls a connect costs (under strace).
 *
 *   connmark [--socks HOST:PORT] ADDR PORT N
 *
 * N times: socket, write(-1, "<", 1), connect(ADDR:PORT), write(-1, ">",
 * 1), send "ping\n", read the one-line answer ("proxied", or a failure),
 * close.  The two writes fail with EBADF and do nothing else; in strace's
 * output they bracket exactly the calls the connect made, whoever made
 * them (the program, a preloaded library).  With --socks the program is
 * its own SOCKS5 client (no authentication, CONNECT to ADDR:PORT through
 * HOST:PORT, blocking calls) and the markers bracket that: the reference.
 * Exits nonzero on the first failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int read_n(int fd, unsigned char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = recv(fd, p, n, 0);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* A blocking SOCKS5 CONNECT to dst through the proxy at px, as a SOCKS5
 * client program does it. */
static int socks_connect(int fd, const struct sockaddr_in *px,
			 const struct sockaddr_in *dst)
{
	unsigned char req[10] = {5, 1, 0, 1}, rep[10];

	if (connect(fd, (const struct sockaddr *)px, sizeof(*px)) < 0 ||
	    send(fd, "\5\1\0", 3, 0) != 3 || read_n(fd, rep, 2) < 0 ||
	    rep[1] != 0)
		return -1;
	memcpy(req + 4, &dst->sin_addr, 4);
	memcpy(req + 8, &dst->sin_port, 2);
	if (send(fd, req, sizeof(req), 0) != (ssize_t)sizeof(req) ||
	    read_n(fd, rep, 10) < 0 || rep[1] != 0)
		return -1;
	return 0;
}

static int parse(const char *host, const char *port, struct sockaddr_in *a)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((unsigned short)atoi(port));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst, px;
	char buf[64], *colon;
	int socks = 0, n, i, fd, rc;
	ssize_t r;

	if (argc == 6 && strcmp(argv[1], "--socks") == 0) {
		colon = strrchr(argv[2], ':');
		if (!colon)
			return 2;
		*colon = '\0';
		if (parse(argv[2], colon + 1, &px) < 0)
			return 2;
		socks = 1;
		argv += 2;
		argc -= 2;
	}
	if (argc != 4 || parse(argv[1], argv[2], &dst) < 0) {
		fprintf(stderr,
			"usage: connmark [--socks HOST:PORT] ADDR PORT N\n");
		return 2;
	}
	n = atoi(argv[3]);
	for (i = 0; i < n; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return 1;
		(void)!write(-1, "<", 1);
		rc = socks ? socks_connect(fd, &px, &dst)
			   : connect(fd, (struct sockaddr *)&dst, sizeof(dst));
		(void)!write(-1, ">", 1);
		if (rc < 0) {
			perror("connmark: connect");
			return 1;
		}
		if (send(fd, "ping\n", 5, 0) != 5)
			return 1;
		r = recv(fd, buf, sizeof(buf) - 1, 0);
		if (r <= 0)
			return 1;
		buf[r] = '\0';
		if (strncmp(buf, "proxied", 7) != 0) {
			fprintf(stderr, "connmark: answer %s", buf);
			return 1;
		}
		close(fd);
	}
	return 0;
}
