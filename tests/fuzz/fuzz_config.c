/*
 * fuzz_config.c - libFuzzer target for the configuration core (config.c).
 *
 * The whole input is, in turn, a config file, a proxy URL and a rule's
 * arguments.  Besides "no sanitizer report", the target checks what
 * config.h and socks.conf.example promise:
 *   - cfg_parse_text reads only the len bytes it is given (an exact-size
 *     heap copy without a terminator); on failure err holds a
 *     NUL-terminated "FNAME:LINE: reason" with no byte below 0x20 (words
 *     quoted from the input carry their control bytes as \xNN), and
 *     nothing is written past errlen however small it is;
 *   - all or nothing: parsed into a configuration that already holds a
 *     base file (a proxy with credentials, rules of every kind, every other
 *     key), a failing input leaves every field and every rule exactly as
 *     they were, even when the rules array had to grow on the way; the
 *     same holds for a freshly cfg_init'ed one;
 *   - a successful parse keeps the base rules in front and leaves every
 *     value in its documented range;
 *   - the matchers answer valid actions, ignore the case of a name and one
 *     trailing dot, send other families and short sockaddrs direct, and a
 *     v4-mapped address fares as its IPv4 address when no IPv6 rule could
 *     claim it; cfg_dns_mode says what its contract says;
 *   - cfg_parse_url leaves the proxy untouched on failure, with a message
 *     as printable as cfg_parse_text's; on success the host is
 *     NUL-terminated and non-empty, the port nonzero and the credentials
 *     at most CFG_MAX_CRED bytes; and its messages never depend on the
 *     user info: the same URL with the letters and digits of the user info
 *     shifted (each within its class: hex digits stay hex digits) gets the
 *     same result and the same message, and the password text never shows
 *     up in one;
 *   - cfg_parse_rule gives the same answer for every action, a rule within
 *     bounds (ports ordered, prefix within the family, no host bits, host
 *     patterns lowercase), and the same rule as a "route" line in a file.
 * The first input byte picks the size of the small error buffer.
 * Run by tests/fuzz/run.sh; seeds in tests/fuzz/seeds/config/.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#define FNAME	   "fuzz.conf"
#define ERR_LEN	   1024
#define SMALL_ROOM 64 /* the small error buffer, canary included */

/* Every key, credentials in the URL, and exactly eight rules of every kind:
 * the rules array is then full, so the first rule of the input moves it. */
static const char base_text[] =
    "proxy socks5h://alice:s3cr%40t@proxy.example:1080\n"
    "dns remote\n"
    "dns_server [2001:db8::53]:5353\n"
    "timeout 2.5\n"
    "log_level info\n"
    "log_file /tmp/socksify-fuzz.log\n"
    "dns_v4_range 127.192.0.0/10\n"
    "dns_v6_range 100::/64\n"
    "dns_names 4096\n"
    "route direct 192.168.0.0/16\n"
    "route direct fd00::/8\n"
    "route direct .lan\n"
    "route refuse all 25\n"
    "route proxy 10.0.0.0/8 80-443\n"
    "route refuse *.ads.example\n"
    "route direct host.example 22\n"
    "route proxy all\n";
#define BASE_RULES 8

static int valid_action(int a)
{
	return a == CFG_PROXY || a == CFG_DIRECT || a == CFG_REFUSE;
}

/* strnlen within a fixed array: the string must end inside it. */
static size_t bounded_len(const char *s, size_t room)
{
	const char *nul = memchr(s, '\0', room);

	CHECK(nul != NULL);
	return (size_t)(nul - s);
}

/* Nonzero if no bit of the n-byte addr is set beyond the first bits. */
static int no_host_bits(const uint8_t *addr, unsigned n, unsigned bits)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		unsigned keep = bits >= (i + 1) * 8 ? 8
				: bits > i * 8	    ? bits - i * 8
						    : 0;
		uint8_t mask = (uint8_t)(0xff00u >> keep);

		if (addr[i] & (uint8_t)~mask)
			return 0;
	}
	return 1;
}

