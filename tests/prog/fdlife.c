/* fdlife - the shim's fd table stays true across the fd lifecycle, and TCP
 * Fast Open's implicit connect goes through the proxy.
 *
 *   fdlife ADDR PORT      ADDR:PORT is an echo server reachable only
 *                         through the proxy
 *
 * getpeername() on a proxied socket must name the destination, on every
 * copy made by dup, dup2, dup3 and fcntl(F_DUPFD_CLOEXEC), after the
 * original is closed, and in a child after fork(); and a record must never
 * outlive its fd: after close, close_range and closefrom, a different
 * socket that lands on the same number (placed there with a raw syscall the
 * shim cannot see) must report its own peer (ENOTCONN), not the old one.
 * Prints "ok: ..." / "FAIL: ..." per fact; exits 1 if any failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fact.h"

static struct sockaddr_storage target;
static socklen_t target_len;

/* 1 when getpeername(fd) is the target. */
static int peer_is_target(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return len == target_len && memcmp(&ss, &target, len) == 0;
}

/* 1 when getpeername(fd) fails with ENOTCONN (an unconnected socket). */
static int peer_unconnected(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getpeername(fd, (struct sockaddr *)&ss, &len) < 0 &&
	       errno == ENOTCONN;
}

/* 1 when msg echoes back intact on fd. */
static int echo_ok(int fd, const char *msg)
{
	char buf[256];
	size_t n = strlen(msg), got = 0;
	ssize_t r;

	if (send(fd, msg, n, MSG_NOSIGNAL) != (ssize_t)n)
		return 0;
	while (got < n) {
		r = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (r <= 0)
			return 0;
		got += (size_t)r;
	}
	return got == n && memcmp(buf, msg, n) == 0;
}

/* Places a copy of fd at number at, behind the shim's back. */
static int raw_dup_at(int fd, int at)
{
	return (int)syscall(SYS_dup3, fd, at, 0);
}

static int new_socket(void)
{
	return socket(target.ss_family, SOCK_STREAM, 0);
}

static int connected_socket(void)
{
	int fd = new_socket();

	if (fd < 0 || connect(fd, (struct sockaddr *)&target, target_len) < 0) {
		perror("connect");
		exit(2);
	}
	return fd;
}

