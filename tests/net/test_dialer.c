/* cw_dialer over real sockets: the test thread runs the dialer's loop and
 * plays the server with plain sockets. No timing bounds here (those are in
 * the e2e stream tests); this runs under ASan too. */
#include "cwtest.h"
#include "cwtest_main.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "closewait/dialer.h"


struct probe {
	int opens, closes, retries, data;
	enum cw_close_reason last_reason;
	int last_err;
	uint64_t delays[64];
	int ndelays;
	bool exchange; /* send "hi" on open */
};

static void on_open(struct cw_conn *c, void *arg)
{
	struct probe *p = arg;

	p->opens++;
	if (p->exchange)
		assert_int_equal(cw_conn_write(c, "hi", 2), 0);
}

static void on_data(struct cw_conn *c, uint8_t *d, size_t n, void *arg)
{
	(void)c, (void)d;
	((struct probe *)arg)->data += (int)n;
}

static void on_close(struct cw_conn *c, enum cw_close_reason r, int err, void *arg)
{
	struct probe *p = arg;

	(void)c;
	p->closes++;
	p->last_reason = r;
	p->last_err = err;
}

static void on_retry(struct cw_dialer *d, int err, uint64_t delay, void *arg)
{
	struct probe *p = arg;

	(void)d;
	p->retries++;
	p->last_err = err;
	if (p->ndelays < 64)
		p->delays[p->ndelays++] = delay;
}

static int listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (*port)
		a.sin_port = htons(*port);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 8), 0);
	getsockname(l, (struct sockaddr *)&a, &al);
	*port = ntohs(a.sin_port);
	return l;
}

/* Runs the loop until cond holds (10 s at most, a generous deadline). */
#define RUN_UNTIL(loop, cond)                                                                      \
	do {                                                                                       \
		uint64_t end_ = cwt_now_ms() + 10000;                                              \
		while (!(cond)) {                                                                  \
			assert_true(cwt_now_ms() < end_);                                          \
			cw_loop_run_once(loop, 5);                                                 \
		}                                                                                  \
	} while (0)

static struct cw_dialer *dialer(struct cw_loop *loop, uint16_t port, struct probe *p,
				uint64_t min, uint64_t max)
{
	struct cw_dialer_config cfg;
	struct cw_dialer *d;

	cw_dialer_config_init(&cfg);
	cfg.host = "127.0.0.1";
	cfg.port = port;
	cfg.backoff_min_ms = min;
	cfg.backoff_max_ms = max;
	cfg.ops.on_open = on_open;
	cfg.ops.on_data = on_data;
	cfg.ops.on_close = on_close;
	cfg.on_retry = on_retry;
	cfg.arg = p;
	cfg.jitter_seed = 12345;
	assert_int_equal(cw_dialer_new(loop, &cfg, &d), 0);
	return d;
}

static int accept_one(int l) { return accept4(l, NULL, NULL, SOCK_CLOEXEC); }

/* Exchange, the server closes, the dialer sees the FIN at once (reason eof),
 * closes its socket before reconnecting, and the exchange reset the backoff. */
static void test_reconnect_after_server_close(void **state)
{
	struct probe p = { .exchange = true };
	struct cw_loop *loop;
	struct cw_dialer *d;
	struct cw_dialer_stats st;
	uint16_t port = 0;
	int l = listener(&port), s = -1;
	char b[2];

	(void)state;
	assert_int_equal(cw_loop_new(&loop), 0);
	d = dialer(loop, port, &p, 5, 1000);
	assert_int_equal(cw_dialer_start(d), 0);
	RUN_UNTIL(loop, p.opens == 1 && (s = s >= 0 ? s : accept_one(l)) >= 0);
	assert_int_equal(cwt_read_full(s, b, 2), 2);
	assert_int_equal(cwt_write_all(s, "HI", 2), 0);
	RUN_UNTIL(loop, p.data == 2);
	close(s); /* the server leaves */
	s = -1;
	RUN_UNTIL(loop, p.closes == 1 && p.retries == 1);
	assert_int_equal(p.last_reason, CW_CLOSE_EOF);
	assert_int_equal(p.last_err, 0);
	assert_true(p.delays[0] == 5); /* reset by the exchange: MIN exactly */
	cw_dialer_stats(d, &st);
	assert_int_equal(st.sockets, 0); /* closed before the next attempt */
	RUN_UNTIL(loop, p.opens == 2 && (s = s >= 0 ? s : accept_one(l)) >= 0);
	cw_dialer_stats(d, &st);
	assert_int_equal(st.sockets, 1);
	assert_int_equal(st.connects, 2);
	cw_dialer_stop(d);
	cw_dialer_stats(d, &st);
	assert_int_equal(st.sockets, 0);
	close(s);
	close(l);
	cw_dialer_free(d);
	cw_loop_free(loop);
}

