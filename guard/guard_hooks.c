/* The interposed calls. Each calls the real function and, around it, tells
 * the table what happened; none changes errno or the return value. The read
 * family costs a compare on the return value and nothing else unless a read
 * returned 0. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "closewait/sockopt.h"
#include "guard.h"

/* Set while the guard itself sets options: not the program's choice. */
static __thread bool guard_busy __attribute__((tls_model("initial-exec")));

#define REAL(name) (guard.real.name ? guard.real.name : (guard_resolve(), guard.real.name))

/* Keepalive and the user timeout on a new TCP socket, when enforcing: before
 * the program's own setsockopt calls, so any of them wins. */
static void enforce(int fd)
{
	int saved = errno;
	struct gslot *sl;

	guard_busy = true;
	cw_sockopt_keepalive(fd, guard.cfg.ka_idle, guard.cfg.ka_intvl, guard.cfg.ka_cnt);
	if (guard.cfg.user_timeout_ms)
		cw_sockopt_user_timeout(fd, guard.cfg.user_timeout_ms);
	guard_busy = false;
	sl = guard_slot(fd, true);
	if (sl)
		sl->ka = GUARD_KA_GUARD;
	errno = saved;
}

int socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);

	if (fd >= 0 && guard.on && guard.cfg.keepalive && (domain == AF_INET || domain == AF_INET6) &&
	    (type & 0xf) == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP))
		enforce(fd);
	return fd;
}

/* A connection accepted: tracked, and given the guard's keepalive unless it
 * inherited the listener's (which the guard set at socket() or the program
 * chose). */
static void accepted(int lfd, int fd)
{
	int saved = errno;
	struct gslot *l;

	if (!guard.on || !guard_is_tcp(fd))
		goto out;
	l = guard_slot(lfd, false);
	if (guard.cfg.keepalive && !(l && l->ka != GUARD_KA_NONE))
		enforce(fd);
	guard_track(fd);
out:
	errno = saved;
}

int accept(int lfd, struct sockaddr *addr, socklen_t *len)
{
	int fd = REAL(accept)(lfd, addr, len);

	if (fd >= 0)
		accepted(lfd, fd);
	return fd;
}

int accept4(int lfd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int fd = REAL(accept4)(lfd, addr, len, flags);

	if (fd >= 0)
		accepted(lfd, fd);
	return fd;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int r = REAL(connect)(fd, addr, len), saved = errno;

	if (guard.on && (r == 0 || errno == EINPROGRESS) && addr &&
	    (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) && guard_is_tcp(fd))
		guard_track(fd);
	errno = saved;
	return r;
}

ssize_t read(int fd, void *buf, size_t n)
{
	ssize_t r = REAL(read)(fd, buf, n);

	if (r == 0 && n)
		guard_eof(fd);
	return r;
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	ssize_t r = REAL(read_chk)(fd, buf, n, buflen);

	if (r == 0 && n)
		guard_eof(fd);
	return r;
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	ssize_t r = REAL(recv)(fd, buf, n, flags);

	/* a peek at the EOF is not the program reading it */
	if (r == 0 && n && !(flags & MSG_PEEK))
		guard_eof(fd);
	return r;
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	ssize_t r = REAL(recv_chk)(fd, buf, n, buflen, flags);

	if (r == 0 && n && !(flags & MSG_PEEK))
		guard_eof(fd);
	return r;
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al)
{
	ssize_t r = REAL(recvfrom)(fd, buf, n, flags, a, al);

	if (r == 0 && n && !(flags & MSG_PEEK))
		guard_eof(fd);
	return r;
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	ssize_t r = REAL(recvmsg)(fd, m, flags);

	if (r == 0 && m->msg_iovlen && !(flags & MSG_PEEK))
		guard_eof(fd);
	return r;
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
	ssize_t r = REAL(readv)(fd, iov, n);

	if (r == 0 && n > 0)
		guard_eof(fd);
	return r;
}

/* Forgotten before the real close: once closed, the number may be reused
 * by another thread's accept at once. */
int close(int fd)
{
	if (guard_own_fd(fd))
		guard_lost_fd(fd);
	guard_forget(fd);
	return REAL(close)(fd);
}

int close_range(unsigned first, unsigned last, int flags)
{
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		guard_lost_range(first, last);
		guard_forget_range(first, last);
	}
	return REAL(close_range)(first, last, flags);
}

int dup(int fd)
{
	int r = REAL(dup)(fd), saved = errno;

	if (r >= 0)
		guard_alias(fd, r);
	errno = saved;
	return r;
}

/* dup2 and dup3 close newfd silently: what it referred to is forgotten. */
int dup2(int fd, int newfd)
{
	int r, saved;

	if (fd != newfd) {
		if (guard_own_fd(newfd))
			guard_lost_fd(newfd);
		guard_forget(newfd);
	}
	r = REAL(dup2)(fd, newfd);
	saved = errno;
	if (r >= 0 && fd != newfd)
		guard_alias(fd, r);
	errno = saved;
	return r;
}

int dup3(int fd, int newfd, int flags)
{
	int r, saved;

	if (fd != newfd) {
		if (guard_own_fd(newfd))
			guard_lost_fd(newfd);
		guard_forget(newfd);
	}
	r = REAL(dup3)(fd, newfd, flags);
	saved = errno;
	if (r >= 0)
		guard_alias(fd, r);
	errno = saved;
	return r;
}

/* The third argument is an int or a pointer: passed on as a register-sized
 * value, as glibc itself does. */
int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	int r, saved;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	r = REAL(fcntl)(fd, cmd, arg);
	saved = errno;
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		guard_alias(fd, r);
	errno = saved;
	return r;
}

/* The same call under the name programs built with 64-bit file offsets use. */
int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

static bool keepalive_opt(int level, int opt)
{
	return (level == SOL_SOCKET && opt == SO_KEEPALIVE) ||
	       (level == IPPROTO_TCP && (opt == TCP_KEEPIDLE || opt == TCP_KEEPINTVL ||
					 opt == TCP_KEEPCNT || opt == TCP_USER_TIMEOUT));
}

/* The program's own keepalive choice wins, whole: the guard's user timeout,
 * derived from the guard's keepalive, would cut the program's longer probes
 * short, so it goes unless the program set one itself. A choice made on a
 * listener passes to the connections it accepts, which the guard then
 * leaves alone. */
int setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
	int r = REAL(setsockopt)(fd, level, opt, val, len), saved = errno;
	struct gslot *sl;

	if (r || guard_busy || !guard.on || !keepalive_opt(level, opt) || !(sl = guard_slot(fd, true)))
		goto out;
	if (sl->ka == GUARD_KA_GUARD && opt != TCP_USER_TIMEOUT && guard.cfg.user_timeout_ms) {
		guard_busy = true;
		cw_sockopt_user_timeout(fd, 0);
		guard_busy = false;
	}
	sl->ka = GUARD_KA_PROGRAM;
out:
	errno = saved;
	return r;
}
