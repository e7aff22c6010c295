/* The /proc parsers of the owner walk (lib/census/census_procfd.c), through
 * procfd_scan on a tree laid out like /proc: one process whose fd 3 links to
 * the input's first string (socket_inode reads "socket:[N]"), whose comm
 * file holds the second (a command name may hold spaces, parentheses and
 * newlines: read_comm) and whose cgroup file holds the rest
 * (cgroup_path_of_pid). Input: LINK NUL COMM NUL CGROUP-TEXT.
 * The walk asks for the inode the link's first digits name, so a link the
 * parser takes is a hit; a hit's link is "socket:[N]" exactly. The same
 * link text goes to net_inode (census_netns_set.c), the reader of the
 * "net:[N]" links of /proc/PID/fd and /proc/PID/ns/net. */
#include "fuzz.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "census/census_cgroup.h"
#include "census/census_netns_walk.h"
#include "census/census_procfd.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static char root[64], fdlink[96], comm[96], cgroup[96];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(path);
}

static void rm_tree(void)
{
	nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("CW_FUZZ_TMPDIR");
	char dir[96];

	(void)argc, (void)argv;
	/* Each run rewrites two files: on ext4 (auto_da_alloc) a truncated
	 * file is flushed when closed, 30 times slower than tmpfs. */
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(root, sizeof(root), "%s/cw-fuzz-procfd-XXXXXX", tmp);
	FUZZ_CHECK(mkdtemp(root));
	atexit(rm_tree);
	snprintf(dir, sizeof(dir), "%s/1", root);
	FUZZ_CHECK(mkdir(dir, 0755) == 0);
	snprintf(dir, sizeof(dir), "%s/1/fd", root);
	FUZZ_CHECK(mkdir(dir, 0755) == 0);
	snprintf(fdlink, sizeof(fdlink), "%s/1/fd/3", root);
	snprintf(comm, sizeof(comm), "%s/1/comm", root);
	snprintf(cgroup, sizeof(cgroup), "%s/1/cgroup", root);
	return 0;
}

static void put(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	FUZZ_CHECK(fd >= 0 && write(fd, s, n) == (ssize_t)n);
	close(fd);
}

/* The first run of digits in s as a uint32 (wrapping), 0 if none. */
static uint32_t first_number(const char *s)
{
	uint32_t v = 0;

	s += strcspn(s, "0123456789");
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint32_t)(*s - '0');
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *c = s + strlen(s), *cg, want[PATH_MAX];
	const char *end = s + size;
	uint32_t ino;
	struct procfd_result r;
	struct procfd_spec spec = { .root = root, .n = 1, .threads = 1, .inodes = &ino };
	int werr;

	c = c < end ? c + 1 : c;
	cg = c + strlen(c);
	cg = cg < end ? cg + 1 : cg;
	ino = first_number(s);
	if (net_inode(s, strlen(s)))
		FUZZ_CHECK(!strncmp(s, "net:[", 5) && s[strlen(s) - 1] == ']');
	unlink(fdlink);
	if (symlink(*s ? s : "?", fdlink))
		goto out; /* too long for a link: no /proc shows one */
	put(comm, c, strlen(c));
	put(cgroup, cg, (size_t)(end - cg));
	FUZZ_CHECK(procfd_scan(&spec, &r) == 0);
	FUZZ_CHECK(r.nhits <= 1 && r.unreadable == 0);
	if (r.nhits) {
		FUZZ_CHECK(!strncmp(s, "socket:[", 8) && strspn(s + 8, "0123456789") >= 1 &&
			   !strcmp(s + 8 + strspn(s + 8, "0123456789"), "]"));
		FUZZ_CHECK(r.hits[0].pid == 1 && r.hits[0].fd == 3 && r.nprocs == 1);
		const char *got = procfd_comm(&r, 1);
		size_t n = strlen(got);

		/* the first 15 bytes of the file, one trailing newline dropped */
		FUZZ_CHECK(got && n < 16 && !strncmp(got, *c ? c : "?", n));
		werr = cgroup_path_from_proc(cg, (size_t)(end - cg), want, sizeof(want));
		FUZZ_CHECK(werr ? !r.procs[0].cgroup : !strcmp(r.procs[0].cgroup, want));
	}
	procfd_result_free(&r);
out:
	free(s);
	return 0;
}
