/* closewait trace --pin: pins its records and counters maps with an owner
 * map beside them, detects and replaces a killed instance's pins, removes
 * its own at exit; and reads every live instance's entry times and
 * counters for scan, watch and export. The maps are
 * pinned, never the programs: those go when trace's fds close, even on
 * SIGKILL, and a killed instance's maps stop changing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "trace_pin.h"

#define BPF_FS_MAGIC 0xcafe4a11

/* Who pinned an instance: its pid and its start time (clock ticks after
 * boot, /proc/PID/stat's 22nd field), so a pid reused by another process
 * does not keep a dead instance's pins alive. */
struct trace_pin_owner {
	__u32 pid;
	__u32 pad;
	__u64 start;
};

static int pin_fail(struct trace_err *e, int err, const char *what, const char *path)
{
	e->err = err;
	e->privilege = err == -EPERM || err == -EACCES;
	snprintf(e->msg, sizeof(e->msg), "--pin: %s %.180s: %s", what, path, strerror(-err));
	return err;
}

uint64_t trace_pid_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	/* after the command name's closing parenthesis: state is field 3 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &start) != 1)
		return 0;
	return start;
}

/* The owner of the instance in dir: 1 when its process lives, 0 when it
 * is gone or the owner map is missing, or -errno (-EPERM: no CAP_BPF). */
static int owner_alive(const char *dir, pid_t *pid)
{
	char path[PATH_MAX];
	struct trace_pin_owner o = { 0 };
	__u32 key = 0;
	int fd, err;

	snprintf(path, sizeof(path), "%s/owner", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_map_lookup_elem(fd, &key, &o) ? -errno : 0;
	close(fd);
	if (err)
		return err;
	*pid = (pid_t)o.pid;
	return o.pid && o.start && trace_pid_start((pid_t)o.pid) == o.start;
}

/* Empties a stale instance's directory (its pins only). */
static int clear_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int err = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) && !err)
			err = -errno;
	}
	closedir(d);
	return err;
}

static int pin_owner(const char *path)
{
	struct trace_pin_owner o = { .pid = (__u32)getpid(), .start = trace_pid_start(getpid()) };
	__u32 key = 0;
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "cw_owner", sizeof(key), sizeof(o), 1, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_elem(fd, &key, &o, BPF_ANY) || bpf_obj_pin(fd, path))
		err = -errno;
	close(fd);
	return err;
}

int trace_pin(int socks_fd, int procs_fd, const char *dir, struct trace_err *e)
{
	char path[PATH_MAX], parent[PATH_MAX], *slash;
	struct statfs fs;
	pid_t pid = 0;
	int err;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else
		snprintf(parent, sizeof(parent), "%s", slash ? "/" : ".");
	/* the parent may be the bpffs root itself, or a directory on it; one
	 * that cannot be made (sysfs refuses mkdir) is on no bpffs either */
	if (mkdir(parent, 0755) && errno != EEXIST && errno != EPERM && errno != ENOENT)
		return pin_fail(e, -errno, "making", parent);
	if (statfs(parent, &fs))
		fs.f_type = 0;
	if ((unsigned long)fs.f_type != BPF_FS_MAGIC) {
		e->err = -EINVAL;
		e->privilege = false;
		snprintf(e->msg, sizeof(e->msg), "--pin: %.180s is not on a bpf file system (mount -t bpf bpf /sys/fs/bpf)", parent);
		return -EINVAL;
	}
	if (mkdir(dir, 0755)) {
		if (errno != EEXIST)
			return pin_fail(e, -errno, "making", dir);
		err = owner_alive(dir, &pid);
		if (err < 0)
			return pin_fail(e, err, "reading the owner of", dir);
		if (err > 0) {
			e->err = -EBUSY;
			e->privilege = false;
			snprintf(e->msg, sizeof(e->msg), "--pin: %.180s is in use by another closewait trace (pid %d)",
				 dir, (int)pid);
			return -EBUSY;
		}
		/* a killed instance's: its programs are gone, its maps frozen */
		err = clear_dir(dir);
		if (err)
			return pin_fail(e, err, "removing the stale pins in", dir);
	}
	snprintf(path, sizeof(path), "%s/owner", dir);
	err = pin_owner(path);
	if (err) {
		rmdir(dir);
		return pin_fail(e, err, "pinning", path);
	}
	snprintf(path, sizeof(path), "%s/socks", dir);
	if (bpf_obj_pin(socks_fd, path)) {
		err = -errno;
		trace_unpin(dir);
		return pin_fail(e, err, "pinning", path);
	}
	snprintf(path, sizeof(path), "%s/procs", dir);
	if (bpf_obj_pin(procs_fd, path)) {
		err = -errno;
		trace_unpin(dir);
		return pin_fail(e, err, "pinning", path);
	}
	return 0;
}

void trace_unpin(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/socks", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/procs", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/owner", dir);
	unlink(path);
	rmdir(dir);
}

/* The map named map of every live instance under root, handed to fn(fd,
 * arg); *instances: how many had it. 0, -EPERM or -EACCES when pins are
 * there but not readable, or fn's or an -errno. */
