/*
 * badptr.c - bad pointers into the socket calls the shim hooks.
 *
 *   badptr HOST PORT
 *
 * Each case runs in a child of its own and prints one line:
 *
 *     NAME rc=R errno=ENAME        or      NAME killed by SIGNAME
 *
 * The kernel answers a pointer it cannot use with EFAULT (or, for some
 * calls, a count of what it did before it met it).  The test runs this
 * program once without the shim, where HOST:PORT (a TCP and a UDP echo
 * server) is reachable directly, and once under the shim, where it is
 * reachable only through the proxy, and compares the lines: they must be
 * the same.  "Bad" is both a small address (16) and a page mapped
 * PROT_NONE in the middle of the address space; and a structure that
 * starts in good memory and runs into the bad page.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOW ((void *)16)

static struct sockaddr_in target;
static char *page;   /* two pages: the first readable, the second not */
static void *nopage; /* the PROT_NONE page */

/* A structure of size n that ends 1 byte into the bad page. */
static void *straddle(size_t n)
{
	return page + 4096 - n + 1;
}

static int udp_sock(void)
{
	return socket(AF_INET, SOCK_DGRAM, 0);
}

/* A UDP socket that has talked to the target (through the relay, under the
 * shim) and has the echo of "hello" queued. */
static int udp_with_echo(void)
{
	int s = udp_sock();
	struct timeval tv = {.tv_sec = 3};
	char b[8];

	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sendto(s, "warm", 4, 0, (struct sockaddr *)&target, sizeof(target));
	recv(s, b, sizeof(b), 0);
	sendto(s, "hello", 5, 0, (struct sockaddr *)&target, sizeof(target));
	usleep(300000);
	return s;
}

static int tcp_connected(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(s, (struct sockaddr *)&target, sizeof(target)) < 0)
		return -1;
	return s;
}

/* --- the cases ------------------------------------------------------- */

static long c_connect_low(void)
{
	return connect(socket(AF_INET, SOCK_STREAM, 0), LOW,
		       sizeof(struct sockaddr_in));
}

static long c_connect_nopage(void)
{
	return connect(socket(AF_INET, SOCK_STREAM, 0), nopage,
		       sizeof(struct sockaddr_in));
}

static long c_connect_straddle(void)
{
	struct sockaddr_in *a = straddle(sizeof(*a));

	memcpy(a, &target, sizeof(*a) - 1);
	return connect(socket(AF_INET, SOCK_STREAM, 0), (void *)a, sizeof(*a));
}

static long c_connect_badfd(void)
{
	return connect(1000, nopage, sizeof(struct sockaddr_in));
}

/* A pipe: connect reads the address before it looks for a socket,
 * sendto the other way round. */
static long c_connect_notsock(void)
{
	int p[2];

	if (pipe(p) < 0)
		return -2;
	return connect(p[0], nopage, sizeof(struct sockaddr_in));
}

static long c_sendto_notsock(void)
{
	int p[2];

	if (pipe(p) < 0)
		return -2;
	return sendto(p[1], "x", 1, 0, nopage, sizeof(struct sockaddr_in));
}

static long c_connect_udp(void)
{
	return connect(udp_sock(), nopage, sizeof(struct sockaddr_in));
}

static long c_sendto_udp_sa(void)
{
	return sendto(udp_sock(), "x", 1, 0, nopage, sizeof(target));
}

static long c_sendto_udp_sa_low(void)
{
	return sendto(udp_sock(), "x", 1, 0, LOW, sizeof(target));
}

static long c_sendto_udp_buf(void)
{
	return sendto(udp_sock(), nopage, 10, 0, (void *)&target,
		      sizeof(target));
}

static long c_sendto_fastopen(void)
{
	return sendto(socket(AF_INET, SOCK_STREAM, 0), "x", 1, MSG_FASTOPEN,
		      nopage, sizeof(target));
}

static long c_sendmsg_msg(void)
{
	return sendmsg(udp_sock(), nopage, 0);
}

static long c_sendmsg_msg_straddle(void)
{
	return sendmsg(udp_sock(), straddle(sizeof(struct msghdr)), 0);
}

static long c_sendmsg_name(void)
{
	struct iovec v = {.iov_base = "x", .iov_len = 1};
	struct msghdr m = {.msg_name = nopage,
			   .msg_namelen = sizeof(target),
			   .msg_iov = &v,
			   .msg_iovlen = 1};

	return sendmsg(udp_sock(), &m, 0);
}

static long c_sendmsg_iov(void)
{
	struct msghdr m = {.msg_name = &target,
			   .msg_namelen = sizeof(target),
			   .msg_iov = nopage,
			   .msg_iovlen = 1};

	return sendmsg(udp_sock(), &m, 0);
}

static long c_sendmsg_iov_base(void)
{
	struct iovec v = {.iov_base = nopage, .iov_len = 4};
	struct msghdr m = {.msg_name = &target,
			   .msg_namelen = sizeof(target),
			   .msg_iov = &v,
			   .msg_iovlen = 1};

	return sendmsg(udp_sock(), &m, 0);
}

static long c_sendmsg_tcp_msg(void)
{
	int s = tcp_connected();

	return s < 0 ? -2 : sendmsg(s, nopage, 0);
}

static long c_sendmmsg_v(void)
{
	return sendmmsg(udp_sock(), nopage, 1, 0);
}

/* Two messages, the second one unreadable: the kernel sends the first
 * and returns 1. */
