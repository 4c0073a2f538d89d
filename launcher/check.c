/*
 * check.c - socksify --check [HOST:PORT]: where each setting comes from,
 * then a trial of the proxy with the library's own handshake machine:
 * reach it, the method it chooses, authentication, CONNECT (to HOST:PORT,
 * or the handshake alone), UDP ASSOCIATE and BIND.  One line per step on
 * standard output; the exit status says how far it got.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handshake.h"
#include "launcher.h"
#include "socks5.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void step(const char *status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void step(const char *status, const char *fmt, ...)
{
	va_list ap;

	printf("%-4s  ", status);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void fmt_sockaddr(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	}
}

int resolve_proxy(const struct cfg *c, struct sockaddr_storage *ss,
		  socklen_t *sslen, char *name, size_t namelen,
		  const char **why)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", (unsigned)c->proxy.port);
	rc = getaddrinfo(c->proxy.host, port, &hints, &res);
	if (rc != 0 || !res) {
		*why = gai_strerror(rc ? rc : EAI_NONAME);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	fmt_sockaddr((const struct sockaddr *)ss, name, namelen);
	return 0;
}

void origin_of(const struct opts *op, const struct cfg *c,
	       const struct cfg_origin *o, enum cfg_key k, char *buf,
	       size_t len)
{
	const char *env = o->env_key[k];

	if (k == CFG_KEY_USERNAME || k == CFG_KEY_PASSWORD) {
		if (o->proxy_via && strcmp(o->proxy_via, "file") != 0 &&
		    !o->cred_from_file) {
			origin_of(op, c, o, CFG_KEY_PROXY, buf, len);
			return;
		}
		if (!c->key_line[k] && o->cred_from_file) {
			/* The file's proxy URL's, kept under a variable's. */
			snprintf(buf, len, "%s:%u", o->file,
				 (unsigned)c->key_line[CFG_KEY_PROXY]);
			return;
		}
		if (!c->key_line[k])
			k = CFG_KEY_PROXY; /* in the file's proxy URL */
	}
	if (k == CFG_KEY_PROXY && o->proxy_via &&
	    strcmp(o->proxy_via, "file") != 0) {
		snprintf(buf, len, "%s",
			 op->proxy_flag &&
				 strcmp(o->proxy_via, "SOCKSIFY_PROXY") == 0
			     ? "-x"
			     : o->proxy_via);
		return;
	}
	if (k == CFG_KEY_LOG_LEVEL && env && (op->quiet || op->verbose)) {
		snprintf(buf, len, "%s",
			 op->quiet	    ? "-q"
			 : op->verbose >= 2 ? "-vv"
					    : "-v");
		return;
	}
	if (env)
		snprintf(buf, len, "%s", env);
	else if (c->key_line[k])
		snprintf(buf, len, "%s:%u", o->file, (unsigned)c->key_line[k]);
	else
		snprintf(buf, len, "default");
}

static const char *dns_word(enum cfg_dns d)
{
	return d == CFG_DNS_REMOTE   ? "remote"
	       : d == CFG_DNS_TUNNEL ? "tunnel"
				     : "local";
}

