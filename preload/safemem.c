/*
 * safemem.c - kernel-checked access to the caller's memory (contract in
 * safemem.h).
 */
#include "safemem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ownfd.h"
#include "real.h"

#define memo_read sfy_memo_read

/* Pages that passed, per thread and per direction. */
__thread struct sfy_memo sfy_memo_read
    __attribute__((tls_model("initial-exec")));
static __thread struct sfy_memo memo_write
    __attribute__((tls_model("initial-exec")));

static int memo_has_page(struct sfy_memo *m, uintptr_t pg)
{
	unsigned int i;

	if (m->hot == pg + 1)
		return 1;
	for (i = 0; i < SFY_MEMO_PAGES; i++)
		if (m->page[i] == pg + 1) {
			m->hot = pg + 1;
			return 1;
		}
	return 0;
}

static int memo_has(struct sfy_memo *m, uintptr_t lo, uintptr_t hi)
{
	uintptr_t pg;

	for (pg = lo >> SFY_PAGE_SHIFT; pg <= (hi - 1) >> SFY_PAGE_SHIFT; pg++)
		if (!memo_has_page(m, pg))
			return 0;
	return 1;
}

/* Remembers the pages of [lo, hi), which the kernel just read or wrote. */
static void memo_add(struct sfy_memo *m, uintptr_t lo, uintptr_t hi)
{
	uintptr_t pg, last = (hi - 1) >> SFY_PAGE_SHIFT;

	for (pg = lo >> SFY_PAGE_SHIFT; pg <= last; pg++)
		if (!memo_has_page(m, pg)) {
			m->page[m->next++ % SFY_MEMO_PAGES] = pg + 1;
			m->hot = pg + 1;
		}
}

int sfy_mem_known_slow(const void *p, size_t len)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + (len ? len : 1);

	return hi > lo && memo_has(&memo_read, lo, hi);
}

int sfy_bad_address_errno(int fd, int connect_order)
{
	int saved = errno, type, rc = EFAULT;
	socklen_t tl = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 &&
	    (errno == EBADF || (errno == ENOTSOCK && !connect_order)))
		rc = errno;
	errno = saved;
	return rc;
}

/* 1 once process_vm_* turned out to be forbidden or missing. */
static atomic_int g_no_vm;

/*
 * The fallback probe: a private memfd.  Writing the caller's bytes into it
 * (pwrite) tells whether the kernel can read them; reading from its hole
 * at PROBE_MAX (pread, zeros) into the caller's buffer whether the kernel
 * can write there.  Only used where process_vm_* is refused, and only
 * while RLIMIT_FSIZE leaves room (a write past it would raise SIGXFSZ).
 */
#define PROBE_MAX (64u * 1024)

static atomic_int g_probe_fd = -1;
static atomic_int g_probe_failed;

/* 1 when RLIMIT_FSIZE leaves too little room for the probe's writes. */
static int fsize_too_low(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_FSIZE, &rl) < 0 ||
	       (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 4 * PROBE_MAX);
}

static int probe_fd(void)
{
	int fd = atomic_load_explicit(&g_probe_fd, memory_order_acquire);
	int expect = -1;

	if (fd >= 0 || atomic_load(&g_probe_failed))
		return fd;
	if (fsize_too_low()) {
		atomic_store(&g_probe_failed, 1);
		return -1;
	}
	fd = memfd_create("socksify-probe", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 2 * PROBE_MAX) < 0) {
		if (fd >= 0)
			sfy_real()->close(fd);
		atomic_store(&g_probe_failed, 1);
		return -1;
	}
	fd = sfy_own_new(fd);
	if (!atomic_compare_exchange_strong(&g_probe_fd, &expect, fd)) {
		sfy_own_close(fd);
		fd = expect;
	}
	return fd;
}

/* The kernel's verdict on reading (write 0) or writing (write 1) the
 * caller's [p, p + len): 0, -EFAULT, or 1 when no way to ask is left. */
