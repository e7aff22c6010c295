#include "census_netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
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

#include "util.h"

/* getdents64 buffer, as the socket owner walk uses (census_procfd.c). */
#define DENTS_BUF 4096
/* Paths under /proc: the root given, a pid, a tid and a short tail. */
#define PROC_PATH 256

/* A namespace found several ways keeps the way a user recognises best:
 * their own, one a process is in, a thread's, a mount, an fd. */
static unsigned rank(enum cw_netns_how how)
{
	switch (how) {
	case CW_NETNS_CURRENT: return 0;
	case CW_NETNS_GIVEN: return 1;
	case CW_NETNS_PROCESS: return 2;
	case CW_NETNS_THREAD: return 3;
	case CW_NETNS_MOUNT: return 4;
	case CW_NETNS_FD: return 5;
	}
	return 6;
}

/* A path built into buf; -ENAMETOOLONG rather than a cut one, which would
 * lead somewhere else. */
__attribute__((format(printf, 3, 4)))
static int path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

struct ident {
	uint64_t dev, ino;
};

struct name {
	struct ident id;
	char *name;
};

/* What a process's mount table shows: its mount namespace's mounts, as
 * seen from its root (a chrooted process sees only those below it). */
struct view {
	struct ident mnt, root;
};

/* A collection under way. The walk meets each namespace once per process,
 * thread and holding fd: an index by identity makes each meeting one probe. */
struct collect {
	struct netns_set *s;
	const char *proc;
	uint32_t *slot;               /* open addressing: 1 + index into s->v; 0 = empty */
	size_t mask;
	struct view *views;           /* the mount tables read */
	size_t nviews, viewcap;
	struct view self;             /* ours: its mount points open as they are */
	char *dents;                  /* getdents64 buffer */
	char *text;                   /* a mount table being read */
	size_t textcap;
};

static size_t ident_hash(uint64_t dev, uint64_t ino)
{
	uint64_t k = ino * 0x9e3779b97f4a7c15ull ^ dev;

	return (size_t)(k ^ k >> 29);
}

static size_t slot_of(const struct collect *c, uint64_t dev, uint64_t ino)
{
	size_t h = ident_hash(dev, ino) & c->mask;

	for (; c->slot[h]; h = (h + 1) & c->mask) {
		const struct netns_entry *e = &c->s->v[c->slot[h] - 1];

		if (e->dev == dev && e->ino == ino)
			break;
	}
	return h;
}

/* Keeps the index at most half full: rebuilt twice as large when needed. */
static int index_room(struct collect *c)
{
	size_t cap = c->mask + 1;
	uint32_t *old = c->slot;

	if (c->slot && (c->s->n + 1) * 2 <= cap)
		return 0;
	cap = c->slot ? cap * 2 : 64;
	c->slot = calloc(cap, sizeof(*c->slot));
	if (!c->slot) {
		c->slot = old;
		return -ENOMEM;
	}
	c->mask = cap - 1;
	for (size_t i = 0; i < c->s->n; i++)
		c->slot[slot_of(c, c->s->v[i].dev, c->s->v[i].ino)] = (uint32_t)(i + 1);
	free(old);
	return 0;
}

static void entry_free(struct netns_entry *e)
{
	free(e->open_path);
	free(e->path);
	free(e->name);
}

/* Records namespace (dev, ino), found how: a new entry, or a better way of
 * finding one already there. 0 or -ENOMEM. */
static int note(struct collect *c, uint64_t dev, uint64_t ino, enum cw_netns_how how, pid_t pid,
		const char *open_path, const char *path)
{
	struct netns_set *s = c->s;
	struct netns_entry e = { .dev = dev, .ino = ino, .how = how, .pid = pid };
	size_t h;
	int err = index_room(c);

	if (err)
		return err;
	h = slot_of(c, dev, ino);
	if (c->slot[h] && rank(how) >= rank(s->v[c->slot[h] - 1].how))
		return 0;
	e.open_path = strdup(open_path);
	e.path = path ? strdup(path) : NULL;
	if (!e.open_path || (path && !e.path))
		goto nomem;
	if (c->slot[h]) {
		entry_free(&s->v[c->slot[h] - 1]);
		s->v[c->slot[h] - 1] = e;
		return 0;
	}
	struct netns_entry *v = vec_room(s->v, s->n, &s->cap, sizeof(*v), 16);

	if (!v)
		goto nomem;
	s->v = v;
	s->v[s->n++] = e;
	c->slot[h] = (uint32_t)s->n;
	return 0;
nomem:
	entry_free(&e);
	return -ENOMEM;
}