/* A rule as the parsers may produce it. */
static void check_rule(const struct cfg_rule *r)
{
	size_t n, i;

	CHECK(valid_action(r->action));
	CHECK(r->port_lo <= r->port_hi);
	n = bounded_len(r->host, sizeof(r->host));
	switch (r->host_kind) {
	case CFG_HOST_NONE:
		CHECK(n == 0);
		if (r->family == AF_INET) {
			CHECK(r->prefix <= 32);
			CHECK(no_host_bits(r->addr, 16, r->prefix));
		} else if (r->family == AF_INET6) {
			CHECK(r->prefix <= 128);
			CHECK(no_host_bits(r->addr, 16, r->prefix));
		} else {
			CHECK(r->family == AF_UNSPEC);
			CHECK(r->prefix == 0);
			CHECK(no_host_bits(r->addr, 16, 0));
		}
		break;
	case CFG_HOST_EXACT:
	case CFG_HOST_SUBDOMAINS:
	case CFG_HOST_DOMAIN:
		CHECK(r->family == AF_UNSPEC);
		CHECK(n >= 1 && n <= 253);
		CHECK(r->host[0] != '.' && r->host[n - 1] != '.');
		for (i = 0; i < n; i++) {
			char ch = r->host[i];

			CHECK((ch >= 'a' && ch <= 'z') ||
			      (ch >= '0' && ch <= '9') || ch == '-' ||
			      ch == '_' || ch == '.');
		}
		break;
	default:
		CHECK(!"bad host_kind");
	}
}

/* A proxy as cfg_parse_url or a config file may leave it. */
static void check_proxy(const struct cfg_proxy *p)
{
	CHECK(bounded_len(p->host, sizeof(p->host)) >= 1);
	CHECK(p->port != 0);
	CHECK(p->set);
	CHECK(p->dns == CFG_DNS_LOCAL || p->dns == CFG_DNS_REMOTE);
	CHECK(p->user_len <= CFG_MAX_CRED && p->pass_len <= CFG_MAX_CRED);
	CHECK(p->user[p->user_len] == '\0' && p->pass[p->pass_len] == '\0');
}

/* Every field of a configuration cfg_parse_text accepted, or of one it
 * left alone. */
static void check_cfg(const struct cfg *c)
{
	unsigned h4 = 32u - c->dns_v4_prefix, h6 = 128u - c->dns_v6_prefix;
	uint64_t need = 2 * (uint64_t)c->dns_names + 1;
	size_t i, n;

	/* username/password lines fill in the credentials even when no proxy
	 * is given, but always as a pair. */
	if (c->proxy.set)
		check_proxy(&c->proxy);
	CHECK(c->proxy.user_len <= CFG_MAX_CRED &&
	      c->proxy.pass_len <= CFG_MAX_CRED);
	CHECK((c->proxy.user_len == 0) == (c->proxy.pass_len == 0));
	CHECK(c->timeout_ms >= 1 && c->timeout_ms <= 3600000);
	CHECK(c->log_level >= CFG_LOG_ERROR && c->log_level <= CFG_LOG_DEBUG);
	n = bounded_len(c->log_file, sizeof(c->log_file));
	CHECK(n == 0 || c->log_file[0] == '/');
	CHECK(c->dns == CFG_DNS_LOCAL || c->dns == CFG_DNS_REMOTE ||
	      c->dns == CFG_DNS_TUNNEL);
	if (c->dns_set && c->dns == CFG_DNS_TUNNEL)
		CHECK(c->dns_server_len != 0);
	CHECK(c->dns_v4_prefix >= 1 && c->dns_v4_prefix <= 30);
	CHECK(c->dns_v6_prefix >= 1 && c->dns_v6_prefix <= 120);
	CHECK(no_host_bits(c->dns_v4, 4, c->dns_v4_prefix));
	CHECK(no_host_bits(c->dns_v6, 16, c->dns_v6_prefix));
	CHECK(c->dns_names >= 256 && c->dns_names <= 16777216);
	CHECK(h4 >= 32 || ((uint64_t)1 << h4) >= need);
	CHECK(h6 >= 32 || ((uint64_t)1 << h6) >= need);
	if (c->dns_server_len == sizeof(struct sockaddr_in)) {
		struct sockaddr_in in;

		memcpy(&in, &c->dns_server, sizeof(in));
		CHECK(in.sin_family == AF_INET && in.sin_port != 0);
	} else if (c->dns_server_len == sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 in6;

		memcpy(&in6, &c->dns_server, sizeof(in6));
		CHECK(in6.sin6_family == AF_INET6 && in6.sin6_port != 0);
	} else {
		CHECK(c->dns_server_len == 0);
	}
	CHECK(c->nrules <= c->rules_cap);
	for (i = 0; i < c->nrules; i++)
		check_rule(&c->rules[i]);
}

