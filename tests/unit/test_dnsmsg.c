/*
 * test_dnsmsg.c - unit tests for the DNS message codec (preload/dnsmsg.c).
 *
 * Query bytes are spelled out from RFC 1035 section 4.1.  Responses are
 * assembled by a small builder that writes fields one at a time and counts
 * the records of each section itself, so no test keeps a count by hand.
 * Two responses are byte-for-byte what dnsmasq 2.90 sent on loopback.
 * Every parse reads a heap copy of exactly the message's length, so an
 * over-read shows up under valgrind or ASan, not just as a wrong answer.
 */
#include <check.h>
#include <errno.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsmsg.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CANARY	      0xA5

#define ID	    0x1234
#define QNAME	    "www.example.com"
#define F_RESPONSE  0x8180 /* QR RD RA, NOERROR */
#define F_NXDOMAIN  0x8183
#define F_QR	    0x8000
#define F_TC	    0x0200
#define OFF_QNAME   12 /* the question's name, where pointers aim */
#define PTR_QNAME   0xC00C
#define HUGE_TTL    0x80000000u /* RFC 2181: read as 0 */
#define UNTOUCHED_V 0x5A

/* A heap copy of exactly @n bytes (at least one allocated byte for n 0). */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

static int all_bytes(const void *p, int c, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != (uint8_t)c)
			return 0;
	return 1;
}

/* ---- the response builder ---- */

enum { SEC_AN, SEC_NS, SEC_AR, NSEC };

struct msg {
	uint8_t b[8192];
	size_t n;
	unsigned count[NSEC]; /* records per section, for finish() */
};

static void put8(struct msg *m, unsigned v)
{
	ck_assert_uint_lt(m->n, sizeof(m->b));
	m->b[m->n++] = (uint8_t)v;
}

static void put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xFF);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xFFFF);
}

