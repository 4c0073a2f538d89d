/*
 * config.c - pure configuration core: config file text, proxy URLs, rules.
 *
 * Nothing here touches the outside world: no syscalls, no mutable globals,
 * no logging, no getenv.  The only allocation is the rules array.  That
 * keeps every function usable (and testable) before the shim is set up,
 * and safe to call from inside a hooked connect().
 *
 * Secrets: no error message ever quotes a password, a URL's user info or a
 * word from a "password" line.  Other words are quoted truncated to
 * ECHO_MAX bytes so a message always fits a modest buffer.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 4095 /* longest accepted line, terminator excluded */
#define MAX_WORDS      7    /* direct_protocols takes the most: 6 values */
#define REASON_MAX     320  /* a reason before the "FILE:LINE: " prefix */
#define ECHO_MAX       "64" /* precision for quoting user text in errors */
#define TIMEOUT_MAX_MS 3600000

/*
 * Writes a formatted message into err (if there is one).  vsnprintf never
 * writes more than errlen bytes and always terminates, so a long message
 * is cut short rather than overflowing.  Messages quote words of the
 * input: a control byte there is written as \xNN, so that
 * no message ever carries a newline (a forged log line) or a terminal
 * escape.
 */
static void __attribute__((format(printf, 3, 4)))
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	static const char hex[] = "0123456789abcdef";
	char raw[1024];
	size_t i, o = 0;
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	for (i = 0; raw[i] && o + 1 < errlen; i++) {
		unsigned char ch = (unsigned char)raw[i];

		if (ch >= 0x20 && ch != 0x7f) {
			err[o++] = (char)ch;
		} else if (o + 5 <= errlen) {
			err[o++] = '\\';
			err[o++] = 'x';
			err[o++] = hex[ch >> 4];
			err[o++] = hex[ch & 15];
		} else {
			break;
		}
	}
	err[o] = '\0';
}

/* Character classes by hand: <ctype.h> answers per the caller's locale,
 * and the file format must not change with LANG. */
static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' ||
	       ch == '\f';
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static char to_lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

