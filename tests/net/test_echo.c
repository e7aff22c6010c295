/* The connection library end to end, in a private network namespace: an
 * echo server on a loop thread, blocking clients in the test thread. */
#include "cwtest.h"
#include "cwtest_main.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


static void test_half_close_gets_whole_reply(void **state)
{
	struct cwt_server *s = cwt_server_start(NULL);
	struct cw_conn_stats st;
	char reply[64];
	int fd = cwt_connect("127.0.0.1", cwt_server_port(s));

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(cwt_write_all(fd, "half-closed, still answered", 27), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(cwt_read_full(fd, reply, sizeof(reply)), 27); /* then EOF */
	assert_memory_equal(reply, "HALF-CLOSED, STILL ANSWERED", 27);
	close(fd);
	cwt_server_stop(s, 1000, &st, NULL);
	assert_int_equal(st.closed[CW_CLOSE_EOF], 1);
}

static void test_only_ascii_lowercase_changes(void **state)
{
	struct cwt_server *s = cwt_server_start(NULL);
	uint8_t all[256], reply[256];
	int fd = cwt_connect("127.0.0.1", cwt_server_port(s));

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	assert_int_equal(cwt_write_all(fd, all, sizeof(all)), 0);
	assert_int_equal(cwt_read_full(fd, reply, sizeof(reply)), 256);
	for (int i = 0; i < 256; i++)
		assert_int_equal(reply[i], i >= 'a' && i <= 'z' ? i - 32 : i);
	close(fd);
	cwt_server_stop(s, 1000, NULL, NULL);
}

struct writer {
	int fd;
	size_t len;
};

static uint8_t pattern(size_t i) { return (uint8_t)("abcdefghijklmnopqrstuvwxyz0123456789\xe9\x00"[i % 38]); }

static void *write_8mib(void *arg)
{
	struct writer *w = arg;
	uint8_t chunk[65536];

	for (size_t off = 0; off < w->len; off += sizeof(chunk)) {
		for (size_t i = 0; i < sizeof(chunk); i++)
			chunk[i] = pattern(off + i);
		if (cwt_write_all(w->fd, chunk, sizeof(chunk)))
			break;
	}
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

/* 8 MiB through one connection while the client reads slowly: the reply is
 * complete and uppercased, and the library never queued more than its cap. */
static void big_transfer(size_t cap)
{
	struct cw_server_config cfg;
	struct cwt_server *s;
	struct cw_conn_stats st;
	struct writer w = { .len = 8u << 20 };
	pthread_t t;
	uint8_t *buf = malloc(16384);
	size_t got = 0;

	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.policy.out_cap = cap;
	s = cwt_server_start(&cfg);
	w.fd = cwt_connect("127.0.0.1", cwt_server_port(s));
	assert_true(w.fd >= 0);
	assert_int_equal(pthread_create(&t, NULL, write_8mib, &w), 0);
	for (;;) {
		ssize_t n = read(w.fd, buf, 16384);

		if (n < 0)
			print_message("read after %zu bytes: %s\n", got, strerror(errno));
		assert_true(n >= 0);
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			uint8_t want = pattern(got + (size_t)i);

			if (want >= 'a' && want <= 'z')
				want = (uint8_t)(want - 32);
			assert_int_equal(buf[i], want);
		}
		got += (size_t)n;
		cwt_sleep_ms(1); /* a slow reader: at most 16 KiB per ms */
	}
	pthread_join(t, NULL);
	assert_int_equal(got, w.len);
	close(w.fd);
	cwt_server_stop(s, 1000, &st, NULL);
	print_message("cap %zu: peak queued on one connection %llu bytes\n", cap,
		      (unsigned long long)st.bytes_queued_peak);
	assert_true(st.bytes_queued_peak > 0);   /* the slow reader did make writes partial */
	assert_true(st.bytes_queued_peak <= cap);
	assert_int_equal(st.bytes_queued, 0);
	assert_int_equal(st.out_buffers, 0);     /* every output buffer given back */
	assert_int_equal(st.bytes_in, w.len);
	assert_int_equal(st.bytes_out, w.len);
	assert_int_equal(st.closed[CW_CLOSE_EOF], 1);
	free(buf);
}

static void test_8mib_slow_reader_default_cap(void **state)
{
	(void)state;
	big_transfer(256 * 1024);
}

static void test_8mib_slow_reader_small_cap(void **state)
{
	(void)state;
	big_transfer(16 * 1024);
}

/* n ping-pong messages on one connection; returns the loop's counters. */
static void ping_pong(int n, uint64_t idle_ms, struct cw_loop_stats *ls, struct cw_conn_stats *st)
{
	struct cw_server_config cfg;
	struct cwt_server *s;
	char reply[64];
	int fd;

	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.policy.idle_ms = idle_ms;
	s = cwt_server_start(&cfg);
	fd = cwt_connect("127.0.0.1", cwt_server_port(s));
	for (int i = 0; i < n; i++) {
		assert_int_equal(cwt_write_all(fd, "ping-pong message", 17), 0);
		assert_int_equal(cwt_read_full(fd, reply, 17), 17);
		assert_memory_equal(reply, "PING-PONG MESSAGE", 17);
	}
	close(fd);
	/* Let the server see the FIN before it is asked to stop. */
	for (int i = 0; i < 500 && cwt_count_state(CW_TCP_CLOSE_WAIT, 0, 0); i++)
		cwt_sleep_ms(2);
	cwt_server_stop(s, 1000, st, ls);
}

/* The message path makes no epoll_ctl and no timer operation: 10 000
 * messages cost exactly what 1 message costs. */
static void test_no_epoll_ctl_or_timer_work_per_message(void **state)
{
	struct cw_loop_stats one, many;
	struct cw_conn_stats st1, stn;

	(void)state;
	ping_pong(1, 300000, &one, &st1);
	ping_pong(10000, 300000, &many, &stn);
	print_message("1 message: %llu epoll_ctl, %llu timer arms; 10000 messages: %llu epoll_ctl, %llu timer arms\n",
		      (unsigned long long)one.epoll_ctl, (unsigned long long)one.timer_arms,
		      (unsigned long long)many.epoll_ctl, (unsigned long long)many.timer_arms);
	assert_int_equal(many.epoll_ctl, one.epoll_ctl);
	assert_int_equal(many.timer_arms, one.timer_arms);
	assert_int_equal(many.timer_fires, one.timer_fires);
	assert_int_equal(stn.closed[CW_CLOSE_EOF], 1);
	assert_int_equal(stn.bytes_in, 17 * 10000);
}

static void test_reset_by_peer(void **state)
{
	struct cwt_server *s = cwt_server_start(NULL);
	struct cw_conn_stats st;
	struct linger l = { 1, 0 };
	char reply[8];
	int fd = cwt_connect("127.0.0.1", cwt_server_port(s));

	(void)state;
	assert_int_equal(cwt_write_all(fd, "abc", 3), 0);
	assert_int_equal(cwt_read_full(fd, reply, 3), 3);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd); /* RST */
	cwt_sleep_ms(50);
	cwt_server_stop(s, 1000, &st, NULL);
	assert_int_equal(st.closed[CW_CLOSE_RESET], 1);
	assert_int_equal(st.active, 0);
}

