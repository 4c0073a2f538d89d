/*
 * hook_poll.c - readiness and status calls that must not give away a
 * socket whose asynchronous SOCKS5 handshake is running (async.h):
 * poll, ppoll, select, pselect (and glibc's _FORTIFY_SOURCE twins),
 * epoll_ctl, getsockopt(SO_ERROR), and sendfile, which writes like send.
 *
 * poll and select: when nothing is pending anywhere in the process the
 * hook is one relaxed load and a tail call.  Otherwise the program's array
 * (or sets) is copied, each pending fd in the copy is replaced by its
 * connection's eventfd (readable once the handshake is over), the real
 * ppoll runs on the copy, and the program gets back the revents it would
 * have had: nothing for a socket still pending; for one that finished
 * meanwhile, what a zero-timeout poll of the socket itself says now (plus
 * POLLERR when it failed).  When only such a completion woke the call and
 * none of the events the program asked for is there, the call goes on
 * waiting for the rest of its timeout.
 *
 * epoll_wait is not hooked: pending sockets are out of the program's epoll
 * sets (async.c).  epoll_ctl costs one bitmap test per call on an fd that
 * is neither fresh (epreg.h) nor pending.
 */
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>

#include "async.h"
#include "bind.h"
#include "epreg.h"
#include "pending.h"
#include "real.h"
#include "safemem.h"

#define STACK_FDS 128

struct sub {
	nfds_t i;
	int fd;
	short events;
	uint64_t ticket;
};

/* What a cancellation in the real poll must undo: the references taken on
 * the eventfds, and the memory the call allocated. */
struct undo {
	struct sub *subs;
	int nsub;
	void *heap[4];	 /* the caller's allocations */
	void *subs_heap; /* poll_own's */
};

static void undo_subs(struct undo *u)
{
	int k, failed;

	for (k = 0; k < u->nsub; k++)
		(void)sfy_async_poll_put(u->subs[k].fd, u->subs[k].ticket,
					 &failed);
	u->nsub = 0;
}

static void undo_cleanup(void *arg)
{
	struct undo *u = arg;
	int k;

	undo_subs(u);
	for (k = 0; k < 4; k++)
		free(u->heap[k]);
	free(u->subs_heap);
}

/* The real ppoll, a cancellation point: a cancel acted on in it runs
 * undo_cleanup. */
static int ppoll_cancellable(struct undo *u, struct pollfd *p, nfds_t n,
			     const struct timespec *tp, const sigset_t *mask)
{
	int rc;

	pthread_cleanup_push(undo_cleanup, u);
	rc = sfy_real()->ppoll(p, n, tp, mask);
	pthread_cleanup_pop(0);
	return rc;
}

