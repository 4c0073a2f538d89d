/*
 * real.c - binds the real libc symbols.  The only file that calls dlsym.
 */
#include "real.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/uio.h>
#include <sys/sendfile.h>
#include <poll.h>
#include <resolv.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "log.h"

struct sfy_real sfy_real_table;
atomic_int sfy_real_ready;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/*
 * Returns the next definition of name after us, or NULL when there is none
 * or when it is our own hook (a broken link order or a second copy of the
 * shim): calling it would recurse forever, so we refuse it instead of
 * aborting the host program.
 */
static void *bind_next(const char *name, void *ours)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == ours)
		return NULL;
	return p;
}

/* Our own exported hooks, for the self-detection above. */
extern ssize_t __recvfrom_chk(int, void *, size_t, size_t, int,
			      struct sockaddr *, socklen_t *);
extern ssize_t __recv_chk(int, void *, size_t, size_t, int);
extern ssize_t __read_chk(int, void *, size_t, size_t);
extern int connect(int, const struct sockaddr *, socklen_t);
extern int close_range(unsigned int, unsigned int, int);
extern void closefrom(int);
extern int fcntl64(int, int, ...);
extern int __poll_chk(struct pollfd *, nfds_t, int, size_t);
extern int __ppoll_chk(struct pollfd *, nfds_t, const struct timespec *,
		       const sigset_t *, size_t);

static void bind_all(void)
{
	int saved = errno;

#define BIND(name, ours)                                                       \
	*(void **)&sfy_real_table.name = bind_next(#name, (void *)(ours))
	BIND(socket, socket);
	BIND(connect, connect);
	BIND(listen, listen);
	BIND(bind, bind);
	BIND(accept, accept);
	BIND(accept4, accept4);
	BIND(getsockname, getsockname);
	BIND(close, close);
	BIND(dup, dup);
	BIND(dup2, dup2);
	BIND(dup3, dup3);
	BIND(fcntl, fcntl);
	BIND(fcntl64, fcntl64);
	BIND(close_range, close_range);
	BIND(closefrom, closefrom);
	BIND(getpeername, getpeername);
	BIND(sendto, sendto);
	BIND(sendmsg, sendmsg);
	BIND(sendmmsg, sendmmsg);
	BIND(send, send);
	BIND(recv, recv);
	BIND(recvfrom, recvfrom);
	BIND(recvmsg, recvmsg);
	BIND(recvmmsg, recvmmsg);
	BIND(readv, readv);
	BIND(writev, writev);
	BIND(read, read);
	BIND(syscall, syscall);
	BIND(write, write);
	*(void **)&sfy_real_table.recvfrom_chk =
	    bind_next("__recvfrom_chk", (void *)__recvfrom_chk);
	*(void **)&sfy_real_table.recv_chk =
	    bind_next("__recv_chk", (void *)__recv_chk);
	*(void **)&sfy_real_table.read_chk =
	    bind_next("__read_chk", (void *)__read_chk);
	BIND(poll, poll);
	BIND(ppoll, ppoll);
	*(void **)&sfy_real_table.poll_chk =
	    bind_next("__poll_chk", (void *)__poll_chk);
	*(void **)&sfy_real_table.ppoll_chk =
	    bind_next("__ppoll_chk", (void *)__ppoll_chk);
	BIND(select, select);
	BIND(pselect, pselect);
	BIND(epoll_ctl, epoll_ctl);
	BIND(getsockopt, getsockopt);
	BIND(sendfile, sendfile);
	BIND(sendfile64, sendfile64);
	BIND(getaddrinfo, getaddrinfo);
	BIND(freeaddrinfo, NULL);
	BIND(gethostbyname2, gethostbyname2);
	BIND(gethostbyname2_r, gethostbyname2_r);
	BIND(gethostbyaddr, gethostbyaddr);
	BIND(gethostbyaddr_r, gethostbyaddr_r);
	BIND(getnameinfo, getnameinfo);
	BIND(getaddrinfo_a, getaddrinfo_a);
	/* Binaries built before glibc 2.34 call these as __res_*: the same
	 * functions, which we hook under both names. */
	BIND(res_query, res_query);
	BIND(res_search, res_search);
	BIND(res_querydomain, res_querydomain);
	BIND(res_send, res_send);
	BIND(res_nquery, res_nquery);
	BIND(res_nsearch, res_nsearch);
	BIND(res_nquerydomain, res_nquerydomain);
	BIND(res_nsend, res_nsend);
	BIND(execve, execve);
	BIND(execv, execv);
	BIND(execvp, execvp);
	BIND(execvpe, execvpe);
	BIND(fexecve, fexecve);
	BIND(execveat, execveat);
	BIND(posix_spawn, posix_spawn);
	BIND(posix_spawnp, posix_spawnp);
#undef BIND
	atomic_store_explicit(&sfy_real_ready, 1, memory_order_release);
	errno = saved;
}

const struct sfy_real *sfy_real_bind(void)
{
	pthread_once(&table_once, bind_all);
	return &sfy_real_table;
}

void sfy_real_missing(const char *name)
{
	static atomic_int told;

	if (atomic_exchange(&told, 1) == 0)
		sfy_log(SFY_LOG_ERROR,
			"real %s() not found after the shim; failing the call "
			"with ENOSYS",
			name);
	errno = ENOSYS;
}
