/* The reap library on real sockets, in a private network namespace: this
 * process owns the leaked sockets and reaps them through its own pidfd, so
 * the tests can act inside the seam (reap_testing.h) and check
 * that every fd reap opened is closed again. */
#include "cwtest.h"
#include "cwtest_main.h"
#include "child_passed.h"
#include "cwt_fault.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "closewait/reap.h"
#include "reap/reap_testing.h"
#include "reap_leak.h"

/* The end of a test that reaped l: frees r and l, and the fds are back to
 * the start_fds the test began with. */
static void reaped_free(struct cw_reap *r, struct leak *l, int start_fds)
{
	cw_reap_free(r);
	leak_free(l);
	assert_int_equal(cwt_fd_count(0), start_fds);
}

/* The owner's fd after reap: closed, EOF (the peer's FIN, read first), and
 * err for the owner's next write. */
static void owner_sees_closed(int fd, int err)
{
	char b;

	assert_int_equal(tcp_state(fd), TCP_CLOSE);
	assert_int_equal(read(fd, &b, 1), 0);
	assert_int_equal(send(fd, "x", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(errno, err);
}

static void test_fin_clean_owner_fd_stays(void **state)
{
	int start = cwt_fd_count(0);
	struct cw_reap_opts o = reap_opts(1000);
	struct leak l;
	struct cw_reap *r;

	(void)state;
	leak_make(&l, 2);
	r = select_ours(&l, CW_REAP_FIN);
	assert_int_equal(cw_reap_item(r, 0)->status, CW_REAP_TO_REAP);
	assert_int_equal(cw_reap_item(r, 0)->pid, getpid());
	assert_int_equal(cw_reap_run(r, &o), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cw_reap_item(r, (size_t)i)->status, CW_REAP_CLEAN);
		assert_int_equal(cw_reap_item(r, (size_t)i)->end_state, CW_TCP_CLOSE);
	}
	/* our fds are still valid: EOF, then EPIPE on write */
	for (int i = 0; i < 2; i++)
		owner_sees_closed(l.fd[i], EPIPE);
	/* reap closed its duplicates and its pidfd */
	assert_int_equal(cwt_fd_count(0), start + 3);
	reaped_free(r, &l, start);
}

/* Puts a new connection on the address pair of fd, our CLOSE_WAIT end:
 * our end is reset away (SO_LINGER {1,0}: the pair is gone from both sides
 * at once, no TIME_WAIT), the client reconnects from the same port and
 * closes, and the new end, in CLOSE_WAIT too, takes the same fd number.
 * Only its inode (and the kernel's cookie) differ. */
static void replace_pair(struct leak *l, int fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in to = a;
	struct linger lg = { 1, 0 };
	int c, s, one = 1;
	long waited;

	a.sin_port = htons(peer_port(fd));
	to.sin_port = htons(l->port);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	assert_int_equal(close(fd), 0); /* the RST: the client's orphaned end goes too */
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(c, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(connect(c, (struct sockaddr *)&to, sizeof(to)), 0);
	s = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	close(c);
	for (waited = 0; tcp_state(s) != TCP_CLOSE_WAIT && waited < 2000; waited++)
		cwt_sleep_ms(1);
	assert_int_equal(tcp_state(s), TCP_CLOSE_WAIT);
	if (s != fd) { /* c may have had fd's number while s was accepted */
		assert_int_equal(dup2(s, fd), fd);
		close(s);
	}
}

struct seam {
	struct leak *l;
	int what;                     /* 0 replace the fd, 1 close it, 2 shutdown it, 3 replace the address pair */
	int calls;
	uint32_t new_inode;
};

static void seam_act(const struct cw_reap_item *it, void *arg)
{
	struct seam *s = arg;
	int fresh;

	if (s->calls++)
		return;
	switch (s->what) {
	case 0: /* close the fd and put a new CLOSE_WAIT connection on its number */
		fresh = close_wait_one(s->l);
		assert_int_equal(dup2(fresh, it->fd), it->fd);
		close(fresh);
		s->new_inode = inode_of(it->fd);
		break;
	case 1:
		close(it->fd);
		s->l->fd[0] = -1;
		break;
	case 2: /* the owner fixes itself: our FIN goes out, LAST_ACK, then CLOSE */
		shutdown(it->fd, SHUT_WR);
		break;
	default:
		replace_pair(s->l, it->fd);
		s->new_inode = inode_of(it->fd);
		break;
	}
}

/* Leaks n sockets into s->l, selects them in mode and runs that with the
 * seam doing s->what before the first act; wait_ms 0: the default options
 * (NULL). The run returns 0. */
static struct cw_reap *seam_run(struct seam *s, int n, enum cw_reap_mode mode, uint64_t wait_ms)
{
	struct cw_reap_opts o = reap_opts(wait_ms);
	struct reap_seam seam = { seam_act, s };
	struct cw_reap *r;

	leak_make(s->l, n);
	r = select_ours(s->l, mode);
	assert_int_equal(reap_run_seam(r, wait_ms ? &o : NULL, &seam), 0);
	return r;
}

static void test_seam_replaced_fd_is_skipped(void **state)
{
	int start = cwt_fd_count(0);
	struct leak l;
	struct seam s = { &l, 0, 0, 0 };
	struct cw_reap *r = seam_run(&s, 2, CW_REAP_FIN, 1000);
	const struct cw_reap_item *it;

	(void)state;
	it = cw_reap_item(r, 0);
	assert_int_equal(it->status, CW_REAP_SKIP_REPLACED);
	assert_int_equal(it->new_inode, s.new_inode);
	assert_int_not_equal(it->new_inode, it->sock->inode);
	assert_int_equal(cw_reap_item(r, 1)->status, CW_REAP_CLEAN);
	/* the new connection on that fd number was not touched */
	assert_int_equal(tcp_state(it->fd), TCP_CLOSE_WAIT);
	assert_int_equal(s.calls, 2);
	reaped_free(r, &l, start);
}

static void test_seam_closed_fd_is_gone(void **state)
{
	int start = cwt_fd_count(0);
	struct leak l;
	struct seam s = { &l, 1, 0, 0 };
	struct cw_reap *r = seam_run(&s, 2, CW_REAP_FIN, 1000); /* it selected l.fd[0] first */

	(void)state;
	assert_int_equal(cw_reap_item(r, 0)->status, CW_REAP_SKIP_GONE);
	assert_int_equal(cw_reap_item(r, 0)->err, -EBADF);
	assert_int_equal(cw_reap_item(r, 1)->status, CW_REAP_CLEAN);
	reaped_free(r, &l, start);
}

static void test_seam_state_changed_is_skipped(void **state)
{
	int start = cwt_fd_count(0);
	struct leak l;
	struct seam s = { &l, 2, 0, 0 };
	struct cw_reap *r = seam_run(&s, 1, CW_REAP_FIN, 1000);
	const struct cw_reap_item *it;

	(void)state;
	it = cw_reap_item(r, 0);
	assert_int_equal(it->status, CW_REAP_SKIP_CHANGED);
	assert_true(it->end_state == CW_TCP_LAST_ACK || it->end_state == CW_TCP_CLOSE);
	reaped_free(r, &l, start);
}

/* The peer never sees our FIN (nftables drops the pair's packets): after
 * the wait it is reported fin-sent, still in LAST_ACK, our duplicate closed. */
static void test_fin_unanswered_is_fin_sent(void **state)
{
	int start = cwt_fd_count(0);
	struct cw_reap_opts o = reap_opts(300);
	struct leak l;
	struct cw_reap *r;
	const struct cw_reap_item *it;

	(void)state;
	r = leak_unanswered(&l);
	assert_int_equal(cw_reap_run(r, &o), 0);
	it = cw_reap_item(r, 0);
	assert_int_equal(it->status, CW_REAP_FIN_SENT);
	assert_int_equal(it->end_state, CW_TCP_LAST_ACK);
	assert_int_equal(tcp_state(l.fd[0]), TCP_LAST_ACK);
	cwt_nft_clear();
	reaped_free(r, &l, start);
}

/* Not answered at first (the first check, the bulk one, sees LAST_ACK);
 * the drop ends 300 ms in, the kernel retransmits the FIN, and a later
 * check (one socket at a time) sees it answered: clean. */
static void test_fin_answered_late_is_clean(void **state)
{
	int start = cwt_fd_count(0);
	struct cw_reap_opts o = reap_opts(10000);
	struct leak l;
	struct cw_reap *r = leak_unanswered(&l);
	uint64_t ran;

	(void)state;
	ran = run_answered_late(r, &o); /* when the run saw its answer */
	/* The kernel agrees: the owner's socket is closed. */
	assert_int_equal(tcp_state(l.fd[0]), TCP_CLOSE);
	print_message("FIN answered once the drop ended (300 ms in): the run returned %llu ms in\n",
		      (unsigned long long)ran);
	/* The first check runs right after the FIN, long before the drop ends:
	 * an answer seen before 300 ms is one nobody sent. Seen after it and
	 * before the wait ran out: a later pass saw it. */
	assert_true(ran >= 300);
	assert_true(ran < o.wait_ms);
	assert_int_equal(cw_reap_item(r, 0)->status, CW_REAP_CLEAN);
	assert_int_equal(cw_reap_item(r, 0)->end_state, CW_TCP_CLOSE);
	reaped_free(r, &l, start);
}

static size_t census_count_ports(int port, int sport, int dport)
{
	struct cw_filter f;
	struct cw_census_opts co;
	struct cw_census *c;
	size_t n;

	cw_census_opts_init(&co);
	co.ports = &f;
	cw_filter_init(&f);
	f.port = port;
	f.sport = sport;
	f.dport = dport;
	assert_int_equal(cw_census_take(&co, &c), 0);
	n = cw_census_count(c);
	for (size_t i = 0; i < n; i++)
		assert_true(cw_filter_match_addr(&f, cw_census_sock(c, i)));
	cw_census_free(c);
	return n;
}

/* The kernel takes the port bytecode and dumps only what matches: on the
 * leak's port, the listener and our 3 CLOSE_WAIT ends (local port) and the
 * clients' 3 closed ends (remote port); on another port, nothing of ours. */
static void test_census_ports_in_kernel(void **state)
{
	int start = cwt_fd_count(0);
	struct leak l;

	(void)state;
	leak_make(&l, 3);
	assert_int_equal(census_count_ports(-1, l.port, -1), 4);
	assert_int_equal(census_count_ports(-1, -1, l.port), 3);
	assert_int_equal(census_count_ports(l.port, -1, -1), 7);
	assert_int_equal(census_count_ports(l.port, l.port, -1), 4);
	assert_int_equal(census_count_ports(-1, (uint16_t)(l.port + 1), -1), 0);
	leak_free(&l);
	assert_int_equal(cwt_fd_count(0), start);
}

/* cw_reap_now: the same outcomes as select + run, the walk and the FINs in
 * one pass. pid: the --pid filter (0: none, every process is read); seam
 * NULL: none. */
static struct cw_reap *reap_now_ours(const struct leak *l, pid_t pid, const struct cw_reap_opts *o,
				     const struct reap_seam *seam)
{
	struct cw_filter f;
	struct cw_reap *r;

	cw_filter_init(&f);
	f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	f.pid = pid;
	f.sport = l->port;
	if (seam)
		assert_int_equal(reap_now_seam(&f, NULL, o, seam, &r), 0);
	else
		assert_int_equal(cw_reap_now(&f, NULL, o, &r), 0);
	return r;
}

static void test_now_fin_clean(void **state)
{
	int start = cwt_fd_count(0);
	struct cw_reap_opts o = reap_opts(1000);
	struct cw_reap_counts n;
	struct leak l;
	struct cw_reap *r;

	(void)state;
	for (int by_pid = 0; by_pid < 2; by_pid++) {
		leak_make(&l, 4);
		r = reap_now_ours(&l, by_pid ? getpid() : 0, &o, NULL);
		assert_int_equal(cw_reap_count(r), 4);
		for (int i = 0; i < 4; i++) {
			const struct cw_reap_item *it = cw_reap_item(r, (size_t)i);

			assert_int_equal(it->status, CW_REAP_CLEAN);
			assert_int_equal(it->end_state, CW_TCP_CLOSE);
			assert_int_equal(it->pid, getpid());
			assert_int_equal(it->fd, l.fd[i]); /* sorted by fd, as select sorts */
			assert_int_equal(it->nowners, 1);
			assert_string_equal(it->comm, "net_reap");
			assert_int_equal(tcp_state(l.fd[i]), TCP_CLOSE);
		}
		cw_reap_counts(r, &n);
		assert_int_equal(n.acted, 4);
		/* the listener matched the port but not the state: never selected */
		assert_true(tcp_state(l.lfd) == TCP_LISTEN);
		cw_reap_free(r);
		/* only the owner's fds are left: reap closed its duplicates, its
		 * pidfd, and the walk's directories */
		assert_int_equal(cwt_fd_count(0), start + 5);
		leak_free(&l);
		assert_int_equal(cwt_fd_count(0), start);
	}
}

/* --pid of a process that holds none of them: nothing selected, nothing touched. */
static void test_now_other_pid_selects_nothing(void **state)
{
	int start = cwt_fd_count(0);
	struct cw_reap_opts o = reap_opts(1000);
	struct leak l;
	struct cw_reap *r;
	pid_t child;

	(void)state;
	leak_make(&l, 2);
	child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
		/* it inherited copies of our fds: close them */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		pause();
		_exit(0);
	}
	cwt_sleep_ms(50); /* let it close the copies it inherited */
	r = reap_now_ours(&l, child, &o, NULL);
	assert_int_equal(cw_reap_count(r), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(tcp_state(l.fd[i]), TCP_CLOSE_WAIT);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	reaped_free(r, &l, start);
}

/* The seam in the pipeline: the fd replaced right before acting is skipped. */
static void test_now_seam_replaced_fd_is_skipped(void **state)
{
	int start = cwt_fd_count(0);
	struct leak l;
	struct seam s = { &l, 0, 0, 0 };
	struct cw_reap_opts o = reap_opts(1000);
	struct reap_seam seam = { seam_act, &s };
	struct cw_reap *r;
	size_t replaced = 0, clean = 0;

	(void)state;
	leak_make(&l, 2);
	r = reap_now_ours(&l, getpid(), &o, &seam);
	assert_int_equal(cw_reap_count(r), 2);
	for (size_t i = 0; i < 2; i++) {
		const struct cw_reap_item *it = cw_reap_item(r, i);

		if (it->status == CW_REAP_SKIP_REPLACED) {
			replaced++;
			assert_int_equal(it->new_inode, s.new_inode);
			assert_int_equal(tcp_state(it->fd), TCP_CLOSE_WAIT); /* untouched */
		}
		clean += it->status == CW_REAP_CLEAN;
	}
	assert_int_equal(replaced, 1);
	assert_int_equal(clean, 1);
	assert_int_equal(s.calls, 2);
	reaped_free(r, &l, start);
}

static void test_rst_destroys(void **state)
{
	int start = cwt_fd_count(0);
	struct leak l;
	struct cw_reap *r;

	(void)state;
	leak_make(&l, 2);
	r = select_ours(&l, CW_REAP_RST);
	assert_int_equal(cw_reap_run(r, NULL), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cw_reap_item(r, (size_t)i)->status, CW_REAP_DESTROYED);
		/* tcp_abort: closed, ECONNABORTED for the owner's next write (the
		 * FIN already read makes read() return 0 first), then EPIPE */
		owner_sees_closed(l.fd[i], ECONNABORTED);
		assert_int_equal(send(l.fd[i], "x", 1, MSG_NOSIGNAL), -1);
		assert_int_equal(errno, EPIPE);
	}
	reaped_free(r, &l, start);
}

static void test_rst_seam_closed_is_not_destroyed(void **state)
{
	int start = cwt_fd_count(0);
	struct leak l;
	struct seam s = { &l, 1, 0, 0 };
	struct cw_reap *r = seam_run(&s, 1, CW_REAP_RST, 0);

	(void)state;
	/* close() sent our FIN: the socket is in LAST_ACK or already gone */
	assert_int_equal(cw_reap_status_kind(cw_reap_item(r, 0)->status), CW_REAP_KIND_SKIPPED);
	reaped_free(r, &l, start);
}

/* rst mode, the pair replaced between selection and action: the first
 * selected socket is reset away and its client reconnects from the same
 * port, so the same address pair, state and fd number hold a new socket.
 * The exact lookup right before acting sees another inode: replaced, with
 * the new inode, and left alone; the other one is destroyed. */
static void test_rst_seam_replaced_is_not_destroyed(void **state)
{
	int start = cwt_fd_count(0);
	struct leak l;
	struct seam s = { &l, 3, 0, 0 };
	struct cw_reap *r = seam_run(&s, 2, CW_REAP_RST, 0);
	const struct cw_reap_item *it;

	(void)state;
	assert_int_equal(s.calls, 2);
	it = cw_reap_item(r, 0);
	assert_int_equal(it->status, CW_REAP_SKIP_REPLACED);
	assert_int_equal(it->new_inode, s.new_inode);
	assert_int_not_equal(it->new_inode, it->sock->inode);
	/* the new connection on that pair is untouched: still CLOSE_WAIT, our
	 * write to it goes through (a destroyed one would fail) */
	assert_int_equal(cwt_pair_state(l.port, it->sock->peer.port, NULL), CW_TCP_CLOSE_WAIT);
	assert_int_equal(tcp_state(it->fd), TCP_CLOSE_WAIT);
	assert_int_equal(send(it->fd, "x", 1, MSG_NOSIGNAL), 1);
	assert_int_equal(cw_reap_item(r, 1)->status, CW_REAP_DESTROYED);
	assert_int_equal(tcp_state(cw_reap_item(r, 1)->fd), TCP_CLOSE);
	reaped_free(r, &l, start);
}

static void drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		_exit(90);
}

