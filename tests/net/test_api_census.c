/* Direct tests of the census accessors (census.h) on real sockets in a
 * private network namespace: owners and their kinds, the clocks of a
 * census, a walk that stopped early, and processes whose fds cannot be read
 * (seen from inside a private PID namespace, so the count is exact). */
#include "cwtest.h"
#include "cwtest_main.h"
#include "child_passed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "closewait/census.h"

#define CHILD_COMM "api-census-kid"

static int listener(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8)) {
		perror("listener");
		exit(1);
	}
	return fd;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len))
		return 0;
	return ntohs(a.sin_port);
}

/* Owners, every holder of each socket. */
static void opts_all_owners(struct cw_census_opts *o)
{
	cw_census_opts_init(o);
	o->owners = o->all_owners = true;
}

/* The census's socket with this local and remote port (0: none), or -1. */
static long find(const struct cw_census *c, uint16_t lport, uint16_t rport, int state)
{
	for (size_t i = 0; i < cw_census_count(c); i++) {
		const struct cw_sock *s = cw_census_sock(c, i);

		if (s->local.port == lport && s->peer.port == rport && s->state == state)
			return (long)i;
	}
	return -1;
}

/* Socket i's owner n (0: the first) is pid, through its fd; returns it. */
static const struct cw_owner *owner_is(const struct cw_census *c, size_t i, size_t n, pid_t pid, int fd)
{
	const struct cw_owner *ow = cw_census_owner(c, i, n);

	assert_non_null(ow);
	assert_int_equal(ow->pid, pid);
	assert_int_equal(ow->fd, fd);
	return ow;
}

static void read_comm(pid_t pid, char comm[16])
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_non_null(fgets(comm, 16, f));
	comm[strcspn(comm, "\n")] = 0;
	fclose(f);
}

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A child process that holds a socket. */
struct kid {
	pid_t pid;
	int fd;                       /* its fd for the socket (its own numbering) */
	uint16_t port;
	int go[2];                    /* the parent closes go[1]: the kid exits */
};

/* share >= 0: the kid keeps that inherited socket, moved to fd 100; else it
 * drops it and makes a listener of its own. It names itself CHILD_COMM. */
static void kid_start(struct kid *k, int share)
{
	int ready[2];
	char b;

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(k->go, O_CLOEXEC), 0);
	k->pid = fork();
	assert_true(k->pid >= 0);
	if (k->pid == 0) {
		int fd;
		uint16_t port;

		prctl(PR_SET_NAME, CHILD_COMM);
		close(k->go[1]);
		if (share >= 0) {
			fd = dup2(share, 100);
			close(share);
		} else {
			fd = listener();
		}
		port = local_port(fd);
		if (fd < 0 || write(ready[1], &fd, sizeof(fd)) != sizeof(fd) ||
		    write(ready[1], &port, sizeof(port)) != sizeof(port))
			_exit(1);
		(void)!read(k->go[0], &b, 1); /* until the parent closes its end */
		_exit(0);
	}
	close(ready[1]);
	close(k->go[0]);
	assert_int_equal(read(ready[0], &k->fd, sizeof(k->fd)), sizeof(k->fd));
	assert_int_equal(read(ready[0], &k->port, sizeof(k->port)), sizeof(k->port));
	close(ready[0]);
}

static void kid_end(struct kid *k)
{
	close(k->go[1]);
	child_passed(k->pid);
}

static uint16_t g_unwanted;
static bool want_but_one(const struct cw_sock *s, void *arg)
{
	(void)arg;
	return s->local.port != g_unwanted;
}

static bool tw_reached(void *arg)
{
	const uint16_t *p = arg;

	return cwt_pair_state(p[0], p[1], NULL) == CW_TCP_TIME_WAIT;
}

/* cw_census_owner, cw_census_owner_kind, cw_census_has_owners: our
 * listener is ours (pid, fd, comm), the kid's is the kid's; a TIME_WAIT
 * socket has no file (orphan); a socket not looked up has an owner unknown;
 * a census taken without owners has none and says so. */
