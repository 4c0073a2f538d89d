/*
 * proxy.h - the shim's process-wide state and the TCP handshake driver.
 *
 * The configuration is loaded lazily, from whichever hook first needs it
 * (cfgload.c); the proxy's host name is resolved on first use, with the
 * re-entrancy guard set so that the resolver's own socket calls pass
 * through our hooks untouched (proxy.c).
 *
 * Every lock of the shim, in one place.  None is held across a
 * cancellation point or a wait, and none is taken while another is held
 * (except fdt_lock inside a UDP association's, see udp.c):
 *   g_cfg_lock (cfgload.c)      while loading the configuration (file
 *                               reads, cancellation disabled); taken
 *                               around fork()
 *   g_publish_lock (proxy.c)    while publishing the proxy's resolved
 *                               addresses (a copy); re-initialised in a
 *                               child of fork()
 *   g_pending_lock (pending.c)  around the list of handshakes in progress;
 *                               taken around fork()
 *   fdt_lock (fdtable.c)        briefly around table operations; taken
 *                               around fork() by pthread_atfork handlers
 *   g_hosts_lock, g_direct_lock (resolve.c)   the /etc/hosts cache
 *                               (cancellation disabled while reading it)
 *                               and the direct-name addresses
 *   a->lock (udp.c)             one UDP association's recent names
 *   the placeholder table's robust process-shared mutex (names.c)
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

/* secure_getenv(name), or, when the program has emptied its environment
 * since, the value it had when the shim was loaded (cfgload.c). */
const char *sfy_getenv(const char *name);

/* The configuration, loaded on first call.  NULL when it is broken; then
 * *why (if why is non-NULL) says "FILE:LINE: problem" or what is missing. */
const struct cfg *sfy_config(const char **why);

/* The same; on NULL, *err (if non-NULL) gets EACCES for a broken
 * configuration (final: every later call gets the same), or the errno of
 * a transient failure to read it (EMFILE, ENOMEM...: the next call tries
 * again). */
const struct cfg *sfy_config_err(const char **why, int *err);

/* The config file the configuration came from ("" when none, or not
 * loaded yet). */
const char *sfy_config_file(void);

/* The rule that decided, for a log line, into buf: "FILE:LINE route
 * direct 10.0.0.0/8" (the rule as the file says it); for r NULL (a
 * built-in default) "the built-in loopback rule" or "the built-in rule
 * for the unspecified address" (as sa is; "the default" for no sa).
 * Formatting only: callers check sfy_log_level first. */
struct cfg_rule;
void sfy_rule_words(const struct cfg_rule *r, const struct sockaddr *sa,
		    char *buf, size_t cap);

/* libc's getaddrinfo with sfy_busy raised, lowered again also when the
 * thread is cancelled inside it. */
struct addrinfo;
int sfy_busy_getaddrinfo(const char *node, const char *service,
			 const struct addrinfo *hints, struct addrinfo **res);

/* What sfy_socks_request returns when the handshake succeeded but the
 * program closed the fd meanwhile (another thread's close(); the fd is
 * closed now, as it asked): there is nothing to record. */
#define SFY_CLOSED_MEANWHILE 1

/* Connects fd (a TCP socket of family sock_family) through the proxy to
 * dst (an address or a name), honouring the configured timeout, and leaves
 * the socket's file status flags as they were.  desc names the
 * destination in the one log line written on failure.  Returns 0,
 * SFY_CLOSED_MEANWHILE or -errno; on failure the socket is left
 * unconnected, with no error pending in SO_ERROR.  While it runs, fd is
 * pending (pending.h): the program's other threads do not see the
 * handshake.  A signal restarts the waits or fails the call with EINTR
 * as the kernel would (wait.h); on a blocking socket SO_SNDTIMEO bounds
 * the whole call (ETIMEDOUT).  flags: fd's F_GETFL when the caller has
 * just read it, else -1.  On success the socket may be left in the
 * kernel's "connecting" state (it is connected; a later connect() by the
 * program must be answered EISCONN by the hook). */
int sfy_tcp_connect(int fd, int sock_family, const struct s5_addr *dst,
		    const char *desc, int flags, struct s5_addr *bnd);

/* info->bnd/bndlen from a CONNECT reply's BND (what getsockname() shows
 * for a connection through the proxy: the proxy's end toward the
 * destination); left empty for an all-zero BND, a name or a family the
 * socket cannot show. */
struct sfy_fdinfo;
void sfy_bnd_record(struct sfy_fdinfo *info, int fd, int fam,
		    const struct s5_addr *bnd);

/* While set on this thread, sfy_socks_request logs a failure at info
 * level (a BIND made on speculation: the socket may connect instead);
 * sfy_last_why then keeps the reason (a static string, or NULL). */
