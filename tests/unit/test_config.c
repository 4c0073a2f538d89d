/*
 * test_config.c - unit tests for the pure configuration core (config.h).
 *
 * Fixture files live in tests/unit/fixtures and are found relative to the
 * current directory: the test runners start from the repository root.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURES "tests/unit/fixtures/"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* The tail of the message for a DEST that is nothing valid. */
#define BAD_DEST                                                               \
	"(expected an IPv4 or IPv6 address or CIDR, 'all', or a host name or " \
	"pattern: host.example, *.example, .example)"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* Reads a whole file (it may hold NUL bytes) into a malloc'd buffer. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	ck_assert_msg(f != NULL, "cannot open %s (run from the repo root)",
		      path);
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	ck_assert_int_eq(ferror(f), 0);
	fclose(f);
	*len = n;
	return buf;
}

/* Parses a fixture into c (cfg_init'ed here); returns cfg_parse_text's
 * result with its message in err. */
static int parse_fixture(struct cfg *c, const char *name, char *err,
			 size_t errlen)
{
	char path[256];
	size_t len;
	char *text;
	int rc;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	text = slurp(path, &len);
	cfg_init(c);
	err[0] = '\0';
	rc = cfg_parse_text(c, text, len, path, err, errlen);
	free(text);
	return rc;
}

/* Parses a string as config text named "t.conf". */
static int parse_str(struct cfg *c, const char *text, char *err, size_t errlen)
{
	cfg_init(c);
	err[0] = '\0';
	return cfg_parse_text(c, text, strlen(text), "t.conf", err, errlen);
}

static struct sockaddr_storage sa4(const char *addr, uint16_t port,
				   socklen_t *len)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, addr, &in->sin_addr), 1);
	*len = sizeof(*in);
	return ss;
}

static struct sockaddr_storage sa6(const char *addr, uint16_t port,
				   socklen_t *len)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &in6->sin6_addr), 1);
	*len = sizeof(*in6);
	return ss;
}

/* cfg_match for an address literal of either family. */
static enum cfg_action match(const struct cfg *c, const char *addr,
			     uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (strchr(addr, ':'))
		ss = sa6(addr, port, &len);
	else
		ss = sa4(addr, port, &len);
	return cfg_match(c, (struct sockaddr *)&ss, len);
}

/* Builds a config from route lines given as one string. */
static void routes(struct cfg *c, const char *text)
{
	char err[512];

	ck_assert_msg(parse_str(c, text, err, sizeof(err)) == 0, "%s", err);
}

/* ------------------------------------------------------------------ */
/* Defaults and the example file                                       */

START_TEST(test_init_defaults)
{
	struct cfg c;

	cfg_init(&c);
	ck_assert_int_eq(c.proxy.set, 0);
	ck_assert_int_eq(c.timeout_ms, CFG_DEFAULT_TIMEOUT_MS);
	ck_assert_int_eq(c.log_level, CFG_LOG_ERROR);
	ck_assert_int_eq(c.log_level_set, 0);
	ck_assert_str_eq(c.log_file, "");
	ck_assert_uint_eq(c.nrules, 0);
	ck_assert_ptr_null(c.rules);
	cfg_free(&c);
}
END_TEST

START_TEST(test_example_parses)
{
	struct cfg c;
	char err[512];
	size_t len;
	char *text = slurp("socks.conf.example", &len);
	int rc;

	cfg_init(&c);
	rc = cfg_parse_text(&c, text, len, "socks.conf.example", err,
			    sizeof(err));
	free(text);
	ck_assert_msg(rc == 0, "%s", err);
	/* Everything is commented out or at its default. */
	ck_assert_int_eq(c.proxy.set, 0);
	ck_assert_int_eq(c.timeout_ms, CFG_DEFAULT_TIMEOUT_MS);
	ck_assert_int_eq(c.log_level, CFG_LOG_ERROR);
	ck_assert_uint_eq(c.nrules, 0);
	cfg_free(&c);
}
END_TEST

/* Every commented-out directive in the example must parse when enabled:
 * the documentation must not show a line the parser rejects.  They are
 * parsed together since username and password come as a pair. */
START_TEST(test_example_directives_parse)
{
	struct cfg c;
	char err[512];
	size_t len, n = 0, o = 0, i;
	char *text = slurp("socks.conf.example", &len);
	char *out = malloc(len + 1);
	int rc;

	ck_assert_ptr_nonnull(out);
	for (i = 0; i < len; i++) {
		/* "#key value" (no blank after '#') is a directive. */
		int bol = i == 0 || text[i - 1] == '\n';

		if (bol && text[i] == '#' && i + 1 < len &&
		    text[i + 1] != ' ' && text[i + 1] != '\n') {
			n++;
			continue;
		}
		out[o++] = text[i];
	}
	cfg_init(&c);
	rc = cfg_parse_text(&c, out, o, "example", err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(c.proxy.set, 1);
	ck_assert_uint_gt(c.nrules, 0);
	cfg_free(&c);
	free(out);
	free(text);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Config file: accepted keys                                          */

START_TEST(test_full_proxy)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "full.conf", err, sizeof(err)), 0);
	ck_assert_int_eq(c.proxy.set, 1);
	ck_assert_str_eq(c.proxy.host, "127.0.0.1");
	ck_assert_uint_eq(c.proxy.port, 9050);
	cfg_free(&c);
}
END_TEST

START_TEST(test_full_username)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "full.conf", err, sizeof(err)), 0);
	ck_assert_str_eq(c.proxy.user, "alice");
	ck_assert_uint_eq(c.proxy.user_len, 5);
	cfg_free(&c);
}
END_TEST

START_TEST(test_full_quoted_password)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "full.conf", err, sizeof(err)), 0);
	ck_assert_str_eq(c.proxy.pass, "p a\"s\\s");
	ck_assert_uint_eq(c.proxy.pass_len, 7);
	cfg_free(&c);
}
END_TEST

START_TEST(test_full_dns_remote)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "full.conf", err, sizeof(err)), 0);
	/* socks5:// says local; the dns line overrides it. */
	ck_assert_int_eq(cfg_dns_mode(&c), CFG_DNS_REMOTE);
	cfg_free(&c);
}
END_TEST

START_TEST(test_full_dns_key_recorded)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "full.conf", err, sizeof(err)), 0);
	ck_assert_int_eq(c.dns_set, 1);
	ck_assert_int_eq(c.dns, CFG_DNS_REMOTE);
	cfg_free(&c);
}
END_TEST

START_TEST(test_full_dns_key_leaves_scheme)
{
	struct cfg c;
	char err[512];

	/* The key no longer writes the proxy's own (scheme) choice. */
	ck_assert_int_eq(parse_fixture(&c, "full.conf", err, sizeof(err)), 0);
	ck_assert_int_eq(c.proxy.dns, CFG_DNS_LOCAL);
	cfg_free(&c);
}
END_TEST

START_TEST(test_full_timeout_decimal)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "full.conf", err, sizeof(err)), 0);
	ck_assert_int_eq(c.timeout_ms, 2500);
	cfg_free(&c);
}
END_TEST

START_TEST(test_full_log_level)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "full.conf", err, sizeof(err)), 0);
	ck_assert_int_eq(c.log_level, CFG_LOG_DEBUG);
	ck_assert_int_eq(c.log_level_set, 1);
	cfg_free(&c);
}
END_TEST

START_TEST(test_full_log_file_quoted)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "full.conf", err, sizeof(err)), 0);
	ck_assert_str_eq(c.log_file, "/var/log/socks ify.log");
	cfg_free(&c);
}
END_TEST

START_TEST(test_full_routes_in_order)
{
	struct cfg c;
	char err[512];
	uint8_t net10[4] = {10, 0, 0, 0}, db8[4] = {0x20, 0x01, 0x0d, 0xb8};

	ck_assert_int_eq(parse_fixture(&c, "full.conf", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.nrules, 3);
	ck_assert_int_eq(c.rules[0].action, CFG_DIRECT);
	ck_assert_int_eq(c.rules[0].family, AF_INET);
	ck_assert_mem_eq(c.rules[0].addr, net10, 4);
	ck_assert_uint_eq(c.rules[0].prefix, 8);
	ck_assert_uint_eq(c.rules[0].port_lo, 0);
	ck_assert_uint_eq(c.rules[0].port_hi, 65535);
	ck_assert_int_eq(c.rules[1].action, CFG_REFUSE);
	ck_assert_int_eq(c.rules[1].family, AF_UNSPEC);
	ck_assert_uint_eq(c.rules[1].prefix, 0);
	ck_assert_uint_eq(c.rules[1].port_lo, 25);
	ck_assert_uint_eq(c.rules[1].port_hi, 25);
	ck_assert_int_eq(c.rules[2].action, CFG_PROXY);
	ck_assert_int_eq(c.rules[2].family, AF_INET6);
	ck_assert_mem_eq(c.rules[2].addr, db8, 4);
	ck_assert_uint_eq(c.rules[2].prefix, 32);
	ck_assert_uint_eq(c.rules[2].port_lo, 8000);
	ck_assert_uint_eq(c.rules[2].port_hi, 8080);
	cfg_free(&c);
}
END_TEST

START_TEST(test_overrides_beat_url_in_any_order)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "overrides.conf", err, sizeof(err)),
			 0);
	ck_assert_str_eq(c.proxy.user, "bob");
	ck_assert_str_eq(c.proxy.pass, "pw#1"); /* '#' is not a comment */
	ck_assert_uint_eq(c.proxy.pass_len, 4);
	ck_assert_int_eq(cfg_dns_mode(&c), CFG_DNS_LOCAL); /* not socks5h's */
	ck_assert_int_eq(c.proxy.dns, CFG_DNS_REMOTE);	   /* the scheme's */
	ck_assert_str_eq(c.proxy.host, "proxy.example");
	ck_assert_uint_eq(c.proxy.port, 1081);
	cfg_free(&c);
}
END_TEST

START_TEST(test_duplicate_last_wins)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "overrides.conf", err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.timeout_ms, 1);
	cfg_free(&c);
}
END_TEST

START_TEST(test_duplicate_proxy_last_wins)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_str(&c,
				   "proxy socks5://a:b@first\n"
				   "proxy socks5h://second:2\n",
				   err, sizeof(err)),
			 0);
	ck_assert_str_eq(c.proxy.host, "second");
	ck_assert_uint_eq(c.proxy.user_len, 0);
	cfg_free(&c);
}
END_TEST

START_TEST(test_crlf)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "crlf.conf", err, sizeof(err)), 0);
	ck_assert_str_eq(c.proxy.host, "h");
	ck_assert_int_eq(c.timeout_ms, 3000);
	ck_assert_uint_eq(c.rules[0].port_hi, 22);
	cfg_free(&c);
}
END_TEST

START_TEST(test_empty_and_comments)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "empty.conf", err, sizeof(err)), 0);
	ck_assert_int_eq(parse_fixture(&c, "comments.conf", err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.proxy.set, 0);
}
END_TEST

START_TEST(test_longest_line_accepted)
{
	struct cfg c;
	char err[512];

	/* 4095 bytes plus CRLF: the CR does not count. */
	ck_assert_int_eq(parse_fixture(&c, "cr_long_ok.conf", err, sizeof(err)),
			 0);
}
END_TEST

START_TEST(test_text_not_nul_terminated)
{
	struct cfg c;
	char err[512];
	const char text[] = {'t', 'i', 'm', 'e', 'o', 'u', 't', ' ', '7'};

	cfg_init(&c);
	ck_assert_int_eq(
	    cfg_parse_text(&c, text, sizeof(text), "t", err, sizeof(err)), 0);
	ck_assert_int_eq(c.timeout_ms, 7000);
}
END_TEST

START_TEST(test_keys_case_insensitive)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_str(&c, "TimeOut 4\n", err, sizeof(err)), 0);
	ck_assert_int_eq(c.timeout_ms, 4000);
}
END_TEST

