/*
 * bind.h - inbound TCP through SOCKS BIND (RFC 1928 section 4).
 *
 * When a listening socket goes through BIND (sfy_bind_listen decides, see
 * README "Inbound connections"), listen() opens a control connection of
 * the shim's own to the proxy, sends BIND naming the expected peer and
 * waits for the first reply: its BND.ADDR/BND.PORT is what getsockname()
 * shows on the program's socket from then on.  The program's socket then
 * listens for real, with a socket filter that lets only one local
 * connection of the shim's in.  A waiter thread reads the second reply
 * (the peer connected) and makes that one local connection: the kernel
 * then reports the listening socket readable to poll, select and epoll,
 * and accept() on it is the kernel's own (blocking, EINTR, SO_RCVTIMEO).
 * The accept hook swaps the control connection, which now carries the
 * peer's stream, onto the number the kernel handed out, and records it:
 * getpeername() shows the peer, getsockname() the proxy's BND address.
 *
 * One session per listening socket: the proxy accepts one connection per
 * BIND, at the address the program has advertised.
 */
#ifndef SOCKSIFY_BIND_H
#define SOCKSIFY_BIND_H

#include <stdatomic.h>
#include <sys/socket.h>

#include "fdtable.h"

/* fds bound to port 0 (an ephemeral port) by bind(). */
extern _Atomic unsigned long sfy_eph_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];

static inline int sfy_is_eph(int fd)
{
	return fdt_bit(sfy_eph_bits, fd);
}

/* fds bound to the address the proxy reported (sfy_bind_note) whose
 * first getsockname() has not been looked at yet (sfy_bind_sockname):
 * later ones pass straight through. */
extern _Atomic unsigned long sfy_ephq_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];

static inline int sfy_is_ephq(int fd)
{
	return fdt_bit(sfy_ephq_bits, fd);
}

/* A successful bind() of TCP socket fd to sa: notes whether the port was
 * 0, or (reported) whether the program asked for the address a proxied
 * connection's getsockname showed (bound to the wildcard instead): such a
 * socket is a call-back's, and its first getsockname() makes the BIND
 * request (sfy_bind_sockname). */
void sfy_bind_note(int fd, const struct sockaddr *sa, socklen_t len,
		   int reported);

/* Forgets fd's ephemeral mark (a new socket on the number). */
void sfy_eph_clear(int fd);

/* listen() on fd: through BIND when the rules say so.  Returns 1 when the
 * call is not ours (the caller makes the real call), else 0 or -1 with
 * errno set (logged). */
int sfy_bind_listen(int fd, int backlog);

/* The first getsockname() on fresh TCP socket fd bound to the address
 * the proxy reported, before it listens or connects (curl -P - reads the
 * port before listen): when listen() would take it through BIND, the
 * request is made now, so that the port the program reads is the
 * proxy's.  Clears fd's sfy_ephq_bits mark.  A socket bound to a local
 * address and port 0 waits for listen(): it may be a client's (curl
 * --interface, a passive FTP data connection), which getsockname alone
 * cannot tell. */
void sfy_bind_sockname(int fd);

/* accept()/accept4() on fd, which has a record (fdt_maybe_ours).  four:
 * accept4 with flags.  Returns the new fd, -1 with errno set, or -2 when
 * fd is not a BIND listener (the caller makes the real call). */
int sfy_bind_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags,
		    int four);

/* Sessions listening and waiting for their peer, in this process. */
extern atomic_int sfy_bind_waiting;

/*
 * After poll() returned rc on fds: when a connection through the proxy
 * to a waiting session's peer is readable and the session's listener in
 * the same array is not, the peer is most likely connected already and
 * the proxy's second reply on its way (it travels on another connection,
 * and may come after the peer's next words on this one, which no kernel
 * listener would allow: an FTP client takes the server's "150" before
 * its data connection for an error).  Waits for the listener then, up to
 * one second per session in all.  Returns the new count.
 */
struct pollfd;
int sfy_bind_hold(struct pollfd *fds, unsigned long n, int rc);

#endif
