/* Peers that vanish without a FIN (nftables drop on the input hook of this
 * test's own namespace): keepalive, the user timeout, heartbeats. Every
 * timing is measured from a stated point and waited for with a deadline.
 *
 * Bounds: the ends come from the kernel's timers (keepalive probes,
 * retransmissions), which run at their pace under the sanitizers too; an
 * upper bound is the kernel's time plus a margin for our own code and
 * wake-ups, and only that margin (and each wait's deadline) widens by
 * CW_TEST_SLACK. Lower bounds are never widened. */
#include "cwtest.h"
#include "cwt_fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct cw_loop *g_loop; /* the running server's loop (for delayed writes) */

struct started {
	struct cwt_server *srv;
	struct cwt_recorder *rec;
	int fd;          /* the client */
	uint16_t cport;  /* its port */
};

static void start(struct started *st, const struct cw_policy *p,
		  void (*on_data)(struct cw_conn *, uint8_t *, size_t, void *))
{
	struct cw_server_config cfg;

	cw_server_config_init(&cfg);
	cfg.policy = *p;
	cfg.ops.on_data = on_data ? on_data : cwt_echo_on_data;
	cfg.ops.on_close = cwt_record_close;
	st->rec = cwt_recorder_new();
	cfg.arg = st->rec;
	st->srv = cwt_server_start(&cfg);
	g_loop = cwt_server_loop(st->srv);
	st->fd = cwt_connect("127.0.0.1", cwt_server_port(st->srv));
	assert_true(st->fd >= 0);
	st->cport = cwt_local_port(st->fd);
}

/* An upper bound: what the kernel takes, plus margin_ms times CW_TEST_SLACK. */
static uint64_t upto(uint64_t kernel_ms, uint64_t margin_ms) { return kernel_ms + cwt_slack_ms(margin_ms); }

static void finish(struct started *st)
{
	cwt_nft_clear();
	close(st->fd);
	cwt_server_stop(st->srv, 0, NULL, NULL);
	cwt_recorder_free(st->rec);
}

static void exchange(int fd)
{
	char b[5];

	assert_int_equal(cwt_write_all(fd, "hello", 5), 0);
	assert_int_equal(cwt_read_full(fd, b, 5), 5);
	assert_memory_equal(b, "HELLO", 5);
}

static void policy_keepalive(struct cw_policy *p, int idle, int intvl, int cnt)
{
	cw_policy_init(p);
	p->keepalive = true;
	p->keepidle_s = idle;
	p->keepintvl_s = intvl;
	p->keepcnt = cnt;
}

/* Exchanges once on st's connection, then its client vanishes (nftables
 * drops its packets). Returns when the last traffic was. */
static uint64_t idle_then_vanish(struct started *st)
{
	uint64_t last;

	exchange(st->fd);
	last = cwt_now_ms();
	cwt_nft_drop_port(st->cport);
	return last;
}

/* Sends a byte the server (on_data_late) answers 200 ms late, then the
 * client vanishes: the answer is data in flight to nobody. Returns when the
 * drop rule was in place. */
static uint64_t vanish_before_reply(struct started *st)
{
	assert_int_equal(cwt_write_all(st->fd, "x", 1), 0);
	cwt_nft_drop_port(st->cport);
	return cwt_now_ms();
}

/* How the server must close the vanished client's connection. */
struct expect_close {
	const char *what, *since;      /* the case; what the clock's start is */
	uint64_t deadline_ms;          /* the wait for the close */
	enum cw_close_reason reason;
	uint64_t lo_ms, hi_ms;         /* when, after the clock's start t0 */
};

/* Waits for the close, says when it came, and checks it against e. */
static struct cwt_close closes(struct started *st, uint64_t t0, const struct expect_close *e)
{
	struct cwt_close c;

	assert_true(cwt_wait_close(st->rec, st->cport, e->deadline_ms, &c));
	print_message("%s: closed %lld ms after %s, reason %s\n", e->what, (long long)(c.at_ms - t0),
		      e->since, cw_close_reason_name(c.reason));
	assert_int_equal(c.reason, e->reason);
	assert_in_range(c.at_ms - t0, e->lo_ms, e->hi_ms);
	return c;
}

/* Idle peer vanishes, keepalive 1:1:2 (user timeout defaults to 3 s):
 * closed with reason keepalive 2 s to 3 s + 1.5 s (the margin) after the
 * last traffic. */
static void test_idle_peer_found_by_keepalive(void **state)
{
	struct started st;
	struct cw_policy p;
	struct cwt_close c;
	uint64_t last;

	(void)state;
	policy_keepalive(&p, 1, 1, 2);
	start(&st, &p, NULL);
	last = idle_then_vanish(&st); /* clock starts: the last traffic */
	c = closes(&st, last, &(struct expect_close){
		"keepalive 1:1:2", "the last traffic", cwt_slack_ms(8000),
		CW_CLOSE_KEEPALIVE, 2000, upto(3000, 1500) });
	assert_int_equal(c.err, ETIMEDOUT);
	finish(&st);
}

/* With keepalive on, an explicit user timeout overrides KEEPCNT: the kernel
 * ends the connection at the first keepalive probe at or after the user
 * timeout, however many probes KEEPCNT allows (tcp(7), tcp_keepalive_timer).
 * Keepalive 1:1:5 alone would give up 1 + 1x5 = 6 s after the last traffic
 * (the user timeout it implies); with --user-timeout 1500ms an idle peer
 * that vanished is closed at the probe 2 s after it (probes at 1 s, 2 s):
 * reason keepalive, not before the user timeout and far from 6 s. */
