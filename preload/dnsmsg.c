/*
 * dnsmsg.c - pure DNS message codec (RFC 1035, RFC 3596).
 *
 * Every integer is assembled byte by byte and every read is preceded by a
 * length check.  Names are decompressed into a local wire-form buffer
 * (length-prefixed labels ending in the root label, at most 255 bytes) and
 * compared in that form, so a label holding a '.' byte never equals two
 * labels.  The parser walks the message several times instead of keeping a
 * table of records: nothing is allocated and nothing is trusted from one
 * walk to the next without the same checks.
 */
#include "dnsmsg.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define DNS_HDR_LEN   12 /* RFC 1035 section 4.1.1 */
#define DNS_QFIX_LEN  4	 /* QTYPE QCLASS, section 4.1.2 */
#define DNS_RRFIX_LEN 10 /* TYPE CLASS TTL RDLENGTH, section 4.1.3 */
#define DNS_MAX_LABEL 63 /* section 2.3.4 */
#define DNS_MAX_JUMPS 128
#define DNS_MAX_CHAIN 16

/* Header flag bits (section 4.1.1), in the 16-bit flags word. */
#define DNS_F_QR 0x8000
#define DNS_F_TC 0x0200
#define DNS_F_RD 0x0100

#define DNS_TTL_MAX 0x7fffffffu /* RFC 2181 section 8 */

/* A decompressed name in wire form. */
struct wname {
	uint8_t b[DNS_MAX_NAME];
	size_t len; /* including the root label */
};