/* Returns the value of a hex digit, or -1. */
static int hex_value(char ch)
{
	if (is_digit(ch))
		return ch - '0';
	ch = to_lower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Nonzero if the n bytes at a equal the NUL-terminated lower-case word,
 * ignoring ASCII case. */
static int word_eq(const char *a, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (word[i] == '\0' || to_lower(a[i]) != word[i])
			return 0;
	return word[n] == '\0';
}

/* word_eq for a NUL-terminated a. */
static int str_eq(const char *a, const char *word)
{
	return word_eq(a, strlen(a), word);
}

/*
 * Parses a decimal number in lo..hi from the n bytes at s: digits only (no
 * sign, no blanks, no trailing junk).  Accumulation stops growing past hi,
 * so no input can overflow.  Returns 0, 1 (not a number) or 2 (a number
 * out of range).
 */
static int parse_ulong(const char *s, size_t n, unsigned long lo,
		       unsigned long hi, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return 1;
		if (v <= hi)
			v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < lo || v > hi)
		return 2;
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Defaults and the rules array                                        */

static int parse_range(const char *s, int family, uint8_t *addr,
		       uint8_t *prefix, char *err, size_t errlen);

/* Contract: see config.h.  Zeroing first keeps every field defined. */
void cfg_init(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = CFG_DEFAULT_TIMEOUT_MS;
	c->async_connect = 1;
	c->bind = CFG_BIND_AUTO;
	c->bind_timeout_ms = CFG_DEFAULT_BIND_TIMEOUT_MS;
	c->log_level = CFG_LOG_ERROR;
	c->proxy.port = CFG_DEFAULT_PORT;
	c->proxy.dns = CFG_DNS_LOCAL;
	c->dns = CFG_DNS_LOCAL;
	c->dns_set = 0;
	/* The defaults are valid literals; parsing them keeps one source of
	 * truth (config.h) for the documented ranges. */
	parse_range(CFG_DEFAULT_DNS_V4, AF_INET, c->dns_v4, &c->dns_v4_prefix,
		    NULL, 0);
	parse_range(CFG_DEFAULT_DNS_V6, AF_INET6, c->dns_v6, &c->dns_v6_prefix,
		    NULL, 0);
	c->dns_names = CFG_DEFAULT_DNS_NAMES;
	c->dns_server_len = 0;
}

/* Contract: see config.h.  Leaves c with no rules, safe to free again. */
void cfg_free(struct cfg *c)
{
	free(c->rules);
	c->rules = NULL;
	c->nrules = 0;
	c->rules_cap = 0;
}

/* Contract: see config.h.  On failure c is unchanged. */
int cfg_add_rule(struct cfg *c, const struct cfg_rule *r)
{
	if (c->nrules == c->rules_cap) {
		size_t cap = c->rules_cap ? c->rules_cap * 2 : 8;
		struct cfg_rule *n;

		/* A doubling that wraps or a byte count that wraps would
		 * allocate too little; treat both as out of memory. */
		if (cap < c->rules_cap || cap > SIZE_MAX / sizeof(*n))
			return -ENOMEM;
		n = realloc(c->rules, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->rules = n;
		c->rules_cap = cap;
	}
	c->rules[c->nrules++] = *r;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Proxy URL                                                           */

/*
 * Percent-decodes the n bytes at s into out (room for CFG_MAX_CRED bytes
 * plus a terminator).  what names the field in messages; the text itself
 * is never quoted since it may be a password.  Returns 0 or -1.
 */
static int decode_cred(const char *s, size_t n, const char *what, char *out,
		       size_t *outlen, char *err, size_t errlen)
{
	size_t i, o = 0;

	if (n == 0) {
		seterr(err, errlen, "%s is empty (RFC 1929 needs 1..%d bytes)",
		       what, CFG_MAX_CRED);
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '%') {
			int hi, lo;

			if (n - i < 3 || (hi = hex_value(s[i + 1])) < 0 ||
			    (lo = hex_value(s[i + 2])) < 0) {
				seterr(err, errlen,
				       "bad percent-escape in %s (use %%XX "
				       "with two hex digits)",
				       what);
				return -1;
			}
			ch = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (ch <= ' ' || ch == 0x7f) {
			seterr(err, errlen,
			       "space or control character in %s "
			       "(percent-encode it)",
			       what);
			return -1;
		}
		if (o == CFG_MAX_CRED) {
			seterr(err, errlen, "%s is longer than %d bytes", what,
			       CFG_MAX_CRED);
			return -1;
		}
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

/* Checks that the n bytes at s are a valid proxy host name: 1..255 of
 * letters, digits, '-', '.', '_'.  Returns 0 or -1. */
static int check_host_name(const char *s, size_t n, char *err, size_t errlen)
{
	size_t i;

	if (n == 0) {
		seterr(err, errlen, "missing host");
		return -1;
	}
	if (n > CFG_MAX_HOST) {
		seterr(err, errlen, "host name is longer than %d bytes",
		       CFG_MAX_HOST);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '.' ||
		    ch == '_')
			continue;
		if (ch >= ' ' && ch < 0x7f)
			seterr(err, errlen,
			       "invalid character '%c' in host name (letters, "
			       "digits, '-', '.', '_')",
			       ch);
		else
			seterr(err, errlen,
			       "invalid byte 0x%02x in host name (letters, "
			       "digits, '-', '.', '_')",
			       (unsigned char)ch);
		return -1;
	}
	return 0;
}

/*
 * Contract: see config.h.  p is written only on success, so a bad URL
 * never leaves a half-parsed proxy behind.  The URL may hold a password,
 * so no message quotes it; only a short scheme is echoed.
 */
int cfg_parse_url(struct cfg_proxy *p, const char *url, char *err,
		  size_t errlen)
{
	struct cfg_proxy t;
	const char *sep, *auth, *end, *at, *hp, *hend, *colon = NULL;
	size_t slen, i;

	if (!url || !*url) {
		seterr(err, errlen, "empty proxy URL");
		return -1;
	}
	memset(&t, 0, sizeof(t));

	sep = strstr(url, "://");
	if (!sep) {
		seterr(err, errlen,
		       "missing scheme (expected socks5:// or socks5h://)");
		return -1;
	}
	slen = (size_t)(sep - url);
	if (word_eq(url, slen, "socks5")) {
		t.dns = CFG_DNS_LOCAL;
	} else if (word_eq(url, slen, "socks5h")) {
		t.dns = CFG_DNS_REMOTE;
	} else {
		/* Echo the scheme only if it looks like one: anything else
		 * before "://" could be part of a mangled secret. */
		int plain = slen > 0 && slen <= 16 && is_alpha(url[0]);

		for (i = 0; plain && i < slen; i++)
			plain = is_alpha(url[i]) || is_digit(url[i]) ||
				url[i] == '+' || url[i] == '-' || url[i] == '.';
		if (plain)
			seterr(err, errlen,
			       "unsupported scheme '%.*s' (supported: "
			       "socks5://, socks5h://)",
			       (int)slen, url);
		else
			seterr(err, errlen,
			       "unsupported scheme (supported: socks5://, "
			       "socks5h://)");
		return -1;
	}

	/* The authority runs to the first '/'; only a bare trailing '/'
	 * may follow.  RFC 3986 wants '/' in user info percent-encoded. */
	auth = sep + 3;
	end = auth + strcspn(auth, "/");
	if (*end == '/' && end[1] != '\0') {
		seterr(err, errlen,
		       "unexpected text after the host (only a trailing '/' is "
		       "allowed; percent-encode '/' in user or password)");
		return -1;
	}

	at = memchr(auth, '@', (size_t)(end - auth));
	if (at) {
		const char *uc;

		/* A second '@' makes the split ambiguous; RFC 3986 wants
		 * it encoded, and guessing wrong would leak the password
		 * into the host name. */
		if (memchr(at + 1, '@', (size_t)(end - at - 1))) {
			seterr(err, errlen,
			       "more than one '@' (write '@' in user or "
			       "password as %%40)");
			return -1;
		}
		uc = memchr(auth, ':', (size_t)(at - auth));
		if (!uc) {
			seterr(err, errlen,
			       "user name without password (RFC 1929 needs "
			       "both; write user:password@)");
			return -1;
		}
		if (decode_cred(auth, (size_t)(uc - auth), "user name", t.user,
				&t.user_len, err, errlen) < 0)
			return -1;
		/* The password is everything after the first ':', so a raw
		 * ':' in it is fine. */
		if (decode_cred(uc + 1, (size_t)(at - uc - 1), "password",
				t.pass, &t.pass_len, err, errlen) < 0)
			return -1;
		hp = at + 1;
	} else {
		hp = auth;
	}

	if (hp < end && *hp == '[') {
		const char *rb = memchr(hp, ']', (size_t)(end - hp));
		char buf[INET6_ADDRSTRLEN];
		struct in6_addr a6;
		size_t n;

		if (!rb) {
			seterr(err, errlen, "missing ']' after IPv6 address");
			return -1;
		}
		n = (size_t)(rb - hp - 1);
		if (n < sizeof(buf)) {
			memcpy(buf, hp + 1, n);
			buf[n] = '\0';
		}
		if (n >= sizeof(buf) || inet_pton(AF_INET6, buf, &a6) != 1) {
			seterr(err, errlen,
			       "'[%.*s]' is not an IPv6 address (brackets are "
			       "only for IPv6)",
			       (int)(n < sizeof(buf) ? n : sizeof(buf)),
			       hp + 1);
			return -1;
		}
		memcpy(t.host, buf, n + 1);
		if (rb + 1 < end) {
			if (rb[1] != ':') {
				seterr(err, errlen,
				       "unexpected text after ']' (expected "
				       ":PORT)");
				return -1;
			}
			colon = rb + 1;
		}
	} else {
		colon = memchr(hp, ':', (size_t)(end - hp));
		if (colon &&
		    memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			seterr(err, errlen,
			       "IPv6 addresses must be in brackets, e.g. "
			       "socks5://[2001:db8::1]:1080");
			return -1;
		}
		hend = colon ? colon : end;
		if (check_host_name(hp, (size_t)(hend - hp), err, errlen) < 0)
			return -1;
		memcpy(t.host, hp, (size_t)(hend - hp));
		t.host[hend - hp] = '\0';
	}

	if (colon) {
		unsigned long port;
		int rc = parse_ulong(colon + 1, (size_t)(end - colon - 1), 1,
				     65535, &port);

		if (rc) {
			seterr(err, errlen,
			       colon + 1 == end
				   ? "missing port after ':'"
				   : "bad port (expected 1..65535)");
			return -1;
		}
		t.port = (uint16_t)port;
	} else {
		t.port = CFG_DEFAULT_PORT;
	}
	t.set = 1;
	*p = t;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Rules                                                               */

/* The mask for byte i of an address under a prefix of bits bits. */
static uint8_t prefix_mask(unsigned bits, unsigned i)
{
	if (bits >= (i + 1) * 8)
		return 0xff;
	if (bits <= i * 8)
		return 0;
	return (uint8_t)(0xff00u >> (bits - i * 8));
}

/*
 * Parses "ADDR" or "ADDR/PREFIX" (an IPv4 or IPv6 literal) into family,
 * addr (16 bytes, zero-padded) and prefix (the full length when there is
 * no '/'; *bits is that full length).  Returns 0, 1 when the text before
 * any '/' is no address literal, or 2 for a bad prefix length.
 */
static int parse_cidr(const char *s, int *family, uint8_t *addr,
		      unsigned *prefix, unsigned *bits)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long pl;

	if (alen >= sizeof(buf))
		return 1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		*bits = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = AF_INET6;
		*bits = 128;
	} else {
		return 1;
	}
	if (!slash) {
		*prefix = *bits;
		return 0;
	}
	if (parse_ulong(slash + 1, strlen(slash + 1), 0, *bits, &pl))
		return 2;
	*prefix = (unsigned)pl;
	return 0;
}

/* Host bits beyond the prefix are almost always a typo ("10.1.0.0/8"
 * meant /16?), so they are refused rather than silently widening the
 * network.  s is the text, for the message.  Returns 0 or -1. */
static int check_host_bits(const char *s, int family, const uint8_t *addr,
			   unsigned prefix, char *err, size_t errlen)
{
	unsigned i, nbytes = family == AF_INET ? 4 : 16;

	for (i = 0; i < nbytes; i++) {
		if (addr[i] & (uint8_t)~prefix_mask(prefix, i)) {
			char net[INET6_ADDRSTRLEN];
			uint8_t a[16];
			unsigned j;

			for (j = 0; j < nbytes; j++)
				a[j] = addr[j] & prefix_mask(prefix, j);
			if (!inet_ntop(family, a, net, sizeof(net)))
				net[0] = '\0';
			seterr(
			    err, errlen,
			    "host bits set in '%." ECHO_MAX
			    "s' beyond the /%u prefix (the network is %s/%u)",
			    s, prefix, net, prefix);
			return -1;
		}
	}
	return 0;
}

/* A DEST that is neither an address, 'all' nor a valid host pattern. */
static int bad_dest(const char *s, char *err, size_t errlen)
{
	seterr(err, errlen,
	       "bad destination '%." ECHO_MAX
	       "s' (expected an IPv4 or IPv6 address or CIDR, 'all', or a "
	       "host name or pattern: host.example, *.example, .example)",
	       s);
	return -1;
}

/*
 * Parses a host pattern into r's host_kind and host: "name" (exact),
 * "*.name" (names below it) or ".name" (it and names below it); a
 * trailing dot is dropped.  Labels are letters, digits, '-', '_', 1..63
 * bytes; the name at most 253 bytes.  A last label of digits only is
 * refused: no host name ends that way, and "10.0.0" is a mistyped address
 * far more often than a name.  Stored lowercase.  Returns 0 or -1.
 */
static int parse_host_pattern(struct cfg_rule *r, const char *s, char *err,
			      size_t errlen)
{
	enum cfg_host_kind kind = CFG_HOST_EXACT;
	const char *p = s;
	size_t n = strlen(s), i, label = 0;
	int numeric = 1;

	if (s[0] == '*' && s[1] == '.') {
		kind = CFG_HOST_SUBDOMAINS;
		p += 2;
		n -= 2;
	} else if (s[0] == '.') {
		kind = CFG_HOST_DOMAIN;
		p++;
		n--;
	}
	if (n > 0 && p[n - 1] == '.')
		n--;
	for (i = 0; i < n; i++) {
		char ch = p[i];

		if (ch == '.') {
			if (label == 0)
				break;
			label = 0;
			numeric = 1;
			continue;
		}
		if (!is_alpha(ch) && !is_digit(ch) && ch != '-' && ch != '_')
			return bad_dest(s, err, errlen);
		if (!is_digit(ch))
			numeric = 0;
		if (++label > 63) {
			seterr(err, errlen,
			       "label longer than 63 bytes in host name "
			       "'%." ECHO_MAX "s'",
			       s);
			return -1;
		}
	}
	if (label == 0) {
		seterr(err, errlen,
		       "empty label in host name '%." ECHO_MAX "s'", s);
		return -1;
	}
	if (numeric)
		return bad_dest(s, err, errlen);
	if (n > 253) {
		seterr(err, errlen,
		       "host name '%." ECHO_MAX "s' is longer than 253 bytes",
		       s);
		return -1;
	}
	r->family = AF_UNSPEC;
	memset(r->addr, 0, sizeof(r->addr));
	r->prefix = 0;
	r->host_kind = kind;
	for (i = 0; i < n; i++)
		r->host[i] = to_lower(p[i]);
	r->host[n] = '\0';
	return 0;
}

/* Parses "all", "ADDR", "ADDR/PREFIX" or a host pattern into r's family,
 * addr, prefix, host_kind and host. */
static int parse_dest(struct cfg_rule *r, const char *s, char *err,
		      size_t errlen)
{
	unsigned prefix, bits;
	int family, rc;

	r->host_kind = CFG_HOST_NONE;
	r->host[0] = '\0';
	if (str_eq(s, "all")) {
		r->family = AF_UNSPEC;
		memset(r->addr, 0, sizeof(r->addr));
		r->prefix = 0;
		return 0;
	}
	rc = parse_cidr(s, &family, r->addr, &prefix, &bits);
	if (rc == 1)
		return parse_host_pattern(r, s, err, errlen);
	if (rc == 2) {
		seterr(err, errlen,
		       "bad prefix length in '%." ECHO_MAX
		       "s' (expected 0..%u)",
		       s, bits);
		return -1;
	}
	r->family = family;
	r->prefix = (uint8_t)prefix;
	return check_host_bits(s, family, r->addr, prefix, err, errlen);
}

/*
 * Parses a placeholder range (dns_v4_range, dns_v6_range): a network of
 * the given family in CIDR form, prefix 1..30 (IPv4) or 1..120 (IPv6) so
 * that it holds at least 4 or 256 addresses, no host bits.  addr (4 or 16
 * bytes) and prefix are written only on success.  Returns 0 or -1.
 */
static int parse_range(const char *s, int family, uint8_t *addr,
		       uint8_t *prefix, char *err, size_t errlen)
{
	const char *key = family == AF_INET ? "dns_v4_range" : "dns_v6_range";
	unsigned lo = 1, hi = family == AF_INET ? 30 : 120, pl, bits;
	uint8_t a[16];
	int fam, rc;

	rc = parse_cidr(s, &fam, a, &pl, &bits);
	if (rc == 1 || (rc == 0 && fam != family) || !strchr(s, '/')) {
		seterr(err, errlen,
		       "bad %s '%." ECHO_MAX "s' (expected an %s network in "
		       "CIDR form, e.g. %s)",
		       key, s, family == AF_INET ? "IPv4" : "IPv6",
		       family == AF_INET ? CFG_DEFAULT_DNS_V4
					 : CFG_DEFAULT_DNS_V6);
		return -1;
	}
	if (rc == 2 || pl < lo || pl > hi) {
		seterr(err, errlen,
		       "bad prefix length in '%." ECHO_MAX
		       "s' (expected %u..%u)",
		       s, lo, hi);
		return -1;
	}
	if (check_host_bits(s, fam, a, pl, err, errlen) < 0)
		return -1;
	memcpy(addr, a, family == AF_INET ? 4 : 16);
	*prefix = (uint8_t)pl;
	return 0;
}

/* Parses "N" or "N-M" (1..65535, N <= M) into r's port range. */
static int parse_ports(struct cfg_rule *r, const char *s, char *err,
		       size_t errlen)
{
	const char *dash = strchr(s, '-');
	size_t n1 = dash ? (size_t)(dash - s) : strlen(s);
	unsigned long lo = 0, hi = 0;
	int rc;

	rc = parse_ulong(s, n1, 1, 65535, &lo);
	if (!rc) {
		hi = lo;
		if (dash)
			rc = parse_ulong(dash + 1, strlen(dash + 1), 1, 65535,
					 &hi);
	}
	if (rc == 2) {
		seterr(err, errlen,
		       "port out of range in '%." ECHO_MAX
		       "s' (expected 1..65535)",
		       s);
		return -1;
	}
	if (rc) {
		seterr(err, errlen,
		       "bad ports '%." ECHO_MAX "s' (expected N or N-M)", s);
		return -1;
	}
	if (lo > hi) {
		seterr(err, errlen,
		       "port range '%." ECHO_MAX
		       "s' is reversed (N must be <= M)",
		       s);
		return -1;
	}
	r->port_lo = (uint16_t)lo;
	r->port_hi = (uint16_t)hi;
	return 0;
}

/* Builds a rule from its words; ports may be NULL (every port). */
static int rule_from_words(struct cfg_rule *out, enum cfg_action action,
			   const char *dest, const char *ports, char *err,
			   size_t errlen)
{
	struct cfg_rule r;

	memset(&r, 0, sizeof(r));
	if (action != CFG_PROXY && action != CFG_DIRECT &&
	    action != CFG_REFUSE) {
		seterr(err, errlen, "bad rule action %d", (int)action);
		return -1;
	}
	r.action = action;
	if (parse_dest(&r, dest, err, errlen) < 0)
		return -1;
	r.port_lo = 0;
	r.port_hi = 65535;
	if (ports && parse_ports(&r, ports, err, errlen) < 0)
		return -1;
	*out = r;
	return 0;
}

/*
 * Splits line (NUL-terminated, rewritten in place) into blank-separated
 * words.  A word that starts with '"' runs to the closing '"', with \" and
 * \\ as its only escapes, so values can hold blanks; a '"' elsewhere is an
 * ordinary character.  Stores up to MAX_WORDS words in w and the total
 * count in *nw (so callers can name the extra words).  Returns 0 or -1.
 * Messages never quote the text: it may be a password.
 */
static int split_words(char *line, char **w, size_t *nw, char *err,
		       size_t errlen)
{
	char *p = line;
	size_t n = 0;

	for (;;) {
		char *word, *o;

		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		word = o = p;
		if (*p == '"') {
			word = o = ++p;
			for (;;) {
				if (!*p) {
					seterr(err, errlen,
					       "unterminated quoted value");
					return -1;
				}
				if (*p == '"')
					break;
				if (*p == '\\') {
					if (p[1] != '"' && p[1] != '\\') {
						seterr(err, errlen,
						       "bad escape in quoted "
						       "value (only \\\" and "
						       "\\\\)");
						return -1;
					}
					p++;
				}
				*o++ = *p++;
			}
			p++; /* the closing quote */
			if (*p && !is_blank(*p)) {
				seterr(err, errlen,
				       "text after a closing quote");
				return -1;
			}
		} else {
			while (*p && !is_blank(*p))
				p++;
			o = p;
		}
		if (*p)
			p++;
		*o = '\0';
		if (n < MAX_WORDS)
			w[n] = word;
		n++;
	}
	*nw = n;
	return 0;
}

/* Contract: see config.h.  args is "DEST [PORTS]". */
int cfg_parse_rule(struct cfg_rule *r, enum cfg_action action, const char *args,
		   char *err, size_t errlen)
{
	char buf[LINE_MAX_BYTES + 1];
	char *w[MAX_WORDS];
	size_t len = args ? strlen(args) : 0, nw;

	if (len >= sizeof(buf)) {
		seterr(err, errlen, "rule is longer than %d bytes",
		       LINE_MAX_BYTES);
		return -1;
	}
	memcpy(buf, args ? args : "", len + 1);
	if (split_words(buf, w, &nw, err, errlen) < 0)
		return -1;
	if (nw == 0) {
		seterr(err, errlen, "missing destination");
		return -1;
	}
	if (nw > 2) {
		seterr(err, errlen,
		       "extra word '%." ECHO_MAX "s' (expected DEST [PORTS])",
		       w[2]);
		return -1;
	}
	return rule_from_words(r, action, w[0], nw > 1 ? w[1] : NULL, err,
			       errlen);
}

/* Nonzero if the first bits bits of a and net agree. */
static int prefix_match(const uint8_t *net, const uint8_t *a, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(net, a, full) != 0)
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff00u >> rest);

		return (a[full] & mask) == net[full];
	}
	return 1;
}

