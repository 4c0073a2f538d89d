/* staticprobe - a statically linked (gcc -static) program for the
 * supervisor's lab (tests/lab/static.sh): no dynamic loader, so
 * LD_PRELOAD never reaches it, and what it sees of its sockets is what the
 * kernel, or a seccomp supervisor, makes of them.
 *
 *   staticprobe block ADDR PORT [LPORT]   blocking connect (bound to local
 *                                         port LPORT first if given), the
 *                                         socket's identity, 100000-byte echo
 *   staticprobe nonblock lt|et ADDR PORT  non-blocking connect with an epoll
 *                                         registration (level- or edge-
 *                                         triggered) made before connect()
 *   staticprobe refused ADDR PORT         connect to a closed port, blocking
 *                                         and non-blocking
 *   staticprobe loopback                  connects to its own listeners on
 *                                         127.0.0.1 and ::1 (direct)
 *   staticprobe udp ADDR PORT             sendto, sendmsg with an address,
 *                                         connect + send: echo or errno
 *   staticprobe dns NAME PORT             an A query over a connected UDP
 *                                         socket to resolv.conf's first
 *                                         nameserver (as Go's resolver does),
 *                                         then connect + echo to the answer
 *   staticprobe dnstcp NAME PORT          the same query over TCP
 *   staticprobe signals ADDR PORT         5 blocking connects + echoes under
 *                                         SIGALRM every 1 ms (SA_RESTART)
 *   staticprobe threads N ADDR PORT       N threads connect at once, echo
 *   staticprobe try ADDR PORT             one non-blocking connect, 3 s:
 *                                         0, an errno or "timeout"
 *   staticprobe killgap ADDR PORT READY GO
 *                                         connect + echo, write READY (our
 *                                         pid), wait for the file GO, then
 *                                         a TCP connect, a DNS connect and a
 *                                         UDP sendto: what each gives
 *   staticprobe int80 ADDR PORT           (IPv4) TCP connects through int
 *                                         $0x80: socketcall(SYS_CONNECT),
 *                                         connect (362); UDP through
 *                                         socketcall(SYS_SENDTO), sendto,
 *                                         sendmsg, sendmmsg: "0"/"echo"
 *                                         or the errno
 *   staticprobe x32 ADDR PORT             getpid and connect with the x32
 *                                         bit (0x40000000) in the number
 *   staticprobe iouring                   io_uring_setup, 64-bit and i386
 *   staticprobe undumpable ADDR PORT      PR_SET_DUMPABLE 0, then a
 *                                         blocking connect + echo
 *   staticprobe dumpable ADDR PORT        the same without the prctl
 *   staticprobe udprace ADDR PORT N       N UDP sendto()s while another
 *                                         thread flips the address between
 *                                         127.0.0.1 and ADDR:PORT
 *
 * ADDR is an IPv4 or IPv6 literal of an echo server.  stdout gets only
 * facts, "key=value" one per line, that are the same on every run, so a
 * test compares the whole output; timings and details go to stderr.  Exit
 * status: 0 when the mode ran to its end (whatever the facts say), 1 when
 * it stopped early, 2 on usage or setup errors, 3 when the 30 s watchdog
 * fired (a call hung).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../prog/addr.h"

#define PAYLOAD_LEN 100000
#define TIMEOUT_MS  10000
#define WATCHDOG_S  30

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* ---------------------------------------------------------------- output */

