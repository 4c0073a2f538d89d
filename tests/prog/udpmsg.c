/* udpmsg - every datagram path of the shim against a UDP echo server.
 *
 *   udpmsg HOST PORT      HOST:PORT (an IPv4 or IPv6 literal; the sockets
 *                         are of its family) echoes every datagram back,
 *                         reachable only through the proxy's UDP relay
 *
 * Checks byte-exact echoes and the senders reported, through:
 *   sendmmsg of 4 datagrams + recvmmsg (MSG_WAITFORONE, SO_RCVTIMEO 5 s);
 *   connect, then write/read, writev/readv (3 iovecs), send/recv, and
 *   recvfrom on the connected socket; getpeername;
 *   recvfrom with MSG_PEEK, then the same datagram again without it;
 *   MSG_TRUNC: recv into 4 bytes with MSG_TRUNC gives the full length, and
 *   recvmsg into a short buffer sets MSG_TRUNC in msg_flags;
 *   a non-blocking receive with nothing queued: -1/EAGAIN (O_NONBLOCK and
 *   MSG_DONTWAIT);
 *   after fork(), the child and then the parent do a round trip on the
 *   same (already associated) socket.
 * Prints "ok: ..." / "FAIL: ..." per fact and "all facts hold" at the end;
 * exits 1 if any failed.
 *
 * Built by the Makefile without _FORTIFY_SOURCE (the plain recv, recvfrom
 * and read); built with -DUDPMSG_FORTIFY -D_FORTIFY_SOURCE=2 -O2 it calls
 * __recv_chk, __recvfrom_chk and __read_chk instead (the buffers are fixed
 * arrays of known size and the lengths passed are not compile-time
 * constants, so the fortified wrappers cannot use the plain call).
 */
#ifndef UDPMSG_FORTIFY
#undef _FORTIFY_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fact.h"

#define NMSG 4

static struct sockaddr_storage dst;
static socklen_t dst_len;
static int fam;
static char dst_text[INET6_ADDRSTRLEN + 8];

/* Always 0; volatile so that buffer lengths are not compile-time
 * constants (the fortified wrappers then call the _chk twins). */
static volatile size_t slack;

#ifdef UDPMSG_FORTIFY
static const char fortified[] = ", fortified";
#else
static const char fortified[] = "";
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A UDP socket of the destination's family with a 5 s receive timeout. */
static int new_sock(void)
{
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(fam, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("setsockopt SO_RCVTIMEO");
		exit(2);
	}
	return fd;
}

/* "ADDR PORT" of a socket address, for messages. */
static const char *addr_text(const struct sockaddr_storage *ss, socklen_t len)
{
	static char out[INET6_ADDRSTRLEN + 16];
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(out, sizeof(out), "%s %u", a, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6 &&
		   len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(out, sizeof(out), "%s %u", a, ntohs(s6->sin6_port));
	} else {
		snprintf(out, sizeof(out), "(family %d, length %u)",
			 ss->ss_family, (unsigned int)len);
	}
	return out;
}

/* 1 when ss (len bytes) is the destination: family, address and port. */
static int is_dst(const struct sockaddr_storage *ss, socklen_t len)
{
	if (ss->ss_family != dst.ss_family)
		return 0;
	if (fam == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		const struct sockaddr_in *b = (const struct sockaddr_in *)&dst;

		return len >= sizeof(*a) && a->sin_port == b->sin_port &&
		       a->sin_addr.s_addr == b->sin_addr.s_addr;
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		const struct sockaddr_in6 *b =
		    (const struct sockaddr_in6 *)&dst;

		return len >= sizeof(*a) && a->sin6_port == b->sin6_port &&
		       memcmp(&a->sin6_addr, &b->sin6_addr,
			      sizeof(a->sin6_addr)) == 0;
	}
}

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131u + seed * 17u + 7u) & 0xff);
}

static const char *err_text(ssize_t r)
{
	static char out[64];

	if (r >= 0)
		snprintf(out, sizeof(out), "%zd", r);
	else
		snprintf(out, sizeof(out), "-1 (%s)", strerror(errno));
	return out;
}

/* ------------------------------------------------------------ sendmmsg */