/*
 * Contract: see config.h.  Runs on every connect(): no allocation, no
 * string work.  The sockaddr is copied out with memcpy because callers may
 * hand in any byte buffer, aligned or not.
 */
static enum cfg_action match_addr(const struct cfg *c,
				  const struct sockaddr *sa, socklen_t salen,
				  int any_direct, const struct cfg_rule **hit);

enum cfg_action cfg_match(const struct cfg *c, const struct sockaddr *sa,
			  socklen_t salen)
{
	return match_addr(c, sa, salen, 1, NULL);
}

enum cfg_action cfg_match_rule(const struct cfg *c, const struct sockaddr *sa,
			       socklen_t salen, const struct cfg_rule **rule)
{
	return match_addr(c, sa, salen, 1, rule);
}

enum cfg_action cfg_match_local(const struct cfg *c, const struct sockaddr *sa,
				socklen_t salen)
{
	return match_addr(c, sa, salen, 0, NULL);
}

int cfg_bind_port(const struct cfg *c, uint16_t port)
{
	unsigned int i;

	for (i = 0; i < c->nbind_ports; i++)
		if (port >= c->bind_port_lo[i] && port <= c->bind_port_hi[i])
			return 1;
	return 0;
}

static enum cfg_action match_addr(const struct cfg *c,
				  const struct sockaddr *sa, socklen_t salen,
				  int any_direct, const struct cfg_rule **hit)
{
	static const uint8_t loop6[16] = {[15] = 1};
	static const uint8_t any6[16] = {0};
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	uint8_t a4[4], a6[16];
	int has4 = 0, has6 = 0;
	sa_family_t fam;
	uint16_t port;
	size_t i;

	if (hit)
		*hit = NULL;
	if (!sa || salen < (socklen_t)(offsetof(struct sockaddr, sa_family) +
				       sizeof(fam)))
		return CFG_DIRECT;
	memcpy(&fam, (const char *)sa + offsetof(struct sockaddr, sa_family),
	       sizeof(fam));
	if (fam == AF_INET) {
		struct sockaddr_in in;

		if (salen < (socklen_t)sizeof(in))
			return CFG_DIRECT;
		memcpy(&in, sa, sizeof(in));
		memcpy(a4, &in.sin_addr, 4);
		port = ntohs(in.sin_port);
		has4 = 1;
	} else if (fam == AF_INET6) {
		struct sockaddr_in6 in6;

		/* The kernel takes the RFC 2133 size (no scope id), so
		 * must we; anything shorter it rejects. */
		if (salen <
		    (socklen_t)offsetof(struct sockaddr_in6, sin6_scope_id))
			return CFG_DIRECT;
		memset(&in6, 0, sizeof(in6));
		memcpy(&in6, sa,
		       salen < (socklen_t)sizeof(in6) ? (size_t)salen
						      : sizeof(in6));
		memcpy(a6, &in6.sin6_addr, 16);
		port = ntohs(in6.sin6_port);
		has6 = 1;
		if (memcmp(a6, mapped, sizeof(mapped)) == 0) {
			memcpy(a4, a6 + 12, 4);
			has4 = 1;
		}
	} else {
		return CFG_DIRECT;
	}

	if (hit)
		*hit = NULL;
	for (i = 0; i < c->nrules; i++) {
		const struct cfg_rule *r = &c->rules[i];

		if (r->host_kind != CFG_HOST_NONE)
			continue; /* names never match an address */
		if (port < r->port_lo || port > r->port_hi)
			continue;
		if (r->family == AF_UNSPEC ||
		    (r->family == AF_INET && has4 &&
		     prefix_match(r->addr, a4, r->prefix)) ||
		    (r->family == AF_INET6 && has6 &&
		     prefix_match(r->addr, a6, r->prefix))) {
			if (hit)
				*hit = r;
			return r->action;
		}
	}
	/* Loopback, and the unspecified address, which Linux connects to
	 * the local host (0.0.0.0, ::), never leave the machine. */
	if ((has4 && (a4[0] == 127 || (any_direct && !memcmp(a4, any6, 4)))) ||
	    (has6 && (memcmp(a6, loop6, 16) == 0 ||
		      (any_direct && memcmp(a6, any6, 16) == 0))))
		return CFG_DIRECT;
	return CFG_PROXY;
}

