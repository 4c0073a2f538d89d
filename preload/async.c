/*
 * async.c - asynchronous proxied connects (contract in async.h).
 *
 * A record ("slot") goes FREE -> SETUP (claimed by a connect) ->
 * CONNECTING (TCP to the proxy) -> HANDSHAKE -> OK or FAILED, and stays
 * so (its outcome readable by every process that shares the socket) until
 * a connect claims it again.  Its generation, bumped at every claim, tells
 * a stale reference (a child of fork() looking at its parent's record long
 * after) from the current one.  The slot's spin lock serialises the
 * helper's I/O on the program's fd with the program's close of it and
 * with epoll_ctl on it; program threads block signals while they hold it
 * (a handler that closes the fd must not spin on its own thread's lock).
 *
 * The helper works on the program's fd number.  A close we see cancels
 * the handshake under the lock first; one we do not see (fclose of an
 * fdopen'd socket, a raw syscall) is caught by the socket's identity
 * (device and inode, checked before the fd is touched at the end) and by
 * socket() handing out the number again.
 *
 * Order at the end of a handshake (complete(), all under the lock): the
 * outcome published in the slot, the epoll registrations put back (the
 * kernel wakes epoll waiters and makes the edge; a waiter that runs first
 * sees the outcome through settle()), then the fd's entry, then the
 * eventfd (poll and select waiters), then O_ASYNC's signal.
 *
 * Per process: fd -> entry (sfy_async_map), and each slot's eventfd
 * (g_efd: fds are per process; a child of fork() inherits its parent's).
 * An entry holds the fd's pending bit (pending.h) while it names a slot
 * and while it holds a failure's errno not yet reported.
 */
#include "async.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "epreg.h"
#include "fdtable.h"
#include "handshake.h"
#include "log.h"
#include "ownfd.h"
#include "pending.h"
#include "proxy.h"
#include "real.h"
#include "wait.h"

#define SLOTS	  1024
#define MAX_REGS  8
#define IDLE_MS	  2000 /* the helper leaves after this long with no work */
#define GRACE_MS  1000 /* past the deadline: the driving process is stuck */
#define LOOK_MS	  250  /* a process not driving a handshake looks this often */
#define WAKE_DATA (~0ull)
#define DESC_LEN  (SFY_ADDRSTRLEN + 256 + 16)
#define ORPHAN	  ((pid_t)-1) /* owner: none (the driver closed its copy) */

enum state { S_FREE, S_SETUP, S_CONNECTING, S_HANDSHAKE, S_OK, S_FAILED };

struct slot {
	_Atomic int state;
	_Atomic int lock;
	_Atomic unsigned int gen;
	_Atomic int refs; /* poll/select waiters on the eventfd */
	pid_t owner;	  /* the process whose helper drives it */
	int stolen;	  /* its lock taken from a process that died in it */
	int forked;	  /* a fork() since the claim: others may share it */
	int fd;		  /* the program's fd, in owner */
	dev_t dev;	  /* ... and what it is */
	ino_t ino;
	int family;
	int paddr; /* the proxy address in flight */
	int err;   /* S_FAILED: the errno */
	long long deadline;
	int nregs;
	struct sfy_epreg regs[MAX_REGS];
	char desc[DESC_LEN];
	char pbuf[SFY_ADDRSTRLEN];
	struct hs h;
};

_Atomic uint32_t sfy_async_map[SFY_ASYNC_FDS];
_Atomic unsigned long sfy_async_epfds[SFY_ASYNC_FDS / FDT_WORD_BITS];

static struct slot *g_slots; /* MAP_SHARED, SLOTS of them */
static int g_efd[SLOTS];     /* this process's eventfd per slot, or -1 */
static pthread_once_t g_map_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_start_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_hep = -1;			 /* the helper's epoll */
static int g_wake = -1;			 /* eventfd: wakes the helper */
static atomic_int g_helper;		 /* 0 none, 1 running, 2 starting */
static atomic_int g_active;		 /* this process's live handshakes */
static _Atomic long long g_helper_until; /* when the helper wakes anyway */

static void watch_epfd(int epfd)
{
	if ((unsigned int)epfd < SFY_ASYNC_FDS)
		atomic_fetch_or(&sfy_async_epfds[epfd / FDT_WORD_BITS],
				1ul << (epfd % FDT_WORD_BITS));
}

static inline uint32_t enc(int i, unsigned int gen)
{
	return (uint32_t)(i + 1) | ((gen & 0xfffffu) << 11);
}

static inline struct slot *slot_of(uint32_t e, unsigned int *gen)
{
	int i = (int)(e & 0x7ffu) - 1;

	if (!g_slots || (e & SFY_ASYNC_ERR) || i < 0 || i >= SLOTS)
		return NULL;
	*gen = (e >> 11) & 0xfffffu;
	return &g_slots[i];
}

static inline int live(int st)
{
	return st == S_SETUP || st == S_CONNECTING || st == S_HANDSHAKE;
}

static inline int driven(int st)
{
	return st == S_CONNECTING || st == S_HANDSHAKE;
}

static inline int gen_is(struct slot *s, unsigned int gen)
{
	return (atomic_load(&s->gen) & 0xfffffu) == gen;
}

/* --- locks --------------------------------------------------------------- */

/* The lock word holds the holder's pid: a process that exits while one
 * of its threads holds a slot's lock (the helper, in a child that calls
 * _exit) must not leave it held for the others. */
static pid_t g_lockpid;

static void lock_raw(struct slot *s)
{
	int expect, spins = 0, saved;

	for (;;) {
		expect = 0;
		if (atomic_compare_exchange_weak_explicit(
			&s->lock, &expect, (int)g_lockpid, memory_order_acquire,
			memory_order_relaxed))
			return;
		if (++spins >= 64 && expect != 0 && expect != (int)g_lockpid) {
			spins = 0;
			saved = errno;
			if (kill((pid_t)expect, 0) < 0 && errno == ESRCH &&
			    atomic_compare_exchange_strong(&s->lock, &expect,
							   (int)g_lockpid)) {
				/* Its holder is gone; if it was the driver,
				 * perhaps halfway through a step: the
				 * handshake cannot go on. */
				if ((pid_t)expect == s->owner)
					s->stolen = 1;
				errno = saved;
				return;
			}
			errno = saved;
		}
		sched_yield();
	}
}

