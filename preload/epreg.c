/*
 * epreg.c - epoll registrations of fresh TCP sockets (contract in epreg.h).
 */
#include "epreg.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

_Atomic unsigned long sfy_fresh_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
_Atomic unsigned long sfy_fresh6_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];

/* Enough for the sockets a program registers between socket() and
 * connect(), and its listening sockets (fresh for good). */
#define EPREG_MAX 512

struct rec {
	int fd; /* -1: free */
	struct sfy_epreg r;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec g_recs[EPREG_MAX];
static int g_used;		 /* high-water mark of g_recs in use */
static int g_unknown[EPREG_MAX]; /* fds whose records overflowed */
static int g_nunknown;
/* Fresh fds that are dups of each other (one socket, several numbers),
 * by group: a connect on any of them cannot hide the socket's other
 * numbers, so it takes the synchronous path while the group has two
 * open.  A group of one (the F_DUPFD-then-close move) is dissolved. */
static struct {
	int fd, grp;
} g_alias[EPREG_MAX];
static int g_nalias, g_grp;

/* Drops fd from its alias group (locked); a lone survivor is let go. */
static void unalias_locked(int fd)
{
	int i, grp = -1, left = -1, n = 0;

	for (i = 0; i < g_nalias; i++)
		if (g_alias[i].fd == fd) {
			grp = g_alias[i].grp;
			g_alias[i--] = g_alias[--g_nalias];
		}
	if (grp < 0)
		return;
	for (i = 0; i < g_nalias; i++)
		if (g_alias[i].grp == grp) {
			left = i;
			n++;
		}
	if (n == 1)
		g_alias[left] = g_alias[--g_nalias];
}
static atomic_int g_nrecs; /* > 0: some fd has records */

static void ep_prepare(void)
{
	pthread_mutex_lock(&g_lock);
}

static void ep_parent(void)
{
	pthread_mutex_unlock(&g_lock);
}

static pid_t g_self;

static void ep_child(void)
{
	g_self = getpid();
	pthread_mutex_init(&g_lock, NULL);
}

/* At load: fork children (which run the handlers) know themselves; a
 * vfork() child, which shares our memory and runs none, does not. */
__attribute__((constructor)) static void ep_load(void)
{
	g_self = getpid();
	pthread_atfork(ep_prepare, ep_parent, ep_child);
}

int sfy_in_vfork_child(void)
{
	return g_self != 0 && getpid() != g_self;
}

static void bit6(int fd, int on)
{
	unsigned int u = (unsigned int)fd;
	unsigned long b = 1ul << (u % FDT_WORD_BITS);

	if (on)
		atomic_fetch_or_explicit(&sfy_fresh6_bits[u / FDT_WORD_BITS], b,
					 memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&sfy_fresh6_bits[u / FDT_WORD_BITS],
					  ~b, memory_order_relaxed);
}

static void bit(int fd, int on)
{
	unsigned int u = (unsigned int)fd;
	unsigned long b = 1ul << (u % FDT_WORD_BITS);

	if (fd < 0 || u >= FDT_BITMAP_FDS)
		return;
	if (on)
		atomic_fetch_or_explicit(&sfy_fresh_bits[u / FDT_WORD_BITS], b,
					 memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&sfy_fresh_bits[u / FDT_WORD_BITS],
					  ~b, memory_order_relaxed);
}

void sfy_fresh_set(int fd, int fam)
{
	if (fd < 0 || (unsigned int)fd >= FDT_BITMAP_FDS)
		return;
	bit6(fd, fam == AF_INET6);
	bit(fd, 1);
}

/* Drops fd's records and unknown mark (locked). */
static void mark_unknown_locked(int fd);

static void drop_locked(int fd)
{
	int i, j, had = 0;

	for (i = 0; i < g_used; i++)
		if (g_recs[i].fd == fd)
			had = 1;
	/* Registered under this number: the registration outlives the
	 * number while the socket lives, so its other numbers cannot hide
	 * it either. */
	for (i = 0; had && i < g_nalias; i++)
		if (g_alias[i].fd == fd)
			for (j = 0; j < g_nalias; j++)
				if (g_alias[j].grp == g_alias[i].grp &&
				    g_alias[j].fd != fd)
					mark_unknown_locked(g_alias[j].fd);

	for (i = 0; i < g_used; i++)
		if (g_recs[i].fd == fd) {
			g_recs[i].fd = -1;
			atomic_fetch_sub(&g_nrecs, 1);
		}
	while (g_used > 0 && g_recs[g_used - 1].fd < 0)
		g_used--;
	for (i = 0; i < g_nunknown; i++)
		if (g_unknown[i] == fd)
			g_unknown[i--] = g_unknown[--g_nunknown];
	unalias_locked(fd);
}

void sfy_fresh_clear(int fd)
{
	/* (In a child of vfork() this clears the parent's mark: its connect
	 * then takes the synchronous path, which is safe.) */
	bit(fd, 0);
	if ((atomic_load_explicit(&g_nrecs, memory_order_relaxed) == 0 &&
	     !g_nunknown && !g_nalias) ||
	    sfy_in_vfork_child())
		return; /* the records are the parent's */
	pthread_mutex_lock(&g_lock);
	drop_locked(fd);
	pthread_mutex_unlock(&g_lock);
}

void sfy_fresh_clear_range(unsigned int lo, unsigned int hi)
{
	unsigned int w, last, fd;
	unsigned long bits;
	int i;

	if (lo >= FDT_BITMAP_FDS || sfy_in_vfork_child())
		return;
	last = (hi < FDT_BITMAP_FDS ? hi : FDT_BITMAP_FDS - 1) / FDT_WORD_BITS;
	for (w = lo / FDT_WORD_BITS; w <= last; w++) {
		bits = atomic_load_explicit(&sfy_fresh_bits[w],
					    memory_order_relaxed);
		while (bits) {
			fd = w * FDT_WORD_BITS +
			     (unsigned int)__builtin_ctzl(bits);
			bits &= bits - 1;
			if (fd >= lo && fd <= hi)
				bit((int)fd, 0);
		}
	}
	pthread_mutex_lock(&g_lock);
	for (i = 0; i < g_used; i++)
		if (g_recs[i].fd >= 0 && (unsigned int)g_recs[i].fd >= lo &&
		    (unsigned int)g_recs[i].fd <= hi)
			drop_locked(g_recs[i].fd);
	for (i = 0; i < g_nunknown; i++)
		if ((unsigned int)g_unknown[i] >= lo &&
		    (unsigned int)g_unknown[i] <= hi)
			g_unknown[i--] = g_unknown[--g_nunknown];
	for (i = 0; i < g_nalias; i++)
		if ((unsigned int)g_alias[i].fd >= lo &&
		    (unsigned int)g_alias[i].fd <= hi) {
			unalias_locked(g_alias[i].fd);
			i = -1; /* the array moved: again from the start */
		}
	pthread_mutex_unlock(&g_lock);
}

static void mark_unknown_locked(int fd)
{
	int i;

	for (i = 0; i < g_nunknown; i++)
		if (g_unknown[i] == fd)
			return;
	if (g_nunknown < EPREG_MAX)
		g_unknown[g_nunknown++] = fd;
	else
		bit(fd, 0); /* no room even for that: not fresh, so sync */
}

static void add_locked(int fd, const struct sfy_epreg *r)
{
	int i;

	for (i = 0; i < g_used; i++)
		if (g_recs[i].fd < 0)
			break;
	if (i == EPREG_MAX) {
		mark_unknown_locked(fd);
		return;
	}
	if (i == g_used)
		g_used++;
	g_recs[i].fd = fd;
	g_recs[i].r = *r;
	atomic_fetch_add(&g_nrecs, 1);
}

void sfy_epreg_note(int epfd, int op, int fd, const struct epoll_event *ev)
{
	struct sfy_epreg r;
	int i;

	pthread_mutex_lock(&g_lock);
	for (i = 0; i < g_used; i++)
		if (g_recs[i].fd == fd && g_recs[i].r.epfd == epfd)
			break;
	if (op == EPOLL_CTL_DEL) {
		if (i < g_used) {
			g_recs[i].fd = -1;
			atomic_fetch_sub(&g_nrecs, 1);
		}
	} else if (i < g_used) {
		g_recs[i].r.events = ev->events;
		g_recs[i].r.data = ev->data.u64;
	} else {
		r.epfd = epfd;
		r.events = ev->events;
		r.data = ev->data.u64;
		add_locked(fd, &r);
	}
	pthread_mutex_unlock(&g_lock);
}

void sfy_fresh_dup(int oldfd, int newfd)
{
	int i, has = 0;

	if (newfd < 0 || (unsigned int)newfd >= FDT_BITMAP_FDS ||
	    sfy_in_vfork_child())
		return;
	pthread_mutex_lock(&g_lock);
	for (i = 0; i < g_used; i++)
		if (g_recs[i].fd == oldfd)
			has = 1;
	for (i = 0; i < g_nunknown; i++)
		if (g_unknown[i] == oldfd)
			has = 1;
	/* A socket registered under oldfd keeps that registration as long
	 * as the socket lives, whatever becomes of oldfd: newfd cannot hide
	 * it, so it is not fresh at all. */
	if (!has && g_nalias + 2 <= EPREG_MAX) {
		int grp = -1;

		for (i = 0; i < g_nalias; i++)
			if (g_alias[i].fd == oldfd)
				grp = g_alias[i].grp;
		if (grp < 0) {
			grp = ++g_grp;
			g_alias[g_nalias].fd = oldfd;
			g_alias[g_nalias++].grp = grp;
		}
		g_alias[g_nalias].fd = newfd;
		g_alias[g_nalias++].grp = grp;
		bit6(newfd, sfy_fresh_family(oldfd) == AF_INET6);
		bit(newfd, 1);
	}
	pthread_mutex_unlock(&g_lock);
}

int sfy_epreg_take(int fd, struct sfy_epreg *out, int max)
{
	int i, n = 0, unknown = 0;

	if (atomic_load_explicit(&g_nrecs, memory_order_relaxed) == 0 &&
	    !g_nunknown && !g_nalias)
		return 0;
	pthread_mutex_lock(&g_lock);
	for (i = 0; i < g_nunknown; i++)
		if (g_unknown[i] == fd)
			unknown = 1;
	/* A dup's twin may be registered, or be written to, where this
	 * connect cannot hide it. */
	for (i = 0; i < g_nalias; i++)
		if (g_alias[i].fd == fd)
			unknown = 1;
	for (i = 0; i < g_used && !unknown; i++)
		if (g_recs[i].fd == fd && n++ >= max)
			unknown = 1;
	if (!unknown) {
		n = 0;
		for (i = 0; i < g_used; i++)
			if (g_recs[i].fd == fd) {
				out[n++] = g_recs[i].r;
				g_recs[i].fd = -1;
				atomic_fetch_sub(&g_nrecs, 1);
			}
	}
	pthread_mutex_unlock(&g_lock);
	return unknown ? -1 : n;
}

void sfy_epreg_put(int fd, const struct sfy_epreg *in, int n)
{
	int i;

	pthread_mutex_lock(&g_lock);
	for (i = 0; i < n; i++)
		add_locked(fd, &in[i]);
	pthread_mutex_unlock(&g_lock);
}
