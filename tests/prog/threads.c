/* threads - many threads connecting at once, then fork().
 *
 *   threads ADDR PORT [THREADS [CONNS]]     (defaults 16 and 50)
 *
 * Each of THREADS threads makes CONNS sequential connections to the echo
 * server at ADDR:PORT (IPv4 or IPv6 literal) and checks a payload round trip
 * on each.  Then the process forks; the child connects and round-trips too,
 * and so does the parent after the child is done.  Prints the counts; exits
 * 0 only if every connection succeeded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_storage target;
static socklen_t target_len;
static int nconns = 50;
static atomic_int ok_count;
static atomic_int fail_count;
static atomic_int printed_errors;

static int parse_addr(const char *s, unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&target;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&target;

	memset(&target, 0, sizeof(target));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		target_len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		target_len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

static void report(const char *who, const char *what, int err)
{
	/* Only the first few errors, so a total failure stays readable. */
	if (atomic_fetch_add(&printed_errors, 1) < 10)
		fprintf(stderr, "threads: %s: %s: %s\n", who, what,
			err ? strerror(err) : "mismatch");
}

/* One connection with a payload round trip; 0 on success. */
static int one_connection(const char *who, int seq)
{
	char out[128], in[128];
	size_t n, got = 0;
	struct timeval tv = {10, 0};
	int fd;

	n = (size_t)snprintf(out, sizeof(out),
			     "%s conn %d pid %d: the quick brown fox\n", who,
			     seq, (int)getpid());
	fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		report(who, "socket", errno);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&target, target_len) < 0) {
		report(who, "connect", errno);
		close(fd);
		return -1;
	}
	if (send(fd, out, n, MSG_NOSIGNAL) != (ssize_t)n) {
		report(who, "send", errno);
		close(fd);
		return -1;
	}
	while (got < n) {
		ssize_t r = recv(fd, in + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			report(who, r == 0 ? "recv: early EOF" : "recv",
			       r == 0 ? 0 : errno);
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	if (memcmp(in, out, n) != 0) {
		report(who, "echo", 0);
		return -1;
	}
	return 0;
}

static void *worker(void *arg)
{
	char who[32];
	int i;

	snprintf(who, sizeof(who), "thread %d", (int)(long)arg);
	for (i = 0; i < nconns; i++) {
		if (one_connection(who, i) == 0)
			atomic_fetch_add(&ok_count, 1);
		else
			atomic_fetch_add(&fail_count, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = 16, i, status, rc = 0;
	pthread_t *tids;
	pid_t pid;

	if (argc < 3 || argc > 5 ||
	    parse_addr(argv[1], (unsigned)strtoul(argv[2], NULL, 10)) < 0) {
		fprintf(stderr, "usage: threads ADDR PORT [THREADS [CONNS]]\n");
		return 2;
	}
	if (argc > 3)
		nthreads = atoi(argv[3]);
	if (argc > 4)
		nconns = atoi(argv[4]);
	if (nthreads < 1 || nthreads > 1024 || nconns < 1) {
		fprintf(stderr, "threads: bad counts\n");
		return 2;
	}
	tids = calloc((size_t)nthreads, sizeof(*tids));
	if (!tids)
		return 2;
	for (i = 0; i < nthreads; i++) {
		int e = pthread_create(&tids[i], NULL, worker, (void *)(long)i);
		if (e) {
			fprintf(stderr, "threads: pthread_create: %s\n",
				strerror(e));
			return 2;
		}
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	printf(
	    "threads: %d ok, %d failed of %d (%d threads x %d connections)\n",
	    atomic_load(&ok_count), atomic_load(&fail_count), nthreads * nconns,
	    nthreads, nconns);
	if (atomic_load(&ok_count) != nthreads * nconns)
		rc = 1;
	fflush(stdout);

	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		int r = one_connection("child", 0);
		printf("fork child: connection %s\n", r == 0 ? "ok" : "FAILED");
		fflush(stdout);
		_exit(r == 0 ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("fork parent: child exited 0\n");
	} else {
		printf("fork parent: child failed (status 0x%x)\n", status);
		rc = 1;
	}
	if (one_connection("parent after fork", 0) == 0) {
		printf("fork parent: connection after fork ok\n");
	} else {
		printf("fork parent: connection after fork FAILED\n");
		rc = 1;
	}
	printf("threads: %s\n", rc ? "FAILED" : "all connections ok");
	return rc;
}