/* In a child: 0 if cw_reap_check_pid(pid) is refused for reason why and
 * leaves the child with the fds it had (a process's own /proc/PID/fd stays
 * readable to it after the uid change). */
static int check_refused(pid_t pid, enum cw_ptrace_block why, uid_t owner)
{
	struct cw_ptrace_denial d;
	int fds = cwt_fd_count(0), err = cw_reap_check_pid(pid, true, &d);

	if (err != -EPERM)
		return 1;
	if (d.why != why || d.our_uid != 65534 || d.cap_sys_ptrace || d.owner_uid != owner)
		return 2;
	if (fds < 0 || cwt_fd_count(0) != fds)
		return 3; /* the pidfd or a directory it opened is still open */
	return 0;
}

static void test_ptrace_other_user(void **state)
{
	pid_t parent = getpid(), child = fork();

	(void)state;
	assert_true(child >= 0);
	if (child == 0) {
		drop_to_nobody();
		_exit(check_refused(parent, CW_PTRACE_OTHER_UID, 0));
	}
	child_passed(child);
}

static void test_ptrace_not_dumpable(void **state)
{
	pid_t child = fork();
	int st;

	(void)state;
	assert_true(child >= 0);
	if (child == 0) {
		int p[2];
		pid_t target;
		char b;

		drop_to_nobody();
		if (pipe(p))
			_exit(91);
		target = fork();
		if (target == 0) { /* same user, not dumpable */
			prctl(PR_SET_DUMPABLE, 0);
			if (write(p[1], "r", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		if (read(p[0], &b, 1) != 1)
			_exit(92);
		st = check_refused(target, CW_PTRACE_NOT_DUMPABLE, 65534);
		kill(target, SIGKILL);
		waitpid(target, NULL, 0);
		_exit(st);
	}
	child_passed(child);
}

struct tid_wait {
	pid_t tid;
	int ready[2], go[2];
};

static void *thread_tid(void *arg)
{
	struct tid_wait *t = arg;
	char b;

	t->tid = gettid();
	if (write(t->ready[1], "t", 1) != 1 || read(t->go[0], &b, 1) != 1)
		return NULL;
	return NULL;
}

static void test_check_pid(void **state)
{
	struct cw_ptrace_denial d;
	struct tid_wait t;
	pthread_t th;
	char b;

	(void)state;
	assert_int_equal(cw_reap_check_pid(getpid(), true, &d), 0);
	assert_int_equal(cw_reap_check_pid(getpid(), false, &d), 0);
	assert_int_equal(cw_reap_check_pid(0x7ffffff0, true, &d), -ESRCH);
	/* a thread of ours is not a process: pidfd_open says EINVAL */
	assert_int_equal(pipe(t.ready), 0);
	assert_int_equal(pipe(t.go), 0);
	assert_int_equal(pthread_create(&th, NULL, thread_tid, &t), 0);
	assert_int_equal(read(t.ready[0], &b, 1), 1);
	assert_int_equal(cw_reap_check_pid(t.tid, true, &d), -EINVAL);
	assert_int_equal(write(t.go[1], "g", 1), 1);
	pthread_join(th, NULL);
	for (int i = 0; i < 2; i++) {
		close(t.ready[i]);
		close(t.go[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_census_ports_in_kernel),
		CWT_FD_TEST(test_fin_clean_owner_fd_stays),
		CWT_FD_TEST(test_seam_replaced_fd_is_skipped),
		CWT_FD_TEST(test_fin_unanswered_is_fin_sent),
		CWT_FD_TEST(test_fin_answered_late_is_clean),
		CWT_FD_TEST(test_seam_closed_fd_is_gone),
		CWT_FD_TEST(test_seam_state_changed_is_skipped),
		CWT_FD_TEST(test_now_fin_clean),
		CWT_FD_TEST(test_now_other_pid_selects_nothing),
		CWT_FD_TEST(test_now_seam_replaced_fd_is_skipped),
		CWT_FD_TEST(test_rst_destroys),
		CWT_FD_TEST(test_rst_seam_closed_is_not_destroyed),
		CWT_FD_TEST(test_rst_seam_replaced_is_not_destroyed),
		CWT_FD_TEST(test_ptrace_other_user),
		CWT_FD_TEST(test_ptrace_not_dumpable),
		CWT_FD_TEST(test_check_pid),
	};

	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
