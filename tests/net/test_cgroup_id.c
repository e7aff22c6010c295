/* A socket's cgroup id (INET_DIAG_CGROUP_ID) against the cgroup2 tree
 * (S19): it names the cgroup its creator was in when it was made, it stays
 * when the creator moves, and one walk of the mount (cgroup_ids_load) maps
 * it to the path /proc/PID/cgroup writes; the walk survives cgroups made
 * and removed while it runs. Cgroups are made under the cgroup2 mount found
 * in /proc/self/mountinfo (never a v1 controller), in one parent per run,
 * removed at the end whatever happened. */
#include "cwtest.h"
#include "cwtest_main.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "census/census_cgroup.h"
#include "cwt_cgroup.h"
#include "census/census_lib.h"

static char mnt[1024];
static char parent[1100];             /* <mnt>/closewait-test-<pid> */
static char rel[64];                  /* "/closewait-test-<pid>" */
static pid_t kids[2];                 /* children still to end (a failed check left them) */

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -errno;
	close(fd);
	return ret;
}

/* Moves process pid (0: the caller) into cgroup dir (under parent). */
static int join(const char *dir, pid_t pid)
{
	char p[PATH_MAX + 64], s[32];

	snprintf(p, sizeof(p), "%s/%s/cgroup.procs", parent, dir);
	snprintf(s, sizeof(s), "%d\n", pid ? (int)pid : (int)getpid());
	return write_str(p, s);
}

static void mk(const char *dir)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/%s", parent, dir);
	if (mkdir(p, 0755) && errno != EEXIST)
		fail_msg("mkdir %s: %s", p, strerror(errno));
}

/* The cgroup id of directory dir under parent, by its 8-byte handle, and
 * its inode number. */
static uint64_t handle_id(const char *dir, uint64_t *ino)
{
	struct {
		struct file_handle h;
		unsigned char b[sizeof(uint64_t)];
	} fh = { .h.handle_bytes = sizeof(uint64_t) };
	char p[PATH_MAX + 64];
	struct stat st;
	uint64_t id;
	int mid;

	snprintf(p, sizeof(p), "%s/%s", parent, dir);
	assert_int_equal(name_to_handle_at(AT_FDCWD, p, &fh.h, &mid, 0), 0);
	assert_int_equal(fh.h.handle_bytes, sizeof(uint64_t));
	memcpy(&id, fh.h.f_handle, sizeof(id));
	assert_int_equal(stat(p, &st), 0);
	*ino = st.st_ino;
	return id;
}

struct find {
	uint16_t port;
	int n;
	uint64_t cgroup_id;
};

static int find_cb(const struct cw_sock *s, void *arg)
{
	struct find *f = arg;

	if (s->local.port == f->port) {
		f->n++;
		f->cgroup_id = s->cgroup_id;
	}
	return 0;
}

/* The cgroup id the kernel gives our listener on port. */
static uint64_t dumped_id(uint16_t port)
{
	struct find f = { .port = port };

	assert_int_equal(netlink_dump_tcp(AF_INET, CW_STATE_BIT(CW_TCP_LISTEN), NULL, find_cb, &f), 0);
	assert_int_equal(f.n, 1);
	return f.cgroup_id;
}

/* The child: joins a.slice/b.service, THEN makes its listener, says its
 * port; on 'm' moves to elsewhere and says 'k'; ends when cmd closes. */
static void child_main(int report, int cmd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	char c;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (join("a.slice/b.service", 0))
		_exit(2);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&a, &len) ||
	    write(report, &a.sin_port, sizeof(a.sin_port)) != sizeof(a.sin_port))
		_exit(3);
	while (read(cmd, &c, 1) == 1)
		if (c == 'm' && (join("elsewhere", 0) || write(report, "k", 1) != 1))
			_exit(4);
	_exit(0);
}

static void cgroup_is(pid_t pid, const char *want)
{
	char path[PATH_MAX];

	assert_int_equal(cgroup_path_of_pid("/proc", pid, path, sizeof(path)), 0);
	assert_string_equal(path, want);
}

