/*
 * asyncconn.c - a non-blocking connect() to a proxied destination, as an
 * event loop sees it (issue 8: asynchronous connect).  Run under the shim
 * against the fake server (tests/fake/fake_socks5.py --mark FILE) on
 * 127.0.0.1:1080, the destination 203.0.113.5:80 (reachable only through
 * the proxy).  The suite is tests/lab/asyncmatrix.sh.
 *
 * The contract: connect() returns -1 EINPROGRESS at once; nothing reports
 * the socket writable until the proxy has answered, then every readiness
 * call does (once per edge for EPOLLET); SO_ERROR then gives 0, or the
 * errno README's table maps the failure to, exactly once; the socket
 * behaves as a kernel socket in SYN_SENT meanwhile (EAGAIN, EALREADY,
 * ENOTCONN), and after (EISCONN, the destination as the peer, the relayed
 * stream).
 *
 * The order of events is checked against the fake server's --mark file
 * (ASYNC_MARK), which gets a line just before the server writes each final
 * answer: a socket reported writable (or failed) while the file has fewer
 * lines than that are the answers seen was reported early.
 *
 *   asyncconn matrix [VARIANT...]  (slow_ok, one connection per variant)
 *       every readiness call: poll ppoll select pselect; epoll_wait with
 *       level, EPOLLET, EPOLLET|EPOLLONESHOT, EPOLLEXCLUSIVE, registered
 *       before or after connect(); epoll_pwait, epoll_pwait2; an epoll fd
 *       in another epoll set and watched by poll(); the waiter in another
 *       thread; the connect made by a thread that exits
 *   asyncconn pending              (slow_ok) while the handshake runs:
 *       send/write/sendmsg/recv/read/recvmsg EAGAIN, connect EALREADY,
 *       getpeername ENOTCONN, SO_ERROR 0; after it EISCONN; the server
 *       gets only the bytes sent after completion (ASYNC_LOG)
 *   asyncconn fail SPEC...         (one server scenario per SPEC, in order)
 *       SPEC = ERRNAME[:poll|epoll|select][:retry][:min=MS]: the socket
 *       becomes writable (POLLERR/POLLHUP allowed) only after the server's
 *       answer (min=MS: not before MS ms, for a silent server), SO_ERROR is
 *       ERRNAME once, then 0; retry: connecting again starts afresh and
 *       fails the same way (takes the next scenario)
 *   asyncconn close MODE...        (slow_ok; one warm-up connection, then
 *       one per MODE) close, close_range, closefrom or dup2 over the
 *       pending socket: no fd left behind, a thread polling it comes back,
 *       the proxy sees the connection end (ASYNC_LOG)
 *   asyncconn fork MODE...         (slow_ok) parent_first, child_first,
 *       both, parent_exits: each process sees the socket complete; a child
 *       whose parent exited gets completion or ETIMEDOUT, never hangs
 *   asyncconn blocking MODE...     (slow_ok) O_NONBLOCK cleared while
 *       pending: send (waits for the handshake), recv (waits, then the
 *       stream), sndtimeo (SO_SNDTIMEO 150 ms: EAGAIN after that time)
 *   asyncconn sigio                (slow_ok) O_ASYNC + F_SETOWN: a SIGIO
 *       after which the socket is writable
 *   asyncconn sigstorm restart|norestart N  (slow_ok_20ms) N connects and
 *       their completion under a 1 ms SIGALRM: no EINTR anywhere
 *   asyncconn many poll|epoll N    (slow_ok) N connects pending at once:
 *       all complete, none early; EPOLLET: one event each
 *   asyncconn off RESULT...        (async_connect no) connect() does the
 *       handshake itself: RESULT 0 or ERRNAME, synchronously
 *   asyncconn edge CASE...         regressions found in review:
 *       forkefd (slow_ok_20ms, 5 connections a round, 6 rounds) a child's
 *           eventfd numbers are not the parent's: a pipe there gets
 *           nothing, the parent's connects complete, nothing hangs;
 *       dupalias (slow_ok) a dup made before connect(): not writable
 *           before the answer, nothing written on it in the handshake;
 *       forkclose (slow_ok) the parent closes its copy after fork: the
 *           child gets the connection;
 *       unseen (slow_ok x2) a pending socket closed by a raw syscall: the
 *           pipe at its number works at once, a new socket there connects;
 *       sscon (ok_v4 x4, route direct 127.0.0.1) a blocking proxied
 *           connection: connect() and sendto(MSG_FASTOPEN) anywhere give
 *           EISCONN (as the kernel), AF_UNSPEC dissolves it;
 *       stalepeer (ok_v4, route direct 127.0.0.1) fclose behind the shim's
 *           back: a direct socket at that number has the direct peer;
 *       forkpeer (slow_ok x2) a connect finished by the parent has its
 *           destination in the child, after the child's own too;
 *       cancel (slow_ok x4) a poll() thread cancelled: eventfds do not
 *           grow; epfail (slow_rep_05) a refusal in epoll: OUT|ERR|HUP,
 *           SO_ERROR ECONNREFUSED once
 *   asyncconn list                 the matrix's variants, one a line
 *
 *   asyncconn --control SUBCOMMAND ...   the same checks without the shim,
 *       against the kernel: a listener in this process whose accept queue
 *       is full drops the SYNs until it is "released" ASYNC_DELAY_MS later
 *       (the release is the answer line; the retransmitted SYN gets through
 *       about a second after the connect, or an RST for fail specs).
 *       Validates the probe's own logic.
 *   asyncconn --control-early SUBCOMMAND ...  the same, but the connects
 *       complete at once and the "answer" comes later: a mutant whose
 *       every order-of-events check must fail (the probe sees an early
 *       report when there is one).
 *
 * Environment: ASYNC_DST (203.0.113.5:80), ASYNC_MARK, ASYNC_LOG (the fake
 * server's --log), ASYNC_DELAY_MS (400: the server's delay),
 * ASYNC_TIMEOUT_MS (3000: the config's timeout).
 *
 * One "ok:"/"FAIL:" line per fact (fact.h), each tagged "[variant]";
 * "skip:" for what cannot be checked here.  Exit status 1 on any FAIL, 3
 * when the watchdog found a call blocked for good.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fact.h"

#define BANNER	   "SERVER-FIRST-BYTES"
#define BANNER_LEN 18
#define MAXCONN	   256

static struct sockaddr_in dst;
static int delay_ms = 400;    /* the server's delay before its answer */
static int timeout_ms = 3000; /* the config's timeout */
static const char *mark_path; /* the fake server's --mark file */
static const char *log_path;  /* the fake server's --log file */
static int control;	      /* --control: no shim, the kernel's answers */

/* ------------------------------------------------------------ output */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static char tag[96];

static void settag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void check(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void settag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tag, sizeof(tag), fmt, ap);
	va_end(ap);
}

static void check(int ok, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&out_mu);
	fact(ok, "[%s] %s", tag, msg);
	pthread_mutex_unlock(&out_mu);
}

static void note(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&out_mu);
	printf("skip: [%s] %s\n", tag, msg);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *ename(int e)
{
	const char *n;

	if (e == 0)
		return "0";
	n = strerrorname_np(e);
	return n ? n : "E?";
}

static int errno_by_name(const char *name)
{
	int e;

	if (!strcmp(name, "0"))
		return 0;
	for (e = 1; e < 256; e++) {
		const char *n = strerrorname_np(e);

		if (n && !strcmp(n, name))
			return e;
	}
	fprintf(stderr, "asyncconn: unknown errno name %s\n", name);
	exit(2);
}

/* "rc errno" of a call: "0", "5", "-1 EAGAIN". */
static const char *res(long rc, int err)
{
	static char buf[4][48];
	static int i;
	char *b = buf[i++ % 4];

	if (rc < 0)
		snprintf(b, sizeof(buf[0]), "-1 %s", ename(err));
	else
		snprintf(b, sizeof(buf[0]), "%ld", rc);
	return b;
}

static const char *evstr(unsigned ev)
{
	static char buf[4][96];
	static int i;
	char *b = buf[i++ % 4];
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{POLLIN, "IN"},	  {POLLPRI, "PRI"}, {POLLOUT, "OUT"},
		     {POLLERR, "ERR"},	  {POLLHUP, "HUP"}, {POLLNVAL, "NVAL"},
		     {POLLRDHUP, "RDHUP"}};
	size_t k;

	b[0] = 0;
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (ev & names[k].bit) {
			if (b[0])
				strcat(b, "|");
			strcat(b, names[k].name);
		}
	if (!b[0])
		strcpy(b, "none");
	return b;
}

/* ------------------------------------------------------------ watchdog */

/* A blocking call that never returns would hang the run: the watchdog
 * thread reports it by name and ends the process (exit status 3). */
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static long wd_deadline;
static char wd_what[160];

static void *wd_thread(void *arg)
{
	(void)arg;
	for (;;) {
		sleep_ms(50);
		pthread_mutex_lock(&wd_mu);
		if (wd_deadline && now_ms() > wd_deadline) {
			printf("FAIL: [%s] %s: still blocked (watchdog)\n", tag,
			       wd_what);
			fflush(stdout);
			_exit(3);
		}
		pthread_mutex_unlock(&wd_mu);
	}
	return NULL;
}

static void wd_arm(long ms, const char *what)
{
	pthread_mutex_lock(&wd_mu);
	wd_deadline = now_ms() + ms;
	snprintf(wd_what, sizeof(wd_what), "%s", what);
	pthread_mutex_unlock(&wd_mu);
}

static void wd_disarm(void)
{
	pthread_mutex_lock(&wd_mu);
	wd_deadline = 0;
	pthread_mutex_unlock(&wd_mu);
}

/* Helper threads take no signals (the storms, SIGIO are the main
 * thread's business). */
static int spawn_quiet(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void wd_start(void)
{
	pthread_t t;

	pthread_mutex_init(&wd_mu, NULL); /* after fork: a fresh lock */
	wd_deadline = 0;
	if (spawn_quiet(&t, wd_thread, NULL) == 0)
		pthread_detach(t);
}

/* ------------------------------------------------------------ control */

/* The control server (--control): a listener whose accept queue is held
 * full by a filler connection, so that the kernel drops the SYNs of the
 * connects under test; ASYNC_DELAY_MS after ctl_arm() it is released (the
 * backlog grows, or with fail the listener closes): the connects' SYN
 * retransmission (about a second after the connect) then completes, or
 * meets an RST (ECONNREFUSED).  Each release counts as "the answer" for
 * every connect pending on it; the count lives in shared memory so that
 * forked children see it. */
struct ctl_shared {
	long releases;
};
static struct ctl_shared *ctl_sh;
static struct {
	pthread_mutex_t mu;
	int lfd, filler, fail, blocked;
	long release_at;
	struct sockaddr_in addr;
	int conns[MAXCONN];
	int nconns;
} ctl = {.mu = PTHREAD_MUTEX_INITIALIZER, .lfd = -1, .filler = -1};

static int ctl_listen(void)
{
	int one = 1;
	socklen_t al = sizeof(ctl.addr);

	ctl.lfd =
	    socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl.lfd < 0)
		return -1;
	setsockopt(ctl.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ctl.lfd, (struct sockaddr *)&ctl.addr, sizeof(ctl.addr)) < 0 ||
	    listen(ctl.lfd, 0) < 0 ||
	    getsockname(ctl.lfd, (struct sockaddr *)&ctl.addr, &al) < 0) {
		perror("asyncconn: control listener");
		exit(2);
	}
	return 0;
}

