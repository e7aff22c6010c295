/* cw_server_on_pause: out of fds, accepting pauses (no spinning), the
 * report says why, for how long and how many wait; a client is accepted
 * within the pause once an fd is free, and the pause is over once the queue
 * is empty. The fd table is filled with
 * duplicates of /dev/null (under an RLIMIT_NOFILE of 256, quick to fill)
 * after the test's own clients have theirs; in a private network namespace,
 * on the test thread's loop. */
#include "cwtest.h"
#include "cwtest_main.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "closewait/loop.h"

#define CLIENTS 8
#define LIMIT 256         /* RLIMIT_NOFILE for the test: a table quick to fill */
#define MAX_FILL LIMIT

struct seen {
	int reports;
	int err;                 /* of the last report */
	uint64_t waiting, refusals, paused_ms;
	int resumed;             /* reports with err 0 */
	uint64_t resumed_at;     /* cwt_now_ms() of the first */
};

static void on_pause(struct cw_server *s, const struct cw_accept_pause *p, void *arg)
{
	struct seen *v = arg;

	(void)s;
	v->reports++;
	v->err = p->err;
	v->waiting = p->waiting;
	v->refusals = p->refusals;
	v->paused_ms = p->paused_ms;
	if (!p->err && !v->resumed++)
		v->resumed_at = cwt_now_ms();
}

static void on_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	(void)arg;
	cw_conn_write(c, data, len);
}

/* Runs the loop for ms (the clock starts at the call). */
static void run_for(struct cw_loop *loop, uint64_t ms)
{
	uint64_t end = cwt_now_ms() + ms;

	while (cwt_now_ms() < end)
		cw_loop_run_once(loop, (int)(end - cwt_now_ms()));
}

/* Takes every free fd: returns how many (their numbers in fill). */
static int fill_fds(int *fill)
{
	int n = 0;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(null >= 0);
	fill[n++] = null;
	while (n < MAX_FILL) {
		int fd = dup(null);

		if (fd < 0) {
			assert_int_equal(errno, EMFILE);
			break;
		}
		fill[n++] = fd;
	}
	assert_true(n < MAX_FILL);
	return n;
}

static void test_out_of_fds_pauses_reports_and_resumes(void **state)
{
	struct cw_server_config cfg;
	struct cw_server *srv;
	struct cw_loop *loop;
	struct cw_loop_stats a, b;
	struct seen v = { 0 };
	int *fill = malloc(MAX_FILL * sizeof(*fill));
	int fds[CLIENTS], nfill, port;
	uint64_t t0, taken, slack = cwt_slack();
	char c;

	struct rlimit old, low;

	(void)state;
	assert_non_null(fill);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	if (low.rlim_cur > LIMIT)
		low.rlim_cur = LIMIT;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(cw_loop_new(&loop), 0);
	cw_server_config_init(&cfg);
	cfg.ops.on_data = on_data;
	assert_int_equal(cw_server_new(loop, &cfg, &srv), 0);
	cw_server_on_pause(srv, on_pause, &v);
	assert_int_equal(cw_server_listen(srv, "127.0.0.1", 0), 0);
	port = cw_server_port(srv);
	assert_true(port > 0);
	/* The handshakes complete in the kernel: the clients are connected
	 * and queued before the server ever runs. */
	for (int i = 0; i < CLIENTS; i++) {
		fds[i] = cwt_connect("127.0.0.1", (uint16_t)port);
		assert_true(fds[i] >= 0);
		assert_int_equal(cwt_write_all(fds[i], "x", 1), 0);
	}
	nfill = fill_fds(fill);

	/* Paused at the first accept: EMFILE, all of them waiting. */
	run_for(loop, 50);
	assert_int_equal(v.reports, 1);
	assert_int_equal(v.err, EMFILE);
	assert_int_equal(v.waiting, CLIENTS);
	assert_int_equal(v.refusals, 1);
	/* 1 s out of fds: a retry every 100 ms, and no more loop turns than
	 * that (a spinning loop turns thousands of times). */
	cw_loop_stats(loop, &a);
	run_for(loop, 1000);
	cw_loop_stats(loop, &b);
	assert_true(v.refusals >= 8);
	assert_true(v.refusals <= 12);
	assert_int_equal((int)v.reports, (int)v.refusals);
	assert_true(b.iterations - a.iterations <= 30);
	assert_true(v.paused_ms >= 900);
	assert_int_equal(v.resumed, 0);

	/* One fd freed: the clock starts at the close. The first client is
	 * accepted and answered within the pause; the pause goes on, with 7
	 * still waiting and the table full again. */
	t0 = cwt_now_ms();
	close(fill[--nfill]);
	while (recv(fds[0], &c, 1, MSG_DONTWAIT) != 1) {
		assert_true(cwt_now_ms() - t0 <= 1000 * slack);
		cw_loop_run_once(loop, 5);
	}
	taken = cwt_now_ms() - t0;
	assert_true(taken <= 100 + 50 * slack);
	assert_int_equal(c, 'x');
	run_for(loop, 150);
	assert_int_equal(v.resumed, 0);
	assert_int_equal(v.err, EMFILE);
	assert_int_equal(v.waiting, CLIENTS - 1);
	assert_true(v.paused_ms >= 1000); /* one pause, from the first refusal */

	/* Every fd back: all accepted, the queue empty, the pause over. */
	while (nfill)
		close(fill[--nfill]);
	t0 = cwt_now_ms();
	run_for(loop, 200 * slack);
	assert_int_equal(v.resumed, 1);
	assert_true(v.resumed_at - t0 <= 100 + 50 * slack);
	assert_int_equal(v.err, 0);
	assert_int_equal(v.waiting, 0);

	while (nfill)
		close(fill[--nfill]);
	free(fill);
	for (int i = 0; i < CLIENTS; i++)
		close(fds[i]);
	cw_server_free(srv);
	cw_loop_free(loop);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_out_of_fds_pauses_reports_and_resumes),
	};
	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
