/*
 * fdtable.h - what the shim knows about the program's fds.
 *
 * A uthash table keyed by fd, under one mutex, plus a bitmap of the fds that
 * have an entry.  The bitmap makes "is this fd ours?" a single relaxed load
 * with no lock, no syscall and no allocation, so every call on an fd the
 * shim does not manage (the overwhelming majority) passes straight through.
 * The table is kept true across close, dup*, fcntl(F_DUPFD*), close_range,
 * closefrom and fork (pthread_atfork handlers take the mutex); a vfork()
 * child, which shares the parent's memory, changes nothing.
 */
#ifndef SOCKSIFY_FDTABLE_H
#define SOCKSIFY_FDTABLE_H

#include <limits.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "socks5.h"

enum sfy_fd_kind {
	SFY_FD_TCP_PROXIED = 1, /* a TCP socket connected through the proxy */
	SFY_FD_UDP,		/* a UDP socket with a relay association */
	SFY_FD_TCP_LISTEN,	/* a listening socket carried by SOCKS BIND */
};
#define SFY_FD_KINDS 4

struct sfy_fdinfo {
	enum sfy_fd_kind kind;
	struct sockaddr_storage peer; /* what the program asked to reach */
	socklen_t peerlen;
	/* The socket's local address once connected: tells this connection
	 * from a later socket on the same fd number whose close we did not
	 * see (glibc's internal close in fclose, a raw syscall). */
	struct sockaddr_storage local;
	socklen_t locallen;
	/* SFY_FD_UDP: the association (shared by dup'ed fds, counted through
	 * the hooks of fdt_set_assoc_hooks), and, once the program
	 * connect()ed the socket, its peer in SOCKS form (peer/peerlen hold
	 * it as the program gave it). */
	void *assoc;
	int connected;
	struct s5_addr dst;
	/* SFY_FD_TCP_LISTEN, and a stream accepted from one: what
	 * getsockname() shows (the proxy's BND address). */
	struct sockaddr_storage bnd;
	socklen_t bndlen;
	/* SFY_FD_TCP_LISTEN without a session (assoc NULL): the errno its
	 * BIND failed with, for listen() to report. */
	int bind_err;
	const char *bind_why; /* its static reason, for listen()'s line */
	/* SFY_FD_TCP_PROXIED: set by the table, increasing with each new
	 * connection (fdt_latest). */
	unsigned long seq;
};

/* How records of a kind share the object their assoc points to (a UDP
 * association, a BIND session): hold takes a reference for a new record
 * (a dup), release drops one (close, replacement).  Called with the
 * table's lock held: they must not call back into the table. */
void fdt_set_assoc_hooks(enum sfy_fd_kind kind, void (*hold)(void *),
			 void (*release)(void *));

/* fds below this are tracked by the bitmap (the kernel's default nr_open). */
#define FDT_BITMAP_FDS (1u << 20)
#define FDT_WORD_BITS  (sizeof(unsigned long) * CHAR_BIT)

/* Bit fd of a per-fd bitmap (0 for fds outside it).  One relaxed load. */
static inline int fdt_bit(const _Atomic unsigned long *bits, int fd)
{
	unsigned int u = (unsigned int)fd;

	if (fd < 0 || u >= FDT_BITMAP_FDS)
		return 0;
	return (atomic_load_explicit(&bits[u / FDT_WORD_BITS],
				     memory_order_relaxed) >>
		(u % FDT_WORD_BITS)) &
	       1u;
}

/* Sets (on) or clears bit fd of a per-fd bitmap (fds outside it: no-op). */
static inline void fdt_bit_set(_Atomic unsigned long *bits, int fd, int on)
{
	unsigned int u = (unsigned int)fd;
	unsigned long bit;

	if (fd < 0 || u >= FDT_BITMAP_FDS)
		return;
	bit = 1ul << (u % FDT_WORD_BITS);
	if (on)
		atomic_fetch_or(&bits[u / FDT_WORD_BITS], bit);
	else
		atomic_fetch_and(&bits[u / FDT_WORD_BITS], ~bit);
}

extern _Atomic unsigned long fdt_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
extern atomic_uint fdt_big_count; /* entries with fd >= FDT_BITMAP_FDS */

/* Lock-free: zero means "certainly not ours"; nonzero means "look it up". */
static inline int fdt_maybe_ours(int fd)
{
	unsigned int u = (unsigned int)fd;

	if (fd < 0)
		return 0;
	if (u < FDT_BITMAP_FDS)
		return (atomic_load_explicit(&fdt_bits[u / FDT_WORD_BITS],
					     memory_order_acquire) >>
			(u % FDT_WORD_BITS)) &
		       1u;
	return atomic_load_explicit(&fdt_big_count, memory_order_acquire) != 0;
}

/* The fds whose record is SFY_FD_UDP: lets every read/write/recv/send
 * on a TCP connection pass without a lock. */
extern _Atomic unsigned long fdt_udp_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];

static inline int fdt_maybe_udp(int fd)
{
	unsigned int u = (unsigned int)fd;

	if (fd < 0)
		return 0;
	if (u < FDT_BITMAP_FDS)
		return (atomic_load_explicit(&fdt_udp_bits[u / FDT_WORD_BITS],
					     memory_order_acquire) >>
			(u % FDT_WORD_BITS)) &
		       1u;
	return fdt_maybe_ours(fd);
}

/* Copies fd's record into *out.  Returns 0, or -1 when fd has none.  The
 * copy's assoc pointer is only good while the record stands: use
 * fdt_get_held to keep using it. */
int fdt_get(int fd, struct sfy_fdinfo *out);
/* The same, with a reference on the copy's assoc (when it has one) taken
 * under the lock: the caller drops it with the release hook when done, so
 * a close or replacement meanwhile cannot free it under the caller. */
int fdt_get_held(int fd, struct sfy_fdinfo *out);
/* Drops the reference fdt_get_held took on out->assoc (if any). */
void fdt_release_held(const struct sfy_fdinfo *info);
/* Sets (adds or replaces) fd's record.  Returns 0, -EBADF (fd < 0) or
 * -ENOMEM. */
int fdt_set(int fd, const struct sfy_fdinfo *in);
/* Drops fd's record, if any. */
void fdt_del(int fd);
/* newfd now refers to what oldfd does: it gets a copy of oldfd's record,
 * or loses its own when oldfd has none. */
void fdt_dup(int oldfd, int newfd);
/* Drops every record with lo <= fd <= hi. */
void fdt_del_range(unsigned int lo, unsigned int hi);
/* The most recently made SFY_FD_TCP_PROXIED record, preferring one
 * whose peer is of family fam (AF_UNSPEC: any).  Returns 0 or -1. */
int fdt_latest(int fam, struct sfy_fdinfo *out);
/* 1 when some record's bnd has the address (not the port) of sa, an
 * AF_INET or AF_INET6 address of len bytes. */
int fdt_is_bnd_addr(const struct sockaddr_storage *sa);
/* Number of records (tests and debugging). */
unsigned int fdt_count(void);

#endif