static void put_bytes(struct msg *m, const void *p, size_t n)
{
	ck_assert_uint_le(n, sizeof(m->b) - m->n);
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

/* The labels of dotted @s, without the root label; returns their offset. */
static size_t put_labels(struct msg *m, const char *s)
{
	size_t start = m->n;

	while (*s) {
		size_t len = strcspn(s, ".");

		put8(m, (unsigned)len);
		put_bytes(m, s, len);
		s += len;
		if (*s == '.')
			s++;
	}
	return start;
}

/* Dotted @s as a complete uncompressed name; returns its offset. */
static size_t put_name(struct msg *m, const char *s)
{
	size_t start = put_labels(m, s);

	put8(m, 0);
	return start;
}

static void put_ptr(struct msg *m, size_t off)
{
	put16(m, 0xC000 | (unsigned)off);
}

/* Header (counts filled by finish()) and one question. */
static void begin(struct msg *m, uint16_t id, unsigned flags, const char *qname,
		  unsigned qtype)
{
	memset(m, 0, sizeof(*m));
	put16(m, id);
	put16(m, flags);
	put16(m, 1); /* QDCOUNT */
	put16(m, 0);
	put16(m, 0);
	put16(m, 0);
	put_name(m, qname);
	put16(m, qtype);
	put16(m, DNS_CLASS_IN);
}

/* TYPE CLASS TTL RDLENGTH of a record whose owner was just written. */
static void rr_fixed(struct msg *m, int sec, unsigned type, unsigned cls,
		     uint32_t ttl, unsigned rdlen)
{
	m->count[sec]++;
	put16(m, type);
	put16(m, cls);
	put32(m, ttl);
	put16(m, rdlen);
}

/* An IN A record owned by the name at @owner (a pointer). */
static void rr_a(struct msg *m, int sec, size_t owner, uint32_t ttl,
		 const uint8_t a[4])
{
	put_ptr(m, owner);
	rr_fixed(m, sec, DNS_TYPE_A, DNS_CLASS_IN, ttl, 4);
	put_bytes(m, a, 4);
}

static void rr_aaaa(struct msg *m, int sec, size_t owner, uint32_t ttl,
		    const uint8_t a[16])
{
	put_ptr(m, owner);
	rr_fixed(m, sec, DNS_TYPE_AAAA, DNS_CLASS_IN, ttl, 16);
	put_bytes(m, a, 16);
}

/* An IN CNAME owned by the name at @owner with an uncompressed target;
 * returns the target's offset. */
static size_t rr_cname(struct msg *m, size_t owner, uint32_t ttl,
		       const char *target)
{
	size_t t;

	put_ptr(m, owner);
	rr_fixed(m, SEC_AN, DNS_TYPE_CNAME, DNS_CLASS_IN, ttl,
		 (unsigned)strlen(target) + 2);
	t = put_name(m, target);
	return t;
}

static void finish(struct msg *m)
{
	m->b[6] = (uint8_t)(m->count[SEC_AN] >> 8);
	m->b[7] = (uint8_t)m->count[SEC_AN];
	m->b[8] = (uint8_t)(m->count[SEC_NS] >> 8);
	m->b[9] = (uint8_t)m->count[SEC_NS];
	m->b[10] = (uint8_t)(m->count[SEC_AR] >> 8);
	m->b[11] = (uint8_t)m->count[SEC_AR];
}

/* Parses the first @len bytes of @m from an exact heap copy. */
static int parse_n(const struct msg *m, size_t len, uint16_t id,
		   const char *name, uint16_t qtype, struct dns_answer *out)
{
	uint8_t *p = dup_exact(m->b, len);
	int r;

	memset(out, UNTOUCHED_V, sizeof(*out));
	r = dns_parse_response(p, len, id, name, qtype, out);
	free(p);
	return r;
}

static int parse(const struct msg *m, uint16_t qtype, struct dns_answer *out)
{
	return parse_n(m, m->n, ID, QNAME, qtype, out);
}

static const uint8_t v4_1[4] = {192, 0, 2, 1};
static const uint8_t v4_2[4] = {192, 0, 2, 2};
static const uint8_t v4_3[4] = {198, 51, 100, 3};
static const uint8_t v6_1[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				 0,    0,    0,	   0,	 0, 0, 0, 1};
static const uint8_t v6_2[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				 0,    0,    0,	   0,	 0, 0, 0, 2};

static void assert_zeroed(const struct dns_answer *a)
{
	ck_assert(all_bytes(a, 0, sizeof(*a)));
}

/* ---- dns_encode_query ---- */

/* clang-format off */
static const uint8_t query_www_a[] = {
	0xbe, 0xef,			/* ID */
	0x01, 0x00,			/* QR=0 OPCODE=0 RD=1 */
	0x00, 0x01,			/* QDCOUNT */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* AN NS AR */
	3, 'w', 'w', 'w',
	7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	3, 'c', 'o', 'm',
	0,				/* root */
	0x00, 0x01,			/* QTYPE A */
	0x00, 0x01,			/* QCLASS IN */
};
/* clang-format on */

START_TEST(test_query_bytes)
{
	uint8_t buf[512];

	ck_assert_int_eq(dns_encode_query(buf, sizeof(buf), 0xbeef,
					  "www.example.com", DNS_TYPE_A),
			 sizeof(query_www_a));
	ck_assert_mem_eq(buf, query_www_a, sizeof(query_www_a));
}
END_TEST

START_TEST(test_query_trailing_dot)
{
	uint8_t buf[512];

	ck_assert_int_eq(dns_encode_query(buf, sizeof(buf), 0xbeef,
					  "www.example.com.", DNS_TYPE_A),
			 sizeof(query_www_a));
	ck_assert_mem_eq(buf, query_www_a, sizeof(query_www_a));
}
END_TEST

/* clang-format off */
static const uint8_t query_a_aaaa[] = {
	0x00, 0x07,			/* ID */
	0x01, 0x00,			/* RD */
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	1, 'A', 0,			/* "A" */
	0x00, 0x1c,			/* QTYPE AAAA */
	0x00, 0x01,			/* QCLASS IN */
};
/* clang-format on */

START_TEST(test_query_aaaa)
{
	uint8_t buf[512];

	ck_assert_int_eq(
	    dns_encode_query(buf, sizeof(buf), 7, "A", DNS_TYPE_AAAA),
	    sizeof(query_a_aaaa));
	ck_assert_mem_eq(buf, query_a_aaaa, sizeof(query_a_aaaa));
}
END_TEST

START_TEST(test_query_label_63)
{
	char name[64 + 5];
	uint8_t buf[512];

	memset(name, 'x', 63);
	strcpy(name + 63, ".com");
	ck_assert_int_eq(
	    dns_encode_query(buf, sizeof(buf), 1, name, DNS_TYPE_A),
	    12 + 1 + 63 + 1 + 3 + 1 + 4);
	ck_assert_uint_eq(buf[12], 63);
	ck_assert_mem_eq(buf + 13, name, 63);
	ck_assert_uint_eq(buf[12 + 64], 3);
}
END_TEST

START_TEST(test_query_label_64)
{
	char name[64 + 5];
	uint8_t buf[512];

	memset(name, 'x', 64);
	strcpy(name + 64, ".com");
	ck_assert_int_eq(
	    dns_encode_query(buf, sizeof(buf), 1, name, DNS_TYPE_A), -EINVAL);
}
END_TEST

static const char *const bad_names[] = {
    "", ".", "..", "a..b", ".a", "a..", "a.b..",
};

START_TEST(test_query_bad_names)
{
	uint8_t buf[512];

	memset(buf, CANARY, sizeof(buf));
	ck_assert_int_eq(
	    dns_encode_query(buf, sizeof(buf), 1, bad_names[_i], DNS_TYPE_A),
	    -EINVAL);
	ck_assert(all_bytes(buf, CANARY, sizeof(buf)));
}
END_TEST

/* Labels of 63, 63, 63 and @last bytes: the encoded name is 3 * 64 +
 * (1 + last) + 1 bytes, so last 61 is 255 and last 62 is 256. */
static void long_name(char *out, size_t last, int dot)
{
	char *p = out;
	int i;

	for (i = 0; i < 3; i++) {
		memset(p, 'a' + i, 63);
		p[63] = '.';
		p += 64;
	}
	memset(p, 'z', last);
	p += last;
	if (dot)
		*p++ = '.';
	*p = '\0';
}

/* Without and with the optional trailing dot. */
static const int trailing_dot[] = {0, 1};

START_TEST(test_query_name_255)
{
	char name[300];
	uint8_t buf[512];

	long_name(name, 61, trailing_dot[_i]);
	ck_assert_int_eq(
	    dns_encode_query(buf, sizeof(buf), 1, name, DNS_TYPE_A),
	    12 + 255 + 4);
	ck_assert_uint_eq(buf[12 + 3 * 64], 61);
	ck_assert_uint_eq(buf[12 + 254], 0);
}
END_TEST

START_TEST(test_query_name_256)
{
	char name[300];
	uint8_t buf[512];

	long_name(name, 62, trailing_dot[_i]);
	ck_assert_int_eq(
	    dns_encode_query(buf, sizeof(buf), 1, name, DNS_TYPE_A), -EINVAL);
}
END_TEST

START_TEST(test_query_enobufs)
{
	uint8_t buf[sizeof(query_www_a) + 1];
	size_t cap;

	for (cap = 0; cap < sizeof(query_www_a); cap++) {
		memset(buf, CANARY, sizeof(buf));
		ck_assert_int_eq(dns_encode_query(buf, cap, 0xbeef,
						  "www.example.com",
						  DNS_TYPE_A),
				 -ENOBUFS);
		ck_assert(all_bytes(buf, CANARY, sizeof(buf)));
	}
}
END_TEST

START_TEST(test_query_exact_cap)
{
	uint8_t buf[sizeof(query_www_a) + 1];

	memset(buf, CANARY, sizeof(buf));
	ck_assert_int_eq(dns_encode_query(buf, sizeof(query_www_a), 0xbeef,
					  "www.example.com", DNS_TYPE_A),
			 sizeof(query_www_a));
	ck_assert_uint_eq(buf[sizeof(query_www_a)], CANARY);
}
END_TEST

/* The codec's own query, answered, parses: the two agree on the name. */
START_TEST(test_query_round_trip)
{
	struct dns_answer ans;
	struct msg m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	n = dns_encode_query(m.b, sizeof(m.b), ID, QNAME, DNS_TYPE_A);
	ck_assert_int_gt(n, 0);
	m.n = (size_t)n;
	m.b[2] |= 0x80; /* QR */
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
}
END_TEST

/* ---- dns_name_equal ---- */

struct name_pair {
	const char *a, *b;
	int equal;
};

static const struct name_pair name_pairs[] = {
    {"example.com", "example.com", 1},
    {"Example.COM", "example.com", 1},
    {"example.com.", "example.com", 1},
    {"example.com", "EXAMPLE.COM.", 1},
    {"example.com.", "example.com.", 1},
    {"", ".", 1},
    {"example.com", "example.org", 0},
    {"example.com", "example.co", 0},
    {"example.com", "www.example.com", 0},
    {"example.com..", "example.com", 0},
    {"a", "", 0},
    {"[", "{", 0}, /* '[' + 0x20 is '{': only A-Z fold */
};

START_TEST(test_name_equal)
{
	const struct name_pair *p = &name_pairs[_i];

	ck_assert_int_eq(dns_name_equal(p->a, p->b), p->equal);
}
END_TEST

START_TEST(test_name_equal_symmetric)
{
	const struct name_pair *p = &name_pairs[_i];

	ck_assert_int_eq(dns_name_equal(p->b, p->a), p->equal);
}
END_TEST

/* ---- responses: answers ---- */

START_TEST(test_a_answer)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.rcode, 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_int_eq(ans.family[0], AF_INET);
	ck_assert_mem_eq(ans.addr[0], v4_1, 4);
	ck_assert_uint_eq(ans.ttl, 300);
	ck_assert_str_eq(ans.canon, QNAME);
}
END_TEST

START_TEST(test_aaaa_answer)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_AAAA);
	rr_aaaa(&m, SEC_AN, OFF_QNAME, 60, v6_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_AAAA, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_int_eq(ans.family[0], AF_INET6);
	ck_assert_mem_eq(ans.addr[0], v6_1, 16);
	ck_assert_uint_eq(ans.ttl, 60);
	ck_assert_str_eq(ans.canon, QNAME);
}
END_TEST

