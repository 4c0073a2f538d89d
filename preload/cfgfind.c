/*
 * cfgfind.c - finding and loading the configuration (contract in
 * cfgfind.h).  Used by the shim under its configuration lock and by the
 * launcher, which thus checks the configuration with the very code the
 * program will load it with, in its own process.
 */
#include "cfgfind.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int cfg_transient(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOMEM ||
	       err == ENOBUFS || err == EAGAIN || err == EINTR || err == EIO;
}

/* Contract in cfgfind.h. */
int cfg_slurp(const struct cfg_io *io, const char *path, size_t max,
	      char **text, size_t *len, mode_t *mode)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	char *buf = NULL;
	int fd, err;

	/* O_NONBLOCK: a FIFO in the file's place must not hang us in
	 * open(); it is then refused as not a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	else if (st.st_size > (off_t)max)
		err = -EFBIG;
	else
		err = 0;
	if (err == 0 && (buf = malloc((size_t)st.st_size + 1)) == NULL)
		err = -ENOMEM;
	if (err < 0) {
		io->close(fd);
		return err;
	}
	while (got < (size_t)st.st_size) {
		n = io->read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			explicit_bzero(buf, got);
			free(buf);
			io->close(fd);
			return err;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	io->close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	if (mode)
		*mode = st.st_mode;
	return 0;
}

static void note_unused(const struct cfg_io *io, const char *path, int err)
{
	char msg[4200];

	if (!io->note)
		return;
	snprintf(msg, sizeof(msg),
		 "config file %s cannot be looked at (%s): not used", path,
		 strerrorname_np(err));
	io->note(msg);
}

/* Loads and parses path into c.  Returns 0, -ENOENT (no such file),
 * -EINVAL (a real problem, err set) or a transient -errno (err set).  A
 * default location (implicit) that we may not even look into (EACCES on a
 * directory of the path, a file where a directory should be) counts as
 * absent: it cannot hold this user's configuration. */
static int load_file(struct cfg *c, struct cfg_origin *o,
		     const struct cfg_io *io, const char *path, int implicit,
		     char *err, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	mode_t mode = 0;
	int rc = cfg_slurp(io, path, CFG_MAX_FILE_BYTES, &text, &len, &mode);

	if (rc == -ENOENT)
		return rc;
	if (implicit &&
	    (rc == -ENOTDIR || (rc == -EACCES && stat(path, &st) < 0 &&
				(errno == EACCES || errno == ENOENT)))) {
		note_unused(io, path, -rc);
		return -ENOENT;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot read config file %s: %s%s", path,
			 rc == -EINVAL ? "not a regular file"
			 : rc == -EFBIG
			     ? "larger than 1 MiB (the most a config file "
			       "may hold)"
			     : strerror(-rc),
			 cfg_transient(-rc) ? " (will try again)" : "");
		return cfg_transient(-rc) ? rc : -EINVAL;
	}
	rc = cfg_parse_text(c, text, len, path, err, errlen);
	explicit_bzero(text, len); /* it may hold a password */
	free(text);
	if (rc == -ENOMEM)
		return -ENOMEM;
	if (rc < 0)
		return -EINVAL;
	if (o) {
		snprintf(o->file, sizeof(o->file), "%s", path);
		o->file_mode = mode;
		o->secret_exposed = c->proxy.pass_len > 0 && (mode & S_IROTH);
	}
	return 0;
}

/* Finds and loads the file.  Returns 1 when a file was loaded, 0 when
 * none exists, or a negative value as load_file. */
static int find_and_load(struct cfg *c, struct cfg_origin *o,
			 const struct cfg_io *io, char *err, size_t errlen)
{
	const char *explicit_path = io->getenv("SOCKSIFY_CONF");
	const char *xdg = io->getenv("XDG_CONFIG_HOME");
	const char *home = io->getenv("HOME");
	const char *via = NULL;
	char path[4096];
	int rc;

	if (explicit_path && *explicit_path) {
		rc = load_file(c, o, io, explicit_path, 0, err, errlen);
		if (rc == -ENOENT) {
			snprintf(err, errlen,
				 "config file %s (SOCKSIFY_CONF) does not "
				 "exist",
				 explicit_path);
			return -EINVAL;
		}
		via = "SOCKSIFY_CONF";
		goto out;
	}
	path[0] = '\0';
	if (xdg && *xdg == '/') {
		snprintf(path, sizeof(path), "%s/socksify/socks.conf", xdg);
		via = "XDG_CONFIG_HOME";
	} else if (home && *home == '/') {
		snprintf(path, sizeof(path), "%s/.config/socksify/socks.conf",
			 home);
		via = "HOME";
	}
	if (path[0]) {
		rc = load_file(c, o, io, path, 1, err, errlen);
		if (rc != -ENOENT)
			goto out;
	}
	via = "system";
	rc = load_file(c, o, io, "/etc/socksify/socks.conf", 1, err, errlen);
	if (rc == -ENOENT)
		return 0;
out:
	if (rc < 0)
		return rc;
	if (o)
		o->file_via = via;
	return 1;
}