static void test_owners(void **state)
{
	struct cw_census_opts o;
	struct cw_census *c;
	struct kid k;
	char comm[16], kid_comm[16];
	int l, unwanted, cli, srv;
	uint16_t tw[2];
	long il, ik, itw, iu;

	(void)state;
	cw_census_opts_init(&o);
	o.owners = o.all_owners = true;
	o.want = want_but_one;
	kid_start(&k, -1); /* first: it must not inherit our sockets */
	l = listener();
	unwanted = listener();
	/* the client's end closes first and ends in TIME_WAIT */
	cli = cwt_connect("127.0.0.1", local_port(l));
	assert_true(cli >= 0);
	srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(srv >= 0);
	tw[0] = local_port(cli);
	tw[1] = local_port(l);
	close(cli);
	close(srv);
	assert_true(cwt_poll_until(tw_reached, tw, (unsigned)cwt_slack_ms(2000)) >= 0);
	g_unwanted = local_port(unwanted);

	assert_int_equal(cw_census_take(&o, &c), 0);
	assert_true(cw_census_has_owners(c));
	il = find(c, local_port(l), 0, CW_TCP_LISTEN);
	ik = find(c, k.port, 0, CW_TCP_LISTEN);
	itw = find(c, tw[0], tw[1], CW_TCP_TIME_WAIT);
	iu = find(c, g_unwanted, 0, CW_TCP_LISTEN);
	assert_true(il >= 0 && ik >= 0 && itw >= 0 && iu >= 0);

	read_comm(getpid(), comm);
	read_comm(k.pid, kid_comm);
	assert_string_equal(kid_comm, CHILD_COMM);
	assert_int_equal(cw_census_owner_kind(c, (size_t)il), CW_OWNED);
	assert_int_equal(cw_census_owner_count(c, (size_t)il), 1);
	assert_string_equal(owner_is(c, (size_t)il, 0, getpid(), l)->comm, comm);

	assert_int_equal(cw_census_owner_kind(c, (size_t)ik), CW_OWNED);
	assert_int_equal(cw_census_owner_count(c, (size_t)ik), 1);
	assert_string_equal(owner_is(c, (size_t)ik, 0, k.pid, k.fd)->comm, CHILD_COMM);

	assert_int_equal(cw_census_sock(c, (size_t)itw)->inode, 0);
	assert_int_equal(cw_census_owner_kind(c, (size_t)itw), CW_ORPHAN);
	assert_int_equal(cw_census_owner_count(c, (size_t)itw), 0);

	assert_int_not_equal(cw_census_sock(c, (size_t)iu)->inode, 0);
	assert_int_equal(cw_census_owner_kind(c, (size_t)iu), CW_UNKNOWN);
	assert_int_equal(cw_census_owner_count(c, (size_t)iu), 0);
	cw_census_free(c);

	/* without owners: none known, and the census says it did not look */
	assert_int_equal(cw_census_take(NULL, &c), 0);
	assert_false(cw_census_has_owners(c));
	il = find(c, local_port(l), 0, CW_TCP_LISTEN);
	assert_true(il >= 0);
	assert_int_equal(cw_census_owner_kind(c, (size_t)il), CW_UNKNOWN);
	assert_int_equal(cw_census_owner_count(c, (size_t)il), 0);
	cw_census_free(c);

	kid_end(&k);
	close(l);
	close(unwanted);
}

struct want_clock {
	uint64_t first_ms;            /* CLOCK_MONOTONIC at the first want() */
	int calls;
};

/* Called while the owners are being looked up, after the dumps: the first
 * call sleeps, so that what is stamped after the walk is told apart. */
static bool want_slowly(const struct cw_sock *s, void *arg)
{
	struct want_clock *w = arg;

	(void)s;
	if (w->calls++ == 0) {
		w->first_ms = clock_ms(CLOCK_MONOTONIC);
		cwt_sleep_ms(30);
	}
	return true;
}

/* cw_census_time_ms: CLOCK_REALTIME when the dump began; cw_census_mono_ms:
 * CLOCK_MONOTONIC then; cw_census_mono_end_ms: when the dump ended, which is
 * before the owners are looked up. */
static void test_times(void **state)
{
	struct want_clock w = { 0 };
	struct cw_census_opts o;
	struct cw_census *c;
	uint64_t r0, m0, r1, m1;
	int l = listener();

	(void)state;
	cw_census_opts_init(&o);
	o.owners = true;
	o.want = want_slowly;
	o.want_arg = &w;
	r0 = clock_ms(CLOCK_REALTIME);
	m0 = clock_ms(CLOCK_MONOTONIC);
	assert_int_equal(cw_census_take(&o, &c), 0);
	m1 = clock_ms(CLOCK_MONOTONIC);
	r1 = clock_ms(CLOCK_REALTIME);
	print_message("realtime %llu in [%llu, %llu]; monotonic %llu..%llu in [%llu, %llu], owners from %llu\n",
		      (unsigned long long)cw_census_time_ms(c), (unsigned long long)r0,
		      (unsigned long long)r1, (unsigned long long)cw_census_mono_ms(c),
		      (unsigned long long)cw_census_mono_end_ms(c), (unsigned long long)m0,
		      (unsigned long long)m1, (unsigned long long)w.first_ms);
	assert_true(w.calls > 0);
	assert_true(r0 <= cw_census_time_ms(c) && cw_census_time_ms(c) <= r1);
	assert_true(m0 <= cw_census_mono_ms(c));
	assert_true(cw_census_mono_ms(c) <= cw_census_mono_end_ms(c));
	assert_true(cw_census_mono_end_ms(c) <= w.first_ms);
	assert_true(w.first_ms + 30 <= m1);
	cw_census_free(c);
	close(l);
}

