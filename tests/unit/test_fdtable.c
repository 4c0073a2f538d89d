/*
 * test_fdtable.c - unit tests for the per-fd table (preload/fdtable.c).
 *
 * The table is process-global: every test starts from an empty table (the
 * fixture clears it), so the suite also runs with CK_FORK=no.  The fds are
 * just numbers here; nothing is opened.  Threads never call ck_assert (it
 * is not thread-safe): they count what went wrong and the main thread
 * asserts the counts.  Forked children report through their exit status.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdtable.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define BIG_FD ((int)FDT_BITMAP_FDS + 5)

/* A record that names @fd: 10.x.y.z:port with x.y.z and port from fd. */
static struct sfy_fdinfo info_for(int fd)
{
	struct sfy_fdinfo in;
	struct sockaddr_in sin;
	unsigned int u = (unsigned int)fd;

	memset(&in, 0, sizeof(in));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)(u & 0xffff));
	sin.sin_addr.s_addr = htonl(0x0a000000u | (u & 0xffffff));
	in.kind = SFY_FD_TCP_PROXIED;
	memcpy(&in.peer, &sin, sizeof(sin));
	in.peerlen = sizeof(sin);
	return in;
}

static int info_eq(const struct sfy_fdinfo *a, const struct sfy_fdinfo *b)
{
	return a->kind == b->kind && a->peerlen == b->peerlen &&
	       memcmp(&a->peer, &b->peer, a->peerlen) == 0;
}

/* fd's record is the one info_for(want) makes. */
static int holds(int fd, int want)
{
	struct sfy_fdinfo got, exp = info_for(want);

	memset(&got, 0, sizeof(got));
	return fdt_get(fd, &got) == 0 && info_eq(&got, &exp);
}

static int absent(int fd)
{
	struct sfy_fdinfo got;

	return fdt_get(fd, &got) == -1;
}

static void set(int fd)
{
	struct sfy_fdinfo in = info_for(fd);

	ck_assert_int_eq(fdt_set(fd, &in), 0);
}

static void clear_table(void)
{
	fdt_del_range(0, UINT_MAX);
}

static void setup(void)
{
	clear_table();
	ck_assert_uint_eq(fdt_count(), 0);
}

/* ---- set / get / del ---- */

START_TEST(test_set_get)
{
	struct sfy_fdinfo in = info_for(3), out;

	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(fdt_set(3, &in), 0);
	ck_assert_int_eq(fdt_get(3, &out), 0);
	ck_assert_int_eq(out.kind, SFY_FD_TCP_PROXIED);
	ck_assert_uint_eq(out.peerlen, sizeof(struct sockaddr_in));
	ck_assert_mem_eq(&out.peer, &in.peer, in.peerlen);
}
END_TEST

START_TEST(test_get_unknown)
{
	set(3);
	ck_assert(absent(4));
	ck_assert(absent(0));
	ck_assert(absent(-1));
	ck_assert(absent(INT_MIN));
	ck_assert(absent(BIG_FD));
}
END_TEST

START_TEST(test_del)
{
	set(3);
	set(4);
	fdt_del(3);
	ck_assert(absent(3));
	ck_assert(holds(4, 4));
	ck_assert_uint_eq(fdt_count(), 1);
}
END_TEST

START_TEST(test_del_unknown)
{
	set(3);
	fdt_del(4);
	fdt_del(-1);
	fdt_del(BIG_FD);
	ck_assert(holds(3, 3));
	ck_assert_uint_eq(fdt_count(), 1);
}
END_TEST

START_TEST(test_set_replaces)
{
	struct sfy_fdinfo other = info_for(99);

	set(3);
	ck_assert_int_eq(fdt_set(3, &other), 0);
	ck_assert(holds(3, 99));
	ck_assert_uint_eq(fdt_count(), 1);
}
END_TEST

START_TEST(test_set_negative)
{
	struct sfy_fdinfo in = info_for(1);

	ck_assert_int_lt(fdt_set(-1, &in), 0);
	ck_assert_int_lt(fdt_set(INT_MIN, &in), 0);
	ck_assert_uint_eq(fdt_count(), 0);
	ck_assert(!fdt_maybe_ours(-1));
}
END_TEST

/* ---- fdt_maybe_ours ---- */

static const int unknown_fds[] = {0,
				  1,
				  2,
				  63,
				  64,
				  65,
				  1000,
				  (int)FDT_BITMAP_FDS - 1,
				  (int)FDT_BITMAP_FDS,
				  BIG_FD,
				  INT_MAX};
