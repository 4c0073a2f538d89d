/*
 * supervise.c - the supervisor for programs LD_PRELOAD cannot reach
 * (statically linked ones: Go without cgo, busybox-static, gcc -static;
 * and, with --supervise, any program, for its raw system calls).
 *
 * The launcher forks.  The child sets no_new_privs, installs a seccomp
 * filter that hands connect(), sendto() with an address, sendmsg(),
 * sendmmsg() and getpeername() to us (SECCOMP_RET_USER_NOTIF) and execs
 * the program; the filter stays across exec and is inherited by every
 * thread and child.  This process stays the parent and answers each call:
 *
 *   connect to a proxied destination: a copy of the program's own socket
 *     (pidfd_getfd) is connected to the proxy and runs the SOCKS5
 *     handshake (handshake.c, the shim's machine), on an event loop, so
 *     connects from many threads overlap; the call returns 0 or the
 *     README table's errno.  The fd number, flags, options and epoll
 *     registrations are the program's own: it is the same file.
 *   connect to a direct destination (loopback, route direct, the proxy):
 *     we connect the copy ourselves (no SECCOMP_USER_NOTIF_FLAG_CONTINUE,
 *     so a racing thread cannot swap the address after our check).
 *   a UDP or TCP connect to port 53 (dns remote or tunnel): connected to
 *     our stub resolver.  It answers localhost and /etc/hosts names from
 *     the file; forwards names the rules send direct at every port to the
 *     nameserver the program asked; and the rest: with dns remote, A and
 *     AAAA with placeholders (names.c), so a later connect to one goes to
 *     the proxy by name and no DNS packet leaves the machine; with dns
 *     tunnel, the query itself over TCP through the proxy to dns_server.
 *     Forwards run on the event loop, bounded by the timeout (SERVFAIL).
 *   connect to a placeholder whose name the rules send direct at that
 *     port: the name is resolved from the loop (resolv.conf's nameserver)
 *     and the copy connected directly.
 *   UDP to a proxied destination: refused (EACCES) with a log line.
 *   getpeername of a proxied socket: the destination the program asked.
 *   a non-IP socket: the kernel's own call (CONTINUE: its family is fixed
 *     at socket(), no address can make it an IP connection).
 *
 * Fail closed: calls the filter traps fail with ENOSYS once we are gone;
 * the i386 and x32 entry points to the network calls and io_uring_setup
 * are refused by the filter itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dnsmsg.h"
#include "handshake.h"
#include "launcher.h"
#include "names.h"
#include "socks5.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS /* Linux 6.6 */
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define MAX_PENDING 1024 /* handshakes in flight */
#define MAX_PEERS   4096 /* proxied sockets getpeername knows (a power of 2) */
#define PEER_PROBE  8	 /* slots a record may sit past its hash */
#define PIDFD_SLOTS 64	 /* pidfds kept for the program's threads */
#define STUB_TTL    60
#define MAX_FWD	    64	/* stub queries forwarded at once */
#define MAX_NSMAP   256 /* stub clients whose nameserver is known */
#define MAX_TCONN   128 /* DNS-over-TCP connections to the stub at once */
#define MAX_DCONN   256 /* direct connects waited for, or resolving, at once */

/* x86_64 numbers of the calls we trap (the filter is x86_64 only). */
#ifndef __x86_64__
#error "the supervisor's filter is written for x86_64"
#endif

/* One handshake in flight. */
struct pend {
	int used;
	uint64_t id;		/* the notification */
	int fd;			/* our copy of the program's socket */
	int flags;		/* its file status flags, to put back */
	ino_t ino;		/* the socket */
	int connecting;		/* still connecting to the proxy */
	long long deadline;	/* ms, CLOCK_MONOTONIC */
	struct hs h;		/* the SOCKS5 handshake */
	struct sockaddr_in6 pa; /* the proxy, in the socket's family */
	socklen_t palen;
	struct sockaddr_in6 dst; /* as the program gave it (for getpeername) */
	socklen_t dstlen;
	char what[300]; /* for the log: "1.2.3.4:80", "name:443" */
};

/* A DNS-over-TCP connection to the stub. */
struct tconn {
	int fd;
	uint16_t port; /* the client's (for the nameserver it asked) */
	size_t have;
	uint8_t buf[2 + 1500];
	struct tconn *next;
};

/* A query the stub forwards (dns tunnel, or a name sent direct). */
struct fwd {
	int used;
	int fd;		    /* ours: to the proxy, or to the nameserver */
	int stage;	    /* enum fwd_stage */
	int via_proxy;	    /* through the proxy to dns_server */
	int udp;	    /* directly over UDP (a UDP client's query) */
	long long deadline; /* ms, CLOCK_MONOTONIC */
	struct tconn *t;    /* the TCP client, or NULL: */
	struct sockaddr_storage from; /* the UDP client */
	socklen_t fromlen;
	uint16_t id;		      /* the query's ID */
	char what[DNS_MAX_NAME + 16]; /* "A www.example.com", for the log */
	size_t qlen, off;	      /* the query's length; bytes sent */
	size_t have;		      /* answer bytes read (TCP: framed) */
	struct dconn *dc; /* or our own query, for a direct connect */
	/* from here on not cleared per query */
	struct hs h;
	uint8_t q[2 + 1500];  /* the query, framed */
	uint8_t a[2 + 65535]; /* the answer (framed over TCP) */
};

/* A program's connect to a name sent direct at that port, resolving. */
struct dconn {
	int used;
	uint64_t id;	/* the notification */
	int fd;		/* our copy of the program's socket */
	int flags;	/* its file status flags, to put back */
	int dom;	/* its family */
	uint16_t port;	/* the port asked */
	int qtype;	/* the query in flight (A, AAAA) */
	int connecting; /* a blocking socket's connect, waited for */
	ino_t ino;	/* the socket (its getpeername record goes) */
	char name[NAMES_MAX_NAME + 1]; /* "": an address, nothing to resolve */
	char what[320];		       /* "name:port", for the log */
};

/* Which nameserver a stub client asked, by its local port. */
struct nsmap {
	uint16_t port;
	int tcp;
	struct sockaddr_storage ns;
	socklen_t len;
};

/* A proxied socket, for getpeername: keyed by its inode, which names the
 * socket itself (sockfs numbers are not reused while 32 bits last), so
 * every fd and every process that holds it sees the same record. */
struct peer {
	ino_t ino; /* 0: free */
	struct sockaddr_in6 dst;
	socklen_t dstlen;
};

/* A pidfd kept for a thread of the program (by thread id, direct-mapped):
 * a pidfd names its task, so a dead thread's number given to a new one
 * fails ESRCH and is opened afresh, never reaches the wrong task. */
struct pidfd_slot {
	pid_t tid;
	int fd;
};

