/*
 * socks5.c - pure SOCKS5 codec (RFC 1928, RFC 1929).
 *
 * Every wire field is read and written one byte at a time, so the code is
 * the same on any host byte order and never does an unaligned load.  Each
 * field's length is checked before the field is touched.  Outputs are only
 * written when a call returns 0 (or a positive byte count for encoders), so
 * a caller may retry a parse with more bytes without clearing anything.
 */
#include "socks5.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* RFC 1928 section 4/6: VER CMD|REP RSV, then the address. */
#define S5_HDR_LEN 3
/* RFC 1928 section 7: RSV(2) FRAG(1), then the address. */
#define S5_UDP_HDR_LEN 3
/* RFC 1928 section 3: VER METHOD;  RFC 1929 section 2: VER STATUS. */
#define S5_SHORT_REPLY_LEN 2
/* RFC 1928 section 5: ATYP(1) + ADDR + PORT(2). */
#define S5_PORT_LEN 2
#define S5_V4_WIRE  (1 + 4 + S5_PORT_LEN)
#define S5_V6_WIRE  (1 + 16 + S5_PORT_LEN)
/*
 * The shortest address on the wire: ATYP, a one-byte domain and the port.
 * Until ATYP is known this is all a parser may promise the caller, since
 * asking for more could block on a server that sends exactly that.
 */
#define S5_ADDR_MIN_WIRE (1 + 1 + 1 + S5_PORT_LEN)

/*
 * Wire length of @a's ATYP+ADDR+PORT, or 0 if @a cannot be encoded (an
 * unknown ATYP or an empty domain, which RFC 1928 section 5 does not allow).
 */
static size_t addr_wire_len(const struct s5_addr *a)
{
	switch (a->atyp) {
	case S5_ATYP_IPV4:
		return S5_V4_WIRE;
	case S5_ATYP_IPV6:
		return S5_V6_WIRE;
	case S5_ATYP_DOMAIN:
		/* RFC 1928 section 5: one length octet, no terminating NUL. */
		if (a->u.domain.len == 0)
			return 0;
		return 1 + 1 + (size_t)a->u.domain.len + S5_PORT_LEN;
	default:
		return 0;
	}
}

/*
 * Writes @a at @p; the caller has checked that addr_wire_len(@a) bytes fit.
 * Returns the number of bytes written.
 */
static size_t addr_write(uint8_t *p, const struct s5_addr *a)
{
	size_t n = 0;
	size_t i;

	p[n++] = a->atyp;
	switch (a->atyp) {
	case S5_ATYP_IPV4:
		for (i = 0; i < sizeof(a->u.v4); i++)
			p[n++] = a->u.v4[i];
		break;
	case S5_ATYP_IPV6:
		for (i = 0; i < sizeof(a->u.v6); i++)
			p[n++] = a->u.v6[i];
		break;
	default: /* S5_ATYP_DOMAIN, checked by addr_wire_len() */
		p[n++] = a->u.domain.len;
		for (i = 0; i < a->u.domain.len; i++)
			p[n++] = (uint8_t)a->u.domain.name[i];
		break;
	}
	/* RFC 1928 section 4: ports are in network octet order. */
	p[n++] = (uint8_t)(a->port >> 8);
	p[n++] = (uint8_t)(a->port & 0xff);
	return n;
}

/*
 * Measures the address starting at @p (ATYP first) in @len available bytes.
 * Returns 0 with *@span set, >0 the bytes still needed (the smallest count
 * that could complete an address with what is known so far), or -EPROTO.
 * Bytes that are present are validated even when the address is incomplete,
 * so garbage is rejected as early as possible.
 */
static int addr_span(const uint8_t *p, size_t len, size_t *span)
{
	size_t total;

	if (len < 1)
		return S5_ADDR_MIN_WIRE;
	switch (p[0]) {
	case S5_ATYP_IPV4:
		total = S5_V4_WIRE;
		break;
	case S5_ATYP_IPV6:
		total = S5_V6_WIRE;
		break;
	case S5_ATYP_DOMAIN:
		if (len < 2)
			return (int)(S5_ADDR_MIN_WIRE - len);
		/* A zero-length name names nothing; no server may send it. */
		if (p[1] == 0)
			return -EPROTO;
		total = 1 + 1 + (size_t)p[1] + S5_PORT_LEN;
		break;
	default:
		return -EPROTO;
	}
	if (len < total)
		return (int)(total - len);
	*span = total;
	return 0;
}

