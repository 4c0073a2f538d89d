/*
 * test_socks5.c - unit tests for the SOCKS5 codec (preload/socks5.c).
 *
 * Stream parsers are fed every prefix of each message from a heap copy of
 * exactly that many bytes, so an over-read shows up under valgrind or
 * ASan, not just as a wrong answer.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "socks5.h"
#include "s5_assert.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CANARY	      0xA5

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

/* ---- fixtures: one address of each ATYP and its wire form ---- */

/* Laid out field by field, as on the wire. */
/* clang-format off */
static const struct s5_addr addr_v4 = {
	.atyp = S5_ATYP_IPV4,
	.port = 8080,
	.u.v4 = { 192, 0, 2, 1 },
};
static const uint8_t wire_v4[] = {
	0x01,			/* ATYP IPv4 */
	192, 0, 2, 1,		/* 192.0.2.1 */
	0x1f, 0x90,		/* port 8080 */
};

static const struct s5_addr addr_v6 = {
	.atyp = S5_ATYP_IPV6,
	.port = 443,
	.u.v6 = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
};
static const uint8_t wire_v6[] = {
	0x04,			/* ATYP IPv6 */
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 1,	/* 2001:db8::1 */
	0x01, 0xbb,		/* port 443 */
};

static const struct s5_addr addr_dom = {
	.atyp = S5_ATYP_DOMAIN,
	.port = 0xabcd,		/* unequal bytes: a swap shows */
	.u.domain = { .len = 11, .name = "example.com" },
};
static const uint8_t wire_dom[] = {
	0x03,			/* ATYP domain */
	11,			/* length, no NUL follows */
	'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
	0xab, 0xcd,		/* port */
};
/* clang-format on */

struct addr_case {
	const struct s5_addr *addr;
	const uint8_t *wire;
	size_t wire_len;
};

static const struct addr_case addr_cases[] = {
    {&addr_v4, wire_v4, sizeof(wire_v4)},
    {&addr_v6, wire_v6, sizeof(wire_v6)},
    {&addr_dom, wire_dom, sizeof(wire_dom)},
};

/* @head (3 bytes) followed by the case's address, in @out. */
static size_t build(uint8_t *out, const uint8_t head[3],
		    const struct addr_case *c)
{
	memcpy(out, head, 3);
	memcpy(out + 3, c->wire, c->wire_len);
	return 3 + c->wire_len;
}

/* A maximal (255-byte) domain address. */
static void long_domain(struct s5_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->atyp = S5_ATYP_DOMAIN;
	a->port = 1;
	a->u.domain.len = 255;
	memset(a->u.domain.name, 'a', 255);
}

/* ATYP values RFC 1928 section 5 does not define. */
static const uint8_t bad_atyps[] = {0x00, 0x02, 0x05, 0xff};

/* ---- greeting (RFC 1928 section 3) ---- */