/* The settings, one line each, with where each came from. */
static void show_config(const struct opts *op, const struct cfg *c,
			const struct cfg_origin *o)
{
	char from[4200], from2[4200], more[64];
	size_t i;

	if (o->file[0])
		step("ok", "config file %s (found by %s%s)", o->file,
		     o->file_via, op->conf_flag ? ", set by -f" : "");
	else
		step("-", "config file: none (looked for $SOCKSIFY_CONF, "
			  "~/.config/socksify/socks.conf, "
			  "/etc/socksify/socks.conf)");
	origin_of(op, c, o, CFG_KEY_PROXY, from, sizeof(from));
	step("ok", "proxy %s://%s%s%s:%u (from %s)",
	     c->proxy.dns == CFG_DNS_REMOTE ? "socks5h" : "socks5",
	     strchr(c->proxy.host, ':') ? "[" : "", c->proxy.host,
	     strchr(c->proxy.host, ':') ? "]" : "", (unsigned)c->proxy.port,
	     from);
	if (c->proxy.user_len) {
		origin_of(op, c, o, CFG_KEY_USERNAME, from, sizeof(from));
		step("ok", "credentials: user '%.*s' and a password (from %s)",
		     (int)c->proxy.user_len, c->proxy.user, from);
	}
	if (c->key_line[CFG_KEY_DNS])
		origin_of(op, c, o, CFG_KEY_DNS, from, sizeof(from));
	else
		snprintf(from, sizeof(from), "the proxy URL's scheme");
	step("ok", "dns %s (from %s)", dns_word(cfg_dns_mode(c)), from);
	origin_of(op, c, o, CFG_KEY_TIMEOUT, from, sizeof(from));
	step("ok", "timeout %d ms (from %s)", c->timeout_ms, from);
	/* log_file and bind_timeout may come from elsewhere than the key
	 * they share a line with: each says its own origin. */
	origin_of(op, c, o, CFG_KEY_LOG_LEVEL, from, sizeof(from));
	origin_of(op, c, o, CFG_KEY_LOG_FILE, from2, sizeof(from2));
	step("ok", "log_level %s (from %s)%s%s%s%s%s",
	     (const char *[]){"error", "warn", "info",
			      "debug"}[c->log_level & 3],
	     from, c->log_file[0] ? ", to " : "", c->log_file,
	     c->log_file[0] ? " (from " : "", c->log_file[0] ? from2 : "",
	     c->log_file[0] ? ")" : "");
	origin_of(op, c, o, CFG_KEY_ASYNC_CONNECT, from, sizeof(from));
	step("ok", "async_connect %s (from %s)",
	     c->async_connect ? "yes" : "no", from);
	origin_of(op, c, o, CFG_KEY_BIND, from, sizeof(from));
	origin_of(op, c, o, CFG_KEY_BIND_TIMEOUT, from2, sizeof(from2));
	step("ok", "bind %s (from %s), bind_timeout %d ms (from %s)",
	     c->bind == CFG_BIND_ALWAYS	 ? "always"
	     : c->bind == CFG_BIND_NEVER ? "never"
					 : "auto",
	     from, c->bind_timeout_ms, from2);
	for (i = 0; i < c->nrules; i++) {
		char text[400];

		cfg_rule_text(&c->rules[i], text, sizeof(text));
		snprintf(more, sizeof(more), "%u", (unsigned)c->rules[i].line);
		step("ok", "rule %zu: %s (from %s:%s)", i + 1, text, o->file,
		     more);
	}
	if (o->secret_exposed)
		step("warn",
		     "config file %s holds a password and other "
		     "users may read it (chmod o-r %s)",
		     o->file, o->file);
}

/* One connection to the proxy, with the steps it needs. */
struct trial {
	const struct cfg *c;
	struct sockaddr_storage proxy;
	socklen_t proxylen;
	char proxyname[INET6_ADDRSTRLEN + 8];
	long long deadline;
};

/* Waits for events on fd until the trial's deadline.  Returns 0 or
 * -ETIMEDOUT / -errno. */
static int wait_fd(const struct trial *t, int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	long long left;
	int n;

	for (;;) {
		left = t->deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Connects a new socket to the proxy.  Returns the fd or -errno. */
static int dial(struct trial *t)
{
	int fd, err = 0, rc;
	socklen_t elen = sizeof(err);

	t->deadline = now_ms() + t->c->timeout_ms;
	fd = socket(t->proxy.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&t->proxy, t->proxylen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			close(fd);
			return -err;
		}
		rc = wait_fd(t, fd, POLLOUT);
		if (rc == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 &&
		    err != 0)
			rc = -err;
		if (rc < 0) {
			close(fd);
			return rc;
		}
	}
	return fd;
}

/* Runs handshake h on fd.  With upto_request set, stops (successfully)
 * when the request is due: greeting and authentication only. */
static void drive(struct trial *t, int fd, struct hs *h, int upto_request)
{
	uint8_t *buf;
	size_t len;
	ssize_t n;
	int rc;

	for (;;) {
		enum hs_io io = hs_next(h, &buf, &len);

		if (io == HS_IO_DONE || io == HS_IO_FAIL)
			return;
		if (upto_request && h->state == HS_REQUEST) {
			h->state = HS_DONE;
			return;
		}
		rc = wait_fd(t, fd, io == HS_IO_WRITE ? POLLOUT : POLLIN);
		if (rc < 0) {
			h->failed_in = h->state;
			h->state = HS_FAILED;
			h->err = -rc;
			h->why = rc == -ETIMEDOUT ? "no answer in time"
						  : "cannot wait";
			return;
		}
		if (io == HS_IO_WRITE) {
			n = send(fd, buf, len, MSG_NOSIGNAL);
			if (n > 0)
				hs_wrote(h, (size_t)n);
		} else {
			n = recv(fd, buf, len, 0);
			if (n > 0)
				hs_got(h, (size_t)n);
			else if (n == 0)
				hs_eof(h);
		}
		if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) {
			hs_eof(h); /* a reset is a hang-up too */
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			h->failed_in = h->state;
			h->state = HS_FAILED;
			h->err = errno;
			h->why = "the connection to the proxy failed";
			return;
		}
	}
}

