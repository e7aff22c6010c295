/* The guard's own fds: the report file and the sock_diag socket. Each sits
 * near the top of the fd limit, close-on-exec, out of the program's way. A
 * program may close them anyway (close, close_range, dup2 over them): the
 * interposers tell, the guard forgets the number, and the owner opens a new
 * one when it next needs it. The guard never closes a number it has been
 * told it lost: by then it may be the program's. */
#include <fcntl.h>
#include <sys/resource.h>

#include "guard.h"

int guard_high_fd(int fd)
{
	struct rlimit rl;
	int high;

	if (fd < 0 || getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur <= 64)
		return fd;
	high = guard.real.fcntl(fd, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur - 32));
	if (high < 0)
		return fd;
	guard.real.close(fd);
	return high;
}

bool guard_own_fd(int fd)
{
	return fd >= 0 && (fd == __atomic_load_n(&guard.report_fd, __ATOMIC_RELAXED) ||
			   fd == __atomic_load_n(&guard.diag_fd, __ATOMIC_RELAXED));
}

void guard_lost_fd(int fd)
{
	int cur = fd;

	pthread_mutex_lock(&guard.report_lock);
	if (guard.report_fd == fd)
		guard.report_fd = -1;
	pthread_mutex_unlock(&guard.report_lock);
	__atomic_compare_exchange_n(&guard.diag_fd, &cur, -1, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_RELAXED);
}

void guard_lost_range(unsigned first, unsigned last)
{
	int fds[2] = { __atomic_load_n(&guard.report_fd, __ATOMIC_RELAXED),
		       __atomic_load_n(&guard.diag_fd, __ATOMIC_RELAXED) };

	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0 && (unsigned)fds[i] >= first && (unsigned)fds[i] <= last)
			guard_lost_fd(fds[i]);
}