/* Refused: each delay within [MIN, min(MAX, MIN * 2^n)], growing ceiling,
 * never all equal; only one socket at a time. */
static void test_refused_backoff(void **state)
{
	struct probe p = { 0 };
	struct cw_loop *loop;
	struct cw_dialer *d;
	struct cw_dialer_stats st;
	uint16_t port = 0;
	int l = listener(&port);
	uint64_t ceil = 2;
	bool all_equal = true;

	(void)state;
	close(l); /* nobody listens there now */
	assert_int_equal(cw_loop_new(&loop), 0);
	d = dialer(loop, port, &p, 2, 40);
	assert_int_equal(cw_dialer_start(d), 0);
	RUN_UNTIL(loop, p.retries >= 12);
	for (int i = 0; i < p.ndelays; i++) {
		assert_true(p.delays[i] >= 2 && p.delays[i] <= ceil);
		ceil = ceil * 2 > 40 ? 40 : ceil * 2;
		all_equal &= p.delays[i] == p.delays[0];
	}
	assert_false(all_equal);
	assert_int_equal(p.last_err, ECONNREFUSED);
	assert_int_equal(p.opens, 0);
	cw_dialer_stats(d, &st);
	assert_true(st.sockets <= 1);
	assert_int_equal(st.failures, (uint64_t)p.retries);
	cw_dialer_free(d);
	cw_loop_free(loop);
}

/* A server that accepts and never answers: the receive timeout (read_idle)
 * ends the connection, reason read-idle, and the dialer reconnects. */
static void test_receive_timeout(void **state)
{
	struct probe p = { 0 };
	struct cw_dialer_config cfg;
	struct cw_loop *loop;
	struct cw_dialer *d;
	uint16_t port = 0;
	int l = listener(&port), s1 = -1, s2 = -1;

	(void)state;
	assert_int_equal(cw_loop_new(&loop), 0);
	cw_dialer_config_init(&cfg);
	cfg.host = "127.0.0.1";
	cfg.port = port;
	cfg.backoff_min_ms = 5;
	cfg.policy.read_idle_ms = 100;
	cfg.ops.on_open = on_open;
	cfg.ops.on_data = on_data;
	cfg.ops.on_close = on_close;
	cfg.on_retry = on_retry;
	cfg.arg = &p;
	assert_int_equal(cw_dialer_new(loop, &cfg, &d), 0);
	cw_dialer_start(d);
	RUN_UNTIL(loop, (s1 = s1 >= 0 ? s1 : accept_one(l)) >= 0 && p.closes == 1);
	assert_int_equal(p.last_reason, CW_CLOSE_READ_IDLE);
	RUN_UNTIL(loop, p.opens == 2 && (s2 = s2 >= 0 ? s2 : accept_one(l)) >= 0);
	cw_dialer_free(d);
	close(s1);
	close(s2);
	close(l);
	cw_loop_free(loop);
}

static void test_bad_config(void **state)
{
	struct cw_dialer_config cfg;
	struct cw_loop *loop;
	struct cw_dialer *d;

	(void)state;
	assert_int_equal(cw_loop_new(&loop), 0);
	cw_dialer_config_init(&cfg);
	cfg.ops.on_data = on_data;
	cfg.port = 1;
	cfg.host = "no-such-host.invalid";
	assert_int_equal(cw_dialer_new(loop, &cfg, &d), -ENOENT);
	cfg.host = "127.0.0.1";
	cfg.bind = "1.2.3";
	assert_int_equal(cw_dialer_new(loop, &cfg, &d), -EINVAL);
	cfg.bind = NULL;
	cfg.backoff_min_ms = 10;
	cfg.backoff_max_ms = 5;
	assert_int_equal(cw_dialer_new(loop, &cfg, &d), -EINVAL);
	cw_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_reconnect_after_server_close),
		CWT_FD_TEST(test_refused_backoff),
		CWT_FD_TEST(test_receive_timeout),
		CWT_FD_TEST(test_bad_config),
	};
	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
