/*
 * hook_fd.c - fd lifecycle: keeps the fd table true across close, dup*,
 * fcntl(F_DUPFD*), close_range and closefrom.  fork needs no hook: the
 * child inherits the table with the fds (fdtable.c takes its lock around
 * fork with pthread_atfork).
 *
 * An fd whose SOCKS5 handshake another thread is running is closed only
 * when the handshake ends (its number stays taken until then, so the
 * driver never writes into another file that got it), and dup2/dup3 onto
 * it is refused with EBUSY.
 *
 * The pass-through path of each hook is a few lock-free loads (the fd
 * table's bitmap, whether the shim owns any fd, any handshake pending).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "async.h"
#include "epreg.h"
#include "fdtable.h"
#include "log.h"
#include "ownfd.h"
#include "pending.h"
#include "real.h"
#include "udp.h"

/* A fresh TCP socket (epreg.h) closed or replaced: its records go, and an
 * asynchronous connect's unreported error (such sockets are fresh). */
static __attribute__((noinline)) void forget_fresh(int fd)
{
	int saved = errno;

	sfy_fresh_clear(fd);
	if (sfy_async_entry(fd))
		sfy_async_forget(fd);
	errno = saved;
}

/* 1 when close(fd) has nothing of ours to look at: the fd is none of the
 * shim's own, no handshake is pending anywhere, it is not a fresh socket
 * nor in the fd table, and no datagram lingers.  A few relaxed loads of
 * one bitmap word each, and one branch. */
static inline int close_is_plain(int fd)
{
	unsigned int u = (unsigned int)fd, w = u / FDT_WORD_BITS;
	unsigned long bits;

	if (u >= FDT_BITMAP_FDS)
		return 0;
	bits = atomic_load_explicit(&sfy_fresh_bits[w], memory_order_relaxed) |
	       atomic_load_explicit(&fdt_bits[w], memory_order_relaxed) |
	       (sfy_any_owned() ? atomic_load_explicit(&sfy_own_bits[w],
						       memory_order_relaxed)
				: 0);
	return !((bits >> (u % FDT_WORD_BITS)) & 1u) &&
	       !(atomic_load_explicit(&sfy_pending_count,
				      memory_order_relaxed) |
		 atomic_load_explicit(&sfy_udp_lingering,
				      memory_order_relaxed));
}

static __attribute__((noinline)) int close_slow(int fd)
{
	/* A control connection of ours, closed by a program that closes
	 * every fd it does not know: it stays open (and its number taken,
	 * so the program cannot get it back for something else). */
	if (__builtin_expect(sfy_owns_fd(fd), 0))
		return 0;
	if (__builtin_expect(sfy_is_pending(fd), 0) && sfy_pending_close(fd))
		return 0;
	if (__builtin_expect(sfy_is_fresh(fd), 0))
		forget_fresh(fd);
	if (__builtin_expect(
		atomic_load_explicit(&sfy_pending_count, memory_order_relaxed),
		0) &&
	    sfy_async_epfd_watched(fd))
		sfy_async_epfd_closed(fd);
	if (fdt_maybe_ours(fd))
		fdt_del(fd);
	if (__builtin_expect(
		atomic_load_explicit(&sfy_udp_lingering, memory_order_relaxed),
		0))
		sfy_udp_reap();
	return REAL_CALL(close, fd);
}

static int shim_close(int fd)
{
	if (__builtin_expect(close_is_plain(fd), 1))
		return REAL_CALL(close, fd);
	return close_slow(fd);
}

/* 1 when fd is kept from a close sweep: ours, or pending (then marked to
 * be closed when its handshake ends). */
static int kept(unsigned int fd)
{
	return sfy_owns_fd((int)fd) ||
	       (sfy_is_pending((int)fd) && sfy_pending_close((int)fd));
}