/* Contract: see config.h. */
enum cfg_dns cfg_dns_mode(const struct cfg *c)
{
	return c->dns_set ? c->dns : c->proxy.dns;
}

/* Length of name without one trailing dot ("" for NULL). */
static size_t name_len(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n > 0 && name[n - 1] == '.')
		n--;
	return n;
}

/* Nonzero if the n bytes at name end in "." followed by the h-byte
 * lowercase host (a name strictly below it). */
static int is_below(const char *name, size_t n, const char *host, size_t h)
{
	return n > h + 1 && name[n - h - 1] == '.' &&
	       word_eq(name + n - h, h, host);
}

/* Nonzero if the n bytes at name match host rule r (case-insensitive;
 * r->host is stored lowercase). */
static int host_match(const struct cfg_rule *r, const char *name, size_t n)
{
	size_t h = strlen(r->host);

	switch (r->host_kind) {
	case CFG_HOST_EXACT:
		return word_eq(name, n, r->host);
	case CFG_HOST_SUBDOMAINS:
		return is_below(name, n, r->host, h);
	case CFG_HOST_DOMAIN:
		return word_eq(name, n, r->host) ||
		       is_below(name, n, r->host, h);
	case CFG_HOST_NONE:
		break;
	}
	return 0;
}

/*
 * Contract: see config.h.  Port 0 means the port is not known yet (a
 * lookup, not a connect) and matches every rule's ports.  No allocation:
 * this runs on connects to placeholders.
 */