/* Decodes the address at @p; the caller has had addr_span() accept it. */
static void addr_read(const uint8_t *p, size_t span, struct s5_addr *a)
{
	size_t i;

	a->atyp = p[0];
	switch (p[0]) {
	case S5_ATYP_IPV4:
		for (i = 0; i < sizeof(a->u.v4); i++)
			a->u.v4[i] = p[1 + i];
		break;
	case S5_ATYP_IPV6:
		for (i = 0; i < sizeof(a->u.v6); i++)
			a->u.v6[i] = p[1 + i];
		break;
	default: /* S5_ATYP_DOMAIN */
		a->u.domain.len = p[1];
		for (i = 0; i < p[1]; i++)
			a->u.domain.name[i] = (char)p[2 + i];
		a->u.domain.name[p[1]] = '\0';
		break;
	}
	a->port = (uint16_t)((unsigned)p[span - 2] << 8 | p[span - 1]);
}

/*
 * RFC 1928 section 3: VER NMETHODS METHODS.  NMETHODS is one octet and a
 * greeting offering nothing cannot be answered, so 1..255 methods.
 */
ssize_t s5_encode_greeting(uint8_t *buf, size_t cap, const uint8_t *methods,
			   size_t nmethods)
{
	size_t i;

	if (nmethods < 1 || nmethods > 255)
		return -EINVAL;
	if (cap < 2 + nmethods)
		return -ENOBUFS;
	buf[0] = S5_VERSION;
	buf[1] = (uint8_t)nmethods;
	for (i = 0; i < nmethods; i++)
		buf[2 + i] = methods[i];
	return (ssize_t)(2 + nmethods);
}

/*
 * RFC 1928 section 3: VER METHOD.  The message is fixed-size, so the caller
 * needs no *consumed: it is always 2.  METHOD is returned unjudged; whether
 * it is one we offered is the handshake's business.
 */
int s5_parse_method_reply(const uint8_t *buf, size_t len, uint8_t *method)
{
	if (len >= 1 && buf[0] != S5_VERSION)
		return -EPROTO;
	if (len < S5_SHORT_REPLY_LEN)
		return (int)(S5_SHORT_REPLY_LEN - len);
	*method = buf[1];
	return 0;
}

/*
 * RFC 1929 section 2: VER(=1) ULEN UNAME PLEN PASSWD.  Both lengths are one
 * octet and RFC 1929 gives them as 1..255; an empty field would be
 * indistinguishable from a client that forgot to configure one.
 */
ssize_t s5_encode_userpass(uint8_t *buf, size_t cap, const char *user,
			   size_t ulen, const char *pass, size_t plen)
{
	size_t n = 0;
	size_t i;

	if (ulen < 1 || ulen > 255 || plen < 1 || plen > 255)
		return -EINVAL;
	if (cap < 3 + ulen + plen)
		return -ENOBUFS;
	buf[n++] = S5_AUTH_VERSION;
	buf[n++] = (uint8_t)ulen;
	for (i = 0; i < ulen; i++)
		buf[n++] = (uint8_t)user[i];
	buf[n++] = (uint8_t)plen;
	for (i = 0; i < plen; i++)
		buf[n++] = (uint8_t)pass[i];
	return (ssize_t)n;
}

/*
 * RFC 1929 section 2: VER(=1) STATUS.  Any STATUS other than 0 is a
 * failure; the caller decides what to report, so it is passed through.
 */
int s5_parse_userpass_reply(const uint8_t *buf, size_t len, uint8_t *status)
{
	if (len >= 1 && buf[0] != S5_AUTH_VERSION)
		return -EPROTO;
	if (len < S5_SHORT_REPLY_LEN)
		return (int)(S5_SHORT_REPLY_LEN - len);
	*status = buf[1];
	return 0;
}

/*
 * RFC 1928 section 4: VER CMD RSV(=0) ATYP DST.ADDR DST.PORT.  Only the
 * three commands the RFC defines are accepted: anything else is a caller
 * bug that a server would answer with REP 0x07 after a round trip.
 */
ssize_t s5_encode_request(uint8_t *buf, size_t cap, uint8_t cmd,
			  const struct s5_addr *dst)
{
	size_t alen;

	if (cmd != S5_CMD_CONNECT && cmd != S5_CMD_BIND &&
	    cmd != S5_CMD_UDP_ASSOCIATE)
		return -EINVAL;
	alen = addr_wire_len(dst);
	if (alen == 0)
		return -EINVAL;
	if (cap < S5_HDR_LEN + alen)
		return -ENOBUFS;
	buf[0] = S5_VERSION;
	buf[1] = cmd;
	buf[2] = 0x00; /* RSV, RFC 1928 section 4 */
	return (ssize_t)(S5_HDR_LEN + addr_write(buf + S5_HDR_LEN, dst));
}