START_TEST(test_several_addresses)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_2);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_3);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 3);
	ck_assert_mem_eq(ans.addr[0], v4_1, 4);
	ck_assert_mem_eq(ans.addr[1], v4_2, 4);
	ck_assert_mem_eq(ans.addr[2], v4_3, 4);
	ck_assert_int_eq(ans.family[2], AF_INET);
}
END_TEST

START_TEST(test_ttl_minimum)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	rr_a(&m, SEC_AN, OFF_QNAME, 17, v4_2);
	rr_a(&m, SEC_AN, OFF_QNAME, 3600, v4_3);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.ttl, 17);
}
END_TEST

START_TEST(test_ttl_high_bit_is_zero)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	rr_a(&m, SEC_AN, OFF_QNAME, HUGE_TTL, v4_2);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.ttl, 0);
}
END_TEST

START_TEST(test_ttl_max_kept)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 0x7fffffff, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.ttl, 0x7fffffff);
}
END_TEST

START_TEST(test_more_than_max_addrs)
{
	struct dns_answer ans;
	uint8_t a[4] = {10, 0, 0, 0};
	struct msg m;
	unsigned i;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	for (i = 0; i < DNS_MAX_ADDRS + 8; i++) {
		a[3] = (uint8_t)i;
		/* The smallest TTLs are on records past the cap. */
		rr_a(&m, SEC_AN, OFF_QNAME, i < DNS_MAX_ADDRS ? 500 : 5, a);
	}
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, DNS_MAX_ADDRS);
	for (i = 0; i < DNS_MAX_ADDRS; i++)
		ck_assert_uint_eq(ans.addr[i][3], i);
	ck_assert_uint_eq(ans.ttl, 500);
}
END_TEST

/* Case differs between the question on the wire and the name asked. */
START_TEST(test_question_case_insensitive)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, "WWW.Example.COM", DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(
	    parse_n(&m, m.n, ID, "www.example.com.", DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_str_eq(ans.canon, "WWW.Example.COM");
}
END_TEST

/* An uncompressed owner spelled in another case still matches. */
START_TEST(test_owner_case_insensitive)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_name(&m, "wWw.EXAMPLE.com");
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_1, 4);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
}
END_TEST

START_TEST(test_trailing_bytes_ignored)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);
	put_bytes(&m, "junk", 4);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
}
END_TEST

/* ---- CNAMEs ---- */

/* www.example.com CNAME a.example.net CNAME b.example.org A v4_1, v4_2;
 * each owner is a pointer to the previous CNAME's target. */
static void build_chain_in_order(struct msg *m)
{
	size_t t1, t2;

	begin(m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	t1 = rr_cname(m, OFF_QNAME, 3600, "a.example.net");
	t2 = rr_cname(m, t1, 120, "b.example.org");
	rr_a(m, SEC_AN, t2, 300, v4_1);
	rr_a(m, SEC_AN, t2, 300, v4_2);
	finish(m);
}

/* The same chain with the records in reverse order: the targets are
 * written out first as owners, the CNAMEs point at them. */
static void build_chain_reversed(struct msg *m)
{
	size_t b_owner, a_owner;

	begin(m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	b_owner = put_name(m, "b.example.org");
	rr_fixed(m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(m, v4_1, 4);
	rr_a(m, SEC_AN, b_owner, 300, v4_2);
	a_owner = put_name(m, "a.example.net");
	rr_fixed(m, SEC_AN, DNS_TYPE_CNAME, DNS_CLASS_IN, 120, 2);
	put_ptr(m, b_owner);
	put_ptr(m, OFF_QNAME);
	rr_fixed(m, SEC_AN, DNS_TYPE_CNAME, DNS_CLASS_IN, 3600, 2);
	put_ptr(m, a_owner);
	finish(m);
}

static void (*const chain_builders[])(struct msg *) = {
    build_chain_in_order,
    build_chain_reversed,
};

START_TEST(test_cname_chain)
{
	struct dns_answer ans;
	struct msg m;

	chain_builders[_i](&m);
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 2);
	ck_assert_mem_eq(ans.addr[0], v4_1, 4);
	ck_assert_mem_eq(ans.addr[1], v4_2, 4);
	ck_assert_str_eq(ans.canon, "b.example.org");
}
END_TEST

/* The CNAMEs' TTLs count: the chain's 120 is below the addresses' 300. */
START_TEST(test_cname_ttl)
{
	struct dns_answer ans;
	struct msg m;

	chain_builders[_i](&m);
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.ttl, 120);
}
END_TEST

/* Addresses of the query name itself do not count once it is an alias. */
START_TEST(test_cname_alias_addresses_ignored)
{
	struct dns_answer ans;
	struct msg m;
	size_t t;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_3);
	t = rr_cname(&m, OFF_QNAME, 300, "real.example.com");
	rr_a(&m, SEC_AN, t, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_mem_eq(ans.addr[0], v4_1, 4);
}
END_TEST

/* A chain whose last name has no address: NOERROR, nothing, ttl 0. */
START_TEST(test_cname_dangling)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_cname(&m, OFF_QNAME, 300, "gone.example.com");
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 0);
	ck_assert_uint_eq(ans.ttl, 0);
	ck_assert_str_eq(ans.canon, "gone.example.com");
}
END_TEST

/* QNAME -> c1 -> ... -> c@n, and c@n has an address. */
static void build_long_chain(struct msg *m, unsigned n)
{
	char target[32];
	size_t owner = OFF_QNAME;
	unsigned i;

	begin(m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	for (i = 1; i <= n; i++) {
		snprintf(target, sizeof(target), "c%u.example.com", i);
		owner = rr_cname(m, owner, 300, target);
	}
	rr_a(m, SEC_AN, owner, 300, v4_1);
	finish(m);
}

START_TEST(test_cname_chain_16)
{
	struct dns_answer ans;
	struct msg m;

	build_long_chain(&m, 16);
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_str_eq(ans.canon, "c16.example.com");
}
END_TEST

/* The 17th CNAME is not followed: the chain stops at c16, which has no
 * address. */
START_TEST(test_cname_chain_17)
{
	struct dns_answer ans;
	struct msg m;

	build_long_chain(&m, 17);
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 0);
	ck_assert_str_eq(ans.canon, "c16.example.com");
}
END_TEST

/* www CNAME x, x CNAME www: bounded, no address. */
START_TEST(test_cname_loop)
{
	struct dns_answer ans;
	struct msg m;
	size_t x;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	x = rr_cname(&m, OFF_QNAME, 300, "x.example.com");
	put_ptr(&m, x);
	rr_fixed(&m, SEC_AN, DNS_TYPE_CNAME, DNS_CLASS_IN, 300, 2);
	put_ptr(&m, OFF_QNAME);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 0);
}
END_TEST

/* A CNAME to a name with a '.' inside a label cannot become canon; it is
 * not followed, so the question's own address is used. */
