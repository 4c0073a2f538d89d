/*
 * fdtable.c - the per-fd table.  The only file that includes uthash.
 */
#include "fdtable.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* uthash's default out-of-memory handler exits the process: never in a
 * shim.  With HASH_NONFATAL_OOM a failed add leaves the table unchanged
 * and sets this flag. */
#define HASH_NONFATAL_OOM 1
static int fdt_oom;
#define uthash_nonfatal_oom(elt) (fdt_oom = 1)
#include <uthash.h>

struct fd_entry {
	int fd;
	struct sfy_fdinfo info;
	UT_hash_handle hh;
};

_Atomic unsigned long fdt_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
_Atomic unsigned long fdt_udp_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
atomic_uint fdt_big_count;
/* All records: lets range operations on a table with none exit at once. */
static atomic_uint fdt_total;

/* Lock order: this is the only lock of the table. */
static pthread_mutex_t fdt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fd_entry *fdt_head;
static pthread_once_t fdt_atfork_once = PTHREAD_ONCE_INIT;

static void fdt_prepare(void)
{
	pthread_mutex_lock(&fdt_lock);
}

static void fdt_release(void)
{
	pthread_mutex_unlock(&fdt_lock);
}

/*
 * The process whose memory holds this table.  A vfork() child (CPython's
 * subprocess, posix_spawn-like helpers) shares the parent's memory but has
 * its own fds: when it closes or dup2s fds before exec, the parent's
 * records must not change (nor may it malloc or free).  fork() children
 * have their own memory and take over their copy (see fdt_child).
 */
static pid_t fdt_owner;

static int in_vfork_child(void)
{
	return getpid() != fdt_owner;
}

/* A child of fork() gets the table as it was: its copies of the fds refer
 * to the same sockets, so the records stay true. */
static void fdt_child(void)
{
	fdt_owner = getpid();
	pthread_mutex_unlock(&fdt_lock);
}

static void fdt_register_atfork(void)
{
	fdt_owner = getpid();
	pthread_atfork(fdt_prepare, fdt_release, fdt_child);
}

static void mark(int fd, int on)
{
	unsigned int u = (unsigned int)fd;
	unsigned long bit;

	if (on)
		atomic_fetch_add(&fdt_total, 1);
	else
		atomic_fetch_sub(&fdt_total, 1);
	if (u >= FDT_BITMAP_FDS) {
		if (on)
			atomic_fetch_add(&fdt_big_count, 1);
		else
			atomic_fetch_sub(&fdt_big_count, 1);
		return;
	}
	bit = 1ul << (u % FDT_WORD_BITS);
	if (on)
		atomic_fetch_or(&fdt_bits[u / FDT_WORD_BITS], bit);
	else
		atomic_fetch_and(&fdt_bits[u / FDT_WORD_BITS], ~bit);
}

static void (*assoc_hold[SFY_FD_KINDS])(void *);
static void (*assoc_release[SFY_FD_KINDS])(void *);
static unsigned long g_seq; /* fdt_lock */

void fdt_set_assoc_hooks(enum sfy_fd_kind kind, void (*hold)(void *),
			 void (*release)(void *))
{
	assoc_hold[kind] = hold;
	assoc_release[kind] = release;
}

static void hold(const struct sfy_fdinfo *info)
{
	if (info->assoc && (unsigned)info->kind < SFY_FD_KINDS &&
	    assoc_hold[info->kind])
		assoc_hold[info->kind](info->assoc);
}

static void release(const struct sfy_fdinfo *info)
{
	if (info->assoc && (unsigned)info->kind < SFY_FD_KINDS &&
	    assoc_release[info->kind])
		assoc_release[info->kind](info->assoc);
}

void fdt_release_held(const struct sfy_fdinfo *info)
{
	release(info);
}

/* Keeps fdt_udp_bits true for e (locked). */
static void mark_kind(const struct fd_entry *e, int present)
{
	unsigned int u = (unsigned int)e->fd;
	unsigned long bit = 1ul << (u % FDT_WORD_BITS);

	if (u >= FDT_BITMAP_FDS)
		return;
	if (present && e->info.kind == SFY_FD_UDP)
		atomic_fetch_or(&fdt_udp_bits[u / FDT_WORD_BITS], bit);
	else
		atomic_fetch_and(&fdt_udp_bits[u / FDT_WORD_BITS], ~bit);
}

/* Removes e (locked). */
static void drop_locked(struct fd_entry *e)
{
	HASH_DEL(fdt_head, e);
	mark_kind(e, 0);
	mark(e->fd, 0);
	release(&e->info);
	free(e);
}

static struct fd_entry *find_locked(int fd)
{
	struct fd_entry *e = NULL;

	HASH_FIND_INT(fdt_head, &fd, e);
	return e;
}

