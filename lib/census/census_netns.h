/* Network namespaces (private): finding them, and doing something inside
 * one. A sock_diag socket dumps the namespace its thread was in when it was
 * created, and /proc/sys/net shows the opener's namespace, so reading a
 * namespace means a thread that entered it (setns moves only the calling
 * thread): netns_call runs a function in a fresh thread inside a namespace.
 *
 * Finding them is separate from opening them: a collection records where
 * each namespace was seen (dev, ino, and a path to open it by), and
 * netns_open opens that path later and checks it is still the same
 * namespace, so one that disappeared in between is told apart from one
 * that could not be read. */
#ifndef CW_CENSUS_NETNS_H
#define CW_CENSUS_NETNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"

/* One namespace found. how/pid/path say how it was first found; the others
 * ways it was also found are not kept. */
struct netns_entry {
	uint64_t dev, ino;            /* the nsfs file's st_dev and st_ino: its identity */
	enum cw_netns_how how;
	pid_t pid;                    /* PROCESS, THREAD, FD: that process; MOUNT: the
				       * process whose mount namespace holds the mount; 0 */
	char *open_path;              /* a path that opens it now, e.g. /proc/PID/ns/net,
				       * /proc/PID/task/TID/ns/net, /proc/PID/fd/N,
				       * /proc/PID/root/MOUNTPOINT, /run/netns/NAME (malloc) */
	char *path;                   /* MOUNT, GIVEN: the path a user knows it by (the
				       * mount point, or what --net said); NULL otherwise */
	char *name;                   /* its /run/netns name (in our mount namespace), or NULL */
};

struct netns_set {
	struct netns_entry *v;        /* sorted by ino, no two with the same (dev, ino) */
	size_t n, cap;
	unsigned unreadable;          /* ns links or mount tables refused (EACCES, EPERM): skipped */
};

/* Each fills an empty set (zeroed) and returns 0, -ENOMEM, or as stated;
 * on failure the set is empty. proc is "/proc" (tests may pass a tree laid
 * out like it for the parsing parts); netns_dir "/run/netns". */

/* The namespace this thread is in (how CURRENT). */
int netns_collect_current(struct netns_set *s);
/* One namespace named as --net takes it: NAME (a file in netns_dir), a
 * PATH (anything with a '/'), or "pid:PID" (how GIVEN). -ENOENT when there
 * is no such name, path or process; -EINVAL when the file is not a network
 * namespace; -EACCES/-EPERM when it may not be opened. */
int netns_collect_one(const char *proc, const char *netns_dir, const char *spec,
		      struct netns_set *s);
/* The namespaces pid's threads are in (the leader's first: how PROCESS,
 * then THREAD). -ESRCH when there is no such process. */
int netns_collect_pid(const char *proc, pid_t pid, struct netns_set *s);
/* Every namespace reachable from: a process or thread (/proc/PID/ns/net,
 * /proc/PID/task/TID/ns/net), a bind mount in any mount namespace (nsfs
 * entries of /proc/PID/mountinfo, one read per mount namespace, opened
 * through /proc/PID/root/MOUNTPOINT), an open fd (a "net:[N]" link in
 * /proc/PID/fd). Deduplicated by (dev, ino); links that refuse even root
 * are counted in unreadable, never an error. */
int netns_collect_all(const char *proc, const char *netns_dir, struct netns_set *s);
void netns_set_free(struct netns_set *s);

/* Opens e (O_RDONLY | O_CLOEXEC) and checks it is still the namespace found
 * (same dev and ino): the fd, -ENOENT when it is gone (the path no longer
 * exists, the process exited, or it now leads to another namespace), or
 * -errno. */
int netns_open(const struct netns_entry *e);

/* Runs fn(arg) in a new thread that first entered the namespace nsfd
 * (setns CLONE_NEWNET), and waits for it: fn's return, or -errno of
 * starting the thread or of setns (-EPERM without CAP_SYS_ADMIN). */
int netns_call(int nsfd, int (*fn)(void *arg), void *arg);
/* socket(domain, type, protocol) made inside the namespace nsfd: the fd,
 * or -errno. */
int netns_socket(int nsfd, int domain, int type, int protocol);

#endif