/* Parses a URL from the environment variable name into the proxy.  The
 * URL replaces the file's server and DNS choice; credentials from the file
 * are kept unless the URL brings its own. */
static int proxy_from_env(struct cfg *c, struct cfg_origin *o, const char *name,
			  const char *url, char *err, size_t errlen)
{
	struct cfg_proxy p;
	char why[256];

	memset(&p, 0, sizeof(p));
	if (cfg_parse_url(&p, url, why, sizeof(why)) < 0) {
		/* all_proxy is ALL_PROXY's lowercase form (curl's). */
		snprintf(err, errlen, "%s: %s",
			 strcmp(name, "all_proxy") == 0
			     ? "ALL_PROXY (all_proxy)"
			     : name,
			 why);
		return -EINVAL;
	}
	if (o)
		o->cred_from_file = p.user_len == 0 && c->proxy.user_len > 0;
	if (p.user_len == 0 && c->proxy.user_len > 0) {
		memcpy(p.user, c->proxy.user, sizeof(p.user));
		memcpy(p.pass, c->proxy.pass, sizeof(p.pass));
		p.user_len = c->proxy.user_len;
		p.pass_len = c->proxy.pass_len;
	}
	c->proxy = p;
	explicit_bzero(&p, sizeof(p));
	if (o)
		o->proxy_via = name;
	return 0;
}

/* True for the schemes honoured in ALL_PROXY (curl's convention). */
static int is_socks5_url(const char *url)
{
	return strncasecmp(url, "socks5://", 9) == 0 ||
	       strncasecmp(url, "socks5h://", 10) == 0;
}

/* The variables that override one key each, checked as the key is. */
static int env_overrides(struct cfg *c, struct cfg_origin *o,
			 const struct cfg_io *io, char *err, size_t errlen)
{
	const char *v;

	if ((v = io->getenv("SOCKSIFY_LOG_LEVEL")) && *v) {
		if (cfg_parse_log_level(v, &c->log_level) < 0) {
			snprintf(err, errlen,
				 "SOCKSIFY_LOG_LEVEL: bad level '%.40s' "
				 "(expected error, warn, info or debug)",
				 v);
			return -EINVAL;
		}
		c->log_level_set = 1;
		if (o)
			o->env_key[CFG_KEY_LOG_LEVEL] = "SOCKSIFY_LOG_LEVEL";
	}
	if ((v = io->getenv("SOCKSIFY_LOG_FILE")) && *v) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->log_file)) {
			snprintf(err, errlen, "SOCKSIFY_LOG_FILE: %s",
				 v[0] != '/' ? "must be an absolute path"
					     : "path is too long");
			return -EINVAL;
		}
		strcpy(c->log_file, v);
		if (o)
			o->env_key[CFG_KEY_LOG_FILE] = "SOCKSIFY_LOG_FILE";
	}
	if ((v = io->getenv("SOCKSIFY_ASYNC_CONNECT")) && *v) {
		if (cfg_parse_bool(v, &c->async_connect) < 0) {
			snprintf(err, errlen,
				 "SOCKSIFY_ASYNC_CONNECT: bad value '%.40s' "
				 "(expected yes or no)",
				 v);
			return -EINVAL;
		}
		if (o)
			o->env_key[CFG_KEY_ASYNC_CONNECT] =
			    "SOCKSIFY_ASYNC_CONNECT";
	}
	if ((v = io->getenv("SOCKSIFY_BIND")) && *v) {
		if (cfg_parse_bind(v, &c->bind) < 0) {
			snprintf(err, errlen,
				 "SOCKSIFY_BIND: bad value '%.40s' (expected "
				 "auto, always or never)",
				 v);
			return -EINVAL;
		}
		if (o)
			o->env_key[CFG_KEY_BIND] = "SOCKSIFY_BIND";
	}
	return 0;
}

/* Contract in cfgfind.h. */
int cfg_load(struct cfg *c, struct cfg_origin *o, const struct cfg_io *io,
	     char *err, size_t errlen)
{
	const char *url, *name = "ALL_PROXY";
	int file;

	if (o)
		memset(o, 0, sizeof(*o));
	if (errlen)
		err[0] = '\0';
	file = find_and_load(c, o, io, err, errlen);
	if (file < 0)
		return file;
	if (o && c->proxy.set)
		o->proxy_via = "file";
	url = io->getenv("SOCKSIFY_PROXY");
	if (url && *url) {
		if (proxy_from_env(c, o, "SOCKSIFY_PROXY", url, err, errlen) <
		    0)
			return -EINVAL;
	} else if (file == 0) {
		url = io->getenv("ALL_PROXY");
		if (!url || !*url) {
			url = io->getenv("all_proxy");
			name = "all_proxy";
		}
		if (url && is_socks5_url(url) &&
		    proxy_from_env(c, o, name, url, err, errlen) < 0)
			return -EINVAL;
	}
	if (!c->proxy.set) {
		snprintf(err, errlen,
			 "no proxy configured (use socksify -x URL, "
			 "SOCKSIFY_PROXY or a config file)");
		return -EINVAL;
	}
	return env_overrides(c, o, io, err, errlen);
}
