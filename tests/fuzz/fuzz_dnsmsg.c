/*
 * fuzz_dnsmsg.c - libFuzzer target for the DNS message codec.
 *
 * The input is parsed as a response twice over: once to a fixed query
 * (ID 0x1234, www.example.test, A and AAAA), and once to the query the
 * input's own header and question describe, so that mutations get past
 * the ID and question checks into the records.  Besides "no sanitizer
 * report", the target checks what dnsmsg.h promises:
 *   - only the documented return values;
 *   - on error *out is all zero;
 *   - on success naddr <= DNS_MAX_ADDRS, families match the question's
 *     type, canon is a NUL-terminated dotted name of at most 253 bytes,
 *     ttl <= 2^31-1 and 0 when there are no addresses, rcode is the
 *     header's, and an error RCODE has no addresses and canon = the name;
 *   - the answer does not depend on the case of the name asked;
 *   - the question the codec encodes for a name it took from the input
 *     is the input's question byte for byte;
 *   - dns_name_equal is reflexive and symmetric, and a query the codec
 *     encodes, turned into a response, parses back to its own name.
 * Run by tests/fuzz/run.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#define FIXED_ID   0x1234
#define FIXED_NAME "www.example.test"

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Parses and checks every promise that does not depend on the input's
 * meaning; returns the parser's result. */
static int parse_checked(const uint8_t *data, size_t size, uint16_t id,
			 const char *name, uint16_t qtype,
			 struct dns_answer *out)
{
	size_t i, clen;
	int r;

	memset(out, 0xA5, sizeof(*out));
	r = dns_parse_response(data, size, id, name, qtype, out);
	CHECK(r == 0 || r == -EBADMSG || r == -EMSGSIZE || r == -EPROTO);
	if (r) {
		CHECK(all_zero(out, sizeof(*out)));
		return r;
	}
	CHECK(size >= 12);
	CHECK(out->rcode == (data[3] & 0x0F));
	CHECK(out->naddr <= DNS_MAX_ADDRS);
	for (i = 0; i < out->naddr; i++)
		CHECK(out->family[i] ==
		      (qtype == DNS_TYPE_A ? AF_INET : AF_INET6));
	clen = strnlen(out->canon, sizeof(out->canon));
	CHECK(clen < sizeof(out->canon));
	CHECK(clen >= 1 && clen <= DNS_MAX_NAME - 2);
	CHECK(out->canon[0] != '.' && out->canon[clen - 1] != '.');
	CHECK(!strstr(out->canon, ".."));
	CHECK(out->ttl <= 0x7fffffffu);
	if (out->naddr == 0)
		CHECK(out->ttl == 0);
	if (out->rcode != 0) {
		CHECK(out->naddr == 0);
		CHECK(dns_name_equal(out->canon, name));
	}
	return r;
}

/* The same query with the name in upper case gets the same answer. */
static void check_case(const uint8_t *data, size_t size, uint16_t id,
		       const char *name, uint16_t qtype, int r,
		       const struct dns_answer *ans)
{
	char upper[DNS_MAX_NAME + 2];
	struct dns_answer again;
	size_t i, n = strlen(name);

	CHECK(n < sizeof(upper));
	for (i = 0; i <= n; i++)
		upper[i] = (name[i] >= 'a' && name[i] <= 'z')
			       ? (char)(name[i] - 'a' + 'A')
			       : name[i];
	CHECK(parse_checked(data, size, id, upper, qtype, &again) == r);
	CHECK(!memcmp(&again, ans, sizeof(again)));
}

static void fuzz_fixed(const uint8_t *data, size_t size)
{
	static const uint16_t qtypes[] = {DNS_TYPE_A, DNS_TYPE_AAAA};
	struct dns_answer ans;
	size_t i;
	int r;

	for (i = 0; i < sizeof(qtypes) / sizeof(qtypes[0]); i++) {
		r = parse_checked(data, size, FIXED_ID, FIXED_NAME, qtypes[i],
				  &ans);
		check_case(data, size, FIXED_ID, FIXED_NAME, qtypes[i], r,
			   &ans);
	}
}