START_TEST(test_dns_local_overrides_socks5h)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(
	    parse_str(&c, "dns local\nproxy socks5h://h\n", err, sizeof(err)),
	    0);
	ck_assert_int_eq(cfg_dns_mode(&c), CFG_DNS_LOCAL);
}
END_TEST

START_TEST(test_scheme_dns_without_override)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_str(&c, "proxy socks5h://h\n", err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.proxy.dns, CFG_DNS_REMOTE);
	ck_assert_int_eq(c.dns_set, 0);
}
END_TEST

/* cfg_dns_mode: the dns key, in either order, else the scheme. */
static const struct {
	const char *text;
	enum cfg_dns mode;
} dns_modes[] = {
    {"", CFG_DNS_LOCAL},
    {"proxy socks5://h\n", CFG_DNS_LOCAL},
    {"proxy socks5h://h\n", CFG_DNS_REMOTE},
    {"dns remote\n", CFG_DNS_REMOTE},
    {"dns local\nproxy socks5h://h\n", CFG_DNS_LOCAL},
    {"proxy socks5h://h\ndns local\n", CFG_DNS_LOCAL},
    {"dns remote\nproxy socks5://h\n", CFG_DNS_REMOTE},
    {"proxy socks5://h\ndns remote\n", CFG_DNS_REMOTE},
    {"dns tunnel\nproxy socks5://h\ndns_server 192.0.2.53\n", CFG_DNS_TUNNEL},
    {"proxy socks5h://h\ndns_server 192.0.2.53\ndns TUNNEL\n", CFG_DNS_TUNNEL},
    {"dns tunnel\ndns remote\n", CFG_DNS_REMOTE}, /* last wins */
    {"dns_server ::1\nproxy socks5h://h\n", CFG_DNS_REMOTE},
};

START_TEST(test_dns_mode)
{
	struct cfg c;
	char err[512];

	ck_assert_msg(parse_str(&c, dns_modes[_i].text, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(cfg_dns_mode(&c), dns_modes[_i].mode);
}
END_TEST

START_TEST(test_dns_mode_follows_later_proxy)
{
	struct cfg c;

	/* Without the key the mode is the proxy's, whatever sets it later
	 * (SOCKSIFY_PROXY or socksify -x replace c.proxy). */
	cfg_init(&c);
	c.proxy.dns = CFG_DNS_REMOTE;
	ck_assert_int_eq(cfg_dns_mode(&c), CFG_DNS_REMOTE);
}
END_TEST

START_TEST(test_dns_key_beats_later_proxy)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_str(&c, "dns local\n", err, sizeof(err)), 0);
	c.proxy.dns = CFG_DNS_REMOTE;
	ck_assert_int_eq(cfg_dns_mode(&c), CFG_DNS_LOCAL);
}
END_TEST

/* Timeouts that parse, with their value in milliseconds. */
static const struct {
	const char *text;
	int ms;
} good_timeouts[] = {
    {"timeout 0.001\n", 1},	     {"timeout 3600\n", 3600000},
    {"timeout 3600.000\n", 3600000}, {"timeout 1.5\n", 1500},
    {"timeout 0.25\n", 250},	     {"timeout 007\n", 7000},
    {"timeout 2.5000\n", 2500},
};

START_TEST(test_timeout_values)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(
	    parse_str(&c, good_timeouts[_i].text, err, sizeof(err)), 0);
	ck_assert_int_eq(c.timeout_ms, good_timeouts[_i].ms);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Config file: errors, each with its file and line                    */

static const struct {
	const char *file;
	int line;
	const char *reason;
} file_errors[] = {
    {"unknown_key.conf", 7, "unknown key 'porxy'"},
    {"missing_value.conf", 2, "missing value (expected: timeout SECONDS)"},
    {"missing_value_blank.conf", 4,
     "missing value (expected: log_file PATH (quote a path with blanks))"},
    {"extra_words.conf", 2, "too many values (expected: timeout SECONDS)"},
    {"password_extra.conf", 3,
     "too many values (expected: password SECRET (quote a secret with "
     "blanks))"},
    {"timeout_junk.conf", 4, "bad timeout '5s' (expected seconds, e.g. 2.5)"},
    {"timeout_overflow.conf", 1,
     "timeout '99999999999999999999999999' out of range (0.001..3600 seconds)"},
    {"timeout_zero.conf", 2, "timeout '0' out of range (0.001..3600 seconds)"},
    {"timeout_range.conf", 2,
     "timeout '3600.001' out of range (0.001..3600 seconds)"},
    {"timeout_precision.conf", 1,
     "timeout '0.0001' is finer than a millisecond (at most 3 decimals)"},
    {"timeout_sign.conf", 1, "bad timeout '-1' (expected seconds, e.g. 2.5)"},
    {"timeout_dot.conf", 3, "bad timeout '1.' (expected seconds, e.g. 2.5)"},
    {"bad_dns.conf", 2, "bad dns 'both' (expected remote, local or tunnel)"},
    {"bad_log_level.conf", 1,
     "bad log_level 'verbose' (expected error, warn, info or debug)"},
    {"log_file_relative.conf", 2, "log_file must be an absolute path"},
    {"bad_url.conf", 2,
     "bad proxy URL: unsupported scheme 'http' (supported: socks5://, "
     "socks5h://)"},
    {"url_no_password.conf", 1,
     "bad proxy URL: user name without password (RFC 1929 needs both; write "
     "user:password@)"},
    {"route_action.conf", 2,
     "unknown route action 'allow' (expected direct, proxy or refuse)"},
    {"route_missing_dest.conf", 1,
     "missing value (expected: route direct|proxy|refuse DEST [PORTS])"},
    {"route_extra.conf", 1,
     "too many values (expected: route direct|proxy|refuse DEST [PORTS])"},
    {"route_hostbits.conf", 3,
     "host bits set in '10.1.0.0/8' beyond the /8 prefix (the network is "
     "10.0.0.0/8)"},
    {"route_hostbits6.conf", 1,
     "host bits set in '2001:db8::1/32' beyond the /32 prefix (the network is "
     "2001:db8::/32)"},
    {"route_prefix.conf", 1,
     "bad prefix length in '10.0.0.0/33' (expected 0..32)"},
    {"route_dest.conf", 1, "bad destination '10.0.0/8' " BAD_DEST},
    {"route_port_zero.conf", 1, "port out of range in '0' (expected 1..65535)"},
    {"route_port_big.conf", 1,
     "port out of range in '1-65536' (expected 1..65535)"},
    {"route_port_reversed.conf", 1,
     "port range '443-80' is reversed (N must be <= M)"},
    {"route_port_junk.conf", 1, "bad ports '80x' (expected N or N-M)"},
    {"unterminated_quote.conf", 2, "unterminated quoted value"},
    {"bad_escape.conf", 1, "bad escape in quoted value (only \\\" and \\\\)"},
    {"after_quote.conf", 1, "text after a closing quote"},
    {"user_without_password.conf", 3,
     "username without a password (RFC 1929 needs both)"},
    {"password_without_user.conf", 2,
     "password without a username (RFC 1929 needs both)"},
    {"empty_username.conf", 1, "username must be 1..255 bytes (RFC 1929)"},
    {"long_username.conf", 1, "username must be 1..255 bytes (RFC 1929)"},
    {"crlf_error.conf", 3, "bad timeout 'nope' (expected seconds, e.g. 2.5)"},
    {"long_line.conf", 3, "line is longer than 4095 bytes"},
    {"nul_byte.conf", 4, "NUL byte in the text"},
    /* dns and its placeholder ranges */
    {"dns_v4_range_v6.conf", 2,
     "bad dns_v4_range '100::/64' (expected an IPv4 network in CIDR form, "
     "e.g. 127.192.0.0/10)"},
    {"dns_v4_range_bare.conf", 1,
     "bad dns_v4_range '10.0.0.0' (expected an IPv4 network in CIDR form, "
     "e.g. 127.192.0.0/10)"},
    {"dns_v4_range_name.conf", 3,
     "bad dns_v4_range 'example.com/10' (expected an IPv4 network in CIDR "
     "form, e.g. 127.192.0.0/10)"},
    {"dns_v4_range_prefix0.conf", 1,
     "bad prefix length in '0.0.0.0/0' (expected 1..30)"},
    {"dns_v4_range_prefix31.conf", 2,
     "bad prefix length in '10.0.0.0/31' (expected 1..30)"},
    {"dns_v4_range_prefix_junk.conf", 1,
     "bad prefix length in '10.0.0.0/1O' (expected 1..30)"},
    {"dns_v4_range_hostbits.conf", 2,
     "host bits set in '127.192.0.1/10' beyond the /10 prefix (the network "
     "is 127.192.0.0/10)"},
    {"dns_v4_range_missing.conf", 1,
     "missing value (expected: dns_v4_range CIDR)"},
    {"dns_v6_range_v4.conf", 1,
     "bad dns_v6_range '10.0.0.0/8' (expected an IPv6 network in CIDR form, "
     "e.g. 100::/64)"},
    {"dns_v6_range_prefix.conf", 3,
     "bad prefix length in 'fd00::/121' (expected 1..120)"},
    {"dns_v6_range_prefix0.conf", 1,
     "bad prefix length in '::/0' (expected 1..120)"},
    {"dns_v6_range_hostbits.conf", 1,
     "host bits set in '100::1/64' beyond the /64 prefix (the network is "
     "100::/64)"},
    {"dns_names_small.conf", 2, "dns_names '255' out of range (256..16777216)"},
    {"dns_names_big.conf", 1,
     "dns_names '16777217' out of range (256..16777216)"},
    {"dns_names_junk.conf", 2,
     "bad dns_names '64k' (expected a number, 256..16777216)"},
    {"dns_names_sign.conf", 1,
     "bad dns_names '-1' (expected a number, 256..16777216)"},
    {"dns_server_name.conf", 2,
     "dns_server 'dns.example' is not an IP address (it is reached through "
     "the proxy, so give its address, not a name)"},
    {"dns_server_name_port.conf", 1,
     "dns_server 'dns.example:53' is not an IP address (it is reached "
     "through the proxy, so give its address, not a name)"},
    {"dns_server_v4_brackets.conf", 1,
     "'[192.0.2.53]:53' is not an IPv6 address (brackets are only for "
     "IPv6)"},
    {"dns_server_open_bracket.conf", 1,
     "missing ']' after IPv6 address in '[2001:db8::53'"},
    {"dns_server_after_bracket.conf", 1,
     "unexpected text after ']' in '[2001:db8::53]53' (expected :PORT)"},
    {"dns_server_port_zero.conf", 2,
     "bad port in dns_server '192.0.2.53:0' (expected 1..65535)"},
    {"dns_server_port_big.conf", 1,
     "bad port in dns_server '[::1]:65536' (expected 1..65535)"},
    {"dns_server_port_empty.conf", 1,
     "bad port in dns_server '192.0.2.53:' (expected 1..65535)"},
    {"dns_server_extra.conf", 1,
     "too many values (expected: dns_server ADDRESS[:PORT])"},
    {"dns_tunnel_no_server.conf", 3, "dns tunnel needs dns_server"},
    {"dns_tunnel_twice.conf", 3, "dns tunnel needs dns_server"},
    {"range_small_v4.conf", 2,
     "dns_v4_range 10.0.0.0/16 holds 65536 addresses, too few for dns_names "
     "65536 (it needs at least 131073)"},
    {"range_small_names_later.conf", 3,
     "dns_v4_range 10.0.0.0/20 holds 4096 addresses, too few for dns_names "
     "4096 (it needs at least 8193)"},
    {"range_small_range_later.conf", 4,
     "dns_v4_range 10.0.0.0/20 holds 4096 addresses, too few for dns_names "
     "4096 (it needs at least 8193)"},
    {"range_small_default_v4.conf", 2,
     "dns_v4_range 127.192.0.0/10 holds 4194304 addresses, too few for "
     "dns_names 16777216 (it needs at least 33554433)"},
    {"range_small_v6.conf", 3,
     "dns_v6_range fd00::/112 holds 65536 addresses, too few for dns_names "
     "65536 (it needs at least 131073)"},
    {"range_small_v6_names_later.conf", 3,
     "dns_v6_range fd00::/120 holds 256 addresses, too few for dns_names 256 "
     "(it needs at least 513)"},
    /* host rules */
    {"route_host_bad_char.conf", 2, "bad destination 'exa$mple.com' " BAD_DEST},
    {"route_host_empty_label.conf", 1, "empty label in host name 'a..example'"},
    {"route_host_numeric.conf", 1, "bad destination '10.0.0' " BAD_DEST},
    {"route_host_star_middle.conf", 1,
     "bad destination 'a.*.example' " BAD_DEST},
    {"route_host_star_alone.conf", 1, "bad destination '*' " BAD_DEST},
    {"route_host_dot_alone.conf", 1, "empty label in host name '.'"},
    {"route_host_star_dot.conf", 1, "empty label in host name '*.'"},
    {"route_host_colon.conf", 1, "bad destination 'host.example:80' " BAD_DEST},
    {"route_host_long_label.conf", 2,
     "label longer than 63 bytes in host name "
     "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"},
    {"route_host_long_name.conf", 1,
     "host name "
     "'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.' is "
     "longer than 253 bytes"},
};

