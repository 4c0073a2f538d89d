/*
 * fuzz_socks5.c - libFuzzer target for the SOCKS5 codec's parsers.
 *
 * Every parser sees the same input.  Besides "no sanitizer report", the
 * target checks the promises socks5.h makes, because a parser that is
 * memory-safe but wrong about lengths would desynchronise the application
 * stream just as surely as a crash:
 *   - a stream parser's "need N" is a lower bound: no prefix asks to read
 *     past the end of the message it turns out to be;
 *   - consumed/hdrlen never exceed the input and ignore trailing bytes;
 *   - a datagram parser never answers ">0";
 *   - a parsed domain is 1..255 bytes and NUL-terminated;
 *   - re-encoding a parsed address reproduces the input bytes exactly.
 * Run by tests/fuzz/run.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

static void check_addr(const struct s5_addr *a)
{
	CHECK(a->atyp == S5_ATYP_IPV4 || a->atyp == S5_ATYP_IPV6 ||
	      a->atyp == S5_ATYP_DOMAIN);
	if (a->atyp == S5_ATYP_DOMAIN) {
		CHECK(a->u.domain.len >= 1);
		CHECK(a->u.domain.name[a->u.domain.len] == '\0');
	}
}

/* An IP address survives s5_addr -> sockaddr -> s5_addr, except that a
 * v4-mapped IPv6 address comes back as the IPv4 address it maps. */
static void check_sockaddr_round_trip(const struct s5_addr *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};
	struct sockaddr_storage ss;
	struct s5_addr back;
	size_t salen = sizeof(ss);
	int r;

	r = s5_addr_to_sockaddr(a, (struct sockaddr *)&ss, &salen);
	if (a->atyp == S5_ATYP_DOMAIN) {
		CHECK(r == -EAFNOSUPPORT);
		return;
	}
	CHECK(r == 0);
	CHECK(s5_addr_from_sockaddr(&back, (struct sockaddr *)&ss, salen) == 0);
	CHECK(back.port == a->port);
	if (a->atyp == S5_ATYP_IPV6 && !memcmp(a->u.v6, mapped, 12)) {
		CHECK(back.atyp == S5_ATYP_IPV4);
		CHECK(!memcmp(back.u.v4, a->u.v6 + 12, 4));
	} else if (a->atyp == S5_ATYP_IPV6) {
		CHECK(back.atyp == S5_ATYP_IPV6);
		CHECK(!memcmp(back.u.v6, a->u.v6, 16));
	} else {
		CHECK(back.atyp == S5_ATYP_IPV4);
		CHECK(!memcmp(back.u.v4, a->u.v4, 4));
	}
}

static void fuzz_reply(const uint8_t *data, size_t size)
{
	uint8_t rep, enc[S5_MAX_REQUEST];
	struct s5_addr bnd, tmp;
	size_t consumed = 0, c, i;
	ssize_t n;
	int r;

	r = s5_parse_reply(data, size, &rep, &bnd, &consumed);
	CHECK(r == 0 || r == -EPROTO || r > 0);
	if (r > 0) {
		CHECK(size + (size_t)r <= S5_MAX_REPLY);
		return;
	}
	if (r < 0)
		return;

	c = consumed;
	CHECK(c <= size);
	CHECK(c <= S5_MAX_REPLY);
	CHECK(rep == data[1]);
	check_addr(&bnd);
	check_sockaddr_round_trip(&bnd);

	/* The reply's address re-encoded in a request is the same bytes. */
	n = s5_encode_request(enc, sizeof(enc), S5_CMD_CONNECT, &bnd);
	CHECK(n > 0 && (size_t)n == c);
	CHECK(enc[0] == data[0] && enc[2] == data[2]);
	CHECK(!memcmp(enc + 3, data + 3, c - 3));

	/* Trailing bytes do not matter... */
	CHECK(s5_parse_reply(data, c, &rep, &tmp, &consumed) == 0);
	CHECK(consumed == c);
	/* ...and every prefix asks for more, never past the reply's end. */
	for (i = 0; i < c; i++) {
		r = s5_parse_reply(data, i, &rep, &tmp, &consumed);
		CHECK(r > 0);
		CHECK(i + (size_t)r <= c);
	}
}

static void fuzz_udp(const uint8_t *data, size_t size)
{
	uint8_t frag, enc[S5_MAX_UDP_HEADER];
	struct s5_addr src;
	size_t hdrlen = 0;
	ssize_t n;
	int r;

	r = s5_parse_udp_header(data, size, &frag, &src, &hdrlen);
	CHECK(r == 0 || r == -EPROTO);
	if (r != 0)
		return;
	CHECK(hdrlen <= size);
	CHECK(frag == data[2]);
	check_addr(&src);
	check_sockaddr_round_trip(&src);

	n = s5_encode_udp_header(enc, sizeof(enc), frag, &src);
	CHECK(n > 0 && (size_t)n == hdrlen);
	CHECK(!memcmp(enc, data, hdrlen));
}

static void fuzz_short_replies(const uint8_t *data, size_t size)
{
	uint8_t v;
	int r;

	r = s5_parse_method_reply(data, size, &v);
	if (size >= 1 && data[0] != S5_VERSION) {
		CHECK(r == -EPROTO);
	} else if (size < 2) {
		CHECK(r > 0 && size + (size_t)r == 2);
	} else {
		CHECK(r == 0);
		CHECK(v == data[1]);
	}

	r = s5_parse_userpass_reply(data, size, &v);
	if (size >= 1 && data[0] != S5_AUTH_VERSION) {
		CHECK(r == -EPROTO);
	} else if (size < 2) {
		CHECK(r > 0 && size + (size_t)r == 2);
	} else {
		CHECK(r == 0);
		CHECK(v == data[1]);
	}
}

/* The input as a host name: accepted exactly when it is 1..255 bytes. */
static void fuzz_domain(const uint8_t *data, size_t size)
{
	char name[300];
	struct s5_addr a;
	size_t n;
	int r;

	n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = '\0';
	n = strlen(name);
	r = s5_addr_domain(&a, name, 80);
	if (n < 1 || n > 255) {
		CHECK(r == -EINVAL);
		return;
	}
	CHECK(r == 0);
	CHECK(a.u.domain.len == n);
	CHECK(!memcmp(a.u.domain.name, name, n + 1));
	check_addr(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reply(data, size);
	fuzz_udp(data, size);
	fuzz_short_replies(data, size);
	fuzz_domain(data, size);
	return 0;
}
