/*
 * udpbench.c - sequential UDP round trips.
 *
 *   udpbench ADDR PORT N [SIZE [rotate]]
 *
 * One UDP socket; 64 warm-up round trips (not timed: they include a
 * SOCKS tool's UDP ASSOCIATE), then N times: sendto(ADDR:PORT) a SIZE-byte
 * (default 64, at least 8) payload whose first 8 bytes carry the round
 * trip's number, recvfrom the reply, and check that it is the same SIZE
 * bytes from ADDR:PORT.  The buffers are filled once, so the program's
 * own work per round trip barely depends on SIZE (apart from the memcmp).  The
 * target (udpechod) echoes only datagrams that came from the proxy's external
 * address and answers "direct" to anything else, so a tool that went direct
 * fails on the first datagram.  A lost datagram fails too (2 s receive
 * timeout). Prints "ROUND_TRIPS_PER_SECOND ELAPSED_S" on stdout; exits nonzero
 * on the first failure.  With "rotate" every call gets its destination,
 * sender and length from the next of 16 buffers, each on a page of its own:
 * the shim then cannot reuse its check of the last call's structures and
 * asks the kernel every time (what a bad-pointer check costs at worst).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAXSIZE 16384
#define WARMUP	64

#define ROT 16

static size_t size = 64;
static int rotate;
static struct sockaddr_in *dsts[ROT], *froms[ROT];
static socklen_t *flens[ROT];
static unsigned char out[MAXSIZE], in[MAXSIZE + 16];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one(int fd, const struct sockaddr_in *a0, unsigned long i)
{
	struct sockaddr_in fromst, *fp = &fromst;
	socklen_t flenst = sizeof(fromst), *flp = &flenst;
	const struct sockaddr_in *a = a0;
	ssize_t r;
	int k;

	if (rotate) {
		a = dsts[i % ROT];
		fp = froms[i % ROT];
		flp = flens[i % ROT];
		*flp = sizeof(*fp);
	}
#define from (*fp)
#define flen (*flp)
	for (k = 0; k < 8; k++)
		out[k] = (unsigned char)(i >> (8 * k)) ^ (unsigned char)k;
	r = sendto(fd, out, size, 0, (const struct sockaddr *)a, sizeof(*a));
	if (r != (ssize_t)size) {
		fprintf(stderr, "udpbench: #%lu: sendto: %s\n", i,
			r < 0 ? strerror(errno) : "short");
		return -1;
	}
	r = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)fp, flp);
	if (r < 0) {
		fprintf(stderr, "udpbench: #%lu: recvfrom: %s\n", i,
			errno == EAGAIN ? "timed out (datagram lost?)"
					: strerror(errno));
		return -1;
	}
	if (r != (ssize_t)size || memcmp(in, out, size) != 0) {
		fprintf(stderr, "udpbench: #%lu: wrong reply (%zd bytes%s)\n",
			i, r,
			r == 6 && !memcmp(in, "direct", 6)
			    ? ": \"direct\", the datagram bypassed the proxy"
			    : "");
		return -1;
	}
	if (flen < sizeof(from) || from.sin_family != AF_INET ||
	    from.sin_addr.s_addr != a->sin_addr.s_addr ||
	    from.sin_port != a->sin_port) {
		char s[INET_ADDRSTRLEN] = "?";

		inet_ntop(AF_INET, &from.sin_addr, s, sizeof(s));
		fprintf(stderr, "udpbench: #%lu: reply shown from %s:%u\n", i,
			s, ntohs(from.sin_port));
		return -1;
	}
	return 0;
#undef from
#undef flen
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	struct timeval tv = {.tv_sec = 2};
	unsigned long n, i;
	double t0, dt;
	int fd;

	if (argc < 4 || argc > 6) {
		fprintf(stderr,
			"usage: udpbench ADDR PORT N [SIZE [rotate]]\n");
		return 2;
	}
	if (argc >= 5)
		size = strtoul(argv[4], NULL, 10);
	rotate = argc == 6 && strcmp(argv[5], "rotate") == 0;
	if (size < 8 || size > MAXSIZE) {
		fprintf(stderr, "udpbench: SIZE must be 8..%d\n", MAXSIZE);
		return 2;
	}
	for (i = 8; i < size; i++)
		out[i] = (unsigned char)(i * 7 + 1);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "udpbench: bad address %s\n", argv[1]);
		return 2;
	}
	n = strtoul(argv[3], NULL, 10);
	for (i = 0; rotate && i < ROT; i++) {
		char *pg = aligned_alloc(4096, 4096);

		if (!pg)
			return 1;
		dsts[i] = (struct sockaddr_in *)pg;
		froms[i] = (struct sockaddr_in *)(pg + 1024);
		flens[i] = (socklen_t *)(pg + 2048);
		*dsts[i] = a;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("udpbench: socket");
		return 1;
	}
	for (i = 0; i < WARMUP; i++)
		if (one(fd, &a, ~i) < 0)
			return 1;
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (one(fd, &a, i) < 0)
			return 1;
	dt = now_s() - t0;
	printf("%.1f %.3f\n", dt > 0 ? (double)n / dt : 0.0, dt);
	close(fd);
	return 0;
}
