/*
 * asyncreview.c - regression checks for defects a second review found in
 * the asynchronous connect (issue 8), run by tests/lab/asyncmatrix.sh
 * under the shim against the fake SOCKS5 server (a proxied destination:
 * 203.0.113.5:80 through 127.0.0.1:1080).
 *
 *   asyncreview adopt     a child that takes a handshake over (its parent
 *                         closed its copy) must not put the parent's epoll
 *                         registrations into the child's own epoll fd of
 *                         the same number
 *   asyncreview loglock   the failure's log line meets a full stderr pipe:
 *                         close() of the socket must not wait for it
 *   asyncreview order N   N connects registered in 8 epoll sets while a
 *                         thread MODs one registration: never ENOENT
 *   asyncreview stale     a pending socket closed behind the shim (fclose)
 *                         and its number reused by accept(): getpeername
 *                         gives the accepted peer
 *
 * One "ok: [CASE] ..." or "FAIL: [CASE] ..." line per fact (fact.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fact.h"

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* A non-blocking connect to the proxied destination: -1/EINPROGRESS. */
static int start(int *fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};

	inet_pton(AF_INET, "203.0.113.5", &a.sin_addr);
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	return connect(*fd, (struct sockaddr *)&a, sizeof(a)) < 0 &&
		       errno == EINPROGRESS
		   ? 0
		   : -1;
}

static int adopt(void)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = 0xdeadbeef};
	struct epoll_event out[4];
	int ep = epoll_create1(0), s, p1[2], p2[2], st = 0, n, e2, err;
	socklen_t l = sizeof(err);
	char b;
	pid_t c;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};

	if (pipe(p1) < 0 || pipe(p2) < 0)
		return 1;
	inet_pton(AF_INET, "203.0.113.5", &a.sin_addr);
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	/* Registered before connect: taken out, saved for the end. */
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 ||
	    errno != EINPROGRESS) {
		fact(0, "[adopt] connect: expected EINPROGRESS, saw %s",
		     strerror(errno));
		return 1;
	}
	c = fork();
	if (c == 0) {
		struct pollfd pf = {.fd = s, .events = POLLOUT};

		close(ep);
		e2 = epoll_create1(0);
		(void)!write(p1[1], "x", 1);
		(void)!read(p2[0], &b, 1);
		n = poll(&pf, 1, 5000);
		err = -1;
		getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l);
		fact(n == 1 && (pf.revents & POLLOUT) && err == 0,
		     "[adopt] the child, its parent's copy closed, sees the "
		     "handshake end: poll %d revents %#x SO_ERROR %d",
		     n, pf.revents, err);
		n = epoll_wait(e2, out, 4, 200);
		fact(n == 0 && e2 == ep,
		     "[adopt] the child's own new epoll fd %d (the parent's "
		     "number) reports nothing: %d events%s",
		     e2, n,
		     n > 0 && out[0].data.u64 == 0xdeadbeef
			 ? " (the parent's registration)"
			 : "");
		_exit(fact_failures ? 1 : 0);
	}
	(void)!read(p1[0], &b, 1);
	close(s); /* handed to the child */
	(void)!write(p2[1], "x", 1);
	waitpid(c, &st, 0);
	fact(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	     "[adopt] the child's checks passed");
	return fact_failures ? 1 : 0;
}

static int g_pipe_rd;