static void ctl_accept_all(void)
{
	int a;

	while (ctl.lfd >= 0 &&
	       (a = accept4(ctl.lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		if (send(a, BANNER, BANNER_LEN, MSG_NOSIGNAL) < 0 ||
		    ctl.nconns >= MAXCONN)
			close(a);
		else
			ctl.conns[ctl.nconns++] = a;
	}
}

static void *ctl_thread(void *arg)
{
	(void)arg;
	for (;;) {
		sleep_ms(2);
		pthread_mutex_lock(&ctl.mu);
		if (ctl.blocked && now_ms() >= ctl.release_at) {
			/* The "answer" is counted before it is given. */
			__atomic_add_fetch(&ctl_sh->releases, 1,
					   __ATOMIC_SEQ_CST);
			if (ctl.fail) {
				close(ctl.lfd);
				ctl.lfd = -1;
			} else {
				listen(ctl.lfd, 4096);
			}
			close(ctl.filler);
			ctl.filler = -1;
			ctl.blocked = 0;
		}
		if (!ctl.blocked)
			ctl_accept_all();
		pthread_mutex_unlock(&ctl.mu);
	}
	return NULL;
}

static void ctl_init(void)
{
	pthread_t t;

	ctl_sh = mmap(NULL, sizeof(*ctl_sh), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl_sh == MAP_FAILED) {
		perror("asyncconn: mmap");
		exit(2);
	}
	ctl.addr.sin_family = AF_INET;
	ctl.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ctl_listen();
	dst = ctl.addr;
	if (spawn_quiet(&t, ctl_thread, NULL) != 0) {
		perror("asyncconn: control thread");
		exit(2);
	}
	pthread_detach(t);
}

/* Makes the next connects wait (control only); fail: they are refused. */
static void arm_fail(int fail)
{
	struct tcp_info ti;
	socklen_t tl;
	long t0;

	if (!control)
		return;
	pthread_mutex_lock(&ctl.mu);
	if (ctl.lfd < 0)
		ctl_listen();
	if (control == 2) {
		/* --control-early: the connects complete at once, the
		 * "answer" still comes later: every check of the order of
		 * events must fail. */
		listen(ctl.lfd, 4096);
		ctl.blocked = 1;
		ctl.fail = 0;
		ctl.release_at = now_ms() + delay_ms;
		pthread_mutex_unlock(&ctl.mu);
		return;
	}
	listen(ctl.lfd, 0);
	ctl_accept_all(); /* an empty queue, then the filler fills it */
	ctl.filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl.filler < 0 || connect(ctl.filler, (struct sockaddr *)&ctl.addr,
				      sizeof(ctl.addr)) < 0) {
		perror("asyncconn: control filler");
		exit(2);
	}
	for (t0 = now_ms(); now_ms() - t0 < 1000; sleep_ms(1)) {
		tl = sizeof(ti);
		if (getsockopt(ctl.lfd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
		    ti.tcpi_unacked >= 1)
			break;
	}
	ctl.blocked = 1;
	ctl.fail = fail;
	ctl.release_at = now_ms() + delay_ms;
	pthread_mutex_unlock(&ctl.mu);
}

static void arm(void)
{
	arm_fail(0);
}

/* ------------------------------------------------------------ markers */

static int have_marker(void)
{
	return control || mark_path;
}

/* n: the answers given since a moment. */
static const char *answered(long n)
{
	return n > 0 ? "answered" : "not answered yet";
}

/* How many final answers the server has given (or is about to give):
 * lines in the --mark file; under --control, releases (each one counts as
 * the answer to every connect pending on it). */
static long replies_sent(void)
{
	char buf[4096];
	long n = 0;
	ssize_t r, i;
	int fd;

	if (control)
		return __atomic_load_n(&ctl_sh->releases, __ATOMIC_SEQ_CST) *
		       1000000L;
	if (!mark_path)
		return 0;
	fd = open(mark_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < r; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

/* ------------------------------------------------------------ server log */

static long log_size(void)
{
	struct stat st;

	if (!log_path || stat(log_path, &st) < 0)
		return 0;
	return (long)st.st_size;
}

/* The server log from byte off on, NUL-terminated (malloc'ed), or NULL. */
static char *log_since(long off)
{
	FILE *f;
	char *b;
	long n;

	if (!log_path || !(f = fopen(log_path, "re")))
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f) - off;
	if (n < 0)
		n = 0;
	fseek(f, off, SEEK_SET);
	b = malloc((size_t)n + 1);
	if (!b) {
		fclose(f);
		return NULL;
	}
	n = (long)fread(b, 1, (size_t)n, f);
	b[n] = 0;
	fclose(f);
	return b;
}

/* Lines since off that start with one of the words in the list. */
static int log_count(long off, const char *const *words)
{
	char *b = log_since(off), *l, *save = NULL;
	int n = 0, k;

	if (!b)
		return 0;
	for (l = strtok_r(b, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		for (k = 0; words[k]; k++)
			if (!strncmp(l, words[k], strlen(words[k])))
				n++;
	free(b);
	return n;
}

static const char *const end_words[] = {"eof", "short", NULL};

/* Waits (up to ms) for the server to see the end of a connection after
 * off; returns the time it took, or -1. */
static long log_wait_end(long off, int want, long ms)
{
	long t0 = now_ms();

	while (log_count(off, end_words) < want) {
		if (now_ms() - t0 > ms)
			return -1;
		sleep_ms(10);
	}
	return now_ms() - t0;
}

static void hex(const void *p, size_t n, char *out)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

/* What the server saw of the one connection made since off: the CONNECT
 * request for dst, exactly once, and then exactly want_app as application
 * data (none if it is empty).  Waits for the connection's end first. */
static void log_check(long off, const char *want_app)
{
	char req[64], app[256], *b, *l, *save = NULL;
	unsigned char r[10] = {5, 1, 0, 1};
	int nreq = 0, reqok = 0;
	char seen_app[600] = "";

	if (!log_path) {
		note("no ASYNC_LOG: what the server received is not checked");
		return;
	}
	memcpy(r + 4, &dst.sin_addr, 4);
	memcpy(r + 8, &dst.sin_port, 2);
	hex(r, sizeof(r), req);
	hex(want_app, strlen(want_app), app);
	log_wait_end(off, 1, 2000);
	b = log_since(off);
	for (l = b ? strtok_r(b, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "request ", 8)) {
			nreq++;
			reqok += !strcmp(l + 8, req);
		} else if (!strncmp(l, "app ", 4) || !strncmp(l, "raw ", 4)) {
			snprintf(seen_app + strlen(seen_app),
				 sizeof(seen_app) - strlen(seen_app), "%s%s",
				 seen_app[0] ? "+" : "", l);
		}
	}
	free(b);
	check(nreq == 1 && reqok == 1,
	      "the server got one CONNECT request, %s: saw %d (%d of them "
	      "right)",
	      req, nreq, reqok);
	if (want_app[0]) {
		char want[300];

		snprintf(want, sizeof(want), "app %s", app);
		check(!strcmp(seen_app, want),
		      "after the request the server got exactly what was sent "
		      "after completion ('%s'): expected '%s', saw '%s'",
		      want_app, want, seen_app[0] ? seen_app : "nothing");
	} else {
		check(!seen_app[0],
		      "after the request the server got nothing: saw '%s'",
		      seen_app);
	}
}

/* ------------------------------------------------------------ fds */

static int count_fds_raw(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own */
}

/* The process's fds, less the control server's. */
static int count_fds(void)
{
	int n;

	if (!control)
		return count_fds_raw();
	pthread_mutex_lock(&ctl.mu);
	n = count_fds_raw() - (ctl.lfd >= 0) - (ctl.filler >= 0) - ctl.nconns;
	pthread_mutex_unlock(&ctl.mu);
	return n;
}

/* ------------------------------------------------------------ connect */

struct conn_try {
	int rc, err;
	long t0, ms;
	long base, after; /* answers given before connect(), at its return */
};

static void start_connect_to(int s, const struct sockaddr_in *a,
			     struct conn_try *c)
{
	c->base = replies_sent();
	c->t0 = now_ms();
	c->rc = connect(s, (const struct sockaddr *)a, sizeof(*a));
	c->err = c->rc < 0 ? errno : 0;
	c->ms = now_ms() - c->t0;
	c->after = replies_sent();
}

static void start_connect(int s, struct conn_try *c)
{
	start_connect_to(s, &dst, c);
}

/* Checks that connect() left the handshake pending: 1 if so (or if it
 * completed all the same: rc 0, the rest can still be checked), -1 if it
 * failed. */
static int check_inprogress(const struct conn_try *c)
{
	check(c->rc < 0 && c->err == EINPROGRESS,
	      "connect() on the non-blocking socket: expected -1 EINPROGRESS, "
	      "saw %s",
	      res(c->rc, c->err));
	check(c->ms < delay_ms / 2,
	      "connect() returns at once: expected < %d ms (the proxy answers "
	      "after %d ms), took %ld ms",
	      delay_ms / 2, delay_ms, c->ms);
	if (have_marker())
		check(c->after == c->base,
		      "connect() returns before the proxy's answer: expected "
		      "not answered yet at its return, saw %s",
		      answered(c->after - c->base));
	if (c->rc < 0 && c->err != EINPROGRESS)
		return -1;
	return 1;
}

/* Whether s's peer is want; seen gets what getpeername said. */
static int peer_is(int s, const struct sockaddr_in *want, char *seen, size_t n)
{
	struct sockaddr_in6 pa; /* room for whatever comes */
	struct sockaddr_in *p4 = (struct sockaddr_in *)&pa;
	socklen_t pl = sizeof(pa);
	char a[64];

	memset(&pa, 0, sizeof(pa));
	if (getpeername(s, (struct sockaddr *)&pa, &pl) < 0) {
		snprintf(seen, n, "-1 %s", ename(errno));
		return 0;
	}
	if (p4->sin_family != AF_INET) {
		snprintf(seen, n, "family %d", p4->sin_family);
		return 0;
	}
	inet_ntop(AF_INET, &p4->sin_addr, a, sizeof(a));
	snprintf(seen, n, "%s:%d (len %u)", a, ntohs(p4->sin_port), pl);
	return pl == sizeof(struct sockaddr_in) &&
	       p4->sin_addr.s_addr == want->sin_addr.s_addr &&
	       p4->sin_port == want->sin_port;
}

static int peer_is_dst(int s, char *seen, size_t n)
{
	return peer_is(s, &dst, seen, n);
}

static const char *dst_str(void)
{
	static char b[64];
	char a[32];

	inet_ntop(AF_INET, &dst.sin_addr, a, sizeof(a));
	snprintf(b, sizeof(b), "%s:%d", a, ntohs(dst.sin_port));
	return b;
}

static int so_error(int s)
{
	int e = -1;
	socklen_t l = sizeof(e);

	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
		return -errno;
	return e;
}

/* Reads the banner (up to ms), without blocking calls; peek: MSG_PEEK. */
static int read_banner(int s, char *buf, long ms, int peek)
{
	struct pollfd p = {.fd = s, .events = POLLIN};
	long t0 = now_ms();
	int got = 0;
	ssize_t r;

	memset(buf, 0, BANNER_LEN + 1);
	while (got < BANNER_LEN && now_ms() - t0 < ms) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		r = recv(s, buf + (peek ? 0 : got),
			 (size_t)(BANNER_LEN - (peek ? 0 : got)),
			 MSG_DONTWAIT | (peek ? MSG_PEEK : 0));
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;
		}
		if (peek) {
			got = (int)r;
			if (got < BANNER_LEN)
				sleep_ms(10);
		} else {
			got += (int)r;
		}
	}
	return got;
}

/* After a successful completion: SO_ERROR 0, the destination as the peer,
 * EISCONN, the relayed stream's first bytes. */
static void check_established(int s, int banner, int peek)
{
	char seen[96], buf[BANNER_LEN + 1];
	int e, r;

	e = so_error(s);
	check(e == 0, "SO_ERROR after completion: expected 0, saw %s",
	      e < 0 ? res(-1, -e) : ename(e));
	check(peer_is_dst(s, seen, sizeof(seen)),
	      "getpeername after completion: expected %s, saw %s", dst_str(),
	      seen);
	/* The kernel's first connect() after an asynchronous completion
	 * reports it (0); from then on EISCONN. */
	r = connect(s, (struct sockaddr *)&dst, sizeof(dst));
	e = errno;
	check(r == 0 || (r < 0 && e == EISCONN),
	      "connect() again after completion: expected 0 (as the kernel: "
	      "it reports the completion) or -1 EISCONN, saw %s",
	      res(r, e));
	r = connect(s, (struct sockaddr *)&dst, sizeof(dst));
	check(r < 0 && errno == EISCONN,
	      "connect() once more: expected -1 EISCONN, saw %s",
	      res(r, errno));
	if (!banner)
		return;
	r = read_banner(s, buf, 2000, peek);
	check(r == BANNER_LEN && !memcmp(buf, BANNER, BANNER_LEN),
	      "the stream's first bytes: expected '%s', saw %d bytes '%.*s'",
	      BANNER, r, r, buf);
}

static void send_after(int s, const char *what)
{
	ssize_t r = send(s, what, strlen(what), MSG_NOSIGNAL | MSG_DONTWAIT);

	check(r == (ssize_t)strlen(what),
	      "a send after completion: expected %zu, saw %s", strlen(what),
	      res(r, errno));
}

/* ------------------------------------------------------------ waiting */

enum wkind {
	W_POLL,
	W_PPOLL,
	W_SELECT,
	W_PSELECT,
	W_EPOLL,
	W_EPOLL_PWAIT,
	W_EPOLL_PWAIT2,
	W_NESTED,  /* s in epoll ep, ep in epoll outer: epoll_wait(outer) */
	W_EPINPOLL /* s in epoll ep, poll(ep, POLLIN) */
};

struct variant {
	const char *name;
	enum wkind kind;
	unsigned ev; /* EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE */
	int before;  /* the epoll registration is made before connect() */
	int thread;  /* 1: the waiter is another thread than the connector;
			2: the connect is made by a thread that then exits */
};

struct report {
	int got;	 /* 1: s reported, 0: the wait timed out, -1: error */
	int err;	 /* errno of the error */
	unsigned rev;	 /* the events reported (POLL* bits; select: POLLOUT) */
	long ms;	 /* since the wait began */
	long replies;	 /* the server's answers at the report */
	int outer_empty; /* W_NESTED/W_EPINPOLL: wakeups with nothing inside */
};

struct wctx {
	const struct variant *v;
	int s, ep, outer;
	/* thread variants */
	pthread_barrier_t bar;
	int abandon;
	long wait_ms;
	struct report rep;
	struct conn_try c;
};

static int is_epoll(enum wkind k)
{
	return k >= W_EPOLL;
}

static int ep_register(struct wctx *w, int op)
{
	struct epoll_event e = {.events = EPOLLOUT | w->v->ev};

	e.data.fd = w->s;
	return epoll_ctl(w->ep, op, w->s, &e);
}

static int ep_setup(struct wctx *w)
{
	struct epoll_event e = {.events = EPOLLIN};

	if (!is_epoll(w->v->kind))
		return 0;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0)
		return -1;
	if (w->v->kind == W_NESTED) {
		w->outer = epoll_create1(EPOLL_CLOEXEC);
		e.data.fd = w->ep;
		if (w->outer < 0 ||
		    epoll_ctl(w->outer, EPOLL_CTL_ADD, w->ep, &e) < 0)
			return -1;
	}
	return 0;
}

static int ep_find(struct epoll_event *ev, int n, int fd, unsigned *rev)
{
	int i;

	for (i = 0; i < n; i++)
		if (ev[i].data.fd == fd) {
			*rev = ev[i].events;
			return 1;
		}
	return 0;
}

/* One readiness call, up to ms: 1 when s is reported (events in *rev), 0
 * when nothing is, 2 when an outer set woke with nothing for s inside, -1
 * on error (errno). */
static int wait_once(struct wctx *w, int ms, unsigned *rev)
{
	struct pollfd p = {.fd = w->s, .events = POLLOUT};
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000L};
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (ms % 1000) * 1000L};
	struct epoll_event ev[8];
	sigset_t cur;
	fd_set wr;
	int r;

	*rev = 0;
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	switch (w->v->kind) {
	case W_POLL:
		r = poll(&p, 1, ms);
		break;
	case W_PPOLL:
		r = ppoll(&p, 1, &ts, &cur);
		break;
	case W_SELECT:
	case W_PSELECT:
		FD_ZERO(&wr);
		FD_SET(w->s, &wr);
		if (w->v->kind == W_SELECT)
			r = select(w->s + 1, NULL, &wr, NULL, &tv);
		else
			r = pselect(w->s + 1, NULL, &wr, NULL, &ts, &cur);
		if (r > 0) {
			p.revents = FD_ISSET(w->s, &wr) ? POLLOUT : 0;
			r = p.revents ? 1 : 0;
		}
		break;
	case W_EPOLL:
		r = epoll_wait(w->ep, ev, 8, ms);
		return r < 0 ? -1 : ep_find(ev, r, w->s, rev);
	case W_EPOLL_PWAIT:
		r = epoll_pwait(w->ep, ev, 8, ms, &cur);
		return r < 0 ? -1 : ep_find(ev, r, w->s, rev);
	case W_EPOLL_PWAIT2:
		r = epoll_pwait2(w->ep, ev, 8, &ts, NULL);
		return r < 0 ? -1 : ep_find(ev, r, w->s, rev);
	case W_NESTED:
		r = epoll_wait(w->outer, ev, 8, ms);
		if (r <= 0)
			return r;
		r = epoll_wait(w->ep, ev, 8, 0);
		if (r < 0)
			return -1;
		return ep_find(ev, r, w->s, rev) ? 1 : 2;
	case W_EPINPOLL:
		p.fd = w->ep;
		p.events = POLLIN;
		r = poll(&p, 1, ms);
		if (r <= 0)
			return r;
		r = epoll_wait(w->ep, ev, 8, 0);
		if (r < 0)
			return -1;
		return ep_find(ev, r, w->s, rev) ? 1 : 2;
	default:
		errno = EINVAL;
		return -1;
	}
	if (r < 0)
		return -1;
	if (r > 0)
		*rev = p.revents;
	return r > 0;
}

