/*
 * sockkind.h - what kind of socket an fd is, and whether the proxy can
 * carry it.  SOCKS5 carries TCP (CONNECT) and UDP (UDP ASSOCIATE); every
 * other protocol on an IP socket (UDP-Lite, SCTP, DCCP, ICMP datagram
 * sockets, raw sockets) and link-layer packet sockets would go out
 * directly: their flows fail closed, with EACCES and a log line, unless
 * the rules send the destination direct or `direct_protocols` lets the
 * protocol go direct.
 */
#ifndef SOCKSIFY_SOCKKIND_H
#define SOCKSIFY_SOCKKIND_H

#include <sys/socket.h>

#include "config.h"

enum sfy_carry {
	SFY_NOT_IP = 0, /* not ours to judge (AF_UNIX, netlink...) */
	SFY_TCP,	/* SOCK_STREAM TCP or MPTCP: CONNECT */
	SFY_UDP,	/* SOCK_DGRAM UDP: UDP ASSOCIATE */
	SFY_UNCARRIED,	/* anything else: see kind */
};

struct sfy_sock {
	int dom, type, proto;
	enum sfy_carry carry;
	unsigned int kind; /* CFG_PROTO_* when SFY_UNCARRIED */
};

/* Classifies a (domain, type, protocol) triple. */
void sfy_sock_classify(struct sfy_sock *s, int dom, int type, int proto);

/* Asks the kernel about fd (three getsockopt calls) and classifies it.
 * Returns 0, or -errno (EBADF, ENOTSOCK: the real call says the same;
 * anything else: the socket cannot be inspected). */
int sfy_sock_probe(int fd, struct sfy_sock *s);

/* The protocol's name for log lines ("UDP-Lite", "SCTP", ...). */
const char *sfy_proto_name(unsigned int kind);

/*
 * May an uncarried flow of socket k (fd; -1 from socket()) go to sa (what
 * connect/sendto named; NULL or a non-IP family for calls without an IP
 * destination)?  Returns 0 (yes: the rules send sa direct, or
 * direct_protocols allows k's protocol), or -1 with errno EACCES and a
 * line in the log (one per fd and protocol for a run of datagram refusals
 * on one thread).  For SCTP and raw sockets only direct_protocols counts.
 * c NULL (broken configuration): refused.
 */
int sfy_uncarried_check(const struct cfg *c, const struct sfy_sock *k, int fd,
			const struct sockaddr *sa, socklen_t len,
			const char *call);

#endif
