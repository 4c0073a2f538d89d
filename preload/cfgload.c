/*
 * cfgload.c - finding, reading and loading the configuration (contract in
 * proxy.h: sfy_config, sfy_config_err, sfy_slurp).
 *
 * Loaded lazily by the first hook that needs it, under g_cfg_lock with
 * cancellation disabled (it reads files: open and read are cancellation
 * points, and a thread cancelled half-way must not leave the lock held or
 * the configuration half-written).  A real configuration error is final:
 * every later call gets the same answer.  A transient one (EMFILE under a
 * low fd limit, ENOMEM...) is not: that call fails with its errno, one
 * line says so, and the next call tries again.
 */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "real.h"

#define MAX_CONF_BYTES (1u << 20)

enum { CFG_UNLOADED = 0, CFG_OK, CFG_BROKEN };

static struct cfg g_cfg;
static char g_err[768];
static atomic_int g_state;
static pthread_mutex_t g_cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_transient_logged;
static pthread_once_t g_cfg_once = PTHREAD_ONCE_INIT;

/* Contract in proxy.h. */
int sfy_slurp(const char *path, size_t max, char **text, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	char *buf;
	int fd, err;

	/* O_NONBLOCK: a FIFO in the config's place must not hang the
	 * program in open(); it is then refused as not a regular file. */
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
	if (err < 0) {
		sfy_real()->close(fd);
		return err;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		sfy_real()->close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		n = sfy_real()->read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			explicit_bzero(buf, got);
			free(buf);
			sfy_real()->close(fd);
			return err;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	sfy_real()->close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

/* Errors that say nothing about the configuration itself: the next call
 * may well succeed. */
static int transient(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOMEM ||
	       err == ENOBUFS || err == EAGAIN || err == EINTR || err == EIO;
}

/* Loads and parses path into g_cfg.  Returns 0, -ENOENT (no such file),
 * -EINVAL (a real problem, g_err set) or a transient -errno (g_err set).
 * A default location (implicit) that we may not even look into (EACCES
 * on a directory of the path, a file where a directory should be) counts
 * as absent: it cannot hold this user's configuration. */
static int load_file(const char *path, int implicit)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int rc = sfy_slurp(path, MAX_CONF_BYTES, &text, &len);

	if (rc == -ENOENT)
		return rc;
	if (implicit &&
	    (rc == -ENOTDIR || (rc == -EACCES && stat(path, &st) < 0 &&
				(errno == EACCES || errno == ENOENT)))) {
		sfy_log(SFY_LOG_DEBUG,
			"config file %s cannot be looked at (%s): not used",
			path, strerrorname_np(-rc));
		return -ENOENT;
	}
	if (rc < 0) {
		snprintf(g_err, sizeof(g_err),
			 "cannot read config file %s: %s%s", path,
			 rc == -EINVAL ? "not a regular file"
			 : rc == -EFBIG
			     ? "larger than 1 MiB (the most a config file "
			       "may hold)"
			     : strerror(-rc),
			 transient(-rc) ? " (will try again)" : "");
		return transient(-rc) ? rc : -EINVAL;
	}
	rc = cfg_parse_text(&g_cfg, text, len, path, g_err, sizeof(g_err));
	explicit_bzero(text, len); /* it may hold a password */
	free(text);
	if (rc == -ENOMEM)
		return -ENOMEM;
	return rc < 0 ? -EINVAL : 0;
}

/*
 * The variables the shim reads, as they were when it was loaded: a
 * program that empties its environment before its first connect (nginx
 * does, keeping only what its `env` directives name) still gets the proxy
 * it was started with.  A value the program sets itself wins.
 */
static const char *const g_env_names[] = {
    "SOCKSIFY_CONF",	  "XDG_CONFIG_HOME",   "HOME",
    "SOCKSIFY_PROXY",	  "ALL_PROXY",	       "all_proxy",
    "SOCKSIFY_LOG_LEVEL", "SOCKSIFY_LOG_FILE", "SOCKSIFY_ASYNC_CONNECT",
    "SOCKSIFY_BIND",
};
static char *g_env_at_load[sizeof(g_env_names) / sizeof(g_env_names[0])];

__attribute__((constructor)) static void env_at_load(void)
{
	size_t i;
	const char *v;

	for (i = 0; i < sizeof(g_env_names) / sizeof(g_env_names[0]); i++)
		if ((v = secure_getenv(g_env_names[i])) != NULL)
			g_env_at_load[i] = strdup(v);
}

const char *sfy_getenv(const char *name)
{
	const char *v = secure_getenv(name);
	size_t i;

	if (v)
		return v;
	for (i = 0; i < sizeof(g_env_names) / sizeof(g_env_names[0]); i++)
		if (strcmp(g_env_names[i], name) == 0)
			return g_env_at_load[i];
	return NULL;
}

/* Finds and loads the config file: $SOCKSIFY_CONF, then
 * $XDG_CONFIG_HOME/socksify/socks.conf (or ~/.config/...), then
 * /etc/socksify/socks.conf.  Returns 1 when a file was loaded, 0 when none
 * exists, or a negative value as load_file. */
static int find_and_load(void)
{
	const char *explicit_path = sfy_getenv("SOCKSIFY_CONF");
	const char *xdg = sfy_getenv("XDG_CONFIG_HOME");
	const char *home = sfy_getenv("HOME");
	char path[4096];
	int rc;

	if (explicit_path && *explicit_path) {
		rc = load_file(explicit_path, 0);
		if (rc == -ENOENT) {
			snprintf(
			    g_err, sizeof(g_err),
			    "config file %s (SOCKSIFY_CONF) does not exist",
			    explicit_path);
			return -EINVAL;
		}
		return rc < 0 ? rc : 1;
	}
	path[0] = '\0';
	if (xdg && *xdg == '/')
		snprintf(path, sizeof(path), "%s/socksify/socks.conf", xdg);
	else if (home && *home == '/')
		snprintf(path, sizeof(path), "%s/.config/socksify/socks.conf",
			 home);
	if (path[0]) {
		rc = load_file(path, 1);
		if (rc != -ENOENT)
			return rc < 0 ? rc : 1;
	}
	rc = load_file("/etc/socksify/socks.conf", 1);
	if (rc == -ENOENT)
		return 0;
	return rc < 0 ? rc : 1;
}

/* Parses a URL from the environment variable name into the proxy.  The
 * URL replaces the file's server and DNS choice; credentials from the file
 * are kept unless the URL brings its own.  Returns 0 or -EINVAL. */
static int proxy_from_env(const char *name, const char *url)
{
	struct cfg_proxy p;
	char why[256];

	memset(&p, 0, sizeof(p));
	if (cfg_parse_url(&p, url, why, sizeof(why)) < 0) {
		snprintf(g_err, sizeof(g_err), "%s: %s", name, why);
		return -EINVAL;
	}
	if (p.user_len == 0 && g_cfg.proxy.user_len > 0) {
		memcpy(p.user, g_cfg.proxy.user, sizeof(p.user));
		memcpy(p.pass, g_cfg.proxy.pass, sizeof(p.pass));
		p.user_len = g_cfg.proxy.user_len;
		p.pass_len = g_cfg.proxy.pass_len;
	}
	g_cfg.proxy = p;
	explicit_bzero(&p, sizeof(p));
	return 0;
}

/* True for the schemes we honour in ALL_PROXY (curl's convention). */
static int is_socks5_url(const char *url)
{
	return strncasecmp(url, "socks5://", 9) == 0 ||
	       strncasecmp(url, "socks5h://", 10) == 0;
}

/* One attempt (locked).  Returns 0, -EINVAL (final, g_err set) or a
 * transient -errno. */
static int load_once(void)
{
	const char *url;
	int file;

	cfg_free(&g_cfg);
	cfg_init(&g_cfg);
	file = find_and_load();
	if (file < 0)
		return file;
	url = sfy_getenv("SOCKSIFY_PROXY");
	if (url && *url) {
		if (proxy_from_env("SOCKSIFY_PROXY", url) < 0)
			return -EINVAL;
	} else if (file == 0) {
		url = sfy_getenv("ALL_PROXY");
		if (!url || !*url)
			url = sfy_getenv("all_proxy");
		if (url && is_socks5_url(url) &&
		    proxy_from_env("ALL_PROXY", url) < 0)
			return -EINVAL;
	}
	if (!g_cfg.proxy.set) {
		snprintf(g_err, sizeof(g_err),
			 "no proxy configured (use socksify -x URL, "
			 "SOCKSIFY_PROXY or a config file)");
		return -EINVAL;
	}
	return 0;
}

/* The log goes where the configuration and the environment say, also
 * while the configuration cannot be read. */
static void configure_log(int loaded)
{
	const char *lvl = sfy_getenv("SOCKSIFY_LOG_LEVEL");
	const char *logfile = sfy_getenv("SOCKSIFY_LOG_FILE");
	enum cfg_log_level level = loaded ? g_cfg.log_level : CFG_LOG_ERROR;

	if (lvl && *lvl && cfg_parse_log_level(lvl, &level) < 0)
		level = loaded ? g_cfg.log_level : CFG_LOG_ERROR;
	sfy_log_configure((int)level, logfile && *logfile ? logfile
				      : loaded		  ? g_cfg.log_file
							  : NULL);
}

static void cfg_prepare(void)
{
	pthread_mutex_lock(&g_cfg_lock);
}

static void cfg_parent(void)
{
	pthread_mutex_unlock(&g_cfg_lock);
}

static void cfg_child(void)
{
	pthread_mutex_init(&g_cfg_lock, NULL);
}

static void cfg_register(void)
{
	pthread_atfork(cfg_prepare, cfg_parent, cfg_child);
}

const struct cfg *sfy_config_err(const char **why, int *err)
{
	int rc = -EAGAIN, state, old;

	state = atomic_load_explicit(&g_state, memory_order_acquire);
	if (__builtin_expect(state == CFG_OK, 1))
		return &g_cfg;
	if (state == CFG_UNLOADED) {
		pthread_once(&g_cfg_once, cfg_register);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		pthread_mutex_lock(&g_cfg_lock);
		state = atomic_load_explicit(&g_state, memory_order_acquire);
		if (state == CFG_UNLOADED) {
			rc = load_once();
			configure_log(rc == 0);
			if (rc == 0 || rc == -EINVAL) {
				state = rc == 0 ? CFG_OK : CFG_BROKEN;
				atomic_store_explicit(&g_state, state,
						      memory_order_release);
			} else if (!g_transient_logged) {
				g_transient_logged = 1;
				sfy_log(SFY_LOG_ERROR,
					"%s: this call fails with %s; the "
					"next one tries again",
					rc == -ENOMEM && !g_err[0]
					    ? "out of memory loading the "
					      "configuration"
					    : g_err,
					strerrorname_np(-rc));
			}
		}
		pthread_mutex_unlock(&g_cfg_lock);
		pthread_setcancelstate(old, &old);
		if (state == CFG_OK)
			return &g_cfg;
		if (state == CFG_UNLOADED) {
			if (why)
				*why = g_err[0] ? g_err
						: "the configuration could not "
						  "be loaded";
			if (err)
				*err = -rc;
			return NULL;
		}
	}
	if (why)
		*why = g_err;
	if (err)
		*err = EACCES;
	return NULL;
}

const struct cfg *sfy_config(const char **why)
{
	return sfy_config_err(why, NULL);
}