/* A deep copy: the struct's bytes and the rules it holds. */
struct snapshot {
	struct cfg c;
	struct cfg_rule *rules;
};

static void snap_take(struct snapshot *s, const struct cfg *c)
{
	memcpy(&s->c, c, sizeof(*c));
	s->rules = malloc(c->nrules * sizeof(*c->rules) + 1);
	CHECK(s->rules != NULL);
	if (c->nrules)
		memcpy(s->rules, c->rules, c->nrules * sizeof(*c->rules));
}

/* c is byte for byte the snapshot, but for where its rules array lives and
 * how big it is (a failed parse may have moved or grown it). */
static void snap_check(const struct snapshot *s, const struct cfg *c)
{
	struct cfg now;

	memcpy(&now, c, sizeof(now));
	now.rules = s->c.rules;
	now.rules_cap = s->c.rules_cap;
	CHECK(!memcmp(&now, &s->c, sizeof(now)));
	CHECK(c->nrules <= c->rules_cap);
	if (c->nrules)
		CHECK(
		    !memcmp(c->rules, s->rules, c->nrules * sizeof(*c->rules)));
}

static void snap_drop(struct snapshot *s)
{
	free(s->rules);
}

/* No control byte in the n-byte message err: what the input quoted is
 * escaped (a newline there would forge a log line). */
static void check_printable(const char *err, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		CHECK((unsigned char)err[i] >= 0x20 &&
		      (unsigned char)err[i] != 0x7f);
}

/* A failed cfg_parse_text's message in a buffer of room bytes. */
static void check_text_err(const char *err, size_t room)
{
	size_t n = bounded_len(err, room);

	CHECK(n > strlen(FNAME));
	CHECK(!memcmp(err, FNAME ":", strlen(FNAME) + 1));
	check_printable(err, n);
}

static void set_v4(struct sockaddr_in *in, const char *addr, uint16_t port)
{
	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	CHECK(inet_pton(AF_INET, addr, &in->sin_addr) == 1);
}

static void set_v6(struct sockaddr_in6 *in6, const char *addr, uint16_t port)
{
	memset(in6, 0, sizeof(*in6));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	CHECK(inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1);
}

static enum cfg_action match(const struct cfg *c, const void *sa, socklen_t len)
{
	enum cfg_action a = cfg_match(c, (const struct sockaddr *)sa, len);

	CHECK(valid_action(a));
	return a;
}

static void check_addresses(const struct cfg *c)
{
	static const char *const v4[] = {"10.1.2.3", "127.0.0.1", "0.0.0.0",
					 "192.168.7.1", "198.51.100.9"};
	static const char *const v6[] = {"2001:db8::1", "::1", "::", "fd00::5",
					 "100::1"};
	static const uint16_t ports[] = {22, 25, 80, 443, 8080};
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	int has_v6_rule = 0;
	size_t i, j;

	for (i = 0; i < c->nrules; i++)
		if (c->rules[i].host_kind == CFG_HOST_NONE &&
		    c->rules[i].family == AF_INET6)
			has_v6_rule = 1;
	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		for (j = 0; j < sizeof(ports) / sizeof(ports[0]); j++) {
			char mapped[64];
			enum cfg_action a;

			set_v4(&in, v4[i], ports[j]);
			a = match(c, &in, sizeof(in));
			CHECK(match(c, &in, sizeof(in) - 1) == CFG_DIRECT);
			snprintf(mapped, sizeof(mapped), "::ffff:%s", v4[i]);
			set_v6(&in6, mapped, ports[j]);
			if (!has_v6_rule)
				CHECK(match(c, &in6, sizeof(in6)) == a);
			else
				(void)match(c, &in6, sizeof(in6));
		}
	}
	for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		for (j = 0; j < sizeof(ports) / sizeof(ports[0]); j++) {
			set_v6(&in6, v6[i], ports[j]);
			(void)match(c, &in6, sizeof(in6));
			/* The RFC 2133 size, without sin6_scope_id. */
			(void)match(c, &in6, 24);
			CHECK(match(c, &in6, 23) == CFG_DIRECT);
		}
	}
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	CHECK(match(c, &un, sizeof(un)) == CFG_DIRECT);
	CHECK(match(c, NULL, 0) == CFG_DIRECT);
	CHECK(match(c, &in, 1) == CFG_DIRECT);
}