START_TEST(test_greeting_bytes)
{
	static const uint8_t methods[] = {S5_METHOD_NOAUTH, S5_METHOD_USERPASS};
	static const uint8_t want[] = {0x05, 0x02, 0x00, 0x02};
	uint8_t buf[16];

	ck_assert_int_eq(s5_encode_greeting(buf, sizeof(buf), methods, 2),
			 sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
}
END_TEST

START_TEST(test_greeting_enobufs)
{
	static const uint8_t methods[] = {0x00, 0x02};
	uint8_t buf[4];
	size_t cap;

	for (cap = 0; cap < sizeof(buf); cap++) {
		memset(buf, CANARY, sizeof(buf));
		ck_assert_int_eq(s5_encode_greeting(buf, cap, methods, 2),
				 -ENOBUFS);
		ck_assert(all_bytes(buf, CANARY, sizeof(buf)));
	}
}
END_TEST

START_TEST(test_greeting_einval)
{
	uint8_t methods[256] = {0};
	uint8_t buf[S5_MAX_GREETING + 1];

	ck_assert_int_eq(s5_encode_greeting(buf, sizeof(buf), methods, 0),
			 -EINVAL);
	ck_assert_int_eq(s5_encode_greeting(buf, sizeof(buf), methods, 256),
			 -EINVAL);
}
END_TEST

START_TEST(test_greeting_max)
{
	uint8_t methods[255];
	uint8_t buf[S5_MAX_GREETING];

	memset(methods, 0x02, sizeof(methods));
	ck_assert_int_eq(s5_encode_greeting(buf, sizeof(buf), methods, 255),
			 S5_MAX_GREETING);
	ck_assert_uint_eq(buf[1], 255);
	ck_assert_uint_eq(buf[S5_MAX_GREETING - 1], 0x02);
}
END_TEST

/* ---- method reply (RFC 1928 section 3) ---- */

START_TEST(test_method_reply_prefixes)
{
	static const uint8_t msg[] = {0x05, 0x02};
	uint8_t method = CANARY;
	size_t i;
	int r;

	for (i = 0; i < sizeof(msg); i++) {
		uint8_t *p = dup_exact(msg, i);

		r = s5_parse_method_reply(p, i, &method);
		free(p);
		ck_assert_int_eq(r, (int)(sizeof(msg) - i));
		ck_assert_uint_eq(method, CANARY);
	}
}
END_TEST

START_TEST(test_method_reply_full)
{
	static const uint8_t msg[] = {0x05, 0x02, 0xee /* app data */};
	uint8_t method;

	ck_assert_int_eq(s5_parse_method_reply(msg, 2, &method), 0);
	ck_assert_uint_eq(method, S5_METHOD_USERPASS);
	ck_assert_int_eq(s5_parse_method_reply(msg, sizeof(msg), &method), 0);
	ck_assert_uint_eq(method, S5_METHOD_USERPASS);
}
END_TEST

START_TEST(test_method_reply_none)
{
	static const uint8_t msg[] = {0x05, 0xff};
	uint8_t method;

	ck_assert_int_eq(s5_parse_method_reply(msg, sizeof(msg), &method), 0);
	ck_assert_uint_eq(method, S5_METHOD_NONE);
}
END_TEST

START_TEST(test_method_reply_bad_ver)
{
	static const uint8_t msg[] = {0x04, 0x00};
	uint8_t method;

	ck_assert_int_eq(s5_parse_method_reply(msg, 1, &method), -EPROTO);
	ck_assert_int_eq(s5_parse_method_reply(msg, 2, &method), -EPROTO);
}
END_TEST

/* ---- username/password (RFC 1929 section 2) ---- */

START_TEST(test_userpass_bytes)
{
	static const uint8_t want[] = {0x01, 4, 'u', 's',  'e',
				       'r',  3, 'p', '\0', 'w'};
	uint8_t buf[32];

	ck_assert_int_eq(
	    s5_encode_userpass(buf, sizeof(buf), "user", 4, "p\0w", 3),
	    sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
}
END_TEST

START_TEST(test_userpass_enobufs)
{
	uint8_t buf[9];
	size_t cap;

	for (cap = 0; cap < sizeof(buf); cap++) {
		memset(buf, CANARY, sizeof(buf));
		ck_assert_int_eq(
		    s5_encode_userpass(buf, cap, "user", 4, "pw", 2), -ENOBUFS);
		ck_assert(all_bytes(buf, CANARY, sizeof(buf)));
	}
}
END_TEST

START_TEST(test_userpass_einval)
{
	char big[256];
	uint8_t buf[S5_MAX_USERPASS + 2];

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(s5_encode_userpass(buf, sizeof(buf), big, 0, "p", 1),
			 -EINVAL);
	ck_assert_int_eq(s5_encode_userpass(buf, sizeof(buf), "u", 1, big, 0),
			 -EINVAL);
	ck_assert_int_eq(s5_encode_userpass(buf, sizeof(buf), big, 256, "p", 1),
			 -EINVAL);
	ck_assert_int_eq(s5_encode_userpass(buf, sizeof(buf), "u", 1, big, 256),
			 -EINVAL);
}
END_TEST

START_TEST(test_userpass_max)
{
	char big[255];
	uint8_t buf[S5_MAX_USERPASS];

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(
	    s5_encode_userpass(buf, sizeof(buf), big, 255, big, 255),
	    S5_MAX_USERPASS);
	ck_assert_uint_eq(buf[1], 255);
	ck_assert_uint_eq(buf[2 + 255], 255);
}
END_TEST

START_TEST(test_userpass_reply_prefixes)
{
	static const uint8_t msg[] = {0x01, 0x00};
	uint8_t status = CANARY;
	size_t i;
	int r;

	for (i = 0; i < sizeof(msg); i++) {
		uint8_t *p = dup_exact(msg, i);

		r = s5_parse_userpass_reply(p, i, &status);
		free(p);
		ck_assert_int_eq(r, (int)(sizeof(msg) - i));
		ck_assert_uint_eq(status, CANARY);
	}
}
END_TEST

START_TEST(test_userpass_reply_full)
{
	static const uint8_t ok[] = {0x01, 0x00, 0xee /* app data */};
	static const uint8_t denied[] = {0x01, 0x01};
	uint8_t status;

	ck_assert_int_eq(s5_parse_userpass_reply(ok, sizeof(ok), &status), 0);
	ck_assert_uint_eq(status, 0);
	ck_assert_int_eq(
	    s5_parse_userpass_reply(denied, sizeof(denied), &status), 0);
	ck_assert_uint_eq(status, 1);
}
END_TEST

START_TEST(test_userpass_reply_bad_ver)
{
	/* VER 5 here is a known server bug, but the header says VER is 1. */
	static const uint8_t msg[] = {0x05, 0x00};
	uint8_t status;

	ck_assert_int_eq(s5_parse_userpass_reply(msg, 1, &status), -EPROTO);
	ck_assert_int_eq(s5_parse_userpass_reply(msg, 2, &status), -EPROTO);
}
END_TEST

/* ---- requests (RFC 1928 section 4) ---- */

START_TEST(test_request_bytes)
{
	static const uint8_t cmds[] = {S5_CMD_CONNECT, S5_CMD_BIND,
				       S5_CMD_UDP_ASSOCIATE};
	const struct addr_case *c = &addr_cases[_i];
	uint8_t want[S5_MAX_REQUEST], buf[S5_MAX_REQUEST];
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		const uint8_t head[3] = {0x05, cmds[i], 0x00};

		n = build(want, head, c);
		ck_assert_int_eq(
		    s5_encode_request(buf, sizeof(buf), cmds[i], c->addr),
		    (ssize_t)n);
		ck_assert_mem_eq(buf, want, n);
	}
}
END_TEST

START_TEST(test_request_enobufs)
{
	const struct addr_case *c = &addr_cases[_i];
	uint8_t buf[S5_MAX_REQUEST];
	size_t cap;

	for (cap = 0; cap < 3 + c->wire_len; cap++) {
		memset(buf, CANARY, sizeof(buf));
		ck_assert_int_eq(
		    s5_encode_request(buf, cap, S5_CMD_CONNECT, c->addr),
		    -ENOBUFS);
		ck_assert(all_bytes(buf, CANARY, sizeof(buf)));
	}
}
END_TEST

START_TEST(test_request_einval)
{
	struct s5_addr a = addr_v4;
	uint8_t buf[S5_MAX_REQUEST];
	size_t i;

	ck_assert_int_eq(s5_encode_request(buf, sizeof(buf), 0x00, &a),
			 -EINVAL);
	ck_assert_int_eq(s5_encode_request(buf, sizeof(buf), 0x04, &a),
			 -EINVAL);
	for (i = 0; i < ARRAY_SIZE(bad_atyps); i++) {
		a.atyp = bad_atyps[i];
		ck_assert_int_eq(
		    s5_encode_request(buf, sizeof(buf), S5_CMD_CONNECT, &a),
		    -EINVAL);
	}
	a = addr_dom;
	a.u.domain.len = 0;
	ck_assert_int_eq(
	    s5_encode_request(buf, sizeof(buf), S5_CMD_CONNECT, &a), -EINVAL);
}
END_TEST

START_TEST(test_request_max)
{
	struct s5_addr a;
	uint8_t buf[S5_MAX_REQUEST];

	long_domain(&a);
	ck_assert_int_eq(
	    s5_encode_request(buf, sizeof(buf), S5_CMD_CONNECT, &a),
	    S5_MAX_REQUEST);
	ck_assert_int_eq(
	    s5_encode_request(buf, sizeof(buf) - 1, S5_CMD_CONNECT, &a),
	    -ENOBUFS);
}
END_TEST

/* ---- replies (RFC 1928 section 6) ---- */

/* Every proper prefix asks for more, never past the end of the reply. */
START_TEST(test_reply_prefixes)
{
	static const uint8_t head[3] = {0x05, 0x00, 0x00};
	const struct addr_case *c = &addr_cases[_i];
	uint8_t msg[S5_MAX_REPLY], rep = CANARY;
	struct s5_addr bnd, canary;
	size_t total, consumed = 12345, i;
	int r;

	total = build(msg, head, c);
	memset(&canary, CANARY, sizeof(canary));
	for (i = 0; i < total; i++) {
		uint8_t *p = dup_exact(msg, i);

		memcpy(&bnd, &canary, sizeof(bnd));
		r = s5_parse_reply(p, i, &rep, &bnd, &consumed);
		free(p);
		ck_assert_int_gt(r, 0);
		ck_assert_uint_le(i + (size_t)r, total);
		ck_assert_uint_eq(rep, CANARY);
		ck_assert_uint_eq(consumed, 12345);
		ck_assert_mem_eq(&bnd, &canary, sizeof(bnd));
	}
}
END_TEST

/* Once the reply's length is known, the need is exact. */
START_TEST(test_reply_need_exact)
{
	static const uint8_t head[3] = {0x05, 0x00, 0x00};
	const struct addr_case *c = &addr_cases[_i];
	uint8_t msg[S5_MAX_REPLY], rep;
	struct s5_addr bnd;
	size_t total, consumed, known, i;

	total = build(msg, head, c);
	/* IP: ATYP says it all; domain: the length octet after it. */
	known = c->addr->atyp == S5_ATYP_DOMAIN ? 5 : 4;
	for (i = known; i < total; i++)
		ck_assert_int_eq(s5_parse_reply(msg, i, &rep, &bnd, &consumed),
				 (int)(total - i));
}
END_TEST

/* Before the length is known the need is the shortest possible reply. */
START_TEST(test_reply_need_before_length)
{
	/* The shortest reply: a one-byte domain. */
	static const uint8_t shortest[] = {5, 0, 0, 3, 1, 'a', 0x00, 0x50};
	uint8_t rep;
	struct s5_addr bnd;
	size_t consumed, i;

	for (i = 0; i <= 4; i++)
		ck_assert_int_eq(
		    s5_parse_reply(shortest, i, &rep, &bnd, &consumed),
		    (int)(sizeof(shortest) - i));
	ck_assert_int_eq(
	    s5_parse_reply(shortest, sizeof(shortest), &rep, &bnd, &consumed),
	    0);
	ck_assert_uint_eq(consumed, sizeof(shortest));
}
END_TEST

START_TEST(test_reply_full)
{
	static const uint8_t head[3] = {0x05, S5_REP_HOST_UNREACHABLE, 0x00};
	const struct addr_case *c = &addr_cases[_i];
	uint8_t msg[S5_MAX_REPLY], rep, *p;
	struct s5_addr bnd;
	size_t total, consumed;

	total = build(msg, head, c);
	p = dup_exact(msg, total);
	ck_assert_int_eq(s5_parse_reply(p, total, &rep, &bnd, &consumed), 0);
	free(p);
	ck_assert_uint_eq(rep, S5_REP_HOST_UNREACHABLE);
	ck_assert_uint_eq(consumed, total);
	assert_addr_eq(&bnd, c->addr);
}
END_TEST

/* Bytes after the reply belong to the application stream. */
START_TEST(test_reply_trailing)
{
	static const uint8_t head[3] = {0x05, 0x00, 0x00};
	const struct addr_case *c = &addr_cases[_i];
	uint8_t msg[S5_MAX_REPLY + 8], rep;
	struct s5_addr bnd;
	size_t total, consumed;

	total = build(msg, head, c);
	memcpy(msg + total, "HTTP/1.1", 8);
	ck_assert_int_eq(s5_parse_reply(msg, total + 8, &rep, &bnd, &consumed),
			 0);
	ck_assert_uint_eq(consumed, total);
	assert_addr_eq(&bnd, c->addr);
}
END_TEST

START_TEST(test_reply_max)
{
	static const uint8_t head[3] = {0x05, 0x00, 0x00};
	struct s5_addr a, bnd;
	uint8_t msg[S5_MAX_REPLY], rep;
	size_t consumed;

	long_domain(&a);
	ck_assert_int_eq(
	    s5_encode_request(msg, sizeof(msg), S5_CMD_CONNECT, &a),
	    S5_MAX_REPLY);
	memcpy(msg, head, 3);
	ck_assert_int_eq(
	    s5_parse_reply(msg, sizeof(msg), &rep, &bnd, &consumed), 0);
	ck_assert_uint_eq(consumed, S5_MAX_REPLY);
	assert_addr_eq(&bnd, &a);
}
END_TEST

/* Bad fields are rejected as soon as they arrive, complete or not. */
START_TEST(test_reply_bad_ver)
{
	uint8_t msg[S5_MAX_REPLY], rep;
	struct s5_addr bnd;
	size_t total, consumed, i;

	total =
	    build(msg, (const uint8_t[3]){0x04, 0x00, 0x00}, &addr_cases[0]);
	for (i = 1; i <= total; i++)
		ck_assert_int_eq(s5_parse_reply(msg, i, &rep, &bnd, &consumed),
				 -EPROTO);
}
END_TEST

START_TEST(test_reply_bad_rsv)
{
	uint8_t msg[S5_MAX_REPLY], rep;
	struct s5_addr bnd;
	size_t total, consumed, i;

	total =
	    build(msg, (const uint8_t[3]){0x05, 0x00, 0x01}, &addr_cases[0]);
	for (i = 3; i <= total; i++)
		ck_assert_int_eq(s5_parse_reply(msg, i, &rep, &bnd, &consumed),
				 -EPROTO);
}
END_TEST

START_TEST(test_reply_bad_atyp)
{
	uint8_t msg[S5_MAX_REPLY], rep;
	struct s5_addr bnd;
	size_t total, consumed, i;

	total =
	    build(msg, (const uint8_t[3]){0x05, 0x00, 0x00}, &addr_cases[0]);
	msg[3] = bad_atyps[_i];
	for (i = 4; i <= total; i++)
		ck_assert_int_eq(s5_parse_reply(msg, i, &rep, &bnd, &consumed),
				 -EPROTO);
}
END_TEST

START_TEST(test_reply_empty_domain)
{
	static const uint8_t msg[] = {0x05, 0x00, 0x00, 0x03,
				      0x00, 0x00, 0x50, 0x00};
	uint8_t rep;
	struct s5_addr bnd;
	size_t consumed, i;

	for (i = 5; i <= sizeof(msg); i++)
		ck_assert_int_eq(s5_parse_reply(msg, i, &rep, &bnd, &consumed),
				 -EPROTO);
}
END_TEST

/* ---- UDP header (RFC 1928 section 7) ---- */

static const uint8_t frags[] = {0x00, 0x01, 0x7f, 0x80, 0xff};

START_TEST(test_udp_encode_bytes)
{
	const struct addr_case *c = &addr_cases[_i];
	uint8_t want[S5_MAX_UDP_HEADER], buf[S5_MAX_UDP_HEADER];
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(frags); i++) {
		const uint8_t head[3] = {0x00, 0x00, frags[i]};

		n = build(want, head, c);
		ck_assert_int_eq(
		    s5_encode_udp_header(buf, sizeof(buf), frags[i], c->addr),
		    (ssize_t)n);
		ck_assert_mem_eq(buf, want, n);
	}
}
END_TEST

