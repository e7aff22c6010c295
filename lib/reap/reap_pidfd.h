/* pidfds (private): the system calls, which glibc 2.36 does not wrap, and
 * the pidfds of the owners acted through, opened once per process. */
#ifndef CW_REAP_PIDFD_H
#define CW_REAP_PIDFD_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

/* A pidfd for pid (close-on-exec), or -errno (-ESRCH: no such process). */
int reap_pidfd_open(pid_t pid);
/* A duplicate (close-on-exec) of fd number fd of the pidfd's process, or
 * -errno: -EPERM without ptrace rights (PTRACE_MODE_ATTACH_REALCREDS),
 * -EBADF no such fd, -ESRCH the process has exited. */
int reap_pidfd_getfd(int pidfd, int fd);

/* One pidfd per owner process, opened on first use and kept until all are
 * closed together: fin mode acts on items in pid order, cw_reap_now's
 * walkers in any order and from several threads (the cache locks). */
struct reap_pidfds {
	pthread_mutex_t lock;
	struct reap_pidfd {
		pid_t pid;
		int fd;               /* -errno when pidfd_open failed */
	} *v;
	size_t n, cap;
};
void reap_pidfds_init(struct reap_pidfds *pf);
/* pid's pidfd, which stays the cache's (the caller does not close it), or
 * why there is none: pidfd_open's -errno, kept so that a process that is
 * gone is asked once (but -EMFILE, asked again next time), or -ENOMEM. */
int reap_pidfds_get(struct reap_pidfds *pf, pid_t pid);
/* Closes every pidfd and frees the cache. */
void reap_pidfds_close(struct reap_pidfds *pf);

#endif