struct sup {
	const struct cfg *c;
	int lfd, ep, sigfd, pidfd;
	pid_t child;
	struct sockaddr_storage proxy;
	socklen_t proxylen;
	char proxyname[INET6_ADDRSTRLEN + 8];
	struct names *names;
	struct names_cfg ncfg;
	int stub; /* UDP stub resolver on 127.0.0.1 */
	struct sockaddr_in stubaddr;
	int tstub; /* its TCP side (DNS over TCP, RFC 7766), same port */
	struct tconn *tconns;
	unsigned ntconn; /* how many: at most MAX_TCONN */
	struct fwd *fwd; /* MAX_FWD of them */
	struct nsmap nsmap[MAX_NSMAP];
	unsigned nsmap_next;
	struct sockaddr_storage resolv; /* resolv.conf's first nameserver */
	socklen_t resolvlen;
	char *hosts; /* /etc/hosts as last read */
	struct stat hosts_st;
	struct pend pend[MAX_PENDING];
	unsigned
	    pend_hi; /* slots at and above are free: the loop scans below */
	struct dconn dconn[MAX_DCONN];
	struct peer peers[MAX_PEERS];
	struct pidfd_slot pidfds[PIDFD_SLOTS];
	int detached; /* serving what the program left running (serve_the_rest)
		       */
	uint8_t sbuf[65536]; /* a datagram sent for the program (send_one) */
	uint8_t cbuf[4096] __attribute__((aligned(8))); /* its control data */
	struct iovec iov[1024];				/* its iovecs */
	uint32_t udp_said[32]; /* the last UDP refusals logged (hashes) */
	unsigned udp_said_next;
	int level;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void __attribute__((format(printf, 3, 4)))
slog(const struct sup *s, int level, const char *fmt, ...)
{
	static const char *const pre[] = {"", "warning: ", "info: ", "debug: "};
	char line[1024];
	va_list ap;
	int n;

	if (level > s->level)
		return;
	n = snprintf(line, sizeof(line), "socksify: %s", pre[level & 3]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(2, line, (size_t)n);
}

/* --- the child: filter, listener, exec -------------------------------- */

/*
 * The filter, written with labels (resolved into BPF's relative jumps by
 * build_filter):
 *
 *   arch x86_64: x32 numbers (bit 30) refused; connect, sendmsg, sendmmsg,
 *     getpeername, and sendto with a destination (arg 4 non-NULL) to us;
 *     io_uring_setup ENOSYS (its connects would bypass the filter); the
 *     rest allowed.
 *   arch i386 (int 0x80 from a 64-bit process, or a 32-bit program):
 *     socketcall and the network calls refused, io_uring_setup ENOSYS.
 *   any other arch: ENOSYS.
 */
enum label {
	L_NEXT,
	L_X64,
	L_I386,
	L_SENDTO,
	L_SENDTO_HI,
	L_X32,
	L_ALLOW,
	L_NOTIF,
	L_REFUSE,
	L_NOSYS,
	NLABELS
};
struct insn {
	int label; /* the label this instruction carries (L_NEXT: none) */
	uint16_t code;
	uint32_t k;
	int jt, jf; /* labels; L_NEXT: the next instruction */
};

#define OP(c, k)                                                               \
	{                                                                      \
		L_NEXT, (c), (k), L_NEXT, L_NEXT                               \
	}
#define LBL(l, c, k)                                                           \
	{                                                                      \
		(l), (c), (k), L_NEXT, L_NEXT                                  \
	}
#define LD(off) OP(BPF_LD | BPF_W | BPF_ABS, (off))
#define JEQ(k, t, f)                                                           \
	{                                                                      \
		L_NEXT, BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f)               \
	}
#define ARG(n) (offsetof(struct seccomp_data, args) + 8 * (n))

static const struct insn g_prog[] = {
    LD(offsetof(struct seccomp_data, arch)),
    JEQ(AUDIT_ARCH_X86_64, L_X64, L_NEXT),
    JEQ(AUDIT_ARCH_I386, L_I386, L_NOSYS),
    LBL(L_I386, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    JEQ(102 /* socketcall */, L_REFUSE, L_NEXT),
    JEQ(362 /* connect */, L_REFUSE, L_NEXT),
    JEQ(369 /* sendto */, L_REFUSE, L_NEXT),
    JEQ(370 /* sendmsg */, L_REFUSE, L_NEXT),
    JEQ(345 /* sendmmsg */, L_REFUSE, L_NEXT),
    JEQ(425 /* io_uring_setup */, L_NOSYS, L_ALLOW),
    LBL(L_X64, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    {L_NEXT, BPF_JMP | BPF_JGE | BPF_K, 0x40000000, L_X32, L_NEXT},
    JEQ(__NR_connect, L_NOTIF, L_NEXT),
    JEQ(__NR_sendmsg, L_NOTIF, L_NEXT),
    JEQ(__NR_sendmmsg, L_NOTIF, L_NEXT),
    JEQ(__NR_getpeername, L_NOTIF, L_NEXT),
    JEQ(__NR_io_uring_setup, L_NOSYS, L_NEXT),
    JEQ(__NR_sendto, L_SENDTO, L_ALLOW),
    LBL(L_SENDTO, BPF_LD | BPF_W | BPF_ABS, ARG(4)),
    JEQ(0, L_SENDTO_HI, L_NOTIF),
    LBL(L_SENDTO_HI, BPF_LD | BPF_W | BPF_ABS, ARG(4) + 4),
    JEQ(0, L_ALLOW, L_NOTIF),
    /* bit 30: x32, refused; bit 31 (-1 and the like): the kernel's ENOSYS */
    {L_X32, BPF_JMP | BPF_JGE | BPF_K, 0x80000000, L_ALLOW, L_REFUSE},
    LBL(L_ALLOW, BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    LBL(L_NOTIF, BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    LBL(L_REFUSE, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
    LBL(L_NOSYS, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
};
#define PROG_LEN (sizeof(g_prog) / sizeof(g_prog[0]))

/* Resolves the labels into f (PROG_LEN instructions). */
static void build_filter(struct sock_filter *f)
{
	int at[NLABELS];
	size_t i;

	for (i = 0; i < PROG_LEN; i++)
		if (g_prog[i].label != L_NEXT)
			at[g_prog[i].label] = (int)i;
	for (i = 0; i < PROG_LEN; i++) {
		const struct insn *in = &g_prog[i];

		f[i].code = in->code;
		f[i].k = in->k;
		f[i].jt =
		    (uint8_t)(in->jt == L_NEXT ? 0 : at[in->jt] - (int)i - 1);
		f[i].jf =
		    (uint8_t)(in->jf == L_NEXT ? 0 : at[in->jf] - (int)i - 1);
	}
}

/* Installs the filter; returns the listener fd or -errno. */
static int install_filter(void)
{
	struct sock_filter f[PROG_LEN];
	struct sock_fprog prog = {PROG_LEN, f};
	unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER |
			      SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	int fd;

	build_filter(f);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (fd < 0)
		return -errno;
	return fd;
}

/*
 * The child hands its listener over by number: it writes 'L' and the fd
 * number (sendmsg with SCM_RIGHTS would be trapped by the very filter it
 * just installed, with nobody listening yet), and we take the file with
 * pidfd_getfd.  Or it writes 'E' and the errno of a failed install.
 */
static int take_listener(int sock, pid_t child)
{
	char msg[1 + sizeof(int)];
	int fd, pfd, err;

	if (read(sock, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		return -EPIPE;
	memcpy(&fd, msg + 1, sizeof(int));
	if (msg[0] == 'E')
		return -fd;
	pfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pfd < 0)
		return -errno;
	fd = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
	err = errno;
	close(pfd);
	return fd < 0 ? -err : fd;
}

/* --- looking at the program ------------------------------------------ */

static pid_t tgid_of(pid_t tid)
{
	char path[64], buf[256];
	pid_t tgid = tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (!(f = fopen(path, "re")))
		return tid;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/* A pidfd for thread tid (PIDFD_THREAD, Linux 6.9: *thread = 1), else
 * for its thread group (its leader, from /proc/TID/status). */
static int pidfd_of(pid_t tid, int *thread)
{
	int fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);

	*thread = fd >= 0;
	if (fd >= 0 || errno != EINVAL)
		return fd;
	fd = (int)syscall(SYS_pidfd_open, tid, 0);
	if (fd >= 0 || errno != EINVAL)
		return fd;
	return (int)syscall(SYS_pidfd_open, tgid_of(tid), 0);
}

static int read_mem(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = {buf, len}, r = {(void *)(uintptr_t)addr, len};

	return process_vm_readv(tid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0
								      : -EFAULT;
}

static int write_mem(pid_t tid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = {(void *)(uintptr_t)buf, len},
		     r = {(void *)(uintptr_t)addr, len};

	return process_vm_writev(tid, &l, 1, &r, 1, 0) == (ssize_t)len
		   ? 0
		   : -EFAULT;
}

static int id_valid(const struct sup *s, uint64_t id)
{
	return ioctl(s->lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static void answer(const struct sup *s, uint64_t id, long val, int err)
{
	struct seccomp_notif_resp r = {.id = id, .val = val, .error = err};

	if (err)
		r.val = -1;
	(void)ioctl(s->lfd, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

static void answer_continue(const struct sup *s, uint64_t id)
{
	struct seccomp_notif_resp r = {
	    .id = id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};

	(void)ioctl(s->lfd, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

/* The kept pidfd of thread tid (opened on first use); fresh: drop the
 * kept one first (it said ESRCH: its thread is gone).  *kept = 0 when
 * the caller must close it: a thread-group pidfd (before Linux 6.9) is
 * never kept, since the thread's number may come to name a thread of
 * another process while that group lives on. */
static int pidfd_get(struct sup *s, pid_t tid, int fresh, int *kept)
{
	struct pidfd_slot *k = &s->pidfds[(unsigned)tid % PIDFD_SLOTS];
	int fd, thread;

	*kept = 1;
	if (k->tid == tid && k->fd >= 0 && !fresh)
		return k->fd;
	if (k->tid && k->fd >= 0)
		close(k->fd);
	k->tid = 0;
	k->fd = -1;
	fd = pidfd_of(tid, &thread);
	if (fd >= 0 && thread) {
		k->tid = tid;
		k->fd = fd;
	} else {
		*kept = 0;
	}
	return fd;
}

/* Our copy of the program's fd tfd, with its socket's domain and type
 * and inode; -errno when it is no fd (or gone). */
static int copy_fd(struct sup *s, const struct seccomp_notif *n, int tfd,
		   int *dom, int *type, ino_t *ino)
{
	struct stat st;
	socklen_t l = sizeof(int);
	int pfd, fd = -1, try, kept, err;

	for (try = 0; try < 2 && fd < 0; try++) {
		if ((pfd = pidfd_get(s, (pid_t)n->pid, try, &kept)) < 0)
			return -ESRCH;
		fd = (int)syscall(SYS_pidfd_getfd, pfd, tfd, 0);
		err = errno;
		if (!kept)
			close(pfd);
		if (fd < 0 && err != ESRCH)
			return -err;
	}
	if (fd < 0)
		return -ESRCH;
	*dom = *type = -1;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		close(fd);
		return -ENOTSOCK;
	}
	*ino = st.st_ino;
	(void)getsockopt(fd, SOL_SOCKET, SO_DOMAIN, dom, &l);
	l = sizeof(int);
	(void)getsockopt(fd, SOL_SOCKET, SO_TYPE, type, &l);
	return fd;
}

/* --- addresses ------------------------------------------------------- */

/* a as v4-mapped IPv6 (for an IPv6 socket reaching an IPv4 address). */
static void map_v4(const struct sockaddr_in *a, struct sockaddr_in6 *out)
{
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	out->sin6_port = a->sin_port;
	out->sin6_addr.s6_addr[10] = out->sin6_addr.s6_addr[11] = 0xff;
	memcpy(out->sin6_addr.s6_addr + 12, &a->sin_addr, 4);
}

/* The IPv4 address of a v4 or v4-mapped destination, else NULL. */
static const struct in_addr *v4_of(const struct sockaddr_in6 *sa)
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (sa->sin6_family == AF_INET)
		return &((const struct sockaddr_in *)(const void *)sa)
			    ->sin_addr;
	if (memcmp(&sa->sin6_addr, mapped, 12) == 0)
		return (const struct in_addr
			    *)(const void *)(sa->sin6_addr.s6_addr + 12);
	return NULL;
}

static uint16_t port_of(const struct sockaddr_in6 *sa)
{
	return ntohs(sa->sin6_port); /* same offset in sockaddr_in */
}

/* The name a placeholder stands for (into name), 1; 0 when dst is no
 * placeholder; -ENOENT for a stale one. */
static int placeholder(struct sup *s, const struct sockaddr_in6 *dst,
		       char *name, size_t len)
{
	const struct in_addr *a4 = v4_of(dst);
	int rc;

	if (!s->names)
		return 0;
	if (a4) {
		if (!names_in_range_v4(&s->ncfg, a4))
			return 0;
		rc = names_reverse_v4(s->names, a4, name, len);
	} else {
		if (!names_in_range_v6(&s->ncfg, &dst->sin6_addr))
			return 0;
		rc = names_reverse_v6(s->names, &dst->sin6_addr, name, len);
	}
	return rc < 0 ? -ENOENT : 1;
}

/* Is dst the proxy itself (a preloaded shim's connect inside the tree)? */
static int is_proxy(const struct sup *s, const struct sockaddr_in6 *dst)
{
	if (s->proxy.ss_family == AF_INET) {
		const struct sockaddr_in *p = (const void *)&s->proxy;
		const struct in_addr *a4 = v4_of(dst);

		return a4 && a4->s_addr == p->sin_addr.s_addr &&
		       dst->sin6_port == p->sin_port;
	}
	return dst->sin6_family == AF_INET6 &&
	       !memcmp(&dst->sin6_addr,
		       &((const struct sockaddr_in6 *)(const void *)&s->proxy)
			    ->sin6_addr,
		       16) &&
	       dst->sin6_port ==
		   ((const struct sockaddr_in6 *)(const void *)&s->proxy)
		       ->sin6_port;
}

/* --- getpeername's memory ------------------------------------------------ */

static unsigned peer_hash(ino_t ino)
{
	return (unsigned)((uint64_t)ino * 0x9e3779b97f4a7c15ull >> 40) &
	       (MAX_PEERS - 1);
}

static struct peer *peer_find(struct sup *s, ino_t ino)
{
	unsigned h = peer_hash(ino), i;

	for (i = 0; i < PEER_PROBE; i++) {
		struct peer *p = &s->peers[(h + i) & (MAX_PEERS - 1)];

		if (p->ino == ino)
			return p;
	}
	return NULL;
}

/* Remembers that socket ino was connected for dst (the proxy, or our
 * stub, is its real peer).  A full probe window loses its first record:
 * that socket's getpeername then shows the proxy. */
static void peer_record(struct sup *s, ino_t ino,
			const struct sockaddr_in6 *dst, socklen_t len)
{
	struct peer *p = peer_find(s, ino);
	unsigned h = peer_hash(ino), i;

	for (i = 0; !p && i < PEER_PROBE; i++)
		if (!s->peers[(h + i) & (MAX_PEERS - 1)].ino)
			p = &s->peers[(h + i) & (MAX_PEERS - 1)];
	if (!p)
		p = &s->peers[h];
	p->ino = ino;
	p->dst = *dst;
	p->dstlen = len;
}

/* Socket ino connects anew (or dissolves): its record is stale. */
static void peer_forget(struct sup *s, ino_t ino)
{
	struct peer *p = peer_find(s, ino);

	if (p)
		p->ino = 0;
}

/* --- the handshakes ------------------------------------------------------ */

static void pend_events(struct sup *s, struct pend *p, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = p};

	(void)epoll_ctl(s->ep, EPOLL_CTL_MOD, p->fd, &e);
}

/* Frees slot p, and the top of the used range with it. */
static void pend_free(struct sup *s, struct pend *p)
{
	p->used = 0;
	while (s->pend_hi > 0 && !s->pend[s->pend_hi - 1].used)
		s->pend_hi--;
}

/* Ends handshake p with err (0: connected), answering the program. */
static void pend_finish(struct sup *s, struct pend *p, int err, const char *why)
{
	(void)epoll_ctl(s->ep, EPOLL_CTL_DEL, p->fd, NULL);
	if (err) {
		struct sockaddr sa = {.sa_family = AF_UNSPEC};

		/* Dissolve the half-made connection to the proxy, so the
		 * program can connect the socket again. */
		(void)connect(p->fd, &sa, sizeof(sa));
		peer_forget(s, p->ino);
		slog(s, 0, "connect to %s via %s failed: %s (%s)", p->what,
		     s->proxyname, why, strerrorname_np(err));
	} else {
		/* Our non-blocking connect left the socket "connecting" for
		 * the kernel: one more connect makes it connected, so that the
		 * program's next connect gets EISCONN, not a fresh start. */
		(void)connect(p->fd, (struct sockaddr *)&p->pa, p->palen);
		peer_record(s, p->ino, &p->dst, p->dstlen);
		slog(s, 2, "connect to %s via %s (supervised)", p->what,
		     s->proxyname);
	}
	(void)fcntl(p->fd, F_SETFL, p->flags);
	hs_wipe(&p->h);
	close(p->fd);
	answer(s, p->id, 0, err ? -err : 0);
	pend_free(s, p);
}

/* What hs_pump says. */
enum pump {
	PUMP_DONE, /* the handshake succeeded */
	PUMP_FAIL, /* it failed: the hs says why */
	PUMP_WAIT, /* wait for the epoll events given */
	PUMP_ERR   /* the socket failed: errno */
};

/* Runs handshake h on fd (non-blocking I/O) as far as the socket lets
 * it. */
static enum pump hs_pump(int fd, struct hs *h, uint32_t *ev)
{
	uint8_t *buf;
	size_t len;
	ssize_t n;

	for (;;) {
		enum hs_io io = hs_next(h, &buf, &len);

		if (io == HS_IO_DONE)
			return PUMP_DONE;
		if (io == HS_IO_FAIL)
			return PUMP_FAIL;
		if (io == HS_IO_WRITE)
			n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			n = recv(fd, buf, len, MSG_DONTWAIT);
		if (n > 0) {
			if (io == HS_IO_WRITE)
				hs_wrote(h, (size_t)n);
			else
				hs_got(h, (size_t)n);
			continue;
		}
		if (n == 0 || errno == ECONNRESET || errno == EPIPE) {
			hs_eof(h);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR) {
			*ev = io == HS_IO_WRITE ? EPOLLOUT : EPOLLIN;
			return PUMP_WAIT;
		}
		return PUMP_ERR;
	}
}

/* Runs handshake p as far as the socket lets it. */
static void pend_run(struct sup *s, struct pend *p)
{
	uint32_t ev;

	if (p->connecting) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
			err = errno;
		if (err) {
			pend_finish(s, p, err, "cannot connect to the proxy");
			return;
		}
		p->connecting = 0;
	}
	switch (hs_pump(p->fd, &p->h, &ev)) {
	case PUMP_DONE:
		pend_finish(s, p, 0, NULL);
		break;
	case PUMP_FAIL:
		pend_finish(s, p, p->h.err, p->h.why);
		break;
	case PUMP_WAIT:
		pend_events(s, p, ev);
		break;
	default:
		pend_finish(s, p, errno, "the connection to the proxy failed");
	}
}

/*
 * Source routing set on the socket (IP_OPTIONS with LSRR or SSRR, an IPv6
 * routing header): a packet to a destination we judged direct, loopback
 * even, would leave for the route's first hop instead.  Such a socket
 * gets EACCES for anything it would send out.
 */
static int source_routed(int fd, int dom)
{
	uint8_t o[40];
	socklen_t l = sizeof(o);
	unsigned i = 0;

	if (getsockopt(fd, IPPROTO_IP, IP_OPTIONS, o, &l) == 0)
		while (i < l && o[i] != 0) { /* 0: end of the list */
			if (o[i] == 131 || o[i] == 137)
				return 1;
			if (o[i] == 1) { /* no-op */
				i++;
				continue;
			}
			if (i + 1 >= l || o[i + 1] < 2)
				break;
			i += o[i + 1];
		}
	l = sizeof(o);
	return dom == AF_INET6 &&
	       getsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, o, &l) == 0 && l > 0;
}

/* A control message that routes the packet (IP_RETOPTS, an IPv6 routing
 * header): the per-packet form of the above. */
static int cmsg_routes(struct msghdr *m)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
		if ((c->cmsg_level == IPPROTO_IP &&
		     c->cmsg_type == IP_RETOPTS) ||
		    (c->cmsg_level == IPPROTO_IPV6 &&
		     (c->cmsg_type == IPV6_RTHDR ||
		      c->cmsg_type == IPV6_2292RTHDR)))
			return 1;
	return 0;
}

static int refuse_routed(struct sup *s, const struct seccomp_notif *n, int copy,
			 int dom)
{
	if (!source_routed(copy, dom))
		return 0;
	slog(s, 0,
	     "fd %d of process %d has source routing set (IP_OPTIONS or an "
	     "IPv6 routing header): its traffic could leave past the "
	     "proxy (EACCES)",
	     (int)n->data.args[0], (int)n->pid);
	return 1;
}

/* Starts the handshake for a proxied connect on copy (ours from now). */
static void pend_start(struct sup *s, const struct seccomp_notif *n, int copy,
		       int dom, ino_t ino, const struct sockaddr_in6 *dst,
		       socklen_t dstlen, const char *name)
{
	const struct cfg_proxy *px = &s->c->proxy;
	struct sockaddr_in6 pa;
	socklen_t palen = s->proxylen;
	struct s5_addr a;
	struct epoll_event e;
	struct pend *p = NULL;
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	unsigned i;

	if (refuse_routed(s, n, copy, dom)) {
		close(copy);
		answer(s, n->id, 0, -EACCES);
		return;
	}
	/* As the kernel: a connected socket says EISCONN, one whose
	 * handshake is under way (another thread's connect) EALREADY; a
	 * handshake must never start inside a live stream. */
	for (i = 0; i < s->pend_hi; i++)
		if (s->pend[i].used && s->pend[i].ino == ino) {
			close(copy);
			answer(s, n->id, 0, -EALREADY);
			return;
		}
	if (getpeername(copy, (struct sockaddr *)&peer, &pl) == 0) {
		close(copy);
		answer(s, n->id, 0, -EISCONN);
		return;
	}
	for (i = 0; i < MAX_PENDING; i++)
		if (!s->pend[i].used) {
			p = &s->pend[i];
			break;
		}
	if (!p) {
		close(copy);
		answer(s, n->id, 0, -ENOBUFS);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->used = 1;
	if (i >= s->pend_hi)
		s->pend_hi = i + 1;
	p->id = n->id;
	p->fd = copy;
	p->ino = ino;
	p->dst = *dst;
	p->dstlen = dstlen;
	p->deadline = now_ms() + s->c->timeout_ms;
	if (name) {
		snprintf(p->what, sizeof(p->what), "%s:%u", name, port_of(dst));
		s5_addr_domain(&a, name, port_of(dst));
	} else {
		fmt_sockaddr((const struct sockaddr *)dst, p->what,
			     sizeof(p->what));
		if (s5_addr_from_sockaddr(&a, (const struct sockaddr *)dst,
					  dstlen) < 0) {
			pend_free(s, p);
			close(copy);
			answer(s, n->id, 0, -EAFNOSUPPORT);
			return;
		}
		if (v4_of(dst) && dst->sin6_family == AF_INET6) {
			/* a v4-mapped destination goes as IPv4 */
			a.atyp = S5_ATYP_IPV4;
			memcpy(a.u.v4, v4_of(dst), 4);
		}
	}
	/* The proxy's address in the socket's family. */
	memcpy(&pa, &s->proxy, s->proxylen);
	if (dom == AF_INET6 && s->proxy.ss_family == AF_INET) {
		map_v4((const struct sockaddr_in *)(const void *)&s->proxy,
		       &pa);
		palen = sizeof(pa);
	} else if (dom == AF_INET && s->proxy.ss_family == AF_INET6) {
		pend_free(s, p);
		close(copy);
		slog(s, 0,
		     "connect to %s via %s failed: an IPv4 socket cannot "
		     "reach an IPv6 proxy (ENETUNREACH)",
		     p->what, s->proxyname);
		answer(s, n->id, 0, -ENETUNREACH);
		return;
	}
	memcpy(&p->pa, &pa, palen);
	p->palen = palen;
	hs_init(&p->h, S5_CMD_CONNECT, &a, px->user_len ? px->user : NULL,
		px->user_len, px->pass, px->pass_len);
	p->flags = fcntl(copy, F_GETFL);
	(void)fcntl(copy, F_SETFL, p->flags | O_NONBLOCK);
	e.events = EPOLLOUT;
	e.data.ptr = p;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, copy, &e) < 0) {
		int err = errno;

		(void)fcntl(copy, F_SETFL, p->flags);
		pend_free(s, p);
		close(copy);
		answer(s, n->id, 0, -err);
		return;
	}
	if (connect(copy, (struct sockaddr *)&pa, palen) == 0) {
		pend_run(s, p);
	} else if (errno == EINPROGRESS) {
		p->connecting = 1;
	} else if (errno == EALREADY || errno == EISCONN) {
		/* The program's own connect is under way or done: its socket
		 * is not ours to dissolve. */
		int err = errno;

		(void)epoll_ctl(s->ep, EPOLL_CTL_DEL, copy, NULL);
		(void)fcntl(copy, F_SETFL, p->flags);
		close(copy);
		pend_free(s, p);
		answer(s, n->id, 0, -err);
	} else {
		pend_finish(s, p, errno, "cannot connect to the proxy");
	}
}

/* --- the stub resolver ------------------------------------------------- */

/* A query's question, as the stub reads it. */
struct dq {
	char name[DNS_MAX_NAME + 1];
	size_t nlen;
	size_t qend; /* header and question: what a reply copies */
	uint16_t qtype, qclass;
	uint8_t rcode; /* 0, or what the stub answers at once */
	int odd;       /* a label with '.' or NUL: name is not its spelling */
};

/* Reads the question of query q (qlen >= 12 bytes): FORMERR for a name
 * that runs past the end, NOTIMP for other opcodes or QDCOUNT != 1. */
static void dq_parse(const uint8_t *q, size_t qlen, struct dq *d)
{
	size_t pos = 12;

	memset(d, 0, sizeof(*d));
	if (((q[2] >> 3) & 0xf) != 0 || q[4] != 0 || q[5] != 1)
		d->rcode = 4;
	while (d->rcode == 0 && pos < qlen && q[pos] != 0) {
		size_t l = q[pos];

		if (l > 63 || pos + 1 + l >= qlen ||
		    d->nlen + l + 1 > DNS_MAX_NAME) {
			d->rcode = 1;
			break;
		}
		if (memchr(q + pos + 1, '.', l) || memchr(q + pos + 1, 0, l))
			d->odd = 1;
		if (d->nlen)
			d->name[d->nlen++] = '.';
		memcpy(d->name + d->nlen, q + pos + 1, l);
		d->nlen += l;
		pos += 1 + l;
	}
	d->name[d->nlen] = '\0';
	if (d->rcode == 0 && (pos + 5 > qlen || d->nlen == 0))
		d->rcode = 1;
	if (d->rcode) {
		d->qend = 12;
		return;
	}
	d->qend = pos + 5;
	d->qtype = (uint16_t)(q[pos + 1] << 8 | q[pos + 2]);
	d->qclass = (uint16_t)(q[pos + 3] << 8 | q[pos + 4]);
}

/* The header and question of a reply to q with rcode and no records yet
 * (r has room for d->qend bytes).  Returns their length. */
static size_t reply_head(const uint8_t *q, const struct dq *d, uint8_t rcode,
			 uint8_t *r)
{
	memcpy(r, q, d->qend);
	r[2] = (uint8_t)(0x80 | (q[2] & 0x01)); /* QR, RD as asked */
	r[3] = (uint8_t)(0x80 | rcode);		/* RA */
	r[4] = 0, r[5] = d->qend > 12 ? 1 : 0;
	memset(r + 6, 0, 6);
	return d->qend;
}

/* Appends an answer record for the question's name (a pointer to it)
 * with alen address bytes; bumps ANCOUNT.  0, or -1 when r is full. */
static int reply_addr(uint8_t *r, size_t *rlen, size_t cap, uint16_t qtype,
		      const void *addr, size_t alen, uint8_t ttl)
{
	uint8_t rr[12] = {0xc0, 0x0c, 0, (uint8_t)qtype, 0, 1, 0, 0,
			  0,	ttl,  0, (uint8_t)alen};
	unsigned an = (unsigned)r[6] << 8 | r[7];

	if (*rlen + sizeof(rr) + alen > cap)
		return -1;
	memcpy(r + *rlen, rr, sizeof(rr));
	memcpy(r + *rlen + sizeof(rr), addr, alen);
	*rlen += sizeof(rr) + alen;
	an++;
	r[6] = (uint8_t)(an >> 8), r[7] = (uint8_t)an;
	return 0;
}

/* dns remote: A and AAAA of a host name with its placeholders, NOERROR
 * and no answer for other types.  Returns the response's length. */
static size_t stub_placeholder(struct sup *s, const uint8_t *q,
			       const struct dq *d, uint8_t *r, size_t cap)
{
	size_t rlen = reply_head(q, d, d->rcode, r);
	struct in_addr v4;
	struct in6_addr v6;

	if (d->rcode || d->qclass != DNS_CLASS_IN ||
	    (d->qtype != DNS_TYPE_A && d->qtype != DNS_TYPE_AAAA) || d->odd ||
	    !dns_name_is_host(d->name)) {
		if (d->rcode == 0)
			slog(s, 3,
			     "stub resolver: type %u for %s: no data (names "
			     "are resolved by the proxy)",
			     (unsigned)d->qtype, d->name);
		return rlen;
	}
	if (names_get(s->names, d->name, d->nlen, &v4, &v6) < 0) {
		r[3] = 0x80 | 2; /* SERVFAIL */
		return rlen;
	}
	if (d->qtype == DNS_TYPE_A)
		(void)reply_addr(r, &rlen, cap, d->qtype, &v4, 4, STUB_TTL);
	else
		(void)reply_addr(r, &rlen, cap, d->qtype, &v6, 16, STUB_TTL);
	slog(s, 3, "stub resolver: %s %s: a placeholder",
	     d->qtype == DNS_TYPE_A ? "A" : "AAAA", d->name);
	return rlen;
}

/* --- /etc/hosts, for the stub -------------------------------------------- */

#define HOSTS_PATH	"/etc/hosts"
#define HOSTS_MAX_BYTES (1 << 20)
#define HOSTS_MAX_ADDRS 16

/* Reads /etc/hosts again when it changed (or is gone: then no text). */
static void hosts_refresh(struct sup *s)
{
	struct stat st;
	char *text;
	ssize_t n;
	int fd;

	if (stat(HOSTS_PATH, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > HOSTS_MAX_BYTES) {
		free(s->hosts);
		s->hosts = NULL;
		return;
	}
	if (s->hosts && st.st_ino == s->hosts_st.st_ino &&
	    st.st_dev == s->hosts_st.st_dev &&
	    st.st_size == s->hosts_st.st_size &&
	    st.st_mtim.tv_sec == s->hosts_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == s->hosts_st.st_mtim.tv_nsec)
		return;
	fd = open(HOSTS_PATH, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	text = malloc((size_t)st.st_size + 1);
	n = text ? read(fd, text, (size_t)st.st_size) : -1;
	close(fd);
	if (n < 0) {
		free(text);
		return;
	}
	text[n] = '\0';
	free(s->hosts);
	s->hosts = text;
	s->hosts_st = st;
}

/* One line: 1 when it lists name, with its address (of family fam) into
 * addr and *got set (0 when the address is of another family). */
static int hosts_line(const char *p, const char *end, const char *name, int fam,
		      uint8_t addr[16], int *got)
{
	char ab[INET6_ADDRSTRLEN + 1];
	const char *tok;
	size_t tl;
	int first = 1, listed = 0;

	*got = 0;
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p >= end || *p == '#')
			break;
		tok = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r' &&
		       *p != '#')
			p++;
		tl = (size_t)(p - tok);
		if (first) {
			first = 0;
			if (tl >= sizeof(ab))
				return 0;
			memcpy(ab, tok, tl);
			ab[tl] = '\0';
			continue;
		}
		if (dns_name_same(tok, tl, name)) {
			listed = 1;
			break;
		}
	}
	if (listed && strchr(ab, '%') == NULL)
		*got = inet_pton(fam, ab, addr) == 1;
	return listed;
}

/* name's addresses of family fam in /etc/hosts (up to HOSTS_MAX_ADDRS,
 * into out); *listed: whether the file names it at all.  Returns how
 * many. */
static int hosts_lookup(struct sup *s, const char *name, int fam,
			uint8_t out[][16], int *listed)
{
	const char *p, *nl, *end;
	int n = 0, got;

	*listed = 0;
	hosts_refresh(s);
	for (p = s->hosts; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		end = nl ? nl : p + strlen(p);
		if (!hosts_line(p, end, name, fam, out[n], &got))
			continue;
		*listed = 1;
		if (got && n < HOSTS_MAX_ADDRS - 1)
			n++;
	}
	return n;
}

/*
 * A localhost name or one /etc/hosts lists is answered here, as the
 * library answers it: A/AAAA with the file's addresses of that family
 * (localhost names: 127.0.0.1 and ::1 when the file has none), NOERROR
 * and no answer otherwise.  Returns the response's length, or 0 when
 * the name is none of those.
 */
static size_t stub_hosts(struct sup *s, const uint8_t *q, const struct dq *d,
			 uint8_t *r, size_t cap)
{
	uint8_t a[HOSTS_MAX_ADDRS][16];
	int fam = d->qtype == DNS_TYPE_AAAA ? AF_INET6 : AF_INET, listed, n, i;
	size_t rlen, alen = fam == AF_INET ? 4 : 16;

	n = hosts_lookup(s, d->name, fam, a, &listed);
	if (!listed && !dns_is_localhost(d->name))
		return 0;
	rlen = reply_head(q, d, 0, r);
	if (d->qclass != DNS_CLASS_IN ||
	    (d->qtype != DNS_TYPE_A && d->qtype != DNS_TYPE_AAAA))
		return rlen;
	if (n == 0 && dns_is_localhost(d->name)) {
		memset(a[0], 0, 16);
		if (fam == AF_INET)
			a[0][0] = 127, a[0][3] = 1;
		else
			a[0][15] = 1;
		n = 1;
	}
	for (i = 0; i < n; i++)
		(void)reply_addr(r, &rlen, cap, d->qtype, a[i], alen, STUB_TTL);
	slog(s, 3, "stub resolver: %s %s: %d address%s from %s",
	     fam == AF_INET ? "A" : "AAAA", d->name, n, n == 1 ? "" : "es",
	     listed ? HOSTS_PATH : "localhost");
	return rlen;
}

/* --- direct connects to a name (its rules: direct at this port) ---------- */

/*
 * A placeholder's name that the rules send direct at the port connected
 * to is resolved here, as the library resolves it at connect time: an A
 * query (AAAA first, then A, for an IPv6 socket) to resolv.conf's first
 * nameserver, sent from the loop as a forwarded query whose answer comes
 * back to dconn_answer.  The copy is then connected to the first address
 * directly; a blocking socket's connect is waited for in the loop too.
 */
static void dconn_query(struct sup *s, struct dconn *dc);

static void dconn_end(struct sup *s, struct dconn *dc)
{
	if (dc->connecting) {
		(void)epoll_ctl(s->ep, EPOLL_CTL_DEL, dc->fd, NULL);
		(void)fcntl(dc->fd, F_SETFL, dc->flags);
	}
	close(dc->fd);
	dc->used = 0;
}

/* Fails the program's connect with err and one line. */
static void dconn_fail(struct sup *s, struct dconn *dc, int err,
		       const char *why)
{
	slog(s, 0,
	     "connect to %s failed: a name sent direct by the rules at this "
	     "port: %s (%s)",
	     dc->what, why, strerrorname_np(err));
	answer(s, dc->id, 0, -err);
	dconn_end(s, dc);
}

/* The copy's connect, under way: its outcome is the program's. */
static void dconn_run(struct sup *s, struct dconn *dc)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(dc->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
		err = errno;
	if (err == 0)
		peer_forget(s, dc->ino);
	answer(s, dc->id, 0, -err);
	dconn_end(s, dc);
}

/* Connects the copy to sa, as the program's own connect would: at once
 * for a non-blocking socket (EINPROGRESS and all), else waited for. */
static void dconn_connect(struct sup *s, struct dconn *dc,
			  const struct sockaddr *sa, socklen_t len)
{
	struct epoll_event e = {.events = EPOLLOUT, .data.ptr = dc};
	char a[INET6_ADDRSTRLEN + 8];
	int rc, err;

	if (dc->name[0]) {
		fmt_sockaddr(sa, a, sizeof(a));
		slog(s, 3, "direct: %s (resolved to %s)", dc->what, a);
	}
	if (dc->flags & O_NONBLOCK) {
		rc = connect(dc->fd, sa, len);
		answer(s, dc->id, 0, rc == 0 ? 0 : -errno);
		dconn_end(s, dc);
		return;
	}
	(void)fcntl(dc->fd, F_SETFL, dc->flags | O_NONBLOCK);
	rc = connect(dc->fd, sa, len);
	err = errno;
	if (rc < 0 && err == EINPROGRESS &&
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, dc->fd, &e) == 0) {
		dc->connecting = 1;
		return;
	}
	(void)fcntl(dc->fd, F_SETFL, dc->flags);
	if (rc == 0 && dc->ino)
		peer_forget(s, dc->ino);
	answer(s, dc->id, 0, rc == 0 ? 0 : -err);
	dconn_end(s, dc);
}

/* The nameserver's answer a (alen bytes) to our query id for dc. */
static void dconn_answer(struct sup *s, struct dconn *dc, const uint8_t *a,
			 size_t alen, uint16_t id)
{
	struct dns_answer ans;
	struct sockaddr_in6 sa;
	struct sockaddr_in *sin = (struct sockaddr_in *)&sa;
	socklen_t len = sizeof(sa);
	int rc = dns_parse_response(a, alen, id, dc->name, dc->qtype, &ans);

	if (rc == 0 && ans.rcode == 0 && ans.naddr == 0 &&
	    dc->qtype == DNS_TYPE_AAAA) {
		dc->qtype = DNS_TYPE_A; /* an IPv6 socket reaches IPv4 too */
		dconn_query(s, dc);
		return;
	}
	if (rc < 0 || ans.rcode != 0 || ans.naddr == 0) {
		dconn_fail(s, dc, EHOSTUNREACH,
			   rc < 0	    ? "an unusable answer from the "
					      "nameserver"
			   : ans.rcode == 3 ? "no such name (NXDOMAIN)"
			   : ans.rcode	    ? "the nameserver failed"
					    : "it has no address");
		return;
	}
	memset(&sa, 0, sizeof(sa));
	if (ans.family[0] == AF_INET6) {
		sa.sin6_family = AF_INET6;
		sa.sin6_port = htons(dc->port);
		memcpy(&sa.sin6_addr, ans.addr[0], 16);
	} else if (dc->dom == AF_INET6) {
		struct sockaddr_in v4 = {.sin_family = AF_INET,
					 .sin_port = htons(dc->port)};

		memcpy(&v4.sin_addr, ans.addr[0], 4);
		map_v4(&v4, &sa);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(dc->port);
		memcpy(&sin->sin_addr, ans.addr[0], 4);
		len = sizeof(*sin);
	}
	dconn_connect(s, dc, (struct sockaddr *)&sa, len);
}

/* --- forwarded queries (dns tunnel; names sent direct) -------------------- */

/*
 * A query the stub does not answer itself goes out on a socket of ours,
 * in the loop: over TCP through the proxy (a CONNECT to dns_server) in
 * tunnel mode, or, for a name the rules send direct at every port, to the
 * nameserver the program asked, directly (over UDP for a UDP client, TCP
 * for a TCP one).  The answer goes back to the client as it came.
 */
enum fwd_stage { FWD_CONNECT, FWD_HANDSHAKE, FWD_SEND, FWD_RECV };

static void fwd_events(struct sup *s, struct fwd *f, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = f};

	(void)epoll_ctl(s->ep, EPOLL_CTL_MOD, f->fd, &e);
}

static void fwd_free(struct sup *s, struct fwd *f)
{
	(void)epoll_ctl(s->ep, EPOLL_CTL_DEL, f->fd, NULL);
	close(f->fd);
	if (f->via_proxy)
		hs_wipe(&f->h);
	f->used = 0;
}

/* Sends response r (rl bytes) to the client that asked: a datagram to
 * from, or a framed message on t.  -1 when t should go. */
static int stub_reply(struct sup *s, struct tconn *t,
		      const struct sockaddr_storage *from, socklen_t fl,
		      uint8_t *r, size_t rl)
{
	uint8_t hdr[2] = {(uint8_t)(rl >> 8), (uint8_t)rl};
	struct iovec iov[2] = {{hdr, 2}, {r, rl}};

	if (!t) {
		(void)sendto(s->stub, r, rl, MSG_DONTWAIT,
			     (const struct sockaddr *)from, fl);
		return 0;
	}
	/* The answers are small: one write, or the connection goes. */
	return writev(t->fd, iov, 2) == (ssize_t)(rl + 2) ? 0 : -1;
}

/* Hands answer a (alen bytes) to f's client and ends f. */
static void fwd_deliver(struct sup *s, struct fwd *f, uint8_t *a, size_t alen)
{
	struct tconn *t = f->t;

	a[0] = (uint8_t)(f->id >> 8), a[1] = (uint8_t)f->id;
	fwd_free(s, f);
	if (f->dc) {
		dconn_answer(s, f->dc, a, alen, f->id);
		return;
	}
	/* A client that cannot take it is shut down here and closed by
	 * tconn_serve, which sees the end: never freed under a caller. */
	if (stub_reply(s, t, &f->from, f->fromlen, a, alen) < 0)
		(void)shutdown(t->fd, SHUT_RDWR);
}

/* Ends f with SERVFAIL to its client and one line. */
static void fwd_fail(struct sup *s, struct fwd *f, const char *why)
{
	uint8_t r[2 + 1500];
	struct dq d;

	if (f->dc) {
		fwd_free(s, f);
		dconn_fail(s, f->dc, EHOSTUNREACH, why);
		return;
	}
	slog(s, 0, "stub resolver: %s %s failed: %s (SERVFAIL)", f->what,
	     f->via_proxy ? "over the proxy" : "to the nameserver", why);
	dq_parse(f->q + 2, f->qlen, &d);
	fwd_deliver(s, f, r, reply_head(f->q + 2, &d, 2, r));
}

/* fwd_fail for a connect that failed with err. */
static void fwd_fail_connect(struct sup *s, struct fwd *f, int err)
{
	char why[96];

	snprintf(why, sizeof(why), "cannot connect to the %s (%s)",
		 f->via_proxy ? "proxy" : "nameserver", strerrorname_np(err));
	fwd_fail(s, f, why);
}

/* The handshake with the proxy, as far as the socket lets it: 1 when
 * done, 0 to wait, -1 when f has failed (and ended). */
static int fwd_handshake(struct sup *s, struct fwd *f)
{
	uint32_t ev;

	switch (hs_pump(f->fd, &f->h, &ev)) {
	case PUMP_DONE:
		return 1;
	case PUMP_FAIL:
		fwd_fail(s, f, f->h.why);
		return -1;
	case PUMP_WAIT:
		fwd_events(s, f, ev);
		return 0;
	default:
		fwd_fail(s, f, "the connection to the proxy failed");
		return -1;
	}
}

/* Sends the query (framed over TCP, bare over UDP): 1 when sent, 0 to
 * wait, -1 when f has failed. */
static int fwd_send(struct sup *s, struct fwd *f)
{
	size_t total = f->udp ? f->qlen : f->qlen + 2;
	const uint8_t *q = f->udp ? f->q + 2 : f->q;
	ssize_t n;

	while (f->off < total) {
		n = send(f->fd, q + f->off, total - f->off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			fwd_events(s, f, EPOLLOUT);
			return 0;
		}
		if (n <= 0) {
			fwd_fail(s, f, "cannot send the query");
			return -1;
		}
		f->off += (size_t)n;
	}
	return 1;
}

/* Reads the answer: a datagram with the query's ID, or a framed message.
 * Delivers it when complete; -1 when f has ended, 0 to wait. */
static int fwd_recv(struct sup *s, struct fwd *f)
{
	ssize_t n;

	for (;;) {
		size_t want =
		    f->udp ? sizeof(f->a) - 2
		    : f->have < 2
			? 2 - f->have
			: 2 + ((size_t)f->a[0] << 8 | f->a[1]) - f->have;

		n = recv(f->fd, f->udp ? f->a + 2 : f->a + f->have, want,
			 MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			fwd_events(s, f, EPOLLIN);
			return 0;
		}
		if (n <= 0) {
			fwd_fail(s, f,
				 n == 0 ? "the server closed the connection"
					: "no answer (the connection failed)");
			return -1;
		}
		if (f->udp) {
			/* Another datagram (a late answer to another ID) is
			 * not the answer. */
			if (n >= 12 && (f->a[4] & 0x80) &&
			    (f->a[2] << 8 | f->a[3]) == f->id) {
				fwd_deliver(s, f, f->a + 2, (size_t)n);
				return -1;
			}
			continue;
		}
		f->have += (size_t)n;
		if (f->have >= 2 &&
		    f->have == 2 + ((size_t)f->a[0] << 8 | f->a[1])) {
			if (f->have < 2 + 12) {
				fwd_fail(s, f, "a short answer");
				return -1;
			}
			fwd_deliver(s, f, f->a + 2, f->have - 2);
			return -1;
		}
	}
}

/* Runs f as far as its socket lets it. */
static void fwd_run(struct sup *s, struct fwd *f)
{
	if (f->stage == FWD_CONNECT) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
			err = errno;
		if (err) {
			fwd_fail_connect(s, f, err);
			return;
		}
		f->stage = f->via_proxy ? FWD_HANDSHAKE : FWD_SEND;
	}
	if (f->stage == FWD_HANDSHAKE) {
		if (fwd_handshake(s, f) <= 0)
			return;
		f->stage = FWD_SEND;
	}
	if (f->stage == FWD_SEND) {
		if (fwd_send(s, f) <= 0)
			return;
		f->stage = FWD_RECV;
	}
	(void)fwd_recv(s, f);
}

/* The nameserver a stub client asked (its connect to port 53, recorded
 * by its local port), else resolv.conf's first.  Returns its length
 * (into *ns), or 0 when none is known. */
static socklen_t ns_for(const struct sup *s, int tcp, uint16_t port,
			struct sockaddr_storage *ns)
{
	unsigned i;

	for (i = 0; i < MAX_NSMAP; i++)
		if (s->nsmap[i].len && s->nsmap[i].port == port &&
		    s->nsmap[i].tcp == tcp) {
			memcpy(ns, &s->nsmap[i].ns, s->nsmap[i].len);
			return s->nsmap[i].len;
		}
	memcpy(ns, &s->resolv, sizeof(*ns));
	return s->resolvlen;
}

/* Remembers which nameserver the client on local port port asked. */
static void ns_record(struct sup *s, int tcp, uint16_t port,
		      const struct sockaddr_in6 *dst)
{
	struct nsmap *m = NULL;
	const struct in_addr *a4 = v4_of(dst);
	unsigned i;

	for (i = 0; i < MAX_NSMAP && !m; i++)
		if (s->nsmap[i].port == port && s->nsmap[i].tcp == tcp)
			m = &s->nsmap[i];
	if (!m)
		m = &s->nsmap[s->nsmap_next++ % MAX_NSMAP];
	m->port = port;
	m->tcp = tcp;
	memset(&m->ns, 0, sizeof(m->ns));
	if (a4) { /* v4-mapped: asked as IPv4, from a socket of ours */
		struct sockaddr_in *sin = (struct sockaddr_in *)&m->ns;

		sin->sin_family = AF_INET;
		sin->sin_port = dst->sin6_port;
		sin->sin_addr = *a4;
		m->len = sizeof(*sin);
	} else {
		memcpy(&m->ns, dst, sizeof(*dst));
		m->len = sizeof(*dst);
	}
}

/* resolv.conf's first nameserver, port 53 (none: s->resolvlen 0). */
static void resolv_load(struct sup *s)
{
	char line[256], addr[INET6_ADDRSTRLEN + 1];
	struct sockaddr_in *a4 = (struct sockaddr_in *)&s->resolv;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&s->resolv;
	FILE *f = fopen("/etc/resolv.conf", "re");

	s->resolvlen = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " nameserver %46s", addr) != 1)
			continue;
		memset(&s->resolv, 0, sizeof(s->resolv));
		if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons(53);
			s->resolvlen = sizeof(*a4);
		} else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons(53);
			s->resolvlen = sizeof(*a6);
		}
		if (s->resolvlen)
			break;
	}
	if (f)
		fclose(f);
}

