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

#define CFG_MAX_HOST		    255
#define CFG_MAX_CRED		    255
#define CFG_DEFAULT_PORT	    1080
#define CFG_DEFAULT_TIMEOUT_MS	    10000
#define CFG_DEFAULT_BIND_TIMEOUT_MS 60000
#define CFG_MAX_BIND_PORTS	    16

enum cfg_action {
	CFG_PROXY = 0, /* carry through the SOCKS5 server */
	CFG_DIRECT,    /* leave to the kernel, unproxied */
	CFG_REFUSE,    /* fail closed with EACCES */
};

/* Which listening sockets go through SOCKS BIND (the `bind` key). */
enum cfg_bind {
	CFG_BIND_AUTO = 0, /* the call-back pattern, and bind_ports */
	CFG_BIND_ALWAYS,   /* every listener not kept local by the rules */
	CFG_BIND_NEVER,	   /* none */
};

enum cfg_log_level {
	CFG_LOG_ERROR = 0,
	CFG_LOG_WARN,
	CFG_LOG_INFO,
	CFG_LOG_DEBUG,
};

/* Where names are resolved: socks5:// means local, socks5h:// remote;
 * tunnel only by the config's `dns tunnel`. */
enum cfg_dns {
	CFG_DNS_LOCAL = 0, /* libc, as without socksify */
	CFG_DNS_REMOTE,	   /* placeholders; the proxy resolves the name */
	CFG_DNS_TUNNEL,	   /* DNS over TCP through the proxy to dns_server */
};

/* Defaults for the placeholder ranges (see README "Names"). */
#define CFG_DEFAULT_DNS_V4    "127.192.0.0/10"
#define CFG_DEFAULT_DNS_V6    "100::/64"
#define CFG_DEFAULT_DNS_NAMES 65536

/* Host-name rules: what DEST looked like. */
enum cfg_host_kind {
	CFG_HOST_NONE = 0,   /* an address rule (CIDR or 'all') */
	CFG_HOST_EXACT,	     /* "host.example": that name only */
	CFG_HOST_SUBDOMAINS, /* "*.corp.example": names below it, not itself */
	CFG_HOST_DOMAIN,     /* ".lan": the name itself and all below it */
};

/* The file's keys (for where a setting came from: struct cfg key_line). */
enum cfg_key {
	CFG_KEY_PROXY,
	CFG_KEY_USERNAME,
	CFG_KEY_PASSWORD,
	CFG_KEY_DNS,
	CFG_KEY_TIMEOUT,
	CFG_KEY_LOG_LEVEL,
	CFG_KEY_LOG_FILE,
	CFG_KEY_ROUTE,
	CFG_KEY_DNS_V4_RANGE,
	CFG_KEY_DNS_V6_RANGE,
	CFG_KEY_DNS_NAMES,
	CFG_KEY_DNS_SERVER,
	CFG_KEY_DIRECT_PROTOCOLS,
	CFG_KEY_ASYNC_CONNECT,
	CFG_KEY_PIPELINE,
	CFG_KEY_BIND,
	CFG_KEY_BIND_PORTS,
	CFG_KEY_BIND_TIMEOUT,
	CFG_NKEYS,
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
	enum cfg_host_kind host_kind; /* CFG_HOST_NONE for address rules */
	char host[256]; /* lowercase, no trailing dot, without "*." / "." */
	uint32_t line;	/* the file's line (0: not from a file) */
};

/* Protocols the proxy cannot carry (SOCKS5 carries TCP and UDP), for the
 * direct_protocols key: flows of these fail closed unless listed. */
enum cfg_proto {
	CFG_PROTO_UDPLITE = 1u << 0, /* SOCK_DGRAM, IPPROTO_UDPLITE */
	CFG_PROTO_SCTP = 1u << 1,    /* IPPROTO_SCTP, stream or seqpacket */
	CFG_PROTO_DCCP = 1u << 2,    /* SOCK_DCCP */
	CFG_PROTO_ICMP = 1u << 3,    /* ping sockets: SOCK_DGRAM ICMP/ICMPv6 */
	CFG_PROTO_RAW = 1u << 4,     /* SOCK_RAW, and AF_PACKET sockets */
	CFG_PROTO_ALL = (1u << 5) - 1,
};

