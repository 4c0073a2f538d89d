/*
 * udp.h - UDP through the proxy's relay (RFC 1928 section 7).
 *
 * A UDP socket that sends to a proxied destination gets an association:
 * a TCP control connection to the proxy (ours: close-on-exec, at a high
 * fd number) carrying UDP ASSOCIATE, and the relay address from its
 * reply.  Each datagram then goes to the relay with the SOCKS UDP header
 * in front of the payload (scatter-gather, no copy) and comes back with
 * one, which is stripped; the program sees the real peer.
 */
#ifndef SOCKSIFY_UDP_H
#define SOCKSIFY_UDP_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fdtable.h"

/* The most buffers (and messages in a batch) one call takes: the
 * kernel's UIO_MAXIOV. */
#define SFY_IOV_MAX 1024

/* What the UDP layer made of a call. */
#define SFY_UDP_PASS (-2) /* not ours: make the real call */

/* Sends through the relay when fd is a UDP socket and the destination
 * (msg->msg_name, or the connected peer) is proxied.  msg is the shim's own
 * copy of the header; its name, buffers and (unless trusted_iov) iovec
 * array are the program's, read through safemem.h.  Returns the program's
 * byte count, -1 with errno, or SFY_UDP_PASS. */
ssize_t sfy_udp_send(int fd, const struct msghdr *msg, int flags,
		     int trusted_iov);

/* Receives through the relay on a socket with an association.  msg is the
 * shim's own copy of the program's header (its name, buffers, control
 * buffer and, unless trusted_iov, iovec array are the program's); on
 * return msg_namelen,
 * msg_flags and msg_controllen are updated there for the caller to copy
 * back.  Returns the payload length, -1 with errno, or SFY_UDP_PASS. */
ssize_t sfy_udp_recv(int fd, struct msghdr *msg, int flags, int trusted_iov);

/* connect() on a UDP socket: returns 0 / -1 with errno when handled (a
 * proxied peer, or AF_UNSPEC on a socket with an association), or
 * SFY_UDP_PASS. */
int sfy_udp_connect(int fd, const struct sockaddr *sa, socklen_t len);

/* Control connections whose socket was closed just after a datagram went
 * out stay open a moment (see udp.c, "lingering"), so that the relay still
 * forwards it.  A nonzero count means some are waiting: sfy_udp_reap()
 * closes those whose time is up. */
extern atomic_uint sfy_udp_lingering;
void sfy_udp_reap(void);

/* The last destination this thread found direct (family, port and
 * address as in the sockaddr), so that a program sending datagrams to
 * one direct peer pays a comparison, not a routing decision. */
struct sfy_last_direct {
	int valid;
	sa_family_t family;
	uint16_t port;	  /* network order */
	uint8_t addr[16]; /* 4 or 16 bytes used */
};
extern __thread struct sfy_last_direct sfy_last_direct
    __attribute__((tls_model("initial-exec")));

static inline int sfy_udp_direct_cached(const struct sockaddr *sa,
					socklen_t len)
{
	const struct sfy_last_direct *d = &sfy_last_direct;

	if (!d->valid || len < sizeof(sa_family_t) ||
	    sa->sa_family != d->family)
		return 0;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		return s4->sin_port == d->port &&
		       memcmp(&s4->sin_addr, d->addr, 4) == 0;
	}
	if (sa->sa_family == AF_INET6 &&
	    len >= offsetof(struct sockaddr_in6, sin6_scope_id)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		return s6->sin6_port == d->port &&
		       memcmp(&s6->sin6_addr, d->addr, 16) == 0;
	}
	return 0;
}

#endif
