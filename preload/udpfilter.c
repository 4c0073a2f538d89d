/*
 * udpfilter.c - builds the classic BPF filter of udpfilter.h.
 *
 * A tiny assembler: conditional jumps only ever skip the one instruction
 * after them, which is an unconditional jump (32-bit offset) to a label,
 * so no program is too long for cBPF's 8-bit conditional offsets.  Labels
 * are resolved at the end.
 */
#include "udpfilter.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "socks5.h"

#define MAX_LABELS 2048

/* Offsets in the datagram as the filter sees it (UDP header first). */
#define OFF_SPORT 0 /* UDP source port */
#define OFF_RSV	  8 /* the SOCKS UDP header (RFC 1928 section 7) */
#define OFF_FRAG  10
#define OFF_ATYP  11
#define OFF_ADDR  12
#define UDP_HDR	  8

/* An unconditional jump holds its label's number in k until the end. */
struct asm_ {
	struct sock_filter *out;
	size_t cap, n;
	int overflow;
	int16_t label[MAX_LABELS]; /* instruction index, -1 until placed */
	int nlabels;
};

static void emit(struct asm_ *a, uint16_t code, uint8_t jt, uint8_t jf,
		 uint32_t k)
{
	if (a->n >= a->cap) {
		a->overflow = 1;
		return;
	}
	a->out[a->n].code = code;
	a->out[a->n].jt = jt;
	a->out[a->n].jf = jf;
	a->out[a->n].k = k;
	a->n++;
}

static int new_label(struct asm_ *a)
{
	if (a->nlabels >= MAX_LABELS) {
		a->overflow = 1;
		return 0;
	}
	a->label[a->nlabels] = -1;
	return a->nlabels++;
}

static void place(struct asm_ *a, int l)
{
	a->label[l] = (int16_t)a->n;
}

static void jump(struct asm_ *a, int l)
{
	emit(a, BPF_JMP | BPF_JA, 0, 0, (uint32_t)l);
}

/* Goes to l when A <op> k holds (op: BPF_JEQ, BPF_JGT, BPF_JGE). */
static void jump_if(struct asm_ *a, uint16_t op, uint32_t k, int l)
{
	emit(a, BPF_JMP | op | BPF_K, 0, 1, k);
	jump(a, l);
}

/* Goes to l unless A <op> k holds. */
static void jump_unless(struct asm_ *a, uint16_t op, uint32_t k, int l)
{
	emit(a, BPF_JMP | op | BPF_K, 1, 0, k);
	jump(a, l);
}

static void load(struct asm_ *a, uint16_t size, int32_t off)
{
	emit(a, BPF_LD | size | BPF_ABS, 0, 0, (uint32_t)off);
}

static void ret(struct asm_ *a, uint32_t v)
{
	emit(a, BPF_RET | BPF_K, 0, 0, v);
}