START_TEST(test_cname_unwritable_target)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_ptr(&m, OFF_QNAME);
	rr_fixed(&m, SEC_AN, DNS_TYPE_CNAME, DNS_CLASS_IN, 300, 5);
	put_bytes(&m, "\003a.b\000", 5);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_str_eq(ans.canon, QNAME);
}
END_TEST

/* ---- responses: what is skipped ---- */

START_TEST(test_other_names_ignored)
{
	struct dns_answer ans;
	struct msg m;
	size_t other;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	other = put_name(&m, "mail.example.com");
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_3, 4);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	/* "example.com", the question's suffix, is another name too. */
	rr_a(&m, SEC_AN, OFF_QNAME + 4, 300, v4_2);
	rr_a(&m, SEC_AN, other, 300, v4_3);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_mem_eq(ans.addr[0], v4_1, 4);
}
END_TEST

START_TEST(test_other_type_ignored_a)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_aaaa(&m, SEC_AN, OFF_QNAME, 300, v6_1);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_int_eq(ans.family[0], AF_INET);
}
END_TEST

START_TEST(test_other_type_ignored_aaaa)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_AAAA);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	rr_aaaa(&m, SEC_AN, OFF_QNAME, 300, v6_2);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_AAAA, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_mem_eq(ans.addr[0], v6_2, 16);
}
END_TEST

/* Unknown types (TXT, with RDATA of any length) and class CH are skipped. */
START_TEST(test_other_type_and_class_ignored)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_ptr(&m, OFF_QNAME);
	rr_fixed(&m, SEC_AN, 16 /* TXT */, DNS_CLASS_IN, 1, 3);
	put_bytes(&m, "\002hi", 3);
	put_ptr(&m, OFF_QNAME);
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, 3 /* CH */, 1, 2);
	put_bytes(&m, "xx", 2);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_uint_eq(ans.ttl, 300);
}
END_TEST

/* Matching records in the authority and additional sections do not count,
 * nor does a CNAME there. */
static void build_with_other_sections(struct msg *m)
{
	size_t t;

	begin(m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(m, SEC_AN, OFF_QNAME, 300, v4_1);
	put_ptr(m, OFF_QNAME + 4);
	rr_fixed(m, SEC_NS, 2 /* NS */, DNS_CLASS_IN, 86400, 5);
	t = m->n;
	put_labels(m, "ns");
	put_ptr(m, OFF_QNAME + 4);
	rr_a(m, SEC_NS, OFF_QNAME, 1, v4_3);
	rr_a(m, SEC_AR, t, 86400, v4_2);
	rr_a(m, SEC_AR, OFF_QNAME, 1, v4_3);
	put8(m, 0); /* EDNS OPT, RFC 6891 */
	rr_fixed(m, SEC_AR, 41, 1232, 0, 0);
	finish(m);
}

START_TEST(test_other_sections_ignored)
{
	struct dns_answer ans;
	struct msg m;

	build_with_other_sections(&m);
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_mem_eq(ans.addr[0], v4_1, 4);
	ck_assert_uint_eq(ans.ttl, 300);
}
END_TEST

START_TEST(test_cname_in_authority_ignored)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	put_ptr(&m, OFF_QNAME);
	rr_fixed(&m, SEC_NS, DNS_TYPE_CNAME, DNS_CLASS_IN, 300, 2);
	put_ptr(&m, OFF_QNAME + 4);
	rr_a(&m, SEC_NS, OFF_QNAME + 4, 300, v4_2);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_str_eq(ans.canon, QNAME);
}
END_TEST

/* ---- responses: RCODE ---- */

START_TEST(test_nxdomain)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_NXDOMAIN, QNAME, DNS_TYPE_A);
	put_ptr(&m, OFF_QNAME + 4); /* SOA for example.com */
	rr_fixed(&m, SEC_NS, 6, DNS_CLASS_IN, 900, 10 + 5 * 4);
	put_bytes(&m, "\002ns\300\020\002hm\300\020", 10);
	put32(&m, 1); /* SERIAL */
	put32(&m, 2); /* REFRESH */
	put32(&m, 3); /* RETRY */
	put32(&m, 4); /* EXPIRE */
	put32(&m, 5); /* MINIMUM */
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.rcode, 3);
	ck_assert_uint_eq(ans.naddr, 0);
	ck_assert_uint_eq(ans.ttl, 0);
	ck_assert_str_eq(ans.canon, QNAME);
}
END_TEST

/* An answer section under an error RCODE is not used. */
START_TEST(test_servfail_answers_unused)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_QR | 2, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.rcode, 2);
	ck_assert_uint_eq(ans.naddr, 0);
}
END_TEST

START_TEST(test_noerror_no_answers)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_AAAA);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_AAAA, &ans), 0);
	ck_assert_uint_eq(ans.rcode, 0);
	ck_assert_uint_eq(ans.naddr, 0);
	ck_assert_uint_eq(ans.ttl, 0);
	ck_assert_str_eq(ans.canon, QNAME);
}
END_TEST

/* ---- responses: not ours ---- */

START_TEST(test_wrong_id)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID + 1, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EBADMSG);
	assert_zeroed(&ans);
}
END_TEST

START_TEST(test_not_a_response)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE & ~F_QR, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EBADMSG);
}
END_TEST

START_TEST(test_opcode_not_query)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE | 2 << 11 /* STATUS */, QNAME, DNS_TYPE_A);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EBADMSG);
}
END_TEST

START_TEST(test_qdcount_not_one)
{
	static const unsigned counts[] = {0, 2, 0x0101};
	struct dns_answer ans;
	struct msg m;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(counts); i++) {
		begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
		finish(&m);
		m.b[4] = (uint8_t)(counts[i] >> 8);
		m.b[5] = (uint8_t)counts[i];
		ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EBADMSG);
	}
}
END_TEST

START_TEST(test_wrong_question_name)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, "www.example.org", DNS_TYPE_A);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EBADMSG);
}
END_TEST

/* A question name that is a suffix or an extension of ours. */
START_TEST(test_wrong_question_length)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, "example.com", DNS_TYPE_A);
	finish(&m);
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EBADMSG);

	begin(&m, ID, F_RESPONSE, "www.example.com.x", DNS_TYPE_A);
	finish(&m);
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EBADMSG);
}
END_TEST

/* One label "www.example.com" is not three labels. */
START_TEST(test_question_dot_in_label)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, "x", DNS_TYPE_A);
	m.n = OFF_QNAME;
	put8(&m, 15);
	put_bytes(&m, QNAME, 15);
	put8(&m, 0);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EBADMSG);
}
END_TEST

START_TEST(test_wrong_question_type)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_AAAA);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EBADMSG);
}
END_TEST

START_TEST(test_wrong_question_class)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	finish(&m);
	m.b[m.n - 1] = 3; /* CH */

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EBADMSG);
}
END_TEST

START_TEST(test_truncated_flag)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE | F_TC, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EMSGSIZE);
	assert_zeroed(&ans);
}
END_TEST

/* The query's arguments are checked before the message. */
START_TEST(test_parse_bad_arguments)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	finish(&m);

	ck_assert_int_eq(parse_n(&m, m.n, ID, QNAME, DNS_TYPE_CNAME, &ans),
			 -EINVAL);
	ck_assert_int_eq(parse_n(&m, m.n, ID, "a..b", DNS_TYPE_A, &ans),
			 -EINVAL);
	ck_assert_int_eq(parse_n(&m, m.n, ID, "", DNS_TYPE_A, &ans), -EINVAL);
}
END_TEST

