/*
 * cancelres.c - pthread_cancel() of a thread whose connect() is inside the
 * resolution of the proxy's host name (a slow resolver), then a connect
 * from another thread: it must come back (with whatever the proxy's name
 * gives), not hang on a lock the cancelled thread held.
 *
 *   cancelres HOST PORT     (SOCKSIFY_PROXY names a host that resolves
 *                           slowly or not at all)
 *
 * One "ok:"/"FAIL:" line per fact (fact.h); exit status 1 on any FAIL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fact.h"

static struct sockaddr_in dst;
static int rc2 = 99, err2;

static void *conn(void *arg)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int r = connect(s, (struct sockaddr *)&dst, sizeof(dst));

	if (arg) {
		rc2 = r;
		err2 = errno;
	}
	close(s);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t1, t2;
	struct timespec ts;
	int joined;

	if (argc != 3)
		return 2;
	dst.sin_family = AF_INET;
	dst.sin_port = htons((unsigned short)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	pthread_create(&t1, NULL, conn, NULL);
	usleep(300000);
	pthread_cancel(t1);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	fact(pthread_timedjoin_np(t1, NULL, &ts) == 0,
	     "the thread cancelled in the proxy's name lookup ends");
	pthread_create(&t2, NULL, conn, "second");
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 15;
	joined = pthread_timedjoin_np(t2, NULL, &ts) == 0;
	fact(joined,
	     "a connect in another thread afterwards comes back (rc %d, %s)",
	     rc2, rc2 == 99 ? "still running" : strerror(err2));
	return fact_failures ? 1 : 0;
}
