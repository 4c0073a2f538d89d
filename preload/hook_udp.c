/*
 * hook_udp.c - the datagram paths: receives (recvfrom, recvmsg, recv,
 * read and their _FORTIFY_SOURCE twins) and the sends that carry no
 * address (send, write) on UDP sockets with a relay association.  sendto
 * and sendmsg live in hook_tcp.c with the rest of the connect-like calls.
 *
 * The same hooks hide a socket whose SOCKS5 handshake another thread is
 * running (pending.h): a read or write waits for its end, as on a
 * connecting socket.
 *
 * The pass-through path of each hook is two lock-free loads (the count of
 * pending handshakes, and the UDP bitmap: proxied TCP connections pass
 * too).  The program's structures are read through safemem.h only on the
 * shim's own paths; otherwise the kernel gets them untouched.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fdtable.h"
#include "pending.h"
#include "real.h"
#include "safemem.h"
#include "udp.h"

/* A read or write on a pending socket waits as the kernel's call on a
 * connecting socket would (pending.h). */
#define PENDING_READ(fd, flags)                                                \
	(__builtin_expect(sfy_is_pending(fd), 0) &&                            \
	 sfy_pending_io(fd, 0, flags))
#define PENDING_WRITE(fd, flags)                                               \
	(__builtin_expect(sfy_is_pending(fd), 0) &&                            \
	 sfy_pending_io(fd, 1, flags))

/* recvfrom through the relay.  A bad length pointer: the datagram is
 * taken, then EFAULT, as the kernel's recvfrom does it. */
static ssize_t recv_via(int fd, void *buf, size_t n, int flags,
			struct sockaddr *sa, socklen_t *len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = n};
	struct msghdr m;
	socklen_t have = 0;
	int bad_len = 0;
	ssize_t r;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	if (sa && len) {
		if (sfy_copy_in(&have, len, sizeof(have)) < 0)
			bad_len = 1;
		else if ((int)have < 0) {
			errno = EINVAL;
			return -1;
		} else {
			m.msg_name = sa;
			m.msg_namelen = have;
		}
	}
	r = sfy_udp_recv(fd, &m, flags, 1);
	if (r == SFY_UDP_PASS || r < 0)
		return r;
	if (bad_len ||
	    (m.msg_name &&
	     sfy_copy_out(len, &m.msg_namelen, sizeof(m.msg_namelen)) < 0)) {
		errno = EFAULT;
		return -1;
	}
	return r;
}

static ssize_t send_via(int fd, const void *buf, size_t n, int flags)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = n};
	struct msghdr m;

	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	return sfy_udp_send(fd, &m, flags, 1);
}

/* recvmsg through the relay on the shim's copy of the header; the fields
 * a receive sets go back to the program's. */
static ssize_t recvmsg_via(int fd, struct msghdr *umsg, int flags)
{
	struct msghdr m;
	ssize_t r;

	if (sfy_copy_in(&m, umsg, sizeof(m)) < 0) {
		errno = sfy_bad_address_errno(fd, 0);
		return -1;
	}
	r = sfy_udp_recv(fd, &m, flags, 0);
	if (r == SFY_UDP_PASS || r < 0)
		return r;
	if (sfy_copy_out(umsg, &m, sizeof(m)) < 0) {
		errno = EFAULT;
		return -1;
	}
	return r;
}