enum cfg_action cfg_match_name(const struct cfg *c, const char *name,
			       uint16_t port)
{
	return cfg_match_name_rule(c, name, port, NULL);
}

enum cfg_action cfg_match_name_rule(const struct cfg *c, const char *name,
				    uint16_t port, const struct cfg_rule **rule)
{
	size_t n = name_len(name), i;

	if (rule)
		*rule = NULL;
	for (i = 0; i < c->nrules; i++) {
		const struct cfg_rule *r = &c->rules[i];

		if (port != 0 && (port < r->port_lo || port > r->port_hi))
			continue;
		if (r->host_kind == CFG_HOST_NONE ? r->family == AF_UNSPEC
						  : host_match(r, name, n)) {
			/* (CIDR rules never match a name; 'all' does.) */
			if (rule)
				*rule = r;
			return r->action;
		}
	}
	return CFG_PROXY;
}

/* Contract: see config.h. */
int cfg_rule_text(const struct cfg_rule *r, char *buf, size_t len)
{
	static const char *const act[] = {"proxy", "direct", "refuse"};
	char dest[300], ports[16];
	const char *a = (unsigned)r->action < 3 ? act[r->action] : "?";

	if (r->host_kind == CFG_HOST_NONE) {
		char net[INET6_ADDRSTRLEN];

		if (r->family == AF_UNSPEC)
			snprintf(dest, sizeof(dest), "all");
		else if (inet_ntop(r->family, r->addr, net, sizeof(net)))
			snprintf(dest, sizeof(dest), "%s/%u", net,
				 (unsigned)r->prefix);
		else
			snprintf(dest, sizeof(dest), "?");
	} else {
		snprintf(dest, sizeof(dest), "%s%s",
			 r->host_kind == CFG_HOST_SUBDOMAINS ? "*."
			 : r->host_kind == CFG_HOST_DOMAIN   ? "."
							     : "",
			 r->host);
	}
	ports[0] = '\0';
	if (r->port_lo == r->port_hi)
		snprintf(ports, sizeof(ports), " %u", (unsigned)r->port_lo);
	else if (!(r->port_lo <= 1 && r->port_hi == 65535))
		snprintf(ports, sizeof(ports), " %u-%u", (unsigned)r->port_lo,
			 (unsigned)r->port_hi);
	return snprintf(buf, len, "route %s %s%s", a, dest, ports);
}

/*
 * Contract: see config.h.  The rules are walked in order as connects to
 * name would see them: a matching rule that is not direct means some port
 * is not direct (or may not be: a port-limited rule shadowed by an earlier
 * one is not worked out, which only errs toward 0); a matching direct rule
 * for every port settles it; one for some ports leaves the others to the
 * rules below, and the default for a name is the proxy.
 */
int cfg_name_always_direct(const struct cfg *c, const char *name)
{
	size_t n = name_len(name), i;

	for (i = 0; i < c->nrules; i++) {
		const struct cfg_rule *r = &c->rules[i];

		if (r->host_kind == CFG_HOST_NONE ? r->family != AF_UNSPEC
						  : !host_match(r, name, n))
			continue;
		if (r->action != CFG_DIRECT)
			return 0;
		if (r->port_lo <= 1 && r->port_hi == 65535)
			return 1;
	}
	return 0;
}