/* Waits up to ms for s to be reported (EINTR and empty wakeups go on). */
static struct report wait_until(struct wctx *w, long ms)
{
	struct report r = {0};
	long t0 = now_ms(), left;
	int k;

	for (;;) {
		left = ms - (now_ms() - t0);
		if (left <= 0)
			break;
		k = wait_once(w, (int)left, &r.rev);
		if (k == 1) {
			r.replies = replies_sent();
			r.got = 1;
			break;
		}
		if (k == 2) {
			r.outer_empty++;
			sleep_ms(1);
			continue;
		}
		if (k < 0 && errno != EINTR) {
			r.got = -1;
			r.err = errno;
			break;
		}
	}
	r.ms = now_ms() - t0;
	return r;
}

/* Checks a report: it came, after the server's answer (base: the answers
 * before connect()); success: POLLOUT without POLLERR/POLLHUP, else any
 * of POLLOUT, POLLERR, POLLHUP. */
static void check_report(const struct report *r, long base, int success,
			 long waited)
{
	check(r->got == 1,
	      "reported writable within %ld ms: expected yes, saw %s", waited,
	      r->got == 1   ? "yes"
	      : r->got == 0 ? "nothing (timed out)"
			    : res(-1, r->err));
	if (r->outer_empty)
		check(0,
		      "the outer set woke %d times with nothing ready inside "
		      "(expected none)",
		      r->outer_empty);
	if (r->got != 1)
		return;
	if (have_marker())
		check(r->replies > base,
		      "first reported %ld ms into the wait, after the "
		      "proxy's answer: expected answered, saw %s%s",
		      r->ms, answered(r->replies - base),
		      r->replies > base ? "" : " (an early report)");
	if (success)
		check((r->rev & POLLOUT) && !(r->rev & (POLLERR | POLLHUP)),
		      "the events at that report: expected OUT without "
		      "ERR/HUP, saw %s",
		      evstr(r->rev));
	else
		check(r->rev & (POLLOUT | POLLERR | POLLHUP),
		      "the events at that report: expected OUT, ERR or HUP, "
		      "saw %s",
		      evstr(r->rev));
}

/* After the first report: level-triggered reports again, EPOLLET and
 * EPOLLONESHOT do not (one event per edge); EPOLLONESHOT re-armed
 * reports again. */
static void second_checks(struct wctx *w)
{
	unsigned rev;
	int edge = (w->v->ev & (EPOLLET | EPOLLONESHOT)) != 0, k;
	long t0 = now_ms();

	k = wait_once(w, edge ? 100 : 1000, &rev);
	if (edge)
		check(k == 0,
		      "one event per edge: a second wait of 100 ms: expected "
		      "nothing, saw %s",
		      k == 0   ? "nothing"
		      : k == 1 ? evstr(rev)
		      : k == 2 ? "a wakeup of the outer set with nothing inside"
			       : res(-1, errno));
	else
		check(k == 1 && (rev & POLLOUT),
		      "level-triggered: a second wait reports it again: "
		      "expected OUT at once, saw %s after %ld ms",
		      k == 1   ? evstr(rev)
		      : k == 0 ? "nothing"
			       : res(-1, errno),
		      now_ms() - t0);
	if (w->v->ev & EPOLLONESHOT) {
		k = ep_register(w, EPOLL_CTL_MOD);
		check(k == 0, "EPOLL_CTL_MOD re-arms: %s", res(k, errno));
		k = wait_once(w, 1000, &rev);
		check(k == 1 && (rev & POLLOUT),
		      "re-armed EPOLLONESHOT reports it again: expected OUT, "
		      "saw %s",
		      k == 1   ? evstr(rev)
		      : k == 0 ? "nothing"
			       : res(-1, errno));
	}
}

static void *waiter_thread(void *arg)
{
	struct wctx *w = arg;

	pthread_barrier_wait(&w->bar);
	if (!w->abandon)
		w->rep = wait_until(w, w->wait_ms);
	return NULL;
}

static void *connector_thread(void *arg)
{
	struct wctx *w = arg;

	start_connect(w->s, &w->c);
	return NULL;
}

static const struct variant variants[] = {
    {"poll", W_POLL, 0, 0, 0},
    {"ppoll", W_PPOLL, 0, 0, 0},
    {"select", W_SELECT, 0, 0, 0},
    {"pselect", W_PSELECT, 0, 0, 0},
    {"epoll", W_EPOLL, 0, 0, 0},
    {"epoll_before", W_EPOLL, 0, 1, 0},
    {"epoll_et", W_EPOLL, EPOLLET, 0, 0},
    {"epoll_et_before", W_EPOLL, EPOLLET, 1, 0},
    {"epoll_oneshot", W_EPOLL, EPOLLET | EPOLLONESHOT, 0, 0},
    {"epoll_oneshot_before", W_EPOLL, EPOLLET | EPOLLONESHOT, 1, 0},
    {"epoll_exclusive", W_EPOLL, EPOLLEXCLUSIVE, 0, 0},
    {"epoll_exclusive_before", W_EPOLL, EPOLLEXCLUSIVE, 1, 0},
    {"epoll_pwait", W_EPOLL_PWAIT, 0, 0, 0},
    {"epoll_pwait_et_before", W_EPOLL_PWAIT, EPOLLET, 1, 0},
    {"epoll_pwait2", W_EPOLL_PWAIT2, 0, 0, 0},
    {"epoll_pwait2_et_before", W_EPOLL_PWAIT2, EPOLLET, 1, 0},
    {"epoll_nested", W_NESTED, EPOLLET, 0, 0},
    {"epoll_nested_before", W_NESTED, EPOLLET, 1, 0},
    {"epoll_in_poll", W_EPINPOLL, EPOLLET, 0, 0},
    {"epoll_in_poll_before", W_EPINPOLL, EPOLLET, 1, 0},
    {"thread_poll", W_POLL, 0, 0, 1},
    {"thread_epoll_et", W_EPOLL, EPOLLET, 1, 1},
    {"connector_thread", W_POLL, 0, 0, 2},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

static void run_variant(const struct variant *v)
{
	struct wctx w;
	struct report r = {0};
	pthread_t th;
	long wait_ms = timeout_ms + 1000;
	int k;

	memset(&w, 0, sizeof(w));
	w.v = v;
	w.s = w.ep = w.outer = -1;
	w.wait_ms = wait_ms;
	settag("%s", v->name);
	w.s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w.s < 0 || ep_setup(&w) < 0) {
		check(0, "setting up: %s", res(-1, errno));
		goto out;
	}
	if (v->before && (k = ep_register(&w, EPOLL_CTL_ADD)) < 0) {
		check(0, "epoll_ctl ADD before connect(): %s", res(k, errno));
		goto out;
	}
	arm();
	if (v->thread == 1) {
		pthread_barrier_init(&w.bar, NULL, 2);
		pthread_create(&th, NULL, waiter_thread, &w);
	}
	if (v->thread == 2) {
		pthread_create(&th, NULL, connector_thread, &w);
		pthread_join(th, NULL);
	} else {
		start_connect(w.s, &w.c);
	}
	k = check_inprogress(&w.c);
	if (k >= 0 && !v->before && is_epoll(v->kind) &&
	    ep_register(&w, EPOLL_CTL_ADD) < 0) {
		check(0, "epoll_ctl ADD after connect(): %s", res(-1, errno));
		k = -1;
	}
	if (v->thread == 1) {
		w.abandon = k < 0;
		pthread_barrier_wait(&w.bar);
		wd_arm(wait_ms + 2000, "the waiter thread");
		pthread_join(th, NULL);
		wd_disarm();
		pthread_barrier_destroy(&w.bar);
		r = w.rep;
	} else if (k >= 0) {
		r = wait_until(&w, wait_ms);
	}
	if (k < 0)
		goto out;
	if (r.got < 0 && r.err == ENOSYS) {
		note("not available here (ENOSYS)");
		goto out;
	}
	check_report(&r, w.c.base, 1, wait_ms);
	if (r.got != 1)
		goto out;
	second_checks(&w);
	check_established(w.s, 1, 0);
	send_after(w.s, "AFTER");
out:
	if (w.s >= 0)
		close(w.s);
	if (w.ep >= 0)
		close(w.ep);
	if (w.outer >= 0)
		close(w.outer);
}

static void do_matrix(int argc, char **argv)
{
	size_t i;
	int k;

	if (argc == 0) {
		for (i = 0; i < NVARIANTS; i++)
			run_variant(&variants[i]);
		return;
	}
	for (k = 0; k < argc; k++) {
		for (i = 0; i < NVARIANTS; i++)
			if (!strcmp(argv[k], variants[i].name))
				break;
		if (i == NVARIANTS) {
			fprintf(stderr, "asyncconn: no variant %s\n", argv[k]);
			exit(2);
		}
		run_variant(&variants[i]);
	}
}