START_TEST(test_udp_encode_enobufs)
{
	const struct addr_case *c = &addr_cases[_i];
	uint8_t buf[S5_MAX_UDP_HEADER];
	size_t cap;

	for (cap = 0; cap < 3 + c->wire_len; cap++) {
		memset(buf, CANARY, sizeof(buf));
		ck_assert_int_eq(s5_encode_udp_header(buf, cap, 0, c->addr),
				 -ENOBUFS);
		ck_assert(all_bytes(buf, CANARY, sizeof(buf)));
	}
}
END_TEST

START_TEST(test_udp_encode_einval)
{
	struct s5_addr a = addr_v4;
	uint8_t buf[S5_MAX_UDP_HEADER];

	a.atyp = 0x02;
	ck_assert_int_eq(s5_encode_udp_header(buf, sizeof(buf), 0, &a),
			 -EINVAL);
	a = addr_dom;
	a.u.domain.len = 0;
	ck_assert_int_eq(s5_encode_udp_header(buf, sizeof(buf), 0, &a),
			 -EINVAL);
}
END_TEST

START_TEST(test_udp_encode_max)
{
	struct s5_addr a;
	uint8_t buf[S5_MAX_UDP_HEADER];

	long_domain(&a);
	ck_assert_int_eq(s5_encode_udp_header(buf, sizeof(buf), 0, &a),
			 S5_MAX_UDP_HEADER);
}
END_TEST

