/*
 * launcher.h - the socksify launcher's parts: the options (main.c), the
 * configuration check and the trial of the proxy (check.c), and the rule
 * explanation (explain.c).  The launcher is an ordinary program: it is
 * never preloaded and may exit.
 */
#ifndef SOCKSIFY_LAUNCHER_H
#define SOCKSIFY_LAUNCHER_H

#include <sys/socket.h>

#include "cfgfind.h"
#include "config.h"

/* Exit statuses (socksify(1) EXIT STATUS). */
enum {
	EX_CHECK_PARTIAL = 1, /* --check: TCP works, UDP or BIND does not */
	EX_CHECK_FAILED = 2,  /* --check: the proxy cannot carry TCP */
	EX_USAGE_CFG = 125,   /* usage or configuration error */
	EX_CANNOT = 126,      /* the command cannot be socksified or run */
	EX_NOTFOUND = 127,    /* the command is not found */
};

/* What the options set, for --check's "where it came from". */
struct opts {
	const char *proxy_flag; /* -x's URL, NULL when not given */
	const char *conf_flag;	/* -f's file */
	int verbose, quiet;
};

/* The configuration as the program will load it, and where each part of
 * it came from.  Exits 125 with a message on a broken configuration when
 * fatal is set; otherwise returns -1 and leaves the reason in err. */
int load_config(struct cfg *c, struct cfg_origin *o, char *err, size_t len);

/* A plain libc struct cfg_io for the launcher's own process. */
extern const struct cfg_io launcher_io;

/* socksify --check [HOST:PORT]: returns the exit status. */
int run_check(const struct opts *op, const char *target);

/* socksify --explain HOST[:PORT]: returns the exit status. */
int run_explain(const struct opts *op, const char *target);

/* Runs path (argv) under the seccomp supervisor (supervise.c), which
 * carries its connects through the proxy of c; returns the exit status
 * (the program's, or 126 when the supervisor cannot be set up), or
 * SUPERVISE_NO_FILTER, with the reason in reason, when the program cannot
 * get the filter (it runs under another supervisor already): then nothing
 * has run and this process is as before the call. */
#define SUPERVISE_NO_FILTER (-1)
int supervise(const struct cfg *c, const char *path, char **argv, char *reason,
	      size_t rlen);

/* Splits "host:port", "[v6]:port", "host" (port 0) or a bare IPv6 literal
 * into host (no brackets) and *port.  Returns 0 or -1 with a reason. */
int split_target(const char *s, char *host, size_t hostlen, unsigned *port,
		 const char **why);

/* "1.2.3.4:80" or "[2001:db8::1]:80" into buf. */
void fmt_sockaddr(const struct sockaddr *sa, char *buf, size_t len);

/* The proxy's address (its name resolved here, as the library resolves
 * it) into *ss, and its text into name.  Returns 0, or -1 with a reason
 * in *why. */
int resolve_proxy(const struct cfg *c, struct sockaddr_storage *ss,
		  socklen_t *sslen, char *name, size_t namelen,
		  const char **why);

/* Prints the "where it came from" of key k (for --check): the flag, the
 * variable, "FILE:LINE" or "default". */
void origin_of(const struct opts *op, const struct cfg *c,
	       const struct cfg_origin *o, enum cfg_key k, char *buf,
	       size_t len);

#endif
