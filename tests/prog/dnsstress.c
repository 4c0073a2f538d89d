/* dnsstress - many threads resolving many distinct names and connecting.
 *
 *   dnsstress [-t THREADS] [-n NAMES] [-c MAXCONN] [-p PORT] DOMAIN
 *
 * THREADS threads (default 32) share the names n0.DOMAIN .. n(NAMES-1).DOMAIN
 * (default 10000; thread k takes every THREADS-th name from k).  For each
 * name: getaddrinfo(name, PORT, AF_UNSPEC, SOCK_STREAM); connect to the
 * addresses in the order given until one succeeds; a small echo round trip
 * on PORT (default 7); close.  At most MAXCONN connections are open at once
 * (default: THREADS, i.e. no cap); the resolver calls are never capped.
 *
 * Prints the first few errors on stderr, then one line
 *   dnsstress: N ok, N failed, ... max RSS N KiB
 * and how the returned addresses were distributed (placeholder ranges of
 * socksify's remote DNS: 127.192.0.0/10 and 100::/64).  Exits 0 only if
 * every name resolved and round-tripped.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *domain;
static const char *port = "7";
static int nthreads = 32;
static int nnames = 10000;
static int maxconn;
static sem_t conn_slots;

static atomic_int ok_count;
static atomic_int fail_count;
static atomic_int printed_errors;
static atomic_int fallbacks;	/* names where a later address worked */
static atomic_long addrs_v4_ph; /* IPv4 placeholders (127.192.0.0/10) */
static atomic_long addrs_v6_ph; /* IPv6 placeholders (100::/64) */
static atomic_long addrs_other;

static void report(const char *name, const char *what, const char *why)
{
	/* Only the first few errors, so a total failure stays readable. */
	if (atomic_fetch_add(&printed_errors, 1) < 10)
		fprintf(stderr, "dnsstress: %s: %s: %s\n", name, what, why);
}

static void classify(const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET) {
		const struct sockaddr_in *sin =
		    (const struct sockaddr_in *)(const void *)ai->ai_addr;
		uint32_t a = ntohl(sin->sin_addr.s_addr);

		if ((a & 0xffc00000u) == 0x7fc00000u)
			atomic_fetch_add(&addrs_v4_ph, 1);
		else
			atomic_fetch_add(&addrs_other, 1);
	} else if (ai->ai_family == AF_INET6) {
		static const unsigned char ph[8] = {0x01, 0x00};
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)(const void *)ai->ai_addr;

		if (memcmp(sin6->sin6_addr.s6_addr, ph, sizeof(ph)) == 0)
			atomic_fetch_add(&addrs_v6_ph, 1);
		else
			atomic_fetch_add(&addrs_other, 1);
	} else {
		atomic_fetch_add(&addrs_other, 1);
	}
}

/* The echo round trip on a connected socket; 0 or an errno (EPROTO for a
 * mismatch or early EOF). */
static int round_trip(int fd, const char *name)
{
	char out[300], in[300];
	size_t n, got = 0;

	n = (size_t)snprintf(out, sizeof(out), "%s\n", name);
	if (n >= sizeof(out))
		return EPROTO;
	if (send(fd, out, n, MSG_NOSIGNAL) != (ssize_t)n)
		return errno ? errno : EPROTO;
	while (got < n) {
		ssize_t r = recv(fd, in + got, n - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return EPROTO;
		got += (size_t)r;
	}
	return memcmp(in, out, n) == 0 ? 0 : EPROTO;
}

/* Connects to the first address that takes it; returns the fd or -1 with
 * *err set to the last error. */
static int connect_any(const struct addrinfo *res, int *err, int *tries)
{
	const struct addrinfo *ai;
	struct timeval tv = {10, 0};

	*err = ENOENT;
	*tries = 0;
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
				ai->ai_protocol);

		(*tries)++;
		if (fd < 0) {
			*err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			return fd;
		*err = errno;
		close(fd);
	}
	return -1;
}