static const int negative_fds[] = {-1, -2, -64, -65, INT_MIN};

START_TEST(test_maybe_ours_empty)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(unknown_fds); i++)
		ck_assert_msg(!fdt_maybe_ours(unknown_fds[i]), "fd %d",
			      unknown_fds[i]);
}
END_TEST

/* Negative fds are never ours, whatever the table holds (-1 must not
 * alias a high bit of the bitmap or the big-fd count). */
START_TEST(test_maybe_ours_negative)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(unknown_fds); i++)
		set(unknown_fds[i]);
	for (i = 0; i < ARRAY_SIZE(negative_fds); i++)
		ck_assert_msg(!fdt_maybe_ours(negative_fds[i]), "fd %d",
			      negative_fds[i]);
}
END_TEST

START_TEST(test_maybe_ours_after_set)
{
	int fd = unknown_fds[_i];

	set(fd);
	ck_assert(fdt_maybe_ours(fd));
}
END_TEST

START_TEST(test_maybe_ours_after_del)
{
	int fd = unknown_fds[_i];

	set(fd);
	fdt_del(fd);
	ck_assert(!fdt_maybe_ours(fd));
}
END_TEST

/* A bit is one fd: its neighbours, across word boundaries, stay clear. */
static const int neighbour_fds[] = {0, 63, 64, 127, 128};

START_TEST(test_maybe_ours_neighbours)
{
	int fd = neighbour_fds[_i];

	set(fd);
	if (fd > 0)
		ck_assert(!fdt_maybe_ours(fd - 1));
	ck_assert(!fdt_maybe_ours(fd + 1));
}
END_TEST

/* ---- dup ---- */

START_TEST(test_dup_copies)
{
	set(3);
	fdt_dup(3, 10);
	ck_assert(holds(10, 3));
	ck_assert(holds(3, 3));
	ck_assert(fdt_maybe_ours(10));
	ck_assert_uint_eq(fdt_count(), 2);
}
END_TEST

START_TEST(test_dup_replaces_tracked)
{
	set(3);
	set(10);
	fdt_dup(3, 10);
	ck_assert(holds(10, 3));
	ck_assert_uint_eq(fdt_count(), 2);
}
END_TEST

/* dup2(untracked, tracked) closes the tracked fd: its record goes. */
START_TEST(test_dup_untracked_onto_tracked)
{
	set(10);
	fdt_dup(4, 10);
	ck_assert(absent(10));
	ck_assert(!fdt_maybe_ours(10));
	ck_assert_uint_eq(fdt_count(), 0);
}
END_TEST

START_TEST(test_dup_untracked_onto_untracked)
{
	set(3);
	fdt_dup(4, 10);
	ck_assert(absent(10));
	ck_assert(holds(3, 3));
	ck_assert_uint_eq(fdt_count(), 1);
}
END_TEST

/* dup2(fd, fd) is a no-op. */
START_TEST(test_dup_self)
{
	set(3);
	fdt_dup(3, 3);
	ck_assert(holds(3, 3));
	ck_assert_uint_eq(fdt_count(), 1);
}
END_TEST

START_TEST(test_dup_negative)
{
	set(3);
	fdt_dup(3, -1);
	fdt_dup(-1, 3);
	ck_assert(absent(-1));
	/* A failed dup2(-1, 3) never reaches the table in the shim, but if
	 * it did, 3 would name nothing of ours. */
	ck_assert(absent(3));
}
END_TEST

START_TEST(test_dup_big)
{
	set(3);
	fdt_dup(3, BIG_FD);
	ck_assert(holds(BIG_FD, 3));
	fdt_dup(BIG_FD, BIG_FD + 1);
	ck_assert(holds(BIG_FD + 1, 3));
	fdt_dup(BIG_FD, 20);
	ck_assert(holds(20, 3));
	fdt_dup(21, BIG_FD);
	ck_assert(absent(BIG_FD));
	ck_assert_uint_eq(fdt_count(), 3);
}
END_TEST

/* ---- del_range ---- */

/* Two populations: with and without fds past the bitmap (the latter lets
 * fdt_del_range take its lock-free early exit). */
static const int range_fds_small[] = {
    0, 1, 62, 63, 64, 65, 127, 128, 129, 1000, (int)FDT_BITMAP_FDS - 1};