static struct fwd *fwd_slot(struct sup *s)
{
	unsigned i;

	for (i = 0; s->fwd && i < MAX_FWD; i++)
		if (!s->fwd[i].used)
			return &s->fwd[i];
	return NULL;
}

/* Opens f's socket and connects it to to (the proxy, or the
 * nameserver); f runs from there or has failed. */
static void fwd_connect(struct sup *s, struct fwd *f, const struct sockaddr *to,
			socklen_t tolen)
{
	struct epoll_event e = {.events = EPOLLOUT, .data.ptr = f};

	f->fd = socket(to->sa_family,
		       (f->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC |
			   SOCK_NONBLOCK,
		       0);
	if (f->fd < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, f->fd, &e) < 0) {
		fwd_fail(s, f, "no socket for it");
		return;
	}
	if (connect(f->fd, to, tolen) == 0) {
		fwd_run(s, f);
	} else if (errno == EINPROGRESS) {
		f->stage = FWD_CONNECT;
	} else {
		fwd_fail_connect(s, f, errno);
	}
}

/* "A name", "AAAA name", "type 12 name": a query, for the log. */
static void query_what(const struct dq *d, char *buf, size_t len)
{
	if (d->qtype == DNS_TYPE_A || d->qtype == DNS_TYPE_AAAA)
		snprintf(buf, len, "%s %s",
			 d->qtype == DNS_TYPE_A ? "A" : "AAAA", d->name);
	else
		snprintf(buf, len, "type %u %s", (unsigned)d->qtype, d->name);
}

