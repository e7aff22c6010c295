#include "census_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The map from a cgroup id to its path (census_cgroup.h). A socket's
 * INET_DIAG_CGROUP_ID is the kernfs id of its cgroup's directory: what
 * name_to_handle_at() returns as that directory's 8-byte handle (iproute2's
 * ss resolves it so), and on 64-bit kernels also its inode number (kernfs
 * makes one of the other; a net test checks both). The
 * handle is asked first: the inode number is only 32 bits of it on a 32-bit
 * kernel, and it serves where a seccomp profile refuses the handle. The
 * walk is breadth first, the entries themselves being the queue, so that
 * one directory is open at a time whatever the depth; entries are sorted
 * by id once it ends. */

struct cgroup_ent {
	uint64_t id;
	size_t off;                   /* of its path in pool */
};

struct cgroup_ids {
	struct cgroup_ent *ents;
	size_t n, cap;
	char *pool;                   /* the paths, each ending in a NUL */
	size_t used, pcap;
	bool by_ino;                  /* handles are refused: inode numbers stand in */
};

/* The id of directory name under dirfd ("" with AT_EMPTY_PATH: dirfd's).
 * 0, or -ENOENT when it went away, or -errno. */
static int dir_id(struct cgroup_ids *t, int dirfd, const char *name, int flags, uint64_t *id)
{
	struct {
		struct file_handle h;
		unsigned char b[sizeof(uint64_t)];
	} fh;
	struct stat st;
	int mnt_id;

	if (!t->by_ino) {
		fh.h.handle_bytes = sizeof(uint64_t);
		if (name_to_handle_at(dirfd, name, &fh.h, &mnt_id, flags) == 0 &&
		    fh.h.handle_bytes == sizeof(uint64_t)) {
			memcpy(id, fh.h.f_handle, sizeof(*id));
			return 0;
		}
		if (errno != ENOSYS && errno != EOPNOTSUPP && errno != EPERM)
			return -errno;
		t->by_ino = true;
	}
	if (fstatat(dirfd, name, &st, flags | AT_SYMLINK_NOFOLLOW))
		return -errno;
	*id = (uint64_t)st.st_ino;
	return 0;
}

int cgroup_id_of_path(const char *path, uint64_t *id)
{
	struct cgroup_ids t = { 0 };

	return dir_id(&t, AT_FDCWD, path, 0, id);
}

/* Adds the cgroup id at parent's path + "/" + name (parent NULL: the root). */
static int ids_add(struct cgroup_ids *t, uint64_t id, const char *parent, const char *name)
{
	size_t plen = parent && strcmp(parent, "/") ? strlen(parent) : 0;
	size_t need = plen + 1 + strlen(name) + 1;
	struct cgroup_ent *e = vec_room(t->ents, t->n, &t->cap, sizeof(*t->ents), 64);

	if (!e)
		return -ENOMEM;
	t->ents = e;
	if (t->used + need > t->pcap) {
		size_t ncap = t->pcap ? t->pcap : 4096;
		char *np;

		while (ncap < t->used + need)
			ncap *= 2;
		np = realloc(t->pool, ncap);
		if (!np)
			return -ENOMEM;
		t->pool = np;
		t->pcap = ncap;
	}
	t->ents[t->n].id = id;
	t->ents[t->n].off = t->used;
	if (plen)
		memcpy(t->pool + t->used, parent, plen);
	t->pool[t->used + plen] = '/';
	strcpy(t->pool + t->used + plen + 1, name);
	t->used += need;
	t->n++;
	return 0;
}

/* Why a directory could not be opened or looked at, when that only means
 * its subtree is left out: removed meanwhile, or a path the kernel itself
 * would not write (longer than PATH_MAX). */
static bool skippable(int err)
{
	return err == -ENOENT || err == -ENOTDIR || err == -ENAMETOOLONG || err == -ELOOP ||
	       err == -EACCES;
}

/* 1 when de (in dirfd) is a directory, 0 when not, or -errno. */
static int is_dir(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	return S_ISDIR(st.st_mode) ? 1 : 0;
}

/* Adds the subdirectories of entry i. */
static int ids_walk_one(struct cgroup_ids *t, int mfd, size_t i)
{
	char rel[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	/* A copy: adding entries moves the pool. */
	if (strlen(t->pool + t->ents[i].off) >= sizeof(rel))
		return 0;
	strcpy(rel, t->pool + t->ents[i].off);
	fd = openat(mfd, i ? rel + 1 : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return skippable(-errno) ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	for (errno = 0; (de = readdir(d)); errno = 0) {
		uint64_t id;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ret = is_dir(dirfd(d), de);
		if (ret > 0)
			ret = dir_id(t, dirfd(d), de->d_name, 0, &id);
		else if (ret == 0)
			continue;
		if (ret == 0)
			ret = ids_add(t, id, rel, de->d_name);
		else if (skippable(ret))
			ret = 0;
		if (ret)
			break;
	}
	if (!ret && errno && errno != ENOENT)
		ret = -errno;
	closedir(d);
	return ret;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct cgroup_ent *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int cgroup_ids_load(const char *mnt, struct cgroup_ids **out)
{
	struct cgroup_ids *t = calloc(1, sizeof(*t));
	uint64_t id;
	int mfd, ret;

	if (!t)
		return -ENOMEM;
	mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = dir_id(t, mfd, "", AT_EMPTY_PATH, &id);
	if (!ret)
		ret = ids_add(t, id, NULL, "");
	for (size_t i = 0; !ret && i < t->n; i++)
		ret = ids_walk_one(t, mfd, i);
	close(mfd);
	if (ret)
		goto fail;
	qsort(t->ents, t->n, sizeof(*t->ents), ent_cmp);
	*out = t;
	return 0;
fail:
	cgroup_ids_free(t);
	return ret;
}

const char *cgroup_ids_path(const struct cgroup_ids *t, uint64_t id)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->ents[mid].id == id)
			return t->pool + t->ents[mid].off;
		if (t->ents[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t cgroup_ids_count(const struct cgroup_ids *t)
{
	return t->n;
}

void cgroup_ids_free(struct cgroup_ids *t)
{
	if (!t)
		return;
	free(t->ents);
	free(t->pool);
	free(t);
}