static const int range_fds_big[] = {
    0,	    63,	    64, 65, 1000, (int)FDT_BITMAP_FDS - 1, (int)FDT_BITMAP_FDS,
    BIG_FD, INT_MAX};

struct range {
	unsigned int lo, hi;
};

static const struct range ranges[] = {
    {63, 63},
    {64, 64},
    {65, 65},
    {63, 64},
    {64, 65},
    {63, 65},
    {62, 66},
    {0, 0},
    {0, 62},
    {0, 63},
    {66, 126},
    {128, 128},
    {2, 61},
    {130, 999},
    {1001, FDT_BITMAP_FDS - 2},
    {FDT_BITMAP_FDS - 1, FDT_BITMAP_FDS - 1},
    {FDT_BITMAP_FDS - 1, FDT_BITMAP_FDS},
    {FDT_BITMAP_FDS, UINT_MAX},
    {FDT_BITMAP_FDS + 6, UINT_MAX},
    {INT_MAX, INT_MAX},
    {(unsigned int)INT_MAX + 1, UINT_MAX},
    {100, UINT_MAX},
    {0, UINT_MAX},
    {UINT_MAX, UINT_MAX},
    {65, 63}, /* lo > hi: nothing */
    {UINT_MAX, 0},
};

static int in_range(int fd, const struct range *r)
{
	unsigned int u = (unsigned int)fd;

	return u >= r->lo && u <= r->hi;
}

START_TEST(test_del_range)
{
	const struct range *r = &ranges[_i / 2];
	const int *fds = _i % 2 ? range_fds_big : range_fds_small;
	size_t nfds =
	    _i % 2 ? ARRAY_SIZE(range_fds_big) : ARRAY_SIZE(range_fds_small);
	unsigned int left = 0;
	size_t i;

	for (i = 0; i < nfds; i++)
		set(fds[i]);
	fdt_del_range(r->lo, r->hi);
	for (i = 0; i < nfds; i++) {
		if (in_range(fds[i], r)) {
			ck_assert_msg(absent(fds[i]), "fd %d", fds[i]);
		} else {
			ck_assert_msg(holds(fds[i], fds[i]), "fd %d", fds[i]);
			left++;
		}
	}
	ck_assert_uint_eq(fdt_count(), left);
}
END_TEST

/* The bitmap agrees with the table after a range delete. */
START_TEST(test_del_range_bits)
{
	const struct range *r = &ranges[_i];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(range_fds_small); i++)
		set(range_fds_small[i]);
	fdt_del_range(r->lo, r->hi);
	for (i = 0; i < ARRAY_SIZE(range_fds_small); i++)
		ck_assert_msg(fdt_maybe_ours(range_fds_small[i]) ==
				  !in_range(range_fds_small[i], r),
			      "fd %d", range_fds_small[i]);
}
END_TEST

/* ---- fds past the bitmap ---- */

START_TEST(test_big_fd)
{
	set(BIG_FD);
	ck_assert(fdt_maybe_ours(BIG_FD));
	ck_assert(holds(BIG_FD, BIG_FD));
	ck_assert(absent(BIG_FD + 1));
	ck_assert_uint_eq(fdt_count(), 1);
	fdt_del(BIG_FD);
	ck_assert(absent(BIG_FD));
	ck_assert(!fdt_maybe_ours(BIG_FD));
	ck_assert_uint_eq(fdt_count(), 0);
}
END_TEST

/* The big-fd count is per record: replacing one does not count twice and
 * deleting one of two keeps the other visible. */
START_TEST(test_big_fd_count)
{
	set(BIG_FD);
	set(BIG_FD);
	set(INT_MAX);
	fdt_del(BIG_FD);
	ck_assert(fdt_maybe_ours(INT_MAX));
	ck_assert(holds(INT_MAX, INT_MAX));
	fdt_del(INT_MAX);
	ck_assert(!fdt_maybe_ours(INT_MAX));
	ck_assert(!fdt_maybe_ours(BIG_FD));
}
END_TEST

/* A big record does not make small untracked fds look tracked. */
START_TEST(test_big_fd_small_clear)
{
	set(BIG_FD);
	ck_assert(!fdt_maybe_ours(3));
	ck_assert(!fdt_maybe_ours((int)FDT_BITMAP_FDS - 1));
}
END_TEST

/* ---- fdt_count ---- */