static int close_range_around_syscall(unsigned int lo, unsigned int hi,
				      int flags)
{
	unsigned int w, last, fd, start = lo;
	unsigned long bits;
	int rc = 0;

	/* Whole bitmap words at a time: the shim keeps a handful of fds. */
	last = (hi < FDT_BITMAP_FDS ? hi : FDT_BITMAP_FDS - 1) / FDT_WORD_BITS;
	for (w = lo / FDT_WORD_BITS; lo < FDT_BITMAP_FDS && w <= last; w++) {
		bits = atomic_load_explicit(&sfy_own_bits[w],
					    memory_order_relaxed) |
		       atomic_load_explicit(&sfy_pending_bits[w],
					    memory_order_relaxed);
		while (bits) {
			fd = w * FDT_WORD_BITS +
			     (unsigned int)__builtin_ctzl(bits);
			bits &= bits - 1;
			if (fd < start || fd > hi || !kept(fd))
				continue;
			if (fd > start &&
			    REAL_CALL(close_range, start, fd - 1, flags) < 0)
				rc = -1;
			start = fd + 1;
		}
	}
	if (start <= hi && REAL_CALL(close_range, start, hi, flags) < 0)
		rc = -1;
	return rc;
}

/* close_range over [lo, hi] except the fds kept (see kept()).  Where the
 * syscall is missing or forbidden, closes one by one up to the fd limit,
 * as glibc's closefrom falls back. */
static int close_range_around(unsigned int lo, unsigned int hi, int flags)
{
	/* Probe on an fd number no process has: no side effect. */
	if (REAL_CALL(close_range, ~0U, ~0U, 0) < 0 &&
	    (errno == ENOSYS || errno == EPERM) &&
	    !(flags & CLOSE_RANGE_CLOEXEC)) {
		struct rlimit rl;
		unsigned int fd, top = 65536;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < (rlim_t)top)
			top = (unsigned int)rl.rlim_cur;
		for (fd = lo; fd <= hi && fd < top; fd++)
			if (!kept(fd))
				(void)REAL_CALL(close, (int)fd);
		return 0;
	}
	return close_range_around_syscall(lo, hi, flags);
}

/* 1 when a sweep over the fds must go around some of ours. */
static int any_kept(void)
{
	return sfy_any_owned() ||
	       atomic_load_explicit(&sfy_pending_count, memory_order_relaxed);
}

/* A copy of an fd whose handshake another thread is running would be an
 * fd the pending checks do not know: the copy is made once it is over. */
static inline void dup_of_pending(int oldfd)
{
	if (__builtin_expect(sfy_is_pending(oldfd), 0))
		sfy_pending_wait_end(oldfd);
}

/* After dup(fd) gave nfd: fd's record and freshness go with it. */
static __attribute__((noinline)) void dup_ours(int fd, int nfd)
{
	if (fdt_maybe_ours(fd))
		fdt_dup(fd, nfd);
	if (sfy_is_fresh(fd))
		sfy_fresh_dup(fd, nfd);
}

static int shim_dup(int fd)
{
	unsigned int u = (unsigned int)fd;
	int nfd;

	dup_of_pending(fd);
	nfd = REAL_CALL(dup, fd);
	if (nfd >= 0 &&
	    (u >= FDT_BITMAP_FDS ||
	     ((atomic_load_explicit(&fdt_bits[u / FDT_WORD_BITS],
				    memory_order_relaxed) |
	       atomic_load_explicit(&sfy_fresh_bits[u / FDT_WORD_BITS],
				    memory_order_relaxed)) >>
	      (u % FDT_WORD_BITS)) &
		 1u))
		dup_ours(fd, nfd);
	return nfd;
}

/* After dup2/dup3 newfd refers to oldfd's file: copy or drop its record. */
static int after_dup2(int rc, int oldfd, int newfd)
{
	if (rc >= 0 && oldfd != newfd &&
	    (fdt_maybe_ours(oldfd) || fdt_maybe_ours(newfd)))
		fdt_dup(oldfd, newfd);
	if (__builtin_expect(rc >= 0 && oldfd != newfd && sfy_is_fresh(oldfd),
			     0))
		sfy_fresh_dup(oldfd, newfd);
	return rc;
}

/* dup2/dup3 onto an fd of ours would close it under us, and the number
 * would then be the program's with our association still using it; onto a
 * pending one, the driver would go on in another file: refused with EBUSY
 * (dup2(2): Linux's "busy" answer). */
static int onto_ours(int newfd)
{
	if (__builtin_expect(sfy_owns_fd(newfd), 0)) {
		sfy_log(SFY_LOG_WARN,
			"dup2/dup3 onto fd %d refused: it is the shim's own "
			"(EBUSY)",
			newfd);
		errno = EBUSY;
		return 1;
	}
	if (__builtin_expect(sfy_async_entry(newfd) != 0, 0))
		sfy_async_forget(newfd); /* closed by the dup: cancelled */
	if (__builtin_expect(sfy_is_fresh(newfd), 0))
		forget_fresh(newfd);
	if (__builtin_expect(sfy_is_pending(newfd), 0)) {
		sfy_log(SFY_LOG_WARN,
			"dup2/dup3 onto fd %d refused: another thread's "
			"connect is in its SOCKS5 handshake (EBUSY)",
			newfd);
		errno = EBUSY;
		return 1;
	}
	return 0;
}