static uint16_t g_only;
static bool want_only(const struct cw_sock *s, void *arg)
{
	(void)arg;
	return s->local.port == g_only;
}

/* cw_census_owners_partial: a socket held by two processes; a walk told to
 * stop once every wanted socket has an owner stops at the first (one walker:
 * the second process is never read) and says so; with all_owners it reads
 * every process, finds both, and is not partial. */
static void test_owners_partial(void **state)
{
	struct cw_census_opts o;
	struct cw_census *c;
	struct kid k;
	int l = listener();
	pid_t lo, hi;
	long i;

	(void)state;
	cw_census_opts_init(&o);
	o.owners = true;
	o.threads = 1;
	o.want = want_only;
	kid_start(&k, l); /* the kid holds our listener as its fd 100 */
	g_only = local_port(l);
	lo = getpid() < k.pid ? getpid() : k.pid;
	hi = getpid() < k.pid ? k.pid : getpid();

	assert_int_equal(cw_census_take(&o, &c), 0);
	i = find(c, g_only, 0, CW_TCP_LISTEN);
	assert_true(i >= 0);
	assert_int_equal(cw_census_owner_count(c, (size_t)i), 1);
	/* the walk goes up the pids: the first holder it meets */
	owner_is(c, (size_t)i, 0, lo, lo == k.pid ? k.fd : l);
	assert_true(cw_census_owners_partial(c));
	cw_census_free(c);

	o.all_owners = true;
	assert_int_equal(cw_census_take(&o, &c), 0);
	i = find(c, g_only, 0, CW_TCP_LISTEN);
	assert_true(i >= 0);
	assert_int_equal(cw_census_owner_count(c, (size_t)i), 2);
	owner_is(c, (size_t)i, 0, lo, lo == k.pid ? k.fd : l);
	owner_is(c, (size_t)i, 1, hi, hi == k.pid ? k.fd : l);
	assert_false(cw_census_owners_partial(c));
	cw_census_free(c);

	/* no walk at all: nothing stopped early */
	assert_int_equal(cw_census_take(NULL, &c), 0);
	assert_false(cw_census_owners_partial(c));
	cw_census_free(c);

	kid_end(&k);
	close(l);
}

/* ---- Unreadable processes, in a private PID namespace ----
 * Its /proc lists two processes: 1, root, holding one listener, and 2,
 * which drops to nobody (no CAP_SYS_PTRACE, another uid) and holds another.
 * Each takes a census; the children report by exit status (cmocka's
 * asserts belong to the test process), the reason on stderr. */

#define FAIL(code, ...) do { fprintf(stderr, "unreadable: " __VA_ARGS__); fputc('\n', stderr); return code; } while (0)

static int check_owned(const struct cw_census *c, uint16_t port, pid_t pid, int fd, int code)
{
	long i = find(c, port, 0, CW_TCP_LISTEN);
	const struct cw_owner *ow;
	size_t n;

	if (i < 0)
		FAIL(code, "no listener on port %u", port);
	n = cw_census_owner_count(c, (size_t)i);
	ow = n ? cw_census_owner(c, (size_t)i, 0) : NULL;
	if (cw_census_owner_kind(c, (size_t)i) != CW_OWNED || n != 1 || !ow)
		FAIL(code + 1, "port %u: kind %d, %zu owners", port, cw_census_owner_kind(c, (size_t)i), n);
	if (ow->pid != pid || ow->fd != fd)
		FAIL(code + 2, "port %u: owner %d fd %d, not %d fd %d", port, (int)ow->pid, ow->fd,
		     (int)pid, fd);
	return 0;
}

/* Process 2, as nobody: process 1's fds are unreadable (counted once, its
 * socket's owner unknown); its own are readable. */
