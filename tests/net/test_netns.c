/* Finding network namespaces and acting inside one (census_netns.h), with
 * namespaces this test makes: held by a process, by a thread that is not
 * its leader, by a bind mount in our mount namespace (one named as `ip
 * netns add` names them, in a directory of ours passed as netns_dir), by a
 * bind mount in another mount namespace only, and by an open fd only.
 * The host has namespaces of its own: each of ours is looked up by its
 * inode. First the Linux facts the code relies on, each shown on its own.
 * Root; in a private network namespace and a private mount namespace (no
 * mount of ours reaches the host's). */
#include "cwtest.h"
#include "cwtest_main.h"
#include "child_passed.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/inet_diag.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "census/census_netns.h"

/* What a child reports once its namespace is made. */
struct kid_info {
	uint64_t dev, ino;            /* the namespace it made */
	int tid;                      /* kid_thread: the thread in it */
	int fd;                       /* kid_fd: the fd that holds it */
};

/* Everything a test made, undone by its teardown whatever happened. */
#define MAX_KIDS 16
#define MAX_MOUNTS 16
static pid_t kids[MAX_KIDS];
static char mounts[MAX_MOUNTS][PATH_MAX];
static char tmp[32];                 /* the test's directory: /tmp/cw-netns-XXXXXX */

static uint64_t dev_of(const struct stat *st)
{
	return st->st_dev;
}

/* The child side: builds its namespace, reports info on ready, then waits
 * to be killed (and dies with the test: PR_SET_PDEATHSIG). */
typedef int (*kid_fn)(struct kid_info *info, void *arg);
/* Set in a child whose leader exits once it has reported, leaving its
 * other thread (a zombie leader). */
static bool leader_leaves;

static void kid_wait_forever(void)
{
	for (;;)
		pause();
}

/* Starts a child running fn: its pid once it has reported, or -1 (then
 * reaped). Without cmocka's asserts: it also runs in forked test processes. */
static pid_t kid_try(kid_fn fn, void *arg, struct kid_info *info)
{
	pid_t parent = getpid(), pid;
	struct pollfd p;
	int ready[2], slot;
	ssize_t n = -1;

	for (slot = 0; slot < MAX_KIDS && kids[slot]; slot++)
		;
	if (slot == MAX_KIDS || pipe2(ready, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		int rc;

		close(ready[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(90);
		memset(info, 0, sizeof(*info));
		rc = fn(info, arg);
		if (rc)
			_exit(rc);
		if (write(ready[1], info, sizeof(*info)) != sizeof(*info))
			_exit(91);
		if (leader_leaves)
			syscall(SYS_exit, 0);
		kid_wait_forever();
	}
	close(ready[1]);
	p = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	if (pid > 0 && poll(&p, 1, (int)cwt_slack_ms(5000)) == 1)
		n = read(ready[0], info, sizeof(*info));
	close(ready[0]);
	if (pid > 0 && n != sizeof(*info)) {
		int st = 0;

		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fprintf(stderr, "child %d failed to make its namespace (exit %d)\n", (int)pid,
			WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -1;
	}
	if (pid > 0)
		kids[slot] = pid;
	return pid;
}

static pid_t kid_start(kid_fn fn, void *arg, struct kid_info *info)
{
	pid_t pid = kid_try(fn, arg, info);

	if (pid < 0)
		fail_msg("a child could not make its namespace");
	return pid;
}

/* Kills and reaps a child: its namespace has no process in it after. */
static void kid_end(pid_t pid)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i] == pid) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			kids[i] = 0;
		}
}

static int ns_self(struct kid_info *info, const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return 80;
	info->dev = dev_of(&st);
	info->ino = st.st_ino;
	return 0;
}

/* A process in a namespace of its own. */
static int kid_netns(struct kid_info *info, void *arg)
{
	(void)arg;
	if (unshare(CLONE_NEWNET))
		return 81;
	return ns_self(info, "/proc/thread-self/ns/net");
}

struct thread_arg {
	struct kid_info *info;
	int ready[2];
};

static void *thread_netns(void *p)
{
	struct thread_arg *a = p;
	char rc = 0;

	if (unshare(CLONE_NEWNET))
		rc = 82;
	else if (ns_self(a->info, "/proc/thread-self/ns/net"))
		rc = 83;
	a->info->tid = (int)gettid();
	if (write(a->ready[1], &rc, 1) != 1 || rc)
		return NULL;
	kid_wait_forever();
	return NULL;
}

/* A process whose leader stays where it was and one of whose threads
 * moved to a namespace of its own (unshare moves only the calling thread). */