static void fact(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fact(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("%s=", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
	va_list ap;

	fputs("staticprobe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *errname(int e)
{
	static __thread char buf[16];
	const char *n = strerrorname_np(e);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watchdog(void *arg)
{
	(void)arg;
	sleep(WATCHDOG_S);
	fact("watchdog", "expired");
	note("watchdog: still running after %d s", WATCHDOG_S);
	_exit(3);
}

/* The watchdog thread, with every signal blocked so that the signal storm
 * goes to the thread that connects. */
static void start_watchdog(void)
{
	sigset_t all, old;
	pthread_t t;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, watchdog, NULL) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---------------------------------------------------------------- addresses
 */

static int parse_addr(const char *s, const char *port, struct addr *a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
	char *end;
	unsigned long p = strtoul(port, &end, 10);

	if (*port == '\0' || *end != '\0' || p > 65535)
		return -1;
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		a->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		a->len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

static int family(const struct addr *a)
{
	return a->ss.ss_family;
}

static const char *family_name(int fam)
{
	return fam == AF_INET ? "AF_INET" : fam == AF_INET6 ? "AF_INET6" : "?";
}

/* getpeername() as a fact value: the address, or the errno's name. */
static const char *peer_str(int fd, char *buf, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(buf, n, "%s", errname(errno));
		return buf;
	}
	return addr_str(&ss, buf, n);
}

static const char *events_str(unsigned ev, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s%s%s", ev & EPOLLIN ? " IN" : "",
		 ev & EPOLLOUT ? " OUT" : "", ev & EPOLLERR ? " ERR" : "",
		 ev & EPOLLHUP ? " HUP" : "", ev & EPOLLRDHUP ? " RDHUP" : "");
	if (buf[0] == '\0')
		snprintf(buf, n, " none");
	memmove(buf, buf + 1, strlen(buf));
	return buf;
}

/* ---------------------------------------------------------------- echo */

static void fill_payload(unsigned char *p, size_t n, unsigned seed)
{
	unsigned x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(x >> 16);
	}
}

/* A blocking round trip of n bytes; 0 when every byte came back. */
static int echo_blocking(int fd, size_t n, unsigned seed)
{
	unsigned char *out = malloc(n), *in = malloc(n);
	size_t sent = 0, got = 0;
	int rc = -1;

	if (!out || !in)
		goto done;
	fill_payload(out, n, seed);
	while (sent < n) {
		ssize_t w =
		    send(fd, out + sent, n - sent > 8192 ? 8192 : n - sent,
			 MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			note("echo: send: %s", errname(errno));
			goto done;
		}
		sent += (size_t)w;
		while (got < sent) {
			ssize_t r = recv(fd, in + got, n - got, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				note("echo: recv: %s after %zu bytes",
				     r ? errname(errno) : "EOF", got);
				goto done;
			}
			got += (size_t)r;
		}
	}
	rc = memcmp(out, in, n) == 0 ? 0 : -1;
	if (rc)
		note("echo: the bytes that came back differ");
done:
	free(out);
	free(in);
	return rc;
}

/* A round trip driven by epoll on a non-blocking socket; every event is
 * drained to EAGAIN, so it works edge-triggered (et) as well. */
static int echo_epoll(int ep, int fd, int et, size_t n, unsigned seed)
{
	unsigned char *out = malloc(n), *in = malloc(n);
	size_t sent = 0, got = 0;
	long deadline = now_ms() + TIMEOUT_MS;
	struct epoll_event ev;
	int rc = -1;

	if (!out || !in)
		goto done;
	fill_payload(out, n, seed);
	ev.events = EPOLLIN | EPOLLOUT | (et ? EPOLLET : 0);
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		goto done;
	while (got < n) {
		struct epoll_event evs[4];
		long left = deadline - now_ms();
		int k, i;

		if (left < 0) {
			note("echo: timed out (sent %zu, got %zu)", sent, got);
			goto done;
		}
		k = epoll_wait(ep, evs, 4, (int)left);
		if (k < 0 && errno != EINTR)
			goto done;
		for (i = 0; i < k; i++) {
			if (evs[i].data.fd != fd)
				continue;
			while ((evs[i].events & EPOLLOUT) && sent < n) {
				ssize_t w = send(fd, out + sent, n - sent,
						 MSG_NOSIGNAL);
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0 && errno == EAGAIN)
					break;
				if (w < 0) {
					note("echo: send: %s", errname(errno));
					goto done;
				}
				sent += (size_t)w;
			}
			while (evs[i].events &
			       (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t r = recv(fd, in + got, n - got, 0);
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0 && errno == EAGAIN)
					break;
				if (r <= 0) {
					note("echo: recv: %s after %zu bytes",
					     r ? errname(errno) : "EOF", got);
					goto done;
				}
				got += (size_t)r;
				if (got == n)
					break;
			}
		}
	}
	rc = memcmp(out, in, n) == 0 ? 0 : -1;
	if (rc)
		note("echo: the bytes that came back differ");
done:
	free(out);
	free(in);
	return rc;
}

/* ---------------------------------------------------------------- identity
 */

struct before {
	int fd;
	struct stat st;
};

static int remember(int fd, struct before *b)
{
	b->fd = fd;
	return fstat(fd, &b->st);
}

/* What the dynamic lab's identity probe checks, as facts: the fd, the open
 * file, its flags and options, the peer and the local side. */
static void identity(int fd, const struct before *b, unsigned lport)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct stat st;
	int val, fl;
	socklen_t vlen;
	char buf[80];

	fact("fd", "%s",
	     fd == b->fd && fcntl(fd, F_GETFD) >= 0 ? "same" : "changed");
	fact("inode", "%s",
	     fstat(fd, &st) == 0 && st.st_ino == b->st.st_ino &&
		     st.st_dev == b->st.st_dev
		 ? "same"
		 : "changed");
	fl = fcntl(fd, F_GETFL);
	fact("nonblock", "%d", fl >= 0 && (fl & O_NONBLOCK) ? 1 : 0);
	val = fcntl(fd, F_GETFD);
	fact("cloexec", "%d", val >= 0 && (val & FD_CLOEXEC) ? 1 : 0);
	val = -1;
	vlen = sizeof(val);
	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &val, &vlen) < 0)
		val = -1;
	fact("nodelay", "%d", val);
	val = -1;
	vlen = sizeof(val);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &vlen);
	fact("so_type", "%s", val == SOCK_STREAM ? "SOCK_STREAM" : "other");
	val = -1;
	vlen = sizeof(val);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &val, &vlen);
	fact("so_error", "%d", val);
	fact("peer", "%s", peer_str(fd, buf, sizeof(buf)));
	memset(&local, 0, sizeof(local));
	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0) {
		fact("sockname", "%s", errname(errno));
	} else {
		fact("sockname", "%s", family_name(local.ss_family));
		note("getsockname: %s", addr_str(&local, buf, sizeof(buf)));
		if (lport)
			fact("sockport", "%s",
			     port_of(&local) == lport ? "bound" : "changed");
	}
}

/* Waits for the first events on fd (bounded); 0 when none came. */
static unsigned first_events(int ep, int fd, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		struct epoll_event evs[4];
		long left = deadline - now_ms();
		int n, i;

		if (left < 0)
			return 0;
		n = epoll_wait(ep, evs, 4, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		for (i = 0; i < n; i++)
			if (evs[i].data.fd == fd)
				return evs[i].events;
	}
}

/* ---------------------------------------------------------------- modes */

static int mode_block(const struct addr *dst, unsigned lport)
{
	struct before b;
	int fd, one = 1, rc;
	long t0;

	fd = socket(family(dst), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		note("socket: %s", errname(errno));
		return 2;
	}
	if (lport) {
		struct addr l;
		char ps[16];

		snprintf(ps, sizeof(ps), "%u", lport);
		if (parse_addr(family(dst) == AF_INET ? "0.0.0.0" : "::", ps,
			       &l) < 0)
			return 2;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&l.ss, l.len) < 0) {
			note("bind to port %u: %s", lport, errname(errno));
			return 2;
		}
	}
	if (remember(fd, &b) < 0)
		return 2;
	t0 = now_ms();
	rc = connect(fd, (const struct sockaddr *)&dst->ss, dst->len);
	fact("connect", "%s", rc == 0 ? "0" : errname(errno));
	note("connect took %ld ms", now_ms() - t0);
	if (rc)
		return 1;
	identity(fd, &b, lport);
	fact("echo", "%s",
	     echo_blocking(fd, PAYLOAD_LEN, 1) == 0 ? "100000" : "failed");
	close(fd);
	return 0;
}