/*
 * Sends query q (qlen bytes, question d) on: via_proxy, through the proxy
 * to dns_server; else to the nameserver the client asked.  The answer
 * (or SERVFAIL) goes to the client: t, or the datagram's sender from.
 * -1 when t should go (a SERVFAIL could not be written).
 */
static int fwd_start(struct sup *s, const uint8_t *q, size_t qlen,
		     const struct dq *d, struct tconn *t,
		     const struct sockaddr_storage *from, socklen_t fl,
		     int via_proxy)
{
	const struct cfg_proxy *px = &s->c->proxy;
	struct fwd *f = fwd_slot(s);
	struct sockaddr_storage ns;
	socklen_t nslen;
	struct s5_addr a;

	if (!f) {
		uint8_t r[2 + 1500];
		char what[DNS_MAX_NAME + 16];

		query_what(d, what, sizeof(what));
		slog(s, 0,
		     "stub resolver: %s failed: %d queries in flight already "
		     "(SERVFAIL)",
		     what, MAX_FWD);
		return stub_reply(s, t, from, fl, r, reply_head(q, d, 2, r));
	}
	memset(f, 0, offsetof(struct fwd, h));
	f->used = 1;
	f->fd = -1;
	f->t = t;
	if (from)
		memcpy(&f->from, from, fl);
	f->fromlen = fl;
	f->id = (uint16_t)(q[0] << 8 | q[1]);
	f->via_proxy = via_proxy;
	f->udp = !via_proxy && !t;
	f->deadline = now_ms() + s->c->timeout_ms;
	query_what(d, f->what, sizeof(f->what));
	memcpy(f->q + 2, q, qlen);
	f->q[0] = (uint8_t)(qlen >> 8), f->q[1] = (uint8_t)qlen;
	f->qlen = qlen;
	if (!via_proxy) {
		nslen = ns_for(s, t != NULL,
			       t ? t->port : port_of((const void *)from), &ns);
		if (!nslen) {
			fwd_fail(s, f, "no nameserver known");
			return 0;
		}
		slog(s, 3,
		     "stub resolver: %s: to the nameserver (sent direct by the "
		     "rules)",
		     f->what);
		fwd_connect(s, f, (struct sockaddr *)&ns, nslen);
		return 0;
	}
	if (!s->c->dns_server_len ||
	    s5_addr_from_sockaddr(&a,
				  (const struct sockaddr *)&s->c->dns_server,
				  s->c->dns_server_len) < 0) {
		fwd_fail(s, f, "no dns_server configured");
		return 0;
	}
	hs_init(&f->h, S5_CMD_CONNECT, &a, px->user_len ? px->user : NULL,
		px->user_len, px->pass, px->pass_len);
	slog(s, 3, "stub resolver: %s: over TCP via %s to dns_server", f->what,
	     s->proxyname);
	fwd_connect(s, f, (const struct sockaddr *)&s->proxy, s->proxylen);
	return 0;
}