static int nobody_census(uint16_t root_port, int own_fd)
{
	struct cw_census_opts o;
	struct cw_census *c;
	int fds = cwt_fd_count(0), err, rc;
	long i;

	opts_all_owners(&o);
	err = cw_census_take(&o, &c);
	if (err)
		FAIL(10, "census as nobody: %s", strerror(-err));
	if (cw_census_unreadable(c) != 1)
		FAIL(11, "as nobody: %u unreadable, not 1", cw_census_unreadable(c));
	i = find(c, root_port, 0, CW_TCP_LISTEN);
	if (i < 0 || cw_census_owner_kind(c, (size_t)i) != CW_UNKNOWN)
		FAIL(12, "as nobody: the root process's listener is not of unknown owner");
	rc = check_owned(c, local_port(own_fd), getpid(), own_fd, 13);
	cw_census_free(c);
	if (rc)
		return rc;
	/* Told to stop early, the walk still reads both: the root process's
	 * socket never gets an owner. */
	o.all_owners = false;
	err = cw_census_take(&o, &c);
	if (err)
		FAIL(16, "census as nobody: %s", strerror(-err));
	rc = cw_census_unreadable(c) != 1 ? 17 : cw_census_owners_partial(c) ? 18 : 0;
	cw_census_free(c);
	if (rc)
		FAIL(rc, "as nobody, stopping early: unreadable or partial wrong");
	if (cwt_fd_count(0) != fds)
		FAIL(19, "as nobody: %d fds after the censuses, %d before", cwt_fd_count(0), fds);
	return 0;
}

static int nobody_main(int root_listener, int report, int go)
{
	uint16_t root_port = local_port(root_listener), port;
	int fd, rc;
	char b;

	close(root_listener); /* process 1 alone holds it */
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		FAIL(20, "cannot become nobody: %s", strerror(errno));
	fd = listener();
	rc = nobody_census(root_port, fd);
	port = local_port(fd);
	if (write(report, &fd, sizeof(fd)) != sizeof(fd) ||
	    write(report, &port, sizeof(port)) != sizeof(port) || read(go, &b, 1) < 0)
		rc = rc ? rc : 21;
	close(fd);
	return rc;
}

/* Process 1 (root): mounts this namespace's /proc, starts process 2, and
 * once it has reported takes a census of its own, which reads both. */
static int root_main(void)
{
	int l, report[2], go[2], kid_fd, st, rc;
	uint16_t kid_port;
	struct cw_census_opts o;
	struct cw_census *c;
	pid_t kid;

	if (getpid() != 1)
		FAIL(30, "not process 1 of a new PID namespace");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		FAIL(31, "mount /proc: %s", strerror(errno));
	l = listener();
	if (pipe(report) || pipe(go))
		FAIL(32, "pipe");
	kid = fork();
	if (kid == 0) {
		close(report[0]);
		close(go[1]);
		_exit(nobody_main(l, report[1], go[0]));
	}
	close(report[1]);
	close(go[0]);
	if (read(report[0], &kid_fd, sizeof(kid_fd)) != sizeof(kid_fd) ||
	    read(report[0], &kid_port, sizeof(kid_port)) != sizeof(kid_port)) {
		waitpid(kid, &st, 0);
		return WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 33;
	}
	opts_all_owners(&o);
	rc = cw_census_take(&o, &c);
	if (rc)
		FAIL(34, "census as root: %s", strerror(-rc));
	if (cw_census_unreadable(c) != 0)
		rc = 35;
	rc = rc ? rc : check_owned(c, local_port(l), 1, l, 36);
	rc = rc ? rc : check_owned(c, kid_port, kid, kid_fd, 39);
	if (rc)
		fprintf(stderr, "unreadable: as root, check %d failed (%u unreadable)\n", rc,
			cw_census_unreadable(c));
	cw_census_free(c);
	close(go[1]);
	waitpid(kid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return WIFEXITED(st) ? WEXITSTATUS(st) : 40;
	close(l);
	return rc;
}

/* cw_census_unreadable: exactly the processes whose fds we may not read. */
static void test_unreadable(void **state)
{
	pid_t outer = fork();
	int st;

	(void)state;
	assert_true(outer >= 0);
	if (outer == 0) {
		pid_t init;

		/* a PID namespace for our children, a mount namespace for its /proc */
		if (unshare(CLONE_NEWPID | CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
			fprintf(stderr, "unreadable: unshare: %s\n", strerror(errno));
			_exit(2);
		}
		init = fork();
		if (init == 0)
			_exit(root_main());
		if (init < 0 || waitpid(init, &st, 0) != init || !WIFEXITED(st))
			_exit(3);
		_exit(WEXITSTATUS(st));
	}
	child_passed(outer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_owners),
		CWT_FD_TEST(test_times),
		CWT_FD_TEST(test_owners_partial),
		CWT_FD_TEST(test_unreadable),
	};

	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