extern __thread int sfy_quiet_failure
    __attribute__((tls_model("initial-exec")));
extern __thread const char *sfy_last_why
    __attribute__((tls_model("initial-exec")));

/* The same for any request (S5_CMD_*): on success *bnd (if non-NULL) gets
 * the reply's BND.ADDR/BND.PORT (for UDP ASSOCIATE, the relay). */
int sfy_socks_request(int fd, int sock_family, uint8_t cmd,
		      const struct s5_addr *dst, const char *desc,
		      struct s5_addr *bnd);

/*
 * The level for the line of a failure to reach dst (desc as logged, err
 * the errno): level, or SFY_LOG_DEBUG when dst is a name (a placeholder's)
 * whose same failure (desc and err) this process logged in the last
 * SFY_NAME_FAIL_MS.  A program given both placeholders of a name (IPv4
 * and IPv6: getaddrinfo with AF_UNSPEC) tries one, then the other, and
 * the proxy answers both alike: that is one failure to the user.  No
 * lock and no syscall (clock_gettime is the vDSO's): safe in a signal
 * handler and after fork().
 */
#define SFY_NAME_FAIL_MS 2000
/* What such a repeat's (debug) line ends with. */
#define SFY_FAIL_AGAIN " (again: logged once)"
int sfy_fail_level(const struct s5_addr *dst, const char *desc, int err,
		   int level);

/* Resolves the proxy (once); on failure logs "VERB DESC via PROXY failed:
 * why" and returns -errno. */
int sfy_proxy_prepare(const struct cfg *c, const char *verb, const char *desc);

/* Starts a non-blocking connect of fd (family fam) to proxy address *idx,
 * or the next ones when a connect fails at once.  Returns 0 (connected),
 * -EINPROGRESS (*idx is the address in flight; pbuf names it), -ENOENT
 * when *idx was past 0 and no address is left to try (the caller's last
 * error stands), or -errno with *why set when there is more to say.
 * Needs sfy_proxy_prepare. */
int sfy_proxy_start(int fd, int fam, int *idx, char *pbuf, size_t pcap,
		    const char **why);

/* After fd turned writable: the outcome of the connect to address idx
 * (connect() again, which also moves the socket to the connected state):
 * 0, -EINPROGRESS / -EALREADY (not yet), or the connect's -errno. */
int sfy_proxy_finish(int fd, int fam, int idx);

/* Dissolves fd's connection (connect AF_UNSPEC), leaving the kernel's
 * ECONNRESET in SO_ERROR (epoll then shows EPOLLERR, as after a failed
 * connect); sfy_disconnect also takes it. */
void sfy_dissolve(int fd);
void sfy_disconnect(int fd);

/* The sockaddr, for a socket of family fam, of a reply's BND.ADDR/PORT
 * on control connection ctl: an all-zero BND.ADDR means the proxy's own
 * address (ctl's peer); an IPv4 address becomes v4-mapped for an IPv6
 * socket.  Returns 0, -EPROTO (an address given by name), -ENETUNREACH
 * (an IPv6 address for an IPv4 socket) or -errno. */
int sfy_bnd_sockaddr(int ctl, int fam, const struct s5_addr *bnd,
		     struct sockaddr_storage *out, socklen_t *outlen);

/* *out (zeroed first) = the v4-mapped IPv6 form of in; returns its size.
 * in and out may not overlap. */
struct sockaddr_in;
struct sockaddr_in6;
socklen_t sfy_map_v4(const struct sockaddr_in *in, struct sockaddr_in6 *out);

/* 1 when a and b (AF_INET or AF_INET6) have the same family, address and
 * port. */
int sfy_same_sockaddr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b);

/* Starts a detached thread running fn(arg) with every signal blocked (the
 * program's handlers never run on it) and a stack of stack bytes.
 * Returns 0 or -errno. */
int sfy_start_thread(void *(*fn)(void *), void *arg, size_t stack);

/* Which families the proxy has addresses in (resolving it if need be).
 * Returns 0, or -errno when the proxy cannot be resolved. */
int sfy_proxy_families(int *has4, int *has6);

/* Reads a whole regular file (at most max bytes) into a malloc'd,
 * NUL-terminated buffer, without hanging on a FIFO.  Returns 0, -ENOENT,
 * -EINVAL (not a regular file), -EFBIG, or another -errno. */
int sfy_slurp(const char *path, size_t max, char **text, size_t *len);

/* Formats "1.2.3.4:80" or "[2001:db8::1]:80" into buf (always terminated). */
void sfy_fmt_addr(const struct sockaddr *sa, socklen_t len, char *buf,
		  size_t cap);

#define SFY_ADDRSTRLEN 64

#endif
