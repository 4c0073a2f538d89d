/*
 * bind.c - inbound TCP through SOCKS BIND (contract and design in bind.h).
 *
 * A session lives in two parts: the process's own (malloc'd: the control
 * connection and the local "poke" connection, both fds of ours, counted
 * references from the fd table, whether this process runs the waiter) and
 * a page shared with children of fork() (MAP_SHARED: the state, the
 * errno, the peer), so that whichever process accepts the one inbound
 * connection sees what the waiter learnt.  g_bind_lock guards the
 * process part; it is taken around fork().
 */
#include "bind.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "epreg.h"
#include "log.h"
#include "ownfd.h"
#include "proxy.h"
#include "real.h"
#include "resolve.h"
#include "safemem.h"
#include "sockkind.h"
#include "socks5.h"
#include "wait.h"

_Atomic unsigned long sfy_eph_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
_Atomic unsigned long sfy_ephq_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
atomic_int sfy_bind_waiting;

/* How long, in all, poll() may be held for one session (sfy_bind_hold). */
#define HOLD_MS 1000

enum bstate {
	B_WAITING = 0, /* for the second reply */
	B_READY,       /* the peer connected: the poke is on its way */
	B_FAILED,      /* err says why; the poke wakes accept to report it */
	B_TAKEN,       /* accept() handed the stream (or the error) over */
	B_DECIDING,    /* a waiter claimed the outcome, READY or FAILED next */
};

/* How long past the deadline a process that watches the reader waits
 * before it takes the wait over from a reader that is still there (its
 * pid lives on, its waiter perhaps not: it exec()ed) and ends it. */
#define ORPHAN_MS 1000

/* The part children of fork() share. */
struct bshared {
	_Atomic int state;
	/* Bumped at each change of state and each cancel (a futex word:
	 * linger waits on it, in every process). */
	_Atomic int seq;
	/* The process reading the second reply (0: none).  The others
	 * watch it, and one takes over when it exits or lets go. */
	_Atomic int owner;
	long long deadline; /* sfy_now_ms(): CLOCK_MONOTONIC, machine-wide */
	uint8_t buf[S5_MAX_REPLY]; /* the second reply as far as read */
	size_t have;
	int err;
	struct sockaddr_storage peer; /* the second reply's, in lfam */
	socklen_t peerlen;
	struct sockaddr_storage poke; /* the poke's local address */
	socklen_t pokelen;
};

struct bsess {
	struct bsess *next; /* g_sessions */
	int refs;	    /* fd table records; g_bind_lock */
	int running;	    /* this process runs the waiter; g_bind_lock */
	_Atomic int cancel; /* the last record went while it ran */
	int told;	    /* a second accept was told; g_bind_lock */
	int listening;	    /* listen() armed it; g_bind_lock */
	int counted;	    /* in sfy_bind_waiting; g_bind_lock */
	int held_ms;	    /* poll() held back for it so far */
	int ctl;	    /* ours: the control connection, -1 once given */
	int wake; /* ours: an eventfd that wakes this process's waiter */
	int poke; /* ours: the connection that wakes the listener */
	/* ours: the waiter's pidfd on the reader it watches (g_bind_lock
	 * for changes: a child of fork() closes its copy) */
	int pidfd;
	int lfam;			/* the listening socket's family */
	struct sockaddr_storage target; /* where the poke connects */
	socklen_t targetlen;
	struct s5_addr expect; /* the BIND request's DST */
	int timeout_ms;
	char desc[400];
	struct bshared *sh;
};

static pthread_mutex_t g_bind_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bsess *g_sessions;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* --- the ephemeral-port marks ------------------------------------------- */

void sfy_eph_clear(int fd)
{
	fdt_bit_set(sfy_eph_bits, fd, 0);
	fdt_bit_set(sfy_ephq_bits, fd, 0);
}

void sfy_bind_note(int fd, const struct sockaddr *sa, socklen_t len,
		   int reported)
{
	struct sockaddr_in in;

	/* sin_port and sin6_port share their offset; the kernel has just
	 * read the bytes. */
	if (!sa || len < sizeof(in.sin_family) + sizeof(in.sin_port) ||
	    sfy_copy_in(&in, sa, sizeof(in.sin_family) + sizeof(in.sin_port)) <
		0 ||
	    (in.sin_family != AF_INET && in.sin_family != AF_INET6))
		return;
	fdt_bit_set(sfy_eph_bits, fd, in.sin_port == 0 || reported);
	fdt_bit_set(sfy_ephq_bits, fd, reported);
}

/* --- sessions ------------------------------------------------------------ */

/* Frees b (unlinked by the caller, nobody else holds it). */
static void sess_free(struct bsess *b)
{
	if (b->counted) {
		b->counted = 0;
		atomic_fetch_sub(&sfy_bind_waiting, 1);
	}
	if (b->ctl >= 0)
		sfy_own_close(b->ctl);
	if (b->poke >= 0)
		sfy_own_close(b->poke);
	if (b->wake >= 0)
		sfy_own_close(b->wake);
	if (b->pidfd >= 0)
		sfy_own_close(b->pidfd);
	if (b->sh)
		munmap(b->sh, sizeof(*b->sh));
	free(b);
}

static void unlink_locked(struct bsess *b)
{
	struct bsess **p;

	for (p = &g_sessions; *p; p = &(*p)->next)
		if (*p == b) {
			*p = b->next;
			return;
		}
}

/* b waits no more (g_bind_lock held). */
static void uncount(struct bsess *b)
{
	if (b->counted) {
		b->counted = 0;
		atomic_fetch_sub(&sfy_bind_waiting, 1);
	}
}

/* Wakes the waiters of every process that linger on sh (a futex word in
 * the shared page, not a private one). */