START_TEST(test_count)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(range_fds_big); i++) {
		set(range_fds_big[i]);
		ck_assert_uint_eq(fdt_count(), i + 1);
	}
	for (i = 0; i < ARRAY_SIZE(range_fds_big); i++) {
		fdt_del(range_fds_big[i]);
		ck_assert_uint_eq(fdt_count(),
				  ARRAY_SIZE(range_fds_big) - i - 1);
	}
}
END_TEST

/* ---- threads ---- */

#define NTHREADS 8
#define ITERS	 10000
#define SPAN	 200 /* fds per thread */

struct worker {
	pthread_t tid;
	int t;
	int big;	       /* use fds past the bitmap */
	atomic_int *stop;      /* NULL: run ITERS iterations */
	pthread_barrier_t *go; /* all start at once */
	/* What went wrong, by kind. */
	unsigned int set_failed, get_failed, wrong_record, bit_clear,
	    not_deleted, bit_left;
};

/* Thread t's fds interleave with the others' (fd % NTHREADS == t), so
 * all threads flip bits in the same bitmap words at once. */
static int worker_fd(const struct worker *w, unsigned long i)
{
	int fd = (int)(i % SPAN) * NTHREADS + w->t + 3;

	return w->big ? fd + (int)FDT_BITMAP_FDS : fd;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sfy_fdinfo in, out;
	unsigned long i;
	int fd;

	pthread_barrier_wait(w->go);
	for (i = 0; w->stop ? !atomic_load(w->stop) : i < ITERS; i++) {
		fd = worker_fd(w, i);
		in = info_for(fd);
		if (fdt_set(fd, &in) != 0)
			w->set_failed++;
		if (!fdt_maybe_ours(fd))
			w->bit_clear++;
		if (fdt_get(fd, &out) != 0)
			w->get_failed++;
		else if (!info_eq(&in, &out))
			w->wrong_record++;
		fdt_del(fd);
		if (fdt_get(fd, &out) != -1)
			w->not_deleted++;
		/* Past the bitmap "maybe" is shared by all big fds. */
		if (!w->big && fdt_maybe_ours(fd))
			w->bit_left++;
	}
	return NULL;
}

static pthread_barrier_t go;

static void start_workers(struct worker *w, size_t n, int big, atomic_int *stop)
{
	size_t i;

	ck_assert_int_eq(pthread_barrier_init(&go, NULL, (unsigned int)n), 0);
	for (i = 0; i < n; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].t = (int)i;
		w[i].big = big;
		w[i].stop = stop;
		w[i].go = &go;
		ck_assert_int_eq(
		    pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
	}
}

static void join_workers(struct worker *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ck_assert_int_eq(pthread_join(w[i].tid, NULL), 0);
	ck_assert_int_eq(pthread_barrier_destroy(&go), 0);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(w[i].set_failed, 0);
		ck_assert_uint_eq(w[i].get_failed, 0);
		ck_assert_uint_eq(w[i].wrong_record, 0);
		ck_assert_uint_eq(w[i].bit_clear, 0);
		ck_assert_uint_eq(w[i].not_deleted, 0);
		ck_assert_uint_eq(w[i].bit_left, 0);
	}
}

/* ---- latest / bnd (inbound connections, bind.c) ---- */

static struct sfy_fdinfo v6_info(void)
{
	struct sfy_fdinfo in;
	struct sockaddr_in6 p;

	memset(&in, 0, sizeof(in));
	memset(&p, 0, sizeof(p));
	in.kind = SFY_FD_TCP_PROXIED;
	p.sin6_family = AF_INET6;
	p.sin6_addr.s6_addr[0] = 0x20;
	memcpy(&in.peer, &p, sizeof(p));
	in.peerlen = sizeof(p);
	return in;
}

START_TEST(test_latest)
{
	struct sfy_fdinfo in, out, six = v6_info();

	ck_assert_int_eq(fdt_latest(AF_UNSPEC, &out), -1);
	set(5);
	set(9);
	set(7); /* made last: the most recent, whatever its number */
	ck_assert_int_eq(fdt_latest(AF_UNSPEC, &out), 0);
	in = info_for(7);
	ck_assert_mem_eq(&out.peer, &in.peer, in.peerlen);
	ck_assert_int_eq(fdt_set(3, &six), 0);
	/* any family: the IPv6 one, made last; IPv4 preferred: 7 */
	ck_assert_int_eq(fdt_latest(AF_UNSPEC, &out), 0);
	ck_assert_int_eq(out.peer.ss_family, AF_INET6);
	ck_assert_int_eq(fdt_latest(AF_INET, &out), 0);
	ck_assert_mem_eq(&out.peer, &in.peer, in.peerlen);
	/* no IPv4 one left: the IPv6 one rather than none */
	fdt_del(5);
	fdt_del(7);
	fdt_del(9);
	ck_assert_int_eq(fdt_latest(AF_INET, &out), 0);
	ck_assert_int_eq(out.peer.ss_family, AF_INET6);
	/* other kinds never count */
	fdt_del(3);
	in.kind = SFY_FD_TCP_LISTEN;
	ck_assert_int_eq(fdt_set(4, &in), 0);
	ck_assert_int_eq(fdt_latest(AF_UNSPEC, &out), -1);
}
END_TEST