static void test_connection_limit(void **state)
{
	struct cw_server_config cfg;
	struct cwt_server *s;
	struct cw_conn_stats st;
	char b[4];
	int fd[3];

	(void)state;
	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.max_conns = 2;
	s = cwt_server_start(&cfg);
	for (int i = 0; i < 3; i++) {
		fd[i] = cwt_connect("127.0.0.1", cwt_server_port(s));
		assert_true(fd[i] >= 0);
		if (i < 2) { /* accepted and served before the next connects */
			assert_int_equal(cwt_write_all(fd[i], "ok", 2), 0);
			assert_int_equal(cwt_read_full(fd[i], b, 2), 2);
		}
	}
	/* The third is over the limit: closed at once, it reads EOF. */
	assert_int_equal(cwt_read_full(fd[2], b, 1), 0);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	cwt_server_stop(s, 1000, &st, NULL);
	assert_int_equal(st.closed[CW_CLOSE_LIMIT], 1);
	assert_int_equal(st.opened, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_half_close_gets_whole_reply),
		CWT_FD_TEST(test_only_ascii_lowercase_changes),
		CWT_FD_TEST(test_8mib_slow_reader_default_cap),
		CWT_FD_TEST(test_8mib_slow_reader_small_cap),
		CWT_FD_TEST(test_no_epoll_ctl_or_timer_work_per_message),
		CWT_FD_TEST(test_reset_by_peer),
		CWT_FD_TEST(test_connection_limit),
	};
	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