static const char *cmd_name(uint8_t cmd)
{
	return cmd == S5_CMD_CONNECT ? "CONNECT"
	       : cmd == S5_CMD_BIND  ? "BIND"
				     : "UDP ASSOCIATE";
}

static void fmt_s5(const struct s5_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->atyp == S5_ATYP_DOMAIN)
		snprintf(buf, len, "%s:%u", a->u.domain.name,
			 (unsigned)a->port);
	else if (inet_ntop(a->atyp == S5_ATYP_IPV4 ? AF_INET : AF_INET6,
			   a->u.v6, ip, sizeof(ip)))
		snprintf(buf, len,
			 a->atyp == S5_ATYP_IPV4 ? "%s:%u" : "[%s]:%u", ip,
			 (unsigned)a->port);
	else
		snprintf(buf, len, "?");
}

/* Why a request failed, in words a user can act on. */
static void failure(const struct hs *h, char *buf, size_t len)
{
	if (hs_hung_up(h)) { /* the reason names the request and the hint */
		snprintf(buf, len, "%s", h->why);
		return;
	}
	if (h->failed_in == HS_REPLY && h->rep)
		snprintf(buf, len, "refused: %s (%s)", s5_reply_str(h->rep),
			 strerrorname_np(h->err));
	else
		snprintf(buf, len, "%s (%s)", h->why ? h->why : "failed",
			 strerrorname_np(h->err));
}

/* One request on a new connection.  Returns 0 (granted: *bnd set) or -1
 * (the reason printed). *fdp gets the open connection on success. */
static int request(struct trial *t, uint8_t cmd, const struct s5_addr *dst,
		   struct s5_addr *bnd, int *fdp, struct hs *out)
{
	const struct cfg_proxy *p = &t->c->proxy;
	char why[512], what[300];
	struct hs h;
	int fd = dial(t);

	fmt_s5(dst, what, sizeof(what));
	if (fd < 0) {
		step("FAIL", "%s %s: cannot reach the proxy %s (%s)",
		     cmd_name(cmd), what, t->proxyname, strerrorname_np(-fd));
		return -1;
	}
	hs_init(&h, cmd, dst, p->user_len ? p->user : NULL, p->user_len,
		p->pass, p->pass_len);
	drive(t, fd, &h, 0);
	hs_wipe(&h);
	if (out)
		*out = h;
	if (h.state != HS_DONE) {
		failure(&h, why, sizeof(why));
		step(cmd == S5_CMD_CONNECT ? "FAIL" : "no", "%s %s: %s",
		     cmd_name(cmd), what, why);
		close(fd);
		return -1;
	}
	*bnd = h.bnd;
	*fdp = fd;
	return 0;
}

/* Finds the proxy's address (a name is resolved here, as the library
 * resolves it).  Returns 0 or -1 (said). */
static int proxy_address(struct trial *t)
{
	const char *why;

	if (resolve_proxy(t->c, &t->proxy, &t->proxylen, t->proxyname,
			  sizeof(t->proxyname), &why) < 0) {
		step("FAIL", "reach: cannot resolve the proxy's name %s: %s",
		     t->c->proxy.host, why);
		return -1;
	}
	return 0;
}

static const char *method_name(uint8_t m)
{
	return m == S5_METHOD_NOAUTH	 ? "no authentication"
	       : m == S5_METHOD_USERPASS ? "username/password (RFC 1929)"
					 : "none acceptable";
}

/* Reach, method and authentication: the handshake without a request.
 * Returns 0 or -1 (said). */
static int handshake_only(struct trial *t)
{
	const struct cfg_proxy *p = &t->c->proxy;
	struct s5_addr any = {.atyp = S5_ATYP_IPV4};
	long long t0 = now_ms();
	char why[512];
	struct hs h;
	int fd = dial(t);

	if (fd < 0) {
		step("FAIL", "reach %s: %s", t->proxyname,
		     strerrorname_np(-fd));
		return -1;
	}
	step("ok", "reach %s (TCP, %lld ms)", t->proxyname, now_ms() - t0);
	hs_init(&h, S5_CMD_CONNECT, &any, p->user_len ? p->user : NULL,
		p->user_len, p->pass, p->pass_len);
	drive(t, fd, &h, 1);
	hs_wipe(&h);
	close(fd);
	if (h.state != HS_DONE && h.failed_in <= HS_METHOD) {
		failure(&h, why, sizeof(why));
		step("FAIL", "method: %s", why);
		return -1;
	}
	step("ok", "method: the proxy chose %s", method_name(h.method));
	if (h.method == S5_METHOD_USERPASS) {
		if (h.state != HS_DONE) {
			failure(&h, why, sizeof(why));
			step("FAIL", "authentication: %s", why);
			return -1;
		}
		step("ok", "authentication: accepted");
	}
	return 0;
}

