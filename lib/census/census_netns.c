/* Finding network namespaces: the one we are in, one named, a process's,
 * or every one on the host through each process, thread and fd (the mount
 * tables: census_netns_mounts.c), named by /run/netns. */
#include "census_netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "census_netns_walk.h"
#include "util.h"

/* A namespace link (ns/net of a process or thread, an fd): stat follows it
 * to the nsfs file, whose (st_dev, st_ino) is the namespace. */
static int note_link(struct collect *c, int dirfd, const char *rel, enum cw_netns_how how, pid_t pid,
		     const char *open_path)
{
	struct stat st;

	if (fstatat(dirfd, rel, &st, 0) < 0)
		return refused(c, errno);
	return note(c, st.st_dev, st.st_ino, how, pid, open_path, NULL);
}

static bool is_pid(const char *name)
{
	return name[0] >= '1' && name[0] <= '9';
}

/* The threads of pid other than its leader: one may be in another
 * namespace (unshare or setns move only the calling thread). */
static int walk_threads(struct collect *c, int pfd, pid_t pid)
{
	int tfd = openat(pfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;
	long n = 0;

	if (tfd < 0)
		return refused(c, errno);
	while (!err && (n = syscall(SYS_getdents64, tfd, c->dents, DENTS_BUF)) > 0) {
		for (long off = 0; !err && off < n;) {
			struct dirent64 *d = (struct dirent64 *)(c->dents + off);
			char rel[64], open_path[PROC_PATH];

			off += d->d_reclen;
			if (!is_pid(d->d_name) || atoi(d->d_name) == pid)
				continue;
			err = path_fmt(rel, sizeof(rel), "%s/ns/net", d->d_name);
			if (!err)
				err = path_fmt(open_path, sizeof(open_path), "%s/%d/task/%s/ns/net",
					       c->proc, (int)pid, d->d_name);
			if (!err)
				err = note_link(c, tfd, rel, CW_NETNS_THREAD, pid, open_path);
		}
	}
	if (!err && n < 0)
		err = refused(c, errno);
	close(tfd);
	return err;
}

/* The open fds of pid that are namespace files: one getdents pass and one
 * readlinkat per fd, relative to the directory (one component to resolve),
 * as the socket owner walk does; a stat only for the rare "net:[N]". */
static int walk_fds(struct collect *c, int pfd, pid_t pid)
{
	int dfd = openat(pfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;
	bool refusal = false;
	long n = 0;

	if (dfd < 0)
		return refused(c, errno);
	while (!err && (n = syscall(SYS_getdents64, dfd, c->dents, DENTS_BUF)) > 0) {
		for (long off = 0; !err && off < n;) {
			struct dirent64 *d = (struct dirent64 *)(c->dents + off);
			char l[64], open_path[PROC_PATH];
			ssize_t len;

			off += d->d_reclen;
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			len = readlinkat(dfd, d->d_name, l, sizeof(l));
			if (len < 0 && (errno == EACCES || errno == EPERM))
				refusal = true;
			if (len <= 0 || !net_inode(l, (size_t)len))
				continue;
			err = path_fmt(open_path, sizeof(open_path), "%s/%d/fd/%s", c->proc, (int)pid,
				       d->d_name);
			if (!err)
				err = note_link(c, dfd, d->d_name, CW_NETNS_FD, pid, open_path);
		}
	}
	if (!err && n < 0)
		err = refused(c, errno);
	if (refusal)
		c->s->unreadable++;
	close(dfd);
	return err;
}

/* Everything one process shows: its namespace, its threads', the mounts
 * of its mount namespace and its fds. A process whose ns link refuses us
 * refuses the rest too (the same ptrace check): counted once. One whose
 * leader has exited alone (a zombie leader) has no link of its own; its
 * threads do. */
static int walk_process(struct collect *c, pid_t pid)
{
	char path[PROC_PATH];
	struct stat st;
	int pfd, err;

	err = path_fmt(path, sizeof(path), "%s/%d", c->proc, (int)pid);
	if (err)
		return err;
	pfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return refused(c, errno);
	if (fstatat(pfd, "ns/net", &st, 0) == 0) {
		err = path_fmt(path, sizeof(path), "%s/%d/ns/net", c->proc, (int)pid);
		if (!err)
			err = note(c, st.st_dev, st.st_ino, CW_NETNS_PROCESS, pid, path, NULL);
	} else if (errno != ENOENT && errno != ESRCH) {
		err = refused(c, errno);
		goto out;
	}
	if (!err)
		err = walk_threads(c, pfd, pid);
	if (!err)
		err = walk_mounts(c, pfd, pid);
	if (!err)
		err = walk_fds(c, pfd, pid);
out:
	close(pfd);
	return err;
}

/* The caller's thread's namespace. Opened later by the leader's link when
 * the leader is in it too: the calling thread may have ended by then. */
static int note_current(struct collect *c)
{
	char path[PROC_PATH], lead[PROC_PATH];
	struct stat st, ls;
	int err = path_fmt(path, sizeof(path), "%s/thread-self/ns/net", c->proc);

	if (!err)
		err = path_fmt(lead, sizeof(lead), "%s/%d/ns/net", c->proc, (int)getpid());
	if (err)
		return err;
	if (stat(path, &st) < 0)
		return -errno;
	if (stat(lead, &ls) < 0 || ls.st_dev != st.st_dev || ls.st_ino != st.st_ino)
		err = path_fmt(lead, sizeof(lead), "%s/%d/task/%d/ns/net", c->proc, (int)getpid(),
			       (int)gettid());
	return err ? err : note(c, st.st_dev, st.st_ino, CW_NETNS_CURRENT, 0, lead, NULL);
}

static int by_ino(const void *a, const void *b)
{
	const struct netns_entry *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->dev > y->dev) - (x->dev < y->dev);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct name *)a)->name, ((const struct name *)b)->name);
}