static void state_wake(struct bshared *sh)
{
	atomic_fetch_add(&sh->seq, 1);
	(void)syscall(SYS_futex, &sh->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Wakes b's waiters.  Called under the fd table's lock and g_bind_lock
 * (sess_release, from a close()): write is a cancellation point, and a
 * thread cancelled there would take both locks with it. */
static void wake_up(struct bsess *b)
{
	uint64_t one = 1;
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	if (b->wake >= 0)
		(void)!sfy_real()->write(b->wake, &one, sizeof(one));
	pthread_setcancelstate(old, NULL);
	if (b->sh)
		state_wake(b->sh);
}

/* Our own fds of a session that is over (g_bind_lock held). */
static void close_own(struct bsess *b)
{
	if (b->ctl >= 0)
		sfy_own_close(b->ctl);
	if (b->poke >= 0)
		sfy_own_close(b->poke);
	b->ctl = b->poke = -1;
}

/* A fresh eventfd of ours, or -1. */
static int new_wake(void)
{
	int e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return e < 0 ? -1 : sfy_own_new(e);
}

static int start_waiter(struct bsess *b);

static void sess_hold(void *p)
{
	struct bsess *b = p;

	pthread_mutex_lock(&g_bind_lock);
	b->refs++;
	pthread_mutex_unlock(&g_bind_lock);
}

/* The last record of a session going (close, close_range, dup2 over it):
 * its fds go, or, while this process waits for the peer, the waiter is
 * woken (the shutdown) and frees it.  Called with the fd table's lock
 * held. */
static void sess_release(void *p)
{
	struct bsess *b = p;

	pthread_mutex_lock(&g_bind_lock);
	if (--b->refs > 0) {
		pthread_mutex_unlock(&g_bind_lock);
		return;
	}
	if (b->running) {
		/* Not shutdown(): a child of fork() may hold the socket
		 * still, and take the wait over. */
		atomic_store(&b->cancel, 1);
		wake_up(b);
		pthread_mutex_unlock(&g_bind_lock);
		return;
	}
	unlink_locked(b);
	pthread_mutex_unlock(&g_bind_lock);
	sess_free(b);
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&g_bind_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&g_bind_lock);
}

/* The child has no waiter: the parent's serves both (the shared page).
 * A session whose last record went while the parent's waiter ran is the
 * child's to free (its copies of our fds); one another process took
 * already leaves the child nothing to hold (its copy of the stream would
 * keep it open); any other gets a waiter of the child's own, which
 * watches the reader (and takes over when it goes) and, once a process
 * took the stream, drops the child's copies (linger). */
static void fork_child(void)
{
	struct bsess **p = &g_sessions, *b;

	pthread_mutex_init(&g_bind_lock, NULL);
	while ((b = *p) != NULL) {
		b->running = 0;
		if (b->wake >= 0)
			sfy_own_close(b->wake); /* the parent's */
		b->wake = new_wake();
		if (b->pidfd >= 0) /* the parent's waiter's */
			sfy_own_close(b->pidfd);
		b->pidfd = -1;
		if (b->refs <= 0) {
			*p = b->next;
			sess_free(b);
			continue;
		}
		p = &b->next;
		if (!b->listening)
			continue;
		if (atomic_load(&b->sh->state) == B_TAKEN) {
			close_own(b);
			continue;
		}
		if (b->wake >= 0) {
			atomic_store(&b->cancel, 0);
			b->running = 1;
			if (start_waiter(b) < 0)
				b->running = 0;
		}
	}
}

static void install(void)
{
	fdt_set_assoc_hooks(SFY_FD_TCP_LISTEN, sess_hold, sess_release);
}

/* Registered at load, before the fd table registers its own (on first
 * use): prepare handlers run in reverse order, so fork() takes the
 * table's lock first and g_bind_lock second, the order they nest in
 * (sess_hold and sess_release run under the table's lock). */
__attribute__((constructor)) static void bind_load(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* --- the waiter ---------------------------------------------------------- */

static int same_host(const struct sockaddr_storage *a,
		     const struct s5_addr *want)
{
	const uint8_t *p;

	if (a->ss_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
		return want->atyp == S5_ATYP_IPV4 && !memcmp(p, want->u.v4, 4);
	}
	p = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
	if (want->atyp == S5_ATYP_IPV6)
		return !memcmp(p, want->u.v6, 16);
	/* v4-mapped, on an IPv6 listener */
	return want->atyp == S5_ATYP_IPV4 &&
	       !memcmp(p, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) &&
	       !memcmp(p + 12, want->u.v4, 4);
}

/* 1 when the expected peer is "anyone" (0.0.0.0, ::) or a name (the
 * proxy resolved it and judged). */
static int expect_any(const struct s5_addr *e)
{
	static const uint8_t zero[16];

	return e->atyp == S5_ATYP_DOMAIN ||
	       (e->atyp == S5_ATYP_IPV4 && !memcmp(e->u.v4, zero, 4)) ||
	       (e->atyp == S5_ATYP_IPV6 && !memcmp(e->u.v6, zero, 16));
}

/* Reads the second reply (exactly its bytes: what follows is the peer's
 * stream), continuing where an earlier reader left off (the shared
 * page).  Returns 0 with *peer set, -ECANCELED when this process lets go,
 * or another -errno with *why set. */
static int second_reply(struct bsess *b, struct s5_addr *peer, const char **why)
{
	const struct sfy_real *r = sfy_real();
	struct bshared *sh = b->sh;
	long long left;
	uint8_t rep = 0;
	size_t used;
	struct pollfd pfd[2];
	uint64_t v;
	ssize_t n;
	int need;

	for (;;) {
		need = s5_parse_reply(sh->buf, sh->have, &rep, peer, &used);
		if (need == 0)
			break;
		if (need < 0 || sh->have + (size_t)need > sizeof(sh->buf)) {
			*why = "garbled second reply from the proxy";
			return -EPROTO;
		}
		left = sh->deadline - sfy_now_ms();
		if (left <= 0) {
			*why = "no peer connected in time (bind_timeout)";
			return -ETIMEDOUT;
		}
		pfd[0].fd = b->ctl;
		pfd[0].events = POLLIN;
		pfd[1].fd = b->wake;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (r->poll(pfd, 2, left > 60000 ? 60000 : (int)left) < 0 &&
		    errno != EINTR) {
			*why = "cannot wait for the proxy";
			return -errno;
		}
		if (pfd[1].revents)
			(void)!sfy_real()->read(b->wake, &v, sizeof(v));
		if (atomic_load(&b->cancel))
			return -ECANCELED;
		if (!pfd[0].revents)
			continue;
		n = r->recv(b->ctl, sh->buf + sh->have, (size_t)need,
			    MSG_DONTWAIT);
		if (n > 0) {
			sh->have += (size_t)n;
			continue;
		}
		if (n == 0) {
			*why = sh->have ? "the proxy closed the connection in "
					  "the middle of the second reply"
					: "the proxy closed the connection "
					  "before a peer connected";
			return -ECONNABORTED;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			*why = "cannot read from the proxy";
			return -errno;
		}
	}
	if (rep != S5_REP_SUCCEEDED) {
		*why = s5_reply_str(rep);
		/* accept(2): EPERM "firewall rules forbid connection". */
		return rep == S5_REP_NOT_ALLOWED ? -EPERM : -ECONNABORTED;
	}
	return 0;
}

/* b's pidfd: replaced by one on pid (0: none), under g_bind_lock, so that
 * a child of fork() knows which number it inherited.  Returns
 * pidfd_open's errno, or 0. */
static int set_pidfd(struct bsess *b, int pid)
{
	int pfd = -1, e = 0;

	pthread_mutex_lock(&g_bind_lock);
	if (b->pidfd >= 0)
		sfy_own_close(b->pidfd);
	if (pid > 0) {
		pfd = (int)syscall(SYS_pidfd_open, pid, 0);
		e = pfd < 0 ? errno : 0;
		if (pfd >= 0)
			pfd = sfy_own_new(pfd);
	}
	b->pidfd = pfd;
	pthread_mutex_unlock(&g_bind_lock);
	return e;
}

/* 1 when process pid has exited (a zombie too).  b->pidfd watches it. */
static int owner_gone(struct bsess *b, int pid, int *watched)
{
	struct pollfd p;

	if (*watched != pid) {
		*watched = pid;
		if (set_pidfd(b, pid) == ESRCH)
			return 1;
	}
	if (b->pidfd < 0) /* no pidfd_open: kill(0) (a zombie looks alive) */
		return kill(pid, 0) < 0 && errno == ESRCH;
	p.fd = b->pidfd;
	p.events = POLLIN;
	p.revents = 0;
	return sfy_real()->poll(&p, 1, 0) == 1;
}

/* Until the second reply is read here, or by another process, or this
 * process lets go: watches the reader, takes over when it goes.  Returns
 * what second_reply() does, or -EALREADY (another process finished). */
static int wait_turn(struct bsess *b, struct s5_addr *peer, const char **why)
{
	struct bshared *sh = b->sh;
	struct pollfd pfd[2];
	int me = getpid(), own, watched = 0, rc;
	uint64_t v;

	for (;;) {
		if (atomic_load(&b->cancel)) {
			rc = -ECANCELED;
			break;
		}
		if (atomic_load(&sh->state) != B_WAITING) {
			rc = -EALREADY;
			break;
		}
		own = atomic_load(&sh->owner);
		if (own == me) {
			rc = second_reply(b, peer, why);
			if (rc == -ECANCELED) /* let another process go on */
				atomic_compare_exchange_strong(&sh->owner, &own,
							       0);
			break;
		}
		if (own == 0 || owner_gone(b, own, &watched) ||
		    sfy_now_ms() > sh->deadline + ORPHAN_MS) {
			atomic_compare_exchange_strong(&sh->owner, &own, me);
			continue;
		}
		pfd[0].fd = b->wake;
		pfd[0].events = POLLIN;
		pfd[1].fd = b->pidfd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (sfy_real()->poll(pfd, 2, 250) > 0 && pfd[0].revents)
			(void)!sfy_real()->read(b->wake, &v, sizeof(v));
	}
	if (b->pidfd >= 0)
		set_pidfd(b, 0);
	return rc;
}

/* Makes the one local connection that wakes the listener.  Returns 0 or
 * -errno. */
static int poke(struct bsess *b)
{
	if (REAL_CALL(connect, b->poke, (struct sockaddr *)&b->target,
		      b->targetlen) == 0 ||
	    errno == EINPROGRESS)
		return 0;
	return -errno;
}

/*
 * After the outcome, until a process takes it (accept) or this one lets go
 * (its last record of the listener goes): the process that took the stream
 * holds it, and every other one drops its copies of the control
 * connection, or the peer would see no end of the stream while any copy
 * is open (fork: an accepted socket of the kernel's is only the
 * acceptor's); a failed session's control connection goes at once, its
 * poke once taken (closed before it is accepted, it might never arrive).
 */
static void linger(struct bsess *b)
{
	struct bshared *sh = b->sh;
	struct timespec tick = {1, 0};
	int st, seq;

	for (;;) {
		/* First: a change or a cancel after this makes the wait
		 * below return at once. */
		seq = atomic_load(&sh->seq);
		if (atomic_load(&b->cancel))
			return;
		st = atomic_load(&sh->state);
		if (st == B_FAILED || st == B_TAKEN) {
			pthread_mutex_lock(&g_bind_lock);
			if (st == B_TAKEN) {
				close_own(b);
			} else if (b->ctl >= 0) {
				sfy_own_close(b->ctl);
				b->ctl = -1;
			}
			pthread_mutex_unlock(&g_bind_lock);
			if (st == B_TAKEN)
				return;
		}
		/* Woken by a change of state in any process, or a cancel
		 * here; the tick is a safety net. */
		(void)syscall(SYS_futex, &sh->seq, FUTEX_WAIT, seq, &tick, NULL,
			      0);
	}
}

/* The waiter of b stops (g_bind_lock held, and dropped here); b goes when
 * its last record went meanwhile. */
static void waiter_done(struct bsess *b)
{
	b->running = 0;
	uncount(b);
	if (b->refs <= 0) {
		unlink_locked(b);
		pthread_mutex_unlock(&g_bind_lock);
		sess_free(b);
		return;
	}
	pthread_mutex_unlock(&g_bind_lock);
}

static void *waiter(void *arg)
{
	struct bsess *b = arg;
	struct s5_addr peer;
	struct sockaddr_storage psa;
	socklen_t plen = 0;
	const char *why = NULL;
	char pbuf[SFY_ADDRSTRLEN];
	int rc, st, pk;

	(void)pthread_setname_np(pthread_self(), "socksify-bind");
	rc = wait_turn(b, &peer, &why);
	if (rc == 0) {
		rc = sfy_bnd_sockaddr(b->ctl, b->lfam, &peer, &psa, &plen);
		if (rc < 0)
			why =
			    rc == -ENETUNREACH
				? "the peer is IPv6 and this is an IPv4 socket"
				: "the second reply names no address";
		if (rc == -ENETUNREACH)
			rc = -EAFNOSUPPORT;
		else if (rc < 0)
			rc = -EPROTO;
	}
	if (rc == 0 && !expect_any(&b->expect) && !same_host(&psa, &b->expect))
		rc = -EXDEV; /* logged as such, reported as ECONNABORTED */
	/* The line first: a program that sees the end may exit at once.
	 * b stays while it runs (sess_release leaves it to the waiter). */
	if (rc != -ECANCELED && rc != -EALREADY && !atomic_load(&b->cancel)) {
		if (rc == 0 || rc == -EXDEV)
			sfy_fmt_addr((struct sockaddr *)&psa, plen, pbuf,
				     sizeof(pbuf));
		if (rc == 0)
			sfy_log(SFY_LOG_INFO, "BIND for %s: %s connected",
				b->desc, pbuf);
		else if (rc == -EXDEV)
			sfy_log(SFY_LOG_ERROR,
				"BIND for %s: %s connected, not the expected "
				"peer; dropped (accept gets ECONNABORTED)",
				b->desc, pbuf);
		else
			sfy_log(SFY_LOG_ERROR,
				"BIND for %s failed: %s (accept gets %s)",
				b->desc, why ? why : strerror(-rc),
				strerrorname_np(-rc));
	}
	if (rc == -EXDEV)
		rc = -ECONNABORTED;
	pthread_mutex_lock(&g_bind_lock);
	if (atomic_load(&b->cancel) || rc == -ECANCELED) {
		/* The last record went. */
		if (atomic_load(&b->sh->owner) == getpid()) {
			int me = getpid();

			atomic_compare_exchange_strong(&b->sh->owner, &me, 0);
		}
		waiter_done(b);
		return NULL;
	}
	/* One process decides: a reader whose wait was taken over past the
	 * deadline (ORPHAN_MS) may still come back here. */
	st = B_WAITING;
	if (rc == -EALREADY ||
	    !atomic_compare_exchange_strong(&b->sh->state, &st, B_DECIDING)) {
		/* Another process decided. */
		uncount(b);
		pthread_mutex_unlock(&g_bind_lock);
		linger(b);
		pthread_mutex_lock(&g_bind_lock);
		waiter_done(b);
		return NULL;
	}
	if (rc == 0) {
		memcpy(&b->sh->peer, &psa, plen);
		b->sh->peerlen = plen;
		st = B_READY;
	} else {
		b->sh->err = -rc;
		st = B_FAILED;
	}
	atomic_store_explicit(&b->sh->state, st, memory_order_release);
	state_wake(b->sh);
	if (st == B_FAILED && b->ctl >= 0) {
		sfy_own_close(b->ctl); /* nothing more to read from it */
		b->ctl = -1;
	}
	pk = poke(b);
	if (pk < 0)
		memcpy(pbuf, b->desc, sizeof(pbuf) - 1);
	uncount(b);
	pthread_mutex_unlock(&g_bind_lock);
	if (pk < 0) {
		pbuf[sizeof(pbuf) - 1] = '\0';
		sfy_log(
		    SFY_LOG_ERROR,
		    "BIND for %.60s...: cannot wake the listening socket (%s)",
		    pbuf, strerrorname_np(-pk));
	}
	linger(b);
	pthread_mutex_lock(&g_bind_lock);
	waiter_done(b);
	return NULL;
}

static int start_waiter(struct bsess *b)
{
	return sfy_start_thread(waiter, b, 128 * 1024);
}

/* --- listen -------------------------------------------------------------- */

/* Where the poke goes: the listener's address, loopback for a wildcard
 * (0.0.0.0, ::ffff:0.0.0.0; :: is ::ffff:127.0.0.1 when dual, a listener
 * that takes IPv4 too, else ::1). */
static void poke_target(const struct sockaddr_storage *l, socklen_t llen,
			int dual, struct sockaddr_storage *t, socklen_t *tlen)
{
	static const uint8_t v4lo[16] = {0, 0, 0,    0,	   0,	0, 0, 0,
					 0, 0, 0xff, 0xff, 127, 0, 0, 1};

	memcpy(t, l, llen);
	*tlen = llen;
	if (l->ss_family == AF_INET) {
		struct sockaddr_in *i = (struct sockaddr_in *)t;

		if (i->sin_addr.s_addr == htonl(INADDR_ANY))
			i->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *i = (struct sockaddr_in6 *)t;

		if (IN6_IS_ADDR_UNSPECIFIED(&i->sin6_addr) && dual)
			/* IPv4's loopback, there even where IPv6 is disabled
			 * (::1 is not, and the poke could not be made) */
			memcpy(&i->sin6_addr, v4lo, sizeof(v4lo));
		else if (IN6_IS_ADDR_UNSPECIFIED(&i->sin6_addr))
			i->sin6_addr = in6addr_loopback;
		else if (IN6_IS_ADDR_V4MAPPED(&i->sin6_addr) &&
			 !memcmp(&i->sin6_addr.s6_addr[12], "\0\0\0\0", 4)) {
			/* ::ffff:0.0.0.0, IPv4's wildcard: bound there, the
			 * poke would not know its own source address (the
			 * filter and is_poke compare it) */
			i->sin6_addr.s6_addr[12] = 127;
			i->sin6_addr.s6_addr[15] = 1;
		}
	}
}

/*
 * The listener's socket filter (classic BPF, run on each packet before TCP
 * looks at it; offsets into the network header via SKF_NET_OFF, the TCP
 * header at 0): lets in the poke (its source address and port) and
 * loopback (local clients of the program's, which never leave the
 * machine); drops the rest, so nobody reaches the program's socket
 * directly.  Built with labels: jump offsets are filled in at the end.
 */
enum { L_V6, L_V6_LOOP, L_PORT, L_ACCEPT, L_DROP, L_COUNT };

struct bpf_build {
	struct sock_filter f[40];
	int n;
	int label[L_COUNT];
	struct {
		int at, jt, jf; /* label numbers, -1: the next instruction */
	} fix[40];
	int nfix;
};

static void op(struct bpf_build *b, uint16_t code, uint32_t k)
{
	b->f[b->n++] = (struct sock_filter)BPF_STMT(code, k);
}

/* A conditional jump to labels jt / jf (-1: fall through). */
static void jeq(struct bpf_build *b, uint32_t k, int jt, int jf)
{
	b->fix[b->nfix].at = b->n;
	b->fix[b->nfix].jt = jt;
	b->fix[b->nfix].jf = jf;
	b->nfix++;
	b->f[b->n++] =
	    (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 0);
}

static void here(struct bpf_build *b, int label)
{
	b->label[label] = b->n;
}

static void attach_filter(int fd, const struct sockaddr_storage *pk)
{
	struct bpf_build b;
	struct sock_fprog prog;
	uint32_t p4 = 0xffffffffu, w[4] = {0, 0, 0, 0};
	uint16_t port;
	int i, v6 = 0;

	memset(&b, 0, sizeof(b));
	if (pk->ss_family == AF_INET) {
		const struct sockaddr_in *i4 = (const void *)pk;

		p4 = ntohl(i4->sin_addr.s_addr);
		port = ntohs(i4->sin_port);
	} else {
		const struct sockaddr_in6 *i6 = (const void *)pk;

		port = ntohs(i6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&i6->sin6_addr)) {
			memcpy(&p4, &i6->sin6_addr.s6_addr[12], 4);
			p4 = ntohl(p4);
		} else {
			v6 = 1;
			for (i = 0; i < 4; i++) {
				memcpy(&w[i], &i6->sin6_addr.s6_addr[4 * i], 4);
				w[i] = ntohl(w[i]);
			}
		}
	}
	/* IPv4 or IPv6 header? */
	op(&b, BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF);
	op(&b, BPF_ALU | BPF_RSH | BPF_K, 4);
	jeq(&b, 6, L_V6, -1);
	/* IPv4: 127/8, or the poke's address */
	op(&b, BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12);
	op(&b, BPF_MISC | BPF_TAX, 0);
	op(&b, BPF_ALU | BPF_AND | BPF_K, 0xff000000u);
	jeq(&b, 0x7f000000u, L_ACCEPT, -1);
	op(&b, BPF_MISC | BPF_TXA, 0);
	jeq(&b, p4, L_PORT, L_DROP);
	/* IPv6: ::1, or the poke's address */
	here(&b, L_V6);
	for (i = 0; i < 4; i++) {
		op(&b, BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 8 + 4 * i);
		jeq(&b, i == 3 ? 1 : 0, i == 3 ? L_ACCEPT : -1, L_V6_LOOP);
	}
	here(&b, L_V6_LOOP);
	if (v6)
		for (i = 0; i < 4; i++) {
			op(&b, BPF_LD | BPF_W | BPF_ABS,
			   SKF_NET_OFF + 8 + 4 * i);
			jeq(&b, w[i], i == 3 ? L_PORT : -1, L_DROP);
		}
	else
		op(&b, BPF_JMP | BPF_JA, 0); /* patched below: to L_DROP */
	here(&b, L_PORT);
	op(&b, BPF_LD | BPF_H | BPF_ABS, 0); /* the TCP source port */
	jeq(&b, port, L_ACCEPT, L_DROP);
	here(&b, L_ACCEPT);
	op(&b, BPF_RET | BPF_K, 0xffffffffu);
	here(&b, L_DROP);
	op(&b, BPF_RET | BPF_K, 0);
	if (!v6)
		b.f[b.label[L_PORT] - 1].k =
		    (uint32_t)(b.label[L_DROP] - b.label[L_PORT]);
	for (i = 0; i < b.nfix; i++) {
		int at = b.fix[i].at;

		if (b.fix[i].jt >= 0)
			b.f[at].jt = (uint8_t)(b.label[b.fix[i].jt] - at - 1);
		if (b.fix[i].jf >= 0)
			b.f[at].jf = (uint8_t)(b.label[b.fix[i].jf] - at - 1);
	}
	prog.len = (unsigned short)b.n;
	prog.filter = b.f;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) <
	    0)
		sfy_log(SFY_LOG_WARN,
			"listening fd %d: cannot filter direct connections "
			"(%s); accept() drops them",
			fd, strerrorname_np(errno));
}

