/*
 * ownfd.c - the shim's own fds (contract in ownfd.h).
 */
#include "ownfd.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "real.h"

_Atomic unsigned long sfy_own_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
atomic_uint sfy_own_count;

void sfy_own(int fd, int on)
{
	unsigned int u = (unsigned int)fd;
	unsigned long bit = 1ul << (u % FDT_WORD_BITS);

	if (fd < 0 || u >= FDT_BITMAP_FDS)
		return;
	if (on) {
		atomic_fetch_or(&sfy_own_bits[u / FDT_WORD_BITS], bit);
		atomic_fetch_add(&sfy_own_count, 1);
	} else {
		atomic_fetch_and(&sfy_own_bits[u / FDT_WORD_BITS], ~bit);
		atomic_fetch_sub(&sfy_own_count, 1);
	}
}

int sfy_own_new(int fd)
{
	struct rlimit rl;
	int hi, old;

	if (fd >= 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur > SFY_OWN_FD_BASE + 64) {
		hi = sfy_real()->fcntl(fd, F_DUPFD_CLOEXEC, SFY_OWN_FD_BASE);
		if (hi >= 0) {
			/* close() is a cancellation point: cancelled there,
			 * both numbers would be lost to the caller. */
			pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
			sfy_real()->close(fd);
			pthread_setcancelstate(old, &old);
			fd = hi;
		}
	}
	sfy_own(fd, 1);
	return fd;
}

void sfy_own_close(int fd)
{
	int old;

	if (fd < 0)
		return;
	sfy_own(fd, 0);
	/* close() is a cancellation point, and this runs with locks held
	 * (an association's last reference goes under the fd table's). */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	sfy_real()->close(fd);
	pthread_setcancelstate(old, &old);
}