START_TEST(test_bnd_addr)
{
	struct sfy_fdinfo in = info_for(6);
	struct sockaddr_in b;
	struct sockaddr_storage q;

	memset(&b, 0, sizeof(b));
	b.sin_family = AF_INET;
	b.sin_addr.s_addr = htonl(0xc6120101);
	b.sin_port = htons(4000);
	memcpy(&in.bnd, &b, sizeof(b));
	in.bndlen = sizeof(b);
	ck_assert_int_eq(fdt_set(6, &in), 0);
	b.sin_port = 0; /* any port */
	memset(&q, 0, sizeof(q));
	memcpy(&q, &b, sizeof(b));
	ck_assert_int_eq(fdt_is_bnd_addr(&q), 1);
	b.sin_addr.s_addr = htonl(0xc6120102);
	memcpy(&q, &b, sizeof(b));
	ck_assert_int_eq(fdt_is_bnd_addr(&q), 0);
	q.ss_family = AF_INET6;
	ck_assert_int_eq(fdt_is_bnd_addr(&q), 0);
	b.sin_addr.s_addr = htonl(0xc6120101);
	memcpy(&q, &b, sizeof(b));
	fdt_del(6);
	ck_assert_int_eq(fdt_is_bnd_addr(&q), 0);
}
END_TEST

START_TEST(test_threads)
{
	struct worker w[NTHREADS];
	int big = (int)_i;

	start_workers(w, ARRAY_SIZE(w), big, NULL);
	join_workers(w, ARRAY_SIZE(w));
	ck_assert_uint_eq(fdt_count(), 0);
	ck_assert(!fdt_maybe_ours(worker_fd(&w[0], 0)));
}
END_TEST

/* ---- fork ---- */

/* Child exit codes: which check failed. */
enum {
	CHILD_OK,
	CHILD_NOT_OURS,
	CHILD_NO_RECORD,
	CHILD_SET_FAILED,
	CHILD_GET_FAILED,
	CHILD_DEL_FAILED,
	CHILD_COUNT,
};

/* Outside every worker's fds. */
#define PARENT_FD 100000
#define CHILD_FD  100001

/* In a child: the parent's record is there and the table works. */
static int child_checks(unsigned int want_min_count)
{
	struct sfy_fdinfo in = info_for(CHILD_FD);

	if (!fdt_maybe_ours(PARENT_FD))
		return CHILD_NOT_OURS;
	if (!holds(PARENT_FD, PARENT_FD))
		return CHILD_NO_RECORD;
	if (fdt_set(CHILD_FD, &in) != 0)
		return CHILD_SET_FAILED;
	if (!holds(CHILD_FD, CHILD_FD))
		return CHILD_GET_FAILED;
	fdt_del(CHILD_FD);
	if (!absent(CHILD_FD))
		return CHILD_DEL_FAILED;
	if (fdt_count() < want_min_count)
		return CHILD_COUNT;
	return CHILD_OK;
}

/*
 * Forks a child that runs child_checks() and exits with its result, under
 * its own alarm: a child stuck on a lock it inherited locked dies of
 * SIGALRM.  SIGALRM gets its default action first: check's handler (which
 * the child inherits) would SIGKILL the whole process group.  Returns the
 * wait status, or -1 if fork() failed.
 */
static int run_child(void)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(10);
		_exit(child_checks(1));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static int child_ok(int status)
{
	return status != -1 && WIFEXITED(status) &&
	       WEXITSTATUS(status) == CHILD_OK;
}