/* ------------------------------------------------------------ pending */

static const struct variant v_poll = {"poll", W_POLL, 0, 0, 0};

/* Waits with poll for completion (success or failure). */
static struct report poll_until(int s, long ms)
{
	struct wctx w;

	memset(&w, 0, sizeof(w));
	w.v = &v_poll;
	w.s = s;
	return wait_until(&w, ms);
}

static void do_pending(void)
{
	char buf[64];
	struct conn_try c;
	struct report r;
	struct pollfd p;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct iovec wiov = {.iov_base = (void *)(uintptr_t) "EARLY",
			     .iov_len = 5};
	struct msghdr wmh = {.msg_iov = &wiov, .msg_iovlen = 1};
	struct sockaddr_in pa;
	socklen_t pl = sizeof(pa);
	long off = log_size(), seen;
	ssize_t n;
	int s, fl, k, e;

	settag("pending");
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fl = fcntl(s, F_GETFL);
	fcntl(s, F_SETFL, fl | O_NONBLOCK);
	arm();
	start_connect(s, &c);
	if (check_inprogress(&c) < 0) {
		close(s);
		return;
	}
	n = send(s, "EARLY", 5, MSG_NOSIGNAL);
	check(n < 0 && errno == EAGAIN,
	      "send while pending: expected -1 EAGAIN, saw %s", res(n, errno));
	n = write(s, "EARLY", 5);
	check(n < 0 && errno == EAGAIN,
	      "write while pending: expected -1 EAGAIN, saw %s", res(n, errno));
	n = sendmsg(s, &wmh, MSG_NOSIGNAL);
	check(n < 0 && errno == EAGAIN,
	      "sendmsg while pending: expected -1 EAGAIN, saw %s",
	      res(n, errno));
	n = recv(s, buf, sizeof(buf), 0);
	check(n < 0 && errno == EAGAIN,
	      "recv while pending: expected -1 EAGAIN, saw %s", res(n, errno));
	n = read(s, buf, sizeof(buf));
	check(n < 0 && errno == EAGAIN,
	      "read while pending: expected -1 EAGAIN, saw %s", res(n, errno));
	n = recvmsg(s, &mh, 0);
	check(n < 0 && errno == EAGAIN,
	      "recvmsg while pending: expected -1 EAGAIN, saw %s",
	      res(n, errno));
	k = connect(s, (struct sockaddr *)&dst, sizeof(dst));
	check(k < 0 && errno == EALREADY,
	      "a second connect() while pending: expected -1 EALREADY, saw %s",
	      res(k, errno));
	k = getpeername(s, (struct sockaddr *)&pa, &pl);
	check(k < 0 && errno == ENOTCONN,
	      "getpeername while pending: expected -1 ENOTCONN, saw %s",
	      res(k, errno));
	e = so_error(s);
	check(e == 0, "SO_ERROR while pending: expected 0, saw %s",
	      e < 0 ? res(-1, -e) : ename(e));
	fl = fcntl(s, F_GETFL);
	check(fl >= 0 && (fl & O_NONBLOCK),
	      "F_GETFL while pending shows O_NONBLOCK: saw %#x", fl);
	p.fd = s;
	p.events = POLLOUT | POLLIN;
	p.revents = 0;
	k = poll(&p, 1, 0);
	check(k == 0,
	      "poll(0) while pending: expected nothing ready, saw %s (%s)",
	      res(k, errno), evstr((unsigned)p.revents));
	if (have_marker()) {
		seen = replies_sent() - c.base;
		check(seen == 0,
		      "all of that happened before the proxy's answer: "
		      "expected not answered yet, saw %s",
		      answered(seen));
	}
	r = poll_until(s, timeout_ms + 1000);
	check_report(&r, c.base, 1, timeout_ms + 1000);
	if (r.got == 1) {
		check_established(s, 1, 0);
		send_after(s, "AFTER");
	}
	close(s);
	log_check(off, "AFTER");
}

/* ------------------------------------------------------------ failures */

static void do_fail(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		char spec[128], *w, *save = NULL;
		const char *mech = "poll";
		int want, retry = 0, min = -1, s, attempt, e;
		const struct variant *v;
		struct variant vv;
		struct wctx wc;
		struct conn_try c;
		struct report r;
		long wait_ms = timeout_ms + 2000;

		snprintf(spec, sizeof(spec), "%s", argv[i]);
		w = strtok_r(spec, ":", &save);
		want = errno_by_name(w);
		while ((w = strtok_r(NULL, ":", &save))) {
			if (!strcmp(w, "retry"))
				retry = 1;
			else if (!strncmp(w, "min=", 4))
				min = atoi(w + 4);
			else
				mech = w;
		}
		memset(&vv, 0, sizeof(vv));
		vv.name = mech;
		vv.kind = !strcmp(mech, "epoll")    ? W_EPOLL
			  : !strcmp(mech, "select") ? W_SELECT
						    : W_POLL;
		v = &vv;
		s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   0);
		for (attempt = 0; attempt <= retry; attempt++) {
			settag("fail %d %s %s%s", i + 1, ename(want), mech,
			       attempt ? " retry" : "");
			memset(&wc, 0, sizeof(wc));
			wc.v = v;
			wc.s = s;
			wc.ep = wc.outer = -1;
			if (ep_setup(&wc) < 0 ||
			    (is_epoll(v->kind) &&
			     ep_register(&wc, EPOLL_CTL_ADD) < 0)) {
				check(0, "epoll setup: %s", res(-1, errno));
				break;
			}
			arm_fail(1);
			start_connect(s, &c);
			if (attempt && c.rc < 0 && c.err == ECONNABORTED) {
				/* The kernel's first connect() after an
				 * asynchronous failure whose SO_ERROR was read
				 * says ECONNABORTED and resets the socket. */
				check(1,
				      "connect() again after the failure: -1 "
				      "ECONNABORTED first, as the kernel");
				start_connect(s, &c);
			}
			if (check_inprogress(&c) < 0) {
				check(c.err == want,
				      "(failed at once) with the expected "
				      "errno: expected %s, saw %s",
				      ename(want), ename(c.err));
				if (wc.ep >= 0)
					close(wc.ep);
				continue;
			}
			r = wait_until(&wc, wait_ms);
			if (min >= 0) {
				check(r.got == 1,
				      "reported within %ld ms: expected yes, "
				      "saw %s",
				      wait_ms,
				      r.got == 1   ? "yes"
				      : r.got == 0 ? "nothing"
						   : res(-1, r.err));
				check(c.ms + r.ms >= min,
				      "not reported before the config's "
				      "timeout: expected >= %d ms, saw %ld ms",
				      min, c.ms + r.ms);
				if (r.got == 1)
					check(
					    r.rev &
						(POLLOUT | POLLERR | POLLHUP),
					    "the events at that report: "
					    "expected OUT, ERR or HUP, saw %s",
					    evstr(r.rev));
			} else {
				check_report(&r, c.base, 0, wait_ms);
			}
			e = so_error(s);
			check(e == want,
			      "SO_ERROR after the failure: expected %s, saw %s",
			      ename(want), e < 0 ? res(-1, -e) : ename(e));
			e = so_error(s);
			check(e == 0,
			      "SO_ERROR a second time: expected 0, saw %s",
			      e < 0 ? res(-1, -e) : ename(e));
			{
				char seen[96];

				check(!peer_is_dst(s, seen, sizeof(seen)) &&
					  !strcmp(seen, "-1 ENOTCONN"),
				      "getpeername after the failure: expected "
				      "-1 ENOTCONN, saw %s",
				      seen);
			}
			if (wc.ep >= 0)
				close(wc.ep);
		}
		close(s);
	}
}

/* ------------------------------------------------------------ close */

struct pwaiter {
	int fd, rc, err;
	unsigned rev;
	long ms;
	int done;
};