static inline int anything_pending(void)
{
	return atomic_load_explicit(&sfy_pending_count, memory_order_relaxed) !=
	       0;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * The core: ppoll over our own array p (n entries), swapping pending fds
 * for their eventfds; until is the CLOCK_MONOTONIC deadline in ns (-1:
 * none).  Returns the count, or -1 with errno.  p's revents are final.
 */
static int poll_own(struct pollfd *p, nfds_t n, long long until,
		    const sigset_t *mask, struct undo *u)
{
	const struct sfy_real *r = sfy_real();
	struct sub stack_subs[STACK_FDS], *subs = stack_subs;
	struct timespec ts, *tp;
	long long d, wake, left;
	nfds_t i, cap = STACK_FDS;
	int nsub, k, efd, failed, rc, count, err, cs;
	uint64_t t;

	for (;;) {
		nsub = 0;
		wake = until;
		for (i = 0; i < n; i++) {
			if (!sfy_is_pending(p[i].fd))
				continue;
			efd = sfy_async_poll_get(p[i].fd, &t, &d);
			if (efd < 0)
				continue;
			if ((nfds_t)nsub == cap) {
				struct sub *m = malloc(sizeof(*m) * n);

				if (!m) {
					(void)sfy_async_poll_put(p[i].fd, t,
								 &failed);
					for (k = 0; k < nsub; k++) {
						p[subs[k].i].fd = subs[k].fd;
						p[subs[k].i].events =
						    subs[k].events;
						(void)sfy_async_poll_put(
						    subs[k].fd, subs[k].ticket,
						    &failed);
					}
					if (subs != stack_subs)
						free(subs);
					errno = ENOMEM;
					return -1;
				}
				memcpy(m, subs, sizeof(*m) * (size_t)nsub);
				subs = m;
				u->subs_heap = m;
				cap = n;
			}
			subs[nsub].i = i;
			subs[nsub].fd = p[i].fd;
			subs[nsub].events = p[i].events;
			subs[nsub].ticket = t;
			nsub++;
			p[i].fd = efd;
			p[i].events = POLLIN;
			/* Driven by another process: look again at its
			 * deadline (it may be gone). */
			if (d && (wake < 0 || d * 1000000LL < wake))
				wake = d * 1000000LL;
		}
		tp = NULL;
		if (wake >= 0) {
			left = wake - now_ns();
			if (left < 0)
				left = 0;
			ts.tv_sec = (time_t)(left / 1000000000LL);
			ts.tv_nsec = (long)(left % 1000000000LL);
			tp = &ts;
		}
		u->subs = subs;
		u->nsub = nsub;
		rc = ppoll_cancellable(u, p, n, tp, mask);
		err = errno;
		u->nsub = 0;
		/* From here each reference is dropped as it is looked at:
		 * no cancellation point may cut that short. */
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
		for (k = 0; k < nsub; k++) {
			struct pollfd *e = &p[subs[k].i];
			struct pollfd one = {.fd = subs[k].fd,
					     .events = subs[k].events};

			e->fd = subs[k].fd;
			e->events = subs[k].events;
			if (sfy_async_poll_put(subs[k].fd, subs[k].ticket,
					       &failed) &&
			    rc >= 0) {
				(void)r->poll(&one, 1, 0);
				e->revents = (short)(one.revents |
						     (failed ? POLLERR : 0));
			} else {
				e->revents = 0;
			}
		}
		pthread_setcancelstate(cs, &cs);
		if (subs != stack_subs)
			free(subs);
		u->subs_heap = NULL;
		subs = stack_subs;
		cap = STACK_FDS;
		if (rc < 0) {
			errno = err;
			return -1;
		}
		if (nsub == 0)
			return rc;
		for (count = 0, i = 0; i < n; i++)
			if (p[i].revents)
				count++;
		if (count > 0 || (until >= 0 && now_ns() >= until))
			return count;
		/* Woken by a completion that brought nothing asked for (or
		 * by another process's deadline): wait on. */
	}
}

/* poll/ppoll with something pending: on a copy of the program's array. */
static __attribute__((noinline)) int poll_slow(struct pollfd *ufds, nfds_t n,
					       const struct timespec *tmo,
					       int ms, const sigset_t *mask)
{
	struct pollfd stack[STACK_FDS], *p = stack;
	struct undo u;
	struct timespec t;
	long long until = -1;
	int rc, err;

	memset(&u, 0, sizeof(u));
	if (n > (nfds_t)1 << 20) /* the kernel's EINVAL */
		return sfy_real()->ppoll(ufds, n, tmo, mask);
	if (tmo) {
		if (sfy_copy_in(&t, tmo, sizeof(t)) < 0) {
			errno = EFAULT;
			return -1;
		}
		if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= 1000000000L)
			return sfy_real()->ppoll(ufds, n, tmo, mask);
		until = now_ns() +
			(t.tv_sec > (LLONG_MAX / 2000000000LL)
			     ? LLONG_MAX / 2
			     : (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
	} else if (ms >= 0) {
		until = now_ns() + (long long)ms * 1000000LL;
	}
	if (n > STACK_FDS) {
		p = malloc(sizeof(*p) * n);
		if (!p) {
			errno = ENOMEM;
			return -1;
		}
		u.heap[0] = p;
	}
	if (n && sfy_copy_in(p, ufds, sizeof(*p) * n) < 0) {
		if (p != stack)
			free(p);
		errno = EFAULT;
		return -1;
	}
	rc = poll_own(p, n, until, mask, &u);
	err = errno;
	if (rc >= 0 && n && sfy_copy_out(ufds, p, sizeof(*p) * n) < 0) {
		rc = -1;
		err = EFAULT;
	}
	if (p != stack)
		free(p);
	errno = err;
	return rc;
}

/* A waiting BIND session: see sfy_bind_hold (bind.h). */
static inline int bind_waiting(void)
{
	return atomic_load_explicit(&sfy_bind_waiting, memory_order_relaxed) !=
	       0;
}

static int shim_poll(struct pollfd *fds, nfds_t n, int ms)
{
	int rc;

	if (__builtin_expect(anything_pending(), 0) && n)
		return poll_slow(fds, n, NULL, ms, NULL);
	if (__builtin_expect(!bind_waiting(), 1))
		return REAL_CALL(poll, fds, n, ms);
	rc = REAL_CALL(poll, fds, n, ms);
	return rc > 0 ? sfy_bind_hold(fds, n, rc) : rc;
}

static int shim_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t,
		      const sigset_t *mask)
{
	int rc;

	if (__builtin_expect(anything_pending(), 0) && n)
		return poll_slow(fds, n, t, -1, mask);
	if (__builtin_expect(!bind_waiting(), 1))
		return REAL_CALL(ppoll, fds, n, t, mask);
	rc = REAL_CALL(ppoll, fds, n, t, mask);
	return rc > 0 ? sfy_bind_hold(fds, n, rc) : rc;
}

/* --- select ----------------------------------------------------------------
 */

#define SET_BYTES(n) ((((size_t)(n) + 63) / 64) * 8)

static int set_has(const unsigned char *s, int fd)
{
	return s && (s[fd / 8] >> (fd % 8)) & 1;
}

static void set_put(unsigned char *s, int fd)
{
	s[fd / 8] |= (unsigned char)(1u << (fd % 8));
}

/* Linux's select leaves the time not slept in *tv (also when a signal cut
 * the wait short). */
static void time_left(struct timeval *tv, long long until)
{
	struct timeval rem = {0, 0};
	long long left = until - now_ns();

	if (left > 0) {
		rem.tv_sec = (time_t)(left / 1000000000LL);
		rem.tv_usec = (suseconds_t)(left % 1000000000LL / 1000);
	}
	(void)sfy_copy_out(tv, &rem, sizeof(rem));
}

/*
 * select/pselect with something pending: when a pending fd is in a set,
 * as a ppoll over the fds the sets name.  Returns -2 when none is (the
 * real call then runs, untouched).
 */
static __attribute__((noinline)) int select_slow(int nfds, fd_set *ur,
						 fd_set *uw, fd_set *ux,
						 const struct timespec *tmo,
						 struct timeval *tv,
						 const sigset_t *mask)
{
	unsigned char *sets[3] = {NULL, NULL, NULL};
	fd_set *user[3] = {ur, uw, ux};
	struct pollfd stack[STACK_FDS], *p = stack;
	size_t bytes;
	long long until = -1;
	nfds_t n = 0, cap = STACK_FDS;
	int fd, k, any = 0, rc = -2, count = 0, err = 0;
	struct undo u;
	short ev;

	memset(&u, 0, sizeof(u));
	if (nfds <= 0 || nfds > 1 << 20)
		return -2;
	bytes = SET_BYTES(nfds);
	for (k = 0; k < 3; k++) {
		if (!user[k])
			continue;
		sets[k] = malloc(bytes);
		u.heap[k] = sets[k];
		if (!sets[k]) {
			err = ENOMEM;
			goto out;
		}
		if (sfy_copy_in(sets[k], user[k], bytes) < 0) {
			err = EFAULT;
			goto out;
		}
	}
	for (fd = 0; fd < nfds && !any; fd++)
		if ((set_has(sets[0], fd) || set_has(sets[1], fd) ||
		     set_has(sets[2], fd)) &&
		    sfy_async_entry(fd) && sfy_is_pending(fd))
			any = 1;
	if (!any)
		goto out; /* rc -2 */
	if (tmo)
		until =
		    now_ns() + (tmo->tv_sec > LLONG_MAX / 2000000000LL
				    ? LLONG_MAX / 2
				    : (long long)tmo->tv_sec * 1000000000LL +
					  tmo->tv_nsec);
	for (fd = 0; fd < nfds; fd++) {
		ev = (short)((set_has(sets[0], fd) ? POLLIN : 0) |
			     (set_has(sets[1], fd) ? POLLOUT : 0) |
			     (set_has(sets[2], fd) ? POLLPRI : 0));
		if (!ev)
			continue;
		if (n == cap) {
			struct pollfd *m = malloc(sizeof(*m) * (size_t)nfds);

			if (!m) {
				err = ENOMEM;
				rc = -1;
				goto out;
			}
			memcpy(m, p, sizeof(*m) * n);
			p = m;
			u.heap[3] = m;
			cap = (nfds_t)nfds;
		}
		p[n].fd = fd;
		p[n].events = ev;
		p[n].revents = 0;
		n++;
	}
	rc = poll_own(p, n, until, mask, &u);
	if (rc < 0) {
		err = errno;
		if (tv && err == EINTR)
			time_left(tv, until);
		goto out;
	}
	for (k = 0; k < 3; k++)
		if (sets[k])
			memset(sets[k], 0, bytes);
	for (nfds_t i = 0; i < n; i++) {
		short re = p[i].revents;

		if (re & POLLNVAL) {
			rc = -1;
			err = EBADF;
			goto out;
		}
		if (sets[0] && (p[i].events & POLLIN) &&
		    (re &
		     (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR))) {
			set_put(sets[0], p[i].fd);
			count++;
		}
		if (sets[1] && (p[i].events & POLLOUT) &&
		    (re & (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR))) {
			set_put(sets[1], p[i].fd);
			count++;
		}
		if (sets[2] && (p[i].events & POLLPRI) && (re & POLLPRI)) {
			set_put(sets[2], p[i].fd);
			count++;
		}
	}
	for (k = 0; k < 3; k++)
		if (sets[k] && sfy_copy_out(user[k], sets[k], bytes) < 0) {
			rc = -1;
			err = EFAULT;
			goto out;
		}
	if (tv)
		time_left(tv, until);
	rc = count;
out:
	for (k = 0; k < 3; k++)
		free(sets[k]);
	if (p != stack)
		free(p);
	if (rc == -1 || (rc == -2 && err)) {
		errno = err;
		return -1;
	}
	return rc;
}

static int shim_select(int nfds, fd_set *r, fd_set *w, fd_set *x,
		       struct timeval *tv)
{
	struct timeval t;
	struct timespec ts;
	int rc;

	if (__builtin_expect(anything_pending(), 0)) {
		if (tv) {
			if (sfy_copy_in(&t, tv, sizeof(t)) < 0) {
				errno = EFAULT;
				return -1;
			}
			if (t.tv_sec < 0 || t.tv_usec < 0 ||
			    t.tv_usec >= 1000000)
				return REAL_CALL(select, nfds, r, w, x, tv);
			ts.tv_sec = t.tv_sec;
			ts.tv_nsec = t.tv_usec * 1000;
		}
		rc = select_slow(nfds, r, w, x, tv ? &ts : NULL, tv, NULL);
		if (rc != -2)
			return rc;
	}
	return REAL_CALL(select, nfds, r, w, x, tv);
}

static int shim_pselect(int nfds, fd_set *r, fd_set *w, fd_set *x,
			const struct timespec *tmo, const sigset_t *mask)
{
	struct timespec ts;
	int rc;

	if (__builtin_expect(anything_pending(), 0)) {
		if (tmo) {
			if (sfy_copy_in(&ts, tmo, sizeof(ts)) < 0) {
				errno = EFAULT;
				return -1;
			}
			if (ts.tv_sec < 0 || ts.tv_nsec < 0 ||
			    ts.tv_nsec >= 1000000000L)
				return REAL_CALL(pselect, nfds, r, w, x, tmo,
						 mask);
		}
		rc = select_slow(nfds, r, w, x, tmo ? &ts : NULL, NULL, mask);
		if (rc != -2)
			return rc;
	}
	return REAL_CALL(pselect, nfds, r, w, x, tmo, mask);
}

/* --- epoll_ctl, getsockopt, sendfile ----------------------------------------
 */

static __attribute__((noinline)) int epoll_ctl_slow(int epfd, int op, int fd,
						    struct epoll_event *ev)
{
	struct epoll_event cp, *evp = NULL;
	int rc;

	if (ev && op != EPOLL_CTL_DEL) {
		if (sfy_copy_in(&cp, ev, sizeof(cp)) < 0) {
			errno = EFAULT;
			return -1;
		}
		evp = &cp;
	}
	if (sfy_is_pending(fd)) {
		if (!evp && op != EPOLL_CTL_DEL)
			return REAL_CALL(epoll_ctl, epfd, op, fd,
					 ev); /* EFAULT */
		rc = sfy_async_epoll_ctl(epfd, op, fd, evp);
		if (rc != 1) {
			if (rc < 0) {
				errno = -rc;
				return -1;
			}
			return 0;
		}
	}
	rc = REAL_CALL(epoll_ctl, epfd, op, fd, ev);
	if (rc == 0 && sfy_is_fresh(fd))
		sfy_epreg_note(epfd, op, fd, evp);
	return rc;
}

static int shim_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (__builtin_expect(sfy_is_fresh(fd) || sfy_is_pending(fd), 0))
		return epoll_ctl_slow(epfd, op, fd, ev);
	return REAL_CALL(epoll_ctl, epfd, op, fd, ev);
}

