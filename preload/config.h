/*
 * config.h - pure configuration core: the config file parser, the proxy URL
 * parser and rule matching.
 *
 * No syscalls, no globals, no logging.  Parsers take text and write a
 * human-readable reason ("FILE:LINE: problem") into a caller buffer on
 * failure.  The file format is documented line by line in
 * socks.conf.example; the URL format in README.md.
 */
#ifndef SOCKSIFY_CONFIG_H
#define SOCKSIFY_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CFG_MAX_HOST	       255
#define CFG_MAX_CRED	       255
#define CFG_DEFAULT_PORT       1080
#define CFG_DEFAULT_TIMEOUT_MS 10000

enum cfg_action {
	CFG_PROXY = 0, /* carry through the SOCKS5 server */
	CFG_DIRECT,    /* leave to the kernel, unproxied */
	CFG_REFUSE,    /* fail closed with EACCES */
};

enum cfg_log_level {
	CFG_LOG_ERROR = 0,
	CFG_LOG_WARN,
	CFG_LOG_INFO,
	CFG_LOG_DEBUG,
};

/* Where names are resolved: socks5:// means local, socks5h:// remote. */
enum cfg_dns {
	CFG_DNS_LOCAL = 0,
	CFG_DNS_REMOTE,
};

struct cfg_proxy {
	char host[CFG_MAX_HOST + 1]; /* literal (no brackets) or host name */
	uint16_t port;		     /* host byte order */
	char user[CFG_MAX_CRED + 1]; /* user_len 0: no authentication */
	char pass[CFG_MAX_CRED + 1];
	size_t user_len, pass_len; /* decoded lengths (may contain NUL) */
	enum cfg_dns dns;
	int set; /* nonzero once a proxy was given */
};

struct cfg_rule {
	enum cfg_action action;
	int family;	  /* AF_INET, AF_INET6, or AF_UNSPEC for 'all' */
	uint8_t addr[16]; /* network address, 4 or 16 bytes used */
	uint8_t prefix;	  /* prefix length */
	uint16_t port_lo; /* inclusive, host byte order; 0..65535 = any */
	uint16_t port_hi;
};

struct cfg {
	struct cfg_proxy proxy;
	int timeout_ms; /* handshake bound */
	enum cfg_log_level log_level;
	int log_level_set;	/* given in the file */
	char log_file[4096];	/* empty: stderr */
	struct cfg_rule *rules; /* malloc'd, first match wins */
	size_t nrules, rules_cap;
};

/* Sets defaults (no proxy, timeout CFG_DEFAULT_TIMEOUT_MS, level error,
 * stderr, no rules). */
void cfg_init(struct cfg *c);
/* Frees the rules (the struct itself is the caller's). */
void cfg_free(struct cfg *c);

/* Parses config file text (need not be NUL-terminated) into c, which must
 * have been cfg_init'ed.  fname is used in error messages only.
 * Returns 0, or -1 with "fname:line: problem" in err; on failure c is left
 * exactly as it was before the call. */
int cfg_parse_text(struct cfg *c, const char *text, size_t len,
		   const char *fname, char *err, size_t errlen);

/* Parses socks5://[user[:pass]@]host[:port][/] or socks5h://...  IPv6
 * literals in brackets, percent-encoding in user and password.  Returns 0,
 * or -1 with a reason in err. */
int cfg_parse_url(struct cfg_proxy *p, const char *url, char *err,
		  size_t errlen);

/* Parses "CIDR [PORT[-PORT]]"-style rule arguments (see the example file)
 * into r.  Returns 0 or -1 with a reason in err. */
int cfg_parse_rule(struct cfg_rule *r, enum cfg_action action, const char *args,
		   char *err, size_t errlen);

/* Appends a rule (grows the array).  Returns 0 or -ENOMEM. */
int cfg_add_rule(struct cfg *c, const struct cfg_rule *r);

/* The action for a destination: the first matching rule, then the built-in
 * rule that loopback (127.0.0.0/8, ::1, v4-mapped loopback) and the
 * unspecified address (0.0.0.0, ::: Linux connects it locally) go direct,
 * then CFG_PROXY.  v4-mapped IPv6 addresses match IPv4 rules.  Address
 * families other than AF_INET/AF_INET6 give CFG_DIRECT. */
enum cfg_action cfg_match(const struct cfg *c, const struct sockaddr *sa,
			  socklen_t salen);

/* Parses "error", "warn", "info", "debug".  Returns 0 or -1. */
int cfg_parse_log_level(const char *s, enum cfg_log_level *out);

#endif
