/* pidfd system calls (private): glibc 2.36 has no wrappers for them. */
#ifndef CW_REAP_PIDFD_H
#define CW_REAP_PIDFD_H

#include <sys/types.h>

/* A pidfd for pid (close-on-exec), or -errno (-ESRCH: no such process). */
int reap_pidfd_open(pid_t pid);
/* A duplicate (close-on-exec) of fd number fd of the pidfd's process, or
 * -errno: -EPERM without ptrace rights (PTRACE_MODE_ATTACH_REALCREDS),
 * -EBADF no such fd, -ESRCH the process has exited. */
int reap_pidfd_getfd(int pidfd, int fd);

#endif