START_TEST(test_udp_parse)
{
	const struct addr_case *c = &addr_cases[_i];
	uint8_t dgram[S5_MAX_UDP_HEADER + 5], frag, *p;
	struct s5_addr src;
	size_t i, n, hdrlen;

	for (i = 0; i < ARRAY_SIZE(frags); i++) {
		const uint8_t head[3] = {0x00, 0x00, frags[i]};

		n = build(dgram, head, c);
		memcpy(dgram + n, "hello", 5);
		p = dup_exact(dgram, n + 5);
		ck_assert_int_eq(
		    s5_parse_udp_header(p, n + 5, &frag, &src, &hdrlen), 0);
		free(p);
		ck_assert_uint_eq(frag, frags[i]);
		ck_assert_uint_eq(hdrlen, n);
		assert_addr_eq(&src, c->addr);
	}
}
END_TEST

/* A header with no payload is still a whole header. */
START_TEST(test_udp_parse_empty_payload)
{
	const struct addr_case *c = &addr_cases[_i];
	uint8_t dgram[S5_MAX_UDP_HEADER], frag;
	struct s5_addr src;
	size_t n, hdrlen;

	n = build(dgram, (const uint8_t[3]){0, 0, 0}, c);
	ck_assert_int_eq(s5_parse_udp_header(dgram, n, &frag, &src, &hdrlen),
			 0);
	ck_assert_uint_eq(hdrlen, n);
}
END_TEST