static int kid_thread(struct kid_info *info, void *arg)
{
	struct thread_arg a = { .info = info };
	pthread_t t;
	char rc;

	(void)arg;
	if (pipe(a.ready) || pthread_create(&t, NULL, thread_netns, &a))
		return 84;
	if (read(a.ready[0], &rc, 1) != 1)
		return 85;
	return rc;
}

static int kid_thread_alone(struct kid_info *info, void *arg)
{
	leader_leaves = true;
	return kid_thread(info, arg);
}

/* A namespace held only by an open fd of a process whose threads are all
 * back in the namespace they came from. */
static int kid_fd(struct kid_info *info, void *arg)
{
	int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	(void)arg;
	if (orig < 0 || unshare(CLONE_NEWNET))
		return 86;
	info->fd = open("/proc/thread-self/ns/net", O_RDONLY);
	if (info->fd < 0 || ns_self(info, "/proc/thread-self/ns/net") || setns(orig, CLONE_NEWNET))
		return 87;
	close(orig);
	return 0;
}

/* A namespace held only by a bind mount that exists only in this child's
 * own mount namespace, at the path arg (a file of ours). */
static int kid_mount(struct kid_info *info, void *arg)
{
	int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (orig < 0 || unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return 88;
	if (unshare(CLONE_NEWNET) ||
	    mount("/proc/thread-self/ns/net", (const char *)arg, NULL, MS_BIND, NULL))
		return 89;
	if (ns_self(info, (const char *)arg) || setns(orig, CLONE_NEWNET))
		return 79;
	close(orig);
	return 0;
}

struct jail {
	const char *mp;               /* where the namespace is mounted */
	const char *root;             /* the directory then chrooted into */
};

/* kid_mount, then chrooted into a directory the mount is not under: its
 * own mount table no longer shows the mount. */
static int kid_mount_jailed(struct kid_info *info, void *arg)
{
	const struct jail *j = arg;
	int rc = kid_mount(info, (void *)j->mp);

	return rc ? rc : chroot(j->root) || chdir("/") ? 78 : 0;
}

/* A process in the mount namespace of process *arg, at its root. */
static int kid_join_mounts(struct kid_info *info, void *arg)
{
	char path[64];
	int fd;

	(void)info;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)*(pid_t *)arg);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNS))
		return 76;
	close(fd);
	return 0;
}

/* Makes an empty file (a mount point) under the test's directory. */
static void touch(char *out, const char *name)
{
	int fd;

	snprintf(out, PATH_MAX, "%s/%s", tmp, name);
	fd = open(out, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static void bind_ns(const char *src, const char *dst)
{
	int slot;

	for (slot = 0; slot < MAX_MOUNTS && mounts[slot][0]; slot++)
		;
	assert_true(slot < MAX_MOUNTS);
	assert_int_equal(mount(src, dst, NULL, MS_BIND, NULL), 0);
	snprintf(mounts[slot], PATH_MAX, "%s", dst);
}

static void unbind(const char *dst)
{
	for (int i = 0; i < MAX_MOUNTS; i++)
		if (mounts[i][0] && !strcmp(mounts[i], dst)) {
			assert_int_equal(umount2(dst, MNT_DETACH), 0);
			mounts[i][0] = 0;
		}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static int setup(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/cw-netns-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	return cwt_fd_setup(state);
}

/* Children killed and reaped, mounts undone, files removed: then the fds
 * are counted (CWT_FD_TEST's check, after the cleanup it must follow). */
static int teardown(void **state)
{
	for (int i = 0; i < MAX_KIDS; i++)
		if (kids[i])
			kid_end(kids[i]);
	for (int i = 0; i < MAX_MOUNTS; i++)
		if (mounts[i][0]) {
			umount2(mounts[i], MNT_DETACH);
			mounts[i][0] = 0;
		}
	if (tmp[0])
		nftw(tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	tmp[0] = 0;
	return cwt_fd_teardown(state);
}

#define NETNS_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static void stat_path(const char *path, struct stat *st)
{
	if (stat(path, st))
		fail_msg("stat %s: %s", path, strerror(errno));
}

/* The one entry of s for (dev, ino); fails unless there is exactly one. */
static const struct netns_entry *find(const struct netns_set *s, uint64_t dev, uint64_t ino)
{
	const struct netns_entry *e = NULL;
	int n = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].dev == dev && s->v[i].ino == ino) {
			e = &s->v[i];
			n++;
		}
	if (n != 1)
		fail_msg("namespace %llu found %d times", (unsigned long long)ino, n);
	return e;
}

static bool has(const struct netns_set *s, uint64_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].ino == ino)
			return true;
	return false;
}