/* Contract: see config.h.  Case-insensitive. */
int cfg_parse_log_level(const char *s, enum cfg_log_level *out)
{
	static const struct {
		const char *name;
		enum cfg_log_level level;
	} levels[] = {
	    {"error", CFG_LOG_ERROR},
	    {"warn", CFG_LOG_WARN},
	    {"info", CFG_LOG_INFO},
	    {"debug", CFG_LOG_DEBUG},
	};
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (str_eq(s, levels[i].name)) {
			*out = levels[i].level;
			return 0;
		}
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Config file                                                         */

/*
 * username and password override the URL whatever the line order, so they
 * are collected here and applied once the whole text is read.  The lines
 * of the dns keys are kept for the checks that need the whole file.
 */
struct parse_state {
	struct cfg *c;
	char user[CFG_MAX_CRED + 1], pass[CFG_MAX_CRED + 1];
	size_t user_len, pass_len;
	size_t user_line, pass_line;		       /* 0: not given */
	size_t dns_line, v4_line, v6_line, names_line; /* 0: not given */
};

/* Parses a timeout in seconds ("2", "2.5", "0.001") into milliseconds. */
static int parse_timeout(const char *s, int *ms, char *err, size_t errlen)
{
	unsigned long whole = 0, frac = 0;
	unsigned digits = 0;
	const char *p = s;

	if (!is_digit(*p))
		goto bad;
	for (; is_digit(*p); p++)
		if (whole <= TIMEOUT_MAX_MS / 1000) /* stops before overflow */
			whole = whole * 10 + (unsigned long)(*p - '0');
	if (*p == '.') {
		if (!is_digit(*++p))
			goto bad;
		for (; is_digit(*p); p++, digits++) {
			if (digits < 3)
				frac = frac * 10 + (unsigned long)(*p - '0');
			else if (*p != '0')
				goto precision;
		}
	}
	if (*p)
		goto bad;
	for (; digits < 3; digits++)
		frac *= 10;
	if (whole > TIMEOUT_MAX_MS / 1000 ||
	    whole * 1000 + frac > TIMEOUT_MAX_MS || whole * 1000 + frac < 1) {
		seterr(err, errlen,
		       "timeout '%." ECHO_MAX
		       "s' out of range (0.001..3600 seconds)",
		       s);
		return -1;
	}
	*ms = (int)(whole * 1000 + frac);
	return 0;
bad:
	seterr(err, errlen,
	       "bad timeout '%." ECHO_MAX "s' (expected seconds, e.g. 2.5)", s);
	return -1;
precision:
	seterr(err, errlen,
	       "timeout '%." ECHO_MAX
	       "s' is finer than a millisecond (at most 3 decimals)",
	       s);
	return -1;
}

/* Copies a credential from the file (a word, so no NUL inside). */
static int file_cred(const char *v, const char *what, char *out, size_t *outlen,
		     char *err, size_t errlen)
{
	size_t n = strlen(v);

	if (n == 0 || n > CFG_MAX_CRED) {
		seterr(err, errlen, "%s must be 1..%d bytes (RFC 1929)", what,
		       CFG_MAX_CRED);
		return -1;
	}
	memcpy(out, v, n + 1);
	*outlen = n;
	return 0;
}

/*
 * Parses dns_server's value: an IPv4 address with an optional :PORT, an
 * IPv6 address bare or in brackets ([2001:db8::53]:53; only the bracketed
 * form takes a port), default port 53.  No names: the server is reached
 * through the proxy, and resolving its name would need the very resolver
 * it is to replace.  c is written only on success.  Returns 0 or -1.
 */
static int parse_dns_server(struct cfg *c, const char *v, char *err,
			    size_t errlen)
{
	char buf[INET6_ADDRSTRLEN];
	const char *host = v, *hend, *port = NULL;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	unsigned long pnum = 53;
	int bracket = v[0] == '[';
	size_t n;

	if (bracket) {
		host = v + 1;
		hend = strchr(host, ']');
		if (!hend) {
			seterr(err, errlen,
			       "missing ']' after IPv6 address in '%." ECHO_MAX
			       "s'",
			       v);
			return -1;
		}
		if (hend[1] != '\0') {
			if (hend[1] != ':') {
				seterr(
				    err, errlen,
				    "unexpected text after ']' in '%." ECHO_MAX
				    "s' (expected :PORT)",
				    v);
				return -1;
			}
			port = hend + 2;
		}
	} else {
		const char *colon = strchr(v, ':');

		/* One ':' separates a port; more make a bare IPv6 address. */
		if (colon && !strchr(colon + 1, ':')) {
			hend = colon;
			port = colon + 1;
		} else {
			hend = v + strlen(v);
		}
	}
	n = (size_t)(hend - host);
	if (n < sizeof(buf)) {
		memcpy(buf, host, n);
		buf[n] = '\0';
	}
	memset(&in, 0, sizeof(in));
	memset(&in6, 0, sizeof(in6));
	if (n < sizeof(buf) && !bracket &&
	    inet_pton(AF_INET, buf, &in.sin_addr) == 1) {
		in.sin_family = AF_INET;
	} else if (n < sizeof(buf) &&
		   inet_pton(AF_INET6, buf, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
	} else if (bracket) {
		seterr(err, errlen,
		       "'%." ECHO_MAX
		       "s' is not an IPv6 address (brackets are only for IPv6)",
		       v);
		return -1;
	} else {
		seterr(err, errlen,
		       "dns_server '%." ECHO_MAX
		       "s' is not an IP address (it is reached through the "
		       "proxy, so give its address, not a name)",
		       v);
		return -1;
	}
	if (port && parse_ulong(port, strlen(port), 1, 65535, &pnum)) {
		seterr(err, errlen,
		       "bad port in dns_server '%." ECHO_MAX
		       "s' (expected 1..65535)",
		       v);
		return -1;
	}
	memset(&c->dns_server, 0, sizeof(c->dns_server));
	if (in.sin_family == AF_INET) {
		in.sin_port = htons((uint16_t)pnum);
		memcpy(&c->dns_server, &in, sizeof(in));
		c->dns_server_len = (socklen_t)sizeof(in);
	} else {
		in6.sin6_port = htons((uint16_t)pnum);
		memcpy(&c->dns_server, &in6, sizeof(in6));
		c->dns_server_len = (socklen_t)sizeof(in6);
	}
	return 0;
}

static const struct key_desc {
	const char *name;
	enum cfg_key id;
	unsigned min_args, max_args;
	const char *usage; /* for a wrong number of values */
} keys[] = {
    {"proxy", CFG_KEY_PROXY, 1, 1, "proxy URL"},
    {"username", CFG_KEY_USERNAME, 1, 1,
     "username NAME (quote a name with blanks)"},
    {"password", CFG_KEY_PASSWORD, 1, 1,
     "password SECRET (quote a secret with blanks)"},
    {"dns", CFG_KEY_DNS, 1, 1, "dns remote|local|tunnel"},
    {"timeout", CFG_KEY_TIMEOUT, 1, 1, "timeout SECONDS"},
    {"log_level", CFG_KEY_LOG_LEVEL, 1, 1, "log_level error|warn|info|debug"},
    {"log_file", CFG_KEY_LOG_FILE, 1, 1,
     "log_file PATH (quote a path with blanks)"},
    {"route", CFG_KEY_ROUTE, 2, 3, "route direct|proxy|refuse DEST [PORTS]"},
    {"dns_v4_range", CFG_KEY_DNS_V4_RANGE, 1, 1, "dns_v4_range CIDR"},
    {"dns_v6_range", CFG_KEY_DNS_V6_RANGE, 1, 1, "dns_v6_range CIDR"},
    {"dns_names", CFG_KEY_DNS_NAMES, 1, 1, "dns_names N"},
    {"dns_server", CFG_KEY_DNS_SERVER, 1, 1, "dns_server ADDRESS[:PORT]"},
    {"direct_protocols", CFG_KEY_DIRECT_PROTOCOLS, 1, 6,
     "direct_protocols udplite|sctp|dccp|icmp|raw|all|none ..."},
    {"async_connect", CFG_KEY_ASYNC_CONNECT, 1, 1, "async_connect yes|no"},
    {"pipeline", CFG_KEY_PIPELINE, 1, 1, "pipeline yes|no"},
    {"bind", CFG_KEY_BIND, 1, 1, "bind auto|always|never"},
    {"bind_ports", CFG_KEY_BIND_PORTS, 1, 1, "bind_ports PORT[-PORT]"},
    {"bind_timeout", CFG_KEY_BIND_TIMEOUT, 1, 1, "bind_timeout SECONDS"},
};

const char *cfg_key_name(enum cfg_key k)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].id == k)
			return keys[i].name;
	return "?";
}