START_TEST(test_file_error)
{
	struct cfg c;
	char err[512], want[512];

	snprintf(want, sizeof(want), FIXTURES "%s:%d: %s", file_errors[_i].file,
		 file_errors[_i].line, file_errors[_i].reason);
	ck_assert_int_eq(
	    parse_fixture(&c, file_errors[_i].file, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
	cfg_free(&c);
}
END_TEST

/* Secrets in the fixtures: none may appear in any message. */
START_TEST(test_file_error_no_secret)
{
	static const char *const secrets[] = {"hunter", "zebra9", "abc"};
	struct cfg c;
	char err[512];
	size_t i;

	parse_fixture(&c, file_errors[_i].file, err, sizeof(err));
	for (i = 0; i < NELEM(secrets); i++)
		ck_assert_ptr_null(strstr(err, secrets[i]));
	cfg_free(&c);
}
END_TEST

START_TEST(test_failed_parse_leaves_cfg_unchanged)
{
	struct cfg c;
	char err[512];
	const char *bad = "timeout 9\nroute direct all\nlog_level nope\n";

	routes(&c, "route refuse all\n");
	ck_assert_int_eq(
	    cfg_parse_text(&c, bad, strlen(bad), "b", err, sizeof(err)), -1);
	ck_assert_int_eq(c.timeout_ms, CFG_DEFAULT_TIMEOUT_MS);
	ck_assert_uint_eq(c.nrules, 1);
	ck_assert_int_eq(c.rules[0].action, CFG_REFUSE);
	cfg_free(&c);
}
END_TEST

START_TEST(test_error_truncated_safely)
{
	struct cfg c;
	char err[16];

	memset(err, 'X', sizeof(err));
	ck_assert_int_eq(parse_str(&c, "bogus 1\n", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.conf:1: unkno");
}
END_TEST

START_TEST(test_error_null_buffer)
{
	struct cfg c;

	cfg_init(&c);
	ck_assert_int_eq(cfg_parse_text(&c, "bogus 1", 7, "t", NULL, 0), -1);
}
END_TEST

START_TEST(test_many_rules_grow)
{
	struct cfg c;
	struct cfg_rule r;
	char err[256];
	int i;

	cfg_init(&c);
	ck_assert_int_eq(
	    cfg_parse_rule(&r, CFG_REFUSE, "all", err, sizeof(err)), 0);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(cfg_add_rule(&c, &r), 0);
	ck_assert_uint_eq(c.nrules, 1000);
	cfg_free(&c);
	ck_assert_ptr_null(c.rules);
	ck_assert_uint_eq(c.nrules, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Proxy URLs                                                          */

static const struct {
	const char *url;
	const char *host;
	uint16_t port;
	enum cfg_dns dns;
} good_urls[] = {
    {"socks5://proxy.example", "proxy.example", 1080, CFG_DNS_LOCAL},
    {"socks5h://proxy.example", "proxy.example", 1080, CFG_DNS_REMOTE},
    {"SOCKS5H://Proxy_1.example:9050/", "Proxy_1.example", 9050,
     CFG_DNS_REMOTE},
    {"Socks5://10.0.0.1:1", "10.0.0.1", 1, CFG_DNS_LOCAL},
    {"socks5://h:65535", "h", 65535, CFG_DNS_LOCAL},
    {"socks5://[2001:db8::1]:1081", "2001:db8::1", 1081, CFG_DNS_LOCAL},
    {"socks5h://[::1]", "::1", 1080, CFG_DNS_REMOTE},
    {"socks5://[::ffff:10.1.2.3]/", "::ffff:10.1.2.3", 1080, CFG_DNS_LOCAL},
    {"socks5://u:p@h:2", "h", 2, CFG_DNS_LOCAL},
    {"socks5://u:p@[fe80::2]:3/", "fe80::2", 3, CFG_DNS_LOCAL},
    {"socks5://h:0080", "h", 80, CFG_DNS_LOCAL},
};

START_TEST(test_url_good)
{
	struct cfg_proxy p;
	char err[256];

	memset(&p, 0, sizeof(p));
	ck_assert_msg(cfg_parse_url(&p, good_urls[_i].url, err, sizeof(err)) ==
			  0,
		      "%s: %s", good_urls[_i].url, err);
	ck_assert_str_eq(p.host, good_urls[_i].host);
	ck_assert_uint_eq(p.port, good_urls[_i].port);
	ck_assert_int_eq(p.dns, good_urls[_i].dns);
	ck_assert_int_eq(p.set, 1);
}
END_TEST

START_TEST(test_url_no_credentials)
{
	struct cfg_proxy p;
	char err[256];

	ck_assert_int_eq(cfg_parse_url(&p, "socks5://h", err, sizeof(err)), 0);
	ck_assert_uint_eq(p.user_len, 0);
	ck_assert_uint_eq(p.pass_len, 0);
	ck_assert_str_eq(p.user, "");
}
END_TEST

START_TEST(test_url_credentials)
{
	struct cfg_proxy p;
	char err[256];

	ck_assert_int_eq(
	    cfg_parse_url(&p, "socks5://alice:s3cret@h", err, sizeof(err)), 0);
	ck_assert_str_eq(p.user, "alice");
	ck_assert_uint_eq(p.user_len, 5);
	ck_assert_str_eq(p.pass, "s3cret");
	ck_assert_uint_eq(p.pass_len, 6);
}
END_TEST

START_TEST(test_url_percent_decoding)
{
	struct cfg_proxy p;
	char err[256];

	ck_assert_int_eq(cfg_parse_url(&p, "socks5://us%3Aer%40x:p%40s%2f%25@h",
				       err, sizeof(err)),
			 0);
	ck_assert_str_eq(p.user, "us:er@x");
	ck_assert_str_eq(p.pass, "p@s/%");
}
END_TEST

START_TEST(test_url_decoded_nul_kept)
{
	struct cfg_proxy p;
	char err[256];

	ck_assert_int_eq(
	    cfg_parse_url(&p, "socks5://a%00b:%00@h", err, sizeof(err)), 0);
	ck_assert_uint_eq(p.user_len, 3);
	ck_assert_mem_eq(p.user, "a\0b", 3);
	ck_assert_uint_eq(p.pass_len, 1);
	ck_assert_int_eq(p.pass[0], '\0');
}
END_TEST

START_TEST(test_url_raw_colon_in_password)
{
	struct cfg_proxy p;
	char err[256];

	ck_assert_int_eq(
	    cfg_parse_url(&p, "socks5://u:a:b#c@h", err, sizeof(err)), 0);
	ck_assert_str_eq(p.pass, "a:b#c");
}
END_TEST

START_TEST(test_url_longest_credentials)
{
	struct cfg_proxy p;
	char url[1200], err[256];
	char u[256];

	memset(u, 'u', 255);
	u[255] = '\0';
	snprintf(url, sizeof(url), "socks5://%s:%s@h", u, u);
	ck_assert_int_eq(cfg_parse_url(&p, url, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.user_len, 255);
	ck_assert_uint_eq(p.pass_len, 255);
}
END_TEST

START_TEST(test_url_longest_host)
{
	struct cfg_proxy p;
	char url[300], err[256];

	memset(url, 'a', sizeof(url));
	memcpy(url, "socks5://", 9);
	url[9 + 255] = '\0';
	ck_assert_int_eq(cfg_parse_url(&p, url, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(p.host), 255);
}
END_TEST

START_TEST(test_url_error_keeps_proxy)
{
	struct cfg_proxy p;
	char err[256];

	ck_assert_int_eq(cfg_parse_url(&p, "socks5://keep:9", err, sizeof(err)),
			 0);
	ck_assert_int_eq(cfg_parse_url(&p, "socks5://x:0", err, sizeof(err)),
			 -1);
	ck_assert_str_eq(p.host, "keep");
}
END_TEST

static const struct {
	const char *url;
	const char *reason;
} bad_urls[] = {
    {"", "empty proxy URL"},
    {"proxy:1080", "missing scheme (expected socks5:// or socks5h://)"},
    {"http://u:S3cret@h",
     "unsupported scheme 'http' (supported: socks5://, socks5h://)"},
    {"socks4://h",
     "unsupported scheme 'socks4' (supported: socks5://, socks5h://)"},
    {"u:S3cret@h://x", "unsupported scheme (supported: socks5://, socks5h://)"},
    {"socks5://", "missing host"},
    {"socks5://:1080", "missing host"},
    {"socks5://h:", "missing port after ':'"},
    {"socks5://h:0", "bad port (expected 1..65535)"},
    {"socks5://h:65536", "bad port (expected 1..65535)"},
    {"socks5://h:99999999999999999999", "bad port (expected 1..65535)"},
    {"socks5://h:80x", "bad port (expected 1..65535)"},
    {"socks5://h:-1", "bad port (expected 1..65535)"},
    {"socks5://h/x", "unexpected text after the host (only a trailing '/' is "
		     "allowed; percent-encode '/' in user or password)"},
    {"socks5://u:S3/cret@h",
     "unexpected text after the host (only a trailing '/' is allowed; "
     "percent-encode '/' in user or password)"},
    {"socks5://h//", "unexpected text after the host (only a trailing '/' is "
		     "allowed; percent-encode '/' in user or password)"},
    {"socks5://h?x",
     "invalid character '?' in host name (letters, digits, '-', '.', '_')"},
    {"socks5://h st",
     "invalid character ' ' in host name (letters, digits, '-', '.', '_')"},
    {"socks5://h\tx",
     "invalid byte 0x09 in host name (letters, digits, '-', '.', '_')"},
    {"socks5://2001:db8::1",
     "IPv6 addresses must be in brackets, e.g. socks5://[2001:db8::1]:1080"},
    {"socks5://[10.0.0.1]:1080",
     "'[10.0.0.1]' is not an IPv6 address (brackets are only for IPv6)"},
    {"socks5://[proxy]",
     "'[proxy]' is not an IPv6 address (brackets are only for IPv6)"},
    {"socks5://[::1", "missing ']' after IPv6 address"},
    {"socks5://[::1]x", "unexpected text after ']' (expected :PORT)"},
    {"socks5://[::1]:", "missing port after ':'"},
    {"socks5://u@h",
     "user name without password (RFC 1929 needs both; write user:password@)"},
    {"socks5://u:@h", "password is empty (RFC 1929 needs 1..255 bytes)"},
    {"socks5://:S3cret@h", "user name is empty (RFC 1929 needs 1..255 bytes)"},
    {"socks5://@h",
     "user name without password (RFC 1929 needs both; write user:password@)"},
    {"socks5://u:S3cret@@h",
     "more than one '@' (write '@' in user or password as %40)"},
    {"socks5://u:S3c@ret@h",
     "more than one '@' (write '@' in user or password as %40)"},
    {"socks5://u%4:S3cret@h",
     "bad percent-escape in user name (use %XX with two hex digits)"},
    {"socks5://u:S3cret%zz@h",
     "bad percent-escape in password (use %XX with two hex digits)"},
    {"socks5://u:S3cret%@h",
     "bad percent-escape in password (use %XX with two hex digits)"},
    {"socks5://u:S3 cret@h",
     "space or control character in password (percent-encode it)"},
};

START_TEST(test_url_bad)
{
	struct cfg_proxy p;
	char err[256];

	ck_assert_int_eq(cfg_parse_url(&p, bad_urls[_i].url, err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, bad_urls[_i].reason);
}
END_TEST

START_TEST(test_url_bad_no_secret)
{
	struct cfg_proxy p;
	char err[256];

	cfg_parse_url(&p, bad_urls[_i].url, err, sizeof(err));
	ck_assert_ptr_null(strstr(err, "S3"));
}
END_TEST

START_TEST(test_url_too_long_parts)
{
	struct cfg_proxy p;
	char url[1200], err[256], big[300];

	memset(big, 'a', 256);
	big[256] = '\0';
	snprintf(url, sizeof(url), "socks5://%s:p@h", big);
	ck_assert_int_eq(cfg_parse_url(&p, url, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "user name is longer than 255 bytes");
	snprintf(url, sizeof(url), "socks5://u:%s@h", big);
	ck_assert_int_eq(cfg_parse_url(&p, url, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "password is longer than 255 bytes");
	snprintf(url, sizeof(url), "socks5://%s", big);
	ck_assert_int_eq(cfg_parse_url(&p, url, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "host name is longer than 255 bytes");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Rules: parsing                                                      */

START_TEST(test_rule_ipv4_cidr)
{
	struct cfg_rule r;
	char err[256];
	const uint8_t want[4] = {192, 168, 0, 0};

	ck_assert_int_eq(
	    cfg_parse_rule(&r, CFG_DIRECT, "192.168.0.0/16", err, sizeof(err)),
	    0);
	ck_assert_int_eq(r.action, CFG_DIRECT);
	ck_assert_int_eq(r.family, AF_INET);
	ck_assert_mem_eq(r.addr, want, 4);
	ck_assert_uint_eq(r.prefix, 16);
	ck_assert_uint_eq(r.port_lo, 0);
	ck_assert_uint_eq(r.port_hi, 65535);
}
END_TEST

START_TEST(test_rule_bare_addresses)
{
	struct cfg_rule r;
	char err[256];

	ck_assert_int_eq(
	    cfg_parse_rule(&r, CFG_PROXY, "10.1.2.3", err, sizeof(err)), 0);
	ck_assert_uint_eq(r.prefix, 32);
	ck_assert_int_eq(
	    cfg_parse_rule(&r, CFG_PROXY, "2001:db8::7", err, sizeof(err)), 0);
	ck_assert_int_eq(r.family, AF_INET6);
	ck_assert_uint_eq(r.prefix, 128);
}
END_TEST

START_TEST(test_rule_ipv6_cidr_ports)
{
	struct cfg_rule r;
	char err[256];

	ck_assert_int_eq(cfg_parse_rule(&r, CFG_REFUSE, "  fd00::/8   1-1024 ",
					err, sizeof(err)),
			 0);
	ck_assert_int_eq(r.family, AF_INET6);
	ck_assert_uint_eq(r.addr[0], 0xfd);
	ck_assert_uint_eq(r.prefix, 8);
	ck_assert_uint_eq(r.port_lo, 1);
	ck_assert_uint_eq(r.port_hi, 1024);
}
END_TEST

START_TEST(test_rule_all)
{
	struct cfg_rule r;
	char err[256];

	ck_assert_int_eq(
	    cfg_parse_rule(&r, CFG_PROXY, "ALL 65535", err, sizeof(err)), 0);
	ck_assert_int_eq(r.family, AF_UNSPEC);
	ck_assert_uint_eq(r.prefix, 0);
	ck_assert_uint_eq(r.port_lo, 65535);
	ck_assert_uint_eq(r.port_hi, 65535);
}
END_TEST

START_TEST(test_rule_zero_prefix)
{
	struct cfg_rule r;
	char err[256];

	ck_assert_int_eq(
	    cfg_parse_rule(&r, CFG_PROXY, "0.0.0.0/0", err, sizeof(err)), 0);
	ck_assert_uint_eq(r.prefix, 0);
	ck_assert_int_eq(
	    cfg_parse_rule(&r, CFG_PROXY, "::/0", err, sizeof(err)), 0);
	ck_assert_int_eq(r.family, AF_INET6);
}
END_TEST

static const struct {
	const char *args;
	const char *reason;
} bad_rules[] = {
    {"", "missing destination"},
    {"   ", "missing destination"},
    {"all 80 90", "extra word '90' (expected DEST [PORTS])"},
    {"10.0.0.1/24", "host bits set in '10.0.0.1/24' beyond the /24 prefix (the "
		    "network is 10.0.0.0/24)"},
    {"10.0.0.128/25", NULL}, /* not an error: the network itself */
    {"10.0.0.64/25", "host bits set in '10.0.0.64/25' beyond the /25 prefix "
		     "(the network is 10.0.0.0/25)"},
    {"2001:db8::/16", "host bits set in '2001:db8::/16' beyond the /16 prefix "
		      "(the network is 2001::/16)"},
    {"::1/129", "bad prefix length in '::1/129' (expected 0..128)"},
    {"10.0.0.0/", "bad prefix length in '10.0.0.0/' (expected 0..32)"},
    {"10.0.0.0/+8", "bad prefix length in '10.0.0.0/+8' (expected 0..32)"},
    {"10.0.0.0/8/8", "bad prefix length in '10.0.0.0/8/8' (expected 0..32)"},
    {"example.com", NULL}, /* not an error: a host rule */
    {"[::1]", "bad destination '[::1]' " BAD_DEST},
    {"all/0", "bad destination 'all/0' " BAD_DEST},
    {"example.com/24", "bad destination 'example.com/24' " BAD_DEST},
    {"10.0.0.0/8.example", "bad prefix length in '10.0.0.0/8.example' "
			   "(expected 0..32)"},
    {"ho st", "bad ports 'st' (expected N or N-M)"},
    {"\"ho st\"", "bad destination 'ho st' " BAD_DEST},
    {"\"\"", "empty label in host name ''"},
    {"**.example", "bad destination '**.example' " BAD_DEST},
    {"*example", "bad destination '*example' " BAD_DEST},
    {"*.*.example", "bad destination '*.*.example' " BAD_DEST},
    {"..example", "empty label in host name '..example'"},
    {"example..", "empty label in host name 'example..'"},
    {"*..example", "empty label in host name '*..example'"},
    {"h\xc3\xa9.example", "bad destination 'h\xc3\xa9.example' " BAD_DEST},
    {"xn--h-bga.example", NULL}, /* IDNs in their ASCII form are fine */
    {"1.2.3.4.5", "bad destination '1.2.3.4.5' " BAD_DEST},
    {"*.10", "bad destination '*.10' " BAD_DEST},
    {"example.123", "bad destination 'example.123' " BAD_DEST},
    {"123.example", NULL}, /* digits-only labels are fine but the last */
    {"host.example 0", "port out of range in '0' (expected 1..65535)"},
    {"all -", "bad ports '-' (expected N or N-M)"},
    {"all 80-", "bad ports '80-' (expected N or N-M)"},
    {"all -80", "bad ports '-80' (expected N or N-M)"},
    {"all 1-2-3", "bad ports '1-2-3' (expected N or N-M)"},
    {"all 70000", "port out of range in '70000' (expected 1..65535)"},
    {"all 99999999999999999999999",
     "port out of range in '99999999999999999999999' (expected 1..65535)"},
};

START_TEST(test_rule_bad)
{
	struct cfg_rule r;
	char err[256];
	int rc = cfg_parse_rule(&r, CFG_DIRECT, bad_rules[_i].args, err,
				sizeof(err));

	if (!bad_rules[_i].reason) {
		ck_assert_int_eq(rc, 0);
		return;
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(err, bad_rules[_i].reason);
}
END_TEST

START_TEST(test_rule_bad_action)
{
	struct cfg_rule r;
	char err[256];

	ck_assert_int_eq(
	    cfg_parse_rule(&r, (enum cfg_action)7, "all", err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "bad rule action 7");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Rules: matching                                                     */

START_TEST(test_match_default_proxy)
{
	struct cfg c;

	cfg_init(&c);
	ck_assert_int_eq(match(&c, "93.184.216.34", 443), CFG_PROXY);
	ck_assert_int_eq(match(&c, "2001:db8::1", 443), CFG_PROXY);
}
END_TEST

START_TEST(test_match_loopback_direct)
{
	struct cfg c;

	cfg_init(&c);
	ck_assert_int_eq(match(&c, "127.0.0.1", 80), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "127.255.0.9", 80), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "::1", 80), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "::ffff:127.0.0.1", 80), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "128.0.0.1", 80), CFG_PROXY);
	ck_assert_int_eq(match(&c, "::2", 80), CFG_PROXY);
}
END_TEST

START_TEST(test_match_unspecified_direct)
{
	struct cfg c;

	/* Linux connects 0.0.0.0 and :: to the local host. */
	cfg_init(&c);
	ck_assert_int_eq(match(&c, "0.0.0.0", 80), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "::", 80), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "::ffff:0.0.0.0", 80), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "0.0.0.1", 80), CFG_PROXY);
}
END_TEST

START_TEST(test_match_rule_beats_loopback)
{
	struct cfg c;

	routes(&c, "route refuse 127.0.0.0/8\nroute proxy ::1\n");
	ck_assert_int_eq(match(&c, "127.0.0.1", 80), CFG_REFUSE);
	ck_assert_int_eq(match(&c, "::ffff:127.0.0.1", 80), CFG_REFUSE);
	ck_assert_int_eq(match(&c, "::1", 80), CFG_PROXY);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_ipv4_cidr)
{
	struct cfg c;

	routes(&c, "route direct 10.0.0.0/8\nroute refuse 192.168.1.128/25\n");
	ck_assert_int_eq(match(&c, "10.255.255.255", 1), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "11.0.0.0", 1), CFG_PROXY);
	ck_assert_int_eq(match(&c, "192.168.1.128", 1), CFG_REFUSE);
	ck_assert_int_eq(match(&c, "192.168.1.255", 1), CFG_REFUSE);
	ck_assert_int_eq(match(&c, "192.168.1.127", 1), CFG_PROXY);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_ipv6_cidr)
{
	struct cfg c;

	routes(&c, "route direct 2001:db8::/33\n");
	ck_assert_int_eq(match(&c, "2001:db8:7fff::1", 1), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "2001:db8:8000::1", 1), CFG_PROXY);
	/* An IPv6 rule never matches an IPv4 destination. */
	ck_assert_int_eq(match(&c, "32.1.13.184", 1), CFG_PROXY);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_v4_rule_not_for_v6)
{
	struct cfg c;

	routes(&c, "route refuse 0.0.0.0/0\n");
	ck_assert_int_eq(match(&c, "1.2.3.4", 1), CFG_REFUSE);
	ck_assert_int_eq(match(&c, "2001:db8::1", 1), CFG_PROXY);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_v4_mapped)
{
	struct cfg c;

	routes(&c, "route direct 10.0.0.0/8\n");
	ck_assert_int_eq(match(&c, "::ffff:10.1.2.3", 1), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "::ffff:11.1.2.3", 1), CFG_PROXY);
	/* Only ::ffff:0:0/96 is mapped; the old compatible form is not. */
	ck_assert_int_eq(match(&c, "::10.1.2.3", 1), CFG_PROXY);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_all_both_families)
{
	struct cfg c;

	routes(&c, "route refuse all\n");
	ck_assert_int_eq(match(&c, "1.2.3.4", 9), CFG_REFUSE);
	ck_assert_int_eq(match(&c, "2001:db8::1", 9), CFG_REFUSE);
	ck_assert_int_eq(match(&c, "127.0.0.1", 9), CFG_REFUSE);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_ports)
{
	struct cfg c;

	routes(&c, "route refuse all 25\nroute direct 10.0.0.0/8 8000-8080\n");
	ck_assert_int_eq(match(&c, "1.2.3.4", 25), CFG_REFUSE);
	ck_assert_int_eq(match(&c, "1.2.3.4", 26), CFG_PROXY);
	ck_assert_int_eq(match(&c, "10.0.0.1", 7999), CFG_PROXY);
	ck_assert_int_eq(match(&c, "10.0.0.1", 8000), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "10.0.0.1", 8080), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "10.0.0.1", 8081), CFG_PROXY);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_any_port_includes_zero)
{
	struct cfg c;

	routes(&c, "route refuse 10.0.0.0/8\n");
	ck_assert_int_eq(match(&c, "10.0.0.1", 0), CFG_REFUSE);
	ck_assert_int_eq(match(&c, "10.0.0.1", 65535), CFG_REFUSE);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_first_wins)
{
	struct cfg c;

	routes(&c, "route direct 10.1.0.0/16\nroute refuse 10.0.0.0/8\n"
		   "route direct 10.2.0.0/16\n");
	ck_assert_int_eq(match(&c, "10.1.0.1", 1), CFG_DIRECT);
	ck_assert_int_eq(match(&c, "10.2.0.1", 1), CFG_REFUSE);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_non_inet_direct)
{
	struct cfg c;
	struct sockaddr_storage ss;

	routes(&c, "route refuse all\n");
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	ck_assert_int_eq(cfg_match(&c, (struct sockaddr *)&ss, sizeof(ss)),
			 CFG_DIRECT);
	ss.ss_family = AF_UNSPEC;
	ck_assert_int_eq(cfg_match(&c, (struct sockaddr *)&ss, sizeof(ss)),
			 CFG_DIRECT);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_short_salen_direct)
{
	struct cfg c;
	struct sockaddr_storage ss;
	socklen_t len;

	routes(&c, "route refuse all\n");
	ss = sa4("1.2.3.4", 80, &len);
	ck_assert_int_eq(cfg_match(&c, (struct sockaddr *)&ss, len - 1),
			 CFG_DIRECT);
	ck_assert_int_eq(cfg_match(&c, (struct sockaddr *)&ss, 1), CFG_DIRECT);
	ck_assert_int_eq(cfg_match(&c, NULL, 0), CFG_DIRECT);
	ss = sa6("2001:db8::1", 80, &len);
	ck_assert_int_eq(cfg_match(&c, (struct sockaddr *)&ss, 23), CFG_DIRECT);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_rfc2133_sin6_len)
{
	struct cfg c;
	struct sockaddr_storage ss;
	socklen_t len;

	/* The kernel accepts a sockaddr_in6 without sin6_scope_id. */
	routes(&c, "route refuse all\n");
	ss = sa6("2001:db8::1", 80, &len);
	ck_assert_int_eq(cfg_match(&c, (struct sockaddr *)&ss, 24), CFG_REFUSE);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_unaligned)
{
	struct cfg c;
	struct sockaddr_storage ss;
	unsigned char buf[sizeof(struct sockaddr_in6) + 1];
	socklen_t len;

	routes(&c, "route refuse 2001:db8::1\n");
	ss = sa6("2001:db8::1", 80, &len);
	memcpy(buf + 1, &ss, len);
	ck_assert_int_eq(cfg_match(&c, (const struct sockaddr *)(buf + 1), len),
			 CFG_REFUSE);
	cfg_free(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Log levels                                                          */

static const struct {
	const char *name;
	enum cfg_log_level level;
} levels[] = {
    {"error", CFG_LOG_ERROR}, {"warn", CFG_LOG_WARN},	{"info", CFG_LOG_INFO},
    {"debug", CFG_LOG_DEBUG}, {"ERROR", CFG_LOG_ERROR}, {"Warn", CFG_LOG_WARN},
    {"iNfO", CFG_LOG_INFO},   {"DEBUG", CFG_LOG_DEBUG},
};

START_TEST(test_log_level_good)
{
	enum cfg_log_level l = (enum cfg_log_level) - 1;

	ck_assert_int_eq(cfg_parse_log_level(levels[_i].name, &l), 0);
	ck_assert_int_eq(l, levels[_i].level);
}
END_TEST

static const char *const bad_levels[] = {"",	   "warning", "err",
					 "debug ", " info",   "trace"};

START_TEST(test_log_level_bad)
{
	enum cfg_log_level l = CFG_LOG_INFO;

	ck_assert_int_eq(cfg_parse_log_level(bad_levels[_i], &l), -1);
	ck_assert_int_eq(l, CFG_LOG_INFO);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Names: defaults and the dns keys                                    */

START_TEST(test_init_dns_defaults)
{
	struct cfg c;
	const uint8_t v4[4] = {127, 192, 0, 0};
	const uint8_t v6[16] = {0x01, 0x00};

	cfg_init(&c);
	ck_assert_int_eq(c.dns_set, 0);
	ck_assert_int_eq(cfg_dns_mode(&c), CFG_DNS_LOCAL);
	ck_assert_mem_eq(c.dns_v4, v4, 4);
	ck_assert_uint_eq(c.dns_v4_prefix, 10);
	ck_assert_mem_eq(c.dns_v6, v6, 16);
	ck_assert_uint_eq(c.dns_v6_prefix, 64);
	ck_assert_uint_eq(c.dns_names, CFG_DEFAULT_DNS_NAMES);
	ck_assert_uint_eq(c.dns_names, 65536);
	ck_assert_uint_eq(c.dns_server_len, 0);
	cfg_free(&c);
}
END_TEST

START_TEST(test_example_dns_defaults)
{
	struct cfg c;
	char err[512];
	size_t len;
	char *text = slurp("socks.conf.example", &len);
	const uint8_t v4[4] = {127, 192, 0, 0};
	int rc;

	cfg_init(&c);
	rc = cfg_parse_text(&c, text, len, "socks.conf.example", err,
			    sizeof(err));
	free(text);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_int_eq(c.dns_set, 0);
	ck_assert_mem_eq(c.dns_v4, v4, 4);
	ck_assert_uint_eq(c.dns_v4_prefix, 10);
	ck_assert_uint_eq(c.dns_v6_prefix, 64);
	ck_assert_uint_eq(c.dns_names, CFG_DEFAULT_DNS_NAMES);
	ck_assert_uint_eq(c.dns_server_len, 0);
	cfg_free(&c);
}
END_TEST

START_TEST(test_dns_v4_range)
{
	struct cfg c;
	char err[512];
	const uint8_t want[4] = {10, 64, 0, 0};

	ck_assert_int_eq(
	    parse_str(&c, "dns_v4_range 10.64.0.0/10\n", err, sizeof(err)), 0);
	ck_assert_mem_eq(c.dns_v4, want, 4);
	ck_assert_uint_eq(c.dns_v4_prefix, 10);
}
END_TEST

START_TEST(test_dns_v4_range_widest)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(
	    parse_str(&c, "dns_v4_range 128.0.0.0/1\n", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.dns_v4[0], 128);
	ck_assert_uint_eq(c.dns_v4_prefix, 1);
}
END_TEST

START_TEST(test_dns_v4_range_leaves_v6)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(
	    parse_str(&c, "dns_v4_range 10.64.0.0/10\n", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.dns_v6_prefix, 64);
}
END_TEST

START_TEST(test_dns_v6_range)
{
	struct cfg c;
	char err[512];
	const uint8_t want[16] = {0xfd, 0x00, 0x00, 0x05};

	ck_assert_int_eq(
	    parse_str(&c, "dns_v6_range FD00:5::/48\n", err, sizeof(err)), 0);
	ck_assert_mem_eq(c.dns_v6, want, 16);
	ck_assert_uint_eq(c.dns_v6_prefix, 48);
}
END_TEST

START_TEST(test_dns_v6_range_narrowest)
{
	struct cfg c;
	char err[512];

	/* The fewest names (256) need 513 addresses: a /118. */
	ck_assert_msg(parse_str(&c,
				"dns_names 256\n"
				"dns_v6_range fd00::400/118\n",
				err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(c.dns_v6_prefix, 118);
	ck_assert_uint_eq(c.dns_v6[14], 4);
}
END_TEST

START_TEST(test_dns_names)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_str(&c, "dns_names 256\n", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.dns_names, 256);
}
END_TEST

START_TEST(test_dns_names_most)
{
	struct cfg c;
	char err[512];

	/* 2^24 names need 2^25 + 1 addresses: a /6. */
	ck_assert_msg(parse_str(&c,
				"dns_v4_range 8.0.0.0/6\n"
				"dns_names 16777216\n",
				err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(c.dns_names, 16777216);
}
END_TEST

START_TEST(test_range_exact_fit)
{
	struct cfg c;
	char err[512];

	/* 65536 addresses hold two epochs of 32767 names (one address to
	 * spare). */
	ck_assert_msg(parse_str(&c,
				"dns_names 32767\n"
				"dns_v4_range 10.0.0.0/16\n"
				"dns_v6_range fd00::/112\n",
				err, sizeof(err)) == 0,
		      "%s", err);
}
END_TEST

START_TEST(test_range_overlapping_route_ok)
{
	struct cfg c;
	char err[512];

	ck_assert_msg(parse_str(&c,
				"route direct 10.0.0.0/8\n"
				"dns_v4_range 10.64.0.0/10\n"
				"route refuse 127.0.0.0/8\n",
				err, sizeof(err)) == 0,
		      "%s", err);
	cfg_free(&c);
}
END_TEST

/* dns_server values that parse: family, address text, port. */
static const struct {
	const char *value;
	int family;
	const char *addr;
	uint16_t port;
} good_servers[] = {
    {"192.0.2.53", AF_INET, "192.0.2.53", 53},
    {"192.0.2.53:5353", AF_INET, "192.0.2.53", 5353},
    {"10.0.0.1:1", AF_INET, "10.0.0.1", 1},
    {"10.0.0.1:65535", AF_INET, "10.0.0.1", 65535},
    {"2001:db8::53", AF_INET6, "2001:db8::53", 53},
    {"::1", AF_INET6, "::1", 53},
    {"[2001:db8::53]", AF_INET6, "2001:db8::53", 53},
    {"[2001:db8::53]:5353", AF_INET6, "2001:db8::53", 5353},
    /* Bare, the last group is part of the address, never a port. */
    {"2001:db8::53:53", AF_INET6, "2001:db8::53:53", 53},
    {"[::ffff:192.0.2.53]:54", AF_INET6, "::ffff:192.0.2.53", 54},
};

START_TEST(test_dns_server_good)
{
	struct cfg c;
	char err[512], text[128], got[INET6_ADDRSTRLEN];
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	snprintf(text, sizeof(text), "dns_server %s\n", good_servers[_i].value);
	ck_assert_msg(parse_str(&c, text, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(c.dns_server.ss_family, good_servers[_i].family);
	if (good_servers[_i].family == AF_INET) {
		ck_assert_uint_eq(c.dns_server_len, sizeof(in));
		memcpy(&in, &c.dns_server, sizeof(in));
		ck_assert_uint_eq(ntohs(in.sin_port), good_servers[_i].port);
		ck_assert_ptr_nonnull(
		    inet_ntop(AF_INET, &in.sin_addr, got, sizeof(got)));
	} else {
		ck_assert_uint_eq(c.dns_server_len, sizeof(in6));
		memcpy(&in6, &c.dns_server, sizeof(in6));
		ck_assert_uint_eq(ntohs(in6.sin6_port), good_servers[_i].port);
		ck_assert_uint_eq(in6.sin6_scope_id, 0);
		ck_assert_ptr_nonnull(
		    inet_ntop(AF_INET6, &in6.sin6_addr, got, sizeof(got)));
	}
	ck_assert_str_eq(got, good_servers[_i].addr);
}
END_TEST

START_TEST(test_dns_server_last_wins)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_str(&c,
				   "dns_server [2001:db8::53]:99\n"
				   "dns_server 192.0.2.1\n",
				   err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.dns_server.ss_family, AF_INET);
	ck_assert_uint_eq(c.dns_server_len, sizeof(struct sockaddr_in));
}
END_TEST

START_TEST(test_dns_tunnel_server_after)
{
	struct cfg c;
	char err[512];

	/* The check waits for the whole file. */
	ck_assert_msg(parse_str(&c,
				"dns tunnel\n"
				"dns_server 192.0.2.53\n",
				err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(cfg_dns_mode(&c), CFG_DNS_TUNNEL);
}
END_TEST

START_TEST(test_dns_server_without_tunnel_ok)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(
	    parse_str(&c, "dns_server 192.0.2.53\n", err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_dns_mode(&c), CFG_DNS_LOCAL);
}
END_TEST

START_TEST(test_failed_parse_keeps_dns)
{
	struct cfg c;
	char err[512];
	const char *bad =
	    "dns tunnel\ndns_names 1000\ndns_v4_range 10.0.0.0/8\n"
	    "dns_v6_range fd00::/64\n";

	cfg_init(&c);
	ck_assert_int_eq(
	    cfg_parse_text(&c, bad, strlen(bad), "b", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "b:1: dns tunnel needs dns_server");
	ck_assert_int_eq(c.dns_set, 0);
	ck_assert_uint_eq(c.dns_names, CFG_DEFAULT_DNS_NAMES);
	ck_assert_uint_eq(c.dns_v4[0], 127);
	ck_assert_uint_eq(c.dns_v6[0], 0x01);
}
END_TEST

START_TEST(test_failed_parse_keeps_dns_server)
{
	struct cfg c;
	char err[512];
	const char *bad = "dns_server 192.0.2.53\ndns_names 1\n";

	cfg_init(&c);
	ck_assert_int_eq(
	    cfg_parse_text(&c, bad, strlen(bad), "b", err, sizeof(err)), -1);
	ck_assert_uint_eq(c.dns_server_len, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Host rules: parsing                                                 */

/* Host patterns that parse: kind and stored name. */
static const struct {
	const char *dest;
	enum cfg_host_kind kind;
	const char *host;
} good_hosts[] = {
    {"host.example", CFG_HOST_EXACT, "host.example"},
    {"Host.EXAMPLE", CFG_HOST_EXACT, "host.example"},
    {"host.example.", CFG_HOST_EXACT, "host.example"},
    {"localhost", CFG_HOST_EXACT, "localhost"},
    {"a_b-c.d9", CFG_HOST_EXACT, "a_b-c.d9"},
    {"123.example", CFG_HOST_EXACT, "123.example"},
    {"allhosts", CFG_HOST_EXACT, "allhosts"},
    {"*.corp.example", CFG_HOST_SUBDOMAINS, "corp.example"},
    {"*.Corp.Example.", CFG_HOST_SUBDOMAINS, "corp.example"},
    {"*.lan", CFG_HOST_SUBDOMAINS, "lan"},
    {".lan", CFG_HOST_DOMAIN, "lan"},
    {".LAN.", CFG_HOST_DOMAIN, "lan"},
    {".corp.example", CFG_HOST_DOMAIN, "corp.example"},
};

START_TEST(test_host_rule_kind)
{
	struct cfg_rule r;
	char err[256];

	ck_assert_msg(cfg_parse_rule(&r, CFG_DIRECT, good_hosts[_i].dest, err,
				     sizeof(err)) == 0,
		      "%s: %s", good_hosts[_i].dest, err);
	ck_assert_int_eq(r.host_kind, good_hosts[_i].kind);
}
END_TEST

START_TEST(test_host_rule_name)
{
	struct cfg_rule r;
	char err[256];

	ck_assert_int_eq(cfg_parse_rule(&r, CFG_DIRECT, good_hosts[_i].dest,
					err, sizeof(err)),
			 0);
	ck_assert_str_eq(r.host, good_hosts[_i].host);
}
END_TEST

START_TEST(test_host_rule_ports)
{
	struct cfg_rule r;
	char err[256];

	ck_assert_int_eq(cfg_parse_rule(&r, CFG_REFUSE, "*.ads.example 80-443",
					err, sizeof(err)),
			 0);
	ck_assert_int_eq(r.action, CFG_REFUSE);
	ck_assert_uint_eq(r.port_lo, 80);
	ck_assert_uint_eq(r.port_hi, 443);
}
END_TEST

START_TEST(test_host_rule_any_port)
{
	struct cfg_rule r;
	char err[256];

	ck_assert_int_eq(
	    cfg_parse_rule(&r, CFG_PROXY, ".lan", err, sizeof(err)), 0);
	ck_assert_uint_eq(r.port_lo, 0);
	ck_assert_uint_eq(r.port_hi, 65535);
}
END_TEST

START_TEST(test_address_rule_not_host)
{
	struct cfg_rule r;
	char err[256];

	ck_assert_int_eq(
	    cfg_parse_rule(&r, CFG_PROXY, "10.0.0.0/8", err, sizeof(err)), 0);
	ck_assert_int_eq(r.host_kind, CFG_HOST_NONE);
	ck_assert_int_eq(cfg_parse_rule(&r, CFG_PROXY, "all", err, sizeof(err)),
			 0);
	ck_assert_int_eq(r.host_kind, CFG_HOST_NONE);
	ck_assert_int_eq(cfg_parse_rule(&r, CFG_PROXY, "::1", err, sizeof(err)),
			 0);
	ck_assert_int_eq(r.host_kind, CFG_HOST_NONE);
}
END_TEST

START_TEST(test_host_rule_longest_label)
{
	struct cfg_rule r;
	char dest[80], err[256];

	memset(dest, 'a', 63);
	strcpy(dest + 63, ".example");
	ck_assert_int_eq(cfg_parse_rule(&r, CFG_DIRECT, dest, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(strlen(r.host), 71);
}
END_TEST

START_TEST(test_host_rule_longest_name)
{
	struct cfg_rule r;
	char dest[300], err[256];

	/* 4 labels: 63 + 63 + 63 + 61 plus 3 dots = 253, then a dot. */
	memset(dest, 'c', sizeof(dest));
	dest[63] = dest[127] = dest[191] = '.';
	dest[253] = '.';
	dest[254] = '\0';
	ck_assert_msg(cfg_parse_rule(&r, CFG_DIRECT, dest, err, sizeof(err)) ==
			  0,
		      "%s", err);
	ck_assert_uint_eq(strlen(r.host), 253);
}
END_TEST

START_TEST(test_host_rule_longest_subdomain_pattern)
{
	struct cfg_rule r;
	char dest[300], err[256];

	memset(dest, 'c', sizeof(dest));
	dest[0] = '*';
	dest[1] = dest[65] = dest[129] = dest[193] = '.';
	dest[255] = '\0';
	ck_assert_msg(cfg_parse_rule(&r, CFG_DIRECT, dest, err, sizeof(err)) ==
			  0,
		      "%s", err);
	ck_assert_uint_eq(strlen(r.host), 253);
}
END_TEST

START_TEST(test_host_rule_name_too_long)
{
	struct cfg_rule r;
	char dest[300], err[256];

	memset(dest, 'c', sizeof(dest));
	dest[63] = dest[127] = dest[191] = '.';
	dest[254] = '\0';
	ck_assert_int_eq(cfg_parse_rule(&r, CFG_DIRECT, dest, err, sizeof(err)),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "is longer than 253 bytes"));
}
END_TEST

START_TEST(test_host_rules_in_file)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_fixture(&c, "host_rules.conf", err, sizeof(err)),
			 0);
	ck_assert_uint_eq(c.nrules, 5);
	ck_assert_int_eq(c.rules[0].host_kind, CFG_HOST_DOMAIN);
	ck_assert_str_eq(c.rules[0].host, "lan");
	ck_assert_int_eq(c.rules[1].host_kind, CFG_HOST_SUBDOMAINS);
	ck_assert_str_eq(c.rules[1].host, "ads.example");
	ck_assert_uint_eq(c.rules[1].port_lo, 80);
	ck_assert_int_eq(c.rules[2].host_kind, CFG_HOST_EXACT);
	ck_assert_str_eq(c.rules[2].host, "host.example");
	ck_assert_int_eq(c.rules[3].host_kind, CFG_HOST_NONE);
	ck_assert_int_eq(c.rules[4].host_kind, CFG_HOST_NONE);
	cfg_free(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Host rules: matching                                                */

/* One rule, a name, and whether it matches (refuse) or not (proxy). */
static const struct {
	const char *rule;
	const char *name;
	int match;
} name_matches[] = {
    {"host.example", "host.example", 1},
    {"host.example", "HOST.Example", 1},
    {"host.example", "host.example.", 1},
    {"Host.Example.", "host.example", 1},
    {"host.example", "a.host.example", 0},
    {"host.example", "host.example.com", 0},
    {"host.example", "ost.example", 0},
    {"host.example", "host.exampl", 0},
    {"host.example", "", 0},
    {"*.corp.example", "a.corp.example", 1},
    {"*.corp.example", "x.y.corp.example", 1},
    {"*.corp.example", "A.CORP.EXAMPLE.", 1},
    {"*.corp.example", "corp.example", 0},
    {"*.corp.example", "corp.example.", 0},
    {"*.corp.example", "xcorp.example", 0},
    {"*.corp.example", "a.corp.example.net", 0},
    {"*.corp.example", "example", 0},
    {".lan", "lan", 1},
    {".lan", "LAN.", 1},
    {".lan", "x.lan", 1},
    {".lan", "a.b.lan", 1},
    {".lan", "xlan", 0},
    {".lan", "lan.x", 0},
    {".lan", "la", 0},
    {".lan", "", 0},
    {".corp.example", "corp.example", 1},
    {".corp.example", "x.corp.example", 1},
    {".corp.example", "example", 0},
};

START_TEST(test_match_name_pattern)
{
	struct cfg c;
	char text[128];

	snprintf(text, sizeof(text), "route refuse %s\n",
		 name_matches[_i].rule);
	routes(&c, text);
	ck_assert_int_eq(cfg_match_name(&c, name_matches[_i].name, 443),
			 name_matches[_i].match ? CFG_REFUSE : CFG_PROXY);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_name_default_proxy)
{
	struct cfg c;

	cfg_init(&c);
	ck_assert_int_eq(cfg_match_name(&c, "example.com", 80), CFG_PROXY);
	/* No loopback default for names. */
	ck_assert_int_eq(cfg_match_name(&c, "localhost", 80), CFG_PROXY);
}
END_TEST

START_TEST(test_match_name_ports)
{
	struct cfg c;

	routes(&c, "route refuse host.example 25\n"
		   "route direct .lan 8000-8080\n");
	ck_assert_int_eq(cfg_match_name(&c, "host.example", 25), CFG_REFUSE);
	ck_assert_int_eq(cfg_match_name(&c, "host.example", 24), CFG_PROXY);
	ck_assert_int_eq(cfg_match_name(&c, "host.example", 26), CFG_PROXY);
	ck_assert_int_eq(cfg_match_name(&c, "x.lan", 7999), CFG_PROXY);
	ck_assert_int_eq(cfg_match_name(&c, "x.lan", 8000), CFG_DIRECT);
	ck_assert_int_eq(cfg_match_name(&c, "x.lan", 8080), CFG_DIRECT);
	ck_assert_int_eq(cfg_match_name(&c, "x.lan", 8081), CFG_PROXY);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_name_port_zero_matches_all)
{
	struct cfg c;

	/* Port 0: not known yet; every rule's ports match. */
	routes(&c, "route refuse host.example 25\n"
		   "route direct all 443\n");
	ck_assert_int_eq(cfg_match_name(&c, "host.example", 0), CFG_REFUSE);
	ck_assert_int_eq(cfg_match_name(&c, "other.example", 0), CFG_DIRECT);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_name_first_wins)
{
	struct cfg c;

	routes(&c, "route direct *.corp.example\n"
		   "route refuse .corp.example\n"
		   "route proxy a.corp.example\n");
	ck_assert_int_eq(cfg_match_name(&c, "a.corp.example", 1), CFG_DIRECT);
	ck_assert_int_eq(cfg_match_name(&c, "corp.example", 1), CFG_REFUSE);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_name_all_rules)
{
	struct cfg c;

	routes(&c, "route refuse all 25\n"
		   "route direct host.example\n"
		   "route direct all 8000-8080\n");
	ck_assert_int_eq(cfg_match_name(&c, "host.example", 25), CFG_REFUSE);
	ck_assert_int_eq(cfg_match_name(&c, "host.example", 80), CFG_DIRECT);
	ck_assert_int_eq(cfg_match_name(&c, "other.example", 8000), CFG_DIRECT);
	ck_assert_int_eq(cfg_match_name(&c, "other.example", 80), CFG_PROXY);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_name_all_matches_empty)
{
	struct cfg c;

	routes(&c, "route refuse all\n");
	ck_assert_int_eq(cfg_match_name(&c, "", 80), CFG_REFUSE);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_name_ignores_cidr)
{
	struct cfg c;

	routes(&c, "route refuse 0.0.0.0/0\n"
		   "route refuse ::/0\n"
		   "route refuse 127.0.0.0/8\n");
	ck_assert_int_eq(cfg_match_name(&c, "example.com", 80), CFG_PROXY);
	ck_assert_int_eq(cfg_match_name(&c, "localhost", 80), CFG_PROXY);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_name_cidr_then_host)
{
	struct cfg c;

	routes(&c, "route direct 0.0.0.0/0\n"
		   "route refuse .example\n");
	ck_assert_int_eq(cfg_match_name(&c, "a.example", 80), CFG_REFUSE);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_ignores_host_rules)
{
	struct cfg c;

	routes(&c, "route refuse host.example\n"
		   "route refuse .lan\n"
		   "route refuse *.example\n");
	ck_assert_int_eq(match(&c, "1.2.3.4", 80), CFG_PROXY);
	ck_assert_int_eq(match(&c, "2001:db8::1", 80), CFG_PROXY);
	ck_assert_int_eq(match(&c, "127.0.0.1", 80), CFG_DIRECT);
	cfg_free(&c);
}
END_TEST

START_TEST(test_match_host_rule_then_all)
{
	struct cfg c;

	routes(&c, "route direct localhost\n"
		   "route refuse all\n");
	ck_assert_int_eq(match(&c, "127.0.0.1", 80), CFG_REFUSE);
	ck_assert_int_eq(match(&c, "1.2.3.4", 80), CFG_REFUSE);
	cfg_free(&c);
}
END_TEST

/* Rules, a name, and cfg_name_always_direct's answer. */
static const struct {
	const char *rules;
	const char *name;
	int direct;
} name_direct[] = {
    {"", "x.lan", 0},
    {"route direct .lan\n", "x.lan", 1},
    {"route direct .lan\n", "LAN.", 1},
    {"route direct .lan\n", "x.example", 0},
    /* A port-limited rule: the name's other ports go to the proxy, so a
     * local lookup would leak it (issue 7, item 11). */
    {"route direct .lan 53\n", "x.lan", 0},
    {"route direct .lan 1-65535\n", "x.lan", 1},
    {"route direct .lan 53\nroute direct .lan\n", "x.lan", 1},
    {"route direct host.example\n", "HOST.EXAMPLE.", 1},
    {"route proxy host.lan\nroute direct .lan\n", "host.lan", 0},
    {"route proxy host.lan\nroute direct .lan\n", "a.lan", 1},
    {"route proxy host.lan 443\nroute direct .lan\n", "host.lan", 0},
    {"route refuse .lan\n", "x.lan", 0},
    {"route direct all\n", "x.lan", 1}, /* every name, every port */
    {"route direct all 22\n", "x.lan", 0},
    {"route refuse all\nroute direct .lan\n", "x.lan", 0},
    {"route direct 10.0.0.0/8\n", "x.lan", 0}, /* CIDRs match no name */
    {"route direct 10.0.0.0/8\nroute direct .lan\n", "x.lan", 1},
    {"route direct *.corp.example\n", "corp.example", 0},
    {"route direct *.corp.example\n", "a.corp.example", 1},
    {"route refuse .lan 25\nroute direct .lan\n", "x.lan", 0},
};

START_TEST(test_name_is_direct)
{
	struct cfg c;

	routes(&c, name_direct[_i].rules);
	ck_assert_int_eq(cfg_name_always_direct(&c, name_direct[_i].name),
			 name_direct[_i].direct);
	cfg_free(&c);
}
END_TEST

/* direct_protocols: text and the CFG_PROTO_* mask it gives. */
static const struct {
	const char *text;
	unsigned int mask;
} protos_good[] = {
    {"", 0},
    {"direct_protocols none\n", 0},
    {"direct_protocols udplite\n", CFG_PROTO_UDPLITE},
    {"direct_protocols SCTP dccp\n", CFG_PROTO_SCTP | CFG_PROTO_DCCP},
    {"direct_protocols icmp raw udplite sctp dccp\n", CFG_PROTO_ALL},
    {"direct_protocols all\n", CFG_PROTO_ALL},
    {"direct_protocols raw\ndirect_protocols icmp\n", CFG_PROTO_ICMP},
    {"direct_protocols udplite\ndirect_protocols none\n", 0},
};

START_TEST(test_direct_protocols)
{
	struct cfg c;
	char err[256];

	ck_assert_int_eq(parse_str(&c, protos_good[_i].text, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(c.direct_protos, protos_good[_i].mask);
	cfg_free(&c);
}
END_TEST

static const struct {
	const char *text;
	const char *err;
} protos_bad[] = {
    {"direct_protocols\n", "t.conf:1: missing value (expected: "
			   "direct_protocols udplite|sctp|dccp|icmp|raw|all|"
			   "none ...)"},
    {"direct_protocols tcp\n",
     "t.conf:1: unknown protocol 'tcp' (expected udplite, sctp, dccp, icmp, "
     "raw, all, or none alone)"},
    {"direct_protocols none raw\n",
     "t.conf:1: unknown protocol 'none' (expected udplite, sctp, dccp, icmp, "
     "raw, all, or none alone)"},
    {"direct_protocols a b c d e f g\n",
     "t.conf:1: too many values (expected: direct_protocols "
     "udplite|sctp|dccp|icmp|raw|all|none ...)"},
    {"direct_protocols \"\x01\"\n",
     "t.conf:1: unknown protocol '\\x01' (expected udplite, sctp, dccp, "
     "icmp, raw, all, or none alone)"},
};

/* async_connect and pipeline: yes/no words, their defaults. */
static const struct {
	const char *text;
	int async_connect, pipeline;
} bools_good[] = {
    {"", 1, 0},
    {"async_connect no\n", 0, 0},
    {"async_connect off\npipeline yes\n", 0, 1},
    {"async_connect YES\npipeline on\n", 1, 1},
    {"pipeline 1\nasync_connect 0\n", 0, 1},
    {"pipeline true\npipeline false\n", 1, 0},
};

START_TEST(test_bool_keys)
{
	struct cfg c;
	char err[256];

	ck_assert_int_eq(parse_str(&c, bools_good[_i].text, err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.async_connect, bools_good[_i].async_connect);
	ck_assert_int_eq(c.pipeline, bools_good[_i].pipeline);
	cfg_free(&c);
}
END_TEST

static const struct {
	const char *text;
	const char *err;
} bools_bad[] = {
    {"async_connect maybe\n",
     "t.conf:1: bad async_connect value 'maybe' (expected yes or no)"},
    {"pipeline\n", "t.conf:1: missing value (expected: pipeline yes|no)"},
    {"pipeline yes no\n",
     "t.conf:1: too many values (expected: pipeline yes|no)"},
};

START_TEST(test_bool_keys_bad)
{
	struct cfg c;
	char err[256];

	ck_assert_int_eq(parse_str(&c, bools_bad[_i].text, err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, bools_bad[_i].err);
	/* A failed parse leaves the defaults. */
	ck_assert_int_eq(c.async_connect, 1);
	ck_assert_int_eq(c.pipeline, 0);
	cfg_free(&c);
}
END_TEST

/* bind, bind_ports, bind_timeout (issue 9). */
static const struct {
	const char *text;
	enum cfg_bind bind;
	int timeout_ms;
	unsigned int nports;
	uint16_t lo0, hi0;
} binds_good[] = {
    {"", CFG_BIND_AUTO, CFG_DEFAULT_BIND_TIMEOUT_MS, 0, 0, 0},
    {"bind never\n", CFG_BIND_NEVER, CFG_DEFAULT_BIND_TIMEOUT_MS, 0, 0, 0},
    {"bind ALWAYS\nbind_timeout 2.5\n", CFG_BIND_ALWAYS, 2500, 0, 0, 0},
    {"bind_ports 6000-6010\nbind_ports 7000\nbind auto\n", CFG_BIND_AUTO,
     CFG_DEFAULT_BIND_TIMEOUT_MS, 2, 6000, 6010},
};

START_TEST(test_bind_keys)
{
	struct cfg c;
	char err[256];

	ck_assert_int_eq(parse_str(&c, binds_good[_i].text, err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.bind, binds_good[_i].bind);
	ck_assert_int_eq(c.bind_timeout_ms, binds_good[_i].timeout_ms);
	ck_assert_uint_eq(c.nbind_ports, binds_good[_i].nports);
	if (c.nbind_ports) {
		ck_assert_uint_eq(c.bind_port_lo[0], binds_good[_i].lo0);
		ck_assert_uint_eq(c.bind_port_hi[0], binds_good[_i].hi0);
		ck_assert(cfg_bind_port(&c, binds_good[_i].lo0));
		ck_assert(cfg_bind_port(&c, binds_good[_i].hi0));
		ck_assert(!cfg_bind_port(&c, binds_good[_i].hi0 + 1));
		ck_assert(!cfg_bind_port(&c, 0));
	} else {
		ck_assert(!cfg_bind_port(&c, 6000));
	}
	cfg_free(&c);
}
END_TEST

static const struct {
	const char *text;
	const char *err;
} binds_bad[] = {
    {"bind sometimes\n",
     "t.conf:1: bad bind 'sometimes' (expected auto, always or never)"},
    {"bind\n", "t.conf:1: missing value (expected: bind auto|always|never)"},
    {"bind_ports 0\n",
     "t.conf:1: port out of range in '0' (expected 1..65535)"},
    {"bind_ports 10-5\n",
     "t.conf:1: port range '10-5' is reversed (N must be <= M)"},
    {"bind_ports 1 2\n",
     "t.conf:1: too many values (expected: bind_ports PORT[-PORT])"},
    {"bind_timeout soon\n",
     "t.conf:1: bad timeout 'soon' (expected seconds, e.g. 2.5)"},
    {"bind_ports 1\nbind_ports 2\nbind_ports 3\nbind_ports 4\n"
     "bind_ports 5\nbind_ports 6\nbind_ports 7\nbind_ports 8\n"
     "bind_ports 9\nbind_ports 10\nbind_ports 11\nbind_ports 12\n"
     "bind_ports 13\nbind_ports 14\nbind_ports 15\nbind_ports 16\n"
     "bind_ports 17\n",
     "t.conf:17: too many bind_ports lines (at most 16)"},
};

START_TEST(test_bind_keys_bad)
{
	struct cfg c;
	char err[256];

	ck_assert_int_eq(parse_str(&c, binds_bad[_i].text, err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, binds_bad[_i].err);
	/* A failed parse leaves the defaults. */
	ck_assert_int_eq(c.bind, CFG_BIND_AUTO);
	ck_assert_uint_eq(c.nbind_ports, 0);
	cfg_free(&c);
}
END_TEST

/* cfg_match_local: a listener's local address.  Loopback stays local, the
 * wildcard address does not (unlike cfg_match), rules decide the rest. */
START_TEST(test_match_local)
{
	struct cfg c;
	char err[256];
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	ck_assert_int_eq(parse_str(&c,
				   "route direct 10.0.0.0/8\n"
				   "route direct 192.0.2.0/24 5000-5010\n",
				   err, sizeof(err)),
			 0);
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_ANY);
	ck_assert_int_eq(
	    cfg_match_local(&c, (struct sockaddr *)&in, sizeof(in)), CFG_PROXY);
	ck_assert_int_eq(cfg_match(&c, (struct sockaddr *)&in, sizeof(in)),
			 CFG_DIRECT);
	in.sin_addr.s_addr = htonl(0x7f000001);
	ck_assert_int_eq(
	    cfg_match_local(&c, (struct sockaddr *)&in, sizeof(in)),
	    CFG_DIRECT);
	in.sin_addr.s_addr = htonl(0x0a010203);
	ck_assert_int_eq(
	    cfg_match_local(&c, (struct sockaddr *)&in, sizeof(in)),
	    CFG_DIRECT);
	in.sin_addr.s_addr = htonl(0xc0000201);
	in.sin_port = htons(5005);
	ck_assert_int_eq(
	    cfg_match_local(&c, (struct sockaddr *)&in, sizeof(in)),
	    CFG_DIRECT);
	in.sin_port = htons(6000);
	ck_assert_int_eq(
	    cfg_match_local(&c, (struct sockaddr *)&in, sizeof(in)), CFG_PROXY);
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	ck_assert_int_eq(
	    cfg_match_local(&c, (struct sockaddr *)&in6, sizeof(in6)),
	    CFG_PROXY);
	in6.sin6_addr = in6addr_loopback;
	ck_assert_int_eq(
	    cfg_match_local(&c, (struct sockaddr *)&in6, sizeof(in6)),
	    CFG_DIRECT);
	ck_assert_int_eq(cfg_parse_bind("Never", &c.bind), 0);
	ck_assert_int_eq(c.bind, CFG_BIND_NEVER);
	ck_assert_int_eq(cfg_parse_bind("", &c.bind), -1);
	cfg_free(&c);
}
END_TEST

START_TEST(test_direct_protocols_bad)
{
	struct cfg c;
	char err[256];

	ck_assert_int_eq(parse_str(&c, protos_bad[_i].text, err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, protos_bad[_i].err);
	ck_assert_uint_eq(c.direct_protos, 0);
	cfg_free(&c);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("file");
	tcase_add_test(tc, test_init_defaults);
	tcase_add_test(tc, test_example_parses);
	tcase_add_test(tc, test_example_directives_parse);
	tcase_add_test(tc, test_full_proxy);
	tcase_add_test(tc, test_full_username);
	tcase_add_test(tc, test_full_quoted_password);
	tcase_add_test(tc, test_full_dns_remote);
	tcase_add_test(tc, test_full_dns_key_recorded);
	tcase_add_test(tc, test_full_dns_key_leaves_scheme);
	tcase_add_test(tc, test_full_timeout_decimal);
	tcase_add_test(tc, test_full_log_level);
	tcase_add_test(tc, test_full_log_file_quoted);
	tcase_add_test(tc, test_full_routes_in_order);
	tcase_add_test(tc, test_overrides_beat_url_in_any_order);
	tcase_add_test(tc, test_duplicate_last_wins);
	tcase_add_test(tc, test_duplicate_proxy_last_wins);
	tcase_add_test(tc, test_crlf);
	tcase_add_test(tc, test_empty_and_comments);
	tcase_add_test(tc, test_longest_line_accepted);
	tcase_add_test(tc, test_text_not_nul_terminated);
	tcase_add_test(tc, test_keys_case_insensitive);
	tcase_add_test(tc, test_dns_local_overrides_socks5h);
	tcase_add_test(tc, test_scheme_dns_without_override);
	tcase_add_loop_test(tc, test_dns_mode, 0, NELEM(dns_modes));
	tcase_add_test(tc, test_dns_mode_follows_later_proxy);
	tcase_add_test(tc, test_dns_key_beats_later_proxy);
	tcase_add_loop_test(tc, test_timeout_values, 0, NELEM(good_timeouts));
	tcase_add_loop_test(tc, test_file_error, 0, NELEM(file_errors));
	tcase_add_loop_test(tc, test_file_error_no_secret, 0,
			    NELEM(file_errors));
	tcase_add_test(tc, test_failed_parse_leaves_cfg_unchanged);
	tcase_add_test(tc, test_error_truncated_safely);
	tcase_add_test(tc, test_error_null_buffer);
	tcase_add_test(tc, test_many_rules_grow);
	suite_add_tcase(s, tc);

	tc = tcase_create("url");
	tcase_add_loop_test(tc, test_url_good, 0, NELEM(good_urls));
	tcase_add_test(tc, test_url_no_credentials);
	tcase_add_test(tc, test_url_credentials);
	tcase_add_test(tc, test_url_percent_decoding);
	tcase_add_test(tc, test_url_decoded_nul_kept);
	tcase_add_test(tc, test_url_raw_colon_in_password);
	tcase_add_test(tc, test_url_longest_credentials);
	tcase_add_test(tc, test_url_longest_host);
	tcase_add_test(tc, test_url_error_keeps_proxy);
	tcase_add_loop_test(tc, test_url_bad, 0, NELEM(bad_urls));
	tcase_add_loop_test(tc, test_url_bad_no_secret, 0, NELEM(bad_urls));
	tcase_add_test(tc, test_url_too_long_parts);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_test(tc, test_rule_ipv4_cidr);
	tcase_add_test(tc, test_rule_bare_addresses);
	tcase_add_test(tc, test_rule_ipv6_cidr_ports);
	tcase_add_test(tc, test_rule_all);
	tcase_add_test(tc, test_rule_zero_prefix);
	tcase_add_loop_test(tc, test_rule_bad, 0, NELEM(bad_rules));
	tcase_add_test(tc, test_rule_bad_action);
	tcase_add_test(tc, test_match_default_proxy);
	tcase_add_test(tc, test_match_loopback_direct);
	tcase_add_test(tc, test_match_unspecified_direct);
	tcase_add_test(tc, test_match_rule_beats_loopback);
	tcase_add_test(tc, test_match_ipv4_cidr);
	tcase_add_test(tc, test_match_ipv6_cidr);
	tcase_add_test(tc, test_match_v4_rule_not_for_v6);
	tcase_add_test(tc, test_match_v4_mapped);
	tcase_add_test(tc, test_match_all_both_families);
	tcase_add_test(tc, test_match_ports);
	tcase_add_test(tc, test_match_any_port_includes_zero);
	tcase_add_test(tc, test_match_first_wins);
	tcase_add_test(tc, test_match_non_inet_direct);
	tcase_add_test(tc, test_match_short_salen_direct);
	tcase_add_test(tc, test_match_rfc2133_sin6_len);
	tcase_add_test(tc, test_match_unaligned);
	suite_add_tcase(s, tc);

	tc = tcase_create("dns");
	tcase_add_test(tc, test_init_dns_defaults);
	tcase_add_test(tc, test_example_dns_defaults);
	tcase_add_test(tc, test_dns_v4_range);
	tcase_add_test(tc, test_dns_v4_range_widest);
	tcase_add_test(tc, test_dns_v4_range_leaves_v6);
	tcase_add_test(tc, test_dns_v6_range);
	tcase_add_test(tc, test_dns_v6_range_narrowest);
	tcase_add_test(tc, test_dns_names);
	tcase_add_test(tc, test_dns_names_most);
	tcase_add_test(tc, test_range_exact_fit);
	tcase_add_test(tc, test_range_overlapping_route_ok);
	tcase_add_loop_test(tc, test_dns_server_good, 0, NELEM(good_servers));
	tcase_add_test(tc, test_dns_server_last_wins);
	tcase_add_test(tc, test_dns_tunnel_server_after);
	tcase_add_test(tc, test_dns_server_without_tunnel_ok);
	tcase_add_test(tc, test_failed_parse_keeps_dns);
	tcase_add_test(tc, test_failed_parse_keeps_dns_server);
	suite_add_tcase(s, tc);

	tc = tcase_create("host_rules");
	tcase_add_loop_test(tc, test_host_rule_kind, 0, NELEM(good_hosts));
	tcase_add_loop_test(tc, test_host_rule_name, 0, NELEM(good_hosts));
	tcase_add_test(tc, test_host_rule_ports);
	tcase_add_test(tc, test_host_rule_any_port);
	tcase_add_test(tc, test_address_rule_not_host);
	tcase_add_test(tc, test_host_rule_longest_label);
	tcase_add_test(tc, test_host_rule_longest_name);
	tcase_add_test(tc, test_host_rule_longest_subdomain_pattern);
	tcase_add_test(tc, test_host_rule_name_too_long);
	tcase_add_test(tc, test_host_rules_in_file);
	tcase_add_loop_test(tc, test_match_name_pattern, 0,
			    NELEM(name_matches));
	tcase_add_test(tc, test_match_name_default_proxy);
	tcase_add_test(tc, test_match_name_ports);
	tcase_add_test(tc, test_match_name_port_zero_matches_all);
	tcase_add_test(tc, test_match_name_first_wins);
	tcase_add_test(tc, test_match_name_all_rules);
	tcase_add_test(tc, test_match_name_all_matches_empty);
	tcase_add_test(tc, test_match_name_ignores_cidr);
	tcase_add_test(tc, test_match_name_cidr_then_host);
	tcase_add_test(tc, test_match_ignores_host_rules);
	tcase_add_test(tc, test_match_host_rule_then_all);
	tcase_add_loop_test(tc, test_name_is_direct, 0, NELEM(name_direct));
	suite_add_tcase(s, tc);

	tc = tcase_create("direct_protocols");
	tcase_add_loop_test(tc, test_direct_protocols, 0, NELEM(protos_good));
	tcase_add_loop_test(tc, test_bool_keys, 0, NELEM(bools_good));
	tcase_add_loop_test(tc, test_bool_keys_bad, 0, NELEM(bools_bad));
	tcase_add_loop_test(tc, test_bind_keys, 0, NELEM(binds_good));
	tcase_add_loop_test(tc, test_bind_keys_bad, 0, NELEM(binds_bad));
	tcase_add_test(tc, test_match_local);
	tcase_add_loop_test(tc, test_direct_protocols_bad, 0,
			    NELEM(protos_bad));
	suite_add_tcase(s, tc);

	tc = tcase_create("log_level");
	tcase_add_loop_test(tc, test_log_level_good, 0, NELEM(levels));
	tcase_add_loop_test(tc, test_log_level_bad, 0, NELEM(bad_levels));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
