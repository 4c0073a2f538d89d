/*
 * log.h - the shim's logger.
 *
 * One write(2) per line, errno preserved, never stdout.  Lines start with
 * "socksify: " (errors) or "socksify: warning: " / "info: " / "debug: ".
 * Callers never pass a password.  The level and destination come from the
 * config, overridden by SOCKSIFY_LOG_LEVEL / SOCKSIFY_LOG_FILE.
 */
#ifndef SOCKSIFY_LOG_H
#define SOCKSIFY_LOG_H

enum sfy_log_level {
	SFY_LOG_ERROR = 0,
	SFY_LOG_WARN,
	SFY_LOG_INFO,
	SFY_LOG_DEBUG,
};

/* Current level: lines above it are dropped without formatting. */
extern int sfy_log_level;

/* Sets level and destination (path NULL or "" means stderr). */
void sfy_log_configure(int level, const char *path);

void sfy_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define sfy_log(level, ...)                                                    \
	do {                                                                   \
		if ((level) <= sfy_log_level)                                  \
			sfy_log_write((level), __VA_ARGS__);                   \
	} while (0)

#endif
