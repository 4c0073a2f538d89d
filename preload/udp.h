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

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* What the UDP layer made of a call. */
#define SFY_UDP_PASS (-2) /* not ours: make the real call */

/* Sends through the relay when fd is a UDP socket and the destination
 * (msg->msg_name, or the connected peer) is proxied.  Returns the
 * program's byte count, -1 with errno, or SFY_UDP_PASS. */
ssize_t sfy_udp_send(int fd, const struct msghdr *msg, int flags);

/* Receives through the relay on a socket with an association.  Returns
 * the payload length, -1 with errno, or SFY_UDP_PASS. */
ssize_t sfy_udp_recv(int fd, struct msghdr *msg, int flags);

/* connect() on a UDP socket: returns 0 / -1 with errno when handled (a
 * proxied peer, or AF_UNSPEC on a socket with an association), or
 * SFY_UDP_PASS. */
int sfy_udp_connect(int fd, const struct sockaddr *sa, socklen_t len);

/* 1 when fd is an fd of the shim's own (a control connection).  No lock,
 * no syscall. */
int sfy_udp_owns_fd(int fd);
/* 1 when the shim owns any fd at all. */
int sfy_udp_any_owned(void);

#endif