/* netns_open of e gives an fd to the namespace e is. */
static void opens(const struct netns_entry *e)
{
	struct stat st;
	int fd = netns_open(e);

	if (fd < 0)
		fail_msg("netns_open %s: %s", e->open_path, strerror(-fd));
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(dev_of(&st) == e->dev && st.st_ino == e->ino);
	close(fd);
}

/* Fact: a namespace link (/proc/PID/ns/net) reads "net:[N]" and stat
 * follows it to the nsfs file whose st_ino is N: (st_dev, st_ino) names the
 * namespace, the same for every process in it. */
static void test_fact_ns_link_identity(void **state)
{
	struct kid_info k;
	struct stat a, b, c;
	struct statfs fs;
	char path[64], link[64], want[64];
	pid_t pid = kid_start(kid_netns, NULL, &k);
	ssize_t n;

	(void)state;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = 0;
	snprintf(want, sizeof(want), "net:[%llu]", (unsigned long long)k.ino);
	assert_string_equal(link, want);
	stat_path(path, &a);
	assert_int_equal(statfs(path, &fs), 0);
	assert_true(fs.f_type == NSFS_MAGIC);
	assert_true(dev_of(&a) == k.dev && a.st_ino == k.ino);
	/* ours differs; the kid's, through its thread, is the same file */
	stat_path("/proc/self/ns/net", &b);
	assert_true(b.st_ino != a.st_ino);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/ns/net", (int)pid, (int)pid);
	stat_path(path, &c);
	assert_true(c.st_dev == a.st_dev && c.st_ino == a.st_ino);
}

/* Fact: a thread can be in another namespace than its leader;
 * /proc/PID/ns/net shows the leader's, /proc/PID/task/TID/ns/net the
 * thread's. */
static void test_fact_thread_namespace(void **state)
{
	struct kid_info k;
	struct stat lead, thr, ours;
	char path[96];
	pid_t pid = kid_start(kid_thread, NULL, &k);

	(void)state;
	stat_path("/proc/self/ns/net", &ours);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	stat_path(path, &lead);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/ns/net", (int)pid, k.tid);
	stat_path(path, &thr);
	assert_true(lead.st_ino == ours.st_ino);
	assert_true(thr.st_ino == k.ino);
	assert_true(thr.st_ino != lead.st_ino);
}

/* One line of /proc/self/mountinfo whose mount point field is mp. */
static bool mountinfo_line(const char *mp, char *line, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, (int)len, f)) {
		char a[PATH_MAX];

		found = sscanf(line, "%*s %*s %*s %*s %4095s", a) == 1 && !strcmp(a, mp);
	}
	fclose(f);
	return found;
}

/* Fact: a bind mount of a namespace shows in the mount table as type nsfs,
 * root "net:[N]", device the nsfs file's st_dev, and its mount point with
 * space, tab and backslash escaped as \ooo. */
static void test_fact_mountinfo_nsfs(void **state)
{
	struct kid_info k;
	struct stat st;
	char mp[PATH_MAX], src[64], line[2 * PATH_MAX], want[PATH_MAX + 64], esc[PATH_MAX];
	pid_t pid = kid_start(kid_netns, NULL, &k);

	(void)state;
	touch(mp, "a b\tc\\d");
	snprintf(src, sizeof(src), "/proc/%d/ns/net", (int)pid);
	bind_ns(src, mp);
	kid_end(pid);
	stat_path(mp, &st);
	assert_true(st.st_ino == k.ino);
	snprintf(esc, sizeof(esc), "%s/a\\040b\\011c\\134d", tmp);
	assert_true(mountinfo_line(esc, line, sizeof(line)));
	snprintf(want, sizeof(want), " %u:%u net:[%llu] %s ", major(st.st_dev), minor(st.st_dev),
		 (unsigned long long)k.ino, esc);
	print_message("mountinfo: %s", line);
	assert_non_null(strstr(line, want));
	assert_non_null(strstr(line, " - nsfs "));
	unbind(mp);
}

/* Fact: a mount made in a child's own mount namespace is not in ours, and
 * is reached through /proc/PID/root/MOUNTPOINT. */
static void test_fact_mount_elsewhere(void **state)
{
	struct kid_info k;
	struct stat here, there;
	char mp[PATH_MAX], via[PATH_MAX + 64], line[2 * PATH_MAX];
	pid_t pid;

	(void)state;
	touch(mp, "elsewhere");
	pid = kid_start(kid_mount, mp, &k);
	stat_path(mp, &here);
	snprintf(via, sizeof(via), "/proc/%d/root%s", (int)pid, mp);
	stat_path(via, &there);
	assert_true(here.st_ino != k.ino);
	assert_true(there.st_ino == k.ino && dev_of(&there) == k.dev);
	assert_false(mountinfo_line(mp, line, sizeof(line)));
}