static void unlock_raw(struct slot *s)
{
	atomic_store_explicit(&s->lock, 0, memory_order_release);
}

/* In a program thread: with every signal blocked. */
/* In a program thread: with every signal blocked and cancellation off
 * (write and connect, cancellation points, run under it). */
static __thread int t_cancel_old;

static void lock_prog(struct slot *s, sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &t_cancel_old);
	lock_raw(s);
}

static void unlock_prog(struct slot *s, const sigset_t *old)
{
	unlock_raw(s);
	pthread_setcancelstate(t_cancel_old, &t_cancel_old);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* --- entries ----------------------------------------------------------------
 */

/* Replaces fd's entry e with v (CAS); the pending bit follows: set while
 * the entry is not 0.  Returns 1 when this call made the change. */
static int set_entry(int fd, uint32_t e, uint32_t v)
{
	if (!atomic_compare_exchange_strong(&sfy_async_map[fd], &e, v))
		return 0;
	if (e && !v)
		sfy_pending_mark(fd, 0);
	else if (!e && v)
		sfy_pending_mark(fd, 1);
	return 1;
}

/* An unreported failure in entry e, taken (once): its errno, and the
 * kernel's own leftover (ECONNRESET from dissolving the connection)
 * taken too, so it is not told twice.  0 when another call took it. */
static int take_err(int fd, uint32_t e)
{
	int real = 0;
	socklen_t l = sizeof(real);

	if (!(e & SFY_ASYNC_ERR) || !set_entry(fd, e, 0))
		return 0;
	(void)REAL_CALL(getsockopt, fd, SOL_SOCKET, SO_ERROR, &real, &l);
	return (int)(e & 0xfffu);
}

/* Whether fd is still the socket slot s was started on. */
static int same_socket(const struct slot *s, int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_dev == s->dev &&
	       st.st_ino == s->ino;
}

/* --- set-up -------------------------------------------------------------- */

/* In the parent after fork(): the child shares the sockets of the
 * handshakes in flight. */
static void async_parent(void)
{
	pid_t me = getpid();
	int i;

	for (i = 0; i < SLOTS; i++)
		if (live(atomic_load(&g_slots[i].state)) &&
		    g_slots[i].owner == me)
			g_slots[i].forked = 1;
}

static void async_child(void)
{
	/* The helper and its fds are the parent's; this process gets its own
	 * on its first asynchronous connect (or take-over).  The slots'
	 * eventfds are inherited: the same files as the parent's. */
	if (g_hep >= 0)
		sfy_own_close(g_hep);
	if (g_wake >= 0)
		sfy_own_close(g_wake);
	g_hep = g_wake = -1;
	g_lockpid = getpid();
	atomic_store(&g_helper, 0);
	atomic_store(&g_active, 0);
	pthread_mutex_init(&g_start_lock, NULL);
}

static void map_slots(void)
{
	void *p =
	    mmap(NULL, sizeof(struct slot) * SLOTS, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int i;

	if (p == MAP_FAILED)
		return;
	for (i = 0; i < SLOTS; i++)
		g_efd[i] = -1;
	g_lockpid = getpid();
	g_slots = p;
	pthread_atfork(NULL, async_parent, async_child);
}

/* The helper's epoll and wake eventfd. */
static int make_fds(void)
{
	struct epoll_event ev;
	int ep, wk, rc = 0;

	pthread_mutex_lock(&g_start_lock);
	if (g_hep >= 0)
		goto out;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		rc = -errno;
		goto out;
	}
	wk = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wk < 0) {
		rc = -errno;
		(void)sfy_real()->close(ep);
		goto out;
	}
	ep = sfy_own_new(ep);
	wk = sfy_own_new(wk);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = WAKE_DATA;
	if (REAL_CALL(epoll_ctl, ep, EPOLL_CTL_ADD, wk, &ev) < 0) {
		sfy_own_close(ep);
		sfy_own_close(wk);
		rc = -ENOMEM;
		goto out;
	}
	g_wake = wk;
	g_hep = ep;
out:
	pthread_mutex_unlock(&g_start_lock);
	return rc;
}

int sfy_async_wanted(const struct cfg *c)
{
	/* SOCKSIFY_ASYNC_CONNECT is folded in at load (cfgfind.c). */
	return c->async_connect;
}

/* --- slots --------------------------------------------------------------- */

static struct slot *claim(void)
{
	int i, expect;

	/* The lowest slot not in use: their eventfds are kept for reuse,
	 * so the shim holds as many as connects were ever in flight at
	 * once.  A finished slot keeps its outcome (for other processes
	 * sharing the socket) until a connect needs it again. */
	for (i = 0; i < SLOTS; i++) {
		expect = atomic_load(&g_slots[i].state);
		if (live(expect) || atomic_load(&g_slots[i].refs) != 0)
			continue;
		if (atomic_compare_exchange_strong(&g_slots[i].state, &expect,
						   S_SETUP)) {
			atomic_fetch_add(&g_slots[i].gen, 1);
			g_slots[i].forked = 0;
			g_slots[i].stolen = 0;
			return &g_slots[i];
		}
	}
	return NULL;
}

static void signal_done(struct slot *s)
{
	uint64_t one = 1;
	int efd = g_efd[s - g_slots];

	if (efd >= 0)
		(void)sfy_real()->write(efd, &one, sizeof(one));
}

/* O_ASYNC: the kernel signalled when the proxy's TCP connection came up,
 * which the program could not act on; this is the edge it waits for. */