static __attribute__((noinline, cold)) int so_error(int fd, void *val,
						    socklen_t *len)
{
	socklen_t have, l;
	int err;

	if (!sfy_async_so_error(fd, &err))
		return REAL_CALL(getsockopt, fd, SOL_SOCKET, SO_ERROR, val,
				 len);
	if (sfy_copy_in(&have, len, sizeof(have)) < 0) {
		errno = EFAULT;
		return -1;
	}
	if ((int)have < 0) {
		errno = EINVAL;
		return -1;
	}
	l = have < sizeof(err) ? have : (socklen_t)sizeof(err);
	if (sfy_copy_out(val, &err, l) < 0 ||
	    sfy_copy_out(len, &l, sizeof(l)) < 0) {
		errno = EFAULT;
		return -1;
	}
	return 0;
}

static int shim_getsockopt(int fd, int level, int opt, void *val,
			   socklen_t *len)
{
	if (__builtin_expect(level == SOL_SOCKET && opt == SO_ERROR, 0) &&
	    sfy_async_entry(fd))
		return so_error(fd, val, len);
	return REAL_CALL(getsockopt, fd, level, opt, val, len);
}

/* --- exported hooks ----------------------------------------------------------
 */

SFY_EXPORT int poll(struct pollfd *fds, nfds_t n, int ms)
{
	return shim_poll(fds, n, ms);
}