static bool known(const struct collect *c, uint64_t dev, uint64_t ino, enum cw_netns_how how)
{
	size_t h = slot_of(c, dev, ino);

	return c->slot[h] && rank(c->s->v[c->slot[h] - 1].how) <= rank(how);
}

/* What a failed look at a process means: it exited meanwhile (nothing to
 * count), we may not look (counted: what it holds may be missing), or this
 * run cannot go on (out of memory or fds). */
static int refused(struct collect *c, int err)
{
	switch (err) {
	case ENOENT:
	case ESRCH:
		return 0;
	case ENOMEM:
	case EMFILE:
	case ENFILE:
		return -err;
	default:
		c->s->unreadable++;
		return 0;
	}
}

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

/* "net:[4026532283]" -> 4026532283; 0 for anything else. */
static uint64_t net_inode(const char *l, size_t len)
{
	uint64_t ino = 0;

	if (len < 7 || memcmp(l, "net:[", 5) || l[len - 1] != ']')
		return 0;
	for (size_t i = 5; i < len - 1; i++) {
		if (l[i] < '0' || l[i] > '9')
			return 0;
		ino = ino * 10 + (uint64_t)(l[i] - '0');
	}
	return ino;
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

/* Mount points in /proc/PID/mountinfo escape space, tab, newline and
 * backslash as \ooo; undone in place. */
static void unescape(char *p)
{
	char *o = p;

	for (; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
}

/* One line of a mount table: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS
 * [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS". A bind mount of a network
 * namespace is of type nsfs with root "net:[N]": its identity is (MAJ:MIN,
 * N). Its mount point is cut out of line (unescaped); false for any other. */
static bool nsfs_mount(char *line, struct ident *id, char **mp)
{
	char *f[5], *sep, *save = NULL;
	unsigned maj, min;

	sep = strstr(line, " - ");
	if (!sep || strncmp(sep + 3, "nsfs ", 5))
		return false;
	*sep = 0;
	for (int i = 0; i < 5; i++)
		if (!(f[i] = strtok_r(i ? NULL : line, " ", &save)))
			return false;
	id->ino = net_inode(f[3], strlen(f[3]));
	if (!id->ino || sscanf(f[2], "%u:%u", &maj, &min) != 2)
		return false;
	id->dev = makedev(maj, min);
	unescape(f[4]);
	*mp = f[4];
	return true;
}

/* The whole of a mount table (its size is unknown before reading: /proc
 * files report 0). 0, or -errno of opening or reading it. */
static int read_text(struct collect *c, int dirfd, const char *rel, size_t *len)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return -errno;
	for (;;) {
		if (*len + 1 >= c->textcap) {
			size_t cap = c->textcap ? c->textcap * 2 : 16384;
			char *t = realloc(c->text, cap);

			if (!t) {
				err = -ENOMEM;
				break;
			}
			c->text = t;
			c->textcap = cap;
		}
		n = read(fd, c->text + *len, c->textcap - 1 - *len);
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		*len += (size_t)n;
	}
	c->text[*len] = 0;
	close(fd);
	return err;
}

/* A mount seen in another mount namespace is opened through its process's
 * root; one in ours as it is, so that it stays reachable whatever process
 * exits. It counts only if that path leads to the namespace the table
 * names: something mounted over it since hides it there. */
static bool same_view(const struct view *a, const struct view *b)
{
	return a->mnt.dev == b->mnt.dev && a->mnt.ino == b->mnt.ino && a->root.dev == b->root.dev &&
	       a->root.ino == b->root.ino;
}

static int note_mount(struct collect *c, const struct view *view, pid_t pid, const struct ident *id,
		      const char *mp)
{
	char open_path[PATH_MAX + PROC_PATH];
	struct stat st;
	int err;

	if (known(c, id->dev, id->ino, CW_NETNS_MOUNT))
		return 0;
	if (same_view(view, &c->self))
		err = path_fmt(open_path, sizeof(open_path), "%s", mp);
	else
		err = path_fmt(open_path, sizeof(open_path), "%s/%d/root%s", c->proc, (int)pid, mp);
	if (err)
		return refused(c, -err);
	if (stat(open_path, &st) < 0)
		return refused(c, errno);
	if (st.st_dev != id->dev || st.st_ino != id->ino)
		return 0;
	return note(c, id->dev, id->ino, CW_NETNS_MOUNT, pid, open_path, mp);
}

/* The view of pid (dirfd: /proc/PID or /proc/thread-self). */
static int view_of(int dirfd, struct view *v)
{
	struct stat m, r;

	if (fstatat(dirfd, "ns/mnt", &m, 0) < 0 || fstatat(dirfd, "root", &r, 0) < 0)
		return -errno;
	*v = (struct view){ { m.st_dev, m.st_ino }, { r.st_dev, r.st_ino } };
	return 0;
}

/* The nsfs bind mounts of pid's mount namespace, read once per mount
 * namespace and root (dirfd: /proc/PID or /proc/thread-self). */
static int walk_mounts(struct collect *c, int dirfd, pid_t pid)
{
	struct view view, *v;
	size_t len;
	int err = view_of(dirfd, &view);

	if (err)
		return refused(c, -err);
	for (size_t i = 0; i < c->nviews; i++)
		if (same_view(&c->views[i], &view))
			return 0;
	err = read_text(c, dirfd, "mountinfo", &len);
	if (err)
		return refused(c, -err);
	for (char *line = c->text, *end; !err && *line; line = end) {
		struct ident id;
		char *mp;

		end = strchr(line, '\n');
		end = end ? (*end = 0, end + 1) : line + strlen(line);
		if (nsfs_mount(line, &id, &mp))
			err = note_mount(c, &view, pid, &id, mp);
	}
	if (err)
		return err;
	v = vec_room(c->views, c->nviews, &c->viewcap, sizeof(*v), 16);
	if (!v)
		return -ENOMEM;
	c->views = v;
	c->views[c->nviews++] = view;
	return 0;
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

void netns_set_free(struct netns_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		entry_free(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int netns_open(const struct netns_entry *e)
{
	struct stat st;
	int fd;

	/* Looked at before it is opened: what now sits at a mount point a
	 * namespace has left may be a FIFO or a device, not to be opened. */
	if (stat(e->open_path, &st) < 0)
		return errno == ENOENT || errno == ESRCH || errno == ENOTDIR ? -ENOENT : -errno;
	if (st.st_dev != e->dev || st.st_ino != e->ino)
		return -ENOENT;
	fd = open(e->open_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH || errno == ENOTDIR ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0 || st.st_dev != e->dev || st.st_ino != e->ino) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

struct call {
	int nsfd;
	int (*fn)(void *arg);
	void *arg;
	int ret;
};

static void *call_run(void *arg)
{
	struct call *k = arg;

	k->ret = setns(k->nsfd, CLONE_NEWNET) < 0 ? -errno : k->fn(k->arg);
	return NULL;
}

int netns_call(int nsfd, int (*fn)(void *arg), void *arg)
{
	struct call k = { nsfd, fn, arg, 0 };
	pthread_t t;
	int err = pthread_create(&t, NULL, call_run, &k);

	if (err)
		return -err;
	pthread_join(t, NULL);
	return k.ret;
}

struct sock_args {
	int domain, type, protocol;
};

static int make_socket(void *arg)
{
	const struct sock_args *a = arg;
	int fd = socket(a->domain, a->type, a->protocol);

	return fd < 0 ? -errno : fd;
}

int netns_socket(int nsfd, int domain, int type, int protocol)
{
	struct sock_args a = { domain, type, protocol };

	return netns_call(nsfd, make_socket, &a);
}
