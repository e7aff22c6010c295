/* Lifecycle hazards found in review, each a regression test: objects freed
 * or stopped from a callback while the loop still holds events or is inside
 * its own loops. Run under ASan, which turns each into a crash. */
#include "cwtest.h"
#include "cwtest_main.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "closewait/dialer.h"

struct ctx {
	struct cw_loop *loop;
	struct cw_server *srv;
	struct cw_dialer *dialer;
	int efd;
	bool done;
	int opens, retries, dones;
};

static void on_done_free(struct cw_server *s, void *arg)
{
	struct ctx *x = arg;

	cw_server_free(s); /* allowed: done runs from the loop */
	x->srv = NULL;
	x->done = true;
}

static void on_wake_shutdown(struct cw_io *io, uint32_t ev, void *arg)
{
	struct ctx *x = arg;
	uint64_t v;

	(void)io, (void)ev;
	if (read(x->efd, &v, sizeof(v)) < 0)
		return;
	cw_server_shutdown(x->srv, 0, on_done_free, x);
}

/* Shutdown (which closes the listeners) runs in the same epoll batch as a
 * pending accept on them; then done frees the server. */
static void test_shutdown_with_accept_pending_in_the_batch(void **state)
{
	struct ctx x = { 0 };
	struct cw_server_config cfg;
	struct cw_io *wake;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), fd, port;
	uint64_t one = 1;

	(void)state;
	x.efd = efd;
	assert_int_equal(cw_loop_new(&x.loop), 0);
	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	assert_int_equal(cw_server_new(x.loop, &cfg, &x.srv), 0);
	assert_int_equal(cw_server_listen(x.srv, "127.0.0.1", 0), 0);
	port = cw_server_port(x.srv);
	assert_int_equal(cw_io_new(x.loop, efd, EPOLLIN, on_wake_shutdown, &x, &wake), 0);
	/* Ready in this order: the wake-up first, then the listener. */
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	fd = cwt_connect("127.0.0.1", (uint16_t)port);
	assert_true(fd >= 0);
	for (int i = 0; i < 10 && !x.done; i++)
		cw_loop_run_once(x.loop, 10);
	assert_true(x.done);
	close(fd);
	cw_io_free(wake);
	close(efd);
	cw_loop_free(x.loop);
}

static void on_done_count(struct cw_server *s, void *arg)
{
	(void)s;
	((struct ctx *)arg)->dones++;
}

/* A server freed while its done callback waits in the loop (shut down with
 * no connection: done is deferred, not called): done never runs, and the
 * loop does not reach into the freed server (ASan). */
static void test_server_freed_with_done_pending(void **state)
{
	struct ctx x = { 0 };
	struct cw_server_config cfg;

	(void)state;
	assert_int_equal(cw_loop_new(&x.loop), 0);
	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	assert_int_equal(cw_server_new(x.loop, &cfg, &x.srv), 0);
	assert_int_equal(cw_server_listen(x.srv, "127.0.0.1", 0), 0);
	cw_server_shutdown(x.srv, 1000, on_done_count, &x);
	assert_int_equal(x.dones, 0); /* never from inside the call */
	cw_server_free(x.srv);
	for (int i = 0; i < 3; i++)
		cw_loop_run_once(x.loop, 0);
	assert_int_equal(x.dones, 0);
	/* The control: not freed, the same shutdown's done runs from the loop. */
	assert_int_equal(cw_server_new(x.loop, &cfg, &x.srv), 0);
	cw_server_shutdown(x.srv, 1000, on_done_count, &x);
	cw_loop_run_once(x.loop, 0);
	assert_int_equal(x.dones, 1);
	cw_server_free(x.srv);
	cw_loop_free(x.loop);
}

static void d_open(struct cw_conn *c, void *arg) { (void)c; ((struct ctx *)arg)->opens++; }
static void d_data(struct cw_conn *c, uint8_t *d, size_t n, void *arg) { (void)c, (void)d, (void)n, (void)arg; }
static void d_retry(struct cw_dialer *d, int err, uint64_t delay, void *arg)
{
	(void)d, (void)err, (void)delay;
	((struct ctx *)arg)->retries++;
}

static void on_wake_stop_dialer(struct cw_io *io, uint32_t ev, void *arg)
{
	struct ctx *x = arg;
	uint64_t v;

	(void)io, (void)ev;
	if (read(x->efd, &v, sizeof(v)) > 0)
		cw_dialer_free(x->dialer); /* in the batch that also completes its connect */
}

/* A dialer stopped and freed from a callback in the batch that completes its
 * connect neither comes back to life nor touches freed memory. */
static void test_dialer_freed_in_the_connect_batch(void **state)
{
	struct ctx x = { 0 };
	struct cw_dialer_config cfg;
	struct cw_io *wake;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), l = socket(AF_INET, SOCK_STREAM, 0);
	uint64_t one = 1;
	int before;

	(void)state;
	x.efd = efd;
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 4), 0);
	getsockname(l, (struct sockaddr *)&a, &al);
	assert_int_equal(cw_loop_new(&x.loop), 0);
	cw_dialer_config_init(&cfg);
	cfg.host = "127.0.0.1";
	cfg.port = ntohs(a.sin_port);
	cfg.ops.on_open = d_open;
	cfg.ops.on_data = d_data;
	cfg.on_retry = d_retry;
	cfg.arg = &x;
	assert_int_equal(cw_dialer_new(x.loop, &cfg, &x.dialer), 0);
	assert_int_equal(cw_io_new(x.loop, efd, EPOLLIN, on_wake_stop_dialer, &x, &wake), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	before = cwt_fd_count(0);
	cw_dialer_start(x.dialer); /* loopback connects at once: its EPOLLOUT joins the batch */
	assert_int_equal(cwt_fd_count(0), before + 1); /* its socket */
	cwt_sleep_ms(20);
	for (int i = 0; i < 20; i++)
		cw_loop_run_once(x.loop, 5);
	assert_int_equal(x.opens, 0);
	assert_int_equal(x.retries, 0);
	assert_int_equal(cwt_fd_count(0), before); /* its socket is gone, no new one */
	cw_io_free(wake);
	close(efd);
	close(l);
	cw_loop_free(x.loop);
}

/* Durations of "forever" (the parser takes up to UINT64_MAX ms) must not
 * wrap a deadline into the past: no close, no heartbeat flood. The window
 * watched is 300 ms from the connect. */
static void test_forever_does_not_wrap(void **state)
{
	struct cw_server_config cfg;
	struct cwt_server *s;
	struct cw_conn_stats st;
	char b[16];
	ssize_t n;
	int fd;

	(void)state;
	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.policy.idle_ms = UINT64_MAX - 5;
	cfg.policy.heartbeat_ms = UINT64_MAX - 5;
	cfg.policy.write_stall_ms = UINT64_MAX - 5;
	s = cwt_server_start(&cfg);
	fd = cwt_connect("127.0.0.1", cwt_server_port(s));
	cwt_set_nonblock(fd, true);
	cwt_sleep_ms(300);
	n = read(fd, b, sizeof(b));
	assert_true(n < 0 && errno == EAGAIN); /* nothing: no heartbeat, no EOF */
	close(fd);
	cwt_server_stop(s, 1000, &st, NULL);
	assert_int_equal(st.heartbeats, 0);
	assert_int_equal(st.closed[CW_CLOSE_IDLE], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_shutdown_with_accept_pending_in_the_batch),
		CWT_FD_TEST(test_dialer_freed_in_the_connect_batch),
		CWT_FD_TEST(test_server_freed_with_done_pending),
		CWT_FD_TEST(test_forever_does_not_wrap),
	};
	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
