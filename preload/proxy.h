/*
 * proxy.h - the shim's process-wide state and the TCP handshake driver.
 *
 * The configuration is loaded once, lazily, from whichever hook first needs
 * it; the proxy's host name is resolved once, on first use, with the
 * re-entrancy guard set so that the resolver's own socket calls pass through
 * our hooks untouched.
 *
 * Every lock of the shim, in one place (they are never held together):
 *   g_resolve_lock (proxy.c)  held while resolving the proxy's name; a
 *                             child of fork() re-initialises it
 *   fdt_lock (fdtable.c)      held briefly around table operations; taken
 *                             around fork() by pthread_atfork handlers
 * The configuration is loaded under pthread_once (glibc re-runs an
 * interrupted once in a child of fork()).
 */
#ifndef SOCKSIFY_PROXY_H
#define SOCKSIFY_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

#include "config.h"
#include "socks5.h"

/* Nonzero while this thread is inside the shim's own resolver call: hooks
 * then pass everything through. */
extern __thread int sfy_busy __attribute__((tls_model("initial-exec")));

/* The configuration, loaded on first call.  NULL when it is broken; then
 * *why (if why is non-NULL) says "FILE:LINE: problem" or what is missing. */
const struct cfg *sfy_config(const char **why);

/* Connects fd (a TCP socket of family sock_family) through the proxy to
 * dst (an address or a name), honouring the configured timeout, and leaves
 * the socket's file status flags as they were.  desc names the
 * destination in the one log line written on failure.  Returns 0 or
 * -errno; on failure the socket is left unconnected. */
int sfy_tcp_connect(int fd, int sock_family, const struct s5_addr *dst,
		    const char *desc);

/* The same for any request (S5_CMD_*): on success *bnd (if non-NULL) gets
 * the reply's BND.ADDR/BND.PORT (for UDP ASSOCIATE, the relay). */
int sfy_socks_request(int fd, int sock_family, uint8_t cmd,
		      const struct s5_addr *dst, const char *desc,
		      struct s5_addr *bnd);

/* Which families the proxy has addresses in (resolving it if need be).
 * Returns 0, or -errno when the proxy cannot be resolved. */
int sfy_proxy_families(int *has4, int *has6);

/* Reads a whole regular file (at most max bytes) into a malloc'd,
 * NUL-terminated buffer, without hanging on a FIFO.  Returns 0, -ENOENT,
 * -EINVAL (not a regular file), -EFBIG, or another -errno. */
int sfy_slurp(const char *path, size_t max, char **text, size_t *len);

/* Milliseconds on the monotonic clock, for deadlines. */
long long sfy_now_ms(void);

/* Waits for ev on fd until the deadline (sfy_now_ms() based).  Returns 0
 * when ready (or in error: the next call says), -ETIMEDOUT, or -errno
 * (EINTR included: connect(2) promises it). */
int sfy_wait_fd(int fd, short ev, long long deadline);

/* Formats "1.2.3.4:80" or "[2001:db8::1]:80" into buf (always terminated). */
void sfy_fmt_addr(const struct sockaddr *sa, socklen_t len, char *buf,
		  size_t cap);

#define SFY_ADDRSTRLEN 64

#endif