/* The entries of netns_dir (bind mounts, as `ip netns add` makes), each
 * stat'ed once; sorted by name, so that a namespace with two names gets
 * the first. A directory that is missing or unreadable names nothing. */
static int read_names(const char *netns_dir, struct name **out, size_t *n)
{
	DIR *d = netns_dir ? opendir(netns_dir) : NULL;
	struct dirent *e;
	size_t cap = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	while (d && (e = readdir(d))) {
		struct stat st;
		struct name *v;

		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) < 0)
			continue;
		v = vec_room(*out, *n, &cap, sizeof(*v), 16);
		if (!v || !(v[*n].name = strdup(e->d_name))) {
			*out = v ? v : *out;
			err = -ENOMEM;
			break;
		}
		*out = v;
		v[*n].id = (struct ident){ st.st_dev, st.st_ino };
		(*n)++;
	}
	if (d)
		closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), by_name);
	return err;
}

static int set_names(struct netns_set *s, const char *netns_dir)
{
	struct name *names;
	size_t n;
	int err = read_names(netns_dir, &names, &n);

	for (size_t i = 0; !err && i < s->n; i++)
		for (size_t j = 0; j < n; j++)
			if (names[j].id.dev == s->v[i].dev && names[j].id.ino == s->v[i].ino) {
				if (!(s->v[i].name = strdup(names[j].name)))
					err = -ENOMEM;
				break;
			}
	for (size_t j = 0; j < n; j++)
		free(names[j].name);
	free(names);
	return err;
}

static int collect_init(struct collect *c, struct netns_set *s, const char *proc)
{
	memset(s, 0, sizeof(*s));
	*c = (struct collect){ .s = s, .proc = proc };
	return index_room(c);
}

/* Sorts and names the set on success, empties it on failure. */
static int collect_end(struct collect *c, const char *netns_dir, int err)
{
	free(c->slot);
	free(c->views);
	free(c->dents);
	free(c->text);
	if (!err && c->s->n)
		qsort(c->s->v, c->s->n, sizeof(*c->s->v), by_ino);
	if (!err)
		err = set_names(c->s, netns_dir);
	if (err)
		netns_set_free(c->s);
	return err;
}

int netns_collect_current(struct netns_set *s)
{
	struct collect c;
	int err = collect_init(&c, s, "/proc");

	if (!err)
		err = note_current(&c);
	return collect_end(&c, NULL, err);
}

/* Whether path is a network namespace (an nsfs file whose type says so);
 * its identity in st. Checked before opening it: a FIFO or a device given
 * by mistake is never opened. */