static void test_mmsg(void)
{
	static const size_t sizes[NMSG] = {1, 77, 600, 1400};
	static unsigned char out[NMSG][1400], in[NMSG][2048];
	struct sockaddr_storage from[NMSG];
	struct mmsghdr v[NMSG];
	struct iovec oiov[NMSG], iiov[NMSG];
	int fd = new_sock(), i, r, got = 0, calls = 0;
	double t0;

	memset(v, 0, sizeof(v));
	for (i = 0; i < NMSG; i++) {
		fill(out[i], sizes[i], (unsigned int)i + 1);
		oiov[i].iov_base = out[i];
		oiov[i].iov_len = sizes[i];
		v[i].msg_hdr.msg_name = &dst;
		v[i].msg_hdr.msg_namelen = dst_len;
		v[i].msg_hdr.msg_iov = &oiov[i];
		v[i].msg_hdr.msg_iovlen = 1;
	}
	r = sendmmsg(fd, v, NMSG, 0);
	fact(r == NMSG,
	     "sendmmsg of %d datagrams (1, 77, 600, 1400 bytes) "
	     "to %s returns %d (got %s)",
	     NMSG, dst_text, NMSG, err_text(r));

	memset(v, 0, sizeof(v));
	memset(from, 0, sizeof(from));
	for (i = 0; i < NMSG; i++) {
		iiov[i].iov_base = in[i];
		iiov[i].iov_len = sizeof(in[i]);
		v[i].msg_hdr.msg_name = &from[i];
		v[i].msg_hdr.msg_namelen = sizeof(from[i]);
		v[i].msg_hdr.msg_iov = &iiov[i];
		v[i].msg_hdr.msg_iovlen = 1;
	}
	/* MSG_WAITFORONE: blocks (up to SO_RCVTIMEO) for the first, then
	 * takes what is queued; so more than one call may be needed. */
	t0 = now();
	while (got < NMSG && calls < 20) {
		double t1 = now();

		calls++;
		r = recvmmsg(fd, v + got, (unsigned int)(NMSG - got),
			     MSG_WAITFORONE, NULL);
		if (r <= 0) {
			fact(0,
			     "recvmmsg(MSG_WAITFORONE) call %d waits for a "
			     "datagram (got %s after %.2f s, %d of %d so far)",
			     calls, err_text(r), now() - t1, got, NMSG);
			break;
		}
		got += r;
	}
	if (got == NMSG)
		fact(1,
		     "recvmmsg(MSG_WAITFORONE) got all %d echoes in %d "
		     "call(s), %.2f s",
		     NMSG, calls, now() - t0);
	for (i = 0; i < got; i++) {
		fact(v[i].msg_len == sizes[i] &&
			 memcmp(in[i], out[i], sizes[i]) == 0,
		     "recvmmsg echo %d: msg_len %zu, byte-exact (msg_len %u)",
		     i, sizes[i], v[i].msg_len);
		fact(is_dst(&from[i], v[i].msg_hdr.msg_namelen),
		     "recvmmsg echo %d: sender is %s (got %s)", i, dst_text,
		     addr_text(&from[i], v[i].msg_hdr.msg_namelen));
	}
	close(fd);
}

/* ----------------------------------------------------- connected socket */