/* ---- responses: malformed ---- */

/* Every proper prefix of a valid response is refused, never parsed. */
static void (*const valid_builders[])(struct msg *) = {
    build_chain_in_order,
    build_chain_reversed,
    build_with_other_sections,
};

START_TEST(test_every_truncation)
{
	struct dns_answer ans;
	struct msg m;
	size_t len;
	int r;

	valid_builders[_i](&m);
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	for (len = 0; len < m.n; len++) {
		r = parse_n(&m, len, ID, QNAME, DNS_TYPE_A, &ans);
		ck_assert_msg(r == -EPROTO || r == -EBADMSG,
			      "length %zu of %zu: %d", len, m.n, r);
		ck_assert(all_bytes(&ans, 0, sizeof(ans)));
	}
}
END_TEST

/* Below the header and inside the question: which error, exactly. */
START_TEST(test_truncation_errors)
{
	struct dns_answer ans;
	struct msg m;

	build_chain_in_order(&m);
	ck_assert_int_eq(parse_n(&m, 11, ID, QNAME, DNS_TYPE_A, &ans),
			 -EBADMSG);
	ck_assert_int_eq(parse_n(&m, 12, ID, QNAME, DNS_TYPE_A, &ans), -EPROTO);
	ck_assert_int_eq(parse_n(&m, 12 + 17 + 3, ID, QNAME, DNS_TYPE_A, &ans),
			 -EPROTO);
	ck_assert_int_eq(parse_n(&m, m.n - 1, ID, QNAME, DNS_TYPE_A, &ans),
			 -EPROTO);
}
END_TEST

/* The answer's owner is a pointer to itself. */
START_TEST(test_pointer_self_loop)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_ptr(&m, m.n);
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_1, 4);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* A label, then a pointer back to that label: backward, but a loop. */
START_TEST(test_pointer_loop_via_label)
{
	struct dns_answer ans;
	struct msg m;
	size_t start;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	start = put_labels(&m, "loop");
	put_ptr(&m, start);
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_1, 4);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* Two names pointing at each other: the first jumps forward to the second,
 * which jumps back. */
START_TEST(test_pointer_two_loop)
{
	struct dns_answer ans;
	struct msg m;
	size_t first;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	first = m.n;
	put_ptr(&m, first + 2 + 10 + 4);
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_1, 4);
	put_ptr(&m, first);
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_2, 4);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* A forward pointer to a perfectly good name later in the message. */
START_TEST(test_pointer_forward)
{
	struct dns_answer ans;
	struct msg m;
	size_t later;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	later = m.n + 2 + 10 + 4 + 2 + 10;
	put_ptr(&m, later);
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_1, 4);
	put_ptr(&m, OFF_QNAME);
	rr_fixed(&m, SEC_AN, 16 /* TXT */, DNS_CLASS_IN, 300, 17);
	ck_assert_uint_eq(put_name(&m, QNAME), later);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

START_TEST(test_pointer_out_of_bounds)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_ptr(&m, 0x3FFF);
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_1, 4);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* Offsets 0..11 are the header, not names. */
START_TEST(test_pointer_into_header)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_ptr(&m, 11);
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_1, 4);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* The question itself cannot be compressed: nothing precedes it. */
START_TEST(test_question_pointer)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	m.n = OFF_QNAME;
	put_ptr(&m, OFF_QNAME);
	put16(&m, DNS_TYPE_A);
	put16(&m, DNS_CLASS_IN);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* A pointer whose second byte is missing. */
START_TEST(test_pointer_cut)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put8(&m, 0xC0);
	m.count[SEC_AN]++;
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* Label types 01 and 10 (RFC 6891 retired 01; 10 was never defined). */
static const uint8_t bad_label_types[] = {0x40, 0x80, 0x41, 0xBF};

START_TEST(test_bad_label_type)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put8(&m, bad_label_types[_i]);
	put_bytes(&m, "xx", 2);
	put8(&m, 0);
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_1, 4);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* Labels before a pointer to the question: 255 bytes is the limit. */
static void build_long_owner(struct msg *m, size_t extra)
{
	char label[64];
	size_t room;

	begin(m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	/* QNAME takes 17 bytes; add labels in front up to 255 + extra. */
	room = 255 - 17 + extra;
	memset(label, 'p', sizeof(label));
	while (room) {
		size_t l = room > 64 ? 63 : room - 1;

		ck_assert_uint_ge(room, 2);
		put8(m, (unsigned)l);
		put_bytes(m, label, l);
		room -= l + 1;
	}
	put_ptr(m, OFF_QNAME);
	rr_fixed(m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 4);
	put_bytes(m, v4_1, 4);
	finish(m);
}

START_TEST(test_name_255_in_message)
{
	struct dns_answer ans;
	struct msg m;

	build_long_owner(&m, 0);
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.naddr, 0);
}
END_TEST

