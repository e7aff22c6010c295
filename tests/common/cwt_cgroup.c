#include "cwt_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cwtest.h"
#include "census/census_cgroup.h"

void cwt_cgroup_parent(char *out, size_t len)
{
	char mnt[PATH_MAX];
	int err = cgroup2_mount_find(mnt, sizeof(mnt));

	if (err)
		fail_msg("no cgroup2 mount in /proc/self/mountinfo (%s): the cgroup tests need a "
			 "writable cgroup2", strerror(-err));
	if ((size_t)snprintf(out, len, "%s/closewait-test-%d", mnt, (int)getpid()) >= len)
		fail_msg("cgroup path too long");
	if (mkdir(out, 0755) && errno != EEXIST)
		fail_msg("cannot make %s (%s): the cgroup tests need a writable cgroup2", out,
			 strerror(errno));
}

void cwt_cgroup_rm_tree(const char *path)
{
	char sub[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(path);
	uint64_t end = cwt_now_ms() + cwt_slack_ms(2000);

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    (size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < sizeof(sub))
			cwt_cgroup_rm_tree(sub);
	closedir(d);
	while (rmdir(path) && errno == EBUSY && cwt_now_ms() < end)
		cwt_sleep_ms(10);
}