static void test_connected(void)
{
	char buf[256], b1[4], b2[6], b3[64];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *m;
	struct iovec iov[3];
	int fd = new_sock();
	ssize_t r;
	size_t cap = sizeof(buf) - slack;

	r = connect(fd, (const struct sockaddr *)&dst, dst_len);
	fact(r == 0, "connect to %s (got %s)", dst_text, err_text(r));
	fact(getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
		 is_dst(&ss, sl),
	     "getpeername is %s (got %s)", dst_text, addr_text(&ss, sl));

	m = "udpmsg-write-read";
	r = write(fd, m, strlen(m));
	fact(r == (ssize_t)strlen(m), "write %zu bytes (got %s)", strlen(m),
	     err_text(r));
	memset(buf, 0, sizeof(buf));
	r = read(fd, buf, cap);
	fact(r == (ssize_t)strlen(m) && memcmp(buf, m, strlen(m)) == 0,
	     "read gets the echo \"%s\" (got %s: \"%.*s\")", m, err_text(r),
	     r > 0 ? (int)r : 0, buf);

	/* writev of 3 pieces, readv into 3 pieces cut elsewhere. */
	iov[0].iov_base = (void *)(uintptr_t) "vec-one/";
	iov[0].iov_len = 8;
	iov[1].iov_base = (void *)(uintptr_t) "two/";
	iov[1].iov_len = 4;
	iov[2].iov_base = (void *)(uintptr_t) "three-and-more";
	iov[2].iov_len = 14;
	m = "vec-one/two/three-and-more";
	r = writev(fd, iov, 3);
	fact(r == 26, "writev of 3 iovecs (8+4+14 bytes) (got %s)",
	     err_text(r));
	memset(b1, 0, sizeof(b1));
	memset(b2, 0, sizeof(b2));
	memset(b3, 0, sizeof(b3));
	iov[0].iov_base = b1;
	iov[0].iov_len = sizeof(b1);
	iov[1].iov_base = b2;
	iov[1].iov_len = sizeof(b2);
	iov[2].iov_base = b3;
	iov[2].iov_len = sizeof(b3);
	r = readv(fd, iov, 3);
	fact(r == 26 && memcmp(b1, m, 4) == 0 && memcmp(b2, m + 4, 6) == 0 &&
		 memcmp(b3, m + 10, 16) == 0,
	     "readv into 3 iovecs (4+6+64) gets \"%s\" split 4/6/16 (got "
	     "%s: \"%.4s\" \"%.6s\" \"%.16s\")",
	     m, err_text(r), b1, b2, b3);

	m = "udpmsg-send-recv";
	r = send(fd, m, strlen(m), 0);
	fact(r == (ssize_t)strlen(m), "send %zu bytes (got %s)", strlen(m),
	     err_text(r));
	memset(buf, 0, sizeof(buf));
	r = recv(fd, buf, cap, 0);
	fact(r == (ssize_t)strlen(m) && memcmp(buf, m, strlen(m)) == 0,
	     "recv gets the echo \"%s\" (got %s: \"%.*s\")", m, err_text(r),
	     r > 0 ? (int)r : 0, buf);

	m = "udpmsg-connected-recvfrom";
	r = send(fd, m, strlen(m), 0);
	memset(buf, 0, sizeof(buf));
	memset(&ss, 0, sizeof(ss));
	sl = sizeof(ss);
	r = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &sl);
	fact(r == (ssize_t)strlen(m) && memcmp(buf, m, strlen(m)) == 0 &&
		 is_dst(&ss, sl),
	     "recvfrom on the connected socket: \"%s\" from %s (got %s "
	     "from %s)",
	     m, dst_text, err_text(r), addr_text(&ss, sl));
	close(fd);
}

/* --------------------------------------- MSG_PEEK, MSG_TRUNC, EAGAIN */

