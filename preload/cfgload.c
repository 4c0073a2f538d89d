/*
 * cfgload.c - finding, reading and loading the configuration (contract in
 * proxy.h: sfy_config, sfy_config_err, sfy_slurp), around the loader the
 * launcher shares (cfgfind.c).
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

#include "cfgfind.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

enum { CFG_UNLOADED = 0, CFG_OK, CFG_BROKEN };

static struct cfg g_cfg;
static char g_file[4096]; /* the file it came from ("": none) */
static char g_err[768];
static atomic_int g_state;
static pthread_mutex_t g_cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_transient_logged;
static pthread_once_t g_cfg_once = PTHREAD_ONCE_INIT;

static void cfg_note(const char *msg)
{
	sfy_log(SFY_LOG_DEBUG, "%s", msg);
}

static ssize_t real_read(int fd, void *buf, size_t n)
{
	return sfy_real()->read(fd, buf, n);
}

static int real_close(int fd)
{
	return sfy_real()->close(fd);
}

static const struct cfg_io g_io = {
    .getenv = sfy_getenv,
    .read = real_read,
    .close = real_close,
    .note = cfg_note,
};

/* Contract in proxy.h. */
int sfy_slurp(const char *path, size_t max, char **text, size_t *len)
{
	return cfg_slurp(&g_io, path, max, text, len, NULL);
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

/* One attempt (locked).  Returns 0, -EINVAL (final, g_err set) or a
 * transient -errno. */
static int load_once(void)
{
	struct cfg_origin o;
	int rc;

	cfg_free(&g_cfg);
	cfg_init(&g_cfg);
	rc = cfg_load(&g_cfg, &o, &g_io, g_err, sizeof(g_err));
	/* (A password others may read is the launcher's to warn about,
	 * once, before the program starts: here every process of the
	 * program's tree would say it again.) */
	snprintf(g_file, sizeof(g_file), "%s", rc == 0 ? o.file : "");
	return rc;
}

const char *sfy_config_file(void)
{
	return g_file;
}

void sfy_rule_words(const struct cfg_rule *r, const struct sockaddr *sa,
		    char *buf, size_t cap)
{
	char text[400];
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	int any;

	if (r) {
		cfg_rule_text(r, text, sizeof(text));
		if (r->line && g_file[0])
			snprintf(buf, cap, "%s:%u %s", g_file,
				 (unsigned)r->line, text);
		else
			snprintf(buf, cap, "%s", text);
		return;
	}
	if (!sa) {
		snprintf(buf, cap, "the default");
		return;
	}
	any = sa->sa_family == AF_INET
		  ? s4->sin_addr.s_addr == 0
		  : IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ||
			(IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
			 s6->sin6_addr.s6_addr32[3] == 0);
	snprintf(buf, cap, "%s",
		 any ? "the built-in rule for the unspecified address"
		     : "the built-in loopback rule");
}

/* The log goes where the configuration and the environment say, also
 * while the configuration cannot be read. */
static void configure_log(int loaded)
{
	const char *lvl = sfy_getenv("SOCKSIFY_LOG_LEVEL");
	const char *logfile = sfy_getenv("SOCKSIFY_LOG_FILE");
	enum cfg_log_level level = CFG_LOG_ERROR;

	if (loaded) { /* the variables are folded in */
		sfy_log_configure((int)g_cfg.log_level, g_cfg.log_file);
		return;
	}
	if (lvl && *lvl && cfg_parse_log_level(lvl, &level) < 0)
		level = CFG_LOG_ERROR;
	sfy_log_configure((int)level,
			  logfile && logfile[0] == '/' ? logfile : NULL);
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
