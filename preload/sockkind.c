/*
 * sockkind.c - socket kinds and the fail-closed rule for protocols the
 * proxy cannot carry (contract in sockkind.h).
 */
#include "sockkind.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "log.h"
#include "proxy.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

void sfy_sock_classify(struct sfy_sock *s, int dom, int type, int proto)
{
	s->dom = dom;
	s->type = type;
	s->proto = proto;
	s->kind = 0;
	s->carry = SFY_NOT_IP;
	if (dom == AF_PACKET) {
		s->carry = SFY_UNCARRIED;
		s->kind = CFG_PROTO_RAW;
		return;
	}
	if (dom != AF_INET && dom != AF_INET6)
		return;
	s->carry = SFY_UNCARRIED;
	switch (type) {
	case SOCK_STREAM:
		if (proto == 0 || proto == IPPROTO_TCP ||
		    proto == IPPROTO_MPTCP)
			s->carry = SFY_TCP;
		else
			s->kind = proto == IPPROTO_SCTP ? CFG_PROTO_SCTP
							: CFG_PROTO_RAW;
		return;
	case SOCK_DGRAM:
		if (proto == 0 || proto == IPPROTO_UDP)
			s->carry = SFY_UDP;
		else if (proto == IPPROTO_UDPLITE)
			s->kind = CFG_PROTO_UDPLITE;
		else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
			s->kind = CFG_PROTO_ICMP;
		else
			s->kind = CFG_PROTO_RAW;
		return;
	case SOCK_SEQPACKET:
		s->kind =
		    proto == IPPROTO_SCTP ? CFG_PROTO_SCTP : CFG_PROTO_RAW;
		return;
	case SOCK_DCCP:
		s->kind = CFG_PROTO_DCCP;
		return;
	default: /* SOCK_RAW, SOCK_PACKET, and types to come */
		s->kind = CFG_PROTO_RAW;
		return;
	}
}

int sfy_sock_probe(int fd, struct sfy_sock *s)
{
	int dom, type, proto;
	socklen_t l = sizeof(dom);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) < 0)
		return -errno;
	l = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
		return -errno;
	l = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) < 0)
		return -errno;
	sfy_sock_classify(s, dom, type, proto);
	return 0;
}

const char *sfy_proto_name(unsigned int kind)
{
	switch (kind) {
	case CFG_PROTO_UDPLITE:
		return "UDP-Lite";
	case CFG_PROTO_SCTP:
		return "SCTP";
	case CFG_PROTO_DCCP:
		return "DCCP";
	case CFG_PROTO_ICMP:
		return "ICMP";
	default:
		return "raw";
	}
}

/* The last datagram refusal this thread logged, so that a program
 * retrying the same send in a loop gets one line, not one per datagram
 * (connects and socket() are logged each time). */
static __thread struct {
	int fd;
	unsigned int kind;
	int valid;
} last_refusal __attribute__((tls_model("initial-exec")));

int sfy_uncarried_check(const struct cfg *c, const struct sfy_sock *k, int fd,
			const struct sockaddr *sa, socklen_t len,
			const char *call)
{
	char desc[SFY_ADDRSTRLEN] = "";
	unsigned int kind = k->kind;
	int ip = sa && len >= sizeof(sa_family_t) &&
		 (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);

	if (c && (c->direct_protos & kind))
		return 0;
	/* SCTP and raw sockets go by direct_protocols alone (they are refused
	 * at socket(), see hook_tcp.c): an SCTP peer moves its association to
	 * addresses no rule saw, a raw socket may write its own IP header
	 * with any destination in it. */
	if (c && ip && kind != CFG_PROTO_SCTP && kind != CFG_PROTO_RAW &&
	    cfg_match(c, sa, len) == CFG_DIRECT)
		return 0;
	if (strcmp(call, "datagram") != 0 || !last_refusal.valid ||
	    last_refusal.fd != fd || last_refusal.kind != kind) {
		if (ip)
			sfy_fmt_addr(sa, len, desc, sizeof(desc));
		sfy_log(SFY_LOG_ERROR,
			"%s%s%s on fd %d refused: the proxy cannot carry %s "
			"(SOCKS5 carries TCP and UDP); 'direct_protocols %s' "
			"lets it go out directly (EACCES)",
			call, ip ? " to " : "", desc, fd, sfy_proto_name(kind),
			kind == CFG_PROTO_UDPLITE ? "udplite"
			: kind == CFG_PROTO_SCTP  ? "sctp"
			: kind == CFG_PROTO_DCCP  ? "dccp"
			: kind == CFG_PROTO_ICMP  ? "icmp"
						  : "raw");
		last_refusal.fd = fd;
		last_refusal.kind = kind;
		last_refusal.valid = !strcmp(call, "datagram");
	}
	errno = EACCES;
	return -1;
}