SFY_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int ms, size_t len)
{
	if (len / sizeof(*fds) < n)
		return REAL_CALL(poll_chk, fds, n, ms, len); /* fortify */
	return shim_poll(fds, n, ms);
}

SFY_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t,
		     const sigset_t *mask)
{
	return shim_ppoll(fds, n, t, mask);
}

SFY_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n,
			   const struct timespec *t, const sigset_t *mask,
			   size_t len)
{
	if (len / sizeof(*fds) < n)
		return REAL_CALL(ppoll_chk, fds, n, t, mask, len);
	return shim_ppoll(fds, n, t, mask);
}

SFY_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *x,
		      struct timeval *tv)
{
	return shim_select(nfds, r, w, x, tv);
}

SFY_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *x,
		       const struct timespec *t, const sigset_t *mask)
{
	return shim_pselect(nfds, r, w, x, t, mask);
}

SFY_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	return shim_epoll_ctl(epfd, op, fd, ev);
}

SFY_EXPORT int getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
	return shim_getsockopt(fd, level, opt, val, len);
}

/* sendfile into a pending socket would write into the handshake. */
SFY_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	if (__builtin_expect(sfy_is_pending(out), 0) &&
	    sfy_pending_io(out, 1, 0))
		return -1;
	return REAL_CALL(sendfile, out, in, off, n);
}

SFY_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
	if (__builtin_expect(sfy_is_pending(out), 0) &&
	    sfy_pending_io(out, 1, 0))
		return -1;
	return REAL_CALL(sendfile64, out, in, off, n);
}