SFY_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			    struct sockaddr *sa, socklen_t *len)
{
	ssize_t r;

	if (PENDING_READ(fd, flags))
		return -1;
	if (fdt_maybe_udp(fd) &&
	    (r = recv_via(fd, buf, n, flags, sa, len)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(recvfrom, fd, buf, n, flags, sa, len);
}

SFY_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	ssize_t r;

	if (PENDING_READ(fd, flags))
		return -1;
	if (fdt_maybe_udp(fd) &&
	    (r = recv_via(fd, buf, n, flags, NULL, NULL)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(recv, fd, buf, n, flags);
}

SFY_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	ssize_t r;

	if (PENDING_READ(fd, 0))
		return -1;
	if (fdt_maybe_udp(fd) &&
	    (r = recv_via(fd, buf, n, 0, NULL, NULL)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(read, fd, buf, n);
}

SFY_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t r;

	if (PENDING_READ(fd, flags))
		return -1;
	if (fdt_maybe_udp(fd) && msg &&
	    (r = recvmsg_via(fd, msg, flags)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(recvmsg, fd, msg, flags);
}

SFY_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	ssize_t r;

	if (PENDING_WRITE(fd, flags))
		return -1;
	if (fdt_maybe_udp(fd) &&
	    (r = send_via(fd, buf, n, flags)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(send, fd, buf, n, flags);
}

SFY_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	ssize_t r;

	if (PENDING_WRITE(fd, 0))
		return -1;
	if (fdt_maybe_udp(fd) && (r = send_via(fd, buf, n, 0)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(write, fd, buf, n);
}

SFY_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	struct msghdr m;
	ssize_t r;

	if (PENDING_READ(fd, 0))
		return -1;
	if (fdt_maybe_udp(fd) && n >= 0) {
		memset(&m, 0, sizeof(m));
		m.msg_iov = (struct iovec *)(uintptr_t)iov;
		m.msg_iovlen = (size_t)n;
		r = sfy_udp_recv(fd, &m, 0, 0);
		if (r != SFY_UDP_PASS)
			return r;
	}
	return REAL_CALL(readv, fd, iov, n);
}

SFY_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	struct msghdr m;
	ssize_t r;

	if (PENDING_WRITE(fd, 0))
		return -1;
	if (fdt_maybe_udp(fd) && n >= 0) {
		memset(&m, 0, sizeof(m));
		m.msg_iov = (struct iovec *)(uintptr_t)iov;
		m.msg_iovlen = (size_t)n;
		r = sfy_udp_send(fd, &m, 0, 0);
		if (r != SFY_UDP_PASS)
			return r;
	}
	return REAL_CALL(writev, fd, iov, n);
}

/*
 * recvmmsg: one datagram after another through the relay; with
 * MSG_WAITFORONE, after the first only what is already queued, as the
 * kernel does.  The timeout argument is not applied (SO_RCVTIMEO is).
 */
SFY_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags,
			struct timespec *timeout)
{
	struct mmsghdr mm;
	unsigned int i;
	ssize_t r;

	if (PENDING_READ(fd, flags))
		return -1;
	if (!fdt_maybe_udp(fd) || !v)
		return REAL_CALL(recvmmsg, fd, v, n, flags, timeout);
	if (n > SFY_IOV_MAX)
		n = SFY_IOV_MAX; /* the kernel's cap on a batch */
	for (i = 0; i < n; i++) {
		if (sfy_copy_in(&mm, &v[i], sizeof(mm)) < 0) {
			if (i > 0)
				return (int)i;
			errno = sfy_bad_address_errno(fd, 0);
			return -1;
		}
		/* The first waits as the flags say; with MSG_WAITFORONE the
		 * rest take only what is queued. */
		r = sfy_udp_recv(fd, &mm.msg_hdr,
				 i > 0 && (flags & MSG_WAITFORONE)
				     ? (flags & ~MSG_WAITFORONE) | MSG_DONTWAIT
				     : flags & ~MSG_WAITFORONE,
				 0);
		if (r == SFY_UDP_PASS)
			return REAL_CALL(recvmmsg, fd, v, n, flags, timeout);
		if (r < 0)
			return i > 0 ? (int)i : -1;
		mm.msg_len = (unsigned int)r;
		if (sfy_copy_out(&v[i], &mm, sizeof(mm)) < 0) {
			errno = EFAULT;
			return i > 0 ? (int)i : -1;
		}
	}
	return (int)n;
}

/* The _FORTIFY_SOURCE twins: programs built with -D_FORTIFY_SOURCE call
 * these instead of the plain names. */
SFY_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen,
				  int flags, struct sockaddr *sa,
				  socklen_t *len)
{
	ssize_t r;

	if (n <= buflen && PENDING_READ(fd, flags))
		return -1;
	if (fdt_maybe_udp(fd) && n <= buflen &&
	    (r = recv_via(fd, buf, n, flags, sa, len)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(recvfrom_chk, fd, buf, n, buflen, flags, sa, len);
}

SFY_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen,
			      int flags)
{
	ssize_t r;

	if (n <= buflen && PENDING_READ(fd, flags))
		return -1;
	if (fdt_maybe_udp(fd) && n <= buflen &&
	    (r = recv_via(fd, buf, n, flags, NULL, NULL)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(recv_chk, fd, buf, n, buflen, flags);
}

SFY_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	ssize_t r;

	if (n <= buflen && PENDING_READ(fd, 0))
		return -1;
	if (fdt_maybe_udp(fd) && n <= buflen &&
	    (r = recv_via(fd, buf, n, 0, NULL, NULL)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(read_chk, fd, buf, n, buflen);
}

/*
 * syscall(2) for the socket calls: libraries that call them this way
 * (libuv's sendmmsg and recvmmsg, under dig and node) would otherwise slip
 * past every hook; they get the hooked functions instead.  Every other
 * number passes straight on.
 */
SFY_EXPORT long syscall(long nr, ...)
{
	long a[6];
	va_list ap;
	int i;

	va_start(ap, nr);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (nr) {
	case SYS_connect:
		return connect((int)a[0], (const struct sockaddr *)a[1],
			       (socklen_t)a[2]);
	case SYS_sendto:
		return sendto((int)a[0], (const void *)a[1], (size_t)a[2],
			      (int)a[3], (const struct sockaddr *)a[4],
			      (socklen_t)a[5]);
	case SYS_sendmsg:
		return sendmsg((int)a[0], (const struct msghdr *)a[1],
			       (int)a[2]);
	case SYS_sendmmsg:
		return sendmmsg((int)a[0], (struct mmsghdr *)a[1],
				(unsigned int)a[2], (int)a[3]);
	case SYS_recvfrom:
		return recvfrom((int)a[0], (void *)a[1], (size_t)a[2],
				(int)a[3], (struct sockaddr *)a[4],
				(socklen_t *)a[5]);
	case SYS_recvmsg:
		return recvmsg((int)a[0], (struct msghdr *)a[1], (int)a[2]);
	case SYS_recvmmsg:
		return recvmmsg((int)a[0], (struct mmsghdr *)a[1],
				(unsigned int)a[2], (int)a[3],
				(struct timespec *)a[4]);
	default:
		if (!sfy_real()->syscall) {
			sfy_real_missing("syscall");
			return -1;
		}
		return sfy_real()->syscall(nr, a[0], a[1], a[2], a[3], a[4],
					   a[5]);
	}
}