START_TEST(test_name_256_in_message)
{
	struct dns_answer ans;
	struct msg m;

	build_long_owner(&m, 1);
	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

START_TEST(test_a_rdlength_wrong)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_ptr(&m, OFF_QNAME);
	rr_fixed(&m, SEC_AN, DNS_TYPE_A, DNS_CLASS_IN, 300, 5);
	put_bytes(&m, "\300\000\002\001\377", 5);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* Checked for every answer, asked-for type or not. */
START_TEST(test_aaaa_rdlength_wrong)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_ptr(&m, OFF_QNAME);
	rr_fixed(&m, SEC_AN, DNS_TYPE_AAAA, DNS_CLASS_IN, 300, 4);
	put_bytes(&m, v4_1, 4);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

START_TEST(test_rdlength_past_end)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_ptr(&m, OFF_QNAME);
	rr_fixed(&m, SEC_AR, 16, DNS_CLASS_IN, 300, 0xFFFF);
	put_bytes(&m, "abc", 3);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* A CNAME's RDATA is one name, exactly: not less, not more. */
START_TEST(test_cname_rdata_extra_byte)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_ptr(&m, OFF_QNAME);
	rr_fixed(&m, SEC_AN, DNS_TYPE_CNAME, DNS_CLASS_IN, 300, 3);
	put_ptr(&m, OFF_QNAME + 4);
	put8(&m, 0);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* The target "x.y" runs past an RDLENGTH of 3 into the next record. */
START_TEST(test_cname_rdata_short)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	put_ptr(&m, OFF_QNAME);
	rr_fixed(&m, SEC_AN, DNS_TYPE_CNAME, DNS_CLASS_IN, 300, 3);
	put_bytes(&m, "\001x\001y\000", 5);
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* More records announced than present. */
START_TEST(test_missing_records)
{
	struct dns_answer ans;
	struct msg m;

	begin(&m, ID, F_RESPONSE, QNAME, DNS_TYPE_A);
	rr_a(&m, SEC_AN, OFF_QNAME, 300, v4_1);
	m.count[_i]++;
	finish(&m);

	ck_assert_int_eq(parse(&m, DNS_TYPE_A, &ans), -EPROTO);
}
END_TEST

/* ---- responses captured from dnsmasq ---- */

/*
 * dnsmasq 2.90 on 127.0.0.1, run as
 *   dnsmasq --no-resolv --no-hosts --local-ttl=300 \
 *     --host-record=real.example.test,192.0.2.10,2001:db8::10 \
 *     --host-record=real.example.test,192.0.2.11 \
 *     --cname=www.example.test,real.example.test
 * and asked "www.example.test" over TCP (ID 0x1234, RD).  The replies,
 * without their 2-byte length prefix: the CNAME's target is written out in
 * full, and the address records' owners point at it (offset 0x2e).
 */
/* clang-format off */
static const uint8_t dnsmasq_a[] = {
	0x12, 0x34,		/* ID */
	0x85, 0x80,		/* QR AA RD RA, NOERROR */
	0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
	/* 12: question www.example.test A IN */
	0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	0x04, 't', 'e', 's', 't', 0x00, 0x00, 0x01, 0x00, 0x01,
	/* 34: www.example.test CNAME real.example.test, TTL 300 */
	0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c,
	0x00, 0x13,
	/* 46 (0x2e) */
	0x04, 'r', 'e', 'a', 'l', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	0x04, 't', 'e', 's', 't', 0x00,
	/* real.example.test A 192.0.2.10 */
	0xc0, 0x2e, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c,
	0x00, 0x04, 0xc0, 0x00, 0x02, 0x0a,
	/* real.example.test A 192.0.2.11 */
	0xc0, 0x2e, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c,
	0x00, 0x04, 0xc0, 0x00, 0x02, 0x0b,
};

static const uint8_t dnsmasq_aaaa[] = {
	0x12, 0x34, 0x85, 0x80,
	0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x03, 'w', 'w', 'w', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	0x04, 't', 'e', 's', 't', 0x00, 0x00, 0x1c, 0x00, 0x01,
	0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c,
	0x00, 0x13,
	0x04, 'r', 'e', 'a', 'l', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	0x04, 't', 'e', 's', 't', 0x00,
	/* real.example.test AAAA 2001:db8::10 */
	0xc0, 0x2e, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c,
	0x00, 0x10, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0x10,
};
/* clang-format on */

static int parse_raw(const uint8_t *p, size_t n, uint16_t qtype,
		     struct dns_answer *out)
{
	uint8_t *q = dup_exact(p, n);
	int r;

	r = dns_parse_response(q, n, 0x1234, "www.example.test", qtype, out);
	free(q);
	return r;
}

START_TEST(test_dnsmasq_a)
{
	static const uint8_t a10[4] = {192, 0, 2, 10};
	static const uint8_t a11[4] = {192, 0, 2, 11};
	struct dns_answer ans;

	ck_assert_int_eq(
	    parse_raw(dnsmasq_a, sizeof(dnsmasq_a), DNS_TYPE_A, &ans), 0);
	ck_assert_uint_eq(ans.rcode, 0);
	ck_assert_uint_eq(ans.naddr, 2);
	ck_assert_int_eq(ans.family[0], AF_INET);
	ck_assert_mem_eq(ans.addr[0], a10, 4);
	ck_assert_mem_eq(ans.addr[1], a11, 4);
	ck_assert_uint_eq(ans.ttl, 300);
	ck_assert_str_eq(ans.canon, "real.example.test");
}
END_TEST

START_TEST(test_dnsmasq_aaaa)
{
	static const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				      0,    0,	  0,	0,    0, 0, 0, 0x10};
	struct dns_answer ans;

	ck_assert_int_eq(
	    parse_raw(dnsmasq_aaaa, sizeof(dnsmasq_aaaa), DNS_TYPE_AAAA, &ans),
	    0);
	ck_assert_uint_eq(ans.naddr, 1);
	ck_assert_int_eq(ans.family[0], AF_INET6);
	ck_assert_mem_eq(ans.addr[0], a, 16);
	ck_assert_str_eq(ans.canon, "real.example.test");
}
END_TEST

/* The A reply does not answer the AAAA question. */
START_TEST(test_dnsmasq_wrong_qtype)
{
	struct dns_answer ans;

	ck_assert_int_eq(
	    parse_raw(dnsmasq_a, sizeof(dnsmasq_a), DNS_TYPE_AAAA, &ans),
	    -EBADMSG);
}
END_TEST

START_TEST(test_dnsmasq_every_truncation)
{
	struct dns_answer ans;
	size_t len;
	int r;

	for (len = 0; len < sizeof(dnsmasq_a); len++) {
		r = parse_raw(dnsmasq_a, len, DNS_TYPE_A, &ans);
		ck_assert_msg(r == -EPROTO || r == -EBADMSG, "length %zu: %d",
			      len, r);
	}
}
END_TEST

/* ---- dns_name_is_host ---- */

struct host_case {
	const char *name;
	int want;
};

static const struct host_case host_names[] = {
    {"example.com", 1},
    {"www.example.com", 1},
    {"a", 1},
    {"0", 1},
    {"A-b_c.d", 1},
    {"example.com.", 1},
    {"a.", 1},
    {"_dmarc.example", 1},
    {"xn--bcher-kva.example", 1},
    {"a-", 1},
    {"a.-b", 1}, /* only the first label may not start with '-' */
    {"a.b-.c", 1},
    {"1.2.3.4", 1},
    {"EXAMPLE.COM", 1},
    {"", 0},
    {".", 0},
    {"..", 0},
    {"::1q", 0},
    {"::1", 0},
    {"0.1.1.~1", 0},
    {"1+.1.1.1", 0},
    {"a..b", 0},
    {".a", 0},
    {"a..", 0},
    {"-a.b", 0},
    {"-", 0},
    {"-.a", 0},
    {"a b", 0},
    {" a", 0},
    {"a ", 0},
    {"a\nb", 0},
    {"a\tb", 0},
    {"a\rb", 0},
    {"a\x7f", 0},
    {"a*b", 0},
    {"a/b", 0},
    {"a@b", 0},
    {"[::1]", 0},
    {"example.com:80", 0},
    {"a\\.b", 0},
    {"a\\065", 0}, /* glibc decodes it to "aA": refused here */
    {"a\\", 0},
    {"b\xc3\xbc"
     "cher.example",
     0}, /* UTF-8 */
    {"\xff", 0},
    {"\xc3\xa9", 0},
};

START_TEST(test_host_name)
{
	const struct host_case *h = &host_names[_i];

	ck_assert_msg(dns_name_is_host(h->name) == h->want,
		      "host_names[%d]: %d, expected %d", _i,
		      dns_name_is_host(h->name), h->want);
}
END_TEST

