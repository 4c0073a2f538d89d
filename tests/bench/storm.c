/*
 * storm.c - N TCP connects at once from one event loop (issue 8).
 *
 *   storm [--style epoll|poll] [--socks HOST:PORT] [--timeout S] ADDR PORT N
 *
 * Makes N non-blocking sockets, then starts all N connects to ADDR:PORT
 * before it waits for any, and drives them all in one event loop: one epoll
 * set (--style epoll, the default) or one poll array (--style poll).  Each
 * connection waits until writable, reads SO_ERROR, sends "ping\n" and reads
 * the one-line answer, which must be "proxied\n" (echod: the connection
 * came from the proxy's external address; anything else means it went
 * direct).  This is what an event loop does, so under an LD_PRELOAD shim
 * it shows whether connect() on a non-blocking socket returns at once or
 * holds the loop for a whole SOCKS5 handshake.
 *
 * --socks HOST:PORT makes storm a native SOCKS5 client, the reference: the
 * connects go to the proxy, and each connection does its own SOCKS5
 * handshake (no authentication, CONNECT ADDR:PORT) without blocking, in
 * the same loop, before the ping.
 *
 * Prints the wall time in milliseconds from the first connect() to the
 * last answer.  Exits 1 on any failure (a connect, a handshake, a wrong or
 * missing answer, the --timeout, default 120 s, passing), naming the
 * connection and the step; 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum phase { CONNECTING, GREETING, REQUEST, PING, DONE };
static const char *const phase_name[] = {"connect", "SOCKS5 greeting",
					 "SOCKS5 request", "ping", "done"};

struct conn {
	int fd;
	enum phase ph;
	unsigned char out[32];
	size_t outlen, outoff;
	unsigned char in[300];
	size_t inlen, want;
};

static struct conn *conns;
static long nconn;
static int use_socks;
static struct sockaddr_storage target, proxy;
static socklen_t target_len, proxy_len;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int fail(long i, const char *what, const char *why)
{
	fprintf(stderr, "storm: #%ld %s: %s\n", i, what, why);
	return -1;
}

static int parse_addr(const char *host, const char *port,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *ai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Starts phase ph of c: what to send, how much of an answer to read. */
static void start(struct conn *c, enum phase ph)
{
	unsigned char *o = c->out;

	c->ph = ph;
	c->outoff = 0;
	c->inlen = 0;
	switch (ph) {
	case GREETING: /* version 5, one method: no authentication */
		memcpy(o, "\x05\x01\x00", 3);
		c->outlen = 3;
		c->want = 2;
		break;
	case REQUEST: /* CONNECT to the target */
		o[0] = 5;
		o[1] = 1;
		o[2] = 0;
		if (target.ss_family == AF_INET) {
			const struct sockaddr_in *a =
			    (const struct sockaddr_in *)&target;

			o[3] = 1;
			memcpy(o + 4, &a->sin_addr, 4);
			memcpy(o + 8, &a->sin_port, 2);
			c->outlen = 10;
		} else {
			const struct sockaddr_in6 *a =
			    (const struct sockaddr_in6 *)&target;

			o[3] = 4;
			memcpy(o + 4, &a->sin6_addr, 16);
			memcpy(o + 20, &a->sin6_port, 2);
			c->outlen = 22;
		}
		c->want = 5; /* then the rest, once the address type is known */
		break;
	case PING:
		memcpy(o, "ping\n", 5);
		c->outlen = 5;
		c->want = sizeof(c->in) - 1;
		break;
	default:
		c->outlen = 0;
		c->want = 0;
	}
}

/* What c waits for: to write (the connect, or something to send) or to
 * read. */
static int wants_out(const struct conn *c)
{
	return c->ph == CONNECTING || c->outoff < c->outlen;
}

/* Whether the answer read so far completes the phase: 1 yes, 0 not yet,
 * -1 a bad answer (reported). */