START_TEST(test_udp_round_trip)
{
	const struct addr_case *c = &addr_cases[_i];
	uint8_t buf[S5_MAX_UDP_HEADER], frag;
	struct s5_addr src;
	size_t hdrlen;
	ssize_t n;

	n = s5_encode_udp_header(buf, sizeof(buf), 0x81, c->addr);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(
	    s5_parse_udp_header(buf, (size_t)n, &frag, &src, &hdrlen), 0);
	ck_assert_uint_eq(hdrlen, (size_t)n);
	ck_assert_uint_eq(frag, 0x81);
	assert_addr_eq(&src, c->addr);
}
END_TEST

/* A datagram is complete: a truncated header is damage, never ">0". */
START_TEST(test_udp_truncated)
{
	const struct addr_case *c = &addr_cases[_i];
	uint8_t dgram[S5_MAX_UDP_HEADER], frag = CANARY;
	struct s5_addr src;
	size_t n, i, hdrlen = 12345;

	n = build(dgram, (const uint8_t[3]){0, 0, 0}, c);
	for (i = 0; i < n; i++) {
		uint8_t *p = dup_exact(dgram, i);
		int r = s5_parse_udp_header(p, i, &frag, &src, &hdrlen);

		free(p);
		ck_assert_int_eq(r, -EPROTO);
		ck_assert_uint_eq(frag, CANARY);
		ck_assert_uint_eq(hdrlen, 12345);
	}
}
END_TEST

START_TEST(test_udp_bad_rsv)
{
	uint8_t dgram[S5_MAX_UDP_HEADER], frag;
	struct s5_addr src;
	size_t n, hdrlen;

	n = build(dgram, (const uint8_t[3]){0x01, 0x00, 0x00}, &addr_cases[0]);
	ck_assert_int_eq(s5_parse_udp_header(dgram, n, &frag, &src, &hdrlen),
			 -EPROTO);
	n = build(dgram, (const uint8_t[3]){0x00, 0x01, 0x00}, &addr_cases[0]);
	ck_assert_int_eq(s5_parse_udp_header(dgram, n, &frag, &src, &hdrlen),
			 -EPROTO);
}
END_TEST