static int ask_kernel(const void *p, size_t len, int write, void *local)
{
	struct iovec l = {.iov_base = local, .iov_len = len};
	struct iovec r = {.iov_base = (void *)(uintptr_t)p, .iov_len = len};
	int saved = errno, fd;
	ssize_t n;

	if (!atomic_load_explicit(&g_no_vm, memory_order_relaxed)) {
		n = write ? process_vm_writev(getpid(), &l, 1, &r, 1, 0)
			  : process_vm_readv(getpid(), &l, 1, &r, 1, 0);
		if (n == (ssize_t)len) {
			errno = saved;
			return 0;
		}
		if (n >= 0 || errno == EFAULT) {
			errno = saved;
			return -EFAULT;
		}
		if (errno != EPERM && errno != ENOSYS && errno != ESRCH) {
			errno = saved;
			return -EFAULT;
		}
		atomic_store(&g_no_vm, 1);
	}
	fd = len <= PROBE_MAX ? probe_fd() : -1;
	/* The program may have lowered RLIMIT_FSIZE since: a write past it
	 * would raise SIGXFSZ (a pread needs no room). */
	if (fd >= 0 && !write && fsize_too_low())
		fd = -1;
	if (fd < 0) {
		errno = saved;
		return 1;
	}
	n = write ? pread(fd, (void *)(uintptr_t)p, len, PROBE_MAX)
		  : pwrite(fd, p, len, 0);
	errno = saved;
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/* Checks a region too large to copy in one piece: process_vm_readv
 * copies it, a scratch buffer at a time, all scratch-sized pieces of one
 * call landing in the same buffer.  Returns as ask_kernel. */
static int ask_kernel_big(const void *p, size_t len)
{
	uint8_t scratch[1024];
	struct iovec l[64], r;
	int saved = errno, i, k;
	size_t off = 0, chunk = sizeof(scratch) * 64, n;
	ssize_t got;

	if (atomic_load_explicit(&g_no_vm, memory_order_relaxed))
		return ask_kernel(p, len, 0, NULL);
	for (i = 0; i < 64; i++) {
		l[i].iov_base = scratch;
		l[i].iov_len = sizeof(scratch);
	}
	while (off < len) {
		n = len - off < chunk ? len - off : chunk;
		k = (int)((n + sizeof(scratch) - 1) / sizeof(scratch));
		r.iov_base = (uint8_t *)(uintptr_t)p + off;
		r.iov_len = n;
		got = process_vm_readv(getpid(), l, (unsigned long)k, &r, 1, 0);
		if (got < 0 &&
		    (errno == EPERM || errno == ENOSYS || errno == ESRCH)) {
			atomic_store(&g_no_vm, 1);
			errno = saved;
			return ask_kernel(p, len, 0, NULL);
		}
		if (got != (ssize_t)n) {
			errno = saved;
			return -EFAULT;
		}
		off += n;
	}
	errno = saved;
	return 0;
}

int sfy_mem_readable(const void *p, size_t len)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + len;
	uint8_t scratch[256];
	int rc;

	if (len == 0)
		return 0;
	if (hi < lo)
		return -EFAULT;
	if (memo_has(&memo_read, lo, hi))
		return 0;
	rc = len <= sizeof(scratch) ? ask_kernel(p, len, 0, scratch)
				    : ask_kernel_big(p, len);
	if (rc < 0)
		return rc;
	/* rc > 0: no way left to ask; the pointer is trusted, as before. */
	memo_add(&memo_read, lo, hi);
	return 0;
}

int sfy_copy_in(void *dst, const void *src, size_t len)
{
	uintptr_t lo = (uintptr_t)src, hi = lo + len;
	int rc;

	if (len == 0)
		return 0;
	if (hi < lo)
		return -EFAULT;
	if (!memo_has(&memo_read, lo, hi)) {
		/* One system call copies and checks at once. */
		rc = ask_kernel(src, len, 0, dst);
		if (rc < 0)
			return rc;
		memo_add(&memo_read, lo, hi);
		if (rc == 0 &&
		    !atomic_load_explicit(&g_no_vm, memory_order_relaxed))
			return 0;
	}
	memcpy(dst, src, len);
	return 0;
}

int sfy_copy_out(void *dst, const void *src, size_t len)
{
	uintptr_t lo = (uintptr_t)dst, hi = lo + len;
	int rc;

	if (len == 0)
		return 0;
	if (hi < lo)
		return -EFAULT;
	if (!memo_has(&memo_write, lo, hi)) {
		rc = ask_kernel(dst, len, 1, (void *)(uintptr_t)src);
		if (rc < 0)
			return rc;
		memo_add(&memo_write, lo, hi);
		if (rc == 0 &&
		    !atomic_load_explicit(&g_no_vm, memory_order_relaxed))
			return 0;
	}
	memcpy(dst, src, len);
	return 0;
}

int sfy_sockaddr_out(void *sa, unsigned int *len, const void *a,
		     unsigned int alen)
{
	unsigned int have;

	if (sfy_copy_in(&have, len, sizeof(have)) < 0)
		return -EFAULT;
	if ((int)have < 0)
		return -EINVAL;
	if (sfy_copy_out(sa, a, have < alen ? have : alen) < 0 ||
	    sfy_copy_out(len, &alen, sizeof(alen)) < 0)
		return -EFAULT;
	return 0;
}