static int check_netns(const char *path, struct stat *st)
{
	struct statfs fs;
	int fd, type, err = 0;

	if (stat(path, st) < 0)
		return errno == ESRCH || errno == ENOTDIR ? -ENOENT : -errno;
	if (!S_ISREG(st->st_mode) || statfs(path, &fs) < 0 || fs.f_type != NSFS_MAGIC)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET)
		err = type < 0 && errno != ENOTTY && errno != EINVAL ? -errno : -EINVAL;
	else if (fstat(fd, st) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* "pid:PID" -> PID; 0 when it is not a number of a possible process. */
static pid_t spec_pid(const char *p)
{
	long v = 0;

	if (!*p)
		return 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || v > INT_MAX / 10)
			return 0;
		v = v * 10 + (*p - '0');
	}
	return v <= INT_MAX ? (pid_t)v : 0;
}

int netns_collect_one(const char *proc, const char *netns_dir, const char *spec,
		      struct netns_set *s)
{
	char path[PATH_MAX];
	struct collect c;
	struct stat st;
	int err = collect_init(&c, s, proc);

	if (err)
		goto out;
	if (!strncmp(spec, "pid:", 4)) {
		pid_t pid = spec_pid(spec + 4);

		err = pid ? path_fmt(path, sizeof(path), "%s/%d/ns/net", proc, (int)pid) : -EINVAL;
	} else if (strchr(spec, '/')) {
		err = path_fmt(path, sizeof(path), "%s", spec);
	} else {
		err = *spec ? path_fmt(path, sizeof(path), "%s/%s", netns_dir, spec) : -EINVAL;
	}
	if (!err)
		err = check_netns(path, &st);
	if (!err)
		err = note(&c, st.st_dev, st.st_ino, CW_NETNS_GIVEN, 0, path, spec);
out:
	return collect_end(&c, netns_dir, err);
}

int netns_collect_pid(const char *proc, pid_t pid, struct netns_set *s)
{
	char path[PROC_PATH];
	struct collect c;
	struct stat st;
	int pfd = -1, err = collect_init(&c, s, proc);

	if (!err && !(c.dents = malloc(DENTS_BUF)))
		err = -ENOMEM;
	if (err)
		goto out;
	err = path_fmt(path, sizeof(path), "%s/%d", proc, (int)pid);
	if (err)
		goto out;
	pfd = pid > 0 ? open(path, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	if (pfd < 0) {
		err = pid <= 0 || errno == ENOENT ? -ESRCH : -errno;
		goto out;
	}
	/* A leader that has exited leaves no link; its threads may live on. */
	if (fstatat(pfd, "ns/net", &st, 0) == 0) {
		err = path_fmt(path, sizeof(path), "%s/%d/ns/net", proc, (int)pid);
		if (!err)
			err = note(&c, st.st_dev, st.st_ino, CW_NETNS_PROCESS, pid, path, NULL);
	} else if (errno != ENOENT && errno != ESRCH) {
		err = -errno;
	}
	if (!err)
		err = walk_threads(&c, pfd, pid);
	if (!err && !s->n && !s->unreadable)
		err = -ESRCH;
	close(pfd);
out:
	return collect_end(&c, NULL, err);
}

int netns_collect_all(const char *proc, const char *netns_dir, struct netns_set *s)
{
	char path[PROC_PATH];
	struct collect c;
	struct dirent *e;
	DIR *d = NULL;
	int self = -1, err = collect_init(&c, s, proc);

	if (!err && !(c.dents = malloc(DENTS_BUF)))
		err = -ENOMEM;
	if (!err)
		err = note_current(&c);
	if (err == -ENOENT)
		err = 0; /* a tree laid out like /proc may have no thread-self */
	if (err)
		goto out;
	/* Our own mount table first: its mounts then open by their own path. */
	err = path_fmt(path, sizeof(path), "%s/thread-self", proc);
	if (err)
		goto out;
	self = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (self >= 0 && view_of(self, &c.self) == 0) {
		err = walk_mounts(&c, self, getpid());
		if (err)
			goto out;
	}
	d = opendir(proc);
	if (!d) {
		err = -errno;
		goto out;
	}
	while (!err && (e = readdir(d)))
		if (is_pid(e->d_name))
			err = walk_process(&c, (pid_t)atoi(e->d_name));
out:
	if (d)
		closedir(d);
	if (self >= 0)
		close(self);
	return collect_end(&c, netns_dir, err);
}