START_TEST(test_udp_bad_atyp)
{
	uint8_t dgram[S5_MAX_UDP_HEADER], frag;
	struct s5_addr src;
	size_t n, hdrlen, i;

	n = build(dgram, (const uint8_t[3]){0, 0, 0}, &addr_cases[0]);
	for (i = 0; i < ARRAY_SIZE(bad_atyps); i++) {
		dgram[3] = bad_atyps[i];
		ck_assert_int_eq(
		    s5_parse_udp_header(dgram, n, &frag, &src, &hdrlen),
		    -EPROTO);
	}
}
END_TEST

START_TEST(test_udp_empty_domain)
{
	static const uint8_t dgram[] = {0, 0, 0, 0x03, 0x00, 0x00, 0x35, 'x'};
	uint8_t frag;
	struct s5_addr src;
	size_t hdrlen;

	ck_assert_int_eq(
	    s5_parse_udp_header(dgram, sizeof(dgram), &frag, &src, &hdrlen),
	    -EPROTO);
}
END_TEST

/* ---- reply codes ---- */

static const struct {
	uint8_t rep;
	int err;
	const char *text;
} reply_codes[] = {
    {0x00, 0, "succeeded"},
    {0x01, ECONNREFUSED, "general SOCKS server failure"},
    {0x02, EACCES, "connection not allowed by ruleset"},
    {0x03, ENETUNREACH, "Network unreachable"},
    {0x04, EHOSTUNREACH, "Host unreachable"},
    {0x05, ECONNREFUSED, "Connection refused"},
    {0x06, ETIMEDOUT, "TTL expired"},
    {0x07, EOPNOTSUPP, "Command not supported"},
    {0x08, EAFNOSUPPORT, "Address type not supported"},
    {0x09, ECONNREFUSED, "unknown reply code"},
    {0x7f, ECONNREFUSED, "unknown reply code"},
    {0xff, ECONNREFUSED, "unknown reply code"},
};

START_TEST(test_reply_errno)
{
	ck_assert_int_eq(s5_reply_errno(reply_codes[_i].rep),
			 reply_codes[_i].err);
}
END_TEST

START_TEST(test_reply_str)
{
	ck_assert_str_eq(s5_reply_str(reply_codes[_i].rep),
			 reply_codes[_i].text);
}
END_TEST

/* ---- sockaddr conversions ---- */

START_TEST(test_from_sockaddr_v4)
{
	struct sockaddr_in sin = {0};
	struct s5_addr a;

	sin.sin_family = AF_INET;
	sin.sin_port = htons(8080);
	memcpy(&sin.sin_addr, addr_v4.u.v4, 4);
	ck_assert_int_eq(
	    s5_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_addr_eq(&a, &addr_v4);
}
END_TEST

START_TEST(test_from_sockaddr_v6)
{
	struct sockaddr_in6 sin6 = {0};
	struct s5_addr a;

	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(443);
	memcpy(&sin6.sin6_addr, addr_v6.u.v6, 16);
	ck_assert_int_eq(
	    s5_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)),
	    0);
	assert_addr_eq(&a, &addr_v6);
}
END_TEST

START_TEST(test_from_sockaddr_v4mapped)
{
	uint8_t mapped[16] = {0}; /* ::ffff:192.0.2.1 */
	struct sockaddr_in6 sin6 = {0};
	struct s5_addr a;

	mapped[10] = mapped[11] = 0xff;
	memcpy(mapped + 12, addr_v4.u.v4, 4);

	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(8080);
	memcpy(&sin6.sin6_addr, mapped, 16);
	ck_assert_int_eq(
	    s5_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)),
	    0);
	assert_addr_eq(&a, &addr_v4);
}
END_TEST

/* ::a.b.c.d (compat) and ::ffff:0:a.b.c.d (SIIT) are not v4-mapped. */
static const uint8_t not_mapped[][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1},
    {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 192, 0, 2, 1},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 192, 0, 2, 1},
};

START_TEST(test_from_sockaddr_not_mapped)
{
	struct sockaddr_in6 sin6 = {0};
	struct s5_addr a;

	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, not_mapped[_i], 16);
	ck_assert_int_eq(
	    s5_addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6)),
	    0);
	ck_assert_uint_eq(a.atyp, S5_ATYP_IPV6);
	ck_assert_mem_eq(a.u.v6, not_mapped[_i], 16);
}
END_TEST

START_TEST(test_from_sockaddr_v6_rfc2133_size)
{
	struct sockaddr_in6 sin6 = {0};
	struct s5_addr a;

	/* 24 bytes, no sin6_scope_id: the kernel accepts it, so do we. */
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(443);
	memcpy(&sin6.sin6_addr, addr_v6.u.v6, 16);
	ck_assert_int_eq(
	    s5_addr_from_sockaddr(&a, (struct sockaddr *)&sin6,
				  offsetof(struct sockaddr_in6, sin6_scope_id)),
	    0);
	assert_addr_eq(&a, &addr_v6);
}
END_TEST