/*
 * RFC 1928 section 6: VER REP RSV(=0) ATYP BND.ADDR BND.PORT.  The length
 * comes from the reply's own ATYP: servers answer a domain request with an
 * IP (or anything else), so the request's ATYP says nothing.  REP is passed
 * through unjudged, including codes the RFC does not define, so that the
 * caller maps every failure through s5_reply_errno().  Until the length is
 * known the "need" is the shortest reply that could still follow, never
 * more, so a caller reading exactly that much never eats application data.
 */
int s5_parse_reply(const uint8_t *buf, size_t len, uint8_t *rep,
		   struct s5_addr *bnd, size_t *consumed)
{
	size_t span;
	int r;

	if (len >= 1 && buf[0] != S5_VERSION)
		return -EPROTO;
	if (len >= 3 && buf[2] != 0x00) /* RSV, RFC 1928 section 6 */
		return -EPROTO;
	if (len < S5_HDR_LEN)
		return (int)(S5_HDR_LEN - len) + S5_ADDR_MIN_WIRE;
	r = addr_span(buf + S5_HDR_LEN, len - S5_HDR_LEN, &span);
	if (r != 0)
		return r;
	*rep = buf[1];
	addr_read(buf + S5_HDR_LEN, span, bnd);
	*consumed = S5_HDR_LEN + span;
	return 0;
}

/*
 * RFC 1928 section 7: RSV(2, =0) FRAG ATYP DST.ADDR DST.PORT.  FRAG is any
 * octet (the high bit marks the end of a fragment sequence); dropping
 * fragments is the caller's policy, not the codec's.
 */
ssize_t s5_encode_udp_header(uint8_t *buf, size_t cap, uint8_t frag,
			     const struct s5_addr *dst)
{
	size_t alen;

	alen = addr_wire_len(dst);
	if (alen == 0)
		return -EINVAL;
	if (cap < S5_UDP_HDR_LEN + alen)
		return -ENOBUFS;
	buf[0] = 0x00; /* RSV, RFC 1928 section 7 */
	buf[1] = 0x00;
	buf[2] = frag;
	return (ssize_t)(S5_UDP_HDR_LEN +
			 addr_write(buf + S5_UDP_HDR_LEN, dst));
}

/*
 * RFC 1928 section 7.  A datagram arrives whole, so a header that does not
 * fit is damage, not a partial read: every failure is -EPROTO.
 */
int s5_parse_udp_header(const uint8_t *buf, size_t len, uint8_t *frag,
			struct s5_addr *src, size_t *hdrlen)
{
	size_t span;

	if (len < S5_UDP_HDR_LEN)
		return -EPROTO;
	if (buf[0] != 0x00 || buf[1] != 0x00) /* RSV */
		return -EPROTO;
	if (addr_span(buf + S5_UDP_HDR_LEN, len - S5_UDP_HDR_LEN, &span) != 0)
		return -EPROTO;
	*frag = buf[2];
	addr_read(buf + S5_UDP_HDR_LEN, span, src);
	*hdrlen = S5_UDP_HDR_LEN + span;
	return 0;
}

/*
 * The product's single mapping from REP to errno: what connect() fails
 * with.  Codes the RFC does not define (and 0x01, which says nothing) look
 * like a refusal to the application, which is the least surprising answer.
 */
int s5_reply_errno(uint8_t rep)
{
	switch (rep) {
	case S5_REP_SUCCEEDED:
		return 0;
	case S5_REP_NOT_ALLOWED:
		return EACCES;
	case S5_REP_NET_UNREACHABLE:
		return ENETUNREACH;
	case S5_REP_HOST_UNREACHABLE:
		return EHOSTUNREACH;
	case S5_REP_TTL_EXPIRED:
		return ETIMEDOUT;
	case S5_REP_CMD_UNSUPPORTED:
		return EOPNOTSUPP;
	case S5_REP_ATYP_UNSUPPORTED:
		return EAFNOSUPPORT;
	case S5_REP_GENERAL_FAILURE:
	case S5_REP_CONN_REFUSED:
	default:
		return ECONNREFUSED;
	}
}

