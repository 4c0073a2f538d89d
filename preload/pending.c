/*
 * pending.c - sockets with a handshake in progress (contract in pending.h).
 */
#include "pending.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "async.h"
#include "real.h"
#include "wait.h"

_Atomic unsigned long sfy_pending_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
atomic_uint sfy_pending_count;

static pthread_mutex_t g_pending_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sfy_pending *g_pending;
/* Bumped at every handshake's end: waiters sleep on it (futex). */
static atomic_uint g_pending_gen;
static pthread_once_t g_pending_once = PTHREAD_ONCE_INIT;
/* This process (a vfork() child, which runs no fork handler, keeps the
 * parent's: its calls are told apart where it matters, by getpid()). */
static pid_t g_self;
/* Threads asleep in sleep_gen: the end of a handshake wakes them only
 * when there are any. */
static atomic_int g_sleepers;

static void mark(int fd, int on)
{
	unsigned int u = (unsigned int)fd;
	unsigned long bit = 1ul << (u % FDT_WORD_BITS);

	if (u >= FDT_BITMAP_FDS)
		return;
	if (on)
		atomic_fetch_or(&sfy_pending_bits[u / FDT_WORD_BITS], bit);
	else
		atomic_fetch_and(&sfy_pending_bits[u / FDT_WORD_BITS], ~bit);
}

static void pending_prepare(void)
{
	pthread_mutex_lock(&g_pending_lock);
}

static void pending_parent(void)
{
	pthread_mutex_unlock(&g_pending_lock);
}

/* The child has none of the threads that ran handshakes: its sockets are
 * ordinary ones (the parent's driver finishes the handshake on the socket
 * they share). */
static void pending_child(void)
{
	struct sfy_pending *p;

	for (p = g_pending; p; p = p->next) {
		mark(p->fd, 0);
		atomic_fetch_sub(&sfy_pending_count, 1);
	}
	g_pending = NULL;
	g_self = getpid();
	pthread_mutex_init(&g_pending_lock, NULL);
}

void sfy_pending_mark(int fd, int on)
{
	if (on) {
		atomic_fetch_add(&sfy_pending_count, 1);
		mark(fd, 1);
	} else {
		mark(fd, 0);
		atomic_fetch_sub(&sfy_pending_count, 1);
	}
}

static void pending_init(void)
{
	g_self = getpid();
	pthread_atfork(pending_prepare, pending_parent, pending_child);
}

/* The record for fd in this process (locked), or NULL.  A vfork() child
 * shares our memory but not our handshakes. */
static struct sfy_pending *find_locked(int fd)
{
	struct sfy_pending *p;

	for (p = g_pending; p; p = p->next)
		if (p->fd == fd)
			return p->pid == getpid() ? p : NULL;
	return NULL;
}

int sfy_pending_begin(struct sfy_pending *p, int fd, int known, int *flags)
{
	int rc = 0;

	pthread_once(&g_pending_once, pending_init);
	p->fd = fd;
	p->close_pending = 0;
	p->pid = g_self;
	pthread_mutex_lock(&g_pending_lock);
	if (g_pending && find_locked(fd)) {
		rc = -EALREADY;
	} else {
		/* The flags as of now (read under the lock unless the caller
		 * just read them): a program F_SETFL from here on lands in
		 * the record. */
		p->flags = known >= 0 ? known : sfy_real()->fcntl(fd, F_GETFL);
		if (p->flags < 0) {
			rc = -errno;
		} else {
			*flags = p->flags;
			p->next = g_pending;
			g_pending = p;
			atomic_fetch_add(&sfy_pending_count, 1);
			mark(fd, 1);
		}
	}
	pthread_mutex_unlock(&g_pending_lock);
	return rc;
}

int sfy_pending_end(struct sfy_pending *p, int driver_flags, int *closed)
{
	struct sfy_pending **pp;
	int saved = errno;

	pthread_mutex_lock(&g_pending_lock);
	/* The program's flags go back before anyone is told the handshake is
	 * over: a woken reader must find its blocking socket blocking. */
	if (p->flags != driver_flags)
		(void)sfy_real()->fcntl(p->fd, F_SETFL, p->flags);
	for (pp = &g_pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			mark(p->fd, 0);
			atomic_fetch_sub(&sfy_pending_count, 1);
			break;
		}
	}
	*closed = p->close_pending;
	atomic_fetch_add(&g_pending_gen, 1);
	pthread_mutex_unlock(&g_pending_lock);
	if (atomic_load(&g_sleepers))
		(void)sfy_real()->syscall(SYS_futex, &g_pending_gen,
					  FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
					  NULL, 0);
	errno = saved;
	return p->flags;
}