static void async_signal(int fd)
{
	const struct sfy_real *r = sfy_real();
	struct f_owner_ex o;
	siginfo_t si;
	int fl = r->fcntl(fd, F_GETFL), sig;
	pid_t me = getpid();

	if (fl < 0 || !(fl & O_ASYNC) || r->fcntl(fd, F_GETOWN_EX, &o) < 0 ||
	    o.pid <= 0)
		return;
	sig = r->fcntl(fd, F_GETSIG);
	if (sig <= 0) {
		if (o.type == F_OWNER_TID)
			(void)r->syscall(SYS_tgkill, me, o.pid, SIGIO);
		else if (o.type == F_OWNER_PGRP)
			(void)kill(-o.pid, SIGIO);
		else
			(void)kill(o.pid, SIGIO);
		return;
	}
	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = POLL_OUT;
	si.si_band = POLLOUT | POLLWRNORM;
	si.si_fd = fd;
	if (o.type == F_OWNER_TID)
		(void)r->syscall(SYS_rt_tgsigqueueinfo, me, o.pid, sig, &si);
	else if (o.type == F_OWNER_PID && o.pid == me)
		(void)r->syscall(SYS_rt_sigqueueinfo, me, sig, &si);
	else if (o.type == F_OWNER_PGRP)
		(void)kill(-o.pid, sig);
	else
		(void)kill(o.pid, sig);
}

/* Puts fd's saved registrations back into the program's epoll sets. */
static void readd(struct slot *s, int fd)
{
	struct epoll_event ev;
	int i;

	for (i = 0; i < s->nregs; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.events = s->regs[i].events;
		ev.data.u64 = s->regs[i].data;
		(void)REAL_CALL(epoll_ctl, s->regs[i].epfd, EPOLL_CTL_ADD, fd,
				&ev);
	}
}

/* The end of a handshake this process drives (slot locked; rc 0 or
 * -errno); unlocks, and logs from copies. */
/* What getsockname() shows from now on: the reply's BND (proxy.h). */
static void note_bnd(struct slot *s, int fd)
{
	struct sfy_fdinfo info;

	if (fdt_get(fd, &info) < 0 || info.kind != SFY_FD_TCP_PROXIED)
		return;
	sfy_bnd_record(&info, fd, s->family, &s->h.bnd);
	if (info.bndlen)
		(void)fdt_set(fd, &info);
}

static void complete(struct slot *s, int rc, const char *why)
{
	char desc[DESC_LEN], pbuf[SFY_ADDRSTRLEN];
	unsigned int gen = atomic_load(&s->gen) & 0xfffffu;
	int fd = s->fd, mine, st, lvl;
	uint32_t e = enc((int)(s - g_slots), gen);
	struct s5_addr dst;

	/* The line first, a program that sees the end may exit at once;
	 * and not under the lock, a write to a full pipe may block. */
	memcpy(desc, s->desc, sizeof(desc));
	memcpy(pbuf, s->pbuf, sizeof(pbuf));
	dst = s->h.dst;
	unlock_raw(s);
	if (rc == 0) {
		sfy_log(SFY_LOG_INFO, "connect to %s via %s: ok", desc, pbuf);
	} else {
		lvl = sfy_fail_level(&dst, desc, -rc, SFY_LOG_ERROR);
		sfy_log(lvl, "connect to %s via %s failed: %s (%s)%s", desc,
			pbuf, why ? why : strerror(-rc), strerrorname_np(-rc),
			lvl != SFY_LOG_ERROR ? SFY_FAIL_AGAIN : "");
	}
	lock_raw(s);
	st = atomic_load(&s->state);
	if (!gen_is(s, gen) || !driven(st) || s->owner != g_lockpid) {
		unlock_raw(s); /* closed meanwhile: forget() did the rest */
		return;
	}
	(void)REAL_CALL(epoll_ctl, g_hep, EPOLL_CTL_DEL, fd, NULL);
	hs_wipe(&s->h);
	/* The program may have closed fd behind our back (fclose, a raw
	 * syscall): then the number is someone else's, not to be touched. */
	mine = atomic_load(&sfy_async_map[fd]) == e && same_socket(s, fd);
	if (!mine && atomic_load(&sfy_async_map[fd]) == e)
		fdt_del(fd); /* the record was this connect's */
	if (rc == 0 && mine)
		note_bnd(s, fd);
	if (rc < 0) {
		s->err = -rc;
		if (mine) {
			sfy_dissolve(fd);
			/* Unconnected again: it may connect anew. */
			fdt_del(fd);
			sfy_fresh_set(fd, s->family);
			if (s->nregs)
				sfy_epreg_put(fd, s->regs, s->nregs);
		}
	}
	/* The outcome before the registrations go back: a woken epoll
	 * waiter asks settle(), which waits for this lock before it acts. */
	atomic_store(&s->state, rc == 0 ? S_OK : S_FAILED);
	if (mine)
		readd(s, fd);
	(void)set_entry(fd, e,
			rc == 0 || !mine ? 0 : SFY_ASYNC_ERR | (uint32_t)-rc);
	signal_done(s);
	if (mine)
		async_signal(fd);
	atomic_fetch_sub(&g_active, 1);
	unlock_raw(s);
}

/* --- the helper ----------------------------------------------------------- */

static void arm(struct slot *s, uint32_t what)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = what | EPOLLONESHOT;
	ev.data.u64 = (uint64_t)(s - g_slots) |
		      ((uint64_t)(atomic_load(&s->gen) & 0xfffffu) << 32);
	(void)REAL_CALL(epoll_ctl, g_hep, EPOLL_CTL_MOD, s->fd, &ev);
}

/* Runs the handshake as far as the socket lets it (slot locked; unlocks
 * when it completes). Returns 1 when completed. */