static int shim_dup2(int oldfd, int newfd)
{
	if (onto_ours(newfd))
		return -1;
	dup_of_pending(oldfd);
	return after_dup2(REAL_CALL(dup2, oldfd, newfd), oldfd, newfd);
}

static int shim_dup3(int oldfd, int newfd, int flags)
{
	if (onto_ours(newfd))
		return -1;
	dup_of_pending(oldfd);
	return after_dup2(REAL_CALL(dup3, oldfd, newfd, flags), oldfd, newfd);
}

typedef int (*fcntl_fn)(int, int, ...);

/* The argument is passed on as the pointer-sized value it was given: every
 * fcntl command takes an int, a long or a pointer, all of which travel the
 * same way through varargs on the ABIs glibc supports. */
static int shim_fcntl(fcntl_fn real_fn, const char *name, int fd, int cmd,
		      void *arg)
{
	int rc;

	if (!real_fn) {
		sfy_real_missing(name);
		return -1;
	}
	/* During another thread's handshake the program sees its own flags,
	 * not the O_NONBLOCK the driver set. */
	if (__builtin_expect(
		(cmd == F_GETFL || cmd == F_SETFL) && sfy_is_pending(fd), 0)) {
		int flags;

		if (cmd == F_GETFL && sfy_pending_getfl(fd, &flags))
			return flags;
		if (cmd == F_SETFL && sfy_pending_setfl(fd, (int)(intptr_t)arg))
			return 0;
	}
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		dup_of_pending(fd);
	rc = real_fn(fd, cmd, arg);
	if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && rc >= 0 &&
	    fdt_maybe_ours(fd))
		fdt_dup(fd, rc);
	if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && rc >= 0 &&
	    sfy_is_fresh(fd))
		sfy_fresh_dup(fd, rc);
	return rc;
}

static int shim_close_range(unsigned int lo, unsigned int hi, int flags)
{
	/* CLOSE_RANGE_CLOEXEC only marks the fds: nothing is closed. */
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		fdt_del_range(lo, hi);
		sfy_fresh_clear_range(lo, hi);
		sfy_async_forget_range(lo, hi);
	}
	/* CLOSE_RANGE_CLOEXEC closes nothing (ours are close-on-exec). */
	if (!any_kept() || (flags & CLOSE_RANGE_CLOEXEC))
		return REAL_CALL(close_range, lo, hi, flags);
	return close_range_around(lo, hi, flags);
}

static void shim_closefrom(int lo)
{
	fdt_del_range(lo < 0 ? 0 : (unsigned int)lo, UINT_MAX);
	sfy_fresh_clear_range(lo < 0 ? 0 : (unsigned int)lo, UINT_MAX);
	sfy_async_forget_range(lo < 0 ? 0 : (unsigned int)lo, UINT_MAX);
	if (any_kept()) {
		(void)close_range_around(lo < 0 ? 0 : (unsigned int)lo,
					 UINT_MAX, 0);
		return;
	}
	if (sfy_real()->closefrom)
		sfy_real()->closefrom(lo);
	else
		sfy_real_missing("closefrom");
}

/* --- exported hooks ------------------------------------------------------ */

SFY_EXPORT int close(int fd)
{
	return shim_close(fd);
}

SFY_EXPORT int dup(int fd)
{
	return shim_dup(fd);
}

SFY_EXPORT int dup2(int oldfd, int newfd)
{
	return shim_dup2(oldfd, newfd);
}

SFY_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return shim_dup3(oldfd, newfd, flags);
}

SFY_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return shim_fcntl(sfy_real()->fcntl, "fcntl", fd, cmd, arg);
}

SFY_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return shim_fcntl(sfy_real()->fcntl64, "fcntl64", fd, cmd, arg);
}

SFY_EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
	return shim_close_range(lo, hi, flags);
}

SFY_EXPORT void closefrom(int lo)
{
	shim_closefrom(lo);
}