START_TEST(test_fork_keeps_records)
{
	int status;

	set(PARENT_FD);
	status = run_child();
	ck_assert_int_ne(status, -1);
	ck_assert_msg(WIFEXITED(status), "child killed by signal %d",
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_int_eq(WEXITSTATUS(status), CHILD_OK);
	/* The child's table is its own. */
	ck_assert(absent(CHILD_FD));
	ck_assert(holds(PARENT_FD, PARENT_FD));
}
END_TEST

#define FORKS 100

/*
 * fork() while other threads take and release the table's lock: the child
 * must not inherit it locked (the atfork handlers).  The parent, too, is
 * under an alarm, with the default action, should fork() itself hang.
 * Nothing is asserted while the workers run (an assertion would leave
 * them running on this function's stack).
 */
START_TEST(test_fork_under_load)
{
	struct worker w[NTHREADS / 2];
	struct sigaction dfl, old;
	atomic_int stop = 0;
	int i, status = 0;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	ck_assert_int_eq(sigaction(SIGALRM, &dfl, &old), 0);
	alarm(60);
	set(PARENT_FD);
	start_workers(w, ARRAY_SIZE(w), 0, &stop);
	for (i = 0; i < FORKS; i++) {
		status = run_child();
		if (!child_ok(status))
			break;
	}
	atomic_store(&stop, 1);
	join_workers(w, ARRAY_SIZE(w));
	alarm(0);
	ck_assert_int_eq(sigaction(SIGALRM, &old, NULL), 0);
	ck_assert_int_ne(status, -1);
	ck_assert_msg(WIFEXITED(status), "child %d killed by signal %d", i,
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_int_eq(WEXITSTATUS(status), CHILD_OK);
	ck_assert_int_eq(i, FORKS);
	ck_assert(holds(PARENT_FD, PARENT_FD));
	ck_assert_uint_eq(fdt_count(), 1);
}
END_TEST

static Suite *fdtable_suite(void)
{
	Suite *s = suite_create("fdtable");
	TCase *tc;

	tc = tcase_create("basic");
	tcase_add_checked_fixture(tc, setup, clear_table);
	tcase_add_test(tc, test_set_get);
	tcase_add_test(tc, test_get_unknown);
	tcase_add_test(tc, test_del);
	tcase_add_test(tc, test_del_unknown);
	tcase_add_test(tc, test_set_replaces);
	tcase_add_test(tc, test_set_negative);
	tcase_add_test(tc, test_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("maybe_ours");
	tcase_add_checked_fixture(tc, setup, clear_table);
	tcase_add_test(tc, test_maybe_ours_empty);
	tcase_add_test(tc, test_maybe_ours_negative);
	tcase_add_loop_test(tc, test_maybe_ours_after_set, 0,
			    ARRAY_SIZE(unknown_fds));
	tcase_add_loop_test(tc, test_maybe_ours_after_del, 0,
			    ARRAY_SIZE(unknown_fds));
	tcase_add_loop_test(tc, test_maybe_ours_neighbours, 0,
			    ARRAY_SIZE(neighbour_fds));
	suite_add_tcase(s, tc);

	tc = tcase_create("dup");
	tcase_add_checked_fixture(tc, setup, clear_table);
	tcase_add_test(tc, test_dup_copies);
	tcase_add_test(tc, test_dup_replaces_tracked);
	tcase_add_test(tc, test_dup_untracked_onto_tracked);
	tcase_add_test(tc, test_dup_untracked_onto_untracked);
	tcase_add_test(tc, test_dup_self);
	tcase_add_test(tc, test_dup_negative);
	tcase_add_test(tc, test_dup_big);
	suite_add_tcase(s, tc);

	tc = tcase_create("del_range");
	tcase_add_checked_fixture(tc, setup, clear_table);
	tcase_add_loop_test(tc, test_del_range, 0, ARRAY_SIZE(ranges) * 2);
	tcase_add_loop_test(tc, test_del_range_bits, 0, ARRAY_SIZE(ranges));
	suite_add_tcase(s, tc);

	tc = tcase_create("big");
	tcase_add_checked_fixture(tc, setup, clear_table);
	tcase_add_test(tc, test_big_fd);
	tcase_add_test(tc, test_big_fd_count);
	tcase_add_test(tc, test_big_fd_small_clear);
	suite_add_tcase(s, tc);

	tc = tcase_create("inbound");
	tcase_add_checked_fixture(tc, setup, clear_table);
	tcase_add_test(tc, test_latest);
	tcase_add_test(tc, test_bnd_addr);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_add_checked_fixture(tc, setup, clear_table);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_threads, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("fork");
	tcase_add_checked_fixture(tc, setup, clear_table);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fork_keeps_records);
	tcase_add_test(tc, test_fork_under_load);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fdtable_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
