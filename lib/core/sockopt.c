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

int cw_sockopt_keepalive(int fd, int idle_s, int intvl_s, int cnt)
{
	int err = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);

	/* The system's values are usually Linux's (CW_KEEPALIVE_DEFAULT_*), which
	 * notice a dead peer after 2 h 11 min: useless for leak prevention,
	 * hence per-socket values. */
	if (!err && idle_s >= 0)
		err = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle_s);
	if (!err && intvl_s >= 0)
		err = set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, intvl_s);
	if (!err && cnt >= 0)
		err = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, cnt);
	return err;
}

int cw_sockopt_keepalive_off(int fd)
{
	return set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
}

int cw_sockopt_user_timeout(int fd, unsigned ms)
{
	/* Keepalive never probes while data is unacknowledged, so without this a
	 * peer that vanishes mid-transfer is found only after tcp_retries2. */
	return set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ms);
}

int cw_sockopt_linger_abort(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0 ? -errno : 0;
}

int cw_sockopt_reuseaddr(int fd)
{
	return set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
}

int cw_sockopt_reuseport(int fd)
{
	return set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
}

int cw_sockopt_nodelay(int fd)
{
	return set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

int cw_sockopt_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

#define KEEPALIVE_SYSCTL(name) "/proc/sys/net/ipv4/tcp_keepalive_" name

/* The sysctl's value, or def if it cannot be read (then -errno). */
static int read_sysctl(const char *path, int def, int *out)
{
	FILE *f = fopen(path, "re");
	int ok;

	*out = def;
	if (!f)
		return -errno;
	ok = fscanf(f, "%d", out) == 1;
	fclose(f);
	if (!ok)
		*out = def;
	return ok ? 0 : -EINVAL;
}

int cw_sockopt_sys_keepalive(int *idle_s, int *intvl_s, int *cnt)
{
	int e1 = read_sysctl(KEEPALIVE_SYSCTL("time"), CW_KEEPALIVE_DEFAULT_IDLE_S, idle_s);
	int e2 = read_sysctl(KEEPALIVE_SYSCTL("intvl"), CW_KEEPALIVE_DEFAULT_INTVL_S, intvl_s);
	int e3 = read_sysctl(KEEPALIVE_SYSCTL("probes"), CW_KEEPALIVE_DEFAULT_CNT, cnt);

	return e1 ? e1 : e2 ? e2 : e3;
}
