/*
 * passthru.c - the pass-through cost of the shim's hooks.
 *
 *   passthru sendto N     N sendto() on a UDP socket to a 127.0.0.1 port
 *                         this program binds (and never reads: a discard)
 *   passthru dupclose N   N dup()+close() pairs
 *   passthru sockname N   N getsockname() on a TCP socket bound to loopback
 *                         (hooked since inbound connections: BIND)
 *   passthru connect N    N x (socket, connect to a 127.0.0.1 listener of
 *                         this program, accept, close both): a direct
 *                         connect, the call the supervisor traps (the
 *                         static build, section 8)
 *
 * Prints "NS_PER_OP" (wall time of the loop only, CLOCK_MONOTONIC) on
 * stdout.  Exits nonzero if any call fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n, i;
	double t0, t1;

	if (argc != 3) {
		fprintf(stderr,
			"usage: passthru sendto|dupclose|sockname|connect N\n");
		return 2;
	}
	n = atol(argv[2]);
	if (strcmp(argv[1], "sendto") == 0) {
		struct sockaddr_in a;
		socklen_t alen = sizeof(a);
		int rx = socket(AF_INET, SOCK_DGRAM, 0);
		int tx = socket(AF_INET, SOCK_DGRAM, 0);
		int small = 4096;
		char byte = 'x';

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (rx < 0 || tx < 0 ||
		    bind(rx, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    getsockname(rx, (struct sockaddr *)&a, &alen) < 0) {
			perror("passthru: socket setup");
			return 1;
		}
		/* A small receive buffer: it fills at once and the kernel then
		 * drops each datagram, so every iteration does the same work.
		 */
		setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			if (sendto(tx, &byte, 1, 0, (struct sockaddr *)&a,
				   sizeof(a)) != 1) {
				perror("passthru: sendto");
				return 1;
			}
		}
		t1 = now_ns();
	} else if (strcmp(argv[1], "dupclose") == 0) {
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			int fd = dup(1);

			if (fd < 0 || close(fd) < 0) {
				perror("passthru: dup/close");
				return 1;
			}
		}
		t1 = now_ns();
	} else if (strcmp(argv[1], "sockname") == 0) {
		struct sockaddr_in a;
		socklen_t alen;
		int s = socket(AF_INET, SOCK_STREAM, 0);

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("passthru: socket setup");
			return 1;
		}
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			alen = sizeof(a);
			if (getsockname(s, (struct sockaddr *)&a, &alen) < 0) {
				perror("passthru: getsockname");
				return 1;
			}
		}
		t1 = now_ns();
	} else if (strcmp(argv[1], "connect") == 0) {
		struct sockaddr_in a;
		socklen_t alen = sizeof(a);
		int l = socket(AF_INET, SOCK_STREAM, 0);

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(l, 16) < 0 ||
		    getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
			perror("passthru: listener setup");
			return 1;
		}
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			int c = socket(AF_INET, SOCK_STREAM, 0), s;

			if (c < 0 ||
			    connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 ||
			    (s = accept(l, NULL, NULL)) < 0) {
				perror("passthru: connect/accept");
				return 1;
			}
			close(s);
			close(c);
		}
		t1 = now_ns();
	} else {
		fprintf(stderr, "passthru: unknown mode %s\n", argv[1]);
		return 2;
	}
	printf("%.2f\n", n > 0 ? (t1 - t0) / (double)n : 0.0);
	return 0;
}