static void *poll_waiter(void *arg)
{
	struct pwaiter *pw = arg;
	struct pollfd p = {.fd = pw->fd, .events = POLLOUT};
	long t0 = now_ms();

	pw->rc = poll(&p, 1, 500);
	pw->err = errno;
	pw->rev = (unsigned)p.revents;
	pw->ms = now_ms() - t0;
	__atomic_store_n(&pw->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void do_close(int argc, char **argv)
{
	char buf[BANNER_LEN + 1];
	struct conn_try c;
	struct report r;
	int i, s, n0, n, k, nd;
	long off, t0;

	/* A connection first, so that whatever the shim sets up once per
	 * process exists before the counting. */
	settag("close warm-up");
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	arm();
	start_connect(s, &c);
	r = poll_until(s, timeout_ms + 1000);
	k = read_banner(s, buf, 2000, 0);
	check((c.rc == 0 || c.err == EINPROGRESS) && r.got == 1 &&
		  k == BANNER_LEN,
	      "a first connection completes: connect %s, %s, %d bytes",
	      res(c.rc, c.err), r.got == 1 ? evstr(r.rev) : "no report", k);
	close(s);
	log_wait_end(0, 1, 1500); /* its end is logged before the next */
	for (i = 0; i < argc; i++) {
		struct pwaiter pw;
		pthread_t th;
		struct timespec ts;
		const char *m = argv[i];

		settag("close %s", m);
		sleep_ms(50);
		arm(); /* first: closefrom(s) must not take the control's fds */
		n0 = count_fds();
		off = log_size();
		s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   0);
		if (!strcmp(m, "closefrom")) {
			/* The highest fd (of the program's; the control
			 * server's fds stay below), before its connect(). */
			k = fcntl(s, F_DUPFD_CLOEXEC, 900);
			close(s);
			s = k;
		}
		start_connect(s, &c);
		if (check_inprogress(&c) < 0) {
			close(s);
			continue;
		}
		memset(&pw, 0, sizeof(pw));
		pw.fd = s;
		pthread_create(&th, NULL, poll_waiter, &pw);
		sleep_ms(30);
		errno = 0;
		if (!strcmp(m, "close")) {
			k = close(s);
			check(k == 0,
			      "close() while pending: expected 0, saw %s",
			      res(k, errno));
		} else if (!strcmp(m, "close_range")) {
			k = close_range((unsigned)s, (unsigned)s, 0);
			check(k == 0,
			      "close_range() while pending: expected 0, saw %s",
			      res(k, errno));
		} else if (!strcmp(m, "closefrom")) {
			closefrom(s);
		} else if (!strcmp(m, "dup2")) {
			nd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			k = dup2(nd, s);
			check(k == s,
			      "dup2(/dev/null) over the pending socket: "
			      "expected %d, saw %s",
			      s, res(k, errno));
			close(s);
			close(nd);
		} else {
			fprintf(stderr, "asyncconn: no close mode %s\n", m);
			exit(2);
		}
		k = fcntl(s, F_GETFD);
		check(k < 0 && errno == EBADF,
		      "the fd is gone after it: F_GETFD expected -1 EBADF, "
		      "saw %s",
		      res(k, errno));
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 2;
		k = pthread_timedjoin_np(th, NULL, &ts);
		check(k == 0,
		      "a thread polling it (500 ms) when it was closed comes "
		      "back: %s",
		      k ? "still blocked after 2 s" : "yes");
		if (k == 0)
			check(1, "... its poll gave %s (%s) after %ld ms",
			      res(pw.rc, pw.err), evstr(pw.rev), pw.ms);
		else
			pthread_detach(th);
		for (t0 = now_ms();
		     (n = count_fds()) != n0 && now_ms() - t0 < 1500;)
			sleep_ms(10);
		check(n == n0,
		      "no fd left behind: expected %d fds, saw %d (after %ld "
		      "ms)",
		      n0, n, now_ms() - t0);
		if (log_path) {
			static const char *const acc[] = {"accept", NULL};
			int na, ne;

			/* Every connection that reached the proxy (none, if
			 * the close came first) ends; at least 300 ms for a
			 * late one to show up. */
			for (t0 = now_ms();; sleep_ms(10)) {
				na = log_count(off, acc);
				ne = log_count(off, end_words);
				if ((ne >= na && now_ms() - t0 >= 300) ||
				    now_ms() - t0 > 1500)
					break;
			}
			check(ne >= na,
			      "the proxy sees the connection end while the "
			      "program runs: expected every connection it got "
			      "to end, saw %d of %d end (within %ld ms)",
			      ne, na, now_ms() - t0);
		}
	}
}

/* ------------------------------------------------------------ fork */

/* "exit status N", "signal N", "not reaped" */
static const char *how_ended(int st)
{
	static char b[4][32];
	static int i;
	char *p = b[i++ % 4];

	if (st == -1)
		snprintf(p, sizeof(b[0]), "not reaped");
	else if (WIFEXITED(st))
		snprintf(p, sizeof(b[0]), "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(p, sizeof(b[0]), "killed by signal %d", WTERMSIG(st));
	else
		snprintf(p, sizeof(b[0]), "status %#x", st);
	return p;
}

/* The part of a fork test that each process does: wait for completion,
 * then check it (peek at the stream: both processes read it). */
static int fork_side(int s, long base, int may_timeout)
{
	struct report r = poll_until(s, timeout_ms + 1500);
	char seen[96], buf[BANNER_LEN + 1];
	int e, k;

	check(r.got == 1, "reported within %d ms: expected yes, saw %s",
	      timeout_ms + 1500,
	      r.got == 1   ? "yes"
	      : r.got == 0 ? "nothing"
			   : res(-1, r.err));
	if (r.got != 1)
		return -1;
	e = so_error(s);
	/* Its parent gone: ETIMEDOUT (a parent stuck), or ECONNABORTED (one
	 * that died halfway through a step of the handshake), or done. */
	if (may_timeout && (e == ETIMEDOUT || e == ECONNABORTED)) {
		check(1, "completed with %s after %ld ms", ename(e), r.ms);
		return 0;
	}
	if (have_marker())
		check(r.replies > base,
		      "reported after the proxy's answer: expected answered, "
		      "saw %s",
		      answered(r.replies - base));
	check(e == 0, "SO_ERROR: expected 0%s, saw %s",
	      may_timeout ? " (or ETIMEDOUT, ECONNABORTED)" : "",
	      e < 0 ? res(-1, -e) : ename(e));
	check(peer_is_dst(s, seen, sizeof(seen)),
	      "getpeername: expected %s, saw %s", dst_str(), seen);
	k = read_banner(s, buf, 2000, 1);
	check(k == BANNER_LEN && !memcmp(buf, BANNER, BANNER_LEN),
	      "the stream (peeked): expected '%s', saw %d bytes '%.*s'", BANNER,
	      k, k, buf);
	return 0;
}

static int wait_byte(int fd, long ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b;

	if (poll(&p, 1, (int)ms) <= 0)
		return -1;
	return read(fd, &b, 1) == 1 ? 0 : -1;
}

/* P1: connects, forks P2, and both wait as the mode says. */
static void fork_p1(const char *mode, int report_fd)
{
	struct conn_try c;
	int s, p2c[2], c2p[2], st, k;
	pid_t kid;

	settag("fork %s parent", mode);
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	start_connect(s, &c);
	if (check_inprogress(&c) < 0)
		exit(1);
	if (pipe(p2c) < 0 || pipe(c2p) < 0)
		exit(2);
	fflush(stdout);
	kid = fork();
	if (kid < 0)
		exit(2);
	if (kid == 0) {
		wd_start();
		fact_failures = 0;
		settag("fork %s child", mode);
		if (!strcmp(mode, "parent_first"))
			check(wait_byte(p2c[0], timeout_ms + 3000) == 0,
			      "the parent saw completion first");
		fork_side(s, c.base, !strcmp(mode, "parent_exits"));
		if (!strcmp(mode, "child_first"))
			check(write(c2p[1], "c", 1) == 1, "told the parent");
		exit(fact_failures ? 1 : 0);
	}
	if (write(report_fd, &kid, sizeof(kid)) != sizeof(kid))
		exit(2);
	if (!strcmp(mode, "parent_exits"))
		exit(fact_failures ? 1 : 0); /* before the handshake is over */
	if (!strcmp(mode, "child_first"))
		check(wait_byte(c2p[0], timeout_ms + 3000) == 0,
		      "the child saw completion first");
	fork_side(s, c.base, 0);
	if (!strcmp(mode, "parent_first"))
		check(write(p2c[1], "p", 1) == 1, "told the child");
	wd_arm(timeout_ms + 5000, "waitpid for the child");
	st = -1;
	k = (int)waitpid(kid, &st, 0);
	check(k == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "the child process ends with its checks passed: expected exit "
	      "status 0, saw %s (waitpid %s)",
	      how_ended(st), res(k, errno));
	wd_disarm();
	exit(fact_failures ? 1 : 0);
}

static void do_fork(int argc, char **argv)
{
	int i;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (i = 0; i < argc; i++) {
		const char *mode = argv[i];
		pid_t p1, p2 = -1, w;
		int pfd[2], st, st1 = -1, st2 = -1, left = 2;
		long t0, limit = timeout_ms + 6000;

		if (strcmp(mode, "parent_first") &&
		    strcmp(mode, "child_first") && strcmp(mode, "both") &&
		    strcmp(mode, "parent_exits")) {
			fprintf(stderr, "asyncconn: no fork mode %s\n", mode);
			exit(2);
		}
		settag("fork %s", mode);
		if (pipe(pfd) < 0)
			exit(2);
		arm();
		fflush(stdout);
		p1 = fork();
		if (p1 < 0)
			exit(2);
		if (p1 == 0) {
			close(pfd[0]);
			wd_start();
			fact_failures = 0;
			fork_p1(mode, pfd[1]);
		}
		close(pfd[1]);
		/* P2's pid, once P1 has forked it. */
		{
			struct pollfd p = {.fd = pfd[0], .events = POLLIN};

			if (poll(&p, 1, 3000) > 0 &&
			    read(pfd[0], &p2, sizeof(p2)) != sizeof(p2))
				p2 = -1;
		}
		close(pfd[0]);
		/* Only P1 is P0's child, unless P1 exits first: then P2 is
		 * reparented to P0 (the subreaper). */
		if (p2 < 0 || strcmp(mode, "parent_exits"))
			left = 1;
		for (t0 = now_ms(); left > 0 && now_ms() - t0 < limit;) {
			w = waitpid(-1, &st, WNOHANG);
			if (w == p1) {
				st1 = st;
				left--;
			} else if (w == p2) {
				st2 = st;
				left--;
			} else if (w < 0 && errno == ECHILD) {
				break;
			} else {
				sleep_ms(10);
			}
		}
		check(left == 0,
		      "both processes end within %ld ms: %d still running",
		      limit, left);
		if (left) {
			kill(p1, SIGKILL);
			if (p2 > 0)
				kill(p2, SIGKILL);
			while (waitpid(-1, &st, 0) > 0)
				;
		}
		check(st1 >= 0 && WIFEXITED(st1) && WEXITSTATUS(st1) == 0,
		      "the parent process ends with its checks passed: "
		      "expected exit status 0, saw %s",
		      how_ended(st1));
		if (p2 > 0 && !strcmp(mode, "parent_exits"))
			check(
			    st2 >= 0 && WIFEXITED(st2) && WEXITSTATUS(st2) == 0,
			    "the child process (its parent gone) ends with its "
			    "checks passed: expected exit status 0, saw %s",
			    how_ended(st2));
	}
}

/* ------------------------------------------------------------ blocking */

static void do_blocking(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		const char *m = argv[i];
		struct conn_try c;
		struct timeval tv = {.tv_sec = 0, .tv_usec = 150000};
		char buf[BANNER_LEN + 1];
		long off = log_size(), t0, ms, rep;
		ssize_t n;
		int s, fl;

		settag("blocking %s", m);
		s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   0);
		if (!strcmp(m, "sndtimeo"))
			setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		arm();
		start_connect(s, &c);
		if (check_inprogress(&c) < 0) {
			close(s);
			continue;
		}
		fl = fcntl(s, F_GETFL);
		fcntl(s, F_SETFL, fl & ~O_NONBLOCK);
		t0 = now_ms();
		wd_arm(timeout_ms + 3000, "a blocking call while pending");
		if (!strcmp(m, "send") || !strcmp(m, "sndtimeo")) {
			n = send(s, "HELLO", 5, MSG_NOSIGNAL);
		} else if (!strcmp(m, "recv")) {
			memset(buf, 0, sizeof(buf));
			n = recv(s, buf, BANNER_LEN, MSG_WAITALL);
		} else {
			fprintf(stderr, "asyncconn: no blocking mode %s\n", m);
			exit(2);
		}
		wd_disarm();
		ms = now_ms() - t0;
		rep = replies_sent() - c.base;
		if (!strcmp(m, "sndtimeo")) {
			check(n < 0 && errno == EAGAIN,
			      "a blocking send with SO_SNDTIMEO 150 ms while "
			      "pending: expected -1 EAGAIN, saw %s",
			      res(n, errno));
			check(ms >= 120 && ms < delay_ms - 50,
			      "... after that time: expected 120..%d ms, saw "
			      "%ld ms",
			      delay_ms - 50, ms);
			if (have_marker())
				check(rep == 0,
				      "... before the proxy's answer: "
				      "expected not answered yet, saw %s",
				      answered(rep));
			fcntl(s, F_SETFL, fl);
			{
				struct report r =
				    poll_until(s, timeout_ms + 1000);

				check_report(&r, c.base, 1, timeout_ms + 1000);
			}
			n = send(s, "HELLO", 5, MSG_NOSIGNAL);
			check(n == 5,
			      "then, after completion, the send: expected 5, "
			      "saw %s",
			      res(n, errno));
		} else if (!strcmp(m, "send")) {
			check(n == 5,
			      "a blocking send while pending: expected 5 (once "
			      "the handshake is done), saw %s",
			      res(n, errno));
			if (have_marker())
				check(rep > 0,
				      "it returned (after %ld ms) only after "
				      "the proxy's answer: expected answered, "
				      "saw %s",
				      ms, answered(rep));
		} else {
			check(n == BANNER_LEN &&
				  !memcmp(buf, BANNER, BANNER_LEN),
			      "a blocking recv while pending: expected '%s' "
			      "(once the handshake is done), saw %s '%.*s'",
			      BANNER, res(n, errno), n > 0 ? (int)n : 0, buf);
			if (have_marker())
				check(rep > 0,
				      "it returned (after %ld ms) only after "
				      "the proxy's answer: expected answered, "
				      "saw %s",
				      ms, answered(rep));
		}
		check_established(s, 0, 0);
		close(s);
		log_check(off, strcmp(m, "recv") ? "HELLO" : "");
	}
}

/* ------------------------------------------------------------ SIGIO */

static volatile sig_atomic_t sigio_handled;

static void on_sigio(int sig)
{
	(void)sig;
	sigio_handled++;
}

static void do_sigio(void)
{
	struct sigaction sa;
	sigset_t io;
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 50000000L};
	struct conn_try c;
	struct pollfd p;
	long deadline, at = 0, replies = 0;
	int s, got = 0, seen = 0, done = 0, fl;

	settag("sigio");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigio;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGIO, &sa, NULL);
	sigemptyset(&io);
	sigaddset(&io, SIGIO);
	pthread_sigmask(SIG_BLOCK, &io, NULL);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fcntl(s, F_SETOWN, getpid());
	fl = fcntl(s, F_GETFL);
	fcntl(s, F_SETFL, fl | O_NONBLOCK | O_ASYNC);
	arm();
	start_connect(s, &c);
	if (check_inprogress(&c) < 0) {
		close(s);
		return;
	}
	/* As a SIGIO-driven program: after each SIGIO, is it writable? */
	deadline = now_ms() + timeout_ms + 1000;
	while (now_ms() < deadline) {
		if (sigtimedwait(&io, NULL, &ts) == SIGIO)
			got++;
		if (got + sigio_handled == seen)
			continue;
		seen = got + sigio_handled;
		p.fd = s;
		p.events = POLLOUT;
		if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) {
			done = 1;
			at = now_ms() - c.t0;
			replies = replies_sent() - c.base;
			break;
		}
	}
	check(seen > 0, "SIGIO arrived: %d times", seen);
	p.fd = s;
	p.events = POLLOUT;
	check(done,
	      "after a SIGIO the socket was writable: expected yes, saw %s",
	      done		    ? "yes"
	      : poll(&p, 1, 0) == 1 ? "writable, but no SIGIO after it was"
				    : "never writable");
	if (done && have_marker())
		check(replies > 0,
		      "that SIGIO (%ld ms after connect) came after the "
		      "proxy's answer: expected answered, saw %s",
		      at, answered(replies));
	if (done)
		check_established(s, 1, 0);
	close(s);
}