/* Sends dc's query (dc->qtype for dc->name) to resolv.conf's nameserver;
 * dc has failed when it cannot. */
static void dconn_query(struct sup *s, struct dconn *dc)
{
	struct fwd *f = fwd_slot(s);
	ssize_t n;

	if (!f) {
		dconn_fail(s, dc, EHOSTUNREACH, "too many queries in flight");
		return;
	}
	memset(f, 0, offsetof(struct fwd, h));
	if (getrandom(&f->id, sizeof(f->id), GRND_NONBLOCK) < 0)
		f->id = (uint16_t)now_ms();
	n = dns_encode_query(f->q + 2, sizeof(f->q) - 2, f->id, dc->name,
			     dc->qtype);
	if (n < 0) {
		dconn_fail(s, dc, EHOSTUNREACH, "no name DNS can carry");
		return;
	}
	f->used = 1;
	f->fd = -1;
	f->dc = dc;
	f->udp = 1;
	f->deadline = now_ms() + s->c->timeout_ms;
	f->qlen = (size_t)n;
	f->q[0] = (uint8_t)(n >> 8), f->q[1] = (uint8_t)n;
	snprintf(f->what, sizeof(f->what), "%s %s",
		 dc->qtype == DNS_TYPE_A ? "A" : "AAAA", dc->name);
	fwd_connect(s, f, (const struct sockaddr *)&s->resolv, s->resolvlen);
}

/* Takes the program's connect (notification n, on copy) to name, which
 * the rules send direct at dst's port: resolved and connected from the
 * loop. */
static void dconn_start(struct sup *s, const struct seccomp_notif *n, int copy,
			int dom, const char *name,
			const struct sockaddr_in6 *dst, const char *what)
{
	struct dconn *dc = NULL;
	unsigned i;

	for (i = 0; i < MAX_DCONN && !dc; i++)
		if (!s->dconn[i].used)
			dc = &s->dconn[i];
	if (!dc || !s->resolvlen) {
		close(copy);
		slog(s, 0,
		     "connect to %s failed: a name sent direct by the rules "
		     "at this port: %s (EHOSTUNREACH)",
		     what,
		     dc ? "no nameserver in /etc/resolv.conf to resolve it"
			: "too many such connects at once");
		answer(s, n->id, 0, -EHOSTUNREACH);
		return;
	}
	memset(dc, 0, sizeof(*dc));
	dc->used = 1;
	dc->id = n->id;
	dc->fd = copy;
	dc->flags = fcntl(copy, F_GETFL);
	dc->dom = dom;
	dc->port = port_of(dst);
	dc->qtype = dom == AF_INET6 ? DNS_TYPE_AAAA : DNS_TYPE_A;
	snprintf(dc->name, sizeof(dc->name), "%s", name);
	snprintf(dc->what, sizeof(dc->what), "%s", what);
	dconn_query(s, dc);
}

/*
 * One query from a stub client (t, or the datagram's sender from):
 * localhost and /etc/hosts names answered here; names the rules send
 * direct at every port forwarded to the nameserver the client asked;
 * in tunnel mode the rest through the proxy; in remote mode,
 * placeholders.  Returns -1 when t should go.
 */
static int stub_query(struct sup *s, const uint8_t *q, size_t qlen,
		      struct tconn *t, const struct sockaddr_storage *from,
		      socklen_t fl)
{
	uint8_t r[1600];
	struct dq d;
	size_t rl;
	int host;

	if (qlen < 12 || (q[2] & 0x80))
		return t ? -1 : 0; /* a response, or too short: not ours */
	dq_parse(q, qlen, &d);
	/* A name's rules and /etc/hosts apply to its own spelling only. */
	host = d.rcode == 0 && !d.odd && dns_name_is_host(d.name);
	if (host && (rl = stub_hosts(s, q, &d, r, sizeof(r))) > 0)
		return stub_reply(s, t, from, fl, r, rl);
	if (host && cfg_name_always_direct(s->c, d.name))
		return fwd_start(s, q, qlen, &d, t, from, fl, 0);
	if (d.rcode == 0 && cfg_dns_mode(s->c) == CFG_DNS_TUNNEL)
		return fwd_start(s, q, qlen, &d, t, from, fl, 1);
	rl = stub_placeholder(s, q, &d, r, sizeof(r));
	return stub_reply(s, t, from, fl, r, rl);
}