static int answered(struct conn *c, long i)
{
	const unsigned char *in = c->in;

	switch (c->ph) {
	case GREETING:
		if (c->inlen < 2)
			return 0;
		if (in[0] != 5 || in[1] != 0)
			return fail(i, "SOCKS5 greeting", "method refused");
		return 1;
	case REQUEST:
		if (c->inlen < 5)
			return 0;
		if (in[0] != 5 || in[1] != 0) {
			char why[32];

			snprintf(why, sizeof(why), "reply code %u", in[1]);
			return fail(i, "SOCKS5 request", why);
		}
		if (c->want == 5) {
			switch (in[3]) {
			case 1:
				c->want = 10;
				break;
			case 4:
				c->want = 22;
				break;
			case 3:
				c->want = 7 + (size_t)in[4];
				break;
			default:
				return fail(i, "SOCKS5 request",
					    "bad address type");
			}
		}
		return c->inlen >= c->want;
	case PING:
		if (!memchr(in, '\n', c->inlen))
			return c->inlen < c->want ? 0
						  : fail(i, "ping", "no line");
		if (c->inlen != 8 || memcmp(in, "proxied\n", 8) != 0) {
			char why[96];

			snprintf(why, sizeof(why),
				 "answer '%.*s' (want 'proxied')",
				 (int)strcspn((const char *)in, "\n"), in);
			return fail(i, "ping", why);
		}
		return 1;
	default:
		return 0;
	}
}

/* Moves connection i on after a readiness event: 0 more to do, 1 done,
 * -1 failed. */
static int step(long i)
{
	struct conn *c = &conns[i];
	int r;

	if (c->ph == CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			return fail(i, "getsockopt(SO_ERROR)", strerror(errno));
		if (err == EINPROGRESS || err == EALREADY)
			return 0;
		if (err)
			return fail(i, "connect", strerror(err));
		start(c, use_socks ? GREETING : PING);
	}
	for (;;) {
		ssize_t n;

		if (c->outoff < c->outlen) {
			n = send(c->fd, c->out + c->outoff,
				 c->outlen - c->outoff, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n < 0)
				return fail(i, phase_name[c->ph],
					    strerror(errno));
			c->outoff += (size_t)n;
			continue;
		}
		n = recv(c->fd, c->in + c->inlen, c->want - c->inlen, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0)
			return fail(i, phase_name[c->ph], strerror(errno));
		if (n == 0)
			return fail(i, phase_name[c->ph], "end of file");
		c->inlen += (size_t)n;
		c->in[c->inlen] = '\0';
		r = answered(c, i);
		if (r <= 0)
			return r;
		if (c->ph == PING) {
			close(c->fd);
			c->fd = -1;
			c->ph = DONE;
			return 1;
		}
		start(c, c->ph == GREETING ? REQUEST : PING);
	}
}

static int connect_one(long i)
{
	const struct sockaddr *to =
	    (const struct sockaddr *)(use_socks ? &proxy : &target);
	socklen_t len = use_socks ? proxy_len : target_len;

	conns[i].ph = CONNECTING;
	if (connect(conns[i].fd, to, len) < 0 && errno != EINPROGRESS)
		return fail(i, "connect", strerror(errno));
	return 0;
}

static int run_epoll(double deadline)
{
	struct epoll_event ev, evs[64];
	long i, done = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC), n, k;

	if (ep < 0)
		return fail(-1, "epoll_create1", strerror(errno));
	for (i = 0; i < nconn; i++) {
		if (connect_one(i) < 0)
			return -1;
		ev.events = EPOLLOUT;
		ev.data.u64 = (unsigned long)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0)
			return fail(i, "epoll_ctl", strerror(errno));
	}
	while (done < nconn) {
		double left = deadline - now_ms();

		if (left <= 0)
			break;
		n = epoll_wait(ep, evs, 64, (int)left + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(-1, "epoll_wait", strerror(errno));
		for (k = 0; k < n; k++) {
			struct conn *c;
			int out, r;

			i = (long)evs[k].data.u64;
			c = &conns[i];
			out = wants_out(c);
			r = step(i);
			if (r < 0)
				return -1;
			if (r > 0) { /* closed: out of the set already */
				done++;
				continue;
			}
			if (out != wants_out(c)) {
				ev.events = wants_out(c) ? EPOLLOUT : EPOLLIN;
				ev.data.u64 = (unsigned long)i;
				if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) <
				    0)
					return fail(i, "epoll_ctl",
						    strerror(errno));
			}
		}
	}
	close(ep);
	return (int)(nconn - done);
}