static long c_sendmmsg_second(void)
{
	struct mmsghdr *v = straddle(sizeof(*v) * 2 - 1);
	struct iovec io = {.iov_base = "x", .iov_len = 1};

	memset(v, 0, sizeof(*v));
	v[0].msg_hdr.msg_name = &target;
	v[0].msg_hdr.msg_namelen = sizeof(target);
	v[0].msg_hdr.msg_iov = &io;
	v[0].msg_hdr.msg_iovlen = 1;
	return sendmmsg(udp_sock(), v, 2, 0);
}

static long c_recvmsg_msg(void)
{
	return recvmsg(udp_with_echo(), nopage, MSG_DONTWAIT);
}

static long c_recvmsg_iov(void)
{
	struct msghdr m = {.msg_iov = nopage, .msg_iovlen = 1};

	return recvmsg(udp_with_echo(), &m, MSG_DONTWAIT);
}

static long c_recvmsg_name(void)
{
	char b[16];
	struct iovec v = {.iov_base = b, .iov_len = sizeof(b)};
	struct msghdr m = {.msg_name = nopage,
			   .msg_namelen = sizeof(target),
			   .msg_iov = &v,
			   .msg_iovlen = 1};

	return recvmsg(udp_with_echo(), &m, MSG_DONTWAIT);
}

static long c_recvfrom_buf(void)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	return recvfrom(udp_with_echo(), nopage, 100, MSG_DONTWAIT, (void *)&a,
			&l);
}

static long c_recvfrom_addrlen(void)
{
	struct sockaddr_in a;
	char b[100];

	return recvfrom(udp_with_echo(), b, sizeof(b), MSG_DONTWAIT, (void *)&a,
			nopage);
}

static long c_recvfrom_addr(void)
{
	socklen_t l = sizeof(target);
	char b[100];

	return recvfrom(udp_with_echo(), b, sizeof(b), MSG_DONTWAIT, nopage,
			&l);
}

static long c_recvmmsg_v(void)
{
	return recvmmsg(udp_with_echo(), nopage, 1, MSG_DONTWAIT, NULL);
}

static long c_readv_iov(void)
{
	return readv(udp_with_echo(), nopage, 1);
}

static long c_writev_iov(void)
{
	int s = udp_sock();

	if (connect(s, (struct sockaddr *)&target, sizeof(target)) < 0)
		return -2;
	return writev(s, nopage, 1);
}

static long c_getpeername_len(void)
{
	struct sockaddr_in a;
	int s = tcp_connected();

	return s < 0 ? -2 : getpeername(s, (void *)&a, nopage);
}

static long c_getpeername_sa(void)
{
	socklen_t l = sizeof(target);
	int s = tcp_connected();

	return s < 0 ? -2 : getpeername(s, nopage, &l);
}

static long c_getpeername_sa_low(void)
{
	socklen_t l = sizeof(target);
	int s = tcp_connected();

	return s < 0 ? -2 : getpeername(s, LOW, &l);
}

/* *len 0: nothing is written, a NULL address is fine. */
static long c_getpeername_len0(void)
{
	socklen_t l = 0;
	int s = tcp_connected();

	return s < 0 ? -2 : getpeername(s, NULL, &l) * 100 + (long)l;
}

static long c_getpeername_udp(void)
{
	struct sockaddr_in a;
	int s = udp_sock();

	if (connect(s, (struct sockaddr *)&target, sizeof(target)) < 0)
		return -2;
	return getpeername(s, (void *)&a, nopage);
}

struct tcase {
	const char *name;
	long (*fn)(void);
};

#define C(x)                                                                   \
	{                                                                      \
#x, c_##x                                                      \
	}
static const struct tcase cases[] = {
    C(connect_low),	     C(connect_nopage),	  C(connect_straddle),
    C(connect_badfd),	     C(connect_notsock),  C(sendto_notsock),
    C(connect_udp),	     C(sendto_udp_sa),	  C(sendto_udp_sa_low),
    C(sendto_udp_buf),	     C(sendto_fastopen),  C(sendmsg_msg),
    C(sendmsg_msg_straddle), C(sendmsg_name),	  C(sendmsg_iov),
    C(sendmsg_iov_base),     C(sendmsg_tcp_msg),  C(sendmmsg_v),
    C(sendmmsg_second),	     C(recvmsg_msg),	  C(recvmsg_iov),
    C(recvmsg_name),	     C(recvfrom_buf),	  C(recvfrom_addrlen),
    C(recvfrom_addr),	     C(recvmmsg_v),	  C(readv_iov),
    C(writev_iov),	     C(getpeername_len),  C(getpeername_sa),
    C(getpeername_sa_low),   C(getpeername_len0), C(getpeername_udp),
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: badptr HOST PORT\n");
		return 2;
	}
	target.sin_family = AF_INET;
	target.sin_port = htons((unsigned short)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &target.sin_addr);
	page = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		perror("badptr: mmap");
		return 2;
	}
	nopage = page + 4096;
	mprotect(nopage, 4096, PROT_NONE);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int p[2], st;
		char buf[128] = "";
		ssize_t n;
		pid_t pid;

		if (pipe(p) < 0)
			return 2;
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			long rc;

			close(p[0]);
			alarm(15);
			errno = 0;
			rc = cases[i].fn();
			dprintf(p[1], "rc=%ld errno=%s", rc,
				rc < 0 ? strerrorname_np(errno) : "0");
			_exit(0);
		}
		close(p[1]);
		waitpid(pid, &st, 0);
		n = read(p[0], buf, sizeof(buf) - 1);
		if (n > 0)
			buf[n] = '\0';
		close(p[0]);
		if (WIFSIGNALED(st))
			printf("%s killed by %s\n", cases[i].name,
			       sigabbrev_np(WTERMSIG(st)));
		else
			printf("%s %s\n", cases[i].name, buf);
	}
	return 0;
}