/* The poke socket: bound now (its address goes into the filter), made
 * non-blocking and close-on-exec.  Returns it or -errno. */
static int make_poke(struct bsess *b)
{
	struct sockaddr_storage src;
	socklen_t sl = b->targetlen;
	int s = REAL_CALL(socket, b->lfam,
			  SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (s < 0)
		return -errno;
	s = sfy_own_new(s);
	if (b->lfam == AF_INET6) {
		int off = 0; /* a v4-mapped source, whatever bindv6only says */

		(void)setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off,
				 sizeof(off));
	}
	memcpy(&src, &b->target, b->targetlen);
	((struct sockaddr_in *)&src)->sin_port = 0; /* same offset in v6 */
	if (REAL_CALL(bind, s, (struct sockaddr *)&src, b->targetlen) < 0 ||
	    REAL_CALL(getsockname, s, (struct sockaddr *)&b->sh->poke, &sl) <
		0) {
		int e = errno;

		sfy_own_close(s);
		return -e;
	}
	b->sh->pokelen = sl;
	return s;
}

/* The expected peer: the most recent proxied connection's (by name when
 * it was a placeholder), any port; or anyone.  *what names it. */
static void expected_peer(const struct cfg *c, int fam, struct s5_addr *e,
			  char *what, size_t cap)
{
	struct sfy_fdinfo pi;
	char name[256];
	int n;

	memset(e, 0, sizeof(*e));
	e->atyp = fam == AF_INET6 ? S5_ATYP_IPV6 : S5_ATYP_IPV4;
	snprintf(what, cap, "any peer");
	if (fdt_latest(fam, &pi) < 0)
		return;
	n = sfy_placeholder_name(c, (struct sockaddr *)&pi.peer, pi.peerlen,
				 name, sizeof(name));
	if (n > 0) {
		/* The name's address family is the proxy's choice, and so
		 * would be the family of the address it listens on: ask for
		 * any peer, in the family the proxy reached the name with
		 * (its CONNECT reply's BND: an IPv6 socket to the name's
		 * IPv6 placeholder may have reached an IPv4-only server,
		 * which takes a data connection only from the address its
		 * control connection came from), else the socket's. */
		struct s5_addr b;

		if (fam == AF_INET6 && pi.bndlen &&
		    s5_addr_from_sockaddr(&b, (struct sockaddr *)&pi.bnd,
					  pi.bndlen) == 0 &&
		    b.atyp == S5_ATYP_IPV4)
			e->atyp = S5_ATYP_IPV4;
		snprintf(what, cap, "peer %s, asked as any %s address", name,
			 e->atyp == S5_ATYP_IPV4 ? "IPv4" : "IPv6");
		return;
	}
	if (s5_addr_from_sockaddr(e, (struct sockaddr *)&pi.peer, pi.peerlen) <
	    0)
		return;
	e->port = 0;
	if (inet_ntop(e->atyp == S5_ATYP_IPV4 ? AF_INET : AF_INET6,
		      e->atyp == S5_ATYP_IPV4 ? (const void *)e->u.v4
					      : (const void *)e->u.v6,
		      name, sizeof(name)))
		snprintf(what, cap, "peer %s", name);
}