static void test_user_timeout_overrides_keepcnt(void **state)
{
	struct started st;
	struct cw_policy p;
	struct cwt_close c;
	uint64_t last;

	(void)state;
	policy_keepalive(&p, 1, 1, 5);
	p.user_timeout_ms = 1500;
	start(&st, &p, NULL);
	last = idle_then_vanish(&st); /* clock starts: the last traffic */
	c = closes(&st, last, &(struct expect_close){
		"keepalive 1:1:5 with user timeout 1.5s", "the last traffic", cwt_slack_ms(4000),
		CW_CLOSE_KEEPALIVE, 1500, upto(2000, 500) });
	assert_int_equal(c.err, ETIMEDOUT);
	finish(&st);
}

static void delayed_reply(struct cw_timer *t, void *arg)
{
	static char data[16384];

	memset(data, 'D', sizeof(data));
	cw_conn_write(arg, data, sizeof(data));
	cw_timer_free(t);
}

/* Replies 200 ms late, so the test can make the peer vanish first and the
 * reply is data in flight to nobody. */
static void on_data_late(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	struct cw_timer *t;

	(void)data, (void)len, (void)arg;
	assert_int_equal(cw_timer_new(g_loop, delayed_reply, c, &t), 0);
	cw_timer_start(t, 200);
}

/* Peer vanishes while the server has unacknowledged data: keepalive never
 * probes then; the user timeout that keepalive implies (1 + 1x2 = 3 s)
 * finds it: reason user-timeout, 2 s to 3 s + 2 s (the reply's 200 ms
 * delay, the kernel's first retransmission about 0.4 s in, the margin)
 * after the drop. */
static void test_data_in_flight_found_by_user_timeout(void **state)
{
	struct started st;
	struct cw_policy p;
	uint64_t drop;

	(void)state;
	policy_keepalive(&p, 1, 1, 2);
	start(&st, &p, on_data_late);
	drop = vanish_before_reply(&st); /* clock starts: the drop rule is in place */
	closes(&st, drop, &(struct expect_close){
		"data in flight, keepalive 1:1:2", "the drop", cwt_slack_ms(8000),
		CW_CLOSE_USER_TIMEOUT, 2000, upto(3000, 2000) });
	finish(&st);
}

/* The same with --user-timeout 0: keepalive alone never finds it (the fact
 * above, shown): still open 10 s after the drop. */
static void test_data_in_flight_without_user_timeout_stays(void **state)
{
	struct started st;
	struct cw_policy p;
	struct cwt_close c;

	(void)state;
	policy_keepalive(&p, 1, 1, 2);
	p.user_timeout_ms = 0;
	start(&st, &p, on_data_late);
	vanish_before_reply(&st);
	/* Clock starts at the drop; nothing may close it for 10 s. */
	assert_false(cwt_wait_close(st.rec, st.cport, 10000, &c));
	finish(&st);
}

/* Heartbeat to a peer whose socket is gone: drop, destroy the peer socket
 * (ss -K; its RST is dropped), remove the rule. The next beat is written
 * fine, the peer's kernel answers with an RST: reason reset, within one
 * heartbeat interval (1 s) of the rule's removal. */
static void test_heartbeat_finds_gone_peer(void **state)
{
	struct started st;
	struct cw_policy p;
	uint64_t removed;

	(void)state;
	cw_policy_init(&p);
	p.heartbeat_ms = 1000;
	start(&st, &p, NULL);
	idle_then_vanish(&st);
	cwt_sh("ss -K -tn 'sport = :%u' >/dev/null", st.cport);
	cwt_nft_clear();
	removed = cwt_now_ms(); /* clock starts: the rule is gone */
	/* one interval; 50 ms for scheduling */
	closes(&st, removed, &(struct expect_close){
		"heartbeat to a gone peer", "the rule was removed", cwt_slack_ms(3000),
		CW_CLOSE_RESET, 0, upto(1000, 50) });
	finish(&st);
}

/* Heartbeat to an unreachable peer (packets dropped, its socket kept), no
 * keepalive, user timeout 2 s: the beat stays unacknowledged: reason
 * user-timeout 2 s to 2 s + 1.5 s (the kernel's first retransmission about
 * 0.4 s in, the margin) after the first unanswered beat. */
static void test_heartbeat_unreachable_user_timeout(void **state)
{
	struct started st;
	struct cw_policy p;
	uint64_t beat;
	char nl;

	(void)state;
	cw_policy_init(&p);
	p.heartbeat_ms = 500;
	p.user_timeout_ms = 2000;
	start(&st, &p, NULL);
	assert_int_equal(read(st.fd, &nl, 1), 1); /* a beat arrives... */
	assert_int_equal(nl, '\n');
	cwt_nft_drop_port(st.cport);
	/* ...and the next one, 500 ms after it, is the first unanswered: clock starts there. */
	beat = cwt_now_ms() + 500;
	closes(&st, beat, &(struct expect_close){
		"heartbeat to an unreachable peer, user timeout 2s", "the first unanswered beat",
		cwt_slack_ms(6000), CW_CLOSE_USER_TIMEOUT, 2000, upto(2000, 1500) });
	finish(&st);
}

static int teardown(void **state)
{
	cwt_nft_clear();
	return cwt_fd_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_peer_found_by_keepalive, cwt_fd_setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_timeout_overrides_keepcnt, cwt_fd_setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_in_flight_found_by_user_timeout, cwt_fd_setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_in_flight_without_user_timeout_stays, cwt_fd_setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_finds_gone_peer, cwt_fd_setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_unreachable_user_timeout, cwt_fd_setup, teardown),
	};
	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