/* RFC 1928 section 6 wording, for log lines a user can search for. */
const char *s5_reply_str(uint8_t rep)
{
	static const char *const text[] = {
	    [S5_REP_SUCCEEDED] = "succeeded",
	    [S5_REP_GENERAL_FAILURE] = "general SOCKS server failure",
	    [S5_REP_NOT_ALLOWED] = "connection not allowed by ruleset",
	    [S5_REP_NET_UNREACHABLE] = "Network unreachable",
	    [S5_REP_HOST_UNREACHABLE] = "Host unreachable",
	    [S5_REP_CONN_REFUSED] = "Connection refused",
	    [S5_REP_TTL_EXPIRED] = "TTL expired",
	    [S5_REP_CMD_UNSUPPORTED] = "Command not supported",
	    [S5_REP_ATYP_UNSUPPORTED] = "Address type not supported",
	};

	if (rep >= sizeof(text) / sizeof(text[0]))
		return "unknown reply code";
	return text[rep];
}

/*
 * AF_INET and AF_INET6 only.  A v4-mapped IPv6 address is sent as ATYP
 * IPv4: the target is an IPv4 host, and a server without IPv6 would refuse
 * ATYP IPv6 for it.  The IPv6 scope id and flow label have no SOCKS field
 * and are dropped.  The sockaddr is copied out first because the caller's
 * storage may be any type, aligned for any of them.
 */
int s5_addr_from_sockaddr(struct s5_addr *out, const struct sockaddr *sa,
			  size_t salen)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	sa_family_t family;
	size_t i;

	if (salen < sizeof(family))
		return -EINVAL;
	memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family),
	       sizeof(family));
	switch (family) {
	case AF_INET:
		if (salen < sizeof(sin))
			return -EINVAL;
		memcpy(&sin, sa, sizeof(sin));
		out->atyp = S5_ATYP_IPV4;
		memcpy(out->u.v4, &sin.sin_addr, sizeof(out->u.v4));
		out->port = ntohs(sin.sin_port);
		return 0;
	case AF_INET6:
		/* The kernel takes the RFC 2133 size, without sin6_scope_id
		 * (which SOCKS has no field for anyway). */
		if (salen < offsetof(struct sockaddr_in6, sin6_scope_id))
			return -EINVAL;
		memset(&sin6, 0, sizeof(sin6));
		memcpy(&sin6, sa, salen < sizeof(sin6) ? salen : sizeof(sin6));
		if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
			out->atyp = S5_ATYP_IPV4;
			for (i = 0; i < sizeof(out->u.v4); i++)
				out->u.v4[i] = sin6.sin6_addr.s6_addr[12 + i];
		} else {
			out->atyp = S5_ATYP_IPV6;
			memcpy(out->u.v6, &sin6.sin6_addr, sizeof(out->u.v6));
		}
		out->port = ntohs(sin6.sin6_port);
		return 0;
	default:
		return -EAFNOSUPPORT;
	}
}

/*
 * The inverse for IP addresses.  *salen is the room at @sa on entry and
 * the length used on return; too little room is -EINVAL (as bind() and
 * connect() say it), and @sa is untouched then.  A domain (or any ATYP
 * that is not an IP) has no sockaddr form: -EAFNOSUPPORT.  IPv4 is always
 * returned as AF_INET; mapping into an AF_INET6 socket's family is the
 * caller's choice.
 */
int s5_addr_to_sockaddr(const struct s5_addr *a, struct sockaddr *sa,
			size_t *salen)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	switch (a->atyp) {
	case S5_ATYP_IPV4:
		if (*salen < sizeof(sin))
			return -EINVAL;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(a->port);
		memcpy(&sin.sin_addr, a->u.v4, sizeof(a->u.v4));
		memcpy(sa, &sin, sizeof(sin));
		*salen = sizeof(sin);
		return 0;
	case S5_ATYP_IPV6:
		if (*salen < sizeof(sin6))
			return -EINVAL;
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(a->port);
		memcpy(&sin6.sin6_addr, a->u.v6, sizeof(a->u.v6));
		memcpy(sa, &sin6, sizeof(sin6));
		*salen = sizeof(sin6);
		return 0;
	default:
		return -EAFNOSUPPORT;
	}
}

/*
 * Builds a remote-resolution (socks5h) target.  RFC 1928 section 5 gives
 * the name one length octet and no terminator, so 1..255 bytes; a longer
 * name is refused, not truncated, since a truncated name is another host.
 */
int s5_addr_domain(struct s5_addr *out, const char *name, uint16_t port)
{
	size_t n;

	n = strnlen(name, 256);
	if (n < 1 || n > 255)
		return -EINVAL;
	out->atyp = S5_ATYP_DOMAIN;
	out->port = port;
	out->u.domain.len = (uint8_t)n;
	memcpy(out->u.domain.name, name, n);
	out->u.domain.name[n] = '\0';
	return 0;
}
