#include "closewait/sockopt.h"

#include <errno.h>
#include <stdio.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

int cw_sock_keepalive(int fd, int idle_s, int intvl_s, int cnt)
{
	int err = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);

	/* The system default (7200 s idle, 75 s x 9 probes) notices a dead peer
	 * after 2 h 11 min: useless for leak prevention, hence per-socket values. */
	if (!err && idle_s >= 0)
		err = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle_s);
	if (!err && intvl_s >= 0)
		err = set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, intvl_s);
	if (!err && cnt >= 0)
		err = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, cnt);
	return err;
}

int cw_sock_keepalive_off(int fd)
{
	return set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
}

int cw_sock_user_timeout(int fd, unsigned ms)
{
	/* Keepalive never probes while data is unacknowledged, so without this a
	 * peer that vanishes mid-transfer is found only after tcp_retries2. */
	return set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ms);
}

int cw_sock_linger_abort(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0 ? -errno : 0;
}

int cw_sock_reuseaddr(int fd)
{
	return set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
}

int cw_sock_reuseport(int fd)
{
	return set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
}

int cw_sock_nodelay(int fd)
{
	return set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

int cw_sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

static int read_sysctl(const char *path, int *out)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%d", out) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

int cw_sys_keepalive(int *idle_s, int *intvl_s, int *cnt)
{
	int err = read_sysctl("/proc/sys/net/ipv4/tcp_keepalive_time", idle_s);

	if (!err)
		err = read_sysctl("/proc/sys/net/ipv4/tcp_keepalive_intvl", intvl_s);
	if (!err)
		err = read_sysctl("/proc/sys/net/ipv4/tcp_keepalive_probes", cnt);
	return err;
}