int cfg_parse_bind(const char *s, enum cfg_bind *out)
{
	if (str_eq(s, "auto"))
		*out = CFG_BIND_AUTO;
	else if (str_eq(s, "always"))
		*out = CFG_BIND_ALWAYS;
	else if (str_eq(s, "never"))
		*out = CFG_BIND_NEVER;
	else
		return -1;
	return 0;
}

/* One bind_ports line: a range appended to c's. */
static int parse_bind_ports(struct cfg *c, const char *v, char *err,
			    size_t errlen)
{
	struct cfg_rule r;

	if (c->nbind_ports >= CFG_MAX_BIND_PORTS) {
		seterr(err, errlen, "too many bind_ports lines (at most %d)",
		       CFG_MAX_BIND_PORTS);
		return -1;
	}
	if (parse_ports(&r, v, err, errlen) < 0)
		return -1;
	c->bind_port_lo[c->nbind_ports] = r.port_lo;
	c->bind_port_hi[c->nbind_ports] = r.port_hi;
	c->nbind_ports++;
	return 0;
}

/* Parses yes/no (also on/off, true/false, 1/0).  Returns 0 or -1. */
int cfg_parse_bool(const char *s, int *out)
{
	if (str_eq(s, "yes") || str_eq(s, "on") || str_eq(s, "true") ||
	    str_eq(s, "1")) {
		*out = 1;
		return 0;
	}
	if (str_eq(s, "no") || str_eq(s, "off") || str_eq(s, "false") ||
	    str_eq(s, "0")) {
		*out = 0;
		return 0;
	}
	return -1;
}

static int parse_bool(const char *key, const char *s, int *out, char *err,
		      size_t errlen)
{
	if (cfg_parse_bool(s, out) == 0)
		return 0;
	seterr(err, errlen,
	       "bad %s value '%." ECHO_MAX "s' (expected yes or no)", key, s);
	return -1;
}

/* Parses the values of direct_protocols into a CFG_PROTO_* mask.  "none"
 * alone clears it.  Returns 0 or -1. */
static int parse_protos(char **v, size_t n, unsigned int *out, char *err,
			size_t errlen)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} protos[] = {
	    {"udplite", CFG_PROTO_UDPLITE}, {"sctp", CFG_PROTO_SCTP},
	    {"dccp", CFG_PROTO_DCCP},	    {"icmp", CFG_PROTO_ICMP},
	    {"raw", CFG_PROTO_RAW},	    {"all", CFG_PROTO_ALL},
	};
	unsigned int mask = 0;
	size_t i, j;

	if (n == 1 && str_eq(v[0], "none")) {
		*out = 0;
		return 0;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof(protos) / sizeof(protos[0]); j++)
			if (str_eq(v[i], protos[j].name))
				break;
		if (j == sizeof(protos) / sizeof(protos[0])) {
			seterr(err, errlen,
			       "unknown protocol '%." ECHO_MAX
			       "s' (expected udplite, sctp, dccp, icmp, raw, "
			       "all, or none alone)",
			       v[i]);
			return -1;
		}
		mask |= protos[j].bit;
	}
	*out = mask;
	return 0;
}

/* Applies one directive (already split into words).  Returns 0 or -1
 * with a reason (no FILE:LINE prefix). */