static int drive(struct slot *s)
{
	const struct sfy_real *r = sfy_real();
	uint8_t *buf;
	size_t len;
	ssize_t n;
	/* After a write the answer cannot be there yet: wait for it rather
	 * than pay for a read that says EAGAIN. */
	int wrote = 0;

	for (;;) {
		switch (hs_next(&s->h, &buf, &len)) {
		case HS_IO_WRITE:
			n = r->send(s->fd, buf, len,
				    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				hs_wrote(&s->h, (size_t)n);
				wrote = 1;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				arm(s, EPOLLOUT);
				return 0;
			}
			if (errno == EINTR)
				continue;
			complete(s, -errno, "cannot send to the proxy");
			return 1;
		case HS_IO_READ:
			if (wrote) {
				arm(s, EPOLLIN);
				return 0;
			}
			n = r->recv(s->fd, buf, len, MSG_DONTWAIT);
			if (n > 0) {
				hs_got(&s->h, (size_t)n);
				continue;
			}
			if (n == 0 || errno == ECONNRESET) {
				hs_eof(&s->h); /* an RST is a hang-up too */
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				arm(s, EPOLLIN);
				return 0;
			}
			if (errno == EINTR)
				continue;
			complete(s, -errno, "cannot read from the proxy");
			return 1;
		case HS_IO_DONE:
			complete(s, 0, NULL);
			return 1;
		case HS_IO_FAIL:
		default:
			complete(s, -s->h.err, s->h.why);
			return 1;
		}
	}
}

/* An event for slot i of generation gen. */
static void step(unsigned int i, unsigned int gen)
{
	struct slot *s;
	const char *why = NULL;
	int rc, st;

	if (i >= SLOTS)
		return;
	s = &g_slots[i];
	lock_raw(s);
	st = atomic_load(&s->state);
	/* Not (or no longer) this process's to drive: a child took it
	 * over, and fd here may be another file. */
	if (!gen_is(s, gen) || !driven(st) || s->owner != g_lockpid) {
		unlock_raw(s);
		return;
	}
	if (st == S_CONNECTING) {
		rc = sfy_proxy_finish(s->fd, s->family, s->paddr);
		if (rc == -EINPROGRESS || rc == -EALREADY) {
			arm(s, EPOLLOUT);
			unlock_raw(s);
			return;
		}
		if (rc < 0) {
			/* That address failed: the next ones, if any. */
			int last = rc;

			s->paddr++;
			rc = sfy_proxy_start(s->fd, s->family, &s->paddr,
					     s->pbuf, sizeof(s->pbuf), &why);
			if (rc == -EINPROGRESS) {
				arm(s, EPOLLOUT);
				unlock_raw(s);
				return;
			}
			if (rc == -ENOENT)
				rc = last;
			if (rc < 0 && rc != -EISCONN) {
				complete(s, rc,
					 why ? why
					     : "cannot connect to the proxy");
				return;
			}
		}
		atomic_store(&s->state, S_HANDSHAKE);
	}
	if (!drive(s))
		unlock_raw(s);
}

/* Fails the handshakes past their deadline; returns the earliest deadline
 * still ahead (0: none). */
static long long expire(pid_t me, long long now)
{
	long long next = 0;
	struct slot *s;
	int i, st;

	for (i = 0; i < SLOTS; i++) {
		s = &g_slots[i];
		st = atomic_load_explicit(&s->state, memory_order_relaxed);
		if (driven(st) && s->owner == ORPHAN &&
		    now >= s->deadline + GRACE_MS) {
			/* Nobody took it over: failed, for whoever looks. */
			lock_raw(s);
			if (driven(atomic_load(&s->state)) &&
			    s->owner == ORPHAN) {
				s->err = ETIMEDOUT;
				atomic_store(&s->state, S_FAILED);
			}
			unlock_raw(s);
			continue;
		}
		if (!driven(st) || s->owner != me)
			continue;
		if (s->deadline <= now) {
			lock_raw(s);
			st = atomic_load(&s->state);
			if ((st == S_CONNECTING || st == S_HANDSHAKE) &&
			    s->owner == me && s->deadline <= now)
				complete(s, -ETIMEDOUT,
					 st == S_CONNECTING
					     ? "timed out connecting to the "
					       "proxy"
					     : "the proxy did not complete the "
					       "SOCKS5 handshake in time");
			else
				unlock_raw(s);
		} else if (!next || s->deadline < next) {
			next = s->deadline;
		}
	}
	return next;
}

/* 1 when this helper should leave (nothing to do, or another helper took
 * over), 0 when work came in meanwhile. */
static int may_leave(void)
{
	int one = 1;

	atomic_store(&g_helper, 0);
	if (atomic_load(&g_active) == 0)
		return 1;
	return !atomic_compare_exchange_strong(&g_helper, &(int){0}, one);
}

static void *helper_main(void *arg)
{
	struct epoll_event ev[64];
	pid_t me = getpid();
	long long now, next, idle_since;
	uint64_t junk;
	int n, i, timeout;

	(void)arg;
	(void)prctl(PR_SET_NAME, "socksify", 0, 0, 0);
	atomic_store(&g_helper, 1);
	idle_since = sfy_now_ms();
	for (;;) {
		now = sfy_now_ms();
		next = expire(me, now);
		if (atomic_load(&g_active) > 0)
			idle_since = now;
		else if (now - idle_since >= IDLE_MS && may_leave())
			return NULL;
		timeout = next ? (int)(next - now) : IDLE_MS;
		if (timeout < 0)
			timeout = 0;
		if (atomic_load(&g_active) == 0 && timeout > IDLE_MS)
			timeout = IDLE_MS;
		atomic_store(&g_helper_until, now + timeout);
		n = epoll_wait(g_hep, ev, 64, timeout);
		for (i = 0; i < n; i++) {
			if (ev[i].data.u64 == WAKE_DATA) {
				(void)sfy_real()->read(g_wake, &junk,
						       sizeof(junk));
				continue;
			}
			step((unsigned int)(ev[i].data.u64 & 0xffffffffu),
			     (unsigned int)(ev[i].data.u64 >> 32));
		}
	}
}