static uint32_t word(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

/* The mask of the 32-bit word i (0-based) of an address under a prefix. */
static uint32_t word_mask(unsigned int prefix, unsigned int i)
{
	unsigned int bits;

	if (prefix >= (i + 1) * 32)
		return 0xffffffffu;
	if (prefix <= i * 32)
		return 0;
	bits = prefix - i * 32;
	return ~(0xffffffffu >> bits);
}

/* Goes to fail unless the nw words of the address at off (SKF_NET_OFF
 * based for the IP header, or in the datagram) match net under prefix. */
static void match_prefix(struct asm_ *a, int32_t off, const uint8_t *net,
			 unsigned int nw, unsigned int prefix, int fail)
{
	unsigned int i;
	uint32_t m;

	for (i = 0; i < nw; i++) {
		m = word_mask(prefix, i);
		if (m == 0)
			break;
		load(a, BPF_W, off + (int32_t)(4 * i));
		if (m != 0xffffffffu)
			emit(a, BPF_ALU | BPF_AND | BPF_K, 0, 0, m);
		jump_unless(a, BPF_JEQ, word(net + 4 * i) & m, fail);
	}
}

/* Goes to fail unless the half-word at off is in [lo, hi]. */
static void match_ports(struct asm_ *a, int32_t off, uint16_t lo, uint16_t hi,
			int fail)
{
	if (lo <= 1 && hi == 65535)
		return;
	load(a, BPF_H, off);
	if (lo > 0)
		jump_unless(a, BPF_JGE, lo, fail);
	if (hi < 65535)
		jump_if(a, BPF_JGT, hi, fail);
}

/* Source address offsets in the IP header. */
#define SRC4 (SKF_NET_OFF + 12)
#define SRC6 (SKF_NET_OFF + 8)

/*
 * The address rules as cfg_match applies them to the source of a datagram
 * of IP version v (4 or 6) on a socket of family fam: the first matching
 * rule's action, then loopback and the unspecified address direct, then
 * the proxy (dropped: it cannot come from there but through the relay).
 */
static void direct_rules(struct asm_ *a, const struct cfg *c, int v, int fam,
			 int accept, int drop)
{
	static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff};
	static const uint8_t zero[16] = {0};
	static const uint8_t loop6[16] = {[15] = 1};
	static const uint8_t loop4[4] = {127, 0, 0, 0};
	size_t i;

	for (i = 0; i < c->nrules; i++) {
		const struct cfg_rule *r = &c->rules[i];
		int next = new_label(a);

		if (r->host_kind != CFG_HOST_NONE)
			continue; /* names never match an address */
		if (r->family == AF_INET && v == 4) {
			match_prefix(a, SRC4, r->addr, 1, r->prefix, next);
		} else if (r->family == AF_INET6 && v == 6) {
			/* Within ::ffff:0:0/96 a rule matches no IPv6 packet:
			 * Linux drops v4-mapped sources on the wire. */
			if (r->prefix >= 96 &&
			    memcmp(r->addr, mapped, 12) == 0) {
				place(a, next);
				continue;
			}
			match_prefix(a, SRC6, r->addr, 4, r->prefix, next);
		} else if (r->family == AF_INET6 && v == 4 && fam == AF_INET6) {
			/* The program sees ::ffff:a.b.c.d: the rule's first
			 * 96 bits must be the mapped prefix's, the rest is
			 * the IPv4 address. */
			unsigned int j, bits = r->prefix < 96 ? r->prefix : 96;
			int ok = 1;

			for (j = 0; j < bits; j++)
				if (((r->addr[j / 8] ^ mapped[j / 8]) >>
				     (7 - j % 8)) &
				    1)
					ok = 0;
			if (!ok) {
				place(a, next);
				continue;
			}
			if (r->prefix > 96)
				match_prefix(a, SRC4, r->addr + 12, 1,
					     r->prefix - 96, next);
		} else if (r->family != AF_UNSPEC) {
			place(a, next);
			continue;
		}
		match_ports(a, OFF_SPORT, r->port_lo, r->port_hi, next);
		jump(a, r->action == CFG_DIRECT ? accept : drop);
		place(a, next);
	}
	if (v == 4) {
		int not_loop = new_label(a);

		match_prefix(a, SRC4, loop4, 1, 8, not_loop);
		jump(a, accept);
		place(a, not_loop);
		match_prefix(a, SRC4, zero, 1, 32, drop);
		jump(a, accept);
	} else {
		int not_loop = new_label(a);

		match_prefix(a, SRC6, loop6, 4, 128, not_loop);
		jump(a, accept);
		place(a, not_loop);
		match_prefix(a, SRC6, zero, 4, 128, drop);
		jump(a, accept);
	}
}

/* On a socket connected to an address: a header of type atyp passes only
 * with the peer's address and port in it (else to drop). */
static void match_peer(struct asm_ *a, const struct uf_spec *s, int atyp,
		       int drop)
{
	unsigned int nw = atyp == S5_ATYP_IPV4 ? 1 : 4;

	if (s->peer_atyp != atyp) {
		jump(a, drop);
		return;
	}
	match_prefix(a, OFF_ADDR, s->peer_addr, nw, nw * 32, drop);
	load(a, BPF_H, OFF_ADDR + (int32_t)(4 * nw));
	jump_unless(a, BPF_JEQ, s->peer_port, drop);
}

