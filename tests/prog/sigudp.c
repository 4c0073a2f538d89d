/*
 * sigudp.c - a signal during a blocking UDP receive, as signal(7) says the
 * kernel answers it: with an SA_RESTART handler the receive goes on, without
 * one it fails with EINTR, and with SO_RCVTIMEO set it fails with EINTR
 * either way; the timeout itself gives EAGAIN.
 *
 *   sigudp HOST PORT restart|norestart|rcvtimeo|rcvtimeo_alarm
 *
 * Sends "warm" and waits for its echo (the association is up), arms
 * SIGALRM at 1 s (not in rcvtimeo), lets a thread send "late" at 2 s, and
 * blocks in recvfrom.  Prints "recvfrom=N errno=E ms=T" (the test compares
 * it with a run without the shim) and one fact.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fact.h"

static struct sockaddr_in dst;
static int s;

static void on_alarm(int sig)
{
	(void)sig;
}

static void *late(void *arg)
{
	(void)arg;
	sleep(2);
	sendto(s, "late", 4, 0, (struct sockaddr *)&dst, sizeof(dst));
	return NULL;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct timeval tv = {.tv_sec = 1, .tv_usec = 500000};
	pthread_t th;
	char buf[64];
	const char *mode;
	long t0, ms;
	ssize_t n;
	int e;

	if (argc != 4)
		return 2;
	mode = argv[3];
	dst.sin_family = AF_INET;
	dst.sin_port = htons((unsigned short)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &dst.sin_addr);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = strcmp(mode, "norestart") ? SA_RESTART : 0;
	sigaction(SIGALRM, &sa, NULL);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	sendto(s, "warm", 4, 0, (struct sockaddr *)&dst, sizeof(dst));
	recv(s, buf, sizeof(buf), 0);
	if (!strncmp(mode, "rcvtimeo", 8))
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pthread_create(&th, NULL, late, NULL);
	t0 = now_ms();
	if (strcmp(mode, "rcvtimeo"))
		alarm(1);
	n = recvfrom(s, buf, sizeof(buf), 0, NULL, NULL);
	e = errno;
	ms = now_ms() - t0;
	/* Rounded to 0.5 s, so that runs with and without the shim print the
	 * same line. */
	printf("recvfrom=%zd errno=%s at=%.1fs\n", n,
	       n < 0 ? strerrorname_np(e) : "0",
	       (double)((ms + 250) / 500) / 2);
	if (!strcmp(mode, "restart"))
		fact(n == 4 && ms >= 1800, "SA_RESTART: the receive goes on");
	else if (!strcmp(mode, "norestart"))
		fact(n < 0 && e == EINTR && ms < 1500, "no SA_RESTART: EINTR");
	else if (!strcmp(mode, "rcvtimeo"))
		fact(n < 0 && e == EAGAIN && ms >= 1400 && ms < 1900,
		     "SO_RCVTIMEO runs out: EAGAIN");
	else
		fact(n < 0 && e == EINTR && ms < 1400,
		     "SO_RCVTIMEO set: EINTR even with SA_RESTART");
	pthread_join(th, NULL);
	return fact_failures ? 1 : 0;
}