/* One name, as given, upper-cased and with a trailing dot: host rules
 * ignore case and one trailing dot, 'all' rules the name altogether. */
static void check_name(const struct cfg *c, const char *name)
{
	static const uint16_t ports[] = {0, 22, 25, 80, 443};
	char upper[300], dotted[300];
	size_t i, n = strlen(name);
	int direct;

	CHECK(n + 2 <= sizeof(upper));
	for (i = 0; i <= n; i++)
		upper[i] = (name[i] >= 'a' && name[i] <= 'z')
			       ? (char)(name[i] - 'a' + 'A')
			       : name[i];
	memcpy(dotted, name, n);
	dotted[n] = '.';
	dotted[n + 1] = '\0';

	direct = cfg_name_always_direct(c, name);
	CHECK(direct == 0 || direct == 1);
	CHECK(cfg_name_always_direct(c, upper) == direct);
	if (n > 0 && name[n - 1] != '.')
		CHECK(cfg_name_always_direct(c, dotted) == direct);
	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		enum cfg_action a = cfg_match_name(c, name, ports[i]);

		CHECK(valid_action(a));
		CHECK(cfg_match_name(c, upper, ports[i]) == a);
		if (n > 0 && name[n - 1] != '.')
			CHECK(cfg_match_name(c, dotted, ports[i]) == a);
	}
}

static void check_names(const struct cfg *c)
{
	static const char *const names[] = {
	    "host.example", "a.b.corp.example", "x.lan",	 "lan",
	    "ads.example",  "x.ads.example",	"Host.Example.", "",
	    "localhost",    "10.1.2.3",		"a..b",
	};
	char name[300];
	size_t i, seen = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_name(c, names[i]);
	/* The input's own host rules, and a name below each. */
	for (i = c->nrules; i-- > 0 && seen < 4;) {
		const struct cfg_rule *r = &c->rules[i];

		if (r->host_kind == CFG_HOST_NONE)
			continue;
		seen++;
		check_name(c, r->host);
		snprintf(name, sizeof(name), "sub.%s", r->host);
		check_name(c, name);
	}
	CHECK(cfg_dns_mode(c) == (c->dns_set ? c->dns : c->proxy.dns));
}

/* The base file, then the input, parsed into the same configuration. */
static void fuzz_text_over_base(const char *text, size_t len)
{
	struct cfg c;
	struct snapshot snap;
	char err[ERR_LEN];
	int rc;

	cfg_init(&c);
	rc = cfg_parse_text(&c, base_text, strlen(base_text), "base.conf", err,
			    sizeof(err));
	CHECK(rc == 0);
	CHECK(c.nrules == BASE_RULES && c.rules_cap == BASE_RULES);
	check_cfg(&c);
	snap_take(&snap, &c);

	memset(err, 0xAA, sizeof(err));
	rc = cfg_parse_text(&c, text, len, FNAME, err, sizeof(err));
	if (rc != 0) {
		check_text_err(err, sizeof(err));
		snap_check(&snap, &c);
	} else {
		CHECK(c.nrules >= BASE_RULES);
		CHECK(!memcmp(c.rules, snap.rules,
			      BASE_RULES * sizeof(*c.rules)));
		check_cfg(&c);
		check_addresses(&c);
		check_names(&c);
	}
	snap_drop(&snap);
	cfg_free(&c);
}

/* The input into a fresh configuration, with an error buffer of only
 * errlen bytes: nothing is written past it. */