static void check_copies(void)
{
	int fd = connected_socket(), plain = new_socket();
	int d, d2, d3, dc;

	fact(peer_is_target(fd),
	     "getpeername on the proxied socket names the target");
	d = dup(fd);
	fact(peer_is_target(d), "dup: the copy names the target");
	d2 = dup2(fd, 200);
	fact(d2 == 200 && peer_is_target(200), "dup2 to 200: names the target");
	d3 = dup3(fd, 201, O_CLOEXEC);
	fact(d3 == 201 && peer_is_target(201), "dup3 to 201: names the target");
	dc = fcntl(fd, F_DUPFD_CLOEXEC, 300);
	fact(dc >= 300 && peer_is_target(dc),
	     "fcntl(F_DUPFD_CLOEXEC): names the target");

	close(fd);
	fact(peer_is_target(d),
	     "after close of the original, the dup still names the target");
	fact(echo_ok(d, "through-the-dup"),
	     "after close of the original, the dup carries data");

	dup2(plain, 200);
	fact(peer_unconnected(200),
	     "dup2 of an unconnected socket over a tracked fd: ENOTCONN");

	close(201);
	raw_dup_at(plain, 201);
	fact(peer_unconnected(201),
	     "close dropped the record (a new socket at 201 is not spoofed)");

	close_range((unsigned)dc, (unsigned)dc, 0);
	raw_dup_at(plain, dc);
	fact(peer_unconnected(dc), "close_range dropped the record");

	fact(dup2(d, 400) == 400 && dup2(d, 401) == 401, "dup2 to 400 and 401");
	close_range(400, 401, CLOSE_RANGE_CLOEXEC);
	fact(peer_is_target(400),
	     "close_range(CLOSE_RANGE_CLOEXEC) keeps the record");
	closefrom(400);
	raw_dup_at(plain, 400);
	raw_dup_at(plain, 401);
	fact(peer_unconnected(400) && peer_unconnected(401),
	     "closefrom dropped the records");
	close(400);
	close(401);
	close(200);
	close(201);
	close(dc);
	close(plain);

	struct sockaddr_storage ss;
	socklen_t short_len = 4;
	fact(getpeername(d, (struct sockaddr *)&ss, &short_len) == 0 &&
		 short_len == target_len,
	     "getpeername with a short buffer: truncates and reports the full "
	     "length");
	fact(connect(d, (struct sockaddr *)&target, target_len) < 0 &&
		 errno == EISCONN,
	     "connect again on the proxied socket: EISCONN");
	fact(echo_ok(d, "still-connected"),
	     "after EISCONN the connection still carries data");

	pid_t pid = fork();
	if (pid == 0) {
		int ok = peer_is_target(d) && echo_ok(d, "from-the-child");
		int fd2 = connected_socket();

		ok = ok && peer_is_target(fd2) && echo_ok(fd2, "new-in-child");
		_exit(ok ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	fact(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	     "fork: the child sees the record, and connects through the proxy "
	     "itself");
	fact(peer_is_target(d) && echo_ok(d, "parent-after-fork"),
	     "fork: the parent keeps working");
	close(d);
}

/* A proxied socket closed behind the shim's back (a raw syscall, as glibc's
 * own fclose does): the next socket on that number must be its own. */
static void check_stale(void)
{
	int fd = connected_socket(), fresh;

	fact(peer_is_target(fd), "stale: the proxied socket names the target");
	syscall(SYS_close, fd);
	fresh = new_socket();
	fact(fresh == fd, "stale: a new socket took the same number (%d)",
	     fresh);
	fact(peer_unconnected(fresh),
	     "stale: the new unconnected socket is not spoofed (ENOTCONN)");
	fact(connect(fresh, (struct sockaddr *)&target, target_len) == 0,
	     "stale: the new socket connects through the proxy (no false "
	     "EISCONN)");
	fact(peer_is_target(fresh) && echo_ok(fresh, "fresh-socket"),
	     "stale: and carries data");
	close(fresh);
}

/* What the program handed to connect() is not what getpeername() echoes:
 * the kernel's own size and a clean address; and the kernel's EINVAL for a
 * length it rejects. */
static void check_lengths(void)
{
	struct sockaddr_storage big, ss;
	socklen_t len = sizeof(ss);
	int fd = new_socket();

	memset(&big, 0xa5, sizeof(big));
	memcpy(&big, &target, target_len);
	fact(connect(fd, (struct sockaddr *)&big, sizeof(big)) == 0,
	     "connect with len = sizeof(sockaddr_storage) goes through");
	fact(
	    getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
		len == target_len,
	    "getpeername then reports the kernel's size (%u), not the caller's",
	    (unsigned)len);
	close(fd);
	fd = new_socket();
	errno = 0;
	fact(connect(fd, (struct sockaddr *)&big, sizeof(big) + 72) < 0 &&
		 errno == EINVAL,
	     "connect with an oversized length: EINVAL, as the kernel says");
	close(fd);
}

/* errno is the program's own after a successful proxied connect. */
static void check_errno_kept(void)
{
	int fd = new_socket(), rc;

	errno = 4242;
	rc = connect(fd, (struct sockaddr *)&target, target_len);
	fact(rc == 0 && errno == 4242,
	     "a successful proxied connect leaves errno alone (%d)", errno);
	close(fd);
}

/* A vfork() child (CPython's subprocess) shares our memory but not our
 * fds: what it closes must not change the parent's records. */
static void check_vfork(void)
{
	int fd = connected_socket();
	pid_t pid;
	int st = 0;

	pid = vfork();
	if (pid == 0) {
		close_range(3, ~0U, 0);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	fact(peer_is_target(fd),
	     "after a vfork child's close_range, the parent's record stands");
	fact(echo_ok(fd, "after-vfork"), "and its connection still works");
	close(fd);
}

static void check_fastopen(void)
{
	const char *msg = "fast-open-through-the-proxy";
	char buf[64];
	ssize_t n;
	int fd = new_socket();

	n = sendto(fd, msg, strlen(msg), MSG_FASTOPEN,
		   (struct sockaddr *)&target, target_len);
	fact(n == (ssize_t)strlen(msg),
	     "sendto(MSG_FASTOPEN) returns the byte count (%zd)", n);
	fact(peer_is_target(fd),
	     "sendto(MSG_FASTOPEN): getpeername names the target");
	n = recv(fd, buf, sizeof(buf), 0);
	fact(n == (ssize_t)strlen(msg) && memcmp(buf, msg, (size_t)n) == 0,
	     "sendto(MSG_FASTOPEN): the data went through and echoed back");
	close(fd);

	struct iovec iov = {.iov_base = (void *)(uintptr_t)msg,
			    .iov_len = strlen(msg)};
	struct msghdr mh = {.msg_name = &target,
			    .msg_namelen = target_len,
			    .msg_iov = &iov,
			    .msg_iovlen = 1};
	fd = new_socket();
	n = sendmsg(fd, &mh, MSG_FASTOPEN);
	fact(n == (ssize_t)strlen(msg),
	     "sendmsg(MSG_FASTOPEN) returns the byte count (%zd)", n);
	n = recv(fd, buf, sizeof(buf), 0);
	fact(n == (ssize_t)strlen(msg) && memcmp(buf, msg, (size_t)n) == 0,
	     "sendmsg(MSG_FASTOPEN): the data went through and echoed back");
	close(fd);

	struct mmsghdr mm = {.msg_hdr = mh};
	fd = new_socket();
	fact(sendmmsg(fd, &mm, 1, MSG_FASTOPEN) == 1,
	     "sendmmsg(MSG_FASTOPEN) sends the message");
	fact(peer_is_target(fd), "sendmmsg(MSG_FASTOPEN): through the proxy");
	n = recv(fd, buf, sizeof(buf), 0);
	fact(n == (ssize_t)strlen(msg) && memcmp(buf, msg, (size_t)n) == 0,
	     "sendmmsg(MSG_FASTOPEN): the data went through and echoed back");
	close(fd);
}

int main(int argc, char **argv)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&target;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&target;

	if (argc != 3) {
		fprintf(stderr, "usage: fdlife ADDR PORT\n");
		return 2;
	}
	memset(&target, 0, sizeof(target));
	if (inet_pton(AF_INET, argv[1], &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)atoi(argv[2]));
		target_len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, argv[1], &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)atoi(argv[2]));
		target_len = sizeof(*s6);
	} else {
		fprintf(stderr, "fdlife: bad address %s\n", argv[1]);
		return 2;
	}
	check_copies();
	check_stale();
	check_lengths();
	check_errno_kept();
	check_vfork();
	check_fastopen();
	if (fact_failures == 0)
		printf("all facts hold\n");
	return fact_failures ? 1 : 0;
}