/* Which mode: SOCKSIFY_BIND (folded in at load, cfgfind.c), else the
 * file's. */
static enum cfg_bind bind_mode(const struct cfg *c)
{
	return c->bind;
}

/* Whether listening socket fd (family fam, bound to l) goes through
 * BIND. */
static int wanted(const struct cfg *c, int fd, const struct sockaddr_storage *l,
		  socklen_t llen)
{
	enum cfg_bind m = bind_mode(c);
	uint16_t port = ntohs(((const struct sockaddr_in *)l)->sin_port);
	struct sfy_fdinfo pi;

	if (m == CFG_BIND_NEVER)
		return 0;
	/* loopback, and whatever a rule keeps direct */
	if (cfg_match_local(c, (const struct sockaddr *)l, llen) == CFG_DIRECT)
		return 0;
	if (m == CFG_BIND_ALWAYS)
		return 1;
	if (port == 0 || sfy_is_eph(fd))
		return fdt_latest(AF_UNSPEC, &pi) == 0;
	return cfg_bind_port(c, port);
}

static int family_of(int fd)
{
	struct sfy_sock k;

	if (sfy_is_fresh(fd))
		return sfy_fresh_family(fd);
	if (sfy_sock_probe(fd, &k) < 0 || k.carry != SFY_TCP)
		return -1;
	return k.dom;
}