static int run_poll(double deadline)
{
	struct pollfd *p = calloc((size_t)nconn, sizeof(*p));
	long i, done = 0;
	int n;

	if (!p)
		return fail(-1, "calloc", strerror(errno));
	for (i = 0; i < nconn; i++) {
		if (connect_one(i) < 0)
			return -1;
		p[i].fd = conns[i].fd;
		p[i].events = POLLOUT;
	}
	while (done < nconn) {
		double left = deadline - now_ms();

		if (left <= 0)
			break;
		n = poll(p, (nfds_t)nconn, (int)left + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(-1, "poll", strerror(errno));
		for (i = 0; i < nconn && n > 0; i++) {
			int r;

			if (!p[i].revents)
				continue;
			n--;
			r = step(i);
			if (r < 0)
				return -1;
			if (r > 0) {
				p[i].fd = -1; /* poll skips it */
				done++;
				continue;
			}
			p[i].events = wants_out(&conns[i]) ? POLLOUT : POLLIN;
		}
	}
	free(p);
	return (int)(nconn - done);
}

static int usage(void)
{
	fprintf(stderr, "usage: storm [--style epoll|poll] [--socks HOST:PORT] "
			"[--timeout S] ADDR PORT N\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *style = "epoll";
	double timeout_s = 120, t0, t1;
	int ai = 1, left;
	long i;

	while (ai < argc && strncmp(argv[ai], "--", 2) == 0) {
		if (ai + 1 >= argc)
			return usage();
		if (strcmp(argv[ai], "--style") == 0) {
			style = argv[ai + 1];
		} else if (strcmp(argv[ai], "--timeout") == 0) {
			timeout_s = atof(argv[ai + 1]);
		} else if (strcmp(argv[ai], "--socks") == 0) {
			char host[64];
			const char *colon = strrchr(argv[ai + 1], ':');
			size_t hl = colon ? (size_t)(colon - argv[ai + 1]) : 0;

			if (!colon || hl == 0 || hl >= sizeof(host))
				return usage();
			memcpy(host, argv[ai + 1], hl);
			host[hl] = '\0';
			if (host[0] == '[' && host[hl - 1] == ']') {
				memmove(host, host + 1, hl - 2);
				host[hl - 2] = '\0';
			}
			if (parse_addr(host, colon + 1, &proxy, &proxy_len) <
			    0) {
				fprintf(stderr, "storm: bad proxy %s\n",
					argv[ai + 1]);
				return 2;
			}
			use_socks = 1;
		} else {
			return usage();
		}
		ai += 2;
	}
	if (argc - ai != 3 ||
	    (strcmp(style, "epoll") != 0 && strcmp(style, "poll") != 0))
		return usage();
	if (parse_addr(argv[ai], argv[ai + 1], &target, &target_len) < 0) {
		fprintf(stderr, "storm: bad target %s:%s\n", argv[ai],
			argv[ai + 1]);
		return 2;
	}
	nconn = atol(argv[ai + 2]);
	if (nconn < 1 || nconn > 100000 || timeout_s <= 0)
		return usage();
	conns = calloc((size_t)nconn, sizeof(*conns));
	if (!conns) {
		perror("storm: calloc");
		return 1;
	}
	/* The sockets first: the clock starts at the first connect(). */
	for (i = 0; i < nconn; i++) {
		int fam = use_socks ? proxy.ss_family : target.ss_family;

		conns[i].fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (conns[i].fd < 0) {
			fail(i, "socket", strerror(errno));
			return 1;
		}
	}
	t0 = now_ms();
	left = strcmp(style, "epoll") == 0 ? run_epoll(t0 + timeout_s * 1e3)
					   : run_poll(t0 + timeout_s * 1e3);
	t1 = now_ms();
	if (left < 0)
		return 1;
	if (left > 0) {
		for (i = 0; i < nconn; i++)
			if (conns[i].ph != DONE)
				break;
		fprintf(stderr,
			"storm: timed out after %.0f s: %d of %ld not done "
			"(#%ld at %s)\n",
			timeout_s, left, nconn, i, phase_name[conns[i].ph]);
		return 1;
	}
	printf("%.1f\n", t1 - t0);
	return 0;
}
