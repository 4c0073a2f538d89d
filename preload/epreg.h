/*
 * epreg.h - the epoll registrations of TCP sockets that have not
 * connected yet ("fresh" sockets).
 *
 * An asynchronous connect (async.h) must take its socket out of every epoll
 * set the program put it in before the socket can turn writable, and put
 * it back when the SOCKS5 reply is in.  The kernel does not say where an
 * fd is registered, so the shim watches: socket() marks each TCP socket it
 * creates fresh (a lock-free bitmap), and epoll_ctl on a fresh fd is
 * recorded here (the epoll fd, the events and the program's data).  A
 * connect, a close or a dup2 over the fd ends its freshness.  Sockets the
 * shim did not see created (inherited, made by a raw syscall) are not
 * fresh: their connect takes the synchronous path.
 *
 * The records live in a fixed array (no allocation) under one mutex,
 * taken only by epoll_ctl on a fresh fd and by a connect; it is taken
 * around fork().
 */
#ifndef SOCKSIFY_EPREG_H
#define SOCKSIFY_EPREG_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "fdtable.h"

extern _Atomic unsigned long sfy_fresh_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
extern _Atomic unsigned long sfy_fresh6_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];

/* 1 when fd is a TCP socket the shim saw created and not yet connected.
 * One relaxed load. */
static inline int sfy_is_fresh(int fd)
{
	return fdt_bit(sfy_fresh_bits, fd);
}

/* The family of a fresh socket (AF_INET or AF_INET6), as socket() made
 * it: its connect needs no probe of the kernel. */
static inline int sfy_fresh_family(int fd)
{
	unsigned int u = (unsigned int)fd;

	return (atomic_load_explicit(&sfy_fresh6_bits[u / FDT_WORD_BITS],
				     memory_order_relaxed) >>
		(u % FDT_WORD_BITS)) &
		       1u
		   ? AF_INET6
		   : AF_INET;
}

/* One registration of an fd in an epoll set. */
struct sfy_epreg {
	int epfd;
	uint32_t events;
	uint64_t data;
};

/* 1 in a child of vfork() (it shares the parent's memory, whose records
 * must stay the parent's).  A syscall: for slow paths only. */
int sfy_in_vfork_child(void);

/* socket() made fd, a TCP socket of family fam. */
void sfy_fresh_set(int fd, int fam);

/* fd is fresh no more (connected, closed, replaced): its records go. */
void sfy_fresh_clear(int fd);

/* The same for every fd in [lo, hi] (close_range, closefrom). */
void sfy_fresh_clear_range(unsigned int lo, unsigned int hi);

/* newfd is now a dup of the fresh socket oldfd (dup, dup2, F_DUPFD):
 * newfd is fresh too when oldfd has no registrations; it then connects
 * asynchronously only while no fresh fd has any (the other number's
 * registrations would not be taken out). */
void sfy_fresh_dup(int oldfd, int newfd);

/* After a successful real epoll_ctl(epfd, op, fd, ev) on a fresh fd:
 * keeps the record true.  When the array is full the fd is marked
 * unknown (its connect then takes the synchronous path). */
void sfy_epreg_note(int epfd, int op, int fd, const struct epoll_event *ev);

/* Takes (removes) fd's records into out (at most max).  Returns their
 * number, or -1 when they are not all known. */
int sfy_epreg_take(int fd, struct sfy_epreg *out, int max);

/* Puts records back for fd (a connect that failed at once). */
void sfy_epreg_put(int fd, const struct sfy_epreg *in, int n);

#endif