static void stub_serve(struct sup *s)
{
	uint8_t q[1500];
	struct sockaddr_storage from;
	socklen_t fl;
	ssize_t n;

	for (;;) {
		fl = sizeof(from);
		n = recvfrom(s->stub, q, sizeof(q), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		(void)stub_query(s, q, (size_t)n, NULL, &from, fl);
	}
}

static int stub_open(struct sup *s)
{
	socklen_t l = sizeof(s->stubaddr);

	s->stub = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->stub < 0)
		return -errno;
	memset(&s->stubaddr, 0, sizeof(s->stubaddr));
	s->stubaddr.sin_family = AF_INET;
	s->stubaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->stub, (struct sockaddr *)&s->stubaddr, l) < 0 ||
	    getsockname(s->stub, (struct sockaddr *)&s->stubaddr, &l) < 0)
		return -errno;
	s->tstub =
	    socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->tstub < 0 ||
	    bind(s->tstub, (struct sockaddr *)&s->stubaddr, l) < 0 ||
	    listen(s->tstub, 64) < 0)
		return -errno;
	return 0;
}

static void tconn_close(struct sup *s, struct tconn *t)
{
	struct tconn **pp;
	unsigned i;

	for (pp = &s->tconns; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	/* Its queries in flight have nobody to answer. */
	for (i = 0; s->fwd && i < MAX_FWD; i++)
		if (s->fwd[i].used && s->fwd[i].t == t)
			fwd_free(s, &s->fwd[i]);
	(void)epoll_ctl(s->ep, EPOLL_CTL_DEL, t->fd, NULL);
	close(t->fd);
	free(t);
	s->ntconn--;
}

/* Reads what a TCP client sent; handles each complete query. */
static void tconn_serve(struct sup *s, struct tconn *t)
{
	ssize_t n;
	size_t qlen;

	for (;;) {
		n = recv(t->fd, t->buf + t->have, sizeof(t->buf) - t->have,
			 MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			tconn_close(s, t);
			return;
		}
		if (n < 0)
			return;
		t->have += (size_t)n;
		while (t->have >= 2) {
			qlen = (size_t)t->buf[0] << 8 | t->buf[1];
			if (qlen + 2 > sizeof(t->buf)) {
				tconn_close(s, t);
				return;
			}
			if (t->have < qlen + 2)
				break;
			if (stub_query(s, t->buf + 2, qlen, t, NULL, 0) < 0) {
				tconn_close(s, t);
				return;
			}
			memmove(t->buf, t->buf + qlen + 2, t->have - qlen - 2);
			t->have -= qlen + 2;
		}
	}
}

static struct tconn *tconn_oldest(struct sup *s)
{
	struct tconn *t = s->tconns;

	while (t && t->next)
		t = t->next;
	return t;
}

static void tstub_accept(struct sup *s)
{
	struct epoll_event e = {.events = EPOLLIN};
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	struct tconn *t;
	int fd;

	for (;;) {
		/* At most MAX_TCONN at once, and room made when out of fds:
		 * the oldest goes (resolvers open one per query and close it;
		 * one kept open idle must not shut the stub, nor spin the loop
		 * on an accept that keeps failing). */
		if (s->ntconn >= MAX_TCONN)
			tconn_close(s, tconn_oldest(s));
		fd = accept4(s->tstub, (struct sockaddr *)&from, &fl,
			     SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE) &&
		    s->tconns) {
			tconn_close(s, tconn_oldest(s));
			continue;
		}
		if (fd < 0)
			break;
		if (!(t = calloc(1, sizeof(*t)))) {
			close(fd);
			continue;
		}
		s->ntconn++;
		t->fd = fd;
		t->port = ntohs(from.sin_port);
		t->next = s->tconns;
		s->tconns = t;
		e.data.ptr = t;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e) < 0)
			tconn_close(s, t);
		fl = sizeof(from);
	}
}

/* --- the calls --------------------------------------------------------- */

/* Reads a destination sockaddr of len bytes at addr.  Returns its length
 * (clamped to sockaddr_in6), or -errno. */
static int read_dst(const struct seccomp_notif *n, uint64_t addr, uint64_t len,
		    struct sockaddr_in6 *dst)
{
	int32_t il = (int32_t)(uint32_t)len; /* the kernel's int addrlen */
	size_t l = (size_t)il > sizeof(*dst) ? sizeof(*dst) : (size_t)il;

	memset(dst, 0, sizeof(*dst));
	if (il < (int32_t)sizeof(sa_family_t) ||
	    il > (int32_t)sizeof(struct sockaddr_storage))
		return -EINVAL;
	if (read_mem((pid_t)n->pid, addr, dst, l) < 0)
		return -EFAULT;
	if ((dst->sin6_family == AF_INET && l < sizeof(struct sockaddr_in)) ||
	    (dst->sin6_family == AF_INET6 &&
	     l < offsetof(struct sockaddr_in6, sin6_scope_id)))
		return -EINVAL;
	if (dst->sin6_family == AF_INET) /* what getpeername gives back */
		return (int)sizeof(struct sockaddr_in);
	return (int)l;
}

/* What the rules say for dst (name: a placeholder's name, or NULL). */
/* dst is the proxy's address, at any port (its UDP relay). */
static int is_proxy_host(const struct sup *s, const struct sockaddr_in6 *dst)
{
	struct sockaddr_in6 d = *dst;

	d.sin6_port =
	    s->proxy.ss_family == AF_INET
		? ((const struct sockaddr_in *)(const void *)&s->proxy)
		      ->sin_port
		: ((const struct sockaddr_in6 *)(const void *)&s->proxy)
		      ->sin6_port;
	return is_proxy(s, &d);
}

static enum cfg_action judge(struct sup *s, const struct sockaddr_in6 *dst,
			     socklen_t len, const char *name)
{
	if (name)
		return cfg_match_name(s->c, name, port_of(dst));
	if (is_proxy(s, dst))
		return CFG_DIRECT;
	return cfg_match(s->c, (const struct sockaddr *)dst, len);
}

/*
 * The log level of a UDP refusal to dest: an error the first time, debug
 * for a destination refused lately.  Go and glibc probe every address of
 * a name with a UDP connect when they sort them (RFC 6724; Go at port 9),
 * two refusals per lookup: a line each would drown the program's output.
 */
static int udp_refusal_level(struct sup *s, const char *dest)
{
	uint32_t h = 2166136261u;
	unsigned i;

	for (; *dest; dest++)
		h = (h ^ (uint8_t)*dest) * 16777619u;
	h |= 1; /* 0 marks a free slot */
	for (i = 0; i < 32; i++)
		if (s->udp_said[i] == h)
			return 3;
	s->udp_said[s->udp_said_next++ % 32] = h;
	return 0;
}

/* connect(2) for us to do on copy (socket ino) ourselves; answers the
 * program.  Connected (or dissolved), the socket's getpeername record is
 * rec (the address the program asked for, where we connected elsewhere:
 * the stub), or none. */