static void test_socket_keeps_creators_cgroup(void **state)
{
	int report[2], cmd[2], st;
	char want[PATH_MAX + 32], elsewhere[PATH_MAX + 32], k;
	struct cgroup_ids *ids;
	uint64_t id, hid, ino;
	uint16_t port;
	pid_t pid;

	(void)state;
	snprintf(want, sizeof(want), "%s/a.slice/b.service", rel);
	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", rel);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	assert_int_equal(pipe2(cmd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(report[0]);
		close(cmd[1]);
		child_main(report[1], cmd[0]);
	}
	kids[0] = pid;
	close(report[1]);
	close(cmd[0]);
	assert_int_equal(read(report[0], &port, sizeof(port)), sizeof(port));
	port = ntohs(port);
	cgroup_is(pid, want);

	/* The dumped id is the directory's handle, and on this 64-bit kernel
	 * its inode number too. */
	id = dumped_id(port);
	hid = handle_id("a.slice/b.service", &ino);
	assert_true(id != 0);
	assert_int_equal(id, hid);
	if (sizeof(long) == 8)
		assert_int_equal(id, ino);
	assert_int_equal(cgroup_ids_load(mnt, &ids), 0);
	assert_non_null(cgroup_ids_path(ids, id));
	assert_string_equal(cgroup_ids_path(ids, id), want);
	assert_true(cgroup_ids_count(ids) >= 4);
	assert_null(cgroup_ids_path(ids, 0));

	/* The creator moves; its socket stays where it was made. */
	assert_int_equal(write(cmd[1], "m", 1), 1);
	assert_int_equal(read(report[0], &k, 1), 1);
	cgroup_is(pid, elsewhere);
	assert_int_equal(dumped_id(port), id);
	assert_non_null(cgroup_ids_path(ids, id));
	assert_string_equal(cgroup_ids_path(ids, id), want);
	cgroup_ids_free(ids);

	close(cmd[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	kids[0] = 0;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(report[0]);
}

/* Makes and removes cgroups (with a child each) under churn/ until killed. */
static void churn_main(void)
{
	char p[PATH_MAX + 64];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		for (int i = 0; i < 16; i++) {
			snprintf(p, sizeof(p), "%s/churn/c%d", parent, i);
			mkdir(p, 0755);
			snprintf(p, sizeof(p), "%s/churn/c%d/x", parent, i);
			mkdir(p, 0755);
		}
		for (int i = 0; i < 16; i++) {
			snprintf(p, sizeof(p), "%s/churn/c%d/x", parent, i);
			rmdir(p);
			snprintf(p, sizeof(p), "%s/churn/c%d", parent, i);
			rmdir(p);
		}
	}
}

/* Cgroups that vanish between being listed and being read are left out;
 * the walk goes on and still finds the ones that stay. */
static void test_walk_while_tree_changes(void **state)
{
	char stay[PATH_MAX + 32], p[PATH_MAX + 32];
	uint64_t id, ino, end;
	unsigned loads = 0;
	pid_t pid;
	int st;

	(void)state;
	snprintf(stay, sizeof(stay), "%s/a.slice/b.service", rel);
	id = handle_id("a.slice/b.service", &ino);
	mk("churn");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		churn_main();
	kids[1] = pid;
	end = cwt_now_ms() + 1000;
	while (cwt_now_ms() < end || loads < 20) {
		struct cgroup_ids *ids = NULL;
		int ret = cgroup_ids_load(mnt, &ids);

		if (ret)
			fail_msg("load %u while cgroups come and go: %s", loads, strerror(-ret));
		assert_non_null(cgroup_ids_path(ids, id));
		assert_string_equal(cgroup_ids_path(ids, id), stay);
		cgroup_ids_free(ids);
		loads++;
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	kids[1] = 0;
	snprintf(p, sizeof(p), "%s/churn", parent);
	cwt_cgroup_rm_tree(p);
}

static int setup(void **state)
{
	int ret;

	(void)state;
	ret = cgroup2_mount_find(mnt, sizeof(mnt));
	if (ret) {
		fprintf(stderr, "test_cgroup_id: no cgroup2 mount in /proc/self/mountinfo (%s): "
				"the cgroup tests need a writable cgroup2\n",
			strerror(-ret));
		return -1;
	}
	snprintf(rel, sizeof(rel), "/closewait-test-%d", (int)getpid());
	snprintf(parent, sizeof(parent), "%s%s", mnt, rel);
	if (mkdir(parent, 0755)) {
		fprintf(stderr, "test_cgroup_id: cannot make %s (%s): the cgroup tests need a "
				"writable cgroup2\n",
			parent, strerror(errno));
		return -1;
	}
	mk("a.slice");
	mk("a.slice/b.service");
	mk("elsewhere");
	return 0;
}

static int teardown(void **state)
{
	struct stat st;

	(void)state;
	for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++)
		if (kids[i] > 0 && kill(kids[i], SIGKILL) == 0)
			waitpid(kids[i], NULL, 0);
	cwt_cgroup_rm_tree(parent);
	if (stat(parent, &st) == 0) {
		fprintf(stderr, "test_cgroup_id: could not remove %s\n", parent);
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_socket_keeps_creators_cgroup),
		CWT_FD_TEST(test_walk_while_tree_changes),
	};

	cwt_netns();
	return cmocka_run_group_tests(tests, setup, teardown);
}