START_TEST(test_from_sockaddr_short)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	struct s5_addr a;

	ck_assert_int_eq(
	    s5_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin) - 1),
	    -EINVAL);
	ck_assert_int_eq(s5_addr_from_sockaddr(
			     &a, (struct sockaddr *)&sin6,
			     offsetof(struct sockaddr_in6, sin6_scope_id) - 1),
			 -EINVAL);
	ck_assert_int_eq(s5_addr_from_sockaddr(&a, (struct sockaddr *)&sin, 0),
			 -EINVAL);
}
END_TEST

START_TEST(test_from_sockaddr_family)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct s5_addr a;

	ck_assert_int_eq(
	    s5_addr_from_sockaddr(&a, (struct sockaddr *)&sun, sizeof(sun)),
	    -EAFNOSUPPORT);
}
END_TEST

START_TEST(test_to_sockaddr_v4)
{
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	size_t salen = sizeof(ss);

	memset(&ss, CANARY, sizeof(ss));
	ck_assert_int_eq(
	    s5_addr_to_sockaddr(&addr_v4, (struct sockaddr *)&ss, &salen), 0);
	ck_assert_uint_eq(salen, sizeof(sin));
	memcpy(&sin, &ss, sizeof(sin));
	ck_assert_int_eq(sin.sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(sin.sin_port), 8080);
	ck_assert_mem_eq(&sin.sin_addr, addr_v4.u.v4, 4);
	ck_assert(all_bytes(sin.sin_zero, 0, sizeof(sin.sin_zero)));
}
END_TEST

START_TEST(test_to_sockaddr_v6)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 sin6;
	size_t salen = sizeof(ss);

	memset(&ss, CANARY, sizeof(ss));
	ck_assert_int_eq(
	    s5_addr_to_sockaddr(&addr_v6, (struct sockaddr *)&ss, &salen), 0);
	ck_assert_uint_eq(salen, sizeof(sin6));
	memcpy(&sin6, &ss, sizeof(sin6));
	ck_assert_int_eq(sin6.sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(sin6.sin6_port), 443);
	ck_assert_mem_eq(&sin6.sin6_addr, addr_v6.u.v6, 16);
	ck_assert_uint_eq(sin6.sin6_flowinfo, 0);
	ck_assert_uint_eq(sin6.sin6_scope_id, 0);
}
END_TEST

START_TEST(test_to_sockaddr_small)
{
	struct sockaddr_storage ss;
	size_t salen;

	memset(&ss, CANARY, sizeof(ss));
	salen = sizeof(struct sockaddr_in) - 1;
	ck_assert_int_eq(
	    s5_addr_to_sockaddr(&addr_v4, (struct sockaddr *)&ss, &salen),
	    -EINVAL);
	ck_assert_uint_eq(salen, sizeof(struct sockaddr_in) - 1);
	salen = sizeof(struct sockaddr_in6) - 1;
	ck_assert_int_eq(
	    s5_addr_to_sockaddr(&addr_v6, (struct sockaddr *)&ss, &salen),
	    -EINVAL);
	ck_assert_uint_eq(salen, sizeof(struct sockaddr_in6) - 1);
	ck_assert(all_bytes(&ss, CANARY, sizeof(ss)));
}
END_TEST

START_TEST(test_to_sockaddr_domain)
{
	struct sockaddr_storage ss;
	size_t salen = sizeof(ss);

	ck_assert_int_eq(
	    s5_addr_to_sockaddr(&addr_dom, (struct sockaddr *)&ss, &salen),
	    -EAFNOSUPPORT);
	ck_assert_uint_eq(salen, sizeof(ss));
}
END_TEST

/* IP addresses survive s5_addr -> sockaddr -> s5_addr unchanged. */
static const struct s5_addr *const ip_addrs[] = {&addr_v4, &addr_v6};

START_TEST(test_sockaddr_round_trip)
{
	const struct s5_addr *in = ip_addrs[_i];
	struct sockaddr_storage ss;
	struct s5_addr out;
	size_t salen = sizeof(ss);

	ck_assert_int_eq(
	    s5_addr_to_sockaddr(in, (struct sockaddr *)&ss, &salen), 0);
	ck_assert_int_eq(
	    s5_addr_from_sockaddr(&out, (struct sockaddr *)&ss, salen), 0);
	assert_addr_eq(&out, in);
}
END_TEST

/* ---- domain addresses ---- */

START_TEST(test_addr_domain)
{
	struct s5_addr a;

	memset(&a, CANARY, sizeof(a));
	ck_assert_int_eq(s5_addr_domain(&a, "example.com", 0xabcd), 0);
	assert_addr_eq(&a, &addr_dom);
}
END_TEST