static void connect_here(struct sup *s, const struct seccomp_notif *n, int copy,
			 ino_t ino, const struct sockaddr *sa, socklen_t len,
			 const struct sockaddr_in6 *rec, socklen_t reclen)
{
	int flags = fcntl(copy, F_GETFL), rc, err;
	unsigned i;

	if ((sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
	    refuse_routed(s, n, copy, sa->sa_family)) {
		close(copy);
		answer(s, n->id, 0, -EACCES);
		return;
	}

	/* A blocking socket's connect (a distant or silent host: up to the
	 * kernel's SYN timeout) is waited for in the loop, not in connect:
	 * the other threads' calls go on meanwhile.  A full table falls back
	 * to waiting here. */
	for (i = 0; !rec && flags >= 0 && !(flags & O_NONBLOCK) &&
		    sa->sa_family != AF_UNSPEC && i < MAX_DCONN;
	     i++) {
		struct dconn *dc = &s->dconn[i];

		if (dc->used)
			continue;
		memset(dc, 0, sizeof(*dc));
		dc->used = 1;
		dc->id = n->id;
		dc->fd = copy;
		dc->flags = flags;
		dc->dom = sa->sa_family;
		dc->ino = ino;
		fmt_sockaddr(sa, dc->what, sizeof(dc->what));
		dconn_connect(s, dc, sa, len);
		return;
	}
	rc = connect(copy, sa, len);
	err = errno;

	close(copy);
	if (rc == 0 && rec)
		peer_record(s, ino, rec, reclen);
	else if (rc == 0)
		peer_forget(s, ino);
	answer(s, n->id, 0, rc == 0 ? 0 : -err);
}

/* connect_here to the stub resolver, remembering (by the socket's local
 * port, which the stub sees) which nameserver the program asked. */
static void connect_stub(struct sup *s, const struct seccomp_notif *n, int copy,
			 ino_t ino, int type, const struct sockaddr *sa,
			 socklen_t len, const struct sockaddr_in6 *asked,
			 socklen_t askedlen)
{
	struct sockaddr_in6 me;
	socklen_t ml = sizeof(me);
	int rc = connect(copy, sa, len), err = errno;

	if (rc == 0 || err == EINPROGRESS)
		peer_record(s, ino, asked, askedlen);
	/* A non-blocking TCP connect is under way: its port is bound. */
	if ((rc == 0 || err == EINPROGRESS) &&
	    getsockname(copy, (struct sockaddr *)&me, &ml) == 0)
		ns_record(s, type == SOCK_STREAM, port_of(&me), asked);
	close(copy);
	answer(s, n->id, 0, rc == 0 ? 0 : -err);
}

/*
 * Calls on what is no IP socket go to the kernel (CONTINUE): no fd
 * (EBADF) or no socket (ENOTSOCK) fail there as without us, and a socket
 * of another family cannot be made an IP connection by any address.  A
 * copy we could not take for another reason (a program that made itself
 * undumpable: EPERM) fails closed.  Returns 1 when the call is answered
 * (copy closed), 0 to go on with copy.
 */
static int pass_untouched(struct sup *s, const struct seccomp_notif *n,
			  int copy, int dom)
{
	if (copy >= 0 && (dom == AF_INET || dom == AF_INET6))
		return 0;
	if (copy == -EBADF || copy == -ENOTSOCK) {
		/* The kernel's answer, given here: letting the call go on
		 * would have the kernel look the fd up again, after another
		 * thread may have put a socket there. */
		answer(s, n->id, 0, copy);
		return 1;
	}
	if (copy >= 0) {
		close(copy);
	} else {
		slog(s, 0,
		     "cannot look at fd %d of process %d (%s): its network "
		     "call fails (EACCES)",
		     (int)n->data.args[0], (int)n->pid, strerrorname_np(-copy));
		answer(s, n->id, 0, -EACCES);
		return 1;
	}
	answer_continue(s, n->id);
	return 1;
}

static void on_connect(struct sup *s, const struct seccomp_notif *n)
{
	int tfd = (int)n->data.args[0], dom, type, copy, len;
	struct sockaddr_in6 dst;
	char name[NAMES_MAX_NAME + 1], what[320];
	enum cfg_action act;
	ino_t ino;
	int ph;

	copy = copy_fd(s, n, tfd, &dom, &type, &ino);
	if (pass_untouched(s, n, copy, dom))
		return;
	len = read_dst(n, n->data.args[1], n->data.args[2], &dst);
	if (!id_valid(s, n->id)) {
		close(copy);
		return;
	}
	if (len < 0) {
		close(copy);
		answer(s, n->id, 0, len);
		return;
	}
	if (dst.sin6_family == AF_UNSPEC) { /* dissolve: harmless */
		connect_here(s, n, copy, ino, (struct sockaddr *)&dst,
			     (socklen_t)len, NULL, 0);
		return;
	}
	if (dst.sin6_family == AF_INET && dom == AF_INET6 &&
	    type == SOCK_DGRAM) {
		/* A dual-stack UDP socket connects an IPv4 address as its
		 * v4-mapped form (the kernel refuses it on a v6-only one). */
		struct sockaddr_in v4;

		memcpy(&v4, &dst, sizeof(v4));
		map_v4(&v4, &dst);
		len = (int)sizeof(dst);
	} else if (dst.sin6_family != dom) {
		close(copy);
		/* As the kernel: an IPv6 TCP socket checks the length first */
		answer(s, n->id, 0,
		       dom == AF_INET6 && type == SOCK_STREAM &&
			       (int32_t)n->data.args[2] <
				   (int32_t)offsetof(struct sockaddr_in6,
						     sin6_scope_id)
			   ? -EINVAL
			   : -EAFNOSUPPORT);
		return;
	}
	ph = placeholder(s, &dst, name, sizeof(name));
	fmt_sockaddr((struct sockaddr *)&dst, what, sizeof(what));
	if (ph < 0) {
		close(copy);
		slog(s, 0,
		     "connect to %s failed: a placeholder address that "
		     "stands for no name any more (EHOSTUNREACH)",
		     what);
		answer(s, n->id, 0, -EHOSTUNREACH);
		return;
	}
	if (ph)
		snprintf(what, sizeof(what), "%s:%u", name, port_of(&dst));
	act = judge(s, &dst, (socklen_t)len, ph ? name : NULL);
	if ((type == SOCK_DGRAM || type == SOCK_STREAM) && !ph &&
	    port_of(&dst) == 53 && cfg_dns_mode(s->c) != CFG_DNS_LOCAL &&
	    act != CFG_DIRECT) {
		/* A resolver's connect to its nameserver: to our stub. */
		struct sockaddr_in6 st6;
		socklen_t sl = sizeof(s->stubaddr);
		const struct sockaddr *sa = (struct sockaddr *)&s->stubaddr;

		if (dom == AF_INET6) {
			map_v4(&s->stubaddr, &st6);
			sa = (struct sockaddr *)&st6;
			sl = sizeof(st6);
		}
		slog(s, 3,
		     "DNS to %s: answered by the supervisor's stub "
		     "resolver",
		     what);
		connect_stub(s, n, copy, ino, type, sa, sl, &dst,
			     (socklen_t)len);
		return;
	}
	if ((type == SOCK_DGRAM || type == SOCK_STREAM) && !ph &&
	    port_of(&dst) == 53 && cfg_dns_mode(s->c) == CFG_DNS_LOCAL &&
	    act == CFG_PROXY) {
		/* dns local: names are resolved as without socksify, by the
		 * program's own resolver talking to its nameserver. */
		slog(s, 3, "DNS to %s: direct (dns local)", what);
		connect_here(s, n, copy, ino, (struct sockaddr *)&dst,
			     (socklen_t)len, NULL, 0);
		return;
	}
	if (act == CFG_REFUSE) {
		close(copy);
		slog(s, 0, "connect to %s refused by the rules (EACCES)", what);
		answer(s, n->id, 0, -EACCES);
		return;
	}
	if (act == CFG_DIRECT) {
		if (ph) { /* a name the rules send direct: resolve it here */
			dconn_start(s, n, copy, dom, name, &dst, what);
			return;
		}
		slog(s, 3, "direct: %s", what);
		connect_here(s, n, copy, ino, (struct sockaddr *)&dst,
			     (socklen_t)len, NULL, 0);
		return;
	}
	if (type != SOCK_STREAM) {
		close(copy);
		slog(s, udp_refusal_level(s, what),
		     "%s to %s failed: the supervisor carries TCP only "
		     "(EACCES)",
		     type == SOCK_DGRAM ? "UDP" : "a datagram socket", what);
		answer(s, n->id, 0, -EACCES);
		return;
	}
	pend_start(s, n, copy, dom, ino, &dst, (socklen_t)len,
		   ph ? name : NULL);
}

/* A datagram's destination (sendto, sendmsg, sendmmsg): 0 to let it go
 * (direct, or none), or -errno to refuse. */
/* A datagram's destination dst (*len bytes, as read_dst gave it, or its
 * -errno): 0 to send it (direct, or the kernel's to refuse), or -errno.
 * An IPv4 socket's AF_UNSPEC is AF_INET to the kernel, so to us. */
static int judge_datagram(struct sup *s, int dom, struct sockaddr_in6 *dst,
			  int *len)
{
	char name[NAMES_MAX_NAME + 1], what[320];
	int ph;

	if (*len < 0)
		return *len;
	if (dst->sin6_family == AF_UNSPEC && dom == AF_INET &&
	    *len >= (int)sizeof(struct sockaddr_in)) {
		dst->sin6_family = AF_INET;
		*len = (int)sizeof(struct sockaddr_in);
	}
	if (dst->sin6_family != AF_INET && dst->sin6_family != AF_INET6)
		return 0; /* the kernel says what is wrong with it */
	if (is_proxy_host(s, dst))
		return 0; /* the proxy's UDP relay (the library's datagrams) */
	ph = placeholder(s, dst, name, sizeof(name));
	fmt_sockaddr((const struct sockaddr *)dst, what, sizeof(what));
	if (ph == 0 && judge(s, dst, (socklen_t)*len, NULL) == CFG_DIRECT)
		return 0;
	slog(s, udp_refusal_level(s, ph > 0 ? name : what),
	     "datagram to %s refused: the supervisor carries TCP only "
	     "(EACCES)",
	     ph > 0 ? name : what);
	return -EACCES;
}

#define SEND_MAX  65536 /* an IP datagram's most (UDP GSO's too) */
#define CMSG_MAX  4096	/* control data we pass on */
#define IOV_MAX_K 1024	/* the kernel's UIO_MAXIOV */

/*
 * One message sent by us on copy, from our own copies of the program's
 * address (judged here), data and control data: the kernel never reads
 * the program's memory again, so another thread cannot change the
 * destination after the check.  name/namelen, iov (iovcnt program
 * iovecs, already in our memory), control/controllen: the program's.
 * Returns the bytes sent or -errno.
 */
static long send_one(struct sup *s, const struct seccomp_notif *n, int copy,
		     int dom, uint64_t name, uint64_t namelen,
		     const struct iovec *iov, size_t iovcnt, uint64_t control,
		     uint64_t controllen, int flags)
{
	struct sockaddr_in6 dst;
	struct msghdr m;
	struct iovec one;
	size_t total = 0, i;
	int len = 0, rc;
	ssize_t sent;

	memset(&m, 0, sizeof(m));
	if (name) {
		len = read_dst(n, name, namelen, &dst);
		if ((rc = judge_datagram(s, dom, &dst, &len)) < 0)
			return rc;
		m.msg_name = &dst;
		m.msg_namelen = (socklen_t)len;
	}
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SEND_MAX - total)
			return -EMSGSIZE;
		if (iov[i].iov_len &&
		    read_mem((pid_t)n->pid,
			     (uint64_t)(uintptr_t)iov[i].iov_base,
			     s->sbuf + total, iov[i].iov_len) < 0)
			return -EFAULT;
		total += iov[i].iov_len;
	}
	one.iov_base = s->sbuf;
	one.iov_len = total;
	m.msg_iov = &one;
	m.msg_iovlen = 1;
	if (control && controllen) {
		if (controllen > CMSG_MAX)
			return -ENOBUFS;
		if (read_mem((pid_t)n->pid, control, s->cbuf, controllen) < 0)
			return -EFAULT;
		m.msg_control = s->cbuf;
		m.msg_controllen = controllen;
		if (cmsg_routes(&m))
			return -EACCES;
	}
	if (source_routed(copy, dom))
		return -EACCES;
	sent = sendmsg(copy, &m, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
	if (sent < 0 && errno == EAGAIN && !(flags & MSG_DONTWAIT) &&
	    !(fcntl(copy, F_GETFL) & O_NONBLOCK)) {
		/* A blocking socket whose buffer is full: the kernel would
		 * wait.  We wait a little (the loop with us), then say so. */
		struct pollfd p = {.fd = copy, .events = POLLOUT};

		if (poll(&p, 1, 100) == 1)
			sent = sendmsg(copy, &m,
				       flags | MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent < 0 && errno == EAGAIN)
			errno = ENOBUFS;
	}
	return sent < 0 ? -errno : (long)sent;
}

/* A msghdr of the program's (at addr), read with its iovecs into iov
 * (IOV_MAX_K of them): 0 or -errno. */
static int read_msghdr(const struct seccomp_notif *n, uint64_t addr,
		       struct msghdr *m, struct iovec *iov)
{
	if (read_mem((pid_t)n->pid, addr, m, sizeof(*m)) < 0)
		return -EFAULT;
	/* As the kernel's copy_msghdr_from_user: no length, no address; a
	 * longer one is cut to a sockaddr_storage. */
	if (!m->msg_name || !m->msg_namelen) {
		m->msg_name = NULL;
		m->msg_namelen = 0;
	} else if ((int)m->msg_namelen < 0) {
		return -EINVAL;
	} else if (m->msg_namelen > sizeof(struct sockaddr_storage)) {
		m->msg_namelen = sizeof(struct sockaddr_storage);
	}
	if (m->msg_iovlen > IOV_MAX_K)
		return -EMSGSIZE;
	if (m->msg_iovlen &&
	    read_mem((pid_t)n->pid, (uint64_t)(uintptr_t)m->msg_iov, iov,
		     m->msg_iovlen * sizeof(*iov)) < 0)
		return -EFAULT;
	return 0;
}

static void on_send(struct sup *s, const struct seccomp_notif *n)
{
	int dom, type, copy;
	struct iovec *iov = s->iov;
	struct msghdr m;
	long rc;
	ino_t ino;

	copy = copy_fd(s, n, (int)n->data.args[0], &dom, &type, &ino);
	if (pass_untouched(s, n, copy, dom))
		return;
	if (type == SOCK_STREAM) {
		struct sockaddr_storage ss;
		socklen_t l = sizeof(ss);
		uint64_t flags =
		    n->data.args[n->data.nr == __NR_sendmsg ? 2 : 3];

		/* A stream ignores the address but for TCP Fast Open (the flags
		 * are a register: no other thread can change them), and a
		 * connected one always.  Fast Open to an unconnected one is
		 * not carried: EOPNOTSUPP, as from a kernel without it, and
		 * the program connects first. */
		rc = !(flags & MSG_FASTOPEN) ||
		     getpeername(copy, (struct sockaddr *)&ss, &l) == 0;
		close(copy);
		if (rc)
			answer_continue(s, n->id);
		else
			answer(s, n->id, 0, -EOPNOTSUPP);
		return;
	}
	if (n->data.nr == __NR_sendto) {
		struct iovec one = {(void *)(uintptr_t)n->data.args[1],
				    (size_t)n->data.args[2]};

		rc = send_one(s, n, copy, dom, n->data.args[4], n->data.args[5],
			      &one, 1, 0, 0, (int)n->data.args[3]);
	} else if (n->data.nr == __NR_sendmsg) {
		rc = read_msghdr(n, n->data.args[1], &m, iov);
		if (rc == 0)
			rc = send_one(s, n, copy, dom,
				      (uint64_t)(uintptr_t)m.msg_name,
				      m.msg_namelen, iov, m.msg_iovlen,
				      (uint64_t)(uintptr_t)m.msg_control,
				      m.msg_controllen, (int)n->data.args[2]);
	} else { /* sendmmsg: one by one, each msg_len written back */
		unsigned vlen = (unsigned)n->data.args[2], i;
		uint64_t at = n->data.args[1];
		long one = 0;

		if (vlen > IOV_MAX_K) /* the kernel's own cap */
			vlen = IOV_MAX_K;
		for (i = 0, rc = 0; i < vlen; i++) {
			uint64_t mm = at + (uint64_t)i * sizeof(struct mmsghdr);
			unsigned int sent;

			one = read_msghdr(n, mm, &m, iov);
			if (one == 0)
				one = send_one(
				    s, n, copy, dom,
				    (uint64_t)(uintptr_t)m.msg_name,
				    m.msg_namelen, iov, m.msg_iovlen,
				    (uint64_t)(uintptr_t)m.msg_control,
				    m.msg_controllen, (int)n->data.args[3]);
			if (one < 0)
				break;
			sent = (unsigned int)one;
			if (write_mem((pid_t)n->pid,
				      mm + offsetof(struct mmsghdr, msg_len),
				      &sent, sizeof(sent)) < 0) {
				one = -EFAULT;
				break;
			}
		}
		/* As the kernel: the count sent, or the first one's error. */
		rc = i > 0 ? (long)i : one;
	}
	close(copy);
	if (!id_valid(s, n->id))
		return;
	if (rc < 0)
		answer(s, n->id, 0, (int)rc);
	else
		answer(s, n->id, rc, 0);
}

static void on_getpeername(struct sup *s, const struct seccomp_notif *n)
{
	int tfd = (int)n->data.args[0], dom, type, copy, live;
	struct sockaddr_storage real;
	socklen_t rl = sizeof(real);
	const struct peer *p;
	uint32_t have;
	ino_t ino;

	copy = copy_fd(s, n, tfd, &dom, &type, &ino);
	if (copy < 0) {
		answer_continue(s, n->id);
		return;
	}
	/* Still connected (to the proxy or the stub)?  Else the kernel's
	 * own answer (ENOTCONN) is the right one. */
	live = getpeername(copy, (struct sockaddr *)&real, &rl) == 0;
	close(copy);
	p = live ? peer_find(s, ino) : NULL;
	if (!p) {
		answer_continue(s, n->id);
		return;
	}
	if (read_mem((pid_t)n->pid, n->data.args[2], &have, sizeof(have)) < 0) {
		answer(s, n->id, 0, -EFAULT);
		return;
	}
	if ((int32_t)have < 0) {
		answer(s, n->id, 0, -EINVAL);
		return;
	}
	/* The task is still the one that asked: only then write to it. */
	if (!id_valid(s, n->id))
		return;
	if (write_mem((pid_t)n->pid, n->data.args[1], &p->dst,
		      have < p->dstlen ? have : p->dstlen) < 0 ||
	    write_mem((pid_t)n->pid, n->data.args[2], &p->dstlen,
		      sizeof(uint32_t)) < 0) {
		answer(s, n->id, 0, -EFAULT);
		return;
	}
	answer(s, n->id, 0, 0);
}

