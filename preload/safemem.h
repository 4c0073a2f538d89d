/*
 * safemem.h - the caller's memory, read and written as the kernel does.
 *
 * A hook that looks into a structure the program passed (a sockaddr, a
 * msghdr, an iovec array) must answer a bad pointer with EFAULT, as the
 * system call would, instead of dying with SIGSEGV inside the shim.  No
 * user-space load can test an address, so each new region is checked by
 * the kernel: process_vm_readv/process_vm_writev on our own process (one
 * system call), or, where a seccomp policy forbids those (Docker's default
 * profile), a probe through a private memfd.  Each thread remembers the
 * last pages that passed, so a program that reuses its buffers (a
 * sockaddr on the stack in a send loop) pays no system call after the
 * first.  The one thing this cannot catch: a page that passed on an
 * earlier call of the same thread and was unmapped since.
 */
#ifndef SOCKSIFY_SAFEMEM_H
#define SOCKSIFY_SAFEMEM_H

#include <stddef.h>
#include <stdint.h>

/* The pages that passed, per thread (the memo behind the fast paths):
 * permissions are per page, so a page the kernel could read from once
 * holds nothing unreadable, until it is unmapped. */
#define SFY_MEMO_PAGES 16
#define SFY_PAGE_SHIFT 12
struct sfy_memo {
	uintptr_t page[SFY_MEMO_PAGES]; /* page number + 1; 0: empty */
	uintptr_t hot;			/* the page last found or added, + 1 */
	unsigned int next;
};
extern __thread struct sfy_memo sfy_memo_read
    __attribute__((tls_model("initial-exec")));

/* sfy_mem_known beyond the page last found: a scan of the memo. */
int sfy_mem_known_slow(const void *p, size_t len);

/* 1 when every page of [p, p + len) passed the read check earlier on
 * this thread: then it may be read directly.  No system call, no lock.
 * len 0 is known only at a known page (a zero-length read of p still
 * names it).  The common case, a buffer in the page last found, is two
 * compares. */
static inline int sfy_mem_known(const void *p, size_t len)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + len - (len != 0);

	if (__builtin_expect(((lo ^ hi) >> SFY_PAGE_SHIFT) == 0 &&
				 sfy_memo_read.hot ==
				     (lo >> SFY_PAGE_SHIFT) + 1,
			     1))
		return 1;
	return sfy_mem_known_slow(p, len);
}

/* The errno a system call gives for fd and a bad address, in the
 * kernel's order: EBADF for no such fd; for the send and receive calls
 * ENOTSOCK next (they look up the socket first), while connect reads the
 * address before (connect_order: a bad address is EFAULT on any open fd);
 * else EFAULT.  Leaves errno alone. */
int sfy_bad_address_errno(int fd, int connect_order);

/* 0 when the len bytes at p can be read by the kernel on our behalf, else
 * -EFAULT.  len 0 is always fine. */
int sfy_mem_readable(const void *p, size_t len);

/* Copies len bytes of the caller's src into our dst.  0 or -EFAULT (dst
 * then holds nothing useful). */
int sfy_copy_in(void *dst, const void *src, size_t len);

/* Copies len bytes of our src into the caller's dst.  0 or -EFAULT (as
 * with the kernel's own copy, a prefix of dst may have been written). */
int sfy_copy_out(void *dst, const void *src, size_t len);

/* An address out to the caller as getsockname(2), getpeername(2) and
 * accept(2) give one: *len in, the address truncated to it, the real size
 * (alen) back in *len; len NULL is EFAULT, as from the kernel (accept,
 * which writes nothing without sa, calls this only with sa).  0, -EFAULT
 * or -EINVAL (a negative *len). */
int sfy_sockaddr_out(void *sa, unsigned int *len, const void *a,
		     unsigned int alen);

#endif
