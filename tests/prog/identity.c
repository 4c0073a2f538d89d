/* identity - checks that connecting through the shim leaves the socket the
 * program holds exactly as the program made it.
 *
 *   identity ADDR PORT             non-blocking socket, registered with epoll
 *                                  before connect()
 *   identity -b LPORT ADDR PORT    blocking socket bound to local port LPORT
 *                                  before connect()
 *
 * ADDR is an IPv4 or IPv6 literal of an echo server.  Prints one line per
 * fact ("ok: ..." or "FAIL: ...") and exits 1 if any fact failed, 2 on usage
 * or setup errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"

#include "fact.h"

#define PAYLOAD_LEN 100000
#define TIMEOUT_MS  10000

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_addr(const char *s, unsigned port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* Waits (bounded) for EVENTS on FD via EP; returns the events seen or 0. */
static unsigned wait_events(int ep, int fd, unsigned events, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct epoll_event evs[4];
		long left = deadline - now_ms();
		int n, i;

		if (left < 0)
			return 0;
		n = epoll_wait(ep, evs, 4, (int)left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		for (i = 0; i < n; i++)
			if (evs[i].data.fd == fd &&
			    (evs[i].events & (events | EPOLLERR | EPOLLHUP)))
				return evs[i].events;
		if (n == 0)
			return 0;
	}
}

static void fill_payload(unsigned char *p, size_t n)
{
	unsigned x = (unsigned)getpid() * 2654435761u;
	size_t i;

	for (i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(x >> 16);
	}
}

