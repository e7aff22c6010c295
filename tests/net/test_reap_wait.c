/* How reap (fin mode) waits for the answers to its FINs, at the edges: a
 * wait too long to add to the clock, and a check whose poll() fails. This
 * process owns the CLOSE_WAIT sockets and reaps them through its own pidfd,
 * in a private network namespace. */
#include "cwtest.h"
#include "cwtest_main.h"
#include "cwt_fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "closewait/reap.h"
#include "reap/reap_testing.h"
#include "reap_leak.h"

/* --wait of UINT64_MAX ms ("as long as it takes"): the deadline saturates
 * instead of wrapping into the past. The FIN goes unanswered while
 * nftables drops the pair's packets; 300 ms in the drop ends, the kernel
 * retransmits, and reap is still waiting to see the answer: clean, not
 * fin-sent. */
static void test_huge_wait_waits(void **state)
{
	struct cw_reap_opts o = reap_opts(UINT64_MAX);
	struct leak l;
	struct cw_reap *r = leak_unanswered(&l);
	uint64_t took;

	(void)state;
	took = run_answered_late(r, &o);
	print_message("answered %llu ms after the FIN\n", (unsigned long long)took);
	assert_int_equal(cw_reap_item(r, 0)->status, CW_REAP_CLEAN);
	assert_int_equal(cw_reap_item(r, 0)->end_state, CW_TCP_CLOSE);
	assert_true(took >= 300); /* not before the drop ended */
	cw_reap_free(r);
	leak_free(&l);
}

struct no_fds {
	struct leak *l;
	struct rlimit old;
	int calls;
};

/* Before the second socket is taken: once the first one's FIN is answered,
 * no fd may be opened (RLIMIT_NOFILE 0), so poll() fails with EINVAL
 * (nfds above the limit) when reap checks how the first one ended. */
static void no_fds_before_second(const struct cw_reap_item *it, void *arg)
{
	struct no_fds *s = arg;
	struct rlimit none;
	struct state_is closed = { s->l->fd[0], TCP_CLOSE };

	if (++s->calls != 2)
		return;
	assert_int_equal(it->fd, s->l->fd[1]);
	assert_true(cwt_poll_until(state_is, &closed, (unsigned)cwt_slack_ms(2000)) >= 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &s->old), 0);
	none = s->old;
	none.rlim_cur = 0;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
}

/* A failed poll() says nothing about how the socket ended (revents stays
 * 0, which would read as "no error: clean"): the socket is reported as an
 * error with poll's errno, in its end state. The second socket cannot be
 * taken at all (EMFILE). */
static void test_poll_fails_is_error(void **state)
{
	struct no_fds s = { 0 };
	struct cw_reap_opts o = reap_opts(1000);
	struct reap_seam seam = { no_fds_before_second, &s };
	struct leak l;
	struct cw_reap *r;
	const struct cw_reap_item *it;
	int err;

	(void)state;
	leak_make(&l, 2);
	s.l = &l;
	r = select_ours(&l, CW_REAP_FIN);
	err = reap_run_seam(r, &o, &seam);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &s.old), 0);
	assert_int_equal(err, 0);
	assert_int_equal(s.calls, 2);
	it = cw_reap_item(r, 0);
	assert_int_equal(it->end_state, CW_TCP_CLOSE);
	assert_int_equal(it->status, CW_REAP_FAIL_ERROR);
	assert_int_equal(it->err, -EINVAL);
	it = cw_reap_item(r, 1);
	assert_int_equal(it->status, CW_REAP_FAIL_ERROR);
	assert_int_equal(it->err, -EMFILE);
	cw_reap_free(r);
	leak_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_huge_wait_waits),
		CWT_FD_TEST(test_poll_fails_is_error),
	};

	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