static void fuzz_text_fresh(const char *text, size_t len, size_t errlen)
{
	struct cfg c;
	struct snapshot snap;
	char err[SMALL_ROOM];
	size_t i;
	int rc;

	cfg_init(&c);
	snap_take(&snap, &c);
	memset(err, 0xAA, sizeof(err));
	rc = cfg_parse_text(&c, text, len, FNAME, err, errlen);
	for (i = errlen; i < sizeof(err); i++)
		CHECK((unsigned char)err[i] == 0xAA);
	if (rc != 0) {
		snap_check(&snap, &c);
		if (errlen > 0) {
			size_t n = bounded_len(err, errlen);
			size_t want = strlen(FNAME ":");

			CHECK(!memcmp(err, FNAME ":", n < want ? n : want));
		}
	} else {
		check_cfg(&c);
		if (c.nrules == 0) {
			/* Only the built-in loopback rule is left. */
			struct sockaddr_in in;

			set_v4(&in, "127.3.2.1", 80);
			CHECK(match(&c, &in, sizeof(in)) == CFG_DIRECT);
			set_v4(&in, "192.0.2.1", 80);
			CHECK(match(&c, &in, sizeof(in)) == CFG_PROXY);
		}
	}
	snap_drop(&snap);
	cfg_free(&c);
}

/* Shifts a letter or digit to the next one of its class, where the URL
 * parser cannot tell them apart: decimal digits, hex letters, other letters
 * (per case), and bytes above 0x7f.  Anything else is kept. */
static char shift_char(char ch)
{
	unsigned char u = (unsigned char)ch;

	if (ch >= '0' && ch <= '9')
		return ch == '9' ? '0' : (char)(ch + 1);
	if (ch >= 'a' && ch <= 'f')
		return ch == 'f' ? 'a' : (char)(ch + 1);
	if (ch >= 'A' && ch <= 'F')
		return ch == 'F' ? 'A' : (char)(ch + 1);
	if (ch >= 'g' && ch <= 'z')
		return ch == 'z' ? 'g' : (char)(ch + 1);
	if (ch >= 'G' && ch <= 'Z')
		return ch == 'Z' ? 'G' : (char)(ch + 1);
	if (u >= 0x80)
		return u == 0xff ? (char)0x80 : (char)(u + 1);
	return ch;
}

/*
 * The user info (between "://" and the last '@') must not reach a message.
 * Shifting its letters and digits leaves the parse the same, so the result
 * and the message must be the same too; that catches a leak of any part of
 * it, with no false alarm when the password happens to read like the fixed
 * text of a message ("port") or like the host (which may be echoed).  The
 * literal check, the password's bytes (at least 4) nowhere in the message,
 * is kept for its plainer report, with the same exemption.
 */
static void check_url_secret(const char *url, int rc, const struct cfg_proxy *p,
			     const char *err)
{
	const char *sep = strstr(url, "://"), *auth, *at, *colon;
	struct cfg_proxy p2;
	char err2[ERR_LEN], *url2;
	size_t len = strlen(url), i;
	int rc2;

	if (!sep)
		return;
	auth = sep + 3;
	at = strrchr(auth, '@');
	if (!at)
		return;
	url2 = malloc(len + 1);
	CHECK(url2 != NULL);
	memcpy(url2, url, len + 1);
	for (i = (size_t)(auth - url); i < (size_t)(at - url); i++)
		url2[i] = shift_char(url2[i]);
	memset(&p2, 0, sizeof(p2));
	memset(err2, 0, sizeof(err2));
	rc2 = cfg_parse_url(&p2, url2, err2, sizeof(err2));

	colon = memchr(auth, ':', (size_t)(at - auth));
	if (rc != 0 && colon && at - colon - 1 >= 4) {
		const char *pw = colon + 1;
		size_t pwlen = (size_t)(at - pw);

		if (memmem(err, strlen(err), pw, pwlen))
			CHECK(memmem(err2, strlen(err2), pw, pwlen) != NULL);
	}
	CHECK(rc2 == rc);
	if (rc != 0) {
		CHECK(strcmp(err, err2) == 0);
	} else {
		CHECK(!strcmp(p2.host, p->host) && p2.port == p->port);
		CHECK(p2.dns == p->dns && p2.set == p->set);
		CHECK(p2.user_len == p->user_len && p2.pass_len == p->pass_len);
	}
	free(url2);
}