/*
 * The input's own question as a dotted name, if it is written without
 * compression and every label can be written dotted.  *@qend gets the
 * offset after the name.
 */
static int own_question(const uint8_t *data, size_t size, char *name,
			size_t *qend)
{
	size_t pos = 12, o = 0, k;
	uint8_t c;

	for (;;) {
		if (pos >= size)
			return -1;
		c = data[pos];
		if (c == 0)
			break;
		if (c > 63 || size - pos - 1 < c || o + c + 1 > DNS_MAX_NAME)
			return -1;
		for (k = 0; k < c; k++) {
			uint8_t b = data[pos + 1 + k];

			if (b == '.' || b == '\0')
				return -1;
			name[o++] = (char)b;
		}
		name[o++] = '.';
		pos += 1 + (size_t)c;
	}
	if (o == 0)
		return -1;
	name[o] = '\0'; /* keeps the trailing dot: it is optional */
	*qend = pos + 1;
	return 0;
}

static void fuzz_own(const uint8_t *data, size_t size)
{
	char name[DNS_MAX_NAME + 2];
	uint8_t q[512];
	struct dns_answer ans;
	uint16_t id, qtype;
	size_t qend;
	ssize_t n;
	int r;

	if (size < 12 || own_question(data, size, name, &qend))
		return;
	id = (uint16_t)(data[0] << 8 | data[1]);
	qtype = DNS_TYPE_A;
	if (size - qend >= 2 && data[qend] == 0 && data[qend + 1] == 28)
		qtype = DNS_TYPE_AAAA;

	/* The codec writes the same question bytes. */
	n = dns_encode_query(q, sizeof(q), id, name, qtype);
	if (n < 0) {
		/* Only an encoded name over 255 bytes is refused. */
		CHECK(n == -EINVAL);
		CHECK(qend - 12 > DNS_MAX_NAME);
		return;
	}
	CHECK((size_t)n == qend + 4);
	CHECK(!memcmp(q + 12, data + 12, qend - 12));

	r = parse_checked(data, size, id, name, qtype, &ans);
	check_case(data, size, id, name, qtype, r, &ans);
}

/* The input as two NUL-separated names. */
static void fuzz_names(const uint8_t *data, size_t size)
{
	char a[300], b[300];
	const uint8_t *nul;
	size_t la, lb;

	nul = memchr(data, 0, size);
	la = nul ? (size_t)(nul - data) : size;
	if (la >= sizeof(a))
		return;
	memcpy(a, data, la);
	a[la] = '\0';
	lb = nul ? size - la - 1 : 0;
	if (lb >= sizeof(b))
		lb = sizeof(b) - 1;
	if (nul)
		memcpy(b, nul + 1, lb);
	b[lb] = '\0';

	CHECK(dns_name_equal(a, a) == 1);
	CHECK(dns_name_equal(a, b) == dns_name_equal(b, a));
}

/* A query for the input as a name, answered with nothing, parses back. */
static void fuzz_round_trip(const uint8_t *data, size_t size)
{
	char name[300];
	uint8_t q[512];
	struct dns_answer ans;
	ssize_t n;
	size_t len = size < sizeof(name) - 1 ? size : sizeof(name) - 1;

	memcpy(name, data, len);
	name[len] = '\0';
	n = dns_encode_query(q, sizeof(q), 7, name, DNS_TYPE_AAAA);
	if (n < 0) {
		CHECK(n == -EINVAL);
		CHECK(dns_parse_response(q, sizeof(q), 7, name, DNS_TYPE_AAAA,
					 &ans) == -EINVAL);
		return;
	}
	CHECK(n <= 12 + DNS_MAX_NAME + 4);
	q[2] |= 0x80; /* QR */
	CHECK(parse_checked(q, (size_t)n, 7, name, DNS_TYPE_AAAA, &ans) == 0);
	CHECK(ans.naddr == 0);
	CHECK(dns_name_equal(ans.canon, name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_fixed(data, size);
	fuzz_own(data, size);
	fuzz_names(data, size);
	fuzz_round_trip(data, size);
	return 0;
}
