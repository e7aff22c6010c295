/* Who may reach another process's sockets, and why we may not. pidfd_getfd
 * checks ptrace_may_access(PTRACE_MODE_ATTACH_REALCREDS) and /proc/PID/fd
 * PTRACE_MODE_READ_FSCREDS: in both, __ptrace_may_access wants our uid equal
 * to the target's real, effective and saved uids (gids likewise) and the
 * target dumpable, unless we hold CAP_SYS_PTRACE; then Yama (ATTACH only)
 * and other security modules may still refuse. */
#include "closewait/reap.h"
#include "reap_pidfd.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static bool have_cap(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return false;
	return d[cap / 32].effective & (1u << (cap % 32));
}

static int yama_scope(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Real, effective and saved uid and gid of pid, from /proc/PID/status. */
static int proc_ids(pid_t pid, unsigned uid[3], unsigned gid[3])
{
	char path[64], line[256];
	FILE *f;
	int got = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (got < 2 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Uid: %u %u %u", &uid[0], &uid[1], &uid[2]) == 3)
			got++;
		else if (sscanf(line, "Gid: %u %u %u", &gid[0], &gid[1], &gid[2]) == 3)
			got++;
	}
	fclose(f);
	return got == 2 ? 0 : -EIO;
}

/* The entries of a process that is not dumpable, /proc/PID/fd among them,
 * are owned by root whatever its uid (task_dump_owner; /proc/PID itself
 * keeps the euid, so it cannot tell). */
static bool not_dumpable(pid_t pid, unsigned euid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	return !stat(path, &st) && st.st_uid != euid;
}

void cw_ptrace_explain(pid_t pid, uid_t uid, struct cw_ptrace_denial *d)
{
	unsigned tu[3] = { 0 }, tg[3] = { 0 };
	bool ids = pid > 0 && !proc_ids(pid, tu, tg);
	bool same_user, same_group = true;

	memset(d, 0, sizeof(*d));
	d->our_uid = getuid();
	d->our_gid = getgid();
	d->cap_sys_ptrace = have_cap(CAP_SYS_PTRACE);
	d->yama_scope = yama_scope();
	d->owner_uid = uid != (uid_t)-1 ? uid : ids ? (uid_t)tu[1] : (uid_t)-1;
	/* __ptrace_may_access: every uid of the owner must be ours, then every gid. */
	if (ids) {
		same_user = tu[0] == d->our_uid && tu[1] == d->our_uid && tu[2] == d->our_uid;
		for (int i = 0; i < 3 && same_group; i++)
			if (tg[i] != d->our_gid) {
				same_group = false;
				d->owner_gid = (gid_t)tg[i];
			}
	} else {
		same_user = d->owner_uid == d->our_uid;
	}
	if (!same_user && !d->cap_sys_ptrace)
		d->why = CW_PTRACE_OTHER_UID;
	else if (!same_user && !pid && !have_cap(CAP_DAC_READ_SEARCH))
		/* an unknown owner: we could not list the fds it might be in */
		d->why = CW_PTRACE_NO_LIST;
	else if (!same_group && !d->cap_sys_ptrace)
		d->why = CW_PTRACE_OTHER_GROUP;
	else if (ids && !d->cap_sys_ptrace && not_dumpable(pid, tu[1]))
		d->why = CW_PTRACE_NOT_DUMPABLE;
	else if (d->yama_scope >= 1)
		d->why = CW_PTRACE_YAMA;
	else
		d->why = CW_PTRACE_OTHER;
}

/* An fd number no process has: pidfd_getfd checks the rights first, then
 * looks the number up, so this probes the rights alone (-EPERM or -EBADF). */
#define PROBE_FD INT_MAX

int cw_reap_check_pid(pid_t pid, bool attach, struct cw_ptrace_denial *d)
{
	char path[64];
	DIR *dir;
	int pidfd, fd, err = 0;

	memset(d, 0, sizeof(*d));
	pidfd = reap_pidfd_open(pid);
	/* A thread that is not its group's leader: pidfd_open(2) documents
	 * EINVAL; Linux 6.18 answers ENOENT (checked). Both mean "not a process". */
	if (pidfd == -ENOENT)
		return -EINVAL;
	if (pidfd < 0)
		return pidfd;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		err = errno == ENOENT ? -ESRCH : errno == EACCES ? -EPERM : -errno;
	else
		closedir(dir);
	if (!err && attach) {
		fd = reap_pidfd_getfd(pidfd, PROBE_FD);
		if (fd >= 0)
			close(fd);
		else if (fd == -EPERM || fd == -ESRCH)
			err = fd;
	}
	close(pidfd);
	if (err == -EPERM)
		cw_ptrace_explain(pid, (uid_t)-1, d);
	return err;
}