static void test_flags(void)
{
	char buf[256], buf2[256], small[4];
	unsigned char big[100];
	struct sockaddr_storage ss;
	socklen_t sl;
	struct msghdr mh;
	struct iovec iov;
	const char *m = "udpmsg-peek-then-take";
	int fd = new_sock(), fl;
	ssize_t r, r2;
	size_t cap = sizeof(buf) - slack, cap2 = sizeof(buf2) - slack,
	       capsmall = sizeof(small) - slack;

	r = sendto(fd, m, strlen(m), 0, (const struct sockaddr *)&dst, dst_len);
	fact(r == (ssize_t)strlen(m), "sendto %zu bytes (got %s)", strlen(m),
	     err_text(r));
	memset(buf, 0, sizeof(buf));
	sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	r = recvfrom(fd, buf, cap, MSG_PEEK, (struct sockaddr *)&ss, &sl);
	fact(r == (ssize_t)strlen(m) && memcmp(buf, m, strlen(m)) == 0 &&
		 is_dst(&ss, sl),
	     "recvfrom(MSG_PEEK): \"%s\" from %s (got %s: \"%.*s\" from %s)", m,
	     dst_text, err_text(r), r > 0 ? (int)r : 0, buf,
	     addr_text(&ss, sl));
	memset(buf2, 0, sizeof(buf2));
	sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	r2 = recvfrom(fd, buf2, cap2, 0, (struct sockaddr *)&ss, &sl);
	fact(r2 == r && r2 > 0 && memcmp(buf, buf2, (size_t)r2) == 0 &&
		 is_dst(&ss, sl),
	     "recvfrom after the peek: the same datagram from %s (got %s: "
	     "\"%.*s\" from %s)",
	     dst_text, err_text(r2), r2 > 0 ? (int)r2 : 0, buf2,
	     addr_text(&ss, sl));
	r = recv(fd, buf, cap, MSG_DONTWAIT);
	fact(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
	     "recv(MSG_DONTWAIT) with nothing queued: -1/EAGAIN (got %s)",
	     err_text(r));

	/* MSG_TRUNC as a recv flag: the datagram's full length. */
	fill(big, sizeof(big), 42);
	r = sendto(fd, big, sizeof(big), 0, (const struct sockaddr *)&dst,
		   dst_len);
	memset(small, 0, sizeof(small));
	r = recv(fd, small, capsmall, MSG_TRUNC);
	fact(r == (ssize_t)sizeof(big) && memcmp(small, big, 4) == 0,
	     "recv(MSG_TRUNC) of a 100-byte datagram into 4 bytes returns "
	     "100 and the first 4 bytes (got %s)",
	     err_text(r));

	/* A short buffer without the flag: MSG_TRUNC in msg_flags. */
	r = sendto(fd, big, sizeof(big), 0, (const struct sockaddr *)&dst,
		   dst_len);
	memset(small, 0, sizeof(small));
	memset(&mh, 0, sizeof(mh));
	memset(&ss, 0, sizeof(ss));
	iov.iov_base = small;
	iov.iov_len = sizeof(small);
	mh.msg_name = &ss;
	mh.msg_namelen = sizeof(ss);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	r = recvmsg(fd, &mh, 0);
	fact(r == 4 && (mh.msg_flags & MSG_TRUNC) &&
		 memcmp(small, big, 4) == 0 && is_dst(&ss, mh.msg_namelen),
	     "recvmsg of a 100-byte datagram into 4 bytes: 4, MSG_TRUNC in "
	     "msg_flags, from %s (got %s, msg_flags 0x%x, from %s)",
	     dst_text, err_text(r), (unsigned int)mh.msg_flags,
	     addr_text(&ss, mh.msg_namelen));

	/* O_NONBLOCK on the (associated) socket, nothing queued. */
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	r = recv(fd, buf, cap, 0);
	fact(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
	     "recv on an O_NONBLOCK socket with nothing queued: -1/EAGAIN "
	     "(got %s)",
	     err_text(r));
	sl = sizeof(ss);
	r = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &sl);
	fact(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
	     "recvfrom on an O_NONBLOCK socket with nothing queued: "
	     "-1/EAGAIN (got %s)",
	     err_text(r));
	close(fd);
}

/* ----------------------------------------------------------------- fork */

/* One sendto/recvfrom round trip of m; 1 when echoed from dst. */
static int round_trip(int fd, const char *who, const char *m)
{
	char buf[256];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t cap = sizeof(buf) - slack;
	ssize_t r;
	int ok;

	r = sendto(fd, m, strlen(m), 0, (const struct sockaddr *)&dst, dst_len);
	if (r != (ssize_t)strlen(m)) {
		fact(0, "%s: sendto \"%s\" (got %s)", who, m, err_text(r));
		return 0;
	}
	memset(buf, 0, sizeof(buf));
	memset(&ss, 0, sizeof(ss));
	r = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&ss, &sl);
	ok = r == (ssize_t)strlen(m) && memcmp(buf, m, strlen(m)) == 0 &&
	     is_dst(&ss, sl);
	fact(ok, "%s: \"%s\" echoed from %s (got %s: \"%.*s\" from %s)", who, m,
	     dst_text, err_text(r), r > 0 ? (int)r : 0, buf,
	     addr_text(&ss, sl));
	return ok;
}

/* A program that closes every fd it does not know (a daemon's sweep, a
 * closefrom) must not break the association: the shim keeps its own. */