/* Makes sure a helper runs.  Returns 0 or -errno. */
static int ensure_helper(void)
{
	int rc, expect = 0;

	if (atomic_load(&g_helper) != 0)
		return 0;
	if (!atomic_compare_exchange_strong(&g_helper, &expect, 2))
		return 0;
	rc = sfy_start_thread(helper_main, NULL, 256 * 1024);
	if (rc < 0)
		atomic_store(&g_helper, 0);
	return rc;
}

/* --- connect ---------------------------------------------------------------
 */

/* Ends a connect that failed at once (slot locked, still SETUP): fd goes
 * back to what it was; unlocks. */
static void undo(struct slot *s, int fd, uint32_t e, const sigset_t *old)
{
	readd(s, fd);
	if (s->nregs)
		sfy_epreg_put(fd, s->regs, s->nregs);
	sfy_fresh_set(fd, s->family);
	(void)set_entry(fd, e, 0);
	fdt_del(fd);
	atomic_store(&s->state, S_FREE);
	unlock_prog(s, old);
}

int sfy_async_connect(const struct cfg *c, int fd, int family,
		      const struct s5_addr *dst, const struct sockaddr *peer,
		      socklen_t peerlen, const char *desc)
{
	const struct sfy_real *r = sfy_real();
	struct sfy_fdinfo info;
	struct epoll_event ev;
	struct stat st;
	const char *why = NULL;
	struct slot *s;
	sigset_t old;
	uint64_t junk;
	uint32_t e;
	int rc, n, i, k;
	unsigned int gen;

	if ((unsigned int)fd >= SFY_ASYNC_FDS || !sfy_is_fresh(fd) ||
	    !sfy_async_wanted(c) || peerlen > sizeof(info.peer))
		return 1;
	rc = sfy_proxy_prepare(c, "connect to", desc);
	if (rc < 0)
		return rc;
	pthread_once(&g_map_once, map_slots);
	if (!g_slots || make_fds() < 0 || fstat(fd, &st) < 0)
		return 1;
	s = claim();
	if (!s)
		return 1; /* a thousand in flight: this one waits its turn */
	i = (int)(s - g_slots);
	gen = atomic_load(&s->gen) & 0xfffffu;
	e = enc(i, gen);
	n = sfy_epreg_take(fd, s->regs, MAX_REGS);
	if (n < 0) {
		atomic_store(&s->state, S_FREE);
		return 1; /* registrations we cannot account for */
	}
	s->nregs = n;
	if (g_efd[i] < 0) {
		g_efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (g_efd[i] >= 0)
			g_efd[i] = sfy_own_new(g_efd[i]);
	} else {
		(void)r->read(g_efd[i], &junk, sizeof(junk)); /* reused */
	}
	atomic_fetch_add(&g_active, 1);
	if (g_efd[i] < 0 || ensure_helper() < 0) {
		atomic_fetch_sub(&g_active, 1);
		sfy_epreg_put(fd, s->regs, s->nregs);
		atomic_store(&s->state, S_FREE);
		return 1;
	}
	s->owner = getpid();
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->family = family;
	s->err = 0;
	s->paddr = 0;
	s->deadline = sfy_now_ms() + c->timeout_ms;
	snprintf(s->desc, sizeof(s->desc), "%s", desc);
	snprintf(s->pbuf, sizeof(s->pbuf), "(proxy)");
	hs_init(&s->h, S5_CMD_CONNECT, dst,
		c->proxy.user_len ? c->proxy.user : NULL, c->proxy.user_len,
		c->proxy.pass, c->proxy.pass_len);
	if (c->pipeline)
		hs_pipeline(&s->h);
	/* What getpeername shows once connected, here and in a child of
	 * fork() (the table is copied): set now, dropped on failure. */
	memset(&info, 0, sizeof(info));
	info.kind = SFY_FD_TCP_PROXIED;
	memcpy(&info.peer, peer, peerlen);
	info.peerlen = peerlen;
	(void)fdt_set(fd, &info);

	lock_prog(s, &old);
	/* Hidden before anything can make it writable. */
	(void)set_entry(fd, atomic_load(&sfy_async_map[fd]), e);
	for (k = 0; k < s->nregs; k++)
		if (REAL_CALL(epoll_ctl, s->regs[k].epfd, EPOLL_CTL_DEL, fd,
			      NULL) < 0)
			s->regs[k--] = s->regs[--s->nregs]; /* gone already */
		else
			watch_epfd(s->regs[k].epfd);
	sfy_fresh_clear(fd);
	rc = sfy_proxy_start(fd, family, &s->paddr, s->pbuf, sizeof(s->pbuf),
			     &why);
	if (rc == -EISCONN || rc == -EALREADY ||
	    (rc < 0 && rc != -EINPROGRESS)) {
		atomic_fetch_sub(&g_active, 1);
		undo(s, fd, e, &old);
		if (rc == -EISCONN || rc == -EALREADY)
			return rc; /* the program's own connection */
		n = sfy_fail_level(dst, desc, -rc, SFY_LOG_ERROR);
		sfy_log(n, "connect to %s via %s failed: %s (%s)%s", desc,
			s->pbuf, why ? why : "cannot connect to the proxy",
			strerrorname_np(-rc),
			n != SFY_LOG_ERROR ? SFY_FAIL_AGAIN : "");
		return rc;
	}
	atomic_store(&s->state, rc == 0 ? S_HANDSHAKE : S_CONNECTING);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT | EPOLLONESHOT;
	ev.data.u64 = (uint64_t)i | ((uint64_t)gen << 32);
	if (REAL_CALL(epoll_ctl, g_hep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc = -errno;
		complete(s, rc, "cannot watch the socket"); /* unlocks */
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return -EINPROGRESS; /* the failure is reported as SO_ERROR */
	}
	unlock_prog(s, &old);
	/* A helper asleep past this deadline (idle) must see it. */
	if (atomic_load(&g_helper_until) > s->deadline) {
		junk = 1;
		(void)r->write(g_wake, &junk, sizeof(junk));
	}
	return -EINPROGRESS;
}

/* --- the program's calls on a pending fd -----------------------------------
 */

/* Takes over the handshake on fd (slot s, generation gen) from a process
 * that is gone, or that closed its copy (ORPHAN).  Returns 1 when this
 * process drives it now. */
static int adopt(struct slot *s, int fd, unsigned int gen)
{
	struct epoll_event ev;
	sigset_t old;
	int done = 0;
	pid_t was;

	if (make_fds() < 0)
		return 0;
	atomic_fetch_add(&g_active, 1);
	if (ensure_helper() < 0) {
		atomic_fetch_sub(&g_active, 1);
		return 0;
	}
	lock_prog(s, &old);
	was = s->owner;
	if (s->stolen && gen_is(s, gen) && driven(atomic_load(&s->state))) {
		/* Its driver died in the middle of a step: where the bytes on
		 * the wire stand is unknown. */
		s->err = ECONNABORTED;
		atomic_store(&s->state, S_FAILED);
		signal_done(s);
	}
	if (gen_is(s, gen) && driven(atomic_load(&s->state)) &&
	    (was == ORPHAN || (kill(was, 0) < 0 && errno == ESRCH)) &&
	    same_socket(s, fd)) {
		s->owner = getpid();
		s->fd = fd;
		/* The registrations saved were the other process's, by its
		 * fd numbers: none of them is this one's to restore. */
		s->nregs = 0;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLOUT | EPOLLONESHOT;
		ev.data.u64 = (uint64_t)(s - g_slots) | ((uint64_t)gen << 32);
		if (REAL_CALL(epoll_ctl, g_hep, EPOLL_CTL_ADD, fd, &ev) == 0 ||
		    errno == EEXIST)
			done = 1;
		else
			s->owner = was;
	}
	unlock_prog(s, &old);
	if (!done) {
		atomic_fetch_sub(&g_active, 1);
		return 0;
	}
	if (was == ORPHAN)
		sfy_log(SFY_LOG_INFO,
			"connect to %s: handshake taken over from a process "
			"that closed its copy of the socket",
			s->desc);
	else
		sfy_log(SFY_LOG_INFO,
			"connect to %s: handshake taken over from process %d, "
			"which exited",
			s->desc, (int)was);
	return 1;
}

/*
 * Brings fd's entry e up to date in this process: when the handshake is
 * over (driven by another process: a parent of fork()), the entry becomes
 * what complete() would have made it.  Returns 1 while still pending.
 */
static int settle_(int fd, uint32_t e);

static int settle(int fd, uint32_t e)
{
	int saved = errno, rc = settle_(fd, e);

	errno = saved;
	return rc;
}

static int settle_(int fd, uint32_t e)
{
	struct slot *s;
	unsigned int gen = 0;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	sigset_t old;
	int st;

	s = slot_of(e, &gen);
	if (!s)
		return 0;
	st = atomic_load(&s->state);
	if (!gen_is(s, gen) || st == S_FREE) {
		/* Long over, the slot reused since: the kernel knows whether
		 * it connected (the fd table knows where to). */
		if (sfy_real()->getpeername(fd, (struct sockaddr *)&ss, &sl) ==
		    0) {
			(void)set_entry(fd, e, 0);
		} else if (set_entry(fd, e, SFY_ASYNC_ERR | ECONNABORTED)) {
			fdt_del(fd);
			sfy_fresh_set(fd, s->family);
		}
		return 0;
	}
	if (!live(st) && s->owner == g_lockpid &&
	    atomic_load(&sfy_async_map[fd]) == e) {
		/* This process's helper is finishing it (putting the epoll
		 * registrations back): wait for that, then look. */
		lock_prog(s, &old);
		unlock_prog(s, &old);
		if (atomic_load(&sfy_async_map[fd]) != e)
			return 0;
	}
	if (st == S_OK) {
		(void)set_entry(fd, e, 0);
		return 0;
	}
	if (st == S_FAILED) {
		if (set_entry(fd, e, SFY_ASYNC_ERR | (uint32_t)s->err)) {
			/* Decided elsewhere (a process gone, an orphan past
			 * its time): the connection may still be up. */
			if (s->owner != g_lockpid && same_socket(s, fd))
				sfy_dissolve(fd);
			fdt_del(fd);
			sfy_fresh_set(fd, s->family);
		}
		return 0;
	}
	if (s->owner == g_lockpid) {
		if (same_socket(s, fd))
			return 1;
		/* Closed behind our back (fclose, a raw syscall) and the
		 * number given to another file: not pending, whatever it is
		 * now; the handshake is abandoned, its record dropped. */
		sfy_async_forget(fd);
		fdt_del(fd);
		return 0;
	}
	/* Driven by another process (our parent, for a child of fork()):
	 * when it is gone, or closed its copy, this one takes over. */
	if (driven(st) &&
	    (s->owner == ORPHAN || (kill(s->owner, 0) < 0 && errno == ESRCH)) &&
	    adopt(s, fd, gen))
		return 1;
	if (!live(atomic_load(&s->state)))
		return settle_(fd, e); /* ended meanwhile (or by adopt) */
	if (sfy_now_ms() < s->deadline + GRACE_MS)
		return 1;
	/* The driving process is stuck: give up here. */
	lock_prog(s, &old);
	if (gen_is(s, gen) && live(atomic_load(&s->state))) {
		s->err = ETIMEDOUT;
		atomic_store(&s->state, S_FAILED);
		signal_done(s);
	}
	unlock_prog(s, &old);
	if (same_socket(s, fd))
		sfy_dissolve(fd);
	return settle_(fd, e);
}

/* 1 while fd's handshake is still in progress (its entry brought up to
 * date first). */
int sfy_async_pending(int fd)
{
	uint32_t e = sfy_async_entry(fd);

	return e && !(e & SFY_ASYNC_ERR) && settle(fd, e);
}

int sfy_async_reconnect(int fd)
{
	uint32_t e = sfy_async_entry(fd);
	int err;

	if (!e)
		return 0;
	if (!(e & SFY_ASYNC_ERR) && settle(fd, e))
		return -EALREADY;
	e = sfy_async_entry(fd);
	err = take_err(fd, e);
	return err ? -err : 0;
}

int sfy_async_so_error(int fd, int *err)
{
	uint32_t e = sfy_async_entry(fd);

	if (!e)
		return 0;
	if (!(e & SFY_ASYNC_ERR) && settle(fd, e)) {
		*err = 0;
		return 1;
	}
	e = sfy_async_entry(fd);
	*err = take_err(fd, e);
	return *err != 0;
}

int sfy_async_poll_get(int fd, uint64_t *ticket, long long *deadline)
{
	uint32_t e = sfy_async_entry(fd);
	struct slot *s;
	unsigned int gen = 0;
	int efd;

	if (!e || (e & SFY_ASYNC_ERR) || !settle(fd, e))
		return -1;
	s = slot_of(e, &gen);
	efd = g_efd[s - g_slots];
	atomic_fetch_add(&s->refs, 1);
	if (!gen_is(s, gen) || !live(atomic_load(&s->state)) || efd < 0) {
		atomic_fetch_sub(&s->refs, 1);
		(void)settle(fd, e);
		return -1;
	}
	*ticket = e;
	/* Driven by another process: look again now and then (it may exit,
	 * and this one take over). */
	*deadline = 0;
	if (s->owner != getpid()) {
		*deadline = sfy_now_ms() + LOOK_MS;
		if (*deadline > s->deadline + GRACE_MS)
			*deadline = s->deadline + GRACE_MS;
	}
	return efd;
}

int sfy_async_poll_put(int fd, uint64_t ticket, int *failed)
{
	unsigned int gen = 0;
	struct slot *s = slot_of((uint32_t)ticket, &gen);
	int done;

	done = !live(atomic_load(&s->state)) || !gen_is(s, gen) ||
	       s->owner != getpid();
	if (done)
		done = !settle(fd, (uint32_t)ticket);
	*failed = (sfy_async_entry(fd) & SFY_ASYNC_ERR) != 0;
	atomic_fetch_sub(&s->refs, 1);
	return done;
}

struct wait_arg {
	int fd, efd, sig_opt;
	long long deadline;
	uint64_t t;
};

/* A thread cancelled while it waits drops its reference all the same. */
static void poll_put_cleanup(void *arg)
{
	struct wait_arg *w = arg;
	int failed;

	(void)sfy_async_poll_put(w->fd, w->t, &failed);
}

static int wait_efd(struct wait_arg *w)
{
	int rc;

	pthread_cleanup_push(poll_put_cleanup, w);
	rc = sfy_wait_fd(w->efd, POLLIN, w->deadline, w->sig_opt ? w->fd : -1,
			 w->sig_opt);
	pthread_cleanup_pop(0);
	return rc;
}

/* Waits on fd's eventfd until deadline (0: the handshake's own bound).
 * Returns 0 (over or still pending: ask again), -ETIMEDOUT or -EINTR (when
 * the kernel's call would give it: sig_opt as for sfy_wait_fd). */
static int wait_done(int fd, long long deadline, int sig_opt)
{
	struct wait_arg w;
	uint64_t t;
	long long d;
	int efd, failed, rc;

	efd = sfy_async_poll_get(fd, &t, &d);
	if (efd < 0)
		return 0;
	if (d && (!deadline || d < deadline))
		deadline = d;
	if (!deadline) {
		unsigned int gen = 0;
		struct slot *s = slot_of((uint32_t)t, &gen);

		deadline = s->deadline + GRACE_MS;
	}
	w.fd = fd;
	w.efd = efd;
	w.sig_opt = sig_opt;
	w.deadline = deadline;
	w.t = t;
	rc = wait_efd(&w);
	(void)sfy_async_poll_put(fd, t, &failed);
	return rc;
}

int sfy_async_wait(int fd, int write, int dontwait)
{
	const int opt = write ? SO_SNDTIMEO : SO_RCVTIMEO;
	long long deadline = -1;
	uint32_t e;
	int fl, rc, err, saved = errno;

	for (;;) {
		e = sfy_async_entry(fd);
		if (e & SFY_ASYNC_ERR) {
			/* The failure, once, as a call on a socket whose
			 * connect failed gives it. */
			err = take_err(fd, e);
			if (err)
				return -err;
			continue;
		}
		if (!e || !settle(fd, e)) {
			if (sfy_async_entry(fd) & SFY_ASYNC_ERR)
				continue;
			errno = saved;
			return 0;
		}
		fl = sfy_real()->fcntl(fd, F_GETFL);
		if (dontwait || (fl >= 0 && (fl & O_NONBLOCK)))
			return -EAGAIN;
		/* Made blocking meanwhile: wait, as the kernel's call waits
		 * for a connecting socket, bounded by the socket's timeout. */
		if (deadline < 0)
			deadline = sfy_socket_deadline(fd, opt);
		rc = wait_done(fd, deadline, opt);
		if (rc == -ETIMEDOUT && deadline > 0 &&
		    sfy_now_ms() >= deadline)
			return -EAGAIN;
		if (rc == -EINTR)
			return rc;
	}
}

void sfy_async_wait_end(int fd)
{
	int saved = errno;

	while (sfy_async_pending(fd))
		(void)wait_done(fd, 0, 0);
	errno = saved;
}

void sfy_async_forget(int fd)
{
	uint32_t e = sfy_async_entry(fd);
	char desc[DESC_LEN], pbuf[SFY_ADDRSTRLEN];
	unsigned int gen = 0;
	struct slot *s;
	sigset_t old;
	int st, what = 0; /* 1 cancelled, 2 left to the other processes */

	if (!e || sfy_in_vfork_child())
		return;
	if (e & SFY_ASYNC_ERR) {
		(void)set_entry(fd, e, 0);
		return;
	}
	s = slot_of(e, &gen);
	lock_prog(s, &old);
	st = atomic_load(&s->state);
	if (gen_is(s, gen) && live(st) && s->owner == getpid() && s->fd == fd) {
		/* The helper no longer touches fd (it checks the state
		 * under this lock). */
		(void)REAL_CALL(epoll_ctl, g_hep, EPOLL_CTL_DEL, fd, NULL);
		if (s->forked && driven(st)) {
			/* A child of fork() has the socket too: its handshake
			 * goes on there (the child takes it over). */
			s->owner = ORPHAN;
			s->nregs = 0;
			what = 2;
		} else {
			hs_wipe(&s->h);
			s->err = ECONNABORTED;
			atomic_store(&s->state, S_FAILED);
			signal_done(s);
			what = 1;
		}
		if (driven(st))
			atomic_fetch_sub(&g_active, 1);
		memcpy(desc, s->desc, sizeof(desc));
		memcpy(pbuf, s->pbuf, sizeof(pbuf));
	}
	(void)set_entry(fd, e, 0);
	unlock_prog(s, &old);
	if (what == 1)
		sfy_log(SFY_LOG_INFO,
			"connect to %s via %s: abandoned: the program closed "
			"the socket during the SOCKS5 handshake",
			desc, pbuf);
	else if (what == 2)
		sfy_log(SFY_LOG_DEBUG,
			"connect to %s via %s: closed here during the "
			"handshake; left to a child process that shares it",
			desc, pbuf);
}

void sfy_async_forget_range(unsigned int lo, unsigned int hi)
{
	unsigned int fd, top = hi < SFY_ASYNC_FDS ? hi : SFY_ASYNC_FDS - 1;

	if (lo >= SFY_ASYNC_FDS || !g_slots || sfy_in_vfork_child())
		return;
	for (fd = lo; fd <= top; fd++)
		if (sfy_async_entry((int)fd))
			sfy_async_forget((int)fd);
}

/* The events EPOLLEXCLUSIVE may come with (the kernel's
 * EPOLLEXCLUSIVE_OK_BITS). */
#define EXCLUSIVE_OK                                                           \
	(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET |    \
	 EPOLLEXCLUSIVE)

int sfy_async_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	uint32_t e = sfy_async_entry(fd);
	struct epoll_event probe;
	unsigned int gen = 0;
	struct slot *s;
	sigset_t old;
	int k, rc = 0;

	if (!e || (e & SFY_ASYNC_ERR) || !settle(fd, e) ||
	    (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL))
		return 1;
	s = slot_of(e, &gen);
	if (s->owner != getpid()) {
		/* Another process drives it: its registrations are that
		 * process's to restore; this one waits for the end. */
		sfy_async_wait_end(fd);
		return 1;
	}
	if (ev && (ev->events & EPOLLEXCLUSIVE) &&
	    (op == EPOLL_CTL_MOD || (ev->events & ~(uint32_t)EXCLUSIVE_OK)))
		return -EINVAL;
	/* The kernel's own checks of epfd and fd, with no effect: the fd is
	 * in no set of ours now, so a valid call says ENOENT. */
	memset(&probe, 0, sizeof(probe));
	if (ev)
		probe = *ev;
	probe.events &= ~(uint32_t)EPOLLEXCLUSIVE;
	if (REAL_CALL(epoll_ctl, epfd, EPOLL_CTL_MOD, fd, &probe) == 0)
		return 1; /* registered behind our back: not ours to hide */
	if (errno != ENOENT)
		return -errno;
	lock_prog(s, &old);
	if (!gen_is(s, gen) || !live(atomic_load(&s->state))) {
		unlock_prog(s, &old);
		return 1;
	}
	for (k = 0; k < s->nregs; k++)
		if (s->regs[k].epfd == epfd)
			break;
	switch (op) {
	case EPOLL_CTL_ADD:
		if (k < s->nregs)
			rc = -EEXIST;
		else if (s->nregs == MAX_REGS)
			rc = -ENOSPC;
		else {
			s->regs[s->nregs].epfd = epfd;
			s->regs[s->nregs].events = ev->events;
			s->regs[s->nregs].data = ev->data.u64;
			s->nregs++;
			watch_epfd(epfd);
		}
		break;
	case EPOLL_CTL_MOD:
		if (k == s->nregs)
			rc = -ENOENT;
		else if (s->regs[k].events & EPOLLEXCLUSIVE)
			rc = -EINVAL;
		else {
			s->regs[k].events = ev->events;
			s->regs[k].data = ev->data.u64;
		}
		break;
	default:
		if (k == s->nregs)
			rc = -ENOENT;
		else
			s->regs[k] = s->regs[--s->nregs];
		break;
	}
	unlock_prog(s, &old);
	return rc;
}

void sfy_async_epfd_closed(int epfd)
{
	pid_t me;
	struct slot *s;
	sigset_t old;
	int i, k;

	if ((unsigned int)epfd < SFY_ASYNC_FDS)
		atomic_fetch_and(&sfy_async_epfds[epfd / FDT_WORD_BITS],
				 ~(1ul << (epfd % FDT_WORD_BITS)));
	if (!g_slots || atomic_load(&g_active) == 0)
		return;
	me = getpid();
	for (i = 0; i < SLOTS; i++) {
		s = &g_slots[i];
		if (!live(atomic_load(&s->state)) || s->owner != me ||
		    !s->nregs)
			continue;
		lock_prog(s, &old);
		if (live(atomic_load(&s->state)) && s->owner == me)
			for (k = 0; k < s->nregs; k++)
				if (s->regs[k].epfd == epfd)
					s->regs[k--] = s->regs[--s->nregs];
		unlock_prog(s, &old);
	}
}