int run_check(const struct opts *op, const char *target)
{
	struct cfg c;
	struct cfg_origin o;
	struct trial t;
	struct s5_addr dst, bnd, any;
	char err[1024], host[300], name[300];
	const char *why;
	unsigned port = 0;
	int fd, status = 0;

	if (target &&
	    split_target(target, host, sizeof(host), &port, &why) < 0) {
		fprintf(stderr, "socksify: --check %s: %s\n", target, why);
		return EX_USAGE_CFG;
	}
	if (target && port == 0) {
		fprintf(stderr, "socksify: --check %s: give HOST:PORT\n",
			target);
		return EX_USAGE_CFG;
	}
	if (load_config(&c, &o, err, sizeof(err)) < 0) {
		step("FAIL", "config: %s", err);
		cfg_free(&c);
		return EX_USAGE_CFG;
	}
	show_config(op, &c, &o);
	memset(&t, 0, sizeof(t));
	t.c = &c;
	if (proxy_address(&t) < 0 || handshake_only(&t) < 0) {
		cfg_free(&c);
		return EX_CHECK_FAILED;
	}

	/* CONNECT: by name when the proxy resolves names. */
	if (target) {
		struct in6_addr a6;
		struct in_addr a4;

		memset(&dst, 0, sizeof(dst));
		if (inet_pton(AF_INET, host, &a4) == 1) {
			dst.atyp = S5_ATYP_IPV4;
			memcpy(dst.u.v4, &a4, 4);
			dst.port = (uint16_t)port;
		} else if (inet_pton(AF_INET6, host, &a6) == 1) {
			dst.atyp = S5_ATYP_IPV6;
			memcpy(dst.u.v6, &a6, 16);
			dst.port = (uint16_t)port;
		} else if (cfg_dns_mode(&c) == CFG_DNS_LOCAL) {
			struct addrinfo hints = {.ai_socktype = SOCK_STREAM},
					*res = NULL;
			int rc = getaddrinfo(host, NULL, &hints, &res);

			if (rc != 0 || !res) {
				step("FAIL",
				     "name %s: cannot resolve it here (dns "
				     "local): %s",
				     host, gai_strerror(rc));
				cfg_free(&c);
				return EX_CHECK_FAILED;
			}
			s5_addr_from_sockaddr(&dst, res->ai_addr,
					      res->ai_addrlen);
			dst.port = (uint16_t)port;
			fmt_s5(&dst, name, sizeof(name));
			step("ok", "name %s: resolved here to %s (dns local)",
			     host, name);
			freeaddrinfo(res);
		} else {
			s5_addr_domain(&dst, host, (uint16_t)port);
		}
		if (request(&t, S5_CMD_CONNECT, &dst, &bnd, &fd, NULL) == 0) {
			fmt_s5(&dst, name, sizeof(name));
			fmt_s5(&bnd, err, sizeof(err));
			step("ok", "CONNECT %s: granted (the proxy's end: %s)",
			     name, err);
			if (dst.atyp == S5_ATYP_DOMAIN)
				step("ok", "name %s: resolved by the proxy",
				     host);
			close(fd);
		} else {
			cfg_free(&c);
			return EX_CHECK_FAILED;
		}
	} else {
		step("-", "CONNECT: not tried (socksify --check HOST:PORT "
			  "tries one)");
	}

	/* UDP ASSOCIATE: from any address (we do not know ours yet). */
	memset(&any, 0, sizeof(any));
	any.atyp = t.proxy.ss_family == AF_INET6 ? S5_ATYP_IPV6 : S5_ATYP_IPV4;
	if (request(&t, S5_CMD_UDP_ASSOCIATE, &any, &bnd, &fd, NULL) == 0) {
		fmt_s5(&bnd, err, sizeof(err));
		step("ok", "UDP ASSOCIATE: granted (relay %s)", err);
		close(fd);
	} else {
		status = EX_CHECK_PARTIAL;
	}

	/* BIND: the first reply is where the proxy listens. */
	if (request(&t, S5_CMD_BIND, target ? &dst : &any, &bnd, &fd, NULL) ==
	    0) {
		fmt_s5(&bnd, err, sizeof(err));
		step("ok", "BIND: granted (the proxy listens at %s)", err);
		close(fd);
	} else {
		status = EX_CHECK_PARTIAL;
	}
	cfg_free(&c);
	return status;
}
