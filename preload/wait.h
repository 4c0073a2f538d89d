/*
 * wait.h - bounded waits inside a hook, with the kernel's answer to a
 * signal: a blocking socket call interrupted by a handler is restarted
 * when the handler was installed with SA_RESTART and the socket has no
 * timeout for that direction (SO_RCVTIMEO / SO_SNDTIMEO), and fails with
 * EINTR otherwise (signal(7), "Interruption of system calls").
 */
#ifndef SOCKSIFY_WAIT_H
#define SOCKSIFY_WAIT_H

/* Milliseconds on the monotonic clock, for deadlines. */
long long sfy_now_ms(void);

/* The deadline (sfy_now_ms() based) that fd's timeout option opt
 * (SO_RCVTIMEO or SO_SNDTIMEO) sets for a call starting now, or 0 when the
 * socket has none. */
long long sfy_socket_deadline(int fd, int opt);

/*
 * After a wait of ours saw EINTR in a call the program made on fd: 1 when
 * the kernel would have restarted that call, 0 when it would have failed
 * with EINTR.  fd < 0: a call without socket timeouts.  We cannot learn
 * which signal it was; every handler this thread could have run must ask
 * for SA_RESTART (glibc's signal() does; sigaction without it does not).
 */
int sfy_eintr_restarts(int fd, int opt);

/*
 * Waits for ev on fd until deadline.  Returns 0 when ready (or in error:
 * the next call says), -ETIMEDOUT, or -EINTR when a signal interrupted a
 * call that would not be restarted (sig_fd and opt as for
 * sfy_eintr_restarts).
 */
int sfy_wait_fd(int fd, short ev, long long deadline, int sig_fd, int opt);

/* The same; on 0, *rev gets poll's revents. */
int sfy_wait_fd_rev(int fd, short ev, long long deadline, int sig_fd, int opt,
		    short *rev);

#endif