static int each_instance(const char *root, const char *map, int (*fn)(int fd, void *arg), void *arg,
			 size_t *instances)
{
	char dir[PATH_MAX], path[PATH_MAX + 8];
	struct dirent *de;
	DIR *d;
	int err = 0;

	*instances = 0;
	d = opendir(root);
	/* no instance ever pinned, or a bpffs we may not even list (systemd
	 * mounts /sys/fs/bpf 0700): nothing tells us pins exist */
	if (!d)
		return errno == ENOENT || errno == EACCES || errno == ENOTDIR ? 0 : -errno;
	while (!err && (de = readdir(d))) {
		pid_t pid;
		int fd, alive;

		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
		alive = owner_alive(dir, &pid);
		if (alive <= 0) {
			/* no CAP_BPF reads no pin at all: say so, not "none";
			 * stale instances are skipped (nothing updates them) */
			if (alive == -EPERM || alive == -EACCES)
				err = alive;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, map);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			/* absent: an instance of a closewait without counters */
			if (errno == EPERM || errno == EACCES)
				err = -errno;
			continue;
		}
		++*instances;
		err = fn(fd, arg);
		close(fd);
	}
	closedir(d);
	return err;
}

struct entry_times {
	struct cw_entry_time *v;
	size_t len, cap;
};

/* Appends the CLOSE_WAIT entries of one instance's socks map. */
static int read_socks(int fd, void *arg)
{
	struct entry_times *t = arg;
	struct cw_trace_rec rec;
	__u64 key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		/* a record deleted between the two calls is simply not listed */
		if (bpf_map_lookup_elem(fd, &next, &rec) || !rec.close_wait_ns || rec.left_close_wait_ns ||
		    !rec.inode)
			continue;
		if (t->len == t->cap) {
			size_t ncap = t->cap ? 2 * t->cap : 256;
			struct cw_entry_time *nv = realloc(t->v, ncap * sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			t->v = nv;
			t->cap = ncap;
		}
		t->v[t->len++] = (struct cw_entry_time){ .inode = rec.inode, .mono_ns = rec.close_wait_ns };
	}
	return 0;
}

int trace_pins_read(const char *root, struct cw_entry_time **out, size_t *n)
{
	struct entry_times t = { 0 };
	size_t instances;
	int err;

	*out = NULL;
	*n = 0;
	err = each_instance(root, "socks", read_socks, &t, &instances);
	if (err) {
		free(t.v);
		return err;
	}
	*out = t.v;
	*n = t.len;
	return 0;
}

struct count_entry {
	struct cw_trace_proc_key k;
	struct cw_trace_proc_count c;
};

struct counts {
	struct count_entry *v;
	size_t n, cap;
};

/* Appends one instance's counters. */
static int read_procs(int fd, void *arg)
{
	struct counts *v = arg;
	struct cw_trace_proc_key key, next;
	struct cw_trace_proc_count c;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &next, &c))
			continue; /* gone with its process meanwhile */
		if (v->n == v->cap) {
			size_t ncap = v->cap ? 2 * v->cap : 64;
			struct count_entry *nv = realloc(v->v, ncap * sizeof(*nv));

			if (!nv)
				return -ENOMEM;
			v->v = nv;
			v->cap = ncap;
		}
		v->v[v->n++] = (struct count_entry){ next, c };
	}
	return 0;
}

/* By process, the larger counts first. */
static int count_cmp(const void *a, const void *b)
{
	const struct count_entry *x = a, *y = b;

	if (x->k.pid != y->k.pid)
		return x->k.pid < y->k.pid ? -1 : 1;
	if (x->k.start_ns != y->k.start_ns)
		return x->k.start_ns < y->k.start_ns ? -1 : 1;
	return (x->c.entered < y->c.entered) - (x->c.entered > y->c.entered);
}

/* Whether the process pid that started at start_ns (CLOCK_BOOTTIME, as the
 * eBPF side reads it) still runs: /proc counts the start in clock ticks. */
static bool proc_alive(pid_t pid, uint64_t start_ns)
{
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t start = trace_pid_start(pid);

	return start && hz > 0 && start == start_ns / (1000000000u / (uint64_t)hz);
}

int trace_pins_counts(const char *root, struct trace_pin_count **out, size_t *n, size_t *instances)
{
	struct counts v = { 0 };
	struct trace_pin_count *r = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	*n = 0;
	err = each_instance(root, "procs", read_procs, &v, instances);
	if (!err && v.n && !(r = malloc(v.n * sizeof(*r))))
		err = -ENOMEM;
	if (!err && v.n)
		qsort(v.v, v.n, sizeof(*v.v), count_cmp);
	for (size_t i = 0; !err && i < v.n; i++) {
		const struct count_entry *e = &v.v[i];

		/* the same process counted by another instance: the larger
		 * counts, first, are kept */
		if (i && v.v[i - 1].k.pid == e->k.pid && v.v[i - 1].k.start_ns == e->k.start_ns)
			continue;
		if (proc_alive((pid_t)e->k.pid, e->k.start_ns))
			r[len++] = (struct trace_pin_count){ (pid_t)e->k.pid, e->c.entered, e->c.left };
	}
	free(v.v);
	if (err) {
		free(r);
		return err;
	}
	*out = r;
	*n = len;
	return 0;
}
