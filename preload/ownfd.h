/*
 * ownfd.h - the fds the shim opens for itself: UDP control connections,
 * the safe-memory probe.  Each lives at a high number (out of the way of
 * programs that assume small fds are theirs), is close-on-exec, and is
 * marked here so that the fd hooks keep the program's close, close_range,
 * closefrom and dup2 sweeps off it.
 */
#ifndef SOCKSIFY_OWNFD_H
#define SOCKSIFY_OWNFD_H

#include <stdatomic.h>

#include "fdtable.h"

/* Fresh fds of ours move at or above this number when the limit allows. */
#define SFY_OWN_FD_BASE 512

extern _Atomic unsigned long sfy_own_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
extern atomic_uint sfy_own_count;

/* 1 when the shim owns any fd at all. */
static inline int sfy_any_owned(void)
{
	return atomic_load_explicit(&sfy_own_count, memory_order_relaxed) != 0;
}

/* 1 when fd is an fd of the shim's own.  No lock, no syscall, no call. */
static inline int sfy_owns_fd(int fd)
{
	unsigned int u = (unsigned int)fd;

	if (!sfy_any_owned() || fd < 0 || u >= FDT_BITMAP_FDS)
		return 0;
	return (atomic_load_explicit(&sfy_own_bits[u / FDT_WORD_BITS],
				     memory_order_relaxed) >>
		(u % FDT_WORD_BITS)) &
	       1u;
}

/* Marks (on) or unmarks fd as ours. */
void sfy_own(int fd, int on);

/* Moves a fresh fd of ours up to SFY_OWN_FD_BASE or above (keeping
 * close-on-exec) and marks it ours.  Returns the fd to use (the original
 * one when it cannot move). */
int sfy_own_new(int fd);

/* Unmarks and closes an fd of ours (not a cancellation point: callers may
 * hold locks). */
void sfy_own_close(int fd);

#endif