static int mode_nonblock(const struct addr *dst, int et)
{
	struct epoll_event ev;
	struct before b;
	unsigned events;
	int fd, ep, one = 1, rc, err, n;
	char buf[64];
	long t0;

	fd = socket(family(dst), SOCK_STREAM, 0);
	if (fd < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		note("socket setup: %s", errname(errno));
		return 2;
	}
	if (remember(fd, &b) < 0)
		return 2;
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN | EPOLLOUT | (et ? EPOLLET : 0);
	ev.data.fd = fd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		note("epoll: %s", errname(errno));
		return 2;
	}
	/* An unconnected TCP socket is reported (OUT HUP) at once: take that
	 * event now, so that what comes after connect() is a new one (for
	 * edge-triggered, a new edge). */
	n = epoll_wait(ep, &ev, 1, 0);
	note("before connect: %d event(s): %s", n,
	     n > 0 ? events_str(ev.events, buf, sizeof(buf)) : "-");
	t0 = now_ms();
	rc = connect(fd, (const struct sockaddr *)&dst->ss, dst->len);
	err = errno;
	note("connect() = %d%s%s after %ld ms", rc, rc ? " " : "",
	     rc ? errname(err) : "", now_ms() - t0);
	fact("connect", "%s",
	     rc == 0 || err == EINPROGRESS ? "ok" : errname(err));
	if (rc && err != EINPROGRESS)
		return 1;
	events = first_events(ep, fd, TIMEOUT_MS);
	note("first events after connect: %s (%ld ms)",
	     events_str(events, buf, sizeof(buf)), now_ms() - t0);
	fact("epoll", "%s", events_str(events, buf, sizeof(buf)));
	identity(fd, &b, 0);
	fact("echo", "%s",
	     echo_epoll(ep, fd, et, PAYLOAD_LEN, 2) == 0 ? "100000" : "failed");
	close(ep);
	close(fd);
	return 0;
}

/* A non-blocking connect waited for up to timeout_ms: "0", an errno name,
 * or "timeout".  The socket is closed. */
static const char *try_connect(int type, const struct addr *dst, int timeout_ms)
{
	static char res[32];
	struct pollfd p;
	int fd, rc, err = 0;
	socklen_t len = sizeof(err);

	fd = socket(family(dst), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(res, sizeof(res), "socket-%s", errname(errno));
		return res;
	}
	rc = connect(fd, (const struct sockaddr *)&dst->ss, dst->len);
	if (rc == 0) {
		snprintf(res, sizeof(res), "0");
	} else if (errno != EINPROGRESS) {
		snprintf(res, sizeof(res), "%s", errname(errno));
	} else {
		p.fd = fd;
		p.events = POLLOUT;
		do
			rc = poll(&p, 1, timeout_ms);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			snprintf(res, sizeof(res), "timeout");
		} else {
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			snprintf(res, sizeof(res), "%s",
				 err ? errname(err) : "0");
		}
	}
	close(fd);
	return res;
}

