/*
 * udpstress.c - UDP associations under threads, cancellation and odd fd
 * numbers.  Run under the shim, through a real relay, to an echo server:
 *
 *   udpstress HOST PORT cancelclose
 *        a thread with a cancellation request pending closes its proxied
 *        UDP socket (the association's end), and another closes an
 *        unrelated fd while a control connection lingers: no lock stays
 *        held, the next datagram in another thread goes through, and the
 *        process exits
 *   udpstress HOST PORT threads
 *        four threads send the first datagrams of one socket at once, 30
 *        times: answers come, nothing crashes (run it under ASan to
 *        catch an association freed under a thread)
 *   udpstress HOST PORT fd0
 *        stdin closed, so the control connection may take fd 0 (under a
 *        low fd limit it stays there): after the socket is closed right
 *        after a send and the linger is over, fd 0 is free again and
 *        the program's own close(0)/dup2 onto 0 behave as without the shim
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
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fact.h"

static struct sockaddr_in dst;

static int echo_once(int s, const char *msg)
{
	char buf[64];
	struct timeval tv = {.tv_sec = 3};
	ssize_t n;

	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&dst,
		   sizeof(dst)) != (ssize_t)strlen(msg))
		return -1;
	n = recv(s, buf, sizeof(buf), 0);
	return n == (ssize_t)strlen(msg) && !memcmp(buf, msg, (size_t)n) ? 0
									 : -1;
}

static int closer_fd;
static pthread_barrier_t bar;

/* Closes closer_fd with a cancellation request pending. */
static void *closer(void *arg)
{
	int old;

	(void)arg;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	pthread_barrier_wait(&bar); /* main cancels now */
	pthread_barrier_wait(&bar);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	close(closer_fd); /* a cancellation point: the request acts here */
	pthread_testcancel();
	return NULL;
}

static void close_cancelled(int fd)
{
	pthread_t t;

	closer_fd = fd;
	pthread_barrier_init(&bar, NULL, 2);
	pthread_create(&t, NULL, closer, NULL);
	pthread_barrier_wait(&bar);
	pthread_cancel(t);
	pthread_barrier_wait(&bar);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&bar);
}

static void cancelclose(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0), s2, p[2];

	fact(echo_once(s, "first") == 0, "an echo through the relay");
	usleep(80000); /* past the linger: the close really closes */
	close_cancelled(s);
	s2 = socket(AF_INET, SOCK_DGRAM, 0);
	alarm(10);
	fact(echo_once(s2, "second") == 0,
	     "after a cancelled thread closed its socket, another's datagram "
	     "goes through");
	/* Now one that lingers, and a cancelled close of something else. */
	sendto(s2, "bye", 3, 0, (struct sockaddr *)&dst, sizeof(dst));
	close(s2);
	if (pipe(p) == 0) {
		close(p[1]);
		close_cancelled(p[0]);
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	fact(echo_once(s, "third") == 0,
	     "and after a cancelled close during a linger, too");
	close(s);
	/* That the process then exits (the destructor takes the linger
	 * lock) is what the caller's timeout checks. */
}

static int tsock;
static int tfail;

static void *tsend(void *arg)
{
	char msg[16];
	struct timeval tv = {.tv_sec = 3};

	snprintf(msg, sizeof(msg), "t%ld", (long)(intptr_t)arg);
	setsockopt(tsock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pthread_barrier_wait(&bar);
	if (sendto(tsock, msg, strlen(msg), 0, (struct sockaddr *)&dst,
		   sizeof(dst)) < 0)
		__atomic_add_fetch(&tfail, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void threads(void)
{
	pthread_t t[4];
	char buf[64];
	int i, k, got, lost = 0, rounds = 30;

	for (i = 0; i < rounds; i++) {
		tsock = socket(AF_INET, SOCK_DGRAM, 0);
		pthread_barrier_init(&bar, NULL, 4);
		for (k = 0; k < 4; k++)
			pthread_create(&t[k], NULL, tsend, (void *)(intptr_t)k);
		for (k = 0; k < 4; k++)
			pthread_join(t[k], NULL);
		pthread_barrier_destroy(&bar);
		/* One association for all four (the others wait for the
		 * first to set it up): every answer arrives, as without the
		 * shim on a quiet network. */
		for (got = 0; got < 4; got++) {
			struct timeval tv = {.tv_usec = 300000};

			if (recv(tsock, buf, sizeof(buf), 0) <= 0)
				break;
			/* The rest, if they come, come at once. */
			setsockopt(tsock, SOL_SOCKET, SO_RCVTIMEO, &tv,
				   sizeof(tv));
		}
		lost += 4 - got;
		close(tsock);
	}
	fact(tfail == 0,
	     "%d first datagrams from four threads at once were all sent (%d "
	     "failed)",
	     rounds * 4, tfail);
	fact(lost == 0, "and all answered (%d lost)", lost);
}

static void fd0(void)
{
	int s, fd;

	/* The program's socket away from 0, so that the association's
	 * control connection gets it. */
	close(0);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	s = fcntl(fd, F_DUPFD, 10);
	close(fd);
	fact(echo_once(s, "zero") == 0, "an echo with stdin closed");
	fact(fcntl(0, F_GETFD) >= 0, "fd 0 is taken meanwhile (by the shim)");
	sendto(s, "bye", 3, 0, (struct sockaddr *)&dst, sizeof(dst));
	close(s);
	usleep(120000);			    /* the linger is over */
	s = socket(AF_INET, SOCK_DGRAM, 0); /* a later call reaps */
	close(s);
	fd = open("/dev/null", O_RDONLY);
	fact(fd == 0, "fd 0 is free again after the linger (open got %d)", fd);
	fact(close(0) == 0 && fcntl(0, F_GETFD) < 0,
	     "and the program's close(0) closes it");
	fd = open("/dev/null", O_RDONLY);
	fact(dup2(fd, 0) == 0, "dup2 onto 0 works (%s)", strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	dst.sin_family = AF_INET;
	dst.sin_port = htons((unsigned short)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	if (!strcmp(argv[3], "cancelclose"))
		cancelclose();
	else if (!strcmp(argv[3], "threads"))
		threads();
	else if (!strcmp(argv[3], "fd0"))
		fd0();
	else
		return 2;
	return fact_failures ? 1 : 0;
}