/* Fact: an open fd keeps a namespace no thread is in, and its link in
 * /proc/PID/fd reads "net:[N]". */
static void test_fact_fd_holds(void **state)
{
	struct kid_info k;
	struct stat st;
	char path[64], link[64], want[64];
	pid_t pid = kid_start(kid_fd, NULL, &k);
	ssize_t n;

	(void)state;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, k.fd);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = 0;
	snprintf(want, sizeof(want), "net:[%llu]", (unsigned long long)k.ino);
	assert_string_equal(link, want);
	stat_path(path, &st);
	assert_true(st.st_ino == k.ino);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	stat_path(path, &st);
	assert_true(st.st_ino != k.ino);
}

/* Each way of being found, each namespace once, and the better way kept
 * when one is found several ways: the caller's own (current); a process's
 * (process), also held by a bind mount named "red" and by an fd; a
 * thread's (thread), also held by an fd; a bind mount in our mount
 * namespace only, with a name needing escapes (mount), also held by an fd;
 * one in netns_dir named "blue" (mount, named); one mounted only in a
 * child's mount namespace (mount, through /proc/PID/root); one held only by
 * an fd (fd). And a UTS namespace bind-mounted alongside, which is none. */
struct ways {
	struct kid_info proc, thread, bound, named, elsewhere, fd;
	pid_t proc_pid, thread_pid, elsewhere_pid, fd_pid;
	char bound_mp[PATH_MAX], named_mp[PATH_MAX], red_mp[PATH_MAX], elsewhere_mp[PATH_MAX];
	char uts_mp[PATH_MAX];        /* a namespace of another kind, mounted the same way */
	uint64_t uts_ino;
	char dir[PATH_MAX];
};

/* The fd kid inherits the fds open at its fork (no exec: O_CLOEXEC does
 * not matter): these three, closed here after. */