/* dns_name_same: a hosts-file token against a name. */
START_TEST(test_name_same)
{
	ck_assert_int_eq(dns_name_same("Host.Example", 12, "host.example"), 1);
	ck_assert_int_eq(dns_name_same("host.example.", 13, "host.example"), 1);
	ck_assert_int_eq(dns_name_same("host.example", 12, "HOST.example."), 1);
	ck_assert_int_eq(dns_name_same("host.example", 12, "host.exampl"), 0);
	ck_assert_int_eq(dns_name_same("host.exampl", 11, "host.example"), 0);
	ck_assert_int_eq(dns_name_same("hostXexample", 4, "host"), 1);
	ck_assert_int_eq(dns_name_same("host", 4, "host.."), 0);
	ck_assert_int_eq(dns_name_same("", 0, ""), 1);
	ck_assert_int_eq(dns_name_same(".", 1, ""), 1);
}
END_TEST

START_TEST(test_is_localhost)
{
	ck_assert_int_eq(dns_is_localhost("localhost"), 1);
	ck_assert_int_eq(dns_is_localhost("LocalHost."), 1);
	ck_assert_int_eq(dns_is_localhost("a.b.localhost"), 1);
	ck_assert_int_eq(dns_is_localhost("a.localhost."), 1);
	ck_assert_int_eq(dns_is_localhost(".localhost"), 0);
	ck_assert_int_eq(dns_is_localhost("notlocalhost"), 0);
	ck_assert_int_eq(dns_is_localhost("localhost.example"), 0);
	ck_assert_int_eq(dns_is_localhost(""), 0);
}
END_TEST

/* The deviations from glibc's res_hnok that dnsmsg.h documents: "", "."
 * and any backslash are refused here. */
static int host_deviation(const char *name)
{
	return strcmp(name, "") == 0 || strcmp(name, ".") == 0 ||
	       strchr(name, '\\') != NULL;
}

/* The table says what glibc says, but for the documented deviations. */
START_TEST(test_host_name_is_glibc)
{
	const struct host_case *h = &host_names[_i];

	if (host_deviation(h->name))
		return;
	ck_assert_msg(res_hnok(h->name) == h->want,
		      "host_names[%d]: res_hnok says %d, the table %d", _i,
		      res_hnok(h->name), h->want);
}
END_TEST

/* Names of @total bytes in labels of @label bytes (the last one shorter),
 * with a trailing dot when @dot. */
struct host_long {
	size_t label, total;
	int dot, want;
};

static const struct host_long host_longs[] = {
    {63, 63, 0, 1},  {63, 63, 1, 1},   {64, 64, 0, 0},	{64, 64, 1, 0},
    {63, 127, 0, 1}, {64, 129, 0, 0},  {63, 252, 0, 1}, {63, 253, 0, 1},
    {63, 253, 1, 1}, {63, 254, 0, 0},  {63, 254, 1, 0}, {62, 254, 0, 0},
    {1, 253, 0, 1},  {1, 253, 1, 1},   {1, 255, 0, 0},	{2, 254, 0, 0},
    {10, 300, 0, 0}, {253, 253, 0, 0},
};

static void host_long_name(char *out, const struct host_long *h)
{
	size_t i;

	for (i = 0; i < h->total; i++)
		out[i] = i % (h->label + 1) == h->label
			     ? '.'
			     : (char)('a' + (i / (h->label + 1)) % 26);
	ck_assert_msg(h->total == 0 || out[h->total - 1] != '.',
		      "host_longs: %zu bytes in %zu-byte labels ends in a dot",
		      h->total, h->label);
	if (h->dot)
		out[i++] = '.';
	out[i] = '\0';
}

START_TEST(test_host_name_long)
{
	const struct host_long *h = &host_longs[_i];
	char name[512];

	host_long_name(name, h);
	ck_assert_msg(dns_name_is_host(name) == h->want,
		      "%zu bytes in %zu-byte labels%s: %d, expected %d",
		      h->total, h->label, h->dot ? " and a dot" : "",
		      dns_name_is_host(name), h->want);
}
END_TEST

START_TEST(test_host_name_long_is_glibc)
{
	const struct host_long *h = &host_longs[_i];
	char name[512];

	host_long_name(name, h);
	ck_assert_msg(res_hnok(name) == h->want,
		      "%zu bytes in %zu-byte labels%s: res_hnok says %d, the "
		      "table %d",
		      h->total, h->label, h->dot ? " and a dot" : "",
		      res_hnok(name), h->want);
}
END_TEST

/* Generated names (xorshift32, a fixed seed per loop index): letters,
 * digits, '-', '_' and '.', with some ':', '~', '+' and ' '; short ones,
 * ones near the 63-byte label and 253-byte name limits, and ones of
 * labels of 0..66 bytes, some starting with '-'. */
#define HOST_RANDOM_N 1000
#define HOST_GOOD     64 /* host_alpha's letters, digits, '-' and '_' */