/* Sleeps until g_pending_gen moves from gen, or ms (-1: no bound) pass.
 * Returns 0, -ETIMEDOUT or -EINTR.  The futex is restarted by the kernel
 * after an SA_RESTART handler when there is no bound, and gives EINTR
 * otherwise: what a socket call does with and without SO_RCVTIMEO.  A
 * cancellation request is acted on during the sleep, as in a blocking
 * read (nothing is held here). */
static int sleep_gen(unsigned int gen, long long ms)
{
	struct timespec ts, *tp = NULL;
	int old, rc = 0;
	long r;

	if (ms >= 0) {
		ts.tv_sec = (time_t)(ms / 1000);
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
		tp = &ts;
	}
	atomic_fetch_add(&g_sleepers, 1);
	/* The generation may have moved before the count went up: the futex
	 * then returns at once (EAGAIN). */
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
	r = sfy_real()->syscall(SYS_futex, &g_pending_gen, FUTEX_WAIT_PRIVATE,
				gen, tp, NULL, 0);
	if (r < 0 && errno == EINTR)
		rc = -EINTR;
	else if (r < 0 && errno == ETIMEDOUT)
		rc = -ETIMEDOUT;
	pthread_setcanceltype(old, &old);
	atomic_fetch_sub(&g_sleepers, 1);
	return rc;
}

int sfy_pending_wait(int fd, int write, int dontwait)
{
	struct sfy_pending *p;
	long long deadline = -1, left = -1;
	unsigned int gen;
	int nonblock, saved = errno, rc;

	if (sfy_async_entry(fd))
		return sfy_async_wait(fd, write, dontwait);

	for (;;) {
		pthread_mutex_lock(&g_pending_lock);
		p = find_locked(fd);
		nonblock = p && (dontwait || (p->flags & O_NONBLOCK));
		gen = atomic_load(&g_pending_gen);
		pthread_mutex_unlock(&g_pending_lock);
		if (!p) {
			errno = saved;
			return 0;
		}
		if (nonblock)
			return -EAGAIN;
		if (deadline < 0)
			deadline = sfy_socket_deadline(fd, write ? SO_SNDTIMEO
								 : SO_RCVTIMEO);
		if (deadline > 0) {
			left = deadline - sfy_now_ms();
			if (left <= 0)
				return -EAGAIN;
		}
		rc = sleep_gen(gen, deadline > 0 ? left : -1);
		if (rc == -EINTR)
			return rc;
	}
}

void sfy_pending_wait_end(int fd)
{
	unsigned int gen;
	int saved = errno, found;

	if (sfy_async_entry(fd)) {
		sfy_async_wait_end(fd);
		return;
	}

	for (;;) {
		pthread_mutex_lock(&g_pending_lock);
		found = find_locked(fd) != NULL;
		gen = atomic_load(&g_pending_gen);
		pthread_mutex_unlock(&g_pending_lock);
		if (!found)
			break;
		(void)sleep_gen(gen, -1);
	}
	errno = saved;
}

int sfy_pending_getfl(int fd, int *flags)
{
	struct sfy_pending *p;

	pthread_mutex_lock(&g_pending_lock);
	p = find_locked(fd);
	if (p)
		*flags = p->flags;
	pthread_mutex_unlock(&g_pending_lock);
	return p != NULL;
}

int sfy_pending_setfl(int fd, int flags)
{
	struct sfy_pending *p;

	pthread_mutex_lock(&g_pending_lock);
	p = find_locked(fd);
	/* F_SETFL changes only these (fcntl(2)); the rest stays. */
	if (p)
		p->flags = (p->flags & ~(O_APPEND | O_ASYNC | O_DIRECT |
					 O_NOATIME | O_NONBLOCK)) |
			   (flags & (O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME |
				     O_NONBLOCK));
	pthread_mutex_unlock(&g_pending_lock);
	return p != NULL;
}

int sfy_pending_close(int fd)
{
	struct sfy_pending *p;

	if (sfy_async_entry(fd)) {
		sfy_async_forget(fd); /* cancelled: the caller closes it */
		return 0;
	}

	pthread_mutex_lock(&g_pending_lock);
	p = find_locked(fd);
	if (p)
		p->close_pending = 1;
	pthread_mutex_unlock(&g_pending_lock);
	return p != NULL;
}

int sfy_pending_io(int fd, int write, int flags)
{
	int rc = sfy_pending_wait(fd, write, flags & MSG_DONTWAIT);

	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}