static int one_name(int i)
{
	char name[300];
	struct addrinfo hints, *res = NULL, *ai;
	int rc, fd, err, tries;

	snprintf(name, sizeof(name), "n%d.%s", i, domain);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(name, port, &hints, &res);
	if (rc != 0) {
		report(name, "getaddrinfo",
		       rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next)
		classify(ai);

	while (sem_wait(&conn_slots) != 0 && errno == EINTR)
		;
	fd = connect_any(res, &err, &tries);
	if (fd < 0) {
		report(name, "connect", strerror(err));
	} else {
		if (tries > 1)
			atomic_fetch_add(&fallbacks, 1);
		err = round_trip(fd, name);
		if (err)
			report(name, "echo",
			       err == EPROTO ? "mismatch or early EOF"
					     : strerror(err));
		close(fd);
	}
	sem_post(&conn_slots);
	freeaddrinfo(res);
	return fd >= 0 && err == 0 ? 0 : -1;
}

static void *worker(void *arg)
{
	int i;

	for (i = (int)(long)arg; i < nnames; i += nthreads) {
		if (one_name(i) == 0)
			atomic_fetch_add(&ok_count, 1);
		else
			atomic_fetch_add(&fail_count, 1);
	}
	return NULL;
}

static int number(const char *s, int lo, int hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "dnsstress: bad number: %s\n", s);
		exit(2);
	}
	return (int)v;
}

static void usage(void)
{
	fprintf(stderr, "usage: dnsstress [-t THREADS] [-n NAMES] "
			"[-c MAXCONN] [-p PORT] DOMAIN\n");
	exit(2);
}

int main(int argc, char **argv)
{
	pthread_t *tids;
	struct timespec t0, t1;
	struct rusage ru;
	double secs;
	int opt, k, started = 0;

	while ((opt = getopt(argc, argv, "t:n:c:p:")) != -1) {
		switch (opt) {
		case 't':
			nthreads = number(optarg, 1, 1024);
			break;
		case 'n':
			nnames = number(optarg, 1, 10000000);
			break;
		case 'c':
			maxconn = number(optarg, 1, 100000);
			break;
		case 'p':
			port = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	domain = argv[optind];
	if (maxconn == 0)
		maxconn = nthreads;
	if (sem_init(&conn_slots, 0, (unsigned)maxconn) != 0) {
		perror("dnsstress: sem_init");
		return 2;
	}
	tids = calloc((size_t)nthreads, sizeof(*tids));
	if (!tids) {
		perror("dnsstress: calloc");
		return 2;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (k = 0; k < nthreads; k++) {
		if (pthread_create(&tids[k], NULL, worker, (void *)(long)k)) {
			fprintf(stderr, "dnsstress: pthread_create failed\n");
			break;
		}
		started++;
	}
	for (k = 0; k < started; k++)
		pthread_join(tids[k], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(tids);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (started < nthreads) /* names of threads never started */
		atomic_fetch_add(&fail_count, nnames - atomic_load(&ok_count) -
						  atomic_load(&fail_count));

	getrusage(RUSAGE_SELF, &ru);
	printf("dnsstress: %d ok, %d failed, %d names, %d threads, "
	       "%d connections at most, %.1f s, max RSS %ld KiB\n",
	       atomic_load(&ok_count), atomic_load(&fail_count), nnames,
	       started, maxconn, secs, ru.ru_maxrss);
	printf("dnsstress: addresses returned: %ld in 127.192.0.0/10, "
	       "%ld in 100::/64, %ld other; %d names needed a second "
	       "address\n",
	       atomic_load(&addrs_v4_ph), atomic_load(&addrs_v6_ph),
	       atomic_load(&addrs_other), atomic_load(&fallbacks));
	return atomic_load(&fail_count) == 0 && started == nthreads ? 0 : 1;
}