/* The checks on a datagram from the relay: its SOCKS header. */
static void relay_header(struct asm_ *a, const struct uf_spec *s, int accept,
			 int drop)
{
	int v6 = new_label(a), dom = new_label(a);
	unsigned int i;

	/* The shortest header: a one-byte name. */
	emit(a, BPF_LD | BPF_W | BPF_LEN, 0, 0, 0);
	jump_unless(a, BPF_JGE, UDP_HDR + 4 + 1 + 1 + 2, drop);
	load(a, BPF_H, OFF_RSV);
	jump_unless(a, BPF_JEQ, 0, drop);
	load(a, BPF_B, OFF_FRAG);
	jump_unless(a, BPF_JEQ, 0, drop);
	load(a, BPF_B, OFF_ATYP);
	jump_if(a, BPF_JEQ, S5_ATYP_IPV6, v6);
	if (s->any_sender)
		jump_if(a, BPF_JEQ, S5_ATYP_DOMAIN, dom);
	jump_unless(a, BPF_JEQ, S5_ATYP_IPV4, drop);
	emit(a, BPF_LD | BPF_W | BPF_LEN, 0, 0, 0);
	jump_unless(a, BPF_JGE, UDP_HDR + 4 + 4 + 2, drop);
	if (s->peer_atyp)
		match_peer(a, s, S5_ATYP_IPV4, drop);
	jump(a, accept);

	place(a, v6);
	emit(a, BPF_LD | BPF_W | BPF_LEN, 0, 0, 0);
	jump_unless(a, BPF_JGE, UDP_HDR + 4 + 16 + 2, drop);
	if (s->peer_atyp) {
		match_peer(a, s, S5_ATYP_IPV6, drop);
	} else if (s->sock_family == AF_INET && !s->any_sender) {
		/* Only as a name's answer, shown as its placeholder. */
		load(a, BPF_H, OFF_ADDR + 16);
		for (i = 0; i < s->n_name_ports && i < 8; i++)
			jump_if(a, BPF_JEQ, s->name_ports[i], accept);
		jump(a, drop);
	}
	jump(a, accept);

	place(a, dom);
	if (s->any_sender) {
		/* A name: 1..255 bytes after its length byte, then the port:
		 * the datagram holds at least UDP + 4 + 1 + len + 2. */
		load(a, BPF_B, OFF_ADDR);
		jump_unless(a, BPF_JGE, 1, drop);
		emit(a, BPF_ALU | BPF_ADD | BPF_K, 0, 0, UDP_HDR + 4 + 1 + 2);
		emit(a, BPF_MISC | BPF_TAX, 0, 0, 0);
		emit(a, BPF_LD | BPF_W | BPF_LEN, 0, 0, 0);
		emit(a, BPF_JMP | BPF_JGE | BPF_X, 0, 1, 0);
		jump(a, accept);
	}
	jump(a, drop);
}

int uf_build(struct sock_filter *out, size_t cap, const struct uf_spec *s)
{
	struct asm_ a;
	int accept, drop, is6, not_relay4, not_relay6, hdr;
	size_t i;

	if ((s->sock_family != AF_INET && s->sock_family != AF_INET6) ||
	    (s->relay_family != AF_INET && s->relay_family != AF_INET6) ||
	    (s->sock_family == AF_INET && s->relay_family == AF_INET6))
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.out = out;
	a.cap = cap < UF_MAX_INSNS ? cap : UF_MAX_INSNS;
	accept = new_label(&a);
	drop = new_label(&a);
	is6 = new_label(&a);
	not_relay4 = new_label(&a);
	not_relay6 = new_label(&a);
	hdr = new_label(&a);

	/* Which IP version carried it (an IPv6 socket hears IPv4 too). */
	load(&a, BPF_B, SKF_NET_OFF);
	emit(&a, BPF_ALU | BPF_RSH | BPF_K, 0, 0, 4);
	if (s->sock_family == AF_INET6)
		jump_if(&a, BPF_JEQ, 6, is6);
	jump_unless(&a, BPF_JEQ, 4, drop);

	/* IPv4: from the relay? */
	if (s->relay_family == AF_INET) {
		match_prefix(&a, SRC4, s->relay_addr, 1, 32, not_relay4);
		load(&a, BPF_H, OFF_SPORT);
		jump_unless(&a, BPF_JEQ, s->relay_port, not_relay4);
		jump(&a, hdr);
	}
	place(&a, not_relay4);
	if (s->direct)
		direct_rules(&a, s->direct, 4, s->sock_family, accept, drop);
	jump(&a, drop);

	/* IPv6 (only on an IPv6 socket). */
	place(&a, is6);
	if (s->sock_family == AF_INET6) {
		if (s->relay_family == AF_INET6) {
			match_prefix(&a, SRC6, s->relay_addr, 4, 128,
				     not_relay6);
			load(&a, BPF_H, OFF_SPORT);
			jump_unless(&a, BPF_JEQ, s->relay_port, not_relay6);
			jump(&a, hdr);
		}
		place(&a, not_relay6);
		if (s->direct)
			direct_rules(&a, s->direct, 6, s->sock_family, accept,
				     drop);
	}
	jump(&a, drop);

	place(&a, hdr);
	relay_header(&a, s, accept, drop);

	place(&a, accept);
	ret(&a, 0xffffffffu);
	place(&a, drop);
	ret(&a, 0);

	if (a.overflow)
		return -ENOSPC;
	for (i = 0; i < a.n; i++) {
		int to;

		if (out[i].code != (BPF_JMP | BPF_JA))
			continue;
		to = a.label[out[i].k];
		if (to < 0)
			return -EINVAL; /* a label never placed: a bug here */
		out[i].k = (uint32_t)(to - (int)i - 1);
	}
	return (int)a.n;
}