struct cfg {
	struct cfg_proxy proxy;
	int timeout_ms; /* handshake bound */
	enum cfg_log_level log_level;
	int log_level_set;	/* given in the file */
	char log_file[4096];	/* empty: stderr */
	struct cfg_rule *rules; /* malloc'd, first match wins */
	size_t nrules, rules_cap;
	enum cfg_dns dns; /* the file's `dns` key, when dns_set */
	int dns_set;
	uint8_t dns_v4[4]; /* placeholder IPv4 range (dns_v4_range) */
	uint8_t dns_v4_prefix;
	uint8_t dns_v6[16]; /* placeholder IPv6 range (dns_v6_range) */
	uint8_t dns_v6_prefix;
	uint32_t dns_names; /* placeholder table capacity (dns_names) */
	struct sockaddr_storage dns_server; /* tunnel resolver (dns_server) */
	socklen_t dns_server_len;	    /* 0: none given */
	unsigned int direct_protos;	    /* CFG_PROTO_* allowed direct */
	int async_connect;   /* non-blocking connects return EINPROGRESS (1) */
	int pipeline;	     /* greeting, auth and request in one write (0) */
	enum cfg_bind bind;  /* the `bind` key (CFG_BIND_AUTO) */
	int bind_timeout_ms; /* bound on the wait for BIND's second reply */
	/* bind_ports: fixed local ports whose listeners go through BIND
	 * (inclusive ranges, host byte order). */
	uint16_t bind_port_lo[CFG_MAX_BIND_PORTS],
	    bind_port_hi[CFG_MAX_BIND_PORTS];
	unsigned int nbind_ports;
	/* The line of the file that last set each key (0: not in it). */
	uint32_t key_line[CFG_NKEYS];
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

/* cfg_match, and the rule that decided in *rule (NULL: a built-in
 * default). */
enum cfg_action cfg_match_rule(const struct cfg *c, const struct sockaddr *sa,
			       socklen_t salen, const struct cfg_rule **rule);

/* The action for a listening socket's local address (the same rules,
 * matched with the local port): like cfg_match, but of the built-in
 * defaults only loopback is kept local, not the unspecified address (a
 * wildcard listener is what a call-back uses). */
enum cfg_action cfg_match_local(const struct cfg *c, const struct sockaddr *sa,
				socklen_t salen);

/* 1 when port is in one of the bind_ports ranges. */
int cfg_bind_port(const struct cfg *c, uint16_t port);

/* Parses auto, always, never.  Returns 0 or -1. */
int cfg_parse_bind(const char *s, enum cfg_bind *out);

/* The resolution mode in force: the file's `dns` key if given, else what
 * the proxy URL's scheme says. */
enum cfg_dns cfg_dns_mode(const struct cfg *c);

/* The action for a destination given by name (a placeholder's name): the
 * first rule that matches it — host rules by name, 'all' rules, both with
 * their ports — else CFG_PROXY.  Address (CIDR) rules never match a name,
 * and the loopback default does not apply. */
enum cfg_action cfg_match_name(const struct cfg *c, const char *name,
			       uint16_t port);

/* cfg_match_name, and the rule that decided in *rule (NULL: the
 * default, the proxy). */
enum cfg_action cfg_match_name_rule(const struct cfg *c, const char *name,
				    uint16_t port,
				    const struct cfg_rule **rule);

/* A rule as the file would say it ("route direct 10.0.0.0/8 80-443"), into
 * buf; returns what snprintf returns. */
int cfg_rule_text(const struct cfg_rule *r, char *buf, size_t len);

/* The file's name for key k ("proxy", "bind_timeout"). */
const char *cfg_key_name(enum cfg_key k);

/* The action for a name at every port, as far as it can be told without
 * a port (a lookup has none): 1 when every port of name goes direct by
 * the rules (so resolving it locally leaks nothing), else 0.  Errs toward
 * 0: an answer of 0 only means the name may be proxied at some port. */
int cfg_name_always_direct(const struct cfg *c, const char *name);

/* Parses "error", "warn", "info", "debug".  Returns 0 or -1. */
int cfg_parse_log_level(const char *s, enum cfg_log_level *out);

/* Parses yes/no (also on/off, true/false, 1/0; any case) into *out (1 or
 * 0).  Returns 0 or -1. */
int cfg_parse_bool(const char *s, int *out);

#endif