static void *drain_later(void *a)
{
	char buf[65536];

	(void)a;
	sleep(2);
	fcntl(g_pipe_rd, F_SETFL, O_NONBLOCK);
	while (read(g_pipe_rd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static int loglock(void)
{
	char junk[4096];
	long long t0, took;
	pthread_t t;
	int p[2], s;

	if (pipe(p) < 0)
		return 1;
	g_pipe_rd = p[0];
	dup2(p[1], 2);
	close(p[1]);
	fcntl(2, F_SETFL, O_NONBLOCK);
	memset(junk, 'x', sizeof(junk));
	while (write(2, junk, sizeof(junk)) > 0)
		;
	fcntl(2, F_SETFL, 0);
	if (start(&s) < 0)
		return 1;
	usleep(300000); /* refused by now: the helper blocks logging it */
	pthread_create(&t, NULL, drain_later, NULL);
	t0 = now_ms();
	close(s);
	took = now_ms() - t0;
	fact(took < 1000,
	     "[loglock] close() with the log line stuck in a full stderr "
	     "pipe: expected at once, took %lld ms",
	     took);
	pthread_join(t, NULL);
	return fact_failures ? 1 : 0;
}

static int g_s, g_ep;
static volatile int g_go, g_stop, g_hits, g_busy;
static struct epoll_event g_ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = 1};

/* MODs the registration while g_go; g_busy counts the calls in flight,
 * so that the main thread closes nothing under a call. */
static void *mod_spin(void *a)
{
	(void)a;
	while (!g_stop) {
		__sync_fetch_and_add(&g_busy, 1);
		if (g_go && epoll_ctl(g_ep, EPOLL_CTL_MOD, g_s, &g_ev) < 0 &&
		    errno == ENOENT)
			__sync_fetch_and_add(&g_hits, 1);
		__sync_fetch_and_sub(&g_busy, 1);
	}
	return NULL;
}

static void quiesce(void)
{
	g_go = 0;
	while (g_busy)
		sched_yield();
}

static int order(int n)
{
	pthread_t th[3];
	int eps[8], k, j, bad = 0, s;

	for (k = 0; k < 3; k++)
		pthread_create(&th[k], NULL, mod_spin, NULL);
	for (k = 0; k < n; k++) {
		s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		for (j = 0; j < 8; j++) {
			eps[j] = epoll_create1(0);
			epoll_ctl(eps[j], EPOLL_CTL_ADD, s, &g_ev);
		}
		g_s = s;
		g_ep = eps[7];
		g_hits = 0;
		__sync_synchronize();
		{
			struct sockaddr_in a = {.sin_family = AF_INET,
						.sin_port = htons(80)};

			inet_pton(AF_INET, "203.0.113.5", &a.sin_addr);
			if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 ||
			    errno != EINPROGRESS) {
				fact(0, "[order] connect: %s", strerror(errno));
				g_stop = 1;
				break;
			}
		}
		g_go = 1;
		usleep(20000);
		quiesce();
		if (g_hits)
			bad++;
		close(s);
		for (j = 0; j < 8; j++)
			close(eps[j]);
	}
	g_stop = 1;
	for (k = 0; k < 3; k++)
		pthread_join(th[k], NULL);
	fact(bad == 0,
	     "[order] epoll_ctl(MOD) of a registration while the handshake "
	     "ends: ENOENT in %d of %d connects (expected 0)",
	     bad, n);
	return fact_failures ? 1 : 0;
}

static int stale(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(9999),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in p, me;
	socklen_t pl = sizeof(p), ml = sizeof(me);
	int one = 1, l, s, c, acc;
	FILE *f;

	l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0)
		return 1;
	if (start(&s) < 0)
		return 1;
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		return 1;
	f = fdopen(s, "r+");
	fclose(f); /* glibc's own close: the shim does not see it */
	acc = accept(l, NULL, NULL);
	fact(acc == s, "[stale] accept() got the closed socket's number %d: %d",
	     s, acc);
	usleep(600000); /* past the handshake's end */
	getsockname(c, (struct sockaddr *)&me, &ml);
	fact(getpeername(acc, (struct sockaddr *)&p, &pl) == 0 &&
		 p.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
		 p.sin_port == me.sin_port,
	     "[stale] getpeername of the accepted fd is the client "
	     "(127.0.0.1:%u), not the proxied destination: saw port %u",
	     ntohs(me.sin_port), ntohs(p.sin_port));
	return fact_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc >= 2 && strcmp(argv[1], "adopt") == 0)
		return adopt();
	if (argc >= 2 && strcmp(argv[1], "loglock") == 0)
		return loglock();
	if (argc >= 3 && strcmp(argv[1], "order") == 0)
		return order(atoi(argv[2]));
	if (argc >= 2 && strcmp(argv[1], "stale") == 0)
		return stale();
	fprintf(stderr, "usage: asyncreview adopt|loglock|order N|stale\n");
	return 2;
}
