/* The guard's sock_diag reader: one dump per family of this network
 * namespace's TCP sockets, which the kernel filters by state (CLOSE_WAIT) and
 * by cgroup when asked, for the checks of a process that tracks too many
 * sockets to ask each one. The netlink socket is one of the guard's own
 * fds (guard_fds.c), kept open between checks, made by the checker thread
 * (the namespace it dumps is the one the process was in then). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "census/census_cgroup.h"
#include "census/census_netlink.h"
#include "guard.h"

/* The kernel sizes a dump's messages to the reader's largest read, capped at
 * 32 KiB: a bigger buffer gains nothing. The checker's alone. */
static char buf[32768];

static int diag_socket(void)
{
	int fd = __atomic_load_n(&guard.diag_fd, __ATOMIC_ACQUIRE);

	if (fd >= 0)
		return fd;
	fd = guard_high_fd(guard.real.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
	if (fd < 0)
		return -errno;
	__atomic_store_n(&guard.diag_fd, fd, __ATOMIC_RELEASE);
	return fd;
}

/* After a dump that stopped half way, what the kernel still has to say would
 * be read as the next dump's answer: a new socket starts clean. The number
 * is closed only if the program has not closed it already. */
static void diag_reset(int fd)
{
	int cur = fd;

	if (__atomic_compare_exchange_n(&guard.diag_fd, &cur, -1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_RELAXED))
		guard.real.close(fd);
}

void guard_diag_forked(void)
{
	/* the parent's socket: its answers go to whichever process reads first */
	int fd = __atomic_exchange_n(&guard.diag_fd, -1, __ATOMIC_ACQ_REL);

	if (fd >= 0)
		guard.real.close(fd);
}

static int dump_family(int fd, int family, uint32_t states, uint64_t cgroup, netlink_sock_cb cb,
		       void *arg)
{
	static uint32_t seq;
	char req[NETLINK_REQ_MAX];
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	size_t len = netlink_request(req, family, states, NULL, cgroup, ++seq);
	int err = 0;

	if (sendto(fd, req, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	while (!err) {
		ssize_t n = netlink_recv(fd, buf, sizeof(buf), MSG_TRUNC);

		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0 || (size_t)n > sizeof(buf))
			return -EBADMSG;
		err = netlink_parse(buf, (size_t)n, cb, arg);
	}
	return err == 1 ? 0 : err;
}

int guard_diag_dump(uint32_t states, uint64_t cgroup, netlink_sock_cb cb, void *arg)
{
	int fd = diag_socket(), err;

	if (fd < 0)
		return fd;
	err = dump_family(fd, AF_INET, states, cgroup, cb, arg);
	if (!err) {
		err = dump_family(fd, AF_INET6, states, cgroup, cb, arg);
		/* a kernel without IPv6 has no AF_INET6 handler: nothing there */
		if (err == -ENOENT || err == -EAFNOSUPPORT)
			err = 0;
	}
	if (err)
		diag_reset(fd);
	return err;
}

/* The process's cgroup v2 path from /proc/self/cgroup ("0::PATH"), only that
 * line: a cgroup v1 path would name a directory the id is not of. */
static int own_cgroup_path(char *path, size_t len)
{
	char text[8192], *line, *nl;
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : guard.real.read(fd, text, sizeof(text) - 1);

	if (fd >= 0)
		guard.real.close(fd);
	if (n <= 0)
		return -ENOENT;
	text[n] = 0;
	for (line = text; line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (!strncmp(line, "0::/", 4) && strlen(line + 3) < len) {
			strcpy(path, line + 3);
			return 0;
		}
	}
	return -ENOENT;
}

uint64_t guard_own_cgroup(void)
{
	char mnt[PATH_MAX], path[PATH_MAX], full[2 * PATH_MAX];
	uint64_t id;

	if (cgroup2_mount_find(mnt, sizeof(mnt)) || own_cgroup_path(path, sizeof(path)) ||
	    !strcmp(path, "/"))
		return 0;
	snprintf(full, sizeof(full), "%s%s", mnt, path);
	return cgroup_id_of_path(full, &id) ? 0 : id;
}
