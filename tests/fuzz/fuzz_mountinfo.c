/* The mount table reader of the namespace walk
 * (lib/census/census_netns_mounts.c: nsfs_mount and the \ooo unescaping of
 * mount points), through netns_collect_all on a tree laid out like /proc
 * whose one process has the input as its mountinfo. Any user can make a
 * mount namespace and name mount points as it likes (spaces, newlines,
 * backslashes), so these lines are not only the kernel's. The process's
 * root is a directory of the tree: a mount point is looked up there, never
 * in the real file system. */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "census/census_netns.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char root[64], mountinfo[96];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(path);
}

static void rm_tree(void)
{
	nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void make(const char *rel, int dir)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (dir)
		FUZZ_CHECK(mkdir(p, 0755) == 0);
	else
		FUZZ_CHECK(close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("CW_FUZZ_TMPDIR");
	char p[128];

	(void)argc, (void)argv;
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(root, sizeof(root), "%s/cw-fuzz-mounts-XXXXXX", tmp);
	FUZZ_CHECK(mkdtemp(root));
	atexit(rm_tree);
	/* the caller's own namespace, which the walk notes first */
	snprintf(p, sizeof(p), "%s/thread-self", root);
	FUZZ_CHECK(symlink("/proc/thread-self", p) == 0);
	make("1", 1);
	make("1/ns", 1);
	make("1/ns/mnt", 0); /* a mount namespace of its own: not the caller's view */
	make("1/root", 1);
	make("1/root/run", 1);
	snprintf(mountinfo, sizeof(mountinfo), "%s/1/mountinfo", root);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netns_set set;
	int fd = open(mountinfo, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), err;

	FUZZ_CHECK(fd >= 0 && write(fd, data, size) == (ssize_t)size);
	close(fd);
	err = netns_collect_all(root, NULL, &set);
	FUZZ_CHECK(err == 0);
	/* the caller's namespace, and none from a mount point outside the tree */
	FUZZ_CHECK(set.n == 1);
	netns_set_free(&set);
	return 0;
}
