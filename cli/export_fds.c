/* A process's fd headroom for closewait export: how many fds it has open
 * (one getdents pass over /proc/PID/fd, no readlink) and its soft
 * RLIMIT_NOFILE as /proc/PID/limits says. */
#include "export_metrics.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

/* struct linux_dirent64's fixed part: d_ino, d_off, d_reclen, d_type. */
#define DIRENT_RECLEN_AT 16

static long count_fds(pid_t pid)
{
	char path[64], buf[8192];
	long n = 0, got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long at = 0; at < got;) {
			unsigned short reclen;

			memcpy(&reclen, buf + at + DIRENT_RECLEN_AT, sizeof(reclen));
			n += buf[at + DIRENT_RECLEN_AT + 3] != '.'; /* d_name: not . or .. */
			at += reclen;
		}
	close(fd);
	return got < 0 ? -1 : n;
}

static long soft_nofile(pid_t pid)
{
	char path[64], line[256];
	long soft = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Max open files", 14)) {
			soft = strtol(line + 14, NULL, 10);
			break;
		}
	fclose(f);
	return soft > 0 ? soft : -1;
}

void export_fds_read(pid_t pid, struct export_fds *out, void *arg)
{
	(void)arg;
	out->open = count_fds(pid);
	out->max = out->open < 0 ? -1 : soft_nofile(pid);
}