/* The BIND request on a control connection of ours (family cfam).
 * Returns it, or -errno (logged). */
static int request(int cfam, const struct s5_addr *e, const char *desc,
		   struct s5_addr *bnd)
{
	int ctl, rc;

	ctl = REAL_CALL(socket, cfam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl < 0) {
		rc = -errno;
		sfy_log(SFY_LOG_ERROR,
			"BIND for %s: cannot open a connection to the proxy "
			"(%s)",
			desc, strerrorname_np(-rc));
		return rc;
	}
	ctl = sfy_own_new(ctl);
	rc = sfy_socks_request(ctl, cfam, S5_CMD_BIND, e, desc, bnd);
	if (rc == 0)
		return ctl;
	sfy_own_close(ctl);
	return rc;
}

/* Phase 1: the BIND request and its first reply, on a control connection
 * of ours; fd gets its record (what getsockname shows).  Returns 0 or -1
 * with errno set (logged).  Runs with cancellation off (see
 * sfy_bind_listen). */
static int open_session(const struct cfg *c, int fd, int fam,
			const struct sockaddr_storage *l, socklen_t llen)
{
	struct sockaddr_storage bsa;
	socklen_t blen = 0;
	struct s5_addr e, bnd;
	struct sfy_fdinfo info;
	struct bsess *b;
	char what[300], lbuf[SFY_ADDRSTRLEN], bbuf[SFY_ADDRSTRLEN];
	int ctl, rc, has4 = 0, has6 = 0;

	pthread_once(&g_once, install);
	expected_peer(c, fam, &e, what, sizeof(what));
	sfy_fmt_addr((const struct sockaddr *)l, llen, lbuf, sizeof(lbuf));
	b = calloc(1, sizeof(*b));
	if (!b) {
		sfy_log(SFY_LOG_ERROR, "listen on fd %d: out of memory", fd);
		errno = ENOMEM;
		return -1;
	}
	b->ctl = b->poke = b->wake = b->pidfd = -1;
	b->lfam = fam;
	b->expect = e;
	b->timeout_ms = c->bind_timeout_ms;
	snprintf(b->desc, sizeof(b->desc), "listening fd %d (%s, %s)", fd, lbuf,
		 what);
	rc = sfy_proxy_families(&has4, &has6);
	if (rc < 0) {
		sess_free(b);
		errno = -rc;
		return -1; /* logged where it failed */
	}
	ctl = request((fam == AF_INET6 && has6) || !has4 ? AF_INET6 : AF_INET,
		      &e, b->desc, &bnd);
	if (ctl < 0) {
		sess_free(b);
		errno = -ctl;
		return -1;
	}
	b->ctl = ctl;
	/* Made only now: the failures above free b alone. */
	b->wake = new_wake();
	rc = sfy_bnd_sockaddr(ctl, fam, &bnd, &bsa, &blen);
	if (rc < 0) {
		sfy_log(
		    SFY_LOG_ERROR, "BIND for %s: %s (EAFNOSUPPORT)", b->desc,
		    rc == -ENETUNREACH ? "the proxy listens on an IPv6 "
					 "address and this is an IPv4 socket"
				       : "the reply names no address");
		sess_free(b);
		errno = EAFNOSUPPORT;
		return -1;
	}
	b->sh = mmap(NULL, sizeof(*b->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b->sh == MAP_FAILED) {
		b->sh = NULL;
		sess_free(b);
		sfy_log(SFY_LOG_ERROR, "listen on fd %d: out of memory", fd);
		errno = ENOMEM;
		return -1;
	}
	memset(&info, 0, sizeof(info));
	info.kind = SFY_FD_TCP_LISTEN;
	memcpy(&info.bnd, &bsa, blen);
	info.bndlen = blen;
	info.assoc = b;
	pthread_mutex_lock(&g_bind_lock);
	b->refs = 1; /* ours, until the record holds it */
	b->next = g_sessions;
	g_sessions = b;
	pthread_mutex_unlock(&g_bind_lock);
	rc = fdt_set(fd, &info);
	sess_release(b); /* the record's reference stays */
	if (rc < 0) {
		sfy_log(SFY_LOG_ERROR, "listen on fd %d: out of memory", fd);
		errno = ENOMEM;
		return -1;
	}
	sfy_fmt_addr((struct sockaddr *)&bsa, blen, bbuf, sizeof(bbuf));
	sfy_log(SFY_LOG_INFO, "BIND for %s: the proxy listens on %s", b->desc,
		bbuf);
	return 0;
}

/* Phase 2, at listen(): the poke socket and the filter, the real listen,
 * the waiter.  Returns 0 or -1 with errno set; on failure fd loses its
 * record (and the session). */
static int arm(int fd, struct bsess *b, int backlog)
{
	struct sockaddr_storage l;
	socklen_t llen = sizeof(l), ol;
	int rc, v6only;

	if (REAL_CALL(getsockname, fd, (struct sockaddr *)&l, &llen) < 0) {
		rc = -errno;
		goto fail;
	}
	v6only = 1;
	ol = sizeof(v6only);
	if (l.ss_family == AF_INET6 && REAL_CALL(getsockopt, fd, IPPROTO_IPV6,
						 IPV6_V6ONLY, &v6only, &ol) < 0)
		v6only = 1;
	poke_target(&l, llen, l.ss_family == AF_INET6 && !v6only, &b->target,
		    &b->targetlen);
	rc = make_poke(b);
	if (rc < 0)
		goto fail;
	b->poke = rc;
	attach_filter(fd, &b->sh->poke);
	if (REAL_CALL(listen, fd, backlog) < 0) {
		rc = -errno;
		(void)setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, NULL, 0);
		fdt_del(fd);
		errno = -rc;
		return -1; /* the kernel's own refusal */
	}
	/* An unbound socket got its port from listen(). */
	llen = sizeof(l);
	if (REAL_CALL(getsockname, fd, (struct sockaddr *)&l, &llen) == 0)
		((struct sockaddr_in *)&b->target)->sin_port =
		    ((struct sockaddr_in *)&l)->sin_port;
	b->sh->deadline = sfy_now_ms() + b->timeout_ms;
	atomic_store(&b->sh->owner, (int)getpid());
	pthread_mutex_lock(&g_bind_lock);
	b->running = 1;
	b->listening = 1;
	b->counted = 1;
	atomic_fetch_add(&sfy_bind_waiting, 1);
	pthread_mutex_unlock(&g_bind_lock);
	rc = b->wake >= 0 ? start_waiter(b) : -EMFILE;
	if (rc == 0)
		return 0;
	pthread_mutex_lock(&g_bind_lock);
	b->running = 0;
	pthread_mutex_unlock(&g_bind_lock);
fail:
	sfy_log(SFY_LOG_ERROR, "BIND for %s: cannot listen (%s)", b->desc,
		strerrorname_np(-rc));
	fdt_del(fd);
	errno = -rc;
	return -1;
}

