/*
 * echod.c - the benchmark's target server.
 *
 *   echod BIND_ADDR PORT PROXY_ADDR [http]
 *
 * Single-threaded, poll-driven.  For each connection: read one line, answer
 * "proxied\n" if the peer's address is PROXY_ADDR (the proxy's external
 * address) and "direct\n" otherwise, then close.  With "http", read a
 * request's head (up to its empty line) instead and answer it with an
 * HTTP/1.0 200 whose body is that same line.  On SIGTERM/SIGINT prints
 * "echod: N proxied, M direct" on stderr and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC   256
#define MAXREQ 2048

static char req[MAXC + 1][MAXREQ];
static size_t reqlen[MAXC + 1];

/* The end of what a connection sends before its answer: a line, or an
 * HTTP request's head. */
static int complete(const char *b, size_t n, int http)
{
	if (!http)
		return memchr(b, '\n', n) != NULL;
	return memmem(b, n, "\r\n\r\n", 4) != NULL ||
	       memmem(b, n, "\n\n", 2) != NULL;
}

static void answer(int fd, int proxied, int http)
{
	const char *body = proxied ? "proxied\n" : "direct\n";
	char rep[256];
	int n;

	if (http)
		n = snprintf(rep, sizeof(rep),
			     "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n"
			     "\r\n%s",
			     strlen(body), body);
	else
		n = snprintf(rep, sizeof(rep), "%s", body);
	if (write(fd, rep, (size_t)n) < 0) {
		/* the client went away: nothing to do */
	}
}

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct pollfd p[MAXC + 1];
	int proxied[MAXC + 1];
	struct sockaddr_in a;
	struct in_addr want;
	struct sigaction sa;
	unsigned long n_proxied = 0, n_direct = 0;
	int ls, one = 1, nc = 0, i, http;

	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "http") == 0)) {
		fprintf(stderr,
			"usage: echod BIND_ADDR PORT PROXY_ADDR [http]\n");
		return 2;
	}
	http = argc == 5;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 ||
	    inet_pton(AF_INET, argv[3], &want) != 1) {
		fprintf(stderr, "echod: bad address\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(ls, 512) < 0) {
		perror("echod: listen");
		return 1;
	}
	p[0].fd = ls;
	p[0].events = POLLIN;
	while (!stop) {
		if (poll(p, (nfds_t)nc + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("echod: poll");
			return 1;
		}
		for (i = 1; i <= nc; i++) {
			ssize_t r;

			if (!p[i].revents)
				continue;
			r = read(p[i].fd, req[i] + reqlen[i],
				 MAXREQ - reqlen[i]);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r > 0) {
				reqlen[i] += (size_t)r;
				if (!complete(req[i], reqlen[i], http)) {
					if (reqlen[i] < MAXREQ)
						continue; /* wait for more */
				} else {
					answer(p[i].fd, proxied[i], http);
					if (proxied[i])
						n_proxied++;
					else
						n_direct++;
				}
			}
			close(p[i].fd);
			p[i] = p[nc];
			proxied[i] = proxied[nc];
			if (i != nc)
				memcpy(req[i], req[nc], reqlen[nc]);
			reqlen[i] = reqlen[nc];
			nc--;
			i--;
		}
		if (p[0].revents & POLLIN) {
			for (;;) {
				struct sockaddr_in peer;
				socklen_t plen = sizeof(peer);
				int c;

				if (nc == MAXC)
					break;
				c = accept4(ls, (struct sockaddr *)&peer, &plen,
					    SOCK_NONBLOCK);
				if (c < 0)
					break;
				nc++;
				p[nc].fd = c;
				p[nc].events = POLLIN;
				p[nc].revents = 0;
				reqlen[nc] = 0;
				proxied[nc] =
				    peer.sin_family == AF_INET &&
				    peer.sin_addr.s_addr == want.s_addr;
			}
		}
	}
	fprintf(stderr, "echod: %lu proxied, %lu direct\n", n_proxied,
		n_direct);
	return 0;
}
