/*
 * pending.h - the program's sockets whose SOCKS5 handshake is in progress.
 *
 * While one thread runs a handshake on the program's own socket, the rest
 * of the program must not see it: no byte of the handshake may reach
 * another thread's read, no byte another thread writes may reach the proxy
 * before the handshake is done, the O_NONBLOCK the driver sets must not
 * show in F_GETFL, and the fd number must not be closed and reused under
 * the driver.  Each handshake registers a record (on the driving thread's
 * own stack: no allocation) for its fd; the data-path hooks consult a
 * lock-free bitmap and, for a registered fd, behave as the kernel does on
 * a connecting socket: a blocking read or write waits until the handshake
 * is over (interruptible, bounded by SO_RCVTIMEO / SO_SNDTIMEO), a
 * non-blocking one gets EAGAIN.
 *
 * Lock: g_pending_lock (pending.c), held only around list operations, no
 * cancellation point inside; a child of fork() starts with an empty list.
 */
#ifndef SOCKSIFY_PENDING_H
#define SOCKSIFY_PENDING_H

#include <stdatomic.h>
#include <sys/types.h>

#include "fdtable.h"

struct sfy_pending {
	int fd;
	int flags;	   /* the file status flags the program set */
	int close_pending; /* the program closed fd meanwhile */
	pid_t pid;	   /* the process running the handshake */
	struct sfy_pending *next;
};

extern _Atomic unsigned long sfy_pending_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
extern atomic_uint sfy_pending_count;

/* 1 when fd may have a handshake in progress.  No lock, no syscall. */
static inline int sfy_is_pending(int fd)
{
	unsigned int u = (unsigned int)fd;

	if (__builtin_expect(atomic_load_explicit(&sfy_pending_count,
						  memory_order_relaxed) == 0,
			     1) ||
	    fd < 0 || u >= FDT_BITMAP_FDS)
		return 0;
	return (atomic_load_explicit(&sfy_pending_bits[u / FDT_WORD_BITS],
				     memory_order_acquire) >>
		(u % FDT_WORD_BITS)) &
	       1u;
}

/* Sets or clears fd's pending bit and counts it (asynchronous connects,
 * async.h, keep their records elsewhere). */
void sfy_pending_mark(int fd, int on);

/* Registers p (caller-owned until sfy_pending_end) for fd, reading the
 * program's file status flags into *flags (known >= 0: the caller just
 * read them).  Returns 0, -EALREADY when fd
 * already has a handshake in progress (another thread's connect), or the
 * -errno of F_GETFL. */
int sfy_pending_begin(struct sfy_pending *p, int fd, int known, int *flags);

/* Unregisters p and wakes every waiter.  First, under the lock, the file
 * gets the program's flags back (they may have changed meanwhile) unless
 * they are driver_flags, what the driver left on it.  Returns the
 * program's flags; *closed gets 1 when the program closed the fd
 * meanwhile (the caller then closes it, as the program asked). */
int sfy_pending_end(struct sfy_pending *p, int driver_flags, int *closed);

/* The data path on a pending fd: waits (write 0: for reading, 1: for
 * writing) as the kernel's blocking call on a connecting socket would.
 * Returns 0 (the handshake is over: make the call), -EAGAIN
 * (non-blocking, or the socket's timeout ran out), -EINTR. */
int sfy_pending_wait(int fd, int write, int dontwait);

/* Waits, whatever the flags and signals, until fd's handshake is over:
 * for dup and friends, whose new fd must not see it (the handshake is
 * bounded by its timeout). */
void sfy_pending_wait_end(int fd);

/* F_GETFL / F_SETFL on a pending fd: the program's view.  Return 1 when
 * handled (*flags set for get), 0 when fd is not pending after all. */
int sfy_pending_getfl(int fd, int *flags);
int sfy_pending_setfl(int fd, int flags);

/* close() of a pending fd by the program: 1 when the close is left to the
 * handshake's end (the fd number stays taken until then, so the driver
 * never touches another file), 0 when the caller should close now. */
int sfy_pending_close(int fd);

/* A read (write 0) or write on a pending fd, from a hook: sfy_pending_wait
 * with the call's flags (MSG_DONTWAIT).  Returns 0 (make the call) or -1
 * with errno. */
__attribute__((noinline, cold)) int sfy_pending_io(int fd, int write,
						   int flags);

#endif