static int bind_listen(int fd, int backlog)
{
	const struct cfg *c;
	struct sockaddr_storage l;
	socklen_t llen = sizeof(l);
	struct sfy_fdinfo info;
	struct bsess *b;
	int fam, rc, e, listening, saved = errno;

	if (sfy_busy)
		return 1;
	/* A session opened at getsockname() (bind_sockname), or one listening
	 * already (a second listen() changes the backlog). */
	if (fdt_maybe_ours(fd) && fdt_get_held(fd, &info) == 0) {
		if (info.kind == SFY_FD_TCP_LISTEN && !info.assoc) {
			fdt_del(fd);
			e = info.bind_err ? info.bind_err : ECONNREFUSED;
			sfy_log(SFY_LOG_ERROR,
				"listen on fd %d through BIND failed: %s (%s)",
				fd, info.bind_why ? info.bind_why : strerror(e),
				strerrorname_np(e));
			errno = e;
			return -1;
		}
		if (info.kind == SFY_FD_TCP_LISTEN) {
			b = info.assoc;
			pthread_mutex_lock(&g_bind_lock);
			listening = b->listening;
			pthread_mutex_unlock(&g_bind_lock);
			rc = listening ? REAL_CALL(listen, fd, backlog)
				       : arm(fd, b, backlog);
			saved = errno;
			sess_release(b);
			errno = saved;
			return rc;
		}
		fdt_release_held(&info);
	}
	/* The address first: one syscall says "not IP" (a Unix socket's
	 * listen) before the family probe's three. */
	if (REAL_CALL(getsockname, fd, (struct sockaddr *)&l, &llen) < 0 ||
	    (l.ss_family != AF_INET && l.ss_family != AF_INET6) ||
	    (c = sfy_config(NULL)) == NULL) {
		errno = saved;
		return 1;
	}
	fam = family_of(fd);
	if (l.ss_family != fam || !wanted(c, fd, &l, llen)) {
		errno = saved;
		return 1;
	}
	if (open_session(c, fd, fam, &l, llen) < 0)
		return -1;
	if (fdt_get_held(fd, &info) < 0 || info.kind != SFY_FD_TCP_LISTEN) {
		errno = ECONNABORTED; /* closed by another thread meanwhile */
		return -1;
	}
	b = info.assoc;
	rc = arm(fd, b, backlog);
	saved = errno;
	sess_release(b);
	errno = saved;
	return rc;
}