static int mode_refused(const struct addr *dst)
{
	char buf[80];
	unsigned events;
	struct epoll_event ev;
	int fd, ep, rc, err;
	socklen_t len = sizeof(err);

	fd = socket(family(dst), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	rc = connect(fd, (const struct sockaddr *)&dst->ss, dst->len);
	fact("connect", "%s", rc == 0 ? "0" : errname(errno));
	fact("peer", "%s", peer_str(fd, buf, sizeof(buf)));
	close(fd);

	fd = socket(family(dst), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.fd = fd;
	if (fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return 2;
	epoll_wait(ep, &ev, 1, 0);
	rc = connect(fd, (const struct sockaddr *)&dst->ss, dst->len);
	if (rc == 0) {
		fact("connect_nb", "0");
	} else if (errno != EINPROGRESS) {
		fact("connect_nb", "%s", errname(errno));
	} else {
		/* The failure arrives as an event, then in SO_ERROR. */
		events = first_events(ep, fd, TIMEOUT_MS);
		note("non-blocking: EINPROGRESS, then events %s",
		     events_str(events, buf, sizeof(buf)));
		err = 0;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		fact("connect_nb", "%s",
		     !events ? "no-event"
		     : err   ? errname(err)
			     : "0");
	}
	fact("peer_nb", "%s", peer_str(fd, buf, sizeof(buf)));
	close(ep);
	close(fd);
	return 0;
}

/* One loopback family: a listener of ours, a blocking and a non-blocking
 * connect to it, each accepted and echoed. */
static void loopback_one(const char *pre, const char *lo)
{
	struct addr l;
	struct sockaddr_storage me, from;
	socklen_t len;
	struct pollfd p;
	char key[32], buf[80];
	int ls, c, a, i, rc;

	if (parse_addr(lo, "0", &l) < 0)
		return;
	ls = socket(family(&l), SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = l.len;
	if (ls < 0 || bind(ls, (struct sockaddr *)&l.ss, l.len) < 0 ||
	    listen(ls, 8) < 0 ||
	    getsockname(ls, (struct sockaddr *)&l.ss, &len) < 0) {
		snprintf(key, sizeof(key), "%s_listen", pre);
		fact(key, "%s", errname(errno));
		return;
	}
	note("%s: listening on %s", pre, addr_str(&l.ss, buf, sizeof(buf)));
	for (i = 0; i < 2; i++) {
		const char *how = i ? "nb" : "block";
		char got[8] = "";

		c = socket(family(&l),
			   SOCK_STREAM | SOCK_CLOEXEC | (i ? SOCK_NONBLOCK : 0),
			   0);
		rc = connect(c, (struct sockaddr *)&l.ss, l.len);
		snprintf(key, sizeof(key), "%s_%s_connect", pre, how);
		if (rc < 0 && errno == EINPROGRESS) {
			p.fd = c;
			p.events = POLLOUT;
			poll(&p, 1, TIMEOUT_MS);
			rc = 0;
		}
		fact(key, "%s", rc == 0 ? "ok" : errname(errno));
		if (rc) {
			close(c);
			continue;
		}
		memset(&me, 0, sizeof(me));
		len = sizeof(me);
		getpeername(c, (struct sockaddr *)&me, &len);
		snprintf(key, sizeof(key), "%s_%s_peer", pre, how);
		fact(key, "%s", same_addr(&me, &l.ss) ? "listener" : "other");
		p.fd = ls;
		p.events = POLLIN;
		a = poll(&p, 1, 5000) == 1 ? accept(ls, NULL, NULL) : -1;
		snprintf(key, sizeof(key), "%s_%s_accept", pre, how);
		if (a < 0) {
			fact(key, "none");
			close(c);
			continue;
		}
		/* The accepted stream's peer is the client's own local side:
		 * it came straight, not through anyone. */
		memset(&me, 0, sizeof(me));
		memset(&from, 0, sizeof(from));
		len = sizeof(me);
		getsockname(c, (struct sockaddr *)&me, &len);
		len = sizeof(from);
		getpeername(a, (struct sockaddr *)&from, &len);
		fact(key, "%s", same_addr(&me, &from) ? "client" : "other");
		fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
		rc = send(c, "ping", 4, MSG_NOSIGNAL) == 4 &&
		     recv(a, got, 4, MSG_WAITALL) == 4 &&
		     send(a, got, 4, MSG_NOSIGNAL) == 4 &&
		     recv(c, got, 4, MSG_WAITALL) == 4 &&
		     memcmp(got, "ping", 4) == 0;
		snprintf(key, sizeof(key), "%s_%s_echo", pre, how);
		fact(key, "%s", rc ? "ok" : "failed");
		close(a);
		close(c);
	}
	close(ls);
}

static int mode_loopback(void)
{
	loopback_one("lo4", "127.0.0.1");
	loopback_one("lo6", "::1");
	return 0;
}

/* Waits up to ms for a datagram on fd that equals msg (from dst when
 * check_from): "echo", "noreply", "other-reply", "other-sender" or an
 * errno name. */
static const char *udp_reply(int fd, const char *msg, const struct addr *dst,
			     int check_from, int ms)
{
	static char res[32];
	struct sockaddr_storage from;
	socklen_t len = sizeof(from);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];
	ssize_t r;

	if (poll(&p, 1, ms) != 1)
		return "noreply";
	memset(&from, 0, sizeof(from));
	r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
	if (r < 0) {
		snprintf(res, sizeof(res), "%s", errname(errno));
		return res;
	}
	if ((size_t)r != strlen(msg) || memcmp(buf, msg, (size_t)r) != 0)
		return "other-reply";
	if (check_from && !same_addr(&from, &dst->ss))
		return "other-sender";
	return "echo";
}

static int mode_udp(const struct addr *dst)
{
	const char *m1 = "staticprobe udp sendto",
		   *m2 = "staticprobe udp sendmsg",
		   *m3 = "staticprobe udp connect";
	struct iovec iov;
	struct msghdr mh;
	int fd;

	fd = socket(family(dst), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	if (sendto(fd, m1, strlen(m1), 0, (const struct sockaddr *)&dst->ss,
		   dst->len) < 0)
		fact("sendto", "%s", errname(errno));
	else
		fact("sendto", "%s", udp_reply(fd, m1, dst, 1, 3000));
	close(fd);

	fd = socket(family(dst), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = (void *)(uintptr_t)m2;
	iov.iov_len = strlen(m2);
	mh.msg_name = (void *)(uintptr_t)&dst->ss;
	mh.msg_namelen = dst->len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (sendmsg(fd, &mh, 0) < 0)
		fact("sendmsg", "%s", errname(errno));
	else
		fact("sendmsg", "%s", udp_reply(fd, m2, dst, 1, 3000));
	close(fd);

	/* Connected, with plain write/read afterwards, as Go's net.Dial("udp")
	 * does. */
	fd = socket(family(dst), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	if (connect(fd, (const struct sockaddr *)&dst->ss, dst->len) < 0)
		fact("connect", "%s", errname(errno));
	else if (write(fd, m3, strlen(m3)) < 0)
		fact("connect", "write-%s", errname(errno));
	else
		fact("connect", "%s", udp_reply(fd, m3, dst, 0, 3000));
	close(fd);
	return 0;
}

/* The first nameserver line of /etc/resolv.conf, port 53. */
static int nameserver(struct addr *ns)
{
	FILE *f = fopen("/etc/resolv.conf", "re");
	char line[256], word[64];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " nameserver %63s", word) == 1 &&
		    parse_addr(word, "53", ns) == 0) {
			fclose(f);
			return 0;
		}
	fclose(f);
	return -1;
}

/* An A query for name (RD set); its length, or -1. */
static int dns_query(const char *name, uint16_t id, unsigned char *q, size_t n)
{
	size_t at = 12;
	const char *p = name;

	if (n < 12 + strlen(name) + 2 + 4)
		return -1;
	memset(q, 0, 12);
	q[0] = (unsigned char)(id >> 8);
	q[1] = (unsigned char)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > 63)
			return -1;
		q[at++] = (unsigned char)l;
		memcpy(q + at, p, l);
		at += l;
		p += l + (dot ? 1 : 0);
	}
	q[at++] = 0;
	q[at++] = 0;
	q[at++] = 1; /* A */
	q[at++] = 0;
	q[at++] = 1; /* IN */
	return (int)at;
}

/* Skips a (possibly compressed) name at *at; -1 if it runs off the end. */
static int skip_name(const unsigned char *m, size_t n, size_t *at)
{
	while (*at < n) {
		unsigned l = m[*at];

		if ((l & 0xc0) == 0xc0) {
			*at += 2;
			return *at <= n ? 0 : -1;
		}
		*at += 1 + l;
		if (l == 0)
			return 0;
	}
	return -1;
}

static const char *rcode_name(unsigned rc)
{
	static const char *const names[] = {"NOERROR",	"FORMERR", "SERVFAIL",
					    "NXDOMAIN", "NOTIMP",  "REFUSED"};
	return rc < 6 ? names[rc] : "other";
}

/* Checks the answer to query q (id, QR, the question echoed) and prints
 * rcode= and answers=; the first A record goes to *a.  0 when one came. */
static int dns_answer(const unsigned char *q, int qlen, const unsigned char *m,
		      size_t n, struct in_addr *a)
{
	size_t at = 12;
	unsigned an, i, found = 0;

	if (n < 12 || m[0] != q[0] || m[1] != q[1] || !(m[2] & 0x80)) {
		fact("rcode", "bad-reply");
		return -1;
	}
	if (n < (size_t)qlen || m[5] != 1 ||
	    memcmp(m + 12, q + 12, (size_t)qlen - 12) != 0) {
		fact("rcode", "bad-question");
		return -1;
	}
	fact("rcode", "%s", rcode_name(m[3] & 0x0f));
	an = (unsigned)m[6] << 8 | m[7];
	at = (size_t)qlen;
	for (i = 0; i < an; i++) {
		unsigned type, rdlen;

		if (skip_name(m, n, &at) < 0 || at + 10 > n)
			break;
		type = (unsigned)m[at] << 8 | m[at + 1];
		rdlen = (unsigned)m[at + 8] << 8 | m[at + 9];
		at += 10;
		if (at + rdlen > n)
			break;
		if (type == 1 && rdlen == 4) {
			if (!found)
				memcpy(a, m + at, 4);
			found++;
		}
		at += rdlen;
	}
	fact("answers", "%u", found);
	return found ? 0 : -1;
}

static int mode_dns(int tcp, const char *name, const char *port)
{
	unsigned char q[300], m[1500];
	struct addr ns, dst;
	struct pollfd p;
	struct in_addr a;
	char buf[80];
	int fd, qlen, rc;
	ssize_t r = -1;
	uint16_t id = (uint16_t)(getpid() * 7919u + 17);

	if (nameserver(&ns) < 0) {
		note("no nameserver in /etc/resolv.conf");
		return 2;
	}
	fact("nameserver", "%s", addr_str(&ns.ss, buf, sizeof(buf)));
	qlen = dns_query(name, id, q, sizeof(q));
	if (qlen < 0)
		return 2;
	fd = socket(family(&ns),
		    (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	rc = connect(fd, (struct sockaddr *)&ns.ss, ns.len);
	fact("dns_connect", "%s", rc == 0 ? "0" : errname(errno));
	if (rc)
		return 1;
	fact("dns_peer", "%s", peer_str(fd, buf, sizeof(buf)));
	if (tcp) {
		unsigned char len2[2] = {(unsigned char)(qlen >> 8),
					 (unsigned char)qlen};
		size_t got = 0, want = 2;

		if (write(fd, len2, 2) != 2 ||
		    write(fd, q, (size_t)qlen) != qlen) {
			fact("dns_send", "%s", errname(errno));
			return 1;
		}
		/* The 2-byte length, then that many bytes. */
		while (got < want) {
			p.fd = fd;
			p.events = POLLIN;
			if (poll(&p, 1, 3000) != 1)
				break;
			r = read(fd, m + got, want - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			if (got == 2 && want == 2) {
				want = 2 + ((size_t)m[0] << 8 | m[1]);
				if (want > sizeof(m))
					break;
			}
		}
		if (got != want || want == 2) {
			fact("rcode", "noreply");
			return 1;
		}
		memmove(m, m + 2, want - 2);
		r = (ssize_t)(want - 2);
	} else {
		if (write(fd, q, (size_t)qlen) != qlen) {
			fact("dns_send", "%s", errname(errno));
			return 1;
		}
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, 3000) != 1) {
			fact("rcode", "noreply");
			return 1;
		}
		r = read(fd, m, sizeof(m));
		if (r <= 0) {
			fact("rcode", "%s", r < 0 ? errname(errno) : "empty");
			return 1;
		}
	}
	close(fd);
	if (dns_answer(q, qlen, m, (size_t)r, &a) < 0)
		return 1;
	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	note("%s A %s", name, buf);
	/* A placeholder from socksify's default range, 127.192.0.0/10. */
	{
		const unsigned char *b = (const unsigned char *)&a;
		if (b[0] == 127 && (b[1] & 0xc0) == 0xc0)
			fact("a", "placeholder");
		else
			fact("a", "%s", buf);
	}
	if (parse_addr(buf, port, &dst) < 0)
		return 2;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = connect(fd, (struct sockaddr *)&dst.ss, dst.len);
	fact("connect", "%s", rc == 0 ? "0" : errname(errno));
	if (rc)
		return 1;
	{
		struct sockaddr_storage pr;
		socklen_t len = sizeof(pr);

		memset(&pr, 0, sizeof(pr));
		getpeername(fd, (struct sockaddr *)&pr, &len);
		fact("peer", "%s",
		     same_addr(&pr, &dst.ss) ? "answer" : "other");
	}
	fact("echo", "%s",
	     echo_blocking(fd, PAYLOAD_LEN, 3) == 0 ? "100000" : "failed");
	close(fd);
	return 0;
}

static atomic_int alarms;

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add(&alarms, 1);
}

static int mode_signals(const struct addr *dst)
{
	struct sigaction sa;
	struct itimerval it = {{0, 1000}, {0, 1000}};
	int i, connected = 0, echoed = 0, peers = 0, in_connect = 0;
	char buf[80], want[80];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0 ||
	    setitimer(ITIMER_REAL, &it, NULL) < 0)
		return 2;
	addr_str(&dst->ss, want, sizeof(want));
	for (i = 0; i < 5; i++) {
		int fd = socket(family(dst), SOCK_STREAM | SOCK_CLOEXEC, 0);
		int before = atomic_load(&alarms);
		long t0 = now_ms();

		if (fd < 0)
			return 2;
		if (connect(fd, (const struct sockaddr *)&dst->ss, dst->len) <
		    0) {
			note("connect %d: %s", i, errname(errno));
			close(fd);
			continue;
		}
		connected++;
		in_connect += atomic_load(&alarms) - before;
		note("connect %d: %ld ms, %d SIGALRM during it", i,
		     now_ms() - t0, atomic_load(&alarms) - before);
		if (strcmp(peer_str(fd, buf, sizeof(buf)), want) == 0)
			peers++;
		if (echo_blocking(fd, PAYLOAD_LEN, 10 + (unsigned)i) == 0)
			echoed++;
		close(fd);
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	note("%d SIGALRM in all, %d during the connects", atomic_load(&alarms),
	     in_connect);
	fact("connects", "%d", connected);
	fact("peers", "%d", peers);
	fact("echoes", "%d", echoed);
	fact("alarms", "%s", atomic_load(&alarms) > 0 ? "delivered" : "none");
	return 0;
}

struct worker {
	pthread_t t;
	const struct addr *dst;
	pthread_barrier_t *go;
	int n, connected, peer_ok, echoed, err;
	long t_connect;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char buf[80], want[80];
	long t0;
	int fd;

	pthread_barrier_wait(w->go);
	fd = socket(family(w->dst), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		w->err = errno;
		return NULL;
	}
	t0 = now_ms();
	if (connect(fd, (const struct sockaddr *)&w->dst->ss, w->dst->len) <
	    0) {
		w->err = errno;
		close(fd);
		return NULL;
	}
	w->t_connect = now_ms() - t0;
	w->connected = 1;
	addr_str(&w->dst->ss, want, sizeof(want));
	w->peer_ok = strcmp(peer_str(fd, buf, sizeof(buf)), want) == 0;
	w->echoed = echo_blocking(fd, 10000, 100 + (unsigned)w->n) == 0;
	close(fd);
	return NULL;
}

static int mode_threads(int n, const struct addr *dst)
{
	struct worker *w = calloc((size_t)n, sizeof(*w));
	pthread_barrier_t go;
	int i, c = 0, p = 0, e = 0, shown = 0;
	long t0, slowest = 0;

	if (!w || pthread_barrier_init(&go, NULL, (unsigned)n + 1))
		return 2;
	for (i = 0; i < n; i++) {
		w[i].dst = dst;
		w[i].go = &go;
		w[i].n = i;
		if (pthread_create(&w[i].t, NULL, worker_main, &w[i])) {
			note("pthread_create %d failed", i);
			return 2;
		}
	}
	t0 = now_ms();
	pthread_barrier_wait(&go);
	for (i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		c += w[i].connected;
		p += w[i].peer_ok;
		e += w[i].echoed;
		if (w[i].t_connect > slowest)
			slowest = w[i].t_connect;
		if (w[i].err && shown++ < 5)
			note("thread %d: %s", i, errname(w[i].err));
	}
	note("%d threads done in %ld ms; slowest connect %ld ms", n,
	     now_ms() - t0, slowest);
	fact("threads", "%d", n);
	fact("connected", "%d", c);
	fact("peers", "%d", p);
	fact("echoed", "%d", e);
	free(w);
	return 0;
}

static int wait_file(const char *path, int ms)
{
	long deadline = now_ms() + ms;

	while (access(path, F_OK) != 0) {
		if (now_ms() > deadline)
			return -1;
		usleep(20000);
	}
	return 0;
}

static int mode_killgap(const struct addr *dst, const char *ready,
			const char *go)
{
	char tmp[4096];
	struct addr ns;
	FILE *f;
	int fd, rc;

	fd = socket(family(dst), SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = connect(fd, (const struct sockaddr *)&dst->ss, dst->len);
	fact("first_connect", "%s", rc == 0 ? "0" : errname(errno));
	if (rc)
		return 1;
	fact("first_echo", "%s",
	     echo_blocking(fd, 10000, 4) == 0 ? "ok" : "failed");
	close(fd);
	snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
	f = fopen(tmp, "we");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
	    rename(tmp, ready) < 0) {
		note("cannot write %s", ready);
		return 2;
	}
	if (wait_file(go, 20000) < 0) {
		fact("go", "timeout");
		return 1;
	}
	fact("second_connect", "%s", try_connect(SOCK_STREAM, dst, 3000));
	if (nameserver(&ns) == 0)
		fact("second_dns", "%s", try_connect(SOCK_DGRAM, &ns, 3000));
	fd = socket(family(dst), SOCK_DGRAM | SOCK_CLOEXEC, 0);
	rc = (int)sendto(fd, "x", 1, 0, (const struct sockaddr *)&dst->ss,
			 dst->len);
	fact("second_sendto", "%s", rc == 1 ? "sent" : errname(errno));
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------- edges
 * The entry points the supervisor's filter refuses by itself, and a
 * program it cannot look at.
 */

/* A system call through int $0x80: the i386 entry point, which a 64-bit
 * process may use too (seccomp sees AUDIT_ARCH_I386).  The arguments are
 * cut to 32 bits, so every pointer must be below 4 GiB (low_page).  The
 * kernel does not keep r8-r11 across it; the sixth argument goes in ebp,
 * saved around the call (below the red zone, which the compiler may use). */
static long int80(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r12 __asm__("r12") = f;
	long ret;

	__asm__ volatile("sub $128, %%rsp\n\t"
			 "push %%rbp\n\t"
			 "mov %%r12d, %%ebp\n\t"
			 "int $0x80\n\t"
			 "pop %%rbp\n\t"
			 "add $128, %%rsp"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e),
			   "r"(r12)
			 : "r8", "r9", "r10", "r11", "memory", "cc");
	return ret;
}

/* A page below 2 GiB (MAP_32BIT), for int80's pointers. */
static unsigned char *low_page(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	if (p == MAP_FAILED || (uintptr_t)p > 0xffffffffu) {
		note("mmap MAP_32BIT: %s", errname(errno));
		return NULL;
	}
	memset(p, 0, 4096);
	return p;
}

static uint32_t lo32(const void *p)
{
	return (uint32_t)(uintptr_t)p;
}

/* What a raw connect's return gives on non-blocking socket fd: "0", an
 * errno name, or (EINPROGRESS) what 3 s of waiting give, as
 * try_connect.  fd is closed. */
static const char *raw_connect_result(int fd, long r)
{
	static char res[32];
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int err = 0;
	socklen_t len = sizeof(err);

	if (r == 0) {
		snprintf(res, sizeof(res), "0");
	} else if (r != -EINPROGRESS) {
		snprintf(res, sizeof(res), "%s",
			 r < 0 && r > -4096 ? errname((int)-r) : "bad-return");
	} else {
		int k;

		do
			k = poll(&p, 1, 3000);
		while (k < 0 && errno == EINTR);
		if (k == 0) {
			snprintf(res, sizeof(res), "timeout");
		} else {
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			snprintf(res, sizeof(res), "%s",
				 err ? errname(err) : "0");
		}
	}
	close(fd);
	return res;
}

/* What a raw send's return gives on UDP socket fd: the echo's fate
 * (udp_reply) when it was sent, else the errno name.  fd is closed. */
static const char *raw_send_result(int fd, long r, long want, const char *msg,
				   const struct addr *dst)
{
	static char res[32];

	if (r == want)
		snprintf(res, sizeof(res), "%s",
			 udp_reply(fd, msg, dst, 1, 3000));
	else if (r < 0 && r > -4096)
		snprintf(res, sizeof(res), "%s", errname((int)-r));
	else
		snprintf(res, sizeof(res), "returned-%ld", r);
	close(fd);
	return res;
}

/* The i386 ABI's struct msghdr and struct mmsghdr (compat_*). */
struct msghdr32 {
	uint32_t name;
	int32_t namelen;
	uint32_t iov, iovlen, control, controllen, flags;
};
struct iovec32 {
	uint32_t base, len;
};
struct mmsghdr32 {
	struct msghdr32 hdr;
	uint32_t len;
};

/*
 * int80 ADDR PORT (IPv4): sockets made through the 64-bit call, then a
 * TCP connect through socketcall(SYS_CONNECT) and the i386 connect (362),
 * and a UDP datagram through socketcall(SYS_SENDTO), sendto (369),
 * sendmsg (370) and sendmmsg (345): what each gives ("0" connected,
 * "echo" echoed, or an errno name).
 */
static int mode_int80(const struct addr *dst)
{
	static const char *const msgs[] = {
	    "staticprobe int80 socketcall_sendto", "staticprobe int80 sendto",
	    "staticprobe int80 sendmsg", "staticprobe int80 sendmmsg"};
	unsigned char *pg = low_page();
	struct sockaddr_in *sa;
	uint32_t *args;
	struct msghdr32 *mh;
	struct iovec32 *iov;
	struct mmsghdr32 *mm;
	char *buf;
	int fd, i;
	long r;

	if (!pg || family(dst) != AF_INET)
		return 2;
	sa = (struct sockaddr_in *)pg;
	memcpy(sa, &dst->ss, sizeof(*sa));
	args = (uint32_t *)(pg + 64);
	mh = (struct msghdr32 *)(pg + 128);
	iov = (struct iovec32 *)(pg + 192);
	mm = (struct mmsghdr32 *)(pg + 256);
	buf = (char *)(pg + 512);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	args[0] = (uint32_t)fd;
	args[1] = lo32(sa);
	args[2] = sizeof(*sa);
	r = int80(102 /* socketcall */, 3 /* SYS_CONNECT */, lo32(args), 0, 0,
		  0, 0);
	fact("socketcall_connect", "%s", raw_connect_result(fd, r));

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	r = int80(362 /* connect */, fd, lo32(sa), sizeof(*sa), 0, 0, 0);
	fact("connect", "%s", raw_connect_result(fd, r));

	for (i = 0; i < 4; i++) {
		size_t n = strlen(msgs[i]);
		long want = i == 3 ? 1 : (long)n; /* sendmmsg: messages */

		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 2;
		memcpy(buf, msgs[i], n);
		iov->base = lo32(buf);
		iov->len = (uint32_t)n;
		memset(mh, 0, sizeof(*mh));
		mh->name = lo32(sa);
		mh->namelen = sizeof(*sa);
		mh->iov = lo32(iov);
		mh->iovlen = 1;
		memset(mm, 0, sizeof(*mm));
		mm->hdr = *mh;
		switch (i) {
		case 0:
			args[0] = (uint32_t)fd;
			args[1] = lo32(buf);
			args[2] = (uint32_t)n;
			args[3] = 0;
			args[4] = lo32(sa);
			args[5] = sizeof(*sa);
			r = int80(102, 11 /* SYS_SENDTO */, lo32(args), 0, 0, 0,
				  0);
			fact("socketcall_sendto", "%s",
			     raw_send_result(fd, r, want, msgs[i], dst));
			break;
		case 1:
			r = int80(369 /* sendto */, fd, lo32(buf), (long)n, 0,
				  lo32(sa), sizeof(*sa));
			fact("sendto", "%s",
			     raw_send_result(fd, r, want, msgs[i], dst));
			break;
		case 2:
			r = int80(370 /* sendmsg */, fd, lo32(mh), 0, 0, 0, 0);
			fact("sendmsg", "%s",
			     raw_send_result(fd, r, want, msgs[i], dst));
			break;
		default:
			r = int80(345 /* sendmmsg */, fd, lo32(mm), 1, 0, 0, 0);
			fact("sendmmsg", "%s",
			     raw_send_result(fd, r, want, msgs[i], dst));
		}
	}
	return 0;
}

#define X32_BIT 0x40000000L

/* x32 ADDR PORT: getpid and a TCP connect with the x32 bit set in the
 * number: "pid" (our pid came back), "0" or an errno name. */
static int mode_x32(const struct addr *dst)
{
	long r;
	int fd;

	errno = 0;
	r = syscall(X32_BIT | SYS_getpid);
	fact("getpid", "%s",
	     r == getpid() ? "pid"
	     : r < 0	   ? errname(errno)
			   : "other");
	fd = socket(family(dst), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	r = syscall(X32_BIT | SYS_connect, fd, &dst->ss, dst->len);
	fact("connect", "%s", raw_connect_result(fd, r < 0 ? -errno : r));
	return 0;
}

/* iouring: io_uring_setup(8, params) through the 64-bit call and through
 * int $0x80 (i386, 425): "fd" (a ring was made) or an errno name. */
static int mode_iouring(void)
{
	unsigned char *pg = low_page();
	long r;

	if (!pg)
		return 2;
	r = syscall(SYS_io_uring_setup, 8, pg);
	fact("io_uring_setup", "%s", r >= 0 ? "fd" : errname(errno));
	if (r >= 0)
		close((int)r);
	memset(pg, 0, 4096);
	r = int80(425 /* io_uring_setup */, 8, lo32(pg), 0, 0, 0, 0);
	fact("int80_io_uring_setup", "%s",
	     r >= 0	 ? "fd"
	     : r > -4096 ? errname((int)-r)
			 : "bad-return");
	if (r >= 0)
		close((int)r);
	return 0;
}

/* undumpable|dumpable ADDR PORT: PR_SET_DUMPABLE 0 (or left alone), then
 * a blocking connect and a 10000-byte echo. */
static int mode_dumpable(const struct addr *dst, int undump)
{
	int fd, rc;

	if (undump && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		note("PR_SET_DUMPABLE: %s", errname(errno));
		return 2;
	}
	fact("dumpable", "%d", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	fd = socket(family(dst), SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	rc = connect(fd, (const struct sockaddr *)&dst->ss, dst->len);
	fact("connect", "%s", rc == 0 ? "0" : errname(errno));
	if (rc == 0)
		fact("echo", "%s",
		     echo_blocking(fd, 10000, 5) == 0 ? "ok" : "failed");
	close(fd);
	return 0;
}

/* udprace ADDR PORT N: N sendto()s of one byte whose address buffer
 * another thread flips, all the time, between a receiver of our own on
 * 127.0.0.1 (direct) and ADDR:PORT.  A supervisor that judges the
 * address and then lets the call continue (the kernel reads it again)
 * can be raced: datagrams to ADDR:PORT then leave directly (a capture
 * shows them).  Facts: whether some were sent and some refused. */
static struct sockaddr_in g_race_sa, g_race_lo, g_race_far;
static atomic_int g_race_stop;

static void *race_flip(void *arg)
{
	volatile uint32_t *a = &g_race_sa.sin_addr.s_addr;
	volatile uint16_t *p = &g_race_sa.sin_port;
	volatile int i;

	(void)arg;
	while (!atomic_load(&g_race_stop)) {
		*a = g_race_far.sin_addr.s_addr;
		*p = g_race_far.sin_port;
		for (i = 0; i < 200; i++)
			;
		*a = g_race_lo.sin_addr.s_addr;
		*p = g_race_lo.sin_port;
		for (i = 0; i < 200; i++)
			;
	}
	return NULL;
}

static int mode_udprace(const struct addr *dst, int n)
{
	socklen_t l = sizeof(g_race_lo);
	int r, s, i, sent = 0, refused = 0, other = 0;
	pthread_t t;

	if (family(dst) != AF_INET)
		return 2;
	r = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&g_race_lo, 0, sizeof(g_race_lo));
	g_race_lo.sin_family = AF_INET;
	g_race_lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (r < 0 || s < 0 ||
	    bind(r, (struct sockaddr *)&g_race_lo, sizeof(g_race_lo)) < 0 ||
	    getsockname(r, (struct sockaddr *)&g_race_lo, &l) < 0)
		return 2;
	memcpy(&g_race_far, &dst->ss, sizeof(g_race_far));
	g_race_sa = g_race_lo;
	if (pthread_create(&t, NULL, race_flip, NULL))
		return 2;
	for (i = 0; i < n; i++) {
		if (sendto(s, "x", 1, 0, (struct sockaddr *)&g_race_sa,
			   sizeof(g_race_sa)) == 1)
			sent++;
		else if (errno == EACCES)
			refused++;
		else
			other++;
	}
	atomic_store(&g_race_stop, 1);
	pthread_join(t, NULL);
	note("udprace: %d sent, %d EACCES, %d other errors", sent, refused,
	     other);
	fact("sent", "%s", sent ? "some" : "none");
	fact("eacces", "%s", refused ? "some" : "none");
	close(r);
	close(s);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: staticprobe block ADDR PORT [LPORT]\n"
		"       staticprobe nonblock lt|et ADDR PORT\n"
		"       staticprobe refused|udp|signals|try ADDR PORT\n"
		"       staticprobe loopback\n"
		"       staticprobe dns|dnstcp NAME PORT\n"
		"       staticprobe threads N ADDR PORT\n"
		"       staticprobe killgap ADDR PORT READYFILE GOFILE\n"
		"       staticprobe int80|x32|undumpable|dumpable ADDR PORT\n"
		"       staticprobe iouring\n"
		"       staticprobe udprace ADDR PORT N\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct addr dst;
	const char *m = argc > 1 ? argv[1] : "";

	signal(SIGPIPE, SIG_IGN);
	start_watchdog();
	if (strcmp(m, "block") == 0 && (argc == 4 || argc == 5)) {
		if (parse_addr(argv[2], argv[3], &dst) < 0)
			usage();
		return mode_block(&dst,
				  argc == 5 ? (unsigned)atoi(argv[4]) : 0);
	}
	if (strcmp(m, "nonblock") == 0 && argc == 5 &&
	    (strcmp(argv[2], "lt") == 0 || strcmp(argv[2], "et") == 0)) {
		if (parse_addr(argv[3], argv[4], &dst) < 0)
			usage();
		return mode_nonblock(&dst, strcmp(argv[2], "et") == 0);
	}
	if (strcmp(m, "loopback") == 0 && argc == 2)
		return mode_loopback();
	if (strcmp(m, "iouring") == 0 && argc == 2)
		return mode_iouring();
	if ((strcmp(m, "dns") == 0 || strcmp(m, "dnstcp") == 0) && argc == 4)
		return mode_dns(strcmp(m, "dnstcp") == 0, argv[2], argv[3]);
	if (strcmp(m, "threads") == 0 && argc == 5) {
		int n = atoi(argv[2]);

		if (n < 1 || n > 1000 || parse_addr(argv[3], argv[4], &dst) < 0)
			usage();
		return mode_threads(n, &dst);
	}
	if (strcmp(m, "udprace") == 0 && argc == 5) {
		int n = atoi(argv[4]);

		if (n < 1 || parse_addr(argv[2], argv[3], &dst) < 0)
			usage();
		return mode_udprace(&dst, n);
	}
	if (strcmp(m, "killgap") == 0 && argc == 6) {
		if (parse_addr(argv[2], argv[3], &dst) < 0)
			usage();
		return mode_killgap(&dst, argv[4], argv[5]);
	}
	if (argc != 4 || parse_addr(argv[2], argv[3], &dst) < 0)
		usage();
	if (strcmp(m, "refused") == 0)
		return mode_refused(&dst);
	if (strcmp(m, "udp") == 0)
		return mode_udp(&dst);
	if (strcmp(m, "signals") == 0)
		return mode_signals(&dst);
	if (strcmp(m, "int80") == 0)
		return mode_int80(&dst);
	if (strcmp(m, "x32") == 0)
		return mode_x32(&dst);
	if (strcmp(m, "undumpable") == 0 || strcmp(m, "dumpable") == 0)
		return mode_dumpable(&dst, m[0] == 'u');
	if (strcmp(m, "try") == 0) {
		fact("try", "%s", try_connect(SOCK_STREAM, &dst, 3000));
		return 0;
	}
	usage();
	return 2;
}