/* ------------------------------------------------------------ storms */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void do_sigstorm(const char *mode, int n)
{
	struct sigaction sa;
	struct itimerval it = {{0, 1000}, {0, 1000}};
	static int s[MAXCONN];
	static char rep[MAXCONN];
	struct pollfd p[MAXCONN];
	int i, k, np, eintr = 0, other = 0, inprog = 0, sync0 = 0;
	int done = 0, soerr = 0, soeintr = 0, peer = 0, stream = 0, first = 0;
	long t0;
	char seen[96], buf[BANNER_LEN + 1];

	if (n > MAXCONN)
		n = MAXCONN;
	settag("sigstorm %s", mode);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = strcmp(mode, "norestart") ? SA_RESTART : 0;
	sigaction(SIGALRM, &sa, NULL);
	arm();
	setitimer(ITIMER_REAL, &it, NULL);
	for (i = 0; i < n; i++) {
		s[i] = socket(AF_INET,
			      SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		rep[i] = 0;
		k = connect(s[i], (struct sockaddr *)&dst, sizeof(dst));
		if (k == 0)
			sync0++;
		else if (errno == EINPROGRESS)
			inprog++;
		else if (errno == EINTR) {
			eintr++;
			rep[i] = 2;
		} else {
			if (!other++)
				first = errno;
			rep[i] = 2;
		}
	}
	for (t0 = now_ms(); now_ms() - t0 < timeout_ms + 2000;) {
		for (i = np = 0; i < n; i++)
			if (!rep[i]) {
				p[np].fd = s[i];
				p[np].events = POLLOUT;
				p[np++].revents = 0;
			}
		if (!np)
			break;
		if (poll(p, (nfds_t)np, 100) <= 0)
			continue;
		for (i = k = 0; i < n; i++)
			if (!rep[i]) {
				if (p[k].revents)
					rep[i] = 1;
				k++;
			}
	}
	for (i = 0; i < n; i++) {
		if (rep[i] != 1)
			continue;
		done++;
		k = so_error(s[i]);
		if (k == EINTR)
			soeintr++;
		else if (k != 0)
			soerr++;
		else if (peer_is_dst(s[i], seen, sizeof(seen)))
			peer++;
	}
	for (i = 0; i < n; i++)
		if (rep[i] == 1 &&
		    read_banner(s[i], buf, 1000, 0) == BANNER_LEN)
			stream++;
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	check(eintr == 0,
	      "%d connects under a 1 ms SIGALRM (%s): expected no EINTR from "
	      "connect(), saw %d",
	      n, mode, eintr);
	check(inprog == n,
	      "... each returned -1 EINPROGRESS: saw %d (and %d returned 0, "
	      "%d another error, the first %s)",
	      inprog, sync0, other, ename(first));
	check(done == n - eintr - other,
	      "... every one started was reported writable within %d ms: %d "
	      "of %d",
	      timeout_ms + 2000, done, n - eintr - other);
	check(soeintr == 0 && soerr == 0,
	      "... SO_ERROR 0 for every one: %d EINTR, %d other errors",
	      soeintr, soerr);
	check(peer == done && stream == done,
	      "... the destination as the peer (%d) and the stream (%d) on "
	      "every one (%d)",
	      peer, stream, done);
	check(done == n, "all %d completed: saw %d", n, done);
	check(alarms > 20, "the storm was on: %d signals", (int)alarms);
	for (i = 0; i < n; i++)
		close(s[i]);
}

static void do_many(const char *mech, int n)
{
	static int s[MAXCONN], evs[MAXCONN];
	static char rep[MAXCONN];
	struct pollfd p[MAXCONN];
	struct epoll_event ev[64], e;
	struct conn_try c;
	long base, t0, ms;
	int i, k, j, np, started = 0, reported = 0, early = 0, ep = -1;
	int use_ep = !strcmp(mech, "epoll"), bad_ev = 0, extra = 0;
	int soerr = 0, peer = 0, stream = 0;
	char seen[96], buf[BANNER_LEN + 1];

	if (n > MAXCONN)
		n = MAXCONN;
	settag("many %s", mech);
	if (use_ep)
		ep = epoll_create1(EPOLL_CLOEXEC);
	arm();
	base = replies_sent();
	for (i = 0; i < n; i++) {
		s[i] = socket(AF_INET,
			      SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		rep[i] = 0;
		evs[i] = 0;
		start_connect(s[i], &c);
		if (c.rc < 0 && c.err != EINPROGRESS) {
			check(0, "connect %d: expected -1 EINPROGRESS, saw %s",
			      i + 1, res(c.rc, c.err));
			close(s[i]);
			break;
		}
		started++;
		if (use_ep) {
			e.events = EPOLLOUT | EPOLLET;
			e.data.u32 = (unsigned)i;
			epoll_ctl(ep, EPOLL_CTL_ADD, s[i], &e);
		}
		if (c.ms >= delay_ms / 2) {
			check(0,
			      "connect %d blocked for %ld ms (expected -1 "
			      "EINPROGRESS at once, saw %s): not starting the "
			      "other %d",
			      i + 1, c.ms, res(c.rc, c.err), n - i - 1);
			break;
		}
	}
	check(started == n, "%d connects pending at once: %d started", n,
	      started);
	for (t0 = now_ms();
	     reported < started && now_ms() - t0 < timeout_ms + 2000;) {
		if (use_ep) {
			k = epoll_wait(ep, ev, 64, 100);
			for (j = 0; j < k; j++) {
				i = (int)ev[j].data.u32;
				evs[i]++;
				if (rep[i])
					continue;
				rep[i] = 1;
				reported++;
				if (replies_sent() - base < reported)
					early++;
				if (!(ev[j].events & EPOLLOUT) ||
				    (ev[j].events & (EPOLLERR | EPOLLHUP)))
					bad_ev++;
			}
			continue;
		}
		for (i = np = 0; i < started; i++)
			if (!rep[i]) {
				p[np].fd = s[i];
				p[np].events = POLLOUT;
				p[np++].revents = 0;
			}
		if (poll(p, (nfds_t)np, 100) <= 0)
			continue;
		for (i = k = 0; i < started; i++)
			if (!rep[i]) {
				if (p[k].revents) {
					rep[i] = 1;
					reported++;
					if (replies_sent() - base < reported)
						early++;
					if (!(p[k].revents & POLLOUT) ||
					    (p[k].revents &
					     (POLLERR | POLLHUP)))
						bad_ev++;
				}
				k++;
			}
	}
	ms = now_ms() - t0;
	if (use_ep) {
		/* EPOLLET: nothing more for any of them. */
		k = epoll_wait(ep, ev, 64, 100);
		for (j = 0; j < k; j++) {
			evs[ev[j].data.u32]++;
			extra++;
		}
	}
	check(reported == started, "all %d reported writable (%ld ms): saw %d",
	      started, ms, reported);
	if (have_marker())
		check(early == 0,
		      "none reported before the proxy had answered as many: "
		      "saw %d early",
		      early);
	check(bad_ev == 0, "the events: OUT without ERR/HUP: %d otherwise",
	      bad_ev);
	if (use_ep) {
		for (i = k = 0; i < started; i++)
			k += evs[i] > 1;
		check(k == 0 && extra == 0,
		      "EPOLLET: exactly one event each: %d had more (%d after "
		      "all were reported)",
		      k, extra);
	}
	for (i = 0; i < started; i++) {
		if (!rep[i])
			continue;
		if (so_error(s[i]) != 0)
			soerr++;
		else if (peer_is_dst(s[i], seen, sizeof(seen)))
			peer++;
	}
	for (i = 0; i < started; i++)
		if (rep[i] && read_banner(s[i], buf, 1000, 0) == BANNER_LEN)
			stream++;
	check(soerr == 0 && peer == reported && stream == reported,
	      "each: SO_ERROR 0 (%d not), the destination as the peer (%d), "
	      "the stream (%d), of %d",
	      soerr, peer, stream, reported);
	for (i = 0; i < started; i++)
		close(s[i]);
	if (ep >= 0)
		close(ep);
}

/* ------------------------------------------------------------ edge */

/* Regressions from the review of the asynchronous connect (issue 8), one
 * CASE each (asyncconn edge CASE...). */

static struct sockaddr_in direct; /* a listener here (route direct) */
static int direct_lfd = -1;

static void direct_listen(void)
{
	socklen_t al = sizeof(direct);

	if (direct_lfd >= 0)
		return;
	memset(&direct, 0, sizeof(direct));
	direct.sin_family = AF_INET;
	direct.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	direct_lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (direct_lfd < 0 ||
	    bind(direct_lfd, (struct sockaddr *)&direct, sizeof(direct)) < 0 ||
	    listen(direct_lfd, 64) < 0 ||
	    getsockname(direct_lfd, (struct sockaddr *)&direct, &al) < 0) {
		perror("asyncconn: direct listener");
		exit(2);
	}
}

static const char *addr_str(const struct sockaddr_in *a)
{
	static char b[4][64];
	static int i;
	char *p = b[i++ % 4], ip[32];

	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	snprintf(p, sizeof(b[0]), "%s:%d", ip, ntohs(a->sin_port));
	return p;
}

static int nb_socket(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (s < 0) {
		perror("asyncconn: socket");
		exit(2);
	}
	return s;
}

static int connect_to(int s, const struct sockaddr_in *a)
{
	return connect(s, (const struct sockaddr *)a, sizeof(*a));
}

/* A connect() that must be pending or done: EINPROGRESS, or 0. */
static void check_started(const struct conn_try *c, const char *what)
{
	check(c->rc == 0 || c->err == EINPROGRESS,
	      "%s: expected -1 EINPROGRESS (or 0), saw %s", what,
	      res(c->rc, c->err));
}

/* Waits (poll) for s to complete successfully: reported within ms, OUT
 * without ERR/HUP, SO_ERROR 0.  Returns the time it took, or -1. */
static long wait_ok(int s, long ms, const char *what)
{
	struct report r = poll_until(s, ms);
	int e;

	check(r.got == 1 && (r.rev & POLLOUT) && !(r.rev & (POLLERR | POLLHUP)),
	      "%s: expected writable (OUT without ERR/HUP) within %ld ms, saw "
	      "%s after %ld ms",
	      what, ms,
	      r.got == 1   ? evstr(r.rev)
	      : r.got == 0 ? "nothing"
			   : res(-1, r.err),
	      r.ms);
	if (r.got != 1)
		return -1;
	e = so_error(s);
	check(e == 0, "%s: SO_ERROR expected 0, saw %s", what,
	      e < 0 ? res(-1, -e) : ename(e));
	return r.ms;
}

/* The fd numbers at which this process has an eventfd, into fds (up to
 * max); returns how many. */
static int eventfd_numbers(int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char l[64];
	ssize_t k;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.')
			continue;
		k = readlinkat(dirfd(d), e->d_name, l, sizeof(l) - 1);
		if (k <= 0)
			continue;
		l[k] = 0;
		if (!strcmp(l, "anon_inode:[eventfd]"))
			fds[n++] = atoi(e->d_name);
	}
	closedir(d);
	return n;
}

static int wait_child(pid_t kid, const char *what)
{
	int st = -1, k;

	wd_arm(timeout_ms + 5000, what);
	k = (int)waitpid(kid, &st, 0);
	wd_disarm();
	check(k == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "%s: the child ends with its checks passed: expected exit "
	      "status 0, saw %s",
	      what, how_ended(st));
	return st;
}

/* forkefd: the parent makes a connect, forks; the child makes two at once
 * and exits (_exit: its helper may be busy); the parent puts a pipe at
 * the child's eventfd numbers (515 the first time) and makes two: both
 * complete well within the timeout, and the pipe gets nothing (the
 * child's eventfd numbers are not the parent's).  Several rounds: the
 * original hang was a race (a child exiting with a slot lock held). */
static void edge_forkefd(void)
{
	const int rounds = 6;
	long lim = timeout_ms / 2;
	int round;

	for (round = 1; round <= rounds; round++) {
		int s, a, b, kp[2], pp[2], cfds[64], ncf = 0, placed[65];
		int nplaced = 0, i;
		struct conn_try c;
		char buf[64], hx[130];
		ssize_t r;
		pid_t kid;

		settag("forkefd %d", round);
		wd_arm(timeout_ms + 8000, "a forkefd round");
		s = nb_socket();
		start_connect(s, &c);
		check_started(&c, "the parent's connect before fork");
		wait_ok(s, lim, "the parent's connect before fork");
		close(s);
		if (pipe2(kp, O_CLOEXEC) < 0)
			exit(2);
		fflush(stdout);
		kid = fork();
		if (kid < 0)
			exit(2);
		if (kid == 0) {
			struct conn_try ca, cb;

			wd_start();
			fact_failures = 0;
			settag("forkefd %d child", round);
			wd_arm(timeout_ms + 5000, "the forkefd child");
			a = nb_socket();
			b = nb_socket();
			start_connect(a, &ca);
			start_connect(b, &cb);
			check_started(&ca, "the child's first connect");
			check_started(&cb, "the child's second connect");
			ncf = eventfd_numbers(cfds, 64);
			wait_ok(a, lim, "the child's first connect");
			wait_ok(b, lim, "the child's second connect");
			if (write(kp[1], cfds, sizeof(int) * (size_t)ncf) < 0)
				_exit(2);
			close(a);
			close(b);
			_exit(fact_failures ? 1 : 0);
		}
		close(kp[1]);
		wait_child(kid, "waitpid for the forkefd child");
		r = read(kp[0], cfds, sizeof(cfds));
		ncf = r > 0 ? (int)(r / (ssize_t)sizeof(int)) : 0;
		close(kp[0]);
		if (pipe2(pp, O_CLOEXEC | O_NONBLOCK) < 0)
			exit(2);
		cfds[ncf++] = 515;
		for (i = 0; i < ncf; i++) {
			int k, dup_ = 0;

			for (k = 0; k < nplaced; k++)
				dup_ |= placed[k] == cfds[i];
			if (dup_ || fcntl(cfds[i], F_GETFD) >= 0)
				continue; /* the parent's own fd */
			if (dup2(pp[1], cfds[i]) == cfds[i])
				placed[nplaced++] = cfds[i];
		}
		check(nplaced > 0,
		      "a pipe put at the child's eventfd numbers free in the "
		      "parent: %d of %d",
		      nplaced, ncf);
		a = nb_socket();
		b = nb_socket();
		start_connect(a, &c);
		check_started(&c, "the parent's first connect after the child");
		start_connect(b, &c);
		check_started(&c,
			      "the parent's second connect after the child");
		wait_ok(b, lim, "the parent's second connect after the child");
		wait_ok(a, lim, "the parent's first connect after the child");
		r = read(pp[0], buf, sizeof(buf));
		hex(buf, r > 0 ? (size_t)r : 0, hx);
		check(r < 0 && errno == EAGAIN,
		      "the pipe at the child's eventfd numbers got nothing: "
		      "expected -1 EAGAIN, saw %s%s%s",
		      res(r, errno), r > 0 ? " bytes " : "", r > 0 ? hx : "");
		for (i = 0; i < nplaced; i++)
			close(placed[i]);
		close(pp[0]);
		close(pp[1]);
		close(a);
		close(b);
		wd_disarm();
	}
}

/* dupalias: a dup made before connect(): connect() may complete
 * synchronously (0); if it is pending, the dup is not writable (poll,
 * epoll) before the proxy's answer and a send on it gets EAGAIN; the
 * proxy gets the proper request and then exactly what was sent after. */
static void edge_dupalias(void)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	struct epoll_event e = {.events = EPOLLOUT | EPOLLET}, o;
	struct conn_try c;
	struct report r;
	char seen[96], buf[BANNER_LEN + 1];
	long off, t0;
	int s, d, ep, n, k;
	ssize_t w;

	settag("dupalias");
	s = nb_socket();
	d = dup(s);
	ep = epoll_create1(EPOLL_CLOEXEC);
	e.data.fd = d;
	check(d >= 0 && ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, d, &e) == 0,
	      "a dup of the fresh socket, in an epoll set (EPOLLET)");
	off = log_size();
	arm();
	start_connect(s, &c);
	check_started(&c, "connect() on the socket (its dup open)");
	if (c.rc == 0) {
		check(!have_marker() || c.after > c.base,
		      "connect() returned 0 (synchronously) after the proxy's "
		      "answer: expected answered, saw %s",
		      answered(c.after - c.base));
	} else if (c.err == EINPROGRESS) {
		w = send(d, "EARLY", 5, MSG_DONTWAIT | MSG_NOSIGNAL);
		check(w < 0 && errno == EAGAIN,
		      "send on the dup while pending: expected -1 EAGAIN, saw "
		      "%s",
		      res(w, errno));
		t0 = now_ms();
		n = epoll_wait(ep, &o, 1, timeout_ms + 2000);
		k = errno;
		check(n == 1 && (o.events & EPOLLOUT),
		      "epoll_wait on the dup: expected OUT, saw %s after %ld "
		      "ms",
		      n == 1 ? evstr(o.events) : res(n, k), now_ms() - t0);
		if (n == 1 && have_marker())
			check(replies_sent() > c.base,
			      "the dup reported (epoll) after the proxy's "
			      "answer: expected answered, saw %s",
			      answered(replies_sent() - c.base));
	}
	r = poll_until(d, timeout_ms + 2000);
	check_report(&r, c.base, 1, timeout_ms + 2000);
	k = so_error(d);
	check(k == 0, "SO_ERROR on the dup: expected 0, saw %s",
	      k < 0 ? res(-1, -k) : ename(k));
	/* Not on the dup: there it gives the proxy's address today. */
	check(peer_is_dst(s, seen, sizeof(seen)),
	      "getpeername on the socket: expected %s, saw %s", dst_str(),
	      seen);
	w = send(d, req, strlen(req), MSG_NOSIGNAL);
	check(w == (ssize_t)strlen(req),
	      "a send on the dup after completion: expected %zu, saw %s",
	      strlen(req), res(w, errno));
	k = read_banner(d, buf, 2000, 0);
	check(k == BANNER_LEN && !memcmp(buf, BANNER, BANNER_LEN),
	      "the stream on the dup: expected '%s', saw %d bytes '%.*s'",
	      BANNER, k, k, buf);
	close(ep);
	close(d);
	close(s);
	log_check(off, req);
}

