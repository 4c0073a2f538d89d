/*
 * wait.c - bounded, signal-aware waits (contract in wait.h).
 */
#include "wait.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "real.h"

long long sfy_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long sfy_socket_deadline(int fd, int opt)
{
	struct timeval tv;
	socklen_t tl = sizeof(tv);
	int saved = errno;
	long long ms;

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, opt, &tv, &tl) < 0 ||
	    (tv.tv_sec == 0 && tv.tv_usec == 0)) {
		errno = saved;
		return 0;
	}
	ms = (long long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
	return sfy_now_ms() + ms;
}

int sfy_eintr_restarts(int fd, int opt)
{
	struct sigaction sa;
	sigset_t blocked;
	int saved = errno, sig, rc = 1;

	if (sfy_socket_deadline(fd, opt) != 0)
		return 0; /* a socket timeout: EINTR whatever the flags */
	if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0)
		sigemptyset(&blocked);
	for (sig = 1; sig < NSIG && rc; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP ||
		    sigismember(&blocked, sig) == 1)
			continue;
		/* glibc refuses its own internal signals: no handler of the
		 * program's there. */
		if (sigaction(sig, NULL, &sa) < 0)
			continue;
		if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
			continue;
		if (!(sa.sa_flags & SA_RESTART))
			rc = 0;
	}
	errno = saved;
	return rc;
}

int sfy_wait_fd(int fd, short ev, long long deadline, int sig_fd, int opt)
{
	short rev;

	return sfy_wait_fd_rev(fd, ev, deadline, sig_fd, opt, &rev);
}

int sfy_wait_fd_rev(int fd, short ev, long long deadline, int sig_fd, int opt,
		    short *rev)
{
	struct pollfd p = {.fd = fd, .events = ev};
	long long left;
	int r;

	for (;;) {
		left = deadline - sfy_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		r = sfy_real()->poll(&p, 1,
				     left > 1000000 ? 1000000 : (int)left);
		if (r > 0) {
			*rev = p.revents;
			return 0; /* readiness or an error: the next call says
				   */
		}
		if (r == 0)
			continue; /* re-check the clock */
		if (errno != EINTR)
			return -errno;
		if (!sfy_eintr_restarts(sig_fd, opt))
			return -EINTR;
	}
}