static void fuzz_url(const char *url)
{
	struct cfg_proxy p, before;
	char err[ERR_LEN];
	int rc;

	memset(&p, 0x5A, sizeof(p));
	memcpy(&before, &p, sizeof(p));
	memset(err, 0, sizeof(err));
	rc = cfg_parse_url(&p, url, err, sizeof(err));
	if (rc != 0) {
		size_t n = bounded_len(err, sizeof(err));

		CHECK(!memcmp(&p, &before, sizeof(p)));
		CHECK(n > 0);
		check_printable(err, n);
	} else {
		check_proxy(&p);
		CHECK((p.user_len == 0) == (p.pass_len == 0));
	}
	check_url_secret(url, rc, &p, err);
}

/* cfg_parse_rule for every action, and the same words on a route line. */
static void fuzz_rule(const char *args)
{
	static const char *const words[] = {"proxy", "direct", "refuse"};
	struct cfg_rule r[3];
	char err[ERR_LEN], *line;
	size_t len = strlen(args), n;
	struct cfg c;
	int rc[3], a, trc;

	for (a = 0; a < 3; a++) {
		memset(&r[a], 0x5A, sizeof(r[a]));
		memset(err, 0xAA, sizeof(err));
		rc[a] = cfg_parse_rule(&r[a], (enum cfg_action)a, args, err,
				       sizeof(err));
		if (rc[a] != 0) {
			(void)bounded_len(err, sizeof(err));
			continue;
		}
		check_rule(&r[a]);
		CHECK(r[a].action == (enum cfg_action)a);
	}
	CHECK(rc[1] == rc[0] && rc[2] == rc[0]);
	if (rc[0] == 0) {
		for (a = 1; a < 3; a++) {
			CHECK(r[a].family == r[0].family);
			CHECK(!memcmp(r[a].addr, r[0].addr, sizeof(r[0].addr)));
			CHECK(r[a].prefix == r[0].prefix);
			CHECK(r[a].port_lo == r[0].port_lo &&
			      r[a].port_hi == r[0].port_hi);
			CHECK(r[a].host_kind == r[0].host_kind);
			CHECK(!strcmp(r[a].host, r[0].host));
		}
	}

	/* A config line is cut at '\n' and at 4095 bytes; stay clear. */
	if (memchr(args, '\n', len) || len > 4000)
		return;
	a = (unsigned char)args[0] % 3;
	n = strlen("route ") + strlen(words[a]) + 1 + len;
	line = malloc(n + 1);
	CHECK(line != NULL);
	snprintf(line, n + 1, "route %s %s", words[a], args);
	cfg_init(&c);
	trc = cfg_parse_text(&c, line, n, FNAME, err, sizeof(err));
	CHECK((trc == 0) == (rc[0] == 0));
	if (trc == 0) {
		const struct cfg_rule *t = &c.rules[0];

		CHECK(c.nrules == 1);
		CHECK(t->action == (enum cfg_action)a);
		CHECK(t->family == r[a].family && t->prefix == r[a].prefix);
		CHECK(!memcmp(t->addr, r[a].addr, sizeof(t->addr)));
		CHECK(t->port_lo == r[a].port_lo && t->port_hi == r[a].port_hi);
		CHECK(t->host_kind == r[a].host_kind);
		CHECK(!strcmp(t->host, r[a].host));
	}
	cfg_free(&c);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *str;

	/* Exact size, no terminator: ASan catches a read past len. */
	text = malloc(size ? size : 1);
	CHECK(text != NULL);
	if (size)
		memcpy(text, data, size);
	fuzz_text_over_base(text, size);
	fuzz_text_fresh(text, size, size ? data[0] % (SMALL_ROOM / 2) : 0);
	free(text);

	str = malloc(size + 1);
	CHECK(str != NULL);
	if (size)
		memcpy(str, data, size);
	str[size] = '\0';
	fuzz_url(str);
	fuzz_rule(str);
	free(str);
	return 0;
}