/* forkclose: the parent closes its copy at once after fork; the child
 * still gets the connection (not ECONNABORTED) and its stream. */
static void edge_forkclose(void)
{
	struct conn_try c;
	struct report r;
	char seen[96], buf[BANNER_LEN + 1];
	pid_t kid;
	int s, e, k;

	settag("forkclose");
	arm();
	s = nb_socket();
	start_connect(s, &c);
	if (check_inprogress(&c) < 0)
		return;
	fflush(stdout);
	kid = fork();
	if (kid < 0)
		exit(2);
	if (kid == 0) {
		wd_start();
		fact_failures = 0;
		settag("forkclose child");
		r = poll_until(s, timeout_ms + 1500);
		check_report(&r, c.base, 1, timeout_ms + 1500);
		e = so_error(s);
		check(e == 0,
		      "SO_ERROR (the parent closed its copy): expected 0, saw "
		      "%s",
		      e < 0 ? res(-1, -e) : ename(e));
		check(peer_is_dst(s, seen, sizeof(seen)),
		      "getpeername: expected %s, saw %s", dst_str(), seen);
		k = read_banner(s, buf, 2000, 0);
		check(k == BANNER_LEN && !memcmp(buf, BANNER, BANNER_LEN),
		      "the stream: expected '%s', saw %d bytes '%.*s'", BANNER,
		      k, k, buf);
		close(s);
		exit(fact_failures ? 1 : 0);
	}
	e = close(s);
	check(e == 0, "the parent closes its copy at once: %s", res(e, errno));
	wait_child(kid, "waitpid for the forkclose child");
}

/* unseen: a pending socket closed behind the shim's back (a raw
 * syscall); the pipe that gets its number works at once; a new socket
 * at that number connects. */
static void edge_unseen(void)
{
	struct conn_try c;
	struct pollfd p;
	struct report r;
	int s, s2, pf[2], k;
	long t0, ms;
	char ch = 0;
	ssize_t w, n;

	settag("unseen");
	arm();
	s = nb_socket();
	start_connect(s, &c);
	if (check_inprogress(&c) < 0)
		return;
	k = (int)syscall(SYS_close, s);
	check(k == 0, "syscall(SYS_close) on the pending socket: %s",
	      res(k, errno));
	if (pipe2(pf, O_CLOEXEC) < 0)
		exit(2);
	check(pf[0] == s || pf[1] == s,
	      "the pipe gets the socket's number %d: saw %d %d", s, pf[0],
	      pf[1]);
	wd_arm(timeout_ms + 3000, "I/O on the pipe at the closed socket's fd");
	t0 = now_ms();
	w = write(pf[1], "x", 1);
	n = read(pf[0], &ch, 1);
	ms = now_ms() - t0;
	check(w == 1 && n == 1 && ch == 'x' && ms < 300,
	      "a byte written to the pipe and read back at once: expected 1, "
	      "1 'x' within 300 ms, saw %s, %s '%c' after %ld ms",
	      res(w, errno), res(n, errno), ch ? ch : '?', ms);
	p.fd = pf[0];
	p.events = POLLIN;
	p.revents = 0;
	w = write(pf[1], "y", 1);
	t0 = now_ms();
	k = poll(&p, 1, 1000);
	ms = now_ms() - t0;
	check(w == 1 && k == 1 && (p.revents & POLLIN) && ms < 300,
	      "poll on the pipe reports IN at once: saw %s %s after %ld ms",
	      res(k, errno), evstr((unsigned)p.revents), ms);
	n = read(pf[0], &ch, 1);
	wd_disarm();
	close(pf[0]);
	close(pf[1]);
	settag("unseen again");
	arm();
	s2 = nb_socket();
	if (s2 != s)
		note("the new socket is fd %d, not %d", s2, s);
	start_connect(s2, &c);
	if (check_inprogress(&c) < 0) {
		close(s2);
		return;
	}
	r = poll_until(s2, timeout_ms + 1500);
	check_report(&r, c.base, 1, timeout_ms + 1500);
	check_established(s2, 1, 0);
	close(s2);
}

/* sscon: a blocking proxied connection: connect() to any address again
 * is EISCONN (as for a kernel socket), and so is sendto(MSG_FASTOPEN)
 * (what the kernel answers on a connected socket to the direct
 * listener); connect(AF_UNSPEC) dissolves it, and the next connect()
 * is a new handshake. */
static void edge_sscon(void)
{
	static const char *const req_words[] = {"request ", NULL};
	static const char *const app_words[] = {"app ", "raw ", NULL};
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	char seen[96];
	long off;
	int s, k, r, kr, ke, round;

	direct_listen();
	settag("sscon kernel");
	k = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	r = connect_to(k, &direct);
	check(r == 0, "a blocking connect to the direct listener %s: %s",
	      addr_str(&direct), res(r, errno));
	kr = (int)sendto(k, "FASTOPEN", 8, MSG_FASTOPEN | MSG_NOSIGNAL,
			 (struct sockaddr *)&direct, sizeof(direct));
	ke = errno;
	check(kr < 0 && ke == EISCONN,
	      "the kernel's sendto(MSG_FASTOPEN) on a connected socket: "
	      "expected -1 EISCONN, saw %s",
	      res(kr, ke));
	close(k);
	for (round = 0; round < 2; round++) {
		settag("sscon %s", round ? "fastopen" : "connect");
		off = log_size();
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		r = connect_to(s, &dst);
		check(r == 0, "a blocking connect to %s: expected 0, saw %s",
		      dst_str(), res(r, errno));
		if (round == 0) {
			r = connect_to(s, &direct);
			check(r < 0 && errno == EISCONN,
			      "connect() again, to the direct %s: expected -1 "
			      "EISCONN, saw %s",
			      addr_str(&direct), res(r, errno));
			r = connect_to(s, &dst);
			check(r < 0 && errno == EISCONN,
			      "connect() again, to %s: expected -1 EISCONN, "
			      "saw %s",
			      dst_str(), res(r, errno));
		} else {
			r = (int)sendto(
			    s, "FASTOPEN", 8, MSG_FASTOPEN | MSG_NOSIGNAL,
			    (struct sockaddr *)&direct, sizeof(direct));
			check(r == kr && (r >= 0 || errno == ke),
			      "sendto(MSG_FASTOPEN) to the direct %s: expected "
			      "%s (the kernel's), saw %s",
			      addr_str(&direct), res(kr, ke), res(r, errno));
			r = (int)sendto(s, "FASTOPEN", 8,
					MSG_FASTOPEN | MSG_NOSIGNAL,
					(struct sockaddr *)&dst, sizeof(dst));
			check(r == kr && (r >= 0 || errno == ke),
			      "sendto(MSG_FASTOPEN) to %s: expected %s (the "
			      "kernel's), saw %s",
			      dst_str(), res(kr, ke), res(r, errno));
		}
		check(peer_is_dst(s, seen, sizeof(seen)),
		      "getpeername still: expected %s, saw %s", dst_str(),
		      seen);
		r = connect(s, &unspec, sizeof(unspec));
		check(r == 0, "connect(AF_UNSPEC): expected 0, saw %s",
		      res(r, errno));
		r = connect_to(s, &dst);
		check(r == 0,
		      "connect() to %s after AF_UNSPEC: expected 0 (a new "
		      "connection), saw %s",
		      dst_str(), res(r, errno));
		check(peer_is_dst(s, seen, sizeof(seen)),
		      "getpeername: expected %s, saw %s", dst_str(), seen);
		close(s);
		if (!log_path) {
			note("no ASYNC_LOG: the handshakes are not counted");
			continue;
		}
		log_wait_end(off, 2, 2000);
		k = log_count(off, req_words);
		check(k == 2,
		      "the proxy got 2 CONNECT requests (the second after "
		      "AF_UNSPEC): saw %d",
		      k);
		k = log_count(off, app_words);
		check(k == 0, "nothing else reached the proxy: saw %d lines",
		      k);
	}
}

/* stalepeer: a proxied connection closed behind the shim's back
 * (fdopen + fclose); a new socket at its number connected directly has
 * the direct peer. */