/* Echo round trip driven by epoll on a non-blocking socket. */
static int roundtrip_epoll(int ep, int fd, const unsigned char *out,
			   unsigned char *in, size_t n)
{
	size_t sent = 0, got = 0;
	long deadline = now_ms() + TIMEOUT_MS;
	struct epoll_event ev;

	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -1;
	while (got < n) {
		struct epoll_event evs[4];
		long left = deadline - now_ms();
		int k, i;

		if (left < 0) {
			fprintf(stderr,
				"identity: round trip timed out (sent %zu got "
				"%zu)\n",
				sent, got);
			return -1;
		}
		k = epoll_wait(ep, evs, 4, (int)left);
		if (k < 0 && errno != EINTR)
			return -1;
		for (i = 0; i < k; i++) {
			if (evs[i].data.fd != fd)
				continue;
			if ((evs[i].events & EPOLLOUT) && sent < n) {
				ssize_t w = send(fd, out + sent, n - sent,
						 MSG_NOSIGNAL);
				if (w < 0 && errno != EAGAIN && errno != EINTR)
					return -1;
				if (w > 0)
					sent += (size_t)w;
				if (sent == n) {
					ev.events = EPOLLIN;
					if (epoll_ctl(ep, EPOLL_CTL_MOD, fd,
						      &ev) < 0)
						return -1;
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t r = recv(fd, in + got, n - got, 0);
				if (r == 0) {
					fprintf(stderr,
						"identity: early EOF after %zu "
						"bytes\n",
						got);
					return -1;
				}
				if (r < 0 && errno != EAGAIN && errno != EINTR)
					return -1;
				if (r > 0)
					got += (size_t)r;
			}
		}
	}
	return memcmp(out, in, n) == 0 ? 0 : -1;
}

/* Plain blocking echo round trip. */
static int roundtrip_blocking(int fd, const unsigned char *out,
			      unsigned char *in, size_t n)
{
	size_t sent = 0, got = 0;

	while (sent < n) {
		ssize_t w =
		    send(fd, out + sent, n - sent > 8192 ? 8192 : n - sent,
			 MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		sent += (size_t)w;
		/* Keep reading so neither side's buffers fill up. */
		while (got < sent) {
			ssize_t r = recv(fd, in + got, n - got, 0);
			if (r <= 0) {
				if (r < 0 && errno == EINTR)
					continue;
				return -1;
			}
			got += (size_t)r;
		}
	}
	return memcmp(out, in, n) == 0 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: identity [-b LOCALPORT] ADDR PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage target, peer, local, bound;
	socklen_t tlen, plen, llen;
	struct stat st_before, st_after;
	struct epoll_event ev;
	unsigned bind_port = 0, events;
	int blocking = 0, fd, fd_before, ep, one = 1, val, rc, err;
	socklen_t vlen;
	unsigned char *out, *in;
	char buf[INET6_ADDRSTRLEN + 16];
	int ai = 1;

	if (argc == 5 && strcmp(argv[1], "-b") == 0) {
		blocking = 1;
		bind_port = (unsigned)strtoul(argv[2], NULL, 10);
		ai = 3;
	} else if (argc != 3) {
		usage();
	}
	if (parse_addr(argv[ai], (unsigned)strtoul(argv[ai + 1], NULL, 10),
		       &target, &tlen) < 0)
		usage();
	printf("identity: %s socket%s to %s\n",
	       blocking ? "blocking" : "non-blocking",
	       blocking ? ", bound before connect," : ", epoll before connect,",
	       addr_str(&target, buf, sizeof(buf)));

	out = malloc(PAYLOAD_LEN);
	in = malloc(PAYLOAD_LEN);
	if (!out || !in)
		return 2;
	fill_payload(out, PAYLOAD_LEN);

	fd = socket(target.ss_family, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("socket");
		return 2;
	}
	fd_before = fd;
	if (!blocking &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		perror("F_SETFL");
		return 2;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		perror("fcntl/setsockopt");
		return 2;
	}
	if (fstat(fd, &st_before) < 0) {
		perror("fstat");
		return 2;
	}
	if (blocking) {
		memset(&bound, 0, sizeof(bound));
		bound.ss_family = target.ss_family;
		if (bound.ss_family == AF_INET) {
			((struct sockaddr_in *)&bound)->sin_port =
			    htons((unsigned short)bind_port);
			llen = sizeof(struct sockaddr_in);
		} else {
			((struct sockaddr_in6 *)&bound)->sin6_port =
			    htons((unsigned short)bind_port);
			llen = sizeof(struct sockaddr_in6);
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&bound, llen) < 0) {
			perror("bind");
			return 2;
		}
	}

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("epoll_create1");
		return 2;
	}
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		perror("epoll_ctl");
		return 2;
	}

	rc = connect(fd, (struct sockaddr *)&target, tlen);
	err = errno;
	if (blocking) {
		fact(rc == 0, "connect() returned %d%s%s", rc,
		     rc ? ", errno " : "", rc ? strerror(err) : "");
	} else {
		fact(rc == 0 || (rc < 0 && err == EINPROGRESS),
		     "non-blocking connect() returned %d%s%s", rc,
		     rc ? ", errno " : "", rc ? strerror(err) : "");
		if (rc < 0 && err == EINPROGRESS) {
			events = wait_events(ep, fd, EPOLLOUT, TIMEOUT_MS);
			fact((events & EPOLLOUT) != 0,
			     "epoll reported EPOLLOUT for the pending connect "
			     "(events 0x%x)",
			     events);
		}
		val = -1;
		vlen = sizeof(val);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &val, &vlen);
		fact(val == 0, "SO_ERROR after connect is %d (%s)", val,
		     strerror(val));
	}
	if (fact_failures) {
		printf("identity: %d failed\n", fact_failures);
		return 1;
	}

	fact(fcntl(fd, F_GETFD) >= 0 && fd == fd_before,
	     "fd number unchanged (%d) and still open", fd);
	fact(fstat(fd, &st_after) == 0 && st_after.st_ino == st_before.st_ino &&
		 st_after.st_dev == st_before.st_dev,
	     "fd %d still refers to the same socket (inode %lu)", fd,
	     (unsigned long)st_before.st_ino);
	val = fcntl(fd, F_GETFL);
	if (blocking)
		fact(val >= 0 && !(val & O_NONBLOCK), "O_NONBLOCK still clear");
	else
		fact(val >= 0 && (val & O_NONBLOCK), "O_NONBLOCK still set");
	val = fcntl(fd, F_GETFD);
	fact(val >= 0 && (val & FD_CLOEXEC), "FD_CLOEXEC still set");
	val = 0;
	vlen = sizeof(val);
	rc = getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &val, &vlen);
	fact(rc == 0 && val == 1, "TCP_NODELAY still 1 (got %d)", val);
	val = 0;
	vlen = sizeof(val);
	rc = getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &vlen);
	fact(rc == 0 && val == SOCK_STREAM,
	     "SO_TYPE still SOCK_STREAM (got %d)", val);
	memset(&peer, 0, sizeof(peer));
	plen = sizeof(peer);
	rc = getpeername(fd, (struct sockaddr *)&peer, &plen);
	fact(rc == 0 && same_addr(&peer, &target),
	     "getpeername() is the target: %s",
	     rc == 0 ? addr_str(&peer, buf, sizeof(buf)) : strerror(errno));
	memset(&local, 0, sizeof(local));
	llen = sizeof(local);
	rc = getsockname(fd, (struct sockaddr *)&local, &llen);
	if (blocking)
		fact(rc == 0 && port_of(&local) == bind_port,
		     "getsockname() port unchanged: %u (bound %u)",
		     rc == 0 ? port_of(&local) : 0, bind_port);
	else
		fact(rc == 0 && local.ss_family == target.ss_family,
		     "getsockname() works: %s",
		     rc == 0 ? addr_str(&local, buf, sizeof(buf))
			     : strerror(errno));

	events = wait_events(ep, fd, EPOLLOUT, 2000);
	fact((events & EPOLLOUT) && !(events & (EPOLLERR | EPOLLHUP)),
	     "epoll_wait reports EPOLLOUT for the connected socket (events "
	     "0x%x)",
	     events);

	if (blocking)
		rc = roundtrip_blocking(fd, out, in, PAYLOAD_LEN);
	else
		rc = roundtrip_epoll(ep, fd, out, in, PAYLOAD_LEN);
	fact(rc == 0, "echo round trip of %d bytes %s", PAYLOAD_LEN,
	     blocking ? "with blocking send/recv" : "through the epoll loop");

	close(ep);
	close(fd);
	free(out);
	free(in);
	printf("identity: %s (%d failed)\n",
	       fact_failures ? "FAILED" : "all facts hold", fact_failures);
	return fact_failures ? 1 : 0;
}
