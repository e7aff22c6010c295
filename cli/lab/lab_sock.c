/* The socket moves of the scenarios: plain blocking calls on 127.0.0.1,
 * each bounded in time, so a scenario reads like the program it imitates. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../cli.h"
#include "closewait/census_types.h"
#include "lab.h"

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* ip:port, or 127.0.0.1:port when ip is NULL. */
static int address(const char *ip, uint16_t port, struct sockaddr_in *a)
{
	*a = loopback(port);
	if (ip && inet_pton(AF_INET, ip, &a->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

int lab_listen_at(const char *ip, uint16_t port)
{
	struct sockaddr_in a;
	int one = 1, err, fd;

	if ((err = address(ip, port, &a)))
		return err;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 20)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int lab_listen(uint16_t port)
{
	return lab_listen_at(NULL, port);
}

int lab_connect_at(const char *src, bool no_port, const char *dst, uint16_t port)
{
	struct sockaddr_in a, from;
	int one = 1, err, fd;

	if ((err = address(dst, port, &a)) || (src && (err = address(src, 0, &from))))
		return err;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* With IP_BIND_ADDRESS_NO_PORT, bind() takes the address only and
	 * connect() picks the port, knowing the destination. */
	if ((src && no_port &&
	     setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one))) ||
	    (src && bind(fd, (struct sockaddr *)&from, sizeof(from))) ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int lab_local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len))
		return -errno;
	return ntohs(a.sin_port);
}

int lab_addr_add(const char *label, const char *ip)
{
	struct ifreq r = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&r.ifr_addr;
	int err = 0, fd;

	a->sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &a->sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* An alias of loopback ("lo:1"): the address is local, not loopback's. */
	snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", label);
	if (ioctl(fd, SIOCSIFADDR, &r))
		err = -errno;
	close(fd);
	return err;
}

int lab_close_pair(uint16_t port, int cfd, int sfd, bool client_first)
{
	char buf[16];
	int first = client_first ? cfd : sfd, second = client_first ? sfd : cfd;
	long ms;

	close(first);
	if (lab_read(second, buf, sizeof(buf), 2000) != 0) {
		close(second);
		return -EPROTO;
	}
	close(second);
	ms = lab_wait_state(port, !client_first, CW_TCP_TIME_WAIT, 2000);
	return ms < 0 ? (int)ms : 0;
}

int lab_connect(uint16_t port, int rcvbuf)
{
	struct sockaddr_in a = loopback(port);
	int err, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* Before connect(): the window the SYN offers is sized from it. */
	if ((rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf))) ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int lab_pair(int lfd, uint16_t port, int *cfd, int *sfd)
{
	return lab_pair_at(lfd, NULL, port, cfd, sfd);
}

int lab_pair_at(int lfd, const char *dst, uint16_t port, int *cfd, int *sfd)
{
	char buf[16];
	int err;

	*sfd = -1;
	*cfd = lab_connect_at(NULL, false, dst, port);
	if (*cfd < 0)
		return *cfd;
	*sfd = lab_accept(lfd);
	err = *sfd < 0 ? *sfd : lab_write(*cfd, "hello", 5);
	if (!err && lab_read(*sfd, buf, sizeof(buf), 2000) != 5)
		err = -EPROTO;
	if (!err)
		err = lab_write(*sfd, "HELLO", 5);
	if (!err && lab_read(*cfd, buf, sizeof(buf), 2000) != 5)
		err = -EPROTO;
	if (err) {
		close(*cfd);
		if (*sfd >= 0)
			close(*sfd);
		*cfd = *sfd = -1;
	}
	return err;
}

static int wait_in(int fd, unsigned ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t end = cli_after(cli_now_ms(), ms);

	for (;;) {
		int n = poll(&p, 1, cli_ms_until(end));

		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int lab_accept(int lfd)
{
	int fd, err = wait_in(lfd, 5000);

	if (err)
		return err;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

long lab_read(int fd, char *buf, size_t len, unsigned ms)
{
	int err = wait_in(fd, ms);
	ssize_t n;

	buf[0] = 0;
	if (err)
		return err;
	n = recv(fd, buf, len - 1, MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return n;
}

long lab_drain(int fd, unsigned ms, int *err, char *last, size_t len)
{
	uint64_t end = cli_after(cli_now_ms(), ms);
	char buf[16384];
	long total = 0;
	size_t kept = 0;

	last[0] = 0;
	for (;;) {
		int e = wait_in(fd, (unsigned)cli_ms_until(end));
		ssize_t n;

		if (e) {
			*err = -e;
			return total;
		}
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			*err = n ? errno : 0;
			return total;
		}
		total += n;
		/* Keep the tail: the end of what was read is what the reader saw last. */
		if ((size_t)n >= len - 1) {
			memcpy(last, buf + n - (len - 1), len - 1);
			kept = len - 1;
		} else {
			size_t drop = kept + (size_t)n > len - 1 ? kept + (size_t)n - (len - 1) : 0;

			memmove(last, last + drop, kept - drop);
			memcpy(last + kept - drop, buf, (size_t)n);
			kept = kept - drop + (size_t)n;
		}
		last[kept] = 0;
	}
}

int lab_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int lab_abort(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	int err = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) ? -errno : 0;

	close(fd);
	return err;
}

int lab_vanish(int fd)
{
	int one = 1;
	/* In repair mode close() sends neither FIN nor reset: the socket is
	 * simply gone, as after a power cut on the peer's host. */
	int err = setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) ? -errno : 0;

	close(fd);
	return err;
}

int lab_sysctl_int(const char *name, long v)
{
	char s[32];

	snprintf(s, sizeof(s), "%ld", v);
	return lab_sysctl(name, s);
}

int lab_sysctl_read(const char *name, long *v)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EPROTO;
	buf[n] = 0;
	*v = strtol(buf, NULL, 10);
	return 0;
}

int lab_sysctl(const char *name, const char *value)
{
	char path[256];
	size_t len = strlen(value);
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

int lab_lo_up(void)
{
	struct ifreq r = { 0 };
	int err = 0, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(r.ifr_name, sizeof(r.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &r) == 0) {
		r.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &r))
			err = -errno;
	} else {
		err = -errno;
	}
	close(fd);
	return err;
}
