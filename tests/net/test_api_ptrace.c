/* Direct test of cw_ptrace_explain (reap.h): why the kernel refuses us
 * another process's fds, for an owner given by uid (as reap does for a
 * socket with no owner found) and by pid, as root and as nobody; where it
 * names a refusal, the kernel is checked to refuse too. (The net_reap tests
 * reach it only through cw_reap_check_pid, always by pid.) */
#include "cwtest.h"
#include "cwtest_main.h"
#include "child_passed.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "closewait/reap.h"

#define NOBODY 65534

static int yama_file(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* The reason left when uid and dumpability allow access: Yama, if it
 * restricts anything, else another security module. */
static enum cw_ptrace_block allowed_reason(void)
{
	return yama_file() >= 1 ? CW_PTRACE_YAMA : CW_PTRACE_OTHER;
}

/* 0 if the kernel refuses to list pid's fds to us (EACCES). */
static int kernel_refuses(pid_t pid)
{
	char path[64];
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d) {
		closedir(d);
		return 1;
	}
	return errno == EACCES ? 0 : 2;
}

/* As root: we hold CAP_SYS_PTRACE, so neither another uid nor anything
 * about the owner explains a refusal. */
static void test_explain_as_root(void **state)
{
	struct cw_ptrace_denial d;

	(void)state;
	memset(&d, 0x5a, sizeof(d));
	cw_ptrace_explain(0, 1234, &d);
	assert_int_equal(d.owner_uid, 1234);
	assert_int_equal(d.our_uid, 0);
	assert_true(d.cap_sys_ptrace);
	assert_int_equal(d.yama_scope, yama_file());
	assert_int_equal(d.why, allowed_reason());

	cw_ptrace_explain(getpid(), (uid_t)-1, &d); /* the owner's uid from /proc */
	assert_int_equal(d.owner_uid, 0);
	assert_int_equal(d.why, allowed_reason());
}

#define CHECK(code, cond) do { if (!(cond)) { fprintf(stderr, "explain as nobody: check %d failed: %s\n", code, #cond); return code; } } while (0)

static int drop_to_nobody(void)
{
	return setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY) ? -1 : 0;
}

/* In a child that became nobody (no capabilities left). */
static int explain_as_nobody(pid_t root_pid)
{
	struct cw_ptrace_denial d;
	int p[2];
	pid_t target;
	char b;
	int rc = 0;

	/* by uid: another user, and no CAP_SYS_PTRACE */
	cw_ptrace_explain(0, 0, &d);
	CHECK(10, d.why == CW_PTRACE_OTHER_UID);
	CHECK(11, d.owner_uid == 0 && d.our_uid == NOBODY && !d.cap_sys_ptrace);
	CHECK(12, d.yama_scope == yama_file());
	/* by uid: our own, so the uid is not the reason */
	cw_ptrace_explain(0, NOBODY, &d);
	CHECK(13, d.why == allowed_reason() && d.owner_uid == NOBODY);
	/* by pid: root's process, its uid read from /proc; the kernel agrees */
	cw_ptrace_explain(root_pid, (uid_t)-1, &d);
	CHECK(14, d.why == CW_PTRACE_OTHER_UID && d.owner_uid == 0);
	CHECK(15, kernel_refuses(root_pid) == 0);
	/* by pid: our own user, not dumpable */
	if (pipe(p))
		return 16;
	target = fork();
	if (target == 0) {
		prctl(PR_SET_DUMPABLE, 0);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	if (target < 0 || read(p[0], &b, 1) != 1)
		return 17;
	cw_ptrace_explain(target, (uid_t)-1, &d);
	if (d.why != CW_PTRACE_NOT_DUMPABLE || d.owner_uid != NOBODY)
		rc = 18;
	else if (kernel_refuses(target) != 0)
		rc = 19;
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);
	close(p[0]);
	close(p[1]);
	if (rc)
		fprintf(stderr, "explain as nobody: not dumpable: check %d failed (why %d)\n", rc, d.why);
	return rc;
}

static void test_explain_as_nobody(void **state)
{
	pid_t root_pid = getpid(), child = fork();

	(void)state;
	assert_true(child >= 0);
	if (child == 0)
		_exit(drop_to_nobody() ? 2 : explain_as_nobody(root_pid));
	child_passed(child);
}

/* Same user, another group: the kernel wants every gid of the owner to be
 * ours too. The owner runs as nobody with gid 1234; we, as nobody with
 * nobody's group, are refused, and the reason names the group, not the user. */
static void test_explain_other_group(void **state)
{
	int p[2], st;
	pid_t target, checker;
	char b;

	(void)state;
	assert_int_equal(pipe(p), 0);
	target = fork();
	assert_true(target >= 0);
	if (target == 0) {
		if (setgroups(0, NULL) || setgid(1234) || setuid(NOBODY) || write(p[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(p[0], &b, 1), 1);
	checker = fork();
	assert_true(checker >= 0);
	if (checker == 0) {
		struct cw_ptrace_denial d;

		if (drop_to_nobody())
			_exit(2);
		cw_ptrace_explain(target, (uid_t)-1, &d);
		if (d.why != CW_PTRACE_OTHER_GROUP || d.owner_uid != NOBODY || d.our_uid != NOBODY ||
		    d.owner_gid != 1234 || d.our_gid != NOBODY) {
			fprintf(stderr, "other group: why %d owner %u/%u ours %u/%u\n", d.why,
				(unsigned)d.owner_uid, (unsigned)d.owner_gid, (unsigned)d.our_uid,
				(unsigned)d.our_gid);
			_exit(3);
		}
		_exit(kernel_refuses(target) ? 4 : 0);
	}
	assert_int_equal(waitpid(checker, &st, 0), checker);
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);
	close(p[0]);
	close(p[1]);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_explain_as_root),
		CWT_FD_TEST(test_explain_as_nobody),
		CWT_FD_TEST(test_explain_other_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
