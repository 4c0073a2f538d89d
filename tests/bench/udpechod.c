/*
 * udpechod.c - the benchmark's UDP target server.
 *
 *   udpechod BIND_ADDR PORT PROXY_ADDR
 *
 * Echoes every datagram whose source address is PROXY_ADDR (the proxy's
 * external address: it came through the relay) back to its sender,
 * unchanged.  To any other source it answers "direct" (6 bytes), which no
 * client check accepts, so a datagram that bypassed the relay fails the
 * run at once instead of timing out.  On SIGTERM/SIGINT prints
 * "udpechod: N proxied, M direct" on stderr and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	struct in_addr want;
	struct sigaction sa;
	unsigned long n_proxied = 0, n_direct = 0;
	char buf[65536];
	int s;

	if (argc != 4) {
		fprintf(stderr, "usage: udpechod BIND_ADDR PORT PROXY_ADDR\n");
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 ||
	    inet_pton(AF_INET, argv[3], &want) != 1) {
		fprintf(stderr, "udpechod: bad address\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig; /* no SA_RESTART: recvfrom returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("udpechod: bind");
		return 1;
	}
	while (!stop) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		ssize_t r = recvfrom(s, buf, sizeof(buf), 0,
				     (struct sockaddr *)&peer, &plen);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("udpechod: recvfrom");
			return 1;
		}
		if (peer.sin_family == AF_INET &&
		    peer.sin_addr.s_addr == want.s_addr) {
			n_proxied++;
		} else {
			n_direct++;
			memcpy(buf, "direct", 6);
			r = 6;
		}
		/* A full socket buffer loses the reply; the client notices. */
		(void)sendto(s, buf, (size_t)r, 0, (struct sockaddr *)&peer,
			     plen);
	}
	fprintf(stderr, "udpechod: %lu proxied, %lu direct\n", n_proxied,
		n_direct);
	return 0;
}
