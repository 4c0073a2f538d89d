/*
 * real.h - the one table of the real libc symbols our hooks shadow.
 *
 * Bound once, lazily, with dlsym(RTLD_NEXT) under pthread_once, so any hook
 * may use it before any constructor ran.  Internal code never calls an
 * exported (hooked) name: it calls through this table.  A slot is NULL when
 * the symbol is missing or resolves back to our own hook; callers then fail
 * with ENOSYS instead of recursing.
 */
#ifndef SOCKSIFY_REAL_H
#define SOCKSIFY_REAL_H

#include <netdb.h>
#include <resolv.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

struct sfy_real {
	int (*socket)(int, int, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*close_range)(unsigned int, unsigned int, int);
	void (*closefrom)(int);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	ssize_t (*sendto)(int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
			    socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*recvmmsg)(int, struct mmsghdr *, unsigned int, int,
			struct timespec *);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	long (*syscall)(long, ...);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int,
				struct sockaddr *, socklen_t *);
	ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*read_chk)(int, void *, size_t, size_t);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *,
		     const sigset_t *);
	int (*poll_chk)(struct pollfd *, nfds_t, int, size_t);
	int (*ppoll_chk)(struct pollfd *, nfds_t, const struct timespec *,
			 const sigset_t *, size_t);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *,
		       const struct timespec *, const sigset_t *);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	ssize_t (*sendfile64)(int, int, off64_t *, size_t);
	int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	void (*freeaddrinfo)(struct addrinfo *);
	struct hostent *(*gethostbyname2)(const char *, int);
	int (*gethostbyname2_r)(const char *, int, struct hostent *, char *,
				size_t, struct hostent **, int *);
	struct hostent *(*gethostbyaddr)(const void *, socklen_t, int);
	int (*gethostbyaddr_r)(const void *, socklen_t, int, struct hostent *,
			       char *, size_t, struct hostent **, int *);
	int (*getnameinfo)(const struct sockaddr *, socklen_t, char *,
			   socklen_t, char *, socklen_t, int);
	int (*getaddrinfo_a)(int, struct gaicb **, int, struct sigevent *);
	int (*res_query)(const char *, int, int, unsigned char *, int);
	int (*res_search)(const char *, int, int, unsigned char *, int);
	int (*res_querydomain)(const char *, const char *, int, int,
			       unsigned char *, int);
	int (*res_send)(const unsigned char *, int, unsigned char *, int);
	int (*res_nquery)(struct __res_state *, const char *, int, int,
			  unsigned char *, int);
	int (*res_nsearch)(struct __res_state *, const char *, int, int,
			   unsigned char *, int);
	int (*res_nquerydomain)(struct __res_state *, const char *,
				const char *, int, int, unsigned char *, int);
	int (*res_nsend)(struct __res_state *, const unsigned char *, int,
			 unsigned char *, int);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execv)(const char *, char *const[]);
	int (*execvp)(const char *, char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*execveat)(int, const char *, char *const[], char *const[], int);
	int (*posix_spawn)(pid_t *, const char *,
			   const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[],
			   char *const[]);
	int (*posix_spawnp)(pid_t *, const char *,
			    const posix_spawn_file_actions_t *,
			    const posix_spawnattr_t *, char *const[],
			    char *const[]);
};

/* Marks the hooks this shared object exports (everything else is hidden;
 * preload/socksify.map is the list, tests/exports.sh checks it). */
#define SFY_EXPORT __attribute__((visibility("default")))

extern struct sfy_real sfy_real_table;
extern atomic_int sfy_real_ready;

/* Binds the table (once, from any thread) and returns it. */
const struct sfy_real *sfy_real_bind(void);

/* The table, bound on first use from any thread.  Never NULL.  After the
 * first call this is one acquire load: no call, no lock. */
static inline const struct sfy_real *sfy_real(void)
{
	if (__builtin_expect(
		atomic_load_explicit(&sfy_real_ready, memory_order_acquire), 1))
		return &sfy_real_table;
	return sfy_real_bind();
}

/* Calls through the table (one lookup); a missing slot yields -1/ENOSYS. */
#define REAL_CALL(name, ...)                                                   \
	__extension__({                                                        \
		const struct sfy_real *real_ = sfy_real();                     \
		__builtin_expect(real_->name != NULL, 1)                       \
		    ? real_->name(__VA_ARGS__)                                 \
		    : (sfy_real_missing(#name), -1);                           \
	})

/* Logs (once per symbol) that a real symbol is missing; sets ENOSYS. */
void sfy_real_missing(const char *name);

#endif