START_TEST(test_addr_domain_lengths)
{
	char name[257];
	struct s5_addr a;

	memset(name, 'a', sizeof(name));
	name[255] = '\0';
	ck_assert_int_eq(s5_addr_domain(&a, name, 1), 0);
	ck_assert_uint_eq(a.u.domain.len, 255);
	ck_assert_int_eq(a.u.domain.name[255], '\0');
	name[255] = 'a';
	name[256] = '\0';
	ck_assert_int_eq(s5_addr_domain(&a, name, 1), -EINVAL);
	ck_assert_int_eq(s5_addr_domain(&a, "", 1), -EINVAL);
}
END_TEST

static Suite *socks5_suite(void)
{
	Suite *s = suite_create("socks5");
	TCase *tc;
	const int na = ARRAY_SIZE(addr_cases);

	tc = tcase_create("greeting");
	tcase_add_test(tc, test_greeting_bytes);
	tcase_add_test(tc, test_greeting_enobufs);
	tcase_add_test(tc, test_greeting_einval);
	tcase_add_test(tc, test_greeting_max);
	tcase_add_test(tc, test_method_reply_prefixes);
	tcase_add_test(tc, test_method_reply_full);
	tcase_add_test(tc, test_method_reply_none);
	tcase_add_test(tc, test_method_reply_bad_ver);
	suite_add_tcase(s, tc);

	tc = tcase_create("userpass");
	tcase_add_test(tc, test_userpass_bytes);
	tcase_add_test(tc, test_userpass_enobufs);
	tcase_add_test(tc, test_userpass_einval);
	tcase_add_test(tc, test_userpass_max);
	tcase_add_test(tc, test_userpass_reply_prefixes);
	tcase_add_test(tc, test_userpass_reply_full);
	tcase_add_test(tc, test_userpass_reply_bad_ver);
	suite_add_tcase(s, tc);

	tc = tcase_create("request");
	tcase_add_loop_test(tc, test_request_bytes, 0, na);
	tcase_add_loop_test(tc, test_request_enobufs, 0, na);
	tcase_add_test(tc, test_request_einval);
	tcase_add_test(tc, test_request_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("reply");
	tcase_add_loop_test(tc, test_reply_prefixes, 0, na);
	tcase_add_loop_test(tc, test_reply_need_exact, 0, na);
	tcase_add_test(tc, test_reply_need_before_length);
	tcase_add_loop_test(tc, test_reply_full, 0, na);
	tcase_add_loop_test(tc, test_reply_trailing, 0, na);
	tcase_add_test(tc, test_reply_max);
	tcase_add_test(tc, test_reply_bad_ver);
	tcase_add_test(tc, test_reply_bad_rsv);
	tcase_add_loop_test(tc, test_reply_bad_atyp, 0, ARRAY_SIZE(bad_atyps));
	tcase_add_test(tc, test_reply_empty_domain);
	suite_add_tcase(s, tc);

	tc = tcase_create("udp");
	tcase_add_loop_test(tc, test_udp_encode_bytes, 0, na);
	tcase_add_loop_test(tc, test_udp_encode_enobufs, 0, na);
	tcase_add_test(tc, test_udp_encode_einval);
	tcase_add_test(tc, test_udp_encode_max);
	tcase_add_loop_test(tc, test_udp_parse, 0, na);
	tcase_add_loop_test(tc, test_udp_parse_empty_payload, 0, na);
	tcase_add_loop_test(tc, test_udp_round_trip, 0, na);
	tcase_add_loop_test(tc, test_udp_truncated, 0, na);
	tcase_add_test(tc, test_udp_bad_rsv);
	tcase_add_test(tc, test_udp_bad_atyp);
	tcase_add_test(tc, test_udp_empty_domain);
	suite_add_tcase(s, tc);

	tc = tcase_create("codes");
	tcase_add_loop_test(tc, test_reply_errno, 0, ARRAY_SIZE(reply_codes));
	tcase_add_loop_test(tc, test_reply_str, 0, ARRAY_SIZE(reply_codes));
	suite_add_tcase(s, tc);

	tc = tcase_create("sockaddr");
	tcase_add_test(tc, test_from_sockaddr_v4);
	tcase_add_test(tc, test_from_sockaddr_v6);
	tcase_add_test(tc, test_from_sockaddr_v4mapped);
	tcase_add_loop_test(tc, test_from_sockaddr_not_mapped, 0,
			    ARRAY_SIZE(not_mapped));
	tcase_add_test(tc, test_from_sockaddr_v6_rfc2133_size);
	tcase_add_test(tc, test_from_sockaddr_short);
	tcase_add_test(tc, test_from_sockaddr_family);
	tcase_add_test(tc, test_to_sockaddr_v4);
	tcase_add_test(tc, test_to_sockaddr_v6);
	tcase_add_test(tc, test_to_sockaddr_small);
	tcase_add_test(tc, test_to_sockaddr_domain);
	tcase_add_loop_test(tc, test_sockaddr_round_trip, 0,
			    ARRAY_SIZE(ip_addrs));
	tcase_add_test(tc, test_addr_domain);
	tcase_add_test(tc, test_addr_domain_lengths);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(socks5_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
