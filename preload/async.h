/*
 * async.h - asynchronous proxied connects on non-blocking sockets.
 *
 * connect() on an O_NONBLOCK TCP socket to a proxied destination starts
 * the TCP connect to the proxy, hands the socket to a helper thread and
 * returns EINPROGRESS at once.  The helper (one per process, started on
 * demand, every signal blocked, gone after a while with nothing to do)
 * runs the SOCKS5 handshake on the program's own socket with MSG_DONTWAIT
 * I/O, so the fd keeps its number, flags and options.  Until the reply is
 * in, the program must not see the socket writable (asyncio and others
 * take "writable, SO_ERROR 0" for success), so it is hidden:
 *
 *   - epoll: its registrations are taken out of the program's epoll sets
 *     at connect() (epreg.h knows them) and put back when the handshake
 *     ends; the kernel then wakes the waiters, makes the edge and arms
 *     one-shot items.  epoll_wait is not hooked.  epoll_ctl on a pending
 *     fd is answered from the saved registrations;
 *   - poll, ppoll, select, pselect: a pending fd is swapped, in a copy of
 *     the program's array, for the connection's eventfd, written once at
 *     the end (hook_poll.c);
 *   - reads and writes get EAGAIN (or wait, on a socket made blocking
 *     meanwhile), a second connect EALREADY, getpeername ENOTCONN,
 *     SO_ERROR 0; after a failure SO_ERROR (or the next connect) gives
 *     the errno once.
 *
 * Records live in a MAP_SHARED mapping so that a child of fork() sees how
 * the handshake its parent drives ends.  Each process keeps, per fd, which
 * record is its (a lock-free array; fds below SFY_ASYNC_FDS only: higher
 * ones take the synchronous path) or the errno of a failed connect not
 * yet reported.
 */
#ifndef SOCKSIFY_ASYNC_H
#define SOCKSIFY_ASYNC_H

#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "config.h"
#include "socks5.h"

#define SFY_ASYNC_FDS 65536

/* Per fd: 0, a record (slot + generation), or SFY_ASYNC_ERR | errno. */
extern _Atomic uint32_t sfy_async_map[SFY_ASYNC_FDS];
#define SFY_ASYNC_ERR 0x80000000u

/* Nonzero when fd has an async record or an unreported error. */
static inline uint32_t sfy_async_entry(int fd)
{
	if ((unsigned int)fd >= SFY_ASYNC_FDS)
		return 0;
	return atomic_load_explicit(&sfy_async_map[fd], memory_order_acquire);
}

/* Whether connects on non-blocking sockets go asynchronously: the
 * config's async_connect, overridden by SOCKSIFY_ASYNC_CONNECT. */
int sfy_async_wanted(const struct cfg *c);

/*
 * connect() of the non-blocking TCP socket fd (flags: its F_GETFL) through
 * the proxy to dst; peer/peerlen is what getpeername will show, desc names
 * it in log lines.  Returns -EINPROGRESS (handed to the helper), 1 when
 * this connect cannot go asynchronously (the caller runs the synchronous
 * driver), or -errno for an error the kernel would give at once.
 */
int sfy_async_connect(const struct cfg *c, int fd, int family,
		      const struct s5_addr *dst, const struct sockaddr *peer,
		      socklen_t peerlen, const char *desc);

/* 1 while fd's handshake is in progress (brought up to date first: a
 * parent of fork() may have finished it). */
int sfy_async_pending(int fd);

/* connect() again on fd with an entry: -EALREADY while pending, the
 * unreported errno of a failure (then forgotten), or 0 (go on). */
int sfy_async_reconnect(int fd);

/* getsockopt(SO_ERROR) on fd with an entry: 1 with *err set (0 while
 * pending; a failure's errno once), 0 when the real call should answer. */
int sfy_async_so_error(int fd, int *err);

/* A read or write on a pending fd: 0 (the handshake is over: make the
 * call), -EAGAIN, -EINTR, or a failure's errno (reported once). */
int sfy_async_wait(int fd, int write, int dontwait);

/* Waits, bounded by the handshake's deadline, until fd is not pending
 * (dup of a pending fd, epoll_ctl in a process that does not drive it). */
void sfy_async_wait_end(int fd);

/* fd is being closed or replaced by the program: a handshake in progress
 * is cancelled, an unreported error forgotten. */
void sfy_async_forget(int fd);

/* The same over [lo, hi]. */
void sfy_async_forget_range(unsigned int lo, unsigned int hi);

/* epoll_ctl on a pending fd, answered from its saved registrations.
 * Returns 0 or -errno, or 1 when the fd is not pending after all (make
 * the real call). */
int sfy_async_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);

/* An epoll fd is being closed: registrations saved into it are dropped.
 * sfy_async_epfd_watched(fd) says, lock-free, whether fd may be one. */
void sfy_async_epfd_closed(int epfd);
extern _Atomic unsigned long
    sfy_async_epfds[SFY_ASYNC_FDS / (sizeof(unsigned long) * 8)];

static inline int sfy_async_epfd_watched(int fd)
{
	unsigned int u = (unsigned int)fd;
	const unsigned int w = sizeof(unsigned long) * 8;

	if (u >= SFY_ASYNC_FDS)
		return 1;
	return (atomic_load_explicit(&sfy_async_epfds[u / w],
				     memory_order_relaxed) >>
		(u % w)) &
	       1u;
}

/* For poll/select: when fd is pending, takes a reference on its record
 * and returns the eventfd to wait on (readable once the handshake is
 * over), with *ticket for sfy_async_poll_put; else -1. */
int sfy_async_poll_get(int fd, uint64_t *ticket, long long *deadline);
/* Drops the reference; returns 1 when the handshake is over (the caller
 * asks the real fd), 0 when still pending.  *failed gets 1 when it failed
 * and the error is not reported yet. */
int sfy_async_poll_put(int fd, uint64_t ticket, int *failed);

#endif