/* Adds or replaces (locked). Returns 0 or -ENOMEM. */
static int set_locked(int fd, const struct sfy_fdinfo *in)
{
	struct fd_entry *e = find_locked(fd);

	if (e) {
		hold(in);
		release(&e->info);
		e->info = *in;
		if (in->kind == SFY_FD_TCP_PROXIED && !in->seq)
			e->info.seq = ++g_seq;
		mark_kind(e, 1);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = fd;
	e->info = *in;
	if (in->kind == SFY_FD_TCP_PROXIED && !in->seq)
		e->info.seq = ++g_seq;
	hold(in);
	fdt_oom = 0;
	HASH_ADD_INT(fdt_head, fd, e);
	if (fdt_oom) {
		release(&e->info);
		free(e);
		return -ENOMEM;
	}
	mark_kind(e, 1);
	mark(fd, 1);
	return 0;
}

int fdt_latest(int fam, struct sfy_fdinfo *out)
{
	struct fd_entry *e, *tmp, *best = NULL, *any = NULL;

	pthread_mutex_lock(&fdt_lock);
	HASH_ITER(hh, fdt_head, e, tmp)
	{
		if (e->info.kind != SFY_FD_TCP_PROXIED)
			continue;
		if (!any || e->info.seq > any->info.seq)
			any = e;
		if ((fam == AF_UNSPEC || e->info.peer.ss_family == fam) &&
		    (!best || e->info.seq > best->info.seq))
			best = e;
	}
	if (!best)
		best = any;
	if (best)
		*out = best->info;
	pthread_mutex_unlock(&fdt_lock);
	return best ? 0 : -1;
}

static int same_ip(const struct sockaddr_storage *a,
		   const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return a->ss_family == AF_INET6 &&
	       !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

int fdt_is_bnd_addr(const struct sockaddr_storage *sa)
{
	struct fd_entry *e, *tmp;
	int found = 0;

	pthread_mutex_lock(&fdt_lock);
	HASH_ITER(hh, fdt_head, e, tmp)
	{
		if (e->info.bndlen && same_ip(&e->info.bnd, sa)) {
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&fdt_lock);
	return found;
}

/* fdt_get, with a reference on the copy's association when held. */
static int get(int fd, struct sfy_fdinfo *out, int held)
{
	struct fd_entry *e;
	int rc = -1;

	if (!fdt_maybe_ours(fd))
		return -1;
	pthread_mutex_lock(&fdt_lock);
	e = find_locked(fd);
	if (e) {
		*out = e->info;
		if (held)
			hold(out);
		rc = 0;
	}
	pthread_mutex_unlock(&fdt_lock);
	return rc;
}

int fdt_get(int fd, struct sfy_fdinfo *out)
{
	return get(fd, out, 0);
}

int fdt_get_held(int fd, struct sfy_fdinfo *out)
{
	return get(fd, out, 1);
}

int fdt_set(int fd, const struct sfy_fdinfo *in)
{
	int rc;

	if (fd < 0)
		return -EBADF;
	pthread_once(&fdt_atfork_once, fdt_register_atfork);
	if (in_vfork_child())
		return 0;
	pthread_mutex_lock(&fdt_lock);
	rc = set_locked(fd, in);
	pthread_mutex_unlock(&fdt_lock);
	return rc;
}

void fdt_del(int fd)
{
	struct fd_entry *e;

	if (!fdt_maybe_ours(fd) || in_vfork_child())
		return;
	pthread_mutex_lock(&fdt_lock);
	e = find_locked(fd);
	if (e)
		drop_locked(e);
	pthread_mutex_unlock(&fdt_lock);
}

void fdt_dup(int oldfd, int newfd)
{
	struct fd_entry *old, *dst;

	if (oldfd == newfd || newfd < 0)
		return;
	if (!fdt_maybe_ours(oldfd) && !fdt_maybe_ours(newfd))
		return;
	if (in_vfork_child())
		return;
	pthread_mutex_lock(&fdt_lock);
	old = find_locked(oldfd);
	dst = find_locked(newfd);
	if (old) {
		/* On ENOMEM newfd stays untracked: the connection works, only
		 * getpeername shows the proxy. */
		(void)set_locked(newfd, &old->info);
	} else if (dst) {
		drop_locked(dst);
	}
	pthread_mutex_unlock(&fdt_lock);
}

void fdt_del_range(unsigned int lo, unsigned int hi)
{
	struct fd_entry *e, *tmp;

	if (lo > hi ||
	    atomic_load_explicit(&fdt_total, memory_order_acquire) == 0)
		return;
	if (hi < FDT_BITMAP_FDS &&
	    atomic_load_explicit(&fdt_big_count, memory_order_acquire) == 0) {
		/* Cheap exit for the common case of a program closing a
		 * range that holds nothing of ours: scan the bitmap words. */
		unsigned int w, first = lo / FDT_WORD_BITS,
				last = hi / FDT_WORD_BITS;
		int any = 0;

		for (w = first; w <= last && !any; w++)
			any = atomic_load_explicit(&fdt_bits[w],
						   memory_order_acquire) != 0;
		if (!any)
			return;
	}
	if (in_vfork_child())
		return;
	pthread_mutex_lock(&fdt_lock);
	HASH_ITER(hh, fdt_head, e, tmp)
	{
		if ((unsigned int)e->fd >= lo && (unsigned int)e->fd <= hi)
			drop_locked(e);
	}
	pthread_mutex_unlock(&fdt_lock);
}

unsigned int fdt_count(void)
{
	unsigned int n;

	pthread_mutex_lock(&fdt_lock);
	n = HASH_COUNT(fdt_head);
	pthread_mutex_unlock(&fdt_lock);
	return n;
}