/* A BIND that failed before listen(): listen() reports its errno (the
 * failure was logged once). */
static void note_failure(int fd, int err, const char *why)
{
	struct sfy_fdinfo info;

	memset(&info, 0, sizeof(info));
	info.kind = SFY_FD_TCP_LISTEN;
	info.bind_err = err;
	info.bind_why = why;
	(void)fdt_set(fd, &info);
}

static void bind_sockname(int fd)
{
	const struct cfg *c;
	struct sockaddr_storage l;
	socklen_t llen = sizeof(l);
	int rc, saved = errno, fam = sfy_fresh_family(fd);

	fdt_bit_set(sfy_ephq_bits, fd, 0); /* asked once */
	if (fdt_maybe_ours(fd) || (c = sfy_config(NULL)) == NULL)
		goto out;
	if (REAL_CALL(getsockname, fd, (struct sockaddr *)&l, &llen) < 0 ||
	    l.ss_family != fam || !wanted(c, fd, &l, llen))
		goto out;
	/* Speculative: the socket may connect instead (lftp's passive data
	 * connections): a refusal is an info line now, the error line comes
	 * from listen() if it listens. */
	sfy_quiet_failure = 1;
	sfy_last_why = NULL;
	rc = open_session(c, fd, fam, &l, llen);
	sfy_quiet_failure = 0;
	if (rc < 0)
		note_failure(fd, errno, sfy_last_why);
out:
	errno = saved;
}

/*
 * listen() and getsockname() are no cancellation points
 * (pthreads(7)), and a program may hold a lock of its own across them;
 * the BIND handshake's waits, the config's loading and the closes of
 * sfy_own_new are.  So these run with cancellation off: a cancel meanwhile
 * acts at the program's next cancellation point.
 */
int sfy_bind_listen(int fd, int backlog)
{
	int old, rc, e;

	if (sfy_busy)
		return 1;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	rc = bind_listen(fd, backlog);
	e = errno;
	pthread_setcancelstate(old, NULL);
	errno = e;
	return rc;
}

void sfy_bind_sockname(int fd)
{
	int old, e = errno;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	bind_sockname(fd);
	pthread_setcancelstate(old, NULL);
	errno = e;
}

/* --- accept -------------------------------------------------------------- */

static void release_cleanup(void *p)
{
	sess_release(p);
}

static int is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(
			    ((const struct sockaddr_in *)a)->sin_addr.s_addr) >>
			24) == 127;
	if (a->ss_family == AF_INET6) {
		const struct in6_addr *i6 =
		    &((const struct sockaddr_in6 *)a)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(i6) ||
		       (IN6_IS_ADDR_V4MAPPED(i6) && i6->s6_addr[12] == 127);
	}
	return 0;
}

static int is_poke(const struct bsess *b, const struct sockaddr_storage *a,
		   socklen_t alen)
{
	return alen == b->sh->pokelen && sfy_same_sockaddr(a, &b->sh->poke);
}

/* The poke of a ready session arrived on nfd: the control connection,
 * which now carries the peer's stream, takes nfd's number; *info gets its
 * record (made by the caller once g_bind_lock is dropped: the table's
 * lock comes first).  Returns nfd or -errno.  g_bind_lock held. */
static int hand_over(struct bsess *b, int lfd, int nfd, int flags,
		     const struct sfy_fdinfo *linfo, struct sfy_fdinfo *info)
{
	static const int opts[][2] = {
	    {SOL_SOCKET, SO_KEEPALIVE},
	    {IPPROTO_TCP, TCP_NODELAY},
	};
	socklen_t ol;
	unsigned int i;
	int fl, v;

	if (b->ctl < 0)
		return -ECONNABORTED;
	/* What an accepted socket inherits from its listener. */
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		ol = sizeof(v);
		if (REAL_CALL(getsockopt, lfd, opts[i][0], opts[i][1], &v,
			      &ol) == 0 &&
		    v)
			(void)setsockopt(b->ctl, opts[i][0], opts[i][1], &v,
					 sizeof(v));
	}
	if (REAL_CALL(dup3, b->ctl, nfd, flags & SOCK_CLOEXEC ? O_CLOEXEC : 0) <
	    0)
		return -errno;
	fl = REAL_CALL(fcntl, nfd, F_GETFL);
	if (fl >= 0)
		(void)REAL_CALL(fcntl, nfd, F_SETFL,
				(fl & ~O_NONBLOCK) |
				    (flags & SOCK_NONBLOCK ? O_NONBLOCK : 0));
	sfy_own_close(b->ctl);
	b->ctl = -1;
	if (b->poke >= 0) {
		sfy_own_close(b->poke);
		b->poke = -1;
	}
	memset(info, 0, sizeof(*info));
	info->kind = SFY_FD_TCP_PROXIED;
	memcpy(&info->peer, &b->sh->peer, b->sh->peerlen);
	info->peerlen = b->sh->peerlen;
	memcpy(&info->bnd, &linfo->bnd, linfo->bndlen);
	info->bndlen = linfo->bndlen;
	return nfd;
}