static void test_closefrom(void)
{
	int fd = new_sock(), i;

	round_trip(fd, "before the close sweep", "udpmsg-before-sweep");
	for (i = 3; i < 1024; i++)
		if (i != fd)
			close(i);
	if (fd + 1 < 1024)
		close_range((unsigned int)fd + 1, ~0U, 0);
	round_trip(fd, "after close() of every other fd and close_range",
		   "udpmsg-after-sweep");
	close(fd);
}

/* A local UDP socket standing for a direct peer (loopback goes direct). */
static int local_peer(struct sockaddr_storage *ss, socklen_t *sl)
{
	struct timeval tv = {.tv_sec = 3};
	int fd = socket(fam, SOCK_DGRAM, 0);

	memset(ss, 0, sizeof(*ss));
	if (fam == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		*sl = sizeof(*s6);
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)ss, *sl) < 0 ||
	    getsockname(fd, (struct sockaddr *)ss, sl) < 0) {
		perror("local peer");
		exit(2);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Batches and peers that must each go their own way: a sendmmsg mixing a
 * direct and a proxied destination; a re-connect from the target to a
 * direct peer. */
static void test_batches(void)
{
	struct sockaddr_storage lp;
	socklen_t ll;
	int peer = local_peer(&lp, &ll), fd = new_sock();
	char a[] = "to-the-direct-peer", b[] = "to-the-target-later";
	struct iovec ia = {.iov_base = a, .iov_len = strlen(a)};
	struct iovec ib = {.iov_base = b, .iov_len = strlen(b)};
	struct mmsghdr v[2];
	char buf[128];
	ssize_t n;

	/* One batch, one direct and one proxied message: each goes its own
	 * way. */
	memset(v, 0, sizeof(v));
	v[0].msg_hdr.msg_iov = &ia;
	v[0].msg_hdr.msg_iovlen = 1;
	v[0].msg_hdr.msg_name = &lp;
	v[0].msg_hdr.msg_namelen = ll;
	v[1].msg_hdr.msg_iov = &ib;
	v[1].msg_hdr.msg_iovlen = 1;
	v[1].msg_hdr.msg_name = &dst;
	v[1].msg_hdr.msg_namelen = dst_len;
	fact(sendmmsg(fd, v, 2, 0) == 2,
	     "sendmmsg: a direct and a proxied message in one batch");
	n = recv(peer, buf, sizeof(buf), 0);
	fact(n == (ssize_t)strlen(a) && memcmp(buf, a, (size_t)n) == 0,
	     "sendmmsg: the direct message reached the direct peer as is");
	n = recv(fd, buf, sizeof(buf), 0);
	fact(n == (ssize_t)strlen(b) && memcmp(buf, b, (size_t)n) == 0,
	     "sendmmsg: the proxied message went through the relay and echoed");
	close(fd);
	close(peer);

	peer = local_peer(&lp, &ll);
	fd = new_sock();
	round_trip(fd, "before a re-connect", "udpmsg-before-reconnect");
	fact(connect(fd, (struct sockaddr *)&dst, dst_len) == 0,
	     "connect to the target (proxied)");
	fact(connect(fd, (struct sockaddr *)&lp, ll) == 0,
	     "re-connect to a direct peer");
	fact(send(fd, a, strlen(a), 0) == (ssize_t)strlen(a),
	     "send to the direct peer");
	n = recv(peer, buf, sizeof(buf), 0);
	fact(n == (ssize_t)strlen(a) && memcmp(buf, a, (size_t)n) == 0,
	     "after a re-connect the direct peer gets the bare payload (%zd)",
	     n);
	close(fd);
	close(peer);
}

/* AF_UNSPEC in a sockaddr_in: the kernel sends to its address on an IPv4
 * socket, so must the relay path. */
static void test_unspec(void)
{
	struct sockaddr_in s4;
	int fd;

	if (fam != AF_INET)
		return;
	fd = new_sock();
	memcpy(&s4, &dst, sizeof(s4));
	s4.sin_family = AF_UNSPEC;
	fact(sendto(fd, "unspec", 6, 0, (struct sockaddr *)&s4, sizeof(s4)) ==
		 6,
	     "sendto an AF_UNSPEC sockaddr_in");
	{
		char buf[64];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		fact(n == 6 && memcmp(buf, "unspec", 6) == 0,
		     "AF_UNSPEC: carried through the relay and echoed");
	}
	close(fd);
}

static int blocked_fd;
static ssize_t blocked_got = -2;

static void *blocked_reader(void *arg)
{
	char buf[16];

	(void)arg;
	blocked_got = recv(blocked_fd, buf, sizeof(buf), 0);
	return NULL;
}

/* shutdown() wakes a reader blocked in a receive (as without the shim). */
static void test_shutdown(void)
{
	struct timeval tv = {0};
	pthread_t th;

	blocked_fd = new_sock();
	setsockopt(blocked_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	round_trip(blocked_fd, "before shutdown", "udpmsg-before-shutdown");
	pthread_create(&th, NULL, blocked_reader, NULL);
	usleep(300000);
	shutdown(blocked_fd, SHUT_RDWR);
	usleep(500000);
	fact(blocked_got == 0,
	     "shutdown wakes a reader blocked in recv (it returned %zd)",
	     blocked_got);
	if (blocked_got == -2)
		pthread_cancel(th);
	pthread_join(th, NULL);
	close(blocked_fd);
}

/* dup2 onto the shim's control connection is refused, the association
 * stays. */
static void test_dup2_onto_ours(void)
{
	int fd = new_sock(), other = socket(fam, SOCK_DGRAM, 0), i, found = -1;

	round_trip(fd, "before dup2", "udpmsg-before-dup2");
	for (i = 512; i < 1024 && found < 0; i++)
		if (fcntl(i, F_GETFD) >= 0)
			found = i;
	if (found < 0) {
		fact(0, "dup2 onto ours: no control fd at 512 or above");
	} else {
		errno = 0;
		fact(dup2(other, found) < 0 && errno == EBUSY,
		     "dup2 onto the shim's fd %d: EBUSY", found);
		round_trip(fd, "after the refused dup2", "udpmsg-after-dup2");
	}
	close(other);
	close(fd);
}

static void test_fork(void)
{
	int fd = new_sock(), st = 0;
	pid_t pid;

	round_trip(fd, "before fork", "udpmsg-before-fork");
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fact(0, "fork: %s", strerror(errno));
		close(fd);
		return;
	}
	if (pid == 0)
		_exit(round_trip(fd, "after fork, child", "udpmsg-child") ? 0
									  : 1);
	/* The child goes first: the parent does not read until it is done,
	 * so neither takes the other's echo. */
	if (waitpid(pid, &st, 0) != pid)
		st = -1;
	fact(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	     "after fork: the child's round trip on the inherited socket "
	     "(status 0x%x)",
	     (unsigned int)st);
	round_trip(fd, "after fork, parent", "udpmsg-parent");
	close(fd);
}

int main(int argc, char **argv)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&dst;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&dst;
	long port;
	char *end;

	if (argc != 3) {
		fprintf(stderr, "usage: udpmsg HOST PORT\n");
		return 2;
	}
	port = strtol(argv[2], &end, 10);
	if (*end || port <= 0 || port > 65535) {
		fprintf(stderr, "udpmsg: bad port %s\n", argv[2]);
		return 2;
	}
	memset(&dst, 0, sizeof(dst));
	if (inet_pton(AF_INET, argv[1], &s4->sin_addr) == 1) {
		fam = AF_INET;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		dst_len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, argv[1], &s6->sin6_addr) == 1) {
		fam = AF_INET6;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		dst_len = sizeof(*s6);
	} else {
		fprintf(stderr, "udpmsg: %s is not an address literal\n",
			argv[1]);
		return 2;
	}
	snprintf(dst_text, sizeof(dst_text), "%s", addr_text(&dst, dst_len));
	printf("udpmsg: %s, %s sockets%s\n", dst_text,
	       fam == AF_INET ? "AF_INET" : "AF_INET6", fortified);

	test_mmsg();
	test_connected();
	test_flags();
	test_fork();
	test_closefrom();
	test_batches();
	test_unspec();
	test_shutdown();
	test_dup2_onto_ours();

	if (fact_failures) {
		printf("%d fact(s) failed\n", fact_failures);
		return 1;
	}
	printf("all facts hold\n");
	return 0;
}
