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
	ck_assert_int_eq(c.proxy.dns, CFG_DNS_REMOTE);
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
	ck_assert_int_eq(c.proxy.dns, CFG_DNS_LOCAL); /* not socks5h's */
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
	ck_assert_int_eq(c.proxy.dns, CFG_DNS_LOCAL);
}
END_TEST

START_TEST(test_scheme_dns_without_override)
{
	struct cfg c;
	char err[512];

	ck_assert_int_eq(parse_str(&c, "proxy socks5h://h\n", err, sizeof(err)),
			 0);
	ck_assert_int_eq(c.proxy.dns, CFG_DNS_REMOTE);
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
    {"bad_dns.conf", 2, "bad dns 'both' (expected remote or local)"},
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
    {"route_dest.conf", 1,
     "bad destination '10.0.0/8' (expected an IPv4 or IPv6 address or CIDR, or "
     "'all')"},
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
    {"example.com", "bad destination 'example.com' (expected an IPv4 or IPv6 "
		    "address or CIDR, or 'all')"},
    {"[::1]", "bad destination '[::1]' (expected an IPv4 or IPv6 address or "
	      "CIDR, or 'all')"},
    {"all/0", "bad destination 'all/0' (expected an IPv4 or IPv6 address or "
	      "CIDR, or 'all')"},
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
