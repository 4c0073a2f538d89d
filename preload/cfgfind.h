/*
 * cfgfind.h - finding and loading the configuration, shared by the shim
 * (cfgload.c) and the launcher: the file search, the proxy URL from the
 * environment, the variables that override the file's keys, and a record
 * of where each setting came from.
 *
 * No globals and no hooks: file reads, the environment and notes go
 * through the caller's struct cfg_io, so the shim can use its real libc
 * entry points and the launcher plain libc.
 */
#ifndef SOCKSIFY_CFGFIND_H
#define SOCKSIFY_CFGFIND_H

#include <stddef.h>
#include <sys/types.h>
#include <unistd.h>

#include "config.h"

#define CFG_MAX_FILE_BYTES (1u << 20)

struct cfg_io {
	/* secure_getenv, or the shim's memory of the environment. */
	const char *(*getenv)(const char *name);
	ssize_t (*read)(int fd, void *buf, size_t n);
	int (*close)(int fd);
	/* A debug note (may be NULL). */
	void (*note)(const char *msg);
};

/* Where the configuration came from.  Names point at static strings. */
struct cfg_origin {
	char file[4096];       /* the file read, "" when none */
	const char *file_via;  /* SOCKSIFY_CONF, XDG_CONFIG_HOME, HOME or
				  "system" (/etc), NULL when none */
	const char *proxy_via; /* "file", SOCKSIFY_PROXY, ALL_PROXY or
				  all_proxy */
	int cred_from_file;    /* the credentials are the file's */
	/* The environment variable that overrode each key (NULL: none). */
	const char *env_key[CFG_NKEYS];
	int secret_exposed; /* the file holds a password others may read */
	mode_t file_mode;
};

/* Reads a whole regular file (at most max bytes) into a malloc'd,
 * NUL-terminated buffer, without hanging on a FIFO.  *mode (if non-NULL)
 * gets the file's mode.  Returns 0, -ENOENT, -EINVAL (not a regular file),
 * -EFBIG, or another -errno. */
int cfg_slurp(const struct cfg_io *io, const char *path, size_t max,
	      char **text, size_t *len, mode_t *mode);

/* Errors that say nothing about the configuration itself (EMFILE,
 * ENOMEM...): a later attempt may succeed. */
int cfg_transient(int err);

/*
 * Loads the configuration into c (cfg_init'ed by the caller, cfg_free'd
 * after): the file ($SOCKSIFY_CONF, else $XDG_CONFIG_HOME/socksify/
 * socks.conf or ~/.config/socksify/socks.conf, else
 * /etc/socksify/socks.conf), then SOCKSIFY_PROXY (else, with no file, a
 * socks5:// or socks5h:// ALL_PROXY / all_proxy), then SOCKSIFY_LOG_LEVEL,
 * SOCKSIFY_LOG_FILE, SOCKSIFY_ASYNC_CONNECT and SOCKSIFY_BIND, each
 * checked as strictly as the key it overrides.  o (may be NULL) gets where
 * each part came from.  Returns 0, -EINVAL (a real problem: err says what,
 * "FILE:LINE: ..." for the file's) or a transient -errno (err set).
 */
int cfg_load(struct cfg *c, struct cfg_origin *o, const struct cfg_io *io,
	     char *err, size_t errlen);

#endif