/* One resource record's fixed fields; offsets into the message. */
struct rr {
	size_t owner; /* where the owner name starts */
	uint16_t type;
	uint16_t cls;
	uint32_t ttl;
	size_t rdata;
	size_t rdlen;
	size_t next; /* the byte after the record */
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/*
 * Dotted @name to wire form.  One trailing dot is allowed; every label must
 * be 1..63 bytes and the whole encoding at most 255 bytes.  Stops reading
 * as soon as the name is known to be too long.
 */
static int name_to_wire(const char *name, struct wname *w)
{
	size_t out = 0, lab;
	const char *p = name;

	for (;;) {
		/* The end of the name: "" or the trailing dot's end. */
		if (*p == '\0')
			break;
		lab = 0;
		while (p[lab] != '\0' && p[lab] != '.') {
			if (++lab > DNS_MAX_LABEL)
				return -EINVAL;
		}
		if (lab == 0)
			return -EINVAL; /* "", ".x", "a..b" or "." */
		/* The label, its length byte and the root label must fit. */
		if (out + 1 + lab + 1 > DNS_MAX_NAME)
			return -EINVAL;
		w->b[out] = (uint8_t)lab;
		memcpy(w->b + out + 1, p, lab);
		out += 1 + lab;
		p += lab;
		if (*p == '.')
			p++;
	}
	if (out == 0)
		return -EINVAL;
	w->b[out++] = 0;
	w->len = out;
	return 0;
}

static int wire_equal(const struct wname *a, const struct wname *b)
{
	size_t i;

	if (a->len != b->len)
		return 0;
	/* Length bytes are <= 63, below 'A', so folding them is harmless. */
	for (i = 0; i < a->len; i++)
		if (ascii_lower(a->b[i]) != ascii_lower(b->b[i]))
			return 0;
	return 1;
}

/*
 * Decompresses the name at @off of @msg (@len bytes) into @w.  *@end gets
 * the offset just past the name where it is written (after its first
 * pointer or its root label).  A pointer must point into the message past
 * the header and before the start of the piece being read (the name's start
 * or the previous pointer's target), so the targets strictly decrease and
 * cannot loop; the jump budget caps the work anyway.
 */
static int get_name(const uint8_t *msg, size_t len, size_t off, struct wname *w,
		    size_t *end)
{
	size_t pos = off, piece = off, out = 0, target;
	unsigned jumps = 0;
	int jumped = 0;
	uint8_t c;

	for (;;) {
		if (pos >= len)
			return -EPROTO;
		c = msg[pos];
		if ((c & 0xC0) == 0xC0) {
			if (len - pos < 2)
				return -EPROTO;
			target = (size_t)(c & 0x3F) << 8 | msg[pos + 1];
			if (!jumped) {
				*end = pos + 2;
				jumped = 1;
			}
			if (target < DNS_HDR_LEN || target >= piece)
				return -EPROTO;
			if (++jumps > DNS_MAX_JUMPS)
				return -EPROTO;
			pos = piece = target;
			continue;
		}
		if (c & 0xC0)
			return -EPROTO; /* 0x40/0x80: no such label type */
		if (c == 0) {
			w->b[out++] = 0;
			w->len = out;
			if (!jumped)
				*end = pos + 1;
			return 0;
		}
		if (out + 1 + c + 1 > DNS_MAX_NAME)
			return -EPROTO;
		if (len - pos - 1 < c)
			return -EPROTO;
		memcpy(w->b + out, msg + pos, 1 + (size_t)c);
		out += 1 + (size_t)c;
		pos += 1 + (size_t)c;
	}
}

/*
 * Wire form to dotted text without the trailing dot, into @out (at least
 * DNS_MAX_NAME + 1 bytes).  Returns 0, or -1 if the name cannot be written
 * that way: the root, or a label holding '.' or NUL.
 */
static int wire_to_dotted(const struct wname *w, char *out)
{
	size_t i = 0, o = 0, n, k;

	while (i < w->len && w->b[i] != 0) {
		n = w->b[i];
		for (k = 0; k < n; k++) {
			uint8_t c = w->b[i + 1 + k];

			if (c == '.' || c == '\0')
				return -1;
		}
		if (o)
			out[o++] = '.';
		memcpy(out + o, w->b + i + 1, n);
		o += n;
		i += 1 + n;
	}
	if (o == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* Reads the record at @off: owner name into @owner, fixed fields, RDATA
 * bounds. */
static int get_rr(const uint8_t *msg, size_t len, size_t off, struct rr *rr,
		  struct wname *owner)
{
	size_t p;
	int r;

	rr->owner = off;
	r = get_name(msg, len, off, owner, &p);
	if (r)
		return r;
	if (len - p < DNS_RRFIX_LEN)
		return -EPROTO;
	rr->type = get16(msg + p);
	rr->cls = get16(msg + p + 2);
	rr->ttl = get32(msg + p + 4);
	if (rr->ttl > DNS_TTL_MAX)
		rr->ttl = 0;
	rr->rdlen = get16(msg + p + 8);
	rr->rdata = p + DNS_RRFIX_LEN;
	if (len - rr->rdata < rr->rdlen)
		return -EPROTO;
	rr->next = rr->rdata + rr->rdlen;
	return 0;
}

/* The target of the CNAME @rr, which must fill its RDATA exactly. */
static int get_cname_target(const uint8_t *msg, const struct rr *rr,
			    struct wname *target)
{
	size_t end;
	int r;

	/* Reading stops at the RDATA's end: the name may not run past it. */
	r = get_name(msg, rr->rdata + rr->rdlen, rr->rdata, target, &end);
	if (r)
		return r;
	return end == rr->rdata + rr->rdlen ? 0 : -EPROTO;
}

/* Checks one answer-section record's RDATA for the types we read. */
static int check_answer_rdata(const uint8_t *msg, const struct rr *rr)
{
	struct wname target;

	if (rr->cls != DNS_CLASS_IN)
		return 0;
	switch (rr->type) {
	case DNS_TYPE_A:
		return rr->rdlen == 4 ? 0 : -EPROTO;
	case DNS_TYPE_AAAA:
		return rr->rdlen == 16 ? 0 : -EPROTO;
	case DNS_TYPE_CNAME:
		return get_cname_target(msg, rr, &target);
	default:
		return 0;
	}
}

/*
 * Walks all @count records from @off, checking each; answer records (the
 * first @nans) also get their RDATA checked.  *@ans_end is where the answer
 * section ends.
 */
static int check_records(const uint8_t *msg, size_t len, size_t off,
			 unsigned long count, unsigned long nans,
			 size_t *ans_end)
{
	struct wname owner;
	unsigned long i;
	struct rr rr;
	int r;

	*ans_end = off;
	for (i = 0; i < count; i++) {
		r = get_rr(msg, len, off, &rr, &owner);
		if (r)
			return r;
		if (i < nans) {
			r = check_answer_rdata(msg, &rr);
			if (r)
				return r;
		}
		off = rr.next;
		if (i + 1 == nans)
			*ans_end = off;
	}
	return 0;
}

/*
 * Finds the first followable IN CNAME owned by @cur in the answer section
 * [@off, @end) and puts its target in @next, TTL in *@ttl.  Returns 1 if
 * found, 0 if not, <0 on a malformed record (already ruled out by
 * check_records, checked again all the same).
 */
static int find_cname(const uint8_t *msg, size_t len, size_t off, size_t end,
		      const struct wname *cur, struct wname *next,
		      uint32_t *ttl)
{
	struct wname owner;
	char dotted[DNS_MAX_NAME + 1];
	struct rr rr;
	int r;

	while (off < end) {
		r = get_rr(msg, len, off, &rr, &owner);
		if (r)
			return r;
		off = rr.next;
		if (rr.type != DNS_TYPE_CNAME || rr.cls != DNS_CLASS_IN ||
		    !wire_equal(&owner, cur))
			continue;
		r = get_cname_target(msg, &rr, next);
		if (r)
			return r;
		if (wire_to_dotted(next, dotted))
			continue;
		*ttl = rr.ttl;
		return 1;
	}
	return 0;
}

/* Collects the IN @qtype records owned by @cur in [@off, @end). */
static int collect(const uint8_t *msg, size_t len, size_t off, size_t end,
		   const struct wname *cur, uint16_t qtype,
		   struct dns_answer *out, uint32_t *ttl)
{
	size_t alen = qtype == DNS_TYPE_A ? 4 : 16;
	struct wname owner;
	struct rr rr;
	int r;

	while (off < end && out->naddr < DNS_MAX_ADDRS) {
		r = get_rr(msg, len, off, &rr, &owner);
		if (r)
			return r;
		off = rr.next;
		if (rr.type != qtype || rr.cls != DNS_CLASS_IN ||
		    !wire_equal(&owner, cur))
			continue;
		if (rr.rdlen != alen)
			return -EPROTO;
		out->family[out->naddr] =
		    qtype == DNS_TYPE_A ? AF_INET : AF_INET6;
		memcpy(out->addr[out->naddr], msg + rr.rdata, alen);
		out->naddr++;
		if (rr.ttl < *ttl)
			*ttl = rr.ttl;
	}
	return 0;
}

ssize_t dns_encode_query(uint8_t *buf, size_t cap, uint16_t id,
			 const char *name, uint16_t qtype)
{
	struct wname w;
	size_t total;
	int r;

	r = name_to_wire(name, &w);
	if (r)
		return r;
	total = DNS_HDR_LEN + w.len + DNS_QFIX_LEN;
	if (cap < total)
		return -ENOBUFS;
	put16(buf, id);
	put16(buf + 2, DNS_F_RD); /* QR=0 OPCODE=0 RD=1 */
	put16(buf + 4, 1);	  /* QDCOUNT */
	put16(buf + 6, 0);	  /* ANCOUNT */
	put16(buf + 8, 0);	  /* NSCOUNT */
	put16(buf + 10, 0);	  /* ARCOUNT */
	memcpy(buf + DNS_HDR_LEN, w.b, w.len);
	put16(buf + DNS_HDR_LEN + w.len, qtype);
	put16(buf + DNS_HDR_LEN + w.len + 2, DNS_CLASS_IN);
	return (ssize_t)total;
}

int dns_parse_response(const uint8_t *buf, size_t len, uint16_t id,
		       const char *name, uint16_t qtype, struct dns_answer *out)
{
	struct wname want, qname, cur, next;
	unsigned long an, ns, ar;
	uint16_t flags;
	uint32_t ttl = DNS_TTL_MAX, cname_ttl = DNS_TTL_MAX, t = 0;
	size_t off, ans_start, ans_end;
	unsigned hops;
	int r;

	memset(out, 0, sizeof(*out));
	if (qtype != DNS_TYPE_A && qtype != DNS_TYPE_AAAA)
		return -EINVAL;
	r = name_to_wire(name, &want);
	if (r)
		return r;

	if (len < DNS_HDR_LEN)
		return -EBADMSG;
	flags = get16(buf + 2);
	if (!(flags & DNS_F_QR) || ((flags >> 11) & 0xF) != 0 ||
	    get16(buf) != id || get16(buf + 4) != 1)
		return -EBADMSG;
	an = get16(buf + 6);
	ns = get16(buf + 8);
	ar = get16(buf + 10);

	r = get_name(buf, len, DNS_HDR_LEN, &qname, &off);
	if (r)
		return r;
	if (len - off < DNS_QFIX_LEN)
		return -EPROTO;
	if (!wire_equal(&qname, &want) || get16(buf + off) != qtype ||
	    get16(buf + off + 2) != DNS_CLASS_IN)
		return -EBADMSG;
	if (flags & DNS_F_TC)
		return -EMSGSIZE;
	ans_start = off + DNS_QFIX_LEN;

	r = check_records(buf, len, ans_start, an + ns + ar, an, &ans_end);
	if (r)
		goto fail;

	out->rcode = (uint8_t)(flags & 0xF);
	cur = qname;
	if (out->rcode == 0) {
		for (hops = 0; hops < DNS_MAX_CHAIN; hops++) {
			r = find_cname(buf, len, ans_start, ans_end, &cur,
				       &next, &t);
			if (r < 0)
				goto fail;
			if (r == 0)
				break;
			cur = next;
			if (t < cname_ttl)
				cname_ttl = t;
		}
		r = collect(buf, len, ans_start, ans_end, &cur, qtype, out,
			    &ttl);
		if (r)
			goto fail;
	}
	if (wire_to_dotted(&cur, out->canon)) {
		/* Unreachable: the question matched a dotted name and only
		 * followable CNAMEs are followed. */
		r = -EPROTO;
		goto fail;
	}
	if (out->naddr)
		out->ttl = ttl < cname_ttl ? ttl : cname_ttl;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return r;
}

/* @s without one trailing dot: its length. */
static size_t dotted_len(const char *s)
{
	size_t n = strlen(s);

	return n && s[n - 1] == '.' ? n - 1 : n;
}

int dns_name_equal(const char *a, const char *b)
{
	size_t n = dotted_len(a), i;

	if (n != dotted_len(b))
		return 0;
	for (i = 0; i < n; i++)
		if (ascii_lower((uint8_t)a[i]) != ascii_lower((uint8_t)b[i]))
			return 0;
	return 1;
}

/* Contract in dnsmsg.h. */
int dns_name_is_host(const char *name)
{
	size_t n = strlen(name), i, label = 0;

	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		uint8_t ch = (uint8_t)name[i];

		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

int dns_name_same(const char *tok, size_t tl, const char *name)
{
	size_t nl = strlen(name);

	if (tl && tok[tl - 1] == '.')
		tl--;
	if (nl && name[nl - 1] == '.')
		nl--;
	return tl == nl && strncasecmp(tok, name, nl) == 0;
}

int dns_is_localhost(const char *name)
{
	size_t n = strlen(name);

	if (n && name[n - 1] == '.')
		n--;
	if (n == 9 && strncasecmp(name, "localhost", 9) == 0)
		return 1;
	return n > 10 && strncasecmp(name + n - 10, ".localhost", 10) == 0;
}
