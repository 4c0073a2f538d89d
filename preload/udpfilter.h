/*
 * udpfilter.h - the kernel-side filter of a UDP socket with a relay
 * association: a classic BPF socket filter (SO_ATTACH_FILTER) that drops,
 * before the datagram is queued, everything the shim would drop when the
 * program reads it.  Readiness is then honest: select/poll/epoll never
 * report a socket readable for a datagram the program will not get, and a
 * blocking receive that follows never waits for one it was promised.
 *
 * What passes:
 *   - from the relay (address and port): a SOCKS UDP header (RFC 1928
 *     section 7) with RSV 0, FRAG 0 (we do not reassemble), long enough
 *     for its address, and a sender the program's socket can show: ATYP
 *     IPv4; IPv6 on an IPv6 socket, or on an IPv4 one from the port of a
 *     name the program sent to (it is shown that name's placeholder); on
 *     a socket the program connected to an address, only that sender; on
 *     one it connected to a name, any sender (IPv4, IPv6 or a name);
 *   - in mixed mode (the socket also talks to peers the rules send
 *     direct): datagrams from a source address and port the address
 *     rules send direct (cfg_match, loopback included), as the program's
 *     socket would see the source (v4-mapped on an IPv6 socket).
 *   Everything else is dropped.
 *
 * Pure: builds instructions, makes no system call.  The instructions
 * start at the UDP header (what the kernel's socket filter sees for UDP);
 * the IP header is reached with SKF_NET_OFF.
 */
#ifndef SOCKSIFY_UDPFILTER_H
#define SOCKSIFY_UDPFILTER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The kernel's limit on one classic BPF program. */
#define UF_MAX_INSNS BPF_MAXINSNS

struct uf_spec {
	int sock_family;	/* AF_INET or AF_INET6: the program's socket */
	int relay_family;	/* AF_INET or AF_INET6, as on the wire */
	uint8_t relay_addr[16]; /* 4 or 16 bytes used */
	uint16_t relay_port;	/* host byte order */
	int peer_atyp;		/* 0: any sender; S5_ATYP_IPV4 or _IPV6 */
	uint8_t peer_addr[16];
	uint16_t peer_port; /* host byte order */
	int any_sender;	    /* connected to a name: every ATYP */
	/* IPv4 socket: ports of names sent to; an IPv6 sender from one of
	 * these is shown as the name's placeholder. */
	uint16_t name_ports[8];
	unsigned int n_name_ports;
	const struct cfg
	    *direct; /* mixed mode: these rules; NULL: relay only */
};

/* Writes the filter for s into out (cap instructions).  Returns the
 * number written, or -ENOSPC when it does not fit (too many rules), or
 * -EINVAL for a spec that makes no sense. */
int uf_build(struct sock_filter *out, size_t cap, const struct uf_spec *s);

#endif