static void on_notification(struct sup *s)
{
	struct seccomp_notif n;

	memset(&n, 0, sizeof(n));
	if (ioctl(s->lfd, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0)
		return;
	if (n.data.arch != AUDIT_ARCH_X86_64) {
		answer(s, n.id, 0, -EACCES);
		return;
	}
	switch (n.data.nr) {
	case __NR_connect:
		on_connect(s, &n);
		break;
	case __NR_sendto:
	case __NR_sendmsg:
	case __NR_sendmmsg:
		on_send(s, &n);
		break;
	case __NR_getpeername:
		on_getpeername(s, &n);
		break;
	default:
		answer(s, n.id, 0, -ENOSYS);
	}
}

/* --- the loop ------------------------------------------------------------- */

enum { TAG_LISTENER = 1, TAG_SIGNAL, TAG_CHILD, TAG_STUB, TAG_TSTUB };
static char g_tags[6]; /* their addresses tag the epoll events */

static int ep_add(int ep, int fd, void *tag)
{
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = tag};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

/* The child's exit status as a shell reports it; a signal is re-raised
 * on us so that our parent sees the same. */
static int child_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st)) {
		sigset_t all;

		signal(WTERMSIG(st), SIG_DFL);
		sigemptyset(&all);
		sigaddset(&all, WTERMSIG(st));
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		if (WTERMSIG(st) != SIGKILL && WTERMSIG(st) != SIGSTOP)
			raise(WTERMSIG(st));
		return 128 + WTERMSIG(st);
	}
	return 1;
}

/* Is tag one of the stub's TCP connections (else a handshake)? */
static int is_tconn(const struct sup *s, const void *tag)
{
	const struct tconn *t;

	for (t = s->tconns; t; t = t->next)
		if ((const void *)t == tag)
			return 1;
	return 0;
}

/* Is tag one of the direct connects to names? */
static int is_dconn(const struct sup *s, const void *tag)
{
	const char *p = tag, *base = (const char *)s->dconn;

	return p >= base && p < base + sizeof(s->dconn);
}

/* Is tag one of the forwarded queries? */
static int is_fwd(const struct sup *s, const void *tag)
{
	const char *p = tag, *base = (const char *)s->fwd;

	return s->fwd && p >= base && p < base + MAX_FWD * sizeof(*s->fwd);
}

/* Ends the forwarded queries past their deadline; returns the earliest
 * deadline left (or next, when earlier; -1: none). */
static long long fwd_expire(struct sup *s, long long now, long long next)
{
	unsigned k;

	for (k = 0; s->fwd && k < MAX_FWD; k++) {
		struct fwd *f = &s->fwd[k];

		if (!f->used)
			continue;
		if (f->deadline <= now) {
			fwd_fail(s, f, "no answer in time");
			continue;
		}
		if (next < 0 || f->deadline < next)
			next = f->deadline;
	}
	return next;
}

/* The forwarded signals: those a user sends the launcher meaning the
 * program.  SIGINT, SIGQUIT, SIGHUP and SIGWINCH from the terminal (the
 * kernel's) reach the program directly (same process group) and are not
 * sent twice. */
static const int g_fwd[] = {SIGHUP,  SIGINT,  SIGQUIT,	SIGTERM,
			    SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM};

/* No task uses the filter any more (the listener hangs up). */
static int listener_idle(const struct sup *s)
{
	struct pollfd p = {.fd = s->lfd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/*
 * The program has exited but processes it started live on under the
 * filter (a daemon, a job put in the background): their calls still
 * need answers, or they get ENOSYS.  A copy of the supervisor serves
 * them until the last is gone, in a session of its own (the terminal's
 * signals are not for it), its stdin and stdout (and stderr unless a
 * terminal) on /dev/null so that a pipeline reading the launcher's
 * output ends with the program; the launcher itself returns the
 * program's status at once.  Returns 1 in that copy, 0 in the launcher.
 */
static int serve_the_rest(struct sup *s)
{
	sigset_t fwd;
	pid_t pid = fork();
	int null, i;

	if (pid != 0)
		return 0;
	(void)setsid();
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		(void)dup2(null, 0);
		(void)dup2(null, 1);
		if (!isatty(2))
			(void)dup2(null, 2);
		close(null);
	}
	(void)epoll_ctl(s->ep, EPOLL_CTL_DEL, s->sigfd, NULL);
	(void)epoll_ctl(s->ep, EPOLL_CTL_DEL, s->pidfd, NULL);
	sigemptyset(&fwd);
	for (i = 0; i < (int)(sizeof(g_fwd) / sizeof(g_fwd[0])); i++)
		sigaddset(&fwd, g_fwd[i]);
	sigprocmask(SIG_UNBLOCK, &fwd, NULL);
	s->detached = 1;
	slog(s, 2,
	     "the program has exited; the supervisor stays for the "
	     "processes it left running (pid %d)",
	     (int)getpid());
	return 1;
}

static int serve(struct sup *s)
{
	struct epoll_event ev[64];
	int i, n, st;

	for (;;) {
		long long now = now_ms(), next = -1;
		unsigned k;

		for (k = 0; k < s->pend_hi; k++) {
			struct pend *p = &s->pend[k];

			if (!p->used)
				continue;
			if (p->deadline <= now) {
				pend_finish(s, p, ETIMEDOUT,
					    "no answer from the proxy in time");
				continue;
			}
			if (next < 0 || p->deadline < next)
				next = p->deadline;
		}
		next = fwd_expire(s, now, next);
		n = epoll_wait(s->ep, ev, 64,
			       next < 0 ? -1 : (int)(next - now));
		if (n < 0 && errno != EINTR)
			return 1;
		for (i = 0; i < n; i++) {
			void *tag = ev[i].data.ptr;

			if (tag == &g_tags[TAG_LISTENER]) {
				if (ev[i].events & EPOLLHUP) {
					/* No task uses the filter any more. */
					if (s->detached)
						return 0;
					(void)epoll_ctl(s->ep, EPOLL_CTL_DEL,
							s->lfd, NULL);
					continue;
				}
				on_notification(s);
			} else if (tag == &g_tags[TAG_SIGNAL]) {
				struct signalfd_siginfo si;

				while (read(s->sigfd, &si, sizeof(si)) ==
				       (ssize_t)sizeof(si))
					if (si.ssi_code != SI_KERNEL ||
					    (si.ssi_signo != SIGINT &&
					     si.ssi_signo != SIGQUIT &&
					     si.ssi_signo != SIGHUP &&
					     si.ssi_signo != SIGWINCH))
						kill(s->child,
						     (int)si.ssi_signo);
			} else if (tag == &g_tags[TAG_CHILD]) {
				if (waitpid(s->child, &st, WNOHANG) != s->child)
					continue;
				if (listener_idle(s) || !serve_the_rest(s))
					return child_status(st);
			} else if (tag == &g_tags[TAG_STUB]) {
				stub_serve(s);
			} else if (tag == &g_tags[TAG_TSTUB]) {
				tstub_accept(s);
			} else if (is_dconn(s, tag)) {
				dconn_run(s, tag);
			} else if (is_fwd(s, tag)) {
				fwd_run(s, tag);
			} else if (is_tconn(s, tag)) {
				tconn_serve(s, tag);
			} else {
				pend_run(s, tag);
			}
		}
	}
}

int supervise(const struct cfg *c, const char *path, char **argv, char *reason,
	      size_t rlen)
{
	struct sup *s = calloc(1, sizeof(*s));
	const char *why;
	char go = 'g';
	sigset_t fwd, old;
	int sp[2], lfd;
	size_t i;

	if (!s) {
		fprintf(stderr, "socksify: out of memory\n");
		return EX_CANNOT;
	}
	s->c = c;
	s->level = (int)c->log_level;
	s->stub = s->tstub = -1;
	if (resolve_proxy(c, &s->proxy, &s->proxylen, s->proxyname,
			  sizeof(s->proxyname), &why) < 0) {
		fprintf(stderr, "socksify: cannot resolve the proxy %s: %s\n",
			c->proxy.host, why);
		return EX_CANNOT;
	}
	if (cfg_dns_mode(c) != CFG_DNS_LOCAL) {
		memcpy(s->ncfg.v4_base, c->dns_v4, 4);
		s->ncfg.v4_prefix = c->dns_v4_prefix;
		memcpy(s->ncfg.v6_base, c->dns_v6, 16);
		s->ncfg.v6_prefix = c->dns_v6_prefix;
		s->ncfg.capacity = c->dns_names;
		resolv_load(s);
		s->fwd = calloc(MAX_FWD, sizeof(*s->fwd));
		if (!s->fwd || names_create(&s->names, &s->ncfg) < 0 ||
		    stub_open(s) < 0) {
			fprintf(stderr,
				"socksify: cannot set up the "
				"supervisor's resolver: %s\n",
				strerror(errno));
			return EX_CANNOT;
		}
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		fprintf(stderr, "socksify: socketpair: %s\n", strerror(errno));
		return EX_CANNOT;
	}
	sigemptyset(&fwd);
	for (i = 0; i < sizeof(g_fwd) / sizeof(g_fwd[0]); i++)
		sigaddset(&fwd, g_fwd[i]);
	sigprocmask(SIG_BLOCK, &fwd, &old);
	s->child = fork();
	if (s->child < 0) {
		fprintf(stderr, "socksify: fork: %s\n", strerror(errno));
		return EX_CANNOT;
	}
	if (s->child == 0) {
		char e;

		sigprocmask(SIG_SETMASK, &old, NULL);
		close(sp[0]);
		if (s->stub >= 0)
			close(s->stub);
		if (s->tstub >= 0)
			close(s->tstub);
		lfd = install_filter();
		{
			char msg[1 + sizeof(int)];
			int v = lfd < 0 ? -lfd : lfd;

			msg[0] = lfd < 0 ? 'E' : 'L';
			memcpy(msg + 1, &v, sizeof(int));
			if (write(sp[1], msg, sizeof(msg)) !=
				(ssize_t)sizeof(msg) ||
			    lfd < 0)
				_exit(EX_CANNOT);
		}
		/* The supervisor has its copy once it says go. */
		if (read(sp[1], &e, 1) != 1)
			_exit(EX_CANNOT);
		close(lfd);
		close(sp[1]);
		/* The library's exec hook: static programs below are covered
		 * by this filter already. */
		setenv("SOCKSIFY_SUPERVISED", "1", 1);
		execv(path, argv);
		e = (char)errno;
		fprintf(stderr, "socksify: cannot run %s: %s\n", path,
			strerror(errno));
		_exit(e == ENOENT ? EX_NOTFOUND : EX_CANNOT);
	}
	close(sp[1]);
	{
		/* A copy of the program's socket per handshake in flight: room
		 * for as many as MAX_PENDING (the program keeps its limits). */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	s->lfd = take_listener(sp[0], s->child);
	if (s->lfd < 0) {
		int st;

		/* Nothing has run: the caller decides (--force). */
		waitpid(s->child, &st, 0);
		snprintf(reason, rlen,
			 "cannot install the supervisor's seccomp filter for "
			 "%s: %s%s",
			 path, strerror(-s->lfd),
			 s->lfd == -EBUSY
			     ? " (this process already runs under a seccomp "
			       "supervisor: they do not nest)"
			     : "");
		close(sp[0]);
		if (s->stub >= 0)
			close(s->stub);
		if (s->tstub >= 0)
			close(s->tstub);
		if (s->names)
			names_destroy(s->names);
		free(s);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return SUPERVISE_NO_FILTER;
	}
	/* The program's thread waits while we answer: wake us on its CPU
	 * (Linux 6.6; older kernels say EINVAL and wake us as usual). */
	(void)ioctl(s->lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		    (unsigned long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->sigfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
	s->pidfd = (int)syscall(SYS_pidfd_open, s->child, 0);
	if (s->ep < 0 || s->sigfd < 0 || s->pidfd < 0 ||
	    ep_add(s->ep, s->lfd, &g_tags[TAG_LISTENER]) < 0 ||
	    ep_add(s->ep, s->sigfd, &g_tags[TAG_SIGNAL]) < 0 ||
	    ep_add(s->ep, s->pidfd, &g_tags[TAG_CHILD]) < 0 ||
	    (s->stub >= 0 && ep_add(s->ep, s->stub, &g_tags[TAG_STUB]) < 0) ||
	    (s->tstub >= 0 &&
	     ep_add(s->ep, s->tstub, &g_tags[TAG_TSTUB]) < 0)) {
		fprintf(stderr, "socksify: cannot start the supervisor: %s\n",
			strerror(errno));
		kill(s->child, SIGKILL);
		return EX_CANNOT;
	}
	if (write(sp[0], &go, 1) != 1) {
		fprintf(stderr, "socksify: the program did not start\n");
		return EX_CANNOT;
	}
	close(sp[0]);
	return serve(s);
}