static const char host_alpha[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789-_"
				 ".:~+ ";

static uint32_t host_prng;

static uint32_t host_rnd(void)
{
	host_prng ^= host_prng << 13;
	host_prng ^= host_prng >> 17;
	host_prng ^= host_prng << 5;
	return host_prng;
}

static char host_good(void)
{
	return host_rnd() % 8 == 0 ? '-' : host_alpha[host_rnd() % HOST_GOOD];
}

static char host_bad(void)
{
	return ":~+ "[host_rnd() % 4];
}

/* Writes a name of at most 300 bytes into out (at least 301 bytes). */
static void host_random(char *out)
{
	size_t n = 0, len, run = 0, i, nlab;

	switch (host_rnd() % 4) {
	case 0: /* short, anything */
		for (len = host_rnd() % 13; n < len; n++)
			out[n] =
			    host_alpha[host_rnd() % (sizeof(host_alpha) - 1)];
		break;
	case 1: /* short, mostly good */
		for (len = host_rnd() % 41; n < len; n++)
			out[n] = host_rnd() % 20 == 0  ? host_bad()
				 : host_rnd() % 6 == 0 ? '.'
						       : host_good();
		break;
	case 2: /* near 253 bytes, labels near 63 */
		for (len = 230 + host_rnd() % 40; n < len; n++) {
			if (run >= 55 + host_rnd() % 12 ||
			    host_rnd() % 100 == 0) {
				out[n] = '.';
				run = 0;
			} else {
				out[n] = host_rnd() % 400 == 0 ? host_bad()
							       : host_good();
				run++;
			}
		}
		break;
	default: /* labels of 0..66 bytes */
		for (nlab = 1 + host_rnd() % 5; nlab > 0; nlab--) {
			len = host_rnd() % 67;
			for (i = 0; i < len && n < 300; i++)
				out[n++] = i == 0 && host_rnd() % 5 == 0
					       ? '-'
					       : host_good();
			if ((nlab > 1 || host_rnd() % 3 == 0) && n < 300)
				out[n++] = '.';
		}
		break;
	}
	out[n] = '\0';
}

/* Every generated name, but for the documented deviations, is a host name
 * exactly when glibc's res_hnok says so. */
START_TEST(test_host_name_random_is_glibc)
{
	char name[512];
	int i;

	host_prng = 0x2545f491u + (uint32_t)_i * 0x9e3779b9u;
	for (i = 0; i < HOST_RANDOM_N; i++) {
		host_random(name);
		if (host_deviation(name))
			continue;
		ck_assert_msg(dns_name_is_host(name) == res_hnok(name),
			      "\"%s\" (%zu bytes): dns_name_is_host %d, "
			      "res_hnok %d",
			      name, strlen(name), dns_name_is_host(name),
			      res_hnok(name));
	}
}
END_TEST

/* The generated names are not all of one answer: each loop's names hold
 * a fair share of both. */
START_TEST(test_host_name_random_has_both)
{
	char name[512];
	int i, yes = 0, no = 0;

	host_prng = 0x2545f491u + (uint32_t)_i * 0x9e3779b9u;
	for (i = 0; i < HOST_RANDOM_N; i++) {
		host_random(name);
		if (host_deviation(name))
			continue;
		if (res_hnok(name))
			yes++;
		else
			no++;
	}
	ck_assert_msg(yes >= HOST_RANDOM_N / 5 && no >= HOST_RANDOM_N / 5,
		      "%d host names, %d others", yes, no);
}
END_TEST

static Suite *dnsmsg_suite(void)
{
	Suite *s = suite_create("dnsmsg");
	TCase *tc;

	tc = tcase_create("query");
	tcase_add_test(tc, test_query_bytes);
	tcase_add_test(tc, test_query_trailing_dot);
	tcase_add_test(tc, test_query_aaaa);
	tcase_add_test(tc, test_query_label_63);
	tcase_add_test(tc, test_query_label_64);
	tcase_add_loop_test(tc, test_query_bad_names, 0, ARRAY_SIZE(bad_names));
	tcase_add_loop_test(tc, test_query_name_255, 0,
			    ARRAY_SIZE(trailing_dot));
	tcase_add_loop_test(tc, test_query_name_256, 0,
			    ARRAY_SIZE(trailing_dot));
	tcase_add_test(tc, test_query_enobufs);
	tcase_add_test(tc, test_query_exact_cap);
	tcase_add_test(tc, test_query_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("name_equal");
	tcase_add_loop_test(tc, test_name_equal, 0, ARRAY_SIZE(name_pairs));
	tcase_add_loop_test(tc, test_name_equal_symmetric, 0,
			    ARRAY_SIZE(name_pairs));
	suite_add_tcase(s, tc);

	tc = tcase_create("answers");
	tcase_add_test(tc, test_a_answer);
	tcase_add_test(tc, test_aaaa_answer);
	tcase_add_test(tc, test_several_addresses);
	tcase_add_test(tc, test_ttl_minimum);
	tcase_add_test(tc, test_ttl_high_bit_is_zero);
	tcase_add_test(tc, test_ttl_max_kept);
	tcase_add_test(tc, test_more_than_max_addrs);
	tcase_add_test(tc, test_question_case_insensitive);
	tcase_add_test(tc, test_owner_case_insensitive);
	tcase_add_test(tc, test_trailing_bytes_ignored);
	suite_add_tcase(s, tc);

	tc = tcase_create("cname");
	tcase_add_loop_test(tc, test_cname_chain, 0,
			    ARRAY_SIZE(chain_builders));
	tcase_add_loop_test(tc, test_cname_ttl, 0, ARRAY_SIZE(chain_builders));
	tcase_add_test(tc, test_cname_alias_addresses_ignored);
	tcase_add_test(tc, test_cname_dangling);
	tcase_add_test(tc, test_cname_chain_16);
	tcase_add_test(tc, test_cname_chain_17);
	tcase_add_test(tc, test_cname_loop);
	tcase_add_test(tc, test_cname_unwritable_target);
	suite_add_tcase(s, tc);

	tc = tcase_create("skipped");
	tcase_add_test(tc, test_other_names_ignored);
	tcase_add_test(tc, test_other_type_ignored_a);
	tcase_add_test(tc, test_other_type_ignored_aaaa);
	tcase_add_test(tc, test_other_type_and_class_ignored);
	tcase_add_test(tc, test_other_sections_ignored);
	tcase_add_test(tc, test_cname_in_authority_ignored);
	suite_add_tcase(s, tc);

	tc = tcase_create("rcode");
	tcase_add_test(tc, test_nxdomain);
	tcase_add_test(tc, test_servfail_answers_unused);
	tcase_add_test(tc, test_noerror_no_answers);
	suite_add_tcase(s, tc);

	tc = tcase_create("not_ours");
	tcase_add_test(tc, test_wrong_id);
	tcase_add_test(tc, test_not_a_response);
	tcase_add_test(tc, test_opcode_not_query);
	tcase_add_test(tc, test_qdcount_not_one);
	tcase_add_test(tc, test_wrong_question_name);
	tcase_add_test(tc, test_wrong_question_length);
	tcase_add_test(tc, test_question_dot_in_label);
	tcase_add_test(tc, test_wrong_question_type);
	tcase_add_test(tc, test_wrong_question_class);
	tcase_add_test(tc, test_truncated_flag);
	tcase_add_test(tc, test_parse_bad_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_loop_test(tc, test_every_truncation, 0,
			    ARRAY_SIZE(valid_builders));
	tcase_add_test(tc, test_truncation_errors);
	tcase_add_test(tc, test_pointer_self_loop);
	tcase_add_test(tc, test_pointer_loop_via_label);
	tcase_add_test(tc, test_pointer_two_loop);
	tcase_add_test(tc, test_pointer_forward);
	tcase_add_test(tc, test_pointer_out_of_bounds);
	tcase_add_test(tc, test_pointer_into_header);
	tcase_add_test(tc, test_question_pointer);
	tcase_add_test(tc, test_pointer_cut);
	tcase_add_loop_test(tc, test_bad_label_type, 0,
			    ARRAY_SIZE(bad_label_types));
	tcase_add_test(tc, test_name_255_in_message);
	tcase_add_test(tc, test_name_256_in_message);
	tcase_add_test(tc, test_a_rdlength_wrong);
	tcase_add_test(tc, test_aaaa_rdlength_wrong);
	tcase_add_test(tc, test_rdlength_past_end);
	tcase_add_test(tc, test_cname_rdata_extra_byte);
	tcase_add_test(tc, test_cname_rdata_short);
	tcase_add_loop_test(tc, test_missing_records, 0, NSEC);
	suite_add_tcase(s, tc);

	tc = tcase_create("dnsmasq");
	tcase_add_test(tc, test_dnsmasq_a);
	tcase_add_test(tc, test_dnsmasq_aaaa);
	tcase_add_test(tc, test_dnsmasq_wrong_qtype);
	tcase_add_test(tc, test_dnsmasq_every_truncation);
	suite_add_tcase(s, tc);

	tc = tcase_create("is_host");
	tcase_add_loop_test(tc, test_host_name, 0, ARRAY_SIZE(host_names));
	tcase_add_test(tc, test_name_same);
	tcase_add_test(tc, test_is_localhost);
	tcase_add_loop_test(tc, test_host_name_is_glibc, 0,
			    ARRAY_SIZE(host_names));
	tcase_add_loop_test(tc, test_host_name_long, 0, ARRAY_SIZE(host_longs));
	tcase_add_loop_test(tc, test_host_name_long_is_glibc, 0,
			    ARRAY_SIZE(host_longs));
	tcase_add_loop_test(tc, test_host_name_random_is_glibc, 0, 8);
	tcase_add_loop_test(tc, test_host_name_random_has_both, 0, 8);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dnsmsg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