/* The accept loop of listener fd, session b (held). */
static int accept_loop(int fd, struct bsess *b, const struct sfy_fdinfo *linfo,
		       struct sockaddr *sa, socklen_t *len, int flags, int four,
		       int saved)
{
	struct sfy_fdinfo info;
	struct sockaddr_storage a;
	socklen_t alen;
	char pbuf[SFY_ADDRSTRLEN];
	int nfd, st, rc, old;

	for (;;) {
		alen = sizeof(a);
		nfd = four
			  ? REAL_CALL(accept4, fd, (struct sockaddr *)&a, &alen,
				      flags)
			  : REAL_CALL(accept, fd, (struct sockaddr *)&a, &alen);
		if (nfd < 0)
			return -1;
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		if (fdt_maybe_ours(nfd))
			fdt_del(nfd); /* a record of a number closed unseen */
		if (sfy_is_fresh(nfd))
			sfy_fresh_clear(nfd);
		if (!is_poke(b, &a, alen) && is_loopback(&a)) {
			/* a local client of the program's own; accept(2)
			 * looks at len only when sa is given */
			rc = sa ? sfy_sockaddr_out(sa, len, &a, alen) : 0;
			pthread_setcancelstate(old, NULL);
			if (rc < 0) {
				(void)REAL_CALL(close, nfd);
				errno = -rc;
				return -1;
			}
			errno = saved;
			return nfd;
		}
		if (!is_poke(b, &a, alen)) {
			sfy_fmt_addr((struct sockaddr *)&a, alen, pbuf,
				     sizeof(pbuf));
			sfy_log(SFY_LOG_WARN,
				"%s: dropped a direct connection from %s",
				b->desc, pbuf);
			(void)REAL_CALL(close, nfd);
			pthread_setcancelstate(old, NULL);
			continue;
		}
		pthread_mutex_lock(&g_bind_lock);
		/* Across processes (fork): one of them takes it. */
		st = B_READY;
		if (atomic_compare_exchange_strong(&b->sh->state, &st,
						   B_TAKEN)) {
			rc = hand_over(b, fd, nfd, flags, linfo, &info);
		} else if (st == B_FAILED && atomic_compare_exchange_strong(
						 &b->sh->state, &st, B_TAKEN)) {
			rc = -b->sh->err;
			close_own(b);
		} else {
			rc = -EAGAIN; /* a stray poke: look again */
		}
		pthread_mutex_unlock(&g_bind_lock);
		if (rc != -EAGAIN)
			state_wake(b->sh); /* the others drop their copies */
		if (rc < 0)
			(void)REAL_CALL(close, nfd);
		if (rc == -EAGAIN) {
			pthread_setcancelstate(old, NULL);
			continue;
		}
		if (rc >= 0) {
			if (fdt_set(nfd, &info) < 0)
				sfy_log(SFY_LOG_WARN,
					"out of memory recording fd %d", nfd);
			rc = sa ? sfy_sockaddr_out(sa, len, &b->sh->peer,
						   b->sh->peerlen)
				: 0;
			if (rc < 0) {
				fdt_del(nfd);
				(void)REAL_CALL(close, nfd);
			} else {
				rc = nfd;
			}
		}
		pthread_setcancelstate(old, NULL);
		if (rc < 0) {
			errno = -rc;
			return -1;
		}
		errno = saved;
		return rc;
	}
}

int sfy_bind_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags,
		    int four)
{
	struct sfy_fdinfo linfo;
	struct bsess *b;
	int nfd, e, tell, saved = errno;

	if (fdt_get_held(fd, &linfo) < 0)
		return -2;
	if (linfo.kind != SFY_FD_TCP_LISTEN || !linfo.assoc) {
		fdt_release_held(&linfo);
		errno = saved;
		return -2;
	}
	b = linfo.assoc;
	pthread_mutex_lock(&g_bind_lock);
	tell = atomic_load(&b->sh->state) == B_TAKEN && !b->told;
	if (tell)
		b->told = 1;
	pthread_mutex_unlock(&g_bind_lock);
	/* Not under the lock: a line to a full pipe may block. */
	if (tell)
		sfy_log(SFY_LOG_INFO,
			"%s: its one BIND session is over; nobody else can "
			"connect to it (accept waits, or EAGAIN)",
			b->desc);
	/* accept is a cancellation point: the reference goes with it. */
	pthread_cleanup_push(release_cleanup, b);
	nfd = accept_loop(fd, b, &linfo, sa, len, flags, four, saved);
	e = errno;
	pthread_cleanup_pop(0);
	sess_release(b);
	errno = e;
	return nfd;
}

/* --- poll ---------------------------------------------------------------- */

/* 1 when fd is a connection through the proxy to b's expected peer (any
 * such connection when the peer is anyone or a name). */
static int to_peer(int fd, const struct bsess *b)
{
	struct sfy_fdinfo info;

	if (!fdt_maybe_ours(fd) || fdt_get(fd, &info) < 0 ||
	    info.kind != SFY_FD_TCP_PROXIED)
		return 0;
	return expect_any(&b->expect) || same_host(&info.peer, &b->expect);
}

/* The wait of sfy_bind_hold, on a held session b: poll is a cancellation
 * point, and the reference goes with a cancel there. */
static int held_poll(struct bsess *b, struct pollfd *lp, int ms)
{
	int got;

	pthread_cleanup_push(release_cleanup, b);
	got = sfy_real()->poll(lp, 1, ms);
	pthread_cleanup_pop(0);
	return got;
}

int sfy_bind_hold(struct pollfd *fds, nfds_t n, int rc)
{
	struct sfy_fdinfo info;
	struct pollfd lp;
	struct bsess *b;
	nfds_t i, j;
	int wait_ms, saved = errno;

	for (i = 0; i < n; i++) {
		if (!(fds[i].events & POLLIN) || (fds[i].revents & POLLIN) ||
		    !fdt_maybe_ours(fds[i].fd) ||
		    fdt_get_held(fds[i].fd, &info) < 0)
			continue;
		if (info.kind != SFY_FD_TCP_LISTEN || !info.assoc) {
			fdt_release_held(&info);
			continue;
		}
		b = info.assoc;
		wait_ms = 0;
		if (atomic_load(&b->sh->state) == B_WAITING &&
		    b->held_ms < HOLD_MS)
			for (j = 0; j < n; j++)
				if (j != i && (fds[j].revents & POLLIN) &&
				    to_peer(fds[j].fd, b)) {
					wait_ms = HOLD_MS - b->held_ms;
					break;
				}
		if (wait_ms > 0) {
			long long t0 = sfy_now_ms();
			int got;

			lp.fd = fds[i].fd;
			lp.events = POLLIN;
			lp.revents = 0;
			got = held_poll(b, &lp, wait_ms);
			if (got == 1 && (lp.revents & POLLIN)) {
				if (!fds[i].revents)
					rc++;
				fds[i].revents |= POLLIN;
			}
			b->held_ms += (int)(sfy_now_ms() - t0) + 1;
		}
		sess_release(b);
	}
	errno = saved;
	return rc;
}