static void edge_stalepeer(void)
{
	char seen[96];
	FILE *f;
	int s, s2, r;

	direct_listen();
	settag("stalepeer");
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	r = connect_to(s, &dst);
	check(r == 0, "a blocking connect to %s: expected 0, saw %s", dst_str(),
	      res(r, errno));
	f = fdopen(s, "r+");
	r = f ? fclose(f) : -1;
	check(r == 0 && fcntl(s, F_GETFD) < 0,
	      "fdopen + fclose closes fd %d: %s", s, res(r, errno));
	s2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s2 != s)
		note("the new socket is fd %d, not %d", s2, s);
	r = connect_to(s2, &direct);
	check(r == 0, "a blocking connect to the direct %s: expected 0, saw %s",
	      addr_str(&direct), res(r, errno));
	check(peer_is(s2, &direct, seen, sizeof(seen)),
	      "getpeername on the new socket (fd %d): expected %s, saw %s", s2,
	      addr_str(&direct), seen);
	close(s2);
}

/* forkpeer: a connect X pending at fork, finished by the parent: the
 * child sees X's destination as the peer; its own connect Y to another
 * destination has Y's, and X keeps X's. */
static void edge_forkpeer(void)
{
	struct sockaddr_in y;
	struct conn_try c;
	struct report r;
	char seen[96];
	pid_t kid;
	int a, b, go[2], k;

	settag("forkpeer");
	memset(&y, 0, sizeof(y));
	y.sin_family = AF_INET;
	y.sin_port = htons(81);
	inet_pton(AF_INET, "203.0.113.6", &y.sin_addr);
	if (control) {
		direct_listen();
		y = direct;
	}
	arm();
	a = nb_socket();
	start_connect(a, &c);
	if (check_inprogress(&c) < 0)
		return;
	if (pipe2(go, O_CLOEXEC) < 0)
		exit(2);
	fflush(stdout);
	kid = fork();
	if (kid < 0)
		exit(2);
	if (kid == 0) {
		struct conn_try cy;

		wd_start();
		fact_failures = 0;
		settag("forkpeer child");
		close(go[1]);
		check(wait_byte(go[0], timeout_ms + 3000) == 0,
		      "the parent saw X complete");
		check(peer_is_dst(a, seen, sizeof(seen)),
		      "getpeername(X) after the parent finished it: expected "
		      "%s, saw %s",
		      dst_str(), seen);
		b = nb_socket();
		start_connect_to(b, &y, &cy);
		check_started(&cy, "the child's connect Y");
		wait_ok(b, timeout_ms + 1500, "the child's connect Y");
		check(peer_is(b, &y, seen, sizeof(seen)),
		      "getpeername(Y): expected %s, saw %s", addr_str(&y),
		      seen);
		check(peer_is_dst(a, seen, sizeof(seen)),
		      "getpeername(X) after Y: expected %s, saw %s", dst_str(),
		      seen);
		{
			struct pollfd p = {.fd = a, .events = POLLOUT};

			poll(&p, 1, 0);
		}
		check(peer_is_dst(a, seen, sizeof(seen)),
		      "getpeername(X) after a poll on it: expected %s, saw %s",
		      dst_str(), seen);
		close(a);
		close(b);
		exit(fact_failures ? 1 : 0);
	}
	close(go[0]);
	r = poll_until(a, timeout_ms + 1500);
	check_report(&r, c.base, 1, timeout_ms + 1500);
	check(peer_is_dst(a, seen, sizeof(seen)),
	      "getpeername(X) in the parent: expected %s, saw %s", dst_str(),
	      seen);
	k = (int)write(go[1], "p", 1);
	check(k == 1, "told the child");
	close(go[1]);
	wait_child(kid, "waitpid for the forkpeer child");
	close(a);
}

static void *cancel_waiter(void *arg)
{
	struct pollfd p = {.fd = *(int *)arg, .events = POLLOUT};

	poll(&p, 1, -1);
	return NULL;
}

/* cancel: a thread blocked in poll() on a pending socket is cancelled,
 * round after round: the process's eventfds do not grow (the first round
 * may make them). */
static void edge_cancel(void)
{
	enum { ROUNDS = 4 };
	int cnt[ROUNDS], fds[256], i, s, k;
	struct conn_try c;
	pthread_t t;
	void *ret;

	for (i = 0; i < ROUNDS; i++) {
		settag("cancel %d", i + 1);
		arm();
		s = nb_socket();
		start_connect(s, &c);
		check_started(&c, "connect()");
		if (pthread_create(&t, NULL, cancel_waiter, &s) != 0)
			exit(2);
		sleep_ms(100);
		wd_arm(3000, "pthread_join of the cancelled poll() thread");
		pthread_cancel(t);
		k = pthread_join(t, &ret);
		wd_disarm();
		check(k == 0 && ret == PTHREAD_CANCELED,
		      "the thread in poll() cancelled: %s",
		      k				? strerror(k)
		      : ret == PTHREAD_CANCELED ? "PTHREAD_CANCELED"
						: "it returned");
		wait_ok(s, timeout_ms + 1500, "the connect after the cancel");
		close(s);
		cnt[i] = eventfd_numbers(fds, 256);
		if (i > 0)
			check(cnt[i] <= cnt[0],
			      "the process's eventfds: expected at most %d (as "
			      "after round 1), saw %d",
			      cnt[0], cnt[i]);
	}
}

/* epfail: a failing connect whose socket was put in an epoll set before
 * connect(): epoll_wait reports it writable with the error (OUT, ERR,
 * HUP), SO_ERROR is the errno once, then 0; afterwards poll still shows
 * it writable and hung up (as the kernel: ERR went with SO_ERROR). */
static void edge_epfail(void)
{
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP}, o;
	const unsigned want = EPOLLOUT | EPOLLERR | EPOLLHUP;
	struct pollfd p;
	struct conn_try c;
	int s, ep, n, k;
	long t0, ms;

	settag("epfail");
	s = nb_socket();
	ep = epoll_create1(EPOLL_CLOEXEC);
	e.data.fd = s;
	check(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) == 0,
	      "the socket in an epoll set (IN|OUT|RDHUP) before connect()");
	arm_fail(1);
	start_connect(s, &c);
	if (check_inprogress(&c) < 0) {
		close(ep);
		close(s);
		return;
	}
	t0 = now_ms();
	memset(&o, 0, sizeof(o));
	n = epoll_wait(ep, &o, 1, timeout_ms + 2000);
	k = errno;
	ms = now_ms() - t0;
	check(n == 1 && (o.events & want) == want,
	      "epoll_wait: expected OUT|ERR|HUP (%#x) among the events, saw "
	      "%s after %ld ms",
	      want, n == 1 ? evstr(o.events) : res(n, k), ms);
	if (n == 1 && have_marker())
		check(replies_sent() > c.base,
		      "reported after the proxy's answer: expected answered, "
		      "saw %s",
		      answered(replies_sent() - c.base));
	k = so_error(s);
	check(k == ECONNREFUSED, "SO_ERROR: expected ECONNREFUSED, saw %s",
	      k < 0 ? res(-1, -k) : ename(k));
	k = so_error(s);
	check(k == 0, "SO_ERROR a second time: expected 0, saw %s",
	      k < 0 ? res(-1, -k) : ename(k));
	p.fd = s;
	p.events = POLLIN | POLLOUT;
	p.revents = 0;
	n = poll(&p, 1, 0);
	check(n == 1 &&
		  (p.revents & (POLLOUT | POLLHUP)) == (POLLOUT | POLLHUP),
	      "poll afterwards: expected OUT|HUP among the events (ERR "
	      "allowed), saw %s",
	      n == 1 ? evstr((unsigned)p.revents) : res(n, errno));
	close(ep);
	close(s);
}

static const struct {
	const char *name;
	void (*fn)(void);
} edges[] = {{"forkefd", edge_forkefd},	    {"dupalias", edge_dupalias},
	     {"forkclose", edge_forkclose}, {"unseen", edge_unseen},
	     {"sscon", edge_sscon},	    {"stalepeer", edge_stalepeer},
	     {"forkpeer", edge_forkpeer},   {"cancel", edge_cancel},
	     {"epfail", edge_epfail}};

static void do_edge(int argc, char **argv)
{
	size_t k;
	int i;

	for (i = 0; i < argc; i++) {
		for (k = 0; k < sizeof(edges) / sizeof(edges[0]); k++)
			if (!strcmp(argv[i], edges[k].name))
				break;
		if (k == sizeof(edges) / sizeof(edges[0])) {
			fprintf(stderr, "asyncconn: no edge case %s\n",
				argv[i]);
			exit(2);
		}
		edges[k].fn();
	}
}

/* ------------------------------------------------------------ off */

static void do_off(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		int want = errno_by_name(argv[i]), s, fl, e;
		struct conn_try c;

		settag("off %d %s", i + 1, ename(want));
		s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   0);
		start_connect(s, &c);
		if (want == 0)
			check(c.rc == 0,
			      "connect() with async_connect off: expected 0 "
			      "(the handshake done inside it), saw %s",
			      res(c.rc, c.err));
		else
			check(c.rc < 0 && c.err == want,
			      "connect() with async_connect off: expected -1 "
			      "%s at once, saw %s",
			      ename(want), res(c.rc, c.err));
		if (have_marker())
			check(c.after > c.base,
			      "it returned (after %ld ms) only after the "
			      "proxy's answer: expected answered, saw %s",
			      c.ms, answered(c.after - c.base));
		fl = fcntl(s, F_GETFL);
		check(fl >= 0 && (fl & O_NONBLOCK),
		      "O_NONBLOCK left as it was: %#x", fl);
		if (want == 0) {
			check_established(s, 1, 0);
		} else {
			e = so_error(s);
			check(e == 0,
			      "nothing pending in SO_ERROR afterwards: saw %s",
			      e < 0 ? res(-1, -e) : ename(e));
		}
		close(s);
	}
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: asyncconn list |\n"
	    "       asyncconn [--control|--control-early] matrix [VARIANT...] "
	    "|\n"
	    "       pending |\n"
	    "       fail ERRNAME[:poll|epoll|select][:retry][:min=MS]... |\n"
	    "       close close|close_range|closefrom|dup2... |\n"
	    "       fork parent_first|child_first|both|parent_exits... |\n"
	    "       blocking send|recv|sndtimeo... | sigio |\n"
	    "       sigstorm restart|norestart N | many poll|epoll N |\n"
	    "       off 0|ERRNAME... |\n"
	    "       edge forkefd|dupalias|forkclose|unseen|sscon|stalepeer|"
	    "forkpeer|cancel|epfail...\n");
	exit(2);
}

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

int main(int argc, char **argv)
{
	const char *d = getenv("ASYNC_DST");
	char host[64] = "203.0.113.5";
	int port = 80;
	const char *cmd;

	if (argc > 1 && !strcmp(argv[1], "--control")) {
		control = 1;
		argc--;
		argv++;
	} else if (argc > 1 && !strcmp(argv[1], "--control-early")) {
		control = 2;
		argc--;
		argv++;
	}
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "list")) {
		size_t i;

		for (i = 0; i < NVARIANTS; i++)
			printf("%s\n", variants[i].name);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	delay_ms = env_int("ASYNC_DELAY_MS", 400);
	timeout_ms = env_int("ASYNC_TIMEOUT_MS", 3000);
	mark_path = getenv("ASYNC_MARK");
	log_path = getenv("ASYNC_LOG");
	if (d && *d && sscanf(d, "%63[^:]:%d", host, &port) < 1)
		usage();
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1)
		usage();
	if (control) {
		mark_path = log_path = NULL;
		ctl_init();
	}
	wd_start();
	cmd = argv[1];
	argc -= 2;
	argv += 2;
	if (!strcmp(cmd, "matrix"))
		do_matrix(argc, argv);
	else if (!strcmp(cmd, "pending"))
		do_pending();
	else if (!strcmp(cmd, "fail") && argc > 0)
		do_fail(argc, argv);
	else if (!strcmp(cmd, "close") && argc > 0)
		do_close(argc, argv);
	else if (!strcmp(cmd, "fork") && argc > 0)
		do_fork(argc, argv);
	else if (!strcmp(cmd, "blocking") && argc > 0)
		do_blocking(argc, argv);
	else if (!strcmp(cmd, "sigio"))
		do_sigio();
	else if (!strcmp(cmd, "sigstorm") && argc > 1)
		do_sigstorm(argv[0], atoi(argv[1]));
	else if (!strcmp(cmd, "many") && argc > 1)
		do_many(argv[0], atoi(argv[1]));
	else if (!strcmp(cmd, "edge") && argc > 0)
		do_edge(argc, argv);
	else if (!strcmp(cmd, "off") && argc > 0 && !control)
		do_off(argc, argv);
	else
		usage();
	return fact_failures ? 1 : 0;
}