static int open_ns(const char *fmt, int a, int b)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), fmt, a, b);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void make_ways(struct ways *w)
{
	char src[64];
	struct stat st;
	pid_t b, n;
	int held[3];

	snprintf(w->dir, sizeof(w->dir), "%s/netns", tmp);
	assert_int_equal(mkdir(w->dir, 0700), 0);
	w->proc_pid = kid_start(kid_netns, NULL, &w->proc);
	w->thread_pid = kid_start(kid_thread, NULL, &w->thread);
	b = kid_start(kid_netns, NULL, &w->bound);
	n = kid_start(kid_netns, NULL, &w->named);
	touch(w->bound_mp, "m 1\tx\\y");
	touch(w->named_mp, "netns/blue");
	touch(w->red_mp, "netns/red");
	touch(w->elsewhere_mp, "elsewhere");
	snprintf(src, sizeof(src), "/proc/%d/ns/net", (int)b);
	bind_ns(src, w->bound_mp);
	snprintf(src, sizeof(src), "/proc/%d/ns/net", (int)n);
	bind_ns(src, w->named_mp);
	snprintf(src, sizeof(src), "/proc/%d/ns/net", (int)w->proc_pid);
	bind_ns(src, w->red_mp);
	touch(w->uts_mp, "uts");
	bind_ns("/proc/self/ns/uts", w->uts_mp);
	stat_path(w->uts_mp, &st);
	w->uts_ino = st.st_ino;
	w->elsewhere_pid = kid_start(kid_mount, w->elsewhere_mp, &w->elsewhere);
	held[0] = open_ns("/proc/%d/ns/net", w->proc_pid, 0);
	held[1] = open_ns("/proc/%d/task/%d/ns/net", w->thread_pid, w->thread.tid);
	held[2] = open_ns("/proc/%d/ns/net", b, 0);
	w->fd_pid = kid_start(kid_fd, NULL, &w->fd);
	for (int i = 0; i < 3; i++)
		close(held[i]);
	kid_end(b); /* only the mounts hold these two now */
	kid_end(n);
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void test_collect_all_ways(void **state)
{
	struct ways w;
	struct netns_set s;
	const struct netns_entry *e;
	struct stat cur, pid1;
	char want[PATH_MAX + 64];
	double t0, took;
	int err;

	(void)state;
	make_ways(&w);
	t0 = now_ms();
	err = netns_collect_all("/proc", w.dir, &s);
	took = now_ms() - t0;
	assert_int_equal(err, 0);
	print_message("netns_collect_all: %zu namespaces, %u unreadable, %.1f ms (timing, not checked)\n",
		      s.n, s.unreadable, took);
	for (size_t i = 1; i < s.n; i++)
		assert_true(s.v[i - 1].ino < s.v[i].ino ||
			    (s.v[i - 1].ino == s.v[i].ino && s.v[i - 1].dev < s.v[i].dev));

	stat_path("/proc/thread-self/ns/net", &cur);
	e = find(&s, dev_of(&cur), cur.st_ino);
	assert_int_equal(e->how, CW_NETNS_CURRENT);
	opens(e);

	e = find(&s, w.proc.dev, w.proc.ino);
	assert_int_equal(e->how, CW_NETNS_PROCESS);
	assert_int_equal(e->pid, w.proc_pid);
	assert_non_null(e->name);
	assert_string_equal(e->name, "red");
	opens(e);

	e = find(&s, w.thread.dev, w.thread.ino);
	assert_int_equal(e->how, CW_NETNS_THREAD);
	assert_int_equal(e->pid, w.thread_pid);
	snprintf(want, sizeof(want), "/proc/%d/task/%d/ns/net", (int)w.thread_pid, w.thread.tid);
	assert_string_equal(e->open_path, want);
	assert_null(e->name);
	opens(e);

	e = find(&s, w.bound.dev, w.bound.ino);
	assert_int_equal(e->how, CW_NETNS_MOUNT);
	assert_int_equal(e->pid, getpid());
	assert_string_equal(e->path, w.bound_mp);
	assert_null(e->name);
	opens(e);

	e = find(&s, w.named.dev, w.named.ino);
	assert_int_equal(e->how, CW_NETNS_MOUNT);
	assert_string_equal(e->path, w.named_mp);
	assert_non_null(e->name);
	assert_string_equal(e->name, "blue");
	opens(e);

	e = find(&s, w.elsewhere.dev, w.elsewhere.ino);
	assert_int_equal(e->how, CW_NETNS_MOUNT);
	assert_int_equal(e->pid, w.elsewhere_pid);
	assert_string_equal(e->path, w.elsewhere_mp);
	snprintf(want, sizeof(want), "/proc/%d/root%s", (int)w.elsewhere_pid, w.elsewhere_mp);
	assert_string_equal(e->open_path, want);
	opens(e);

	e = find(&s, w.fd.dev, w.fd.ino);
	assert_int_equal(e->how, CW_NETNS_FD);
	assert_int_equal(e->pid, w.fd_pid);
	snprintf(want, sizeof(want), "/proc/%d/fd/%d", (int)w.fd_pid, w.fd.fd);
	assert_string_equal(e->open_path, want);
	opens(e);

	assert_false(has(&s, w.uts_ino)); /* nsfs, but not a network namespace */

	/* This machine's process 1 refuses its links even to root: counted. */
	if (stat("/proc/1/ns/net", &pid1) && errno == EACCES)
		assert_true(s.unreadable >= 1);
	netns_set_free(&s);
}

/* netns_open of an entry whose namespace went away: -ENOENT, for each way
 * of going (its process exited, its thread, its fd's process, the mount
 * undone, the process whose mount namespace held the mount). */
static void test_open_gone(void **state)
{
	struct ways w;
	struct netns_set s;
	struct netns_entry *e[5];

	(void)state;
	make_ways(&w);
	assert_int_equal(netns_collect_all("/proc", w.dir, &s), 0);
	e[0] = (struct netns_entry *)find(&s, w.proc.dev, w.proc.ino);
	e[1] = (struct netns_entry *)find(&s, w.thread.dev, w.thread.ino);
	e[2] = (struct netns_entry *)find(&s, w.fd.dev, w.fd.ino);
	e[3] = (struct netns_entry *)find(&s, w.bound.dev, w.bound.ino);
	e[4] = (struct netns_entry *)find(&s, w.elsewhere.dev, w.elsewhere.ino);
	for (int i = 0; i < 5; i++)
		opens(e[i]);
	unbind(w.red_mp); /* or the process's namespace would live on in it */
	kid_end(w.proc_pid);
	kid_end(w.thread_pid);
	kid_end(w.fd_pid);
	unbind(w.bound_mp);
	kid_end(w.elsewhere_pid);
	for (int i = 0; i < 5; i++) {
		int fd = netns_open(e[i]);

		if (fd >= 0)
			close(fd);
		if (fd != -ENOENT)
			fail_msg("netns_open %s after it went: %d, not -ENOENT", e[i]->open_path, fd);
	}
	netns_set_free(&s);
}

/* netns_collect_one: NAME, PATH and pid:PID, and each error. */
static void test_collect_one(void **state)
{
	struct ways w;
	struct netns_set s;
	char spec[PATH_MAX], file[PATH_MAX];

	(void)state;
	make_ways(&w);
	assert_int_equal(netns_collect_one("/proc", w.dir, "blue", &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.v[0].ino == w.named.ino && s.v[0].dev == w.named.dev);
	assert_int_equal(s.v[0].how, CW_NETNS_GIVEN);
	assert_string_equal(s.v[0].path, "blue");
	assert_string_equal(s.v[0].name, "blue");
	opens(&s.v[0]);
	netns_set_free(&s);

	assert_int_equal(netns_collect_one("/proc", w.dir, w.bound_mp, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.v[0].ino == w.bound.ino);
	assert_string_equal(s.v[0].path, w.bound_mp);
	assert_null(s.v[0].name);
	netns_set_free(&s);

	snprintf(spec, sizeof(spec), "pid:%d", (int)w.proc_pid);
	assert_int_equal(netns_collect_one("/proc", w.dir, spec, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.v[0].ino == w.proc.ino);
	assert_int_equal(s.v[0].how, CW_NETNS_GIVEN);
	assert_string_equal(s.v[0].path, spec);
	assert_string_equal(s.v[0].name, "red");
	opens(&s.v[0]);
	netns_set_free(&s);

	assert_int_equal(netns_collect_one("/proc", w.dir, "green", &s), -ENOENT);
	assert_int_equal(s.n, 0);
	snprintf(spec, sizeof(spec), "%s/none", tmp);
	assert_int_equal(netns_collect_one("/proc", w.dir, spec, &s), -ENOENT);
	kid_end(w.thread_pid);
	snprintf(spec, sizeof(spec), "pid:%d", (int)w.thread_pid);
	assert_int_equal(netns_collect_one("/proc", w.dir, spec, &s), -ENOENT);
	assert_int_equal(netns_collect_one("/proc", w.dir, "pid:x1", &s), -EINVAL);
	assert_int_equal(netns_collect_one("/proc", w.dir, "pid:", &s), -EINVAL);
	/* not a network namespace: a file, a directory, another kind, a FIFO
	 * (refused without being opened: an open would block) */
	touch(file, "plain");
	assert_int_equal(netns_collect_one("/proc", w.dir, file, &s), -EINVAL);
	assert_int_equal(netns_collect_one("/proc", w.dir, tmp, &s), -EINVAL);
	assert_int_equal(netns_collect_one("/proc", w.dir, "/proc/self/ns/mnt", &s), -EINVAL);
	snprintf(file, sizeof(file), "%s/fifo", tmp);
	assert_int_equal(mkfifo(file, 0600), 0);
	assert_int_equal(netns_collect_one("/proc", w.dir, file, &s), -EINVAL);
	assert_int_equal(s.n, 0);
}

/* netns_collect_pid: the leader's namespace (process) and a thread's
 * (thread); -ESRCH for a process that is gone. */
static void test_collect_pid(void **state)
{
	struct kid_info k;
	struct netns_set s;
	struct stat ours;
	const struct netns_entry *e;
	pid_t pid = kid_start(kid_thread, NULL, &k);

	(void)state;
	stat_path("/proc/self/ns/net", &ours);
	assert_int_equal(netns_collect_pid("/proc", pid, &s), 0);
	assert_int_equal(s.n, 2);
	e = find(&s, dev_of(&ours), ours.st_ino);
	assert_int_equal(e->how, CW_NETNS_PROCESS);
	assert_int_equal(e->pid, pid);
	e = find(&s, k.dev, k.ino);
	assert_int_equal(e->how, CW_NETNS_THREAD);
	assert_int_equal(e->pid, pid);
	opens(e);
	netns_set_free(&s);
	kid_end(pid);
	assert_int_equal(netns_collect_pid("/proc", pid, &s), -ESRCH);
	assert_int_equal(s.n, 0);
}

/* A mount table shows only the mounts below its process's root: a mount
 * namespace whose first process is chrooted away from a mount still shows
 * it to another process, at the namespace's root. */
static void test_collect_all_chroot(void **state)
{
	struct kid_info k, none;
	struct netns_set s;
	const struct netns_entry *e;
	char mp[PATH_MAX], jail[PATH_MAX];
	struct jail j = { mp, jail };
	pid_t jailed, free_pid;

	(void)state;
	touch(mp, "outside");
	snprintf(jail, sizeof(jail), "%s/jail", tmp);
	assert_int_equal(mkdir(jail, 0700), 0);
	jailed = kid_start(kid_mount_jailed, &j, &k);
	free_pid = kid_start(kid_join_mounts, &jailed, &none);
	assert_true(jailed < free_pid); /* the jailed one's table is read first */
	assert_int_equal(netns_collect_all("/proc", NULL, &s), 0);
	e = find(&s, k.dev, k.ino);
	assert_int_equal(e->how, CW_NETNS_MOUNT);
	assert_int_equal(e->pid, free_pid);
	assert_string_equal(e->path, mp);
	opens(e);
	netns_set_free(&s);
}

static bool leader_gone(void *arg)
{
	struct stat st;

	return stat((const char *)arg, &st) && errno == ENOENT;
}

/* A process whose leader has exited alone shows no namespace link of its
 * own; its other thread, in a namespace of its own, is still found. */
static void test_collect_leader_gone(void **state)
{
	struct kid_info k;
	struct netns_set s;
	const struct netns_entry *e;
	char path[64];
	pid_t pid = kid_start(kid_thread_alone, NULL, &k);

	(void)state;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	assert_true(cwt_poll_until(leader_gone, path, (unsigned)cwt_slack_ms(5000)) >= 0);
	assert_int_equal(netns_collect_all("/proc", NULL, &s), 0);
	e = find(&s, k.dev, k.ino);
	assert_int_equal(e->how, CW_NETNS_THREAD);
	assert_int_equal(e->pid, pid);
	opens(e);
	netns_set_free(&s);
	assert_int_equal(netns_collect_pid("/proc", pid, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.v[0].ino == k.ino);
	assert_int_equal(s.v[0].how, CW_NETNS_THREAD);
	netns_set_free(&s);
}

static void test_collect_current(void **state)
{
	struct netns_set s;
	struct stat ours;

	(void)state;
	stat_path("/proc/thread-self/ns/net", &ours);
	assert_int_equal(netns_collect_current(&s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.v[0].dev == dev_of(&ours) && s.v[0].ino == ours.st_ino);
	assert_int_equal(s.v[0].how, CW_NETNS_CURRENT);
	assert_int_equal(s.v[0].pid, 0);
	opens(&s.v[0]);
	netns_set_free(&s);
}

/* Whether a sock_diag dump on sd lists the TCP listener with inode ino. */
static bool diag_lists(int sd, uint64_t ino)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 7 },
		.r = { .sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = 1u << TCP_LISTEN },
	};
	char buf[32768];
	bool found = false;

	assert_int_equal(send(sd, &req, sizeof(req), 0), (ssize_t)sizeof(req));
	for (;;) {
		ssize_t n = recv(sd, buf, sizeof(buf), 0);

		assert_true(n > 0);
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return found;
			assert_int_equal(h->nlmsg_type, SOCK_DIAG_BY_FAMILY);
			found |= ((struct inet_diag_msg *)NLMSG_DATA(h))->idiag_inode == ino;
		}
	}
}

static int ns_fd_of(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

/* Fact and netns_socket: a NETLINK_SOCK_DIAG socket dumps the namespace its
 * thread was in when it was made, whatever thread reads it (here the
 * caller, in another namespace, after the maker ended); one of the
 * caller's does not list that namespace's sockets. */
static void test_socket_sock_diag(void **state)
{
	struct kid_info k;
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct stat st;
	pid_t pid = kid_start(kid_netns, NULL, &k);
	int ns = ns_fd_of(pid), l, there, here;

	(void)state;
	l = netns_socket(ns, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(fstat(l, &st), 0);
	there = netns_socket(ns, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	here = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	assert_true(there >= 0 && here >= 0);
	assert_true(diag_lists(there, st.st_ino));
	assert_false(diag_lists(here, st.st_ino));
	/* and what fails to be made there says why */
	assert_int_equal(netns_socket(ns, AF_INET, 12345, 0), -EINVAL);
	close(there);
	close(here);
	close(l);
	close(ns);
}

struct in_ns {
	const char *range;            /* to write to ip_local_port_range, or NULL */
	char got[64];                 /* ip_local_port_range as read there */
	uint64_t thread_ino, self_ino;
};

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static int sysctl_there(void *arg)
{
	struct in_ns *x = arg;
	const char *p = "/proc/sys/net/ipv4/ip_local_port_range";
	struct stat t, s;

	if (x->range) {
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : write(fd, x->range, strlen(x->range));

		if (fd >= 0)
			close(fd);
		if (n < 0)
			return -errno;
	}
	if (stat("/proc/thread-self/ns/net", &t) || stat("/proc/self/ns/net", &s))
		return -errno;
	x->thread_ino = t.st_ino;
	x->self_ino = s.st_ino;
	return read_file(p, x->got, sizeof(x->got)) ? -EIO : 42;
}

/* netns_call: the function runs in a thread that entered the namespace
 * and only that thread moved (the caller and the process's leader did not):
 * /proc/sys opened there shows that namespace's ip_local_port_range. Its
 * return comes back; a bad fd is setns's error. */
static void test_call_sysctl(void **state)
{
	struct kid_info k;
	struct in_ns x = { .range = "40000 40100" };
	struct stat ours, after;
	char here[64];
	pid_t pid = kid_start(kid_netns, NULL, &k);
	int ns = ns_fd_of(pid), p[2];

	(void)state;
	stat_path("/proc/thread-self/ns/net", &ours);
	assert_int_equal(netns_call(ns, sysctl_there, &x), 42);
	assert_string_equal(x.got, "40000\t40100\n");
	assert_true(x.thread_ino == k.ino);
	assert_true(x.self_ino == ours.st_ino);
	x.range = NULL;
	assert_int_equal(netns_call(ns, sysctl_there, &x), 42);
	assert_string_equal(x.got, "40000\t40100\n");
	assert_int_equal(read_file("/proc/sys/net/ipv4/ip_local_port_range", here, sizeof(here)), 0);
	assert_string_not_equal(here, x.got);
	stat_path("/proc/thread-self/ns/net", &after);
	assert_true(after.st_ino == ours.st_ino);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(netns_call(p[0], sysctl_there, &x), -EINVAL);
	assert_int_equal(netns_call(-1, sysctl_there, &x), -EBADF);
	close(p[0]);
	close(p[1]);
	close(ns);
}

/* Links that refuse us are skipped and counted, never an error. In a PID
 * namespace of our own with its /proc (so the count is exact): process 1
 * starts a child with every capability we have, in a namespace of its own,
 * and one with none, in another; then drops CAP_SYS_PTRACE, and a process
 * with capabilities the caller lacks refuses its links (the ptrace access
 * check of /proc/PID/ns: EACCES, as this machine's process 1 answers root,
 * which test_collect_all_ways checks is counted). */
static int cap_drop_ptrace(bool all)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	for (int i = 0; all && i < 2; i++)
		d[i].permitted = d[i].effective = d[i].inheritable = 0;
	d[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32));
	return (int)syscall(SYS_capset, &h, d);
}

/* Made before it drops them: unshare needs CAP_SYS_ADMIN. */
static int kid_capless(struct kid_info *info, void *arg)
{
	int rc = kid_netns(info, arg);

	return rc ? rc : cap_drop_ptrace(true) ? 77 : 0;
}

static int refusing_main(void)
{
	struct kid_info strong, weak;
	struct netns_set s;
	int err, rc = 0;

	if (getpid() != 1 || mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return 60;
	if (kid_try(kid_netns, NULL, &strong) < 0 || kid_try(kid_capless, NULL, &weak) < 0)
		return 66;
	if (cap_drop_ptrace(false))
		return 61;
	err = netns_collect_all("/proc", NULL, &s);
	if (err) {
		fprintf(stderr, "refused: netns_collect_all: %s\n", strerror(-err));
		return 62;
	}
	if (has(&s, strong.ino))
		rc = 63;
	else if (!has(&s, weak.ino))
		rc = 64;
	else if (s.unreadable != 1)
		rc = 65;
	if (rc)
		fprintf(stderr, "refused: check %d failed (%zu found, %u unreadable)\n", rc, s.n,
			s.unreadable);
	netns_set_free(&s);
	return rc;
}

static void test_collect_all_refused(void **state)
{
	pid_t outer = fork();

	(void)state;
	assert_true(outer >= 0);
	if (outer == 0) {
		pid_t init;
		int st;

		if (unshare(CLONE_NEWPID | CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			_exit(50);
		init = fork();
		if (init == 0) {
			int rc = refusing_main();

			for (int i = 0; i < MAX_KIDS; i++)
				if (kids[i])
					kill(kids[i], SIGKILL);
			_exit(rc);
		}
		if (init < 0 || waitpid(init, &st, 0) != init || !WIFEXITED(st))
			_exit(51);
		_exit(WEXITSTATUS(st));
	}
	child_passed(outer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		NETNS_TEST(test_fact_ns_link_identity),
		NETNS_TEST(test_fact_thread_namespace),
		NETNS_TEST(test_fact_mountinfo_nsfs),
		NETNS_TEST(test_fact_mount_elsewhere),
		NETNS_TEST(test_fact_fd_holds),
		NETNS_TEST(test_collect_all_ways),
		NETNS_TEST(test_open_gone),
		NETNS_TEST(test_collect_one),
		NETNS_TEST(test_collect_pid),
		NETNS_TEST(test_collect_leader_gone),
		NETNS_TEST(test_collect_all_chroot),
		NETNS_TEST(test_collect_current),
		NETNS_TEST(test_socket_sock_diag),
		NETNS_TEST(test_call_sysctl),
		NETNS_TEST(test_collect_all_refused),
	};

	cwt_netns();
	/* Our mounts stay ours: they end with this process whatever happens. */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		fprintf(stderr, "test_netns: private mount namespace: %s\n", strerror(errno));
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
