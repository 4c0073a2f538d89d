/*
 * udpready.c - readiness on a proxied UDP socket is honest: whenever
 * select/poll/epoll says readable, a blocking receive returns a datagram
 * at once, and datagrams the shim would drop never wake the program.  Run
 * under the shim against the fake server's hostile relays
 * (tests/fake/fake_socks5.py udp_garbage, udp_ctlbyte) on 127.0.0.1:1080,
 * sending to 203.0.113.10:7:
 *
 *   udpready relay select|poll|epoll
 *        a fresh socket (all its traffic through the relay): the relay's
 *        garbage and the spoofed datagrams never make it readable; the one
 *        wake-up is the real answer, from 203.0.113.10:7
 *   udpready mixed select|poll|epoll
 *        a socket that also talks to direct peers (bound before its first
 *        send, and a datagram to a loopback peer): a direct peer's
 *        datagram comes in as it is; the relay's garbage and a spoof from
 *        127.0.0.2 (which the config sends to the proxy) never wake it
 *   udpready ctlbyte
 *        a byte on the control connection: a blocking recvfrom returns the
 *        real datagram, not an empty one from nowhere
 *
 * One "ok:"/"FAIL:" line per fact (fact.h); exit status 1 on any FAIL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fact.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits up to ms for fd to be readable, the way mode says. 1, 0, -1. */
static int wait_readable(const char *mode, int fd, int ms)
{
	if (!strcmp(mode, "select")) {
		fd_set r;
		struct timeval tv = {.tv_sec = ms / 1000,
				     .tv_usec = (ms % 1000) * 1000};

		FD_ZERO(&r);
		FD_SET(fd, &r);
		return select(fd + 1, &r, NULL, NULL, &tv);
	}
	if (!strcmp(mode, "poll")) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		return poll(&p, 1, ms);
	} else {
		static int ep = -1;
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, out;

		if (ep < 0) {
			ep = epoll_create1(EPOLL_CLOEXEC);
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		}
		return epoll_wait(ep, &out, 1, ms);
	}
}

static void run(const char *kind, const char *mode)
{
	struct sockaddr_in dst, from, self;
	socklen_t fl, sl = sizeof(self);
	struct timeval guard = {.tv_sec = 3};
	char buf[256];
	int s = socket(AF_INET, SOCK_DGRAM, 0), mixed = !strcmp(kind, "mixed");
	int wakes = 0, real = 0, direct = 0, stalls = 0, spoof = 0, other = 0;
	long deadline, t0;
	ssize_t n;

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons(7);
	inet_pton(AF_INET, "203.0.113.10", &dst.sin_addr);
	/* A guard: a blocking receive that hangs is a failure, not a hang. */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
	if (mixed) {
		memset(&self, 0, sizeof(self));
		self.sin_family = AF_INET;
		bind(s, (struct sockaddr *)&self, sizeof(self));
	}
	if (sendto(s, "ping", 4, 0, (struct sockaddr *)&dst, sizeof(dst)) !=
	    4) {
		fact(0, "%s: sendto through the relay (%s)", mode,
		     strerror(errno));
		return;
	}
	if (mixed) {
		/* A direct (loopback) peer talks to us too. */
		int peer = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in lo = {.sin_family = AF_INET};

		inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
		getsockname(s, (struct sockaddr *)&self, &sl);
		self.sin_addr = lo.sin_addr;
		bind(peer, (struct sockaddr *)&lo, sizeof(lo));
		getsockname(peer, (struct sockaddr *)&lo, &sl);
		sendto(s, "hi", 2, 0, (struct sockaddr *)&lo, sizeof(lo));
		sendto(peer, "DIRECT", 6, 0, (struct sockaddr *)&self,
		       sizeof(self));
		close(peer);
	}
	deadline = now_ms() + 2500;
	while (!real && now_ms() < deadline) {
		if (wait_readable(mode, s, 200) <= 0)
			continue;
		wakes++;
		t0 = now_ms();
		fl = sizeof(from);
		n = recvfrom(s, buf, sizeof(buf) - 1, 0,
			     (struct sockaddr *)&from, &fl);
		if (now_ms() - t0 > 100 || n < 0) {
			stalls++;
			continue;
		}
		buf[n] = '\0';
		if (n == 4 && !memcmp(buf, "REAL", 4) &&
		    from.sin_addr.s_addr == dst.sin_addr.s_addr &&
		    from.sin_port == dst.sin_port)
			real++;
		else if (n == 6 && !memcmp(buf, "DIRECT", 6))
			direct++;
		else if (n > 7 && !memcmp(buf + n - 7, "SPOOFED", 7))
			spoof++;
		else
			other++;
	}
	fact(real == 1, "%s %s: the real answer arrives, from %s:7", kind, mode,
	     "203.0.113.10");
	fact(stalls == 0,
	     "%s %s: every time it said readable a receive returned at once "
	     "(%d stalls)",
	     kind, mode, stalls);
	fact(other == 0, "%s %s: no garbage delivered (%d)", kind, mode, other);
	if (!mixed) {
		fact(wakes == 1 && spoof == 0,
		     "relay %s: the only wake-up is the real answer (%d "
		     "wake-ups, %d spoofed)",
		     mode, wakes, spoof);
	} else {
		/* The spoof from 127.0.0.1 comes from a direct peer's address:
		 * delivered as it is, as without the shim; 127.0.0.2's is
		 * refused by the config's rule. */
		fact(direct == 1,
		     "mixed %s: the direct peer's datagram comes in", mode);
		fact(spoof == 1 && wakes == 3,
		     "mixed %s: only loopback's spoof, not 127.0.0.2's (%d "
		     "wake-ups, %d spoofed)",
		     mode, wakes, spoof);
	}
	close(s);
}

static void ctlbyte(void)
{
	struct sockaddr_in dst, from;
	socklen_t fl = sizeof(from);
	struct timeval guard = {.tv_sec = 3};
	char buf[64];
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons(7);
	inet_pton(AF_INET, "203.0.113.10", &dst.sin_addr);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
	sendto(s, "ping", 4, 0, (struct sockaddr *)&dst, sizeof(dst));
	memset(&from, 0, sizeof(from));
	n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	fact(n == 4 && !memcmp(buf, "REAL", 4),
	     "after a stray byte on the control connection, recvfrom returns "
	     "the real datagram (%zd bytes)",
	     n);
	fact(from.sin_family == AF_INET && from.sin_port == htons(7),
	     "from the real peer (family %d, port %d)", from.sin_family,
	     ntohs(from.sin_port));
	close(s);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "ctlbyte"))
		ctlbyte();
	else if (argc == 3 &&
		 (!strcmp(argv[1], "relay") || !strcmp(argv[1], "mixed")))
		run(argv[1], argv[2]);
	else {
		fprintf(stderr, "usage: udpready relay|mixed select|poll|epoll "
				"| ctlbyte\n");
		return 2;
	}
	return fact_failures ? 1 : 0;
}
