/* Owners from a fake /proc tree (procfd.c): symlinks like the kernel's. */
#include "cwtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "census/census_procfd.h"

static char root[64];

/* pid with fds 0..n-1 -> "socket:[base+i]"; comm. */
static void fake_proc(int pid, const char *comm, unsigned base, int n)
{
	char p[256], l[64];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%d", root, pid);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%d/comm", root, pid);
	f = fopen(p, "w");
	fprintf(f, "%s\n", comm);
	fclose(f);
	snprintf(p, sizeof(p), "%s/%d/fd", root, pid);
	mkdir(p, 0755);
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%d/fd/%d", root, pid, i);
		snprintf(l, sizeof(l), "socket:[%u]", base + (unsigned)i);
		assert_int_equal(symlink(l, p), 0);
	}
	snprintf(p, sizeof(p), "%s/%d/fd/%d", root, pid, n);
	symlink("pipe:[5]", p);
	snprintf(p, sizeof(p), "%s/%d/fd/%d", root, pid, n + 1);
	symlink("/dev/null", p);
}

static int setup(void **state)
{
	char p[128];

	(void)state;
	strcpy(root, "/tmp/cw-procfd-XXXXXX");
	assert_non_null(mkdtemp(root));
	fake_proc(10, "alpha", 1000, 50);
	fake_proc(20, "beta", 2000, 50);
	fake_proc(30, "gamma", 3000, 50);
	fake_proc(40, "delta", 1010, 1); /* shares socket 1010 with pid 10 */
	snprintf(p, sizeof(p), "%s/self", root);
	mkdir(p, 0755); /* not a pid: skipped */
	snprintf(p, sizeof(p), "%s/50", root);
	mkdir(p, 0755); /* a process that vanished: no fd directory */
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static void test_owners_found(void **state)
{
	uint32_t want[] = { 1010, 2049, 3000, 0, 99999 };
	struct procfd_result r;

	(void)state;
	for (unsigned threads = 1; threads <= 2; threads++) {
		struct procfd_spec spec = { .root = root, .inodes = want, .n = 5, .threads = threads };

		assert_int_equal(procfd_scan(&spec, &r), 0);
		assert_int_equal(r.nhits, 4);
		/* sorted by wanted index, then pid */
		assert_int_equal(r.hits[0].idx, 0);
		assert_int_equal(r.hits[0].pid, 10);
		assert_int_equal(r.hits[0].fd, 10);
		assert_int_equal(r.hits[1].idx, 0);
		assert_int_equal(r.hits[1].pid, 40);
		assert_int_equal(r.hits[1].fd, 0);
		assert_int_equal(r.hits[2].pid, 20);
		assert_int_equal(r.hits[2].fd, 49);
		assert_int_equal(r.hits[3].pid, 30);
		assert_string_equal(procfd_comm(&r, 20), "beta");
		assert_string_equal(procfd_comm(&r, 40), "delta");
		assert_null(procfd_comm(&r, 50));
		assert_false(r.partial);
		assert_int_equal(r.readlinks, 3 * 52 + 3);
		procfd_result_free(&r);
	}
}

static void test_stops_early(void **state)
{
	uint32_t want[] = { 1001, 1002 };
	struct procfd_spec spec = { .root = root, .inodes = want, .n = 2, .threads = 1,
				    .stop_early = true };
	struct procfd_result r;

	(void)state;
	/* both in the first process read (pids in directory order): the others are skipped */
	assert_int_equal(procfd_scan(&spec, &r), 0);
	assert_int_equal(r.nhits, 2);
	assert_true(r.readlinks < 3 * 52);
	assert_true(r.partial);
	procfd_result_free(&r);
	/* nothing wanted: no work at all */
	spec.n = 0;
	spec.threads = 2;
	assert_int_equal(procfd_scan(&spec, &r), 0);
	assert_int_equal(r.nhits, 0);
	assert_int_equal(r.readlinks, 0);
	procfd_result_free(&r);
	spec = (struct procfd_spec){ .root = "/nonexistent-proc", .inodes = want, .n = 2,
				     .threads = 1, .stop_early = true };
	assert_int_equal(procfd_scan(&spec, &r), -ENOENT);
}

/* Out of fds, a process's fd directory cannot be opened: the pass fails
 * with EMFILE rather than report its sockets ownerless. The table is
 * filled with duplicates (under a low RLIMIT_NOFILE); the pids are given,
 * so the pass opens nothing before the walk. */
static void test_out_of_fds_fails(void **state)
{
	uint32_t want[] = { 1001 };
	pid_t only[] = { 10 };
	struct procfd_spec spec = { .root = root, .inodes = want, .n = 1, .threads = 1,
				    .only = only, .nonly = 1 };
	struct procfd_result r;
	struct rlimit old, low;
	int fill[256], n = 0, err;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 256;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 256 && (fill[n] = dup(0)) >= 0)
		n++;
	err = procfd_scan(&spec, &r);
	while (n)
		close(fill[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(err, -EMFILE);
	assert_int_equal(r.nhits, 0);
	/* with fds again, the same pass finds the owner */
	assert_int_equal(procfd_scan(&spec, &r), 0);
	assert_int_equal(r.nhits, 1);
	procfd_result_free(&r);
}

static void sink_count(const struct procfd_hit *h, void *arg)
{
	(void)h;
	(*(size_t *)arg)++;
}

/* Owners from a table (an outside source, cw_census_opts.fd_sockets): the
 * same result as the walk, each (socket, pid, fd) once, only the processes
 * asked for, the sink told of each. */
static void test_given_table(void **state)
{
	uint32_t want[] = { 1010, 2049, 3000, 0, 99999 };
	struct procfd_spec spec = { .root = root, .inodes = want, .n = 5, .threads = 1 };
	struct cw_fd_socket v[] = {
		{ 3000, 30, 0 }, { 1010, 40, 0 }, { 2049, 20, 49 }, { 1010, 10, 10 },
		{ 1010, 10, 10 },                 /* listed twice */
		{ 1011, 10, 11 },                 /* not wanted */
		{ 3000, 0, 0 },                   /* no pid */
		{ 1ull << 33 | 3000, 30, 1 },     /* not a 32-bit socket inode */
	};
	struct procfd_result walked, given;
	size_t told = 0;
	pid_t only = 40;
	struct procfd_sink sink = { sink_count, NULL, &told };

	(void)state;
	assert_int_equal(procfd_scan(&spec, &walked), 0);
	assert_int_equal(procfd_given(&spec, v, sizeof(v) / sizeof(v[0]), &sink, &given), 0);
	assert_int_equal(given.nhits, walked.nhits);
	assert_int_equal(told, given.nhits);
	for (size_t i = 0; i < given.nhits; i++) {
		assert_int_equal(given.hits[i].idx, walked.hits[i].idx);
		assert_int_equal(given.hits[i].pid, walked.hits[i].pid);
		assert_int_equal(given.hits[i].fd, walked.hits[i].fd);
	}
	assert_int_equal(given.nprocs, walked.nprocs);
	assert_string_equal(procfd_comm(&given, 40), "delta");
	assert_false(given.partial);
	assert_int_equal(given.unreadable, 0);
	procfd_result_free(&given);
	procfd_result_free(&walked);
	spec.only = &only;
	spec.nonly = 1;
	assert_int_equal(procfd_given(&spec, v, sizeof(v) / sizeof(v[0]), NULL, &given), 0);
	assert_int_equal(given.nhits, 1);
	assert_int_equal(given.hits[0].pid, 40);
	procfd_result_free(&given);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owners_found),
		cmocka_unit_test(test_stops_early),
		cmocka_unit_test(test_out_of_fds_fails),
		cmocka_unit_test(test_given_table),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