static int apply_line(struct parse_state *st, char **w, size_t nw, size_t line,
		      char *err, size_t errlen)
{
	struct cfg *c = st->c;
	const struct key_desc *k = NULL;
	const char *v = nw > 1 ? w[1] : NULL;
	struct cfg_rule r;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (str_eq(w[0], keys[i].name))
			k = &keys[i];
	if (!k) {
		seterr(err, errlen, "unknown key '%." ECHO_MAX "s'", w[0]);
		return -1;
	}
	if (nw - 1 < k->min_args) {
		seterr(err, errlen, "missing value (expected: %s)", k->usage);
		return -1;
	}
	if (nw - 1 > k->max_args) {
		/* Don't name the extra word: on a password line it is
		 * likely half of an unquoted secret. */
		seterr(err, errlen, "too many values (expected: %s)", k->usage);
		return -1;
	}

	c->key_line[k->id] = (uint32_t)line;
	switch (k->id) {
	case CFG_KEY_PROXY: {
		char why[REASON_MAX - 32];

		if (cfg_parse_url(&c->proxy, v, why, sizeof(why)) < 0) {
			seterr(err, errlen, "bad proxy URL: %s", why);
			return -1;
		}
		return 0;
	}
	case CFG_KEY_USERNAME:
		st->user_line = line;
		return file_cred(v, "username", st->user, &st->user_len, err,
				 errlen);
	case CFG_KEY_PASSWORD:
		st->pass_line = line;
		return file_cred(v, "password", st->pass, &st->pass_len, err,
				 errlen);
	case CFG_KEY_DNS:
		if (str_eq(v, "remote"))
			c->dns = CFG_DNS_REMOTE;
		else if (str_eq(v, "local"))
			c->dns = CFG_DNS_LOCAL;
		else if (str_eq(v, "tunnel"))
			c->dns = CFG_DNS_TUNNEL;
		else {
			seterr(err, errlen,
			       "bad dns '%." ECHO_MAX
			       "s' (expected remote, local or tunnel)",
			       v);
			return -1;
		}
		c->dns_set = 1;
		st->dns_line = line;
		return 0;
	case CFG_KEY_DNS_V4_RANGE:
		st->v4_line = line;
		return parse_range(v, AF_INET, c->dns_v4, &c->dns_v4_prefix,
				   err, errlen);
	case CFG_KEY_DNS_V6_RANGE:
		st->v6_line = line;
		return parse_range(v, AF_INET6, c->dns_v6, &c->dns_v6_prefix,
				   err, errlen);
	case CFG_KEY_DNS_NAMES: {
		unsigned long n;
		int rc = parse_ulong(v, strlen(v), 256, 16777216, &n);

		if (rc) {
			seterr(err, errlen,
			       rc == 2 ? "dns_names '%." ECHO_MAX
					 "s' out of range (256..16777216)"
				       : "bad dns_names '%." ECHO_MAX
					 "s' (expected a number, "
					 "256..16777216)",
			       v);
			return -1;
		}
		c->dns_names = (uint32_t)n;
		st->names_line = line;
		return 0;
	}
	case CFG_KEY_DNS_SERVER:
		return parse_dns_server(c, v, err, errlen);
	case CFG_KEY_DIRECT_PROTOCOLS:
		return parse_protos(w + 1, nw - 1, &c->direct_protos, err,
				    errlen);
	case CFG_KEY_TIMEOUT:
		return parse_timeout(v, &c->timeout_ms, err, errlen);
	case CFG_KEY_ASYNC_CONNECT:
		return parse_bool("async_connect", v, &c->async_connect, err,
				  errlen);
	case CFG_KEY_PIPELINE:
		return parse_bool("pipeline", v, &c->pipeline, err, errlen);
	case CFG_KEY_BIND:
		if (cfg_parse_bind(v, &c->bind) < 0) {
			seterr(err, errlen,
			       "bad bind '%." ECHO_MAX
			       "s' (expected auto, always or never)",
			       v);
			return -1;
		}
		return 0;
	case CFG_KEY_BIND_PORTS:
		return parse_bind_ports(c, v, err, errlen);
	case CFG_KEY_BIND_TIMEOUT:
		return parse_timeout(v, &c->bind_timeout_ms, err, errlen);
	case CFG_KEY_LOG_LEVEL:
		if (cfg_parse_log_level(v, &c->log_level) < 0) {
			seterr(err, errlen,
			       "bad log_level '%." ECHO_MAX
			       "s' (expected error, warn, info or debug)",
			       v);
			return -1;
		}
		c->log_level_set = 1;
		return 0;
	case CFG_KEY_LOG_FILE:
		if (v[0] != '/') {
			seterr(err, errlen,
			       "log_file must be an absolute path");
			return -1;
		}
		if (strlen(v) >= sizeof(c->log_file)) {
			seterr(err, errlen, "log_file path is too long");
			return -1;
		}
		strcpy(c->log_file, v);
		return 0;
	case CFG_KEY_ROUTE: {
		enum cfg_action a;

		if (str_eq(v, "direct"))
			a = CFG_DIRECT;
		else if (str_eq(v, "proxy"))
			a = CFG_PROXY;
		else if (str_eq(v, "refuse"))
			a = CFG_REFUSE;
		else {
			seterr(err, errlen,
			       "unknown route action '%." ECHO_MAX
			       "s' (expected direct, proxy or refuse)",
			       v);
			return -1;
		}
		if (rule_from_words(&r, a, w[2], nw > 3 ? w[3] : NULL, err,
				    errlen) < 0)
			return -1;
		r.line = (uint32_t)line;
		if (cfg_add_rule(c, &r) < 0) {
			seterr(err, errlen, "out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	case CFG_NKEYS:
		break;
	}
	seterr(err, errlen, "internal error: unhandled key");
	return -1;
}

/*
 * Checks that a placeholder range holds at least 2 * dns_names + 1
 * addresses (the table's rule, see names.h: room for two epochs, so that a
 * reused slot's new name never takes over an old placeholder at once).  The
 * error goes on the later of the range's and dns_names's lines given in this
 * text.  Returns 0 or -1 with *line set.
 */
static int range_check(const struct cfg *c, int family, size_t range_line,
		       size_t names_line, size_t *line, char *err,
		       size_t errlen)
{
	unsigned prefix =
	    family == AF_INET ? c->dns_v4_prefix : c->dns_v6_prefix;
	unsigned hostbits = (family == AF_INET ? 32 : 128) - prefix;
	uint64_t need = 2 * (uint64_t)c->dns_names + 1;
	char net[INET6_ADDRSTRLEN];

	if (hostbits >= 32 || ((uint64_t)1 << hostbits) >= need)
		return 0;
	if (!inet_ntop(family, family == AF_INET ? c->dns_v4 : c->dns_v6, net,
		       sizeof(net)))
		net[0] = '\0';
	*line = range_line > names_line ? range_line : names_line;
	seterr(err, errlen,
	       "dns_v%c_range %s/%u holds %llu addresses, too few for "
	       "dns_names %lu (it needs at least %llu)",
	       family == AF_INET ? '4' : '6', net, prefix,
	       (unsigned long long)((uint64_t)1 << hostbits),
	       (unsigned long)c->dns_names, (unsigned long long)need);
	return -1;
}

/* Folds the collected overrides into the proxy, checks that user and
 * password come as a pair, that the placeholder ranges are large enough
 * and that `dns tunnel` has its server.  Returns 0 or -1 with *line set. */
static int finish(struct parse_state *st, size_t *line, char *err,
		  size_t errlen)
{
	struct cfg_proxy *p = &st->c->proxy;

	if (st->user_line) {
		memset(p->user, 0, sizeof(p->user));
		memcpy(p->user, st->user, st->user_len);
		p->user_len = st->user_len;
	}
	if (st->pass_line) {
		memset(p->pass, 0, sizeof(p->pass));
		memcpy(p->pass, st->pass, st->pass_len);
		p->pass_len = st->pass_len;
	}
	if (p->user_len && !p->pass_len) {
		*line = st->user_line;
		seterr(err, errlen,
		       "username without a password (RFC 1929 needs both)");
		return -1;
	}
	if (p->pass_len && !p->user_len) {
		*line = st->pass_line;
		seterr(err, errlen,
		       "password without a username (RFC 1929 needs both)");
		return -1;
	}
	if (range_check(st->c, AF_INET, st->v4_line, st->names_line, line, err,
			errlen) < 0 ||
	    range_check(st->c, AF_INET6, st->v6_line, st->names_line, line, err,
			errlen) < 0)
		return -1;
	if (st->c->dns_set && st->c->dns == CFG_DNS_TUNNEL &&
	    st->c->dns_server_len == 0) {
		*line = st->dns_line;
		seterr(err, errlen, "dns tunnel needs dns_server");
		return -1;
	}
	return 0;
}

/*
 * Contract: see config.h.  All or nothing: on failure c is as it was
 * before the call (the rules array may have moved, but holds the old
 * rules only).  Copies of secrets on the stack are wiped before return.
 */
int cfg_parse_text(struct cfg *c, const char *text, size_t len,
		   const char *fname, char *err, size_t errlen)
{
	struct parse_state st;
	struct cfg saved = *c;
	char buf[LINE_MAX_BYTES + 1];
	char why[REASON_MAX];
	size_t pos = 0, line = 0;
	int rc = 0;

	memset(&st, 0, sizeof(st));
	st.c = c;
	if (!fname)
		fname = "(config)";
	if (!text)
		len = 0;

	while (pos < len) {
		const char *s = text + pos, *nl;
		size_t n, adv;
		char *w[MAX_WORDS], *p;
		size_t nw;

		line++;
		nl = memchr(s, '\n', len - pos);
		n = nl ? (size_t)(nl - s) : len - pos;
		adv = nl ? n + 1 : n;
		if (memchr(s, '\0', n)) {
			seterr(why, sizeof(why), "NUL byte in the text");
			rc = -1;
			break;
		}
		if (n > 0 && s[n - 1] == '\r') /* CRLF */
			n--;
		if (n > LINE_MAX_BYTES) {
			seterr(why, sizeof(why), "line is longer than %d bytes",
			       LINE_MAX_BYTES);
			rc = -1;
			break;
		}
		pos += adv;
		memcpy(buf, s, n);
		buf[n] = '\0';
		for (p = buf; is_blank(*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (split_words(p, w, &nw, why, sizeof(why)) < 0) {
			rc = -1;
			break;
		}
		rc = apply_line(&st, w, nw, line, why, sizeof(why));
		if (rc < 0) {
			rc = rc == -ENOMEM ? -ENOMEM : -1;
			break;
		}
	}
	if (rc == 0 && finish(&st, &line, why, sizeof(why)) < 0)
		rc = -1;

	if (rc < 0) {
		seterr(err, errlen, "%s:%zu: %s", fname, line, why);
		/* Keep the (possibly moved) array, drop the new rules. */
		saved.rules = c->rules;
		saved.rules_cap = c->rules_cap;
		*c = saved;
	}
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(&st, sizeof(st));
	explicit_bzero(&saved, sizeof(saved));
	return rc;
}
