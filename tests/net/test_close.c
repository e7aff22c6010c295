/* How connections end: graceful vs abortive close (S13) and which side
 * keeps TIME_WAIT. (The timed ends are in test_stall.c.) */
#include "cwtest.h"
#include "cwtest_main.h"
#include "cwt_fault.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FINAL "WRONG PASSWORD\n"

static struct cw_loop *g_loop;

static struct cwt_server *start(struct cw_server_config *cfg, struct cwt_recorder *rec)
{
	struct cwt_server *s = cwt_server_start_rec(cfg, rec);

	g_loop = cwt_server_loop(s);
	return s;
}

/* Sends until the pipes are full both ways (the server has stopped reading:
 * its replies wait for us); returns bytes sent. */
static size_t fill_pipes(int fd)
{
	static char chunk[65536];
	size_t sent = 0;
	uint64_t quiet_since = cwt_now_ms();

	memset(chunk, 'q', sizeof(chunk));
	cwt_set_nonblock(fd, true);
	while (cwt_now_ms() - quiet_since < 200) {
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t)n;
			quiet_since = cwt_now_ms();
		} else {
			cwt_sleep_ms(5);
		}
	}
	cwt_set_nonblock(fd, false);
	return sent;
}

/* The seed's "wrong password" server: 300 ms after accepting, it writes its
 * final message and closes by the policy's mode. */
static void say_final_and_close(struct cw_timer *t, void *arg)
{
	struct cw_conn *c = arg;

	assert_int_equal(cw_conn_write(c, FINAL, strlen(FINAL)), 0);
	cw_conn_close(c);
	cw_timer_free(t);
}

static void on_open_final(struct cw_conn *c, void *arg)
{
	struct cw_timer *t;

	(void)arg;
	assert_int_equal(cw_timer_new(g_loop, say_final_and_close, c, &t), 0);
	cw_timer_start(t, 300);
}

/* Reads everything; returns bytes read, the last 64 of them in tail, and
 * how it ended in *end_err (0 = clean EOF). */
static size_t read_all(int fd, char *tail, int *end_err)
{
	char buf[65536];
	size_t total = 0;

	memset(tail, 0, 64);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			*end_err = errno;
			return total;
		}
		if (n == 0) {
			*end_err = 0;
			return total;
		}
		if (n >= 64) {
			memcpy(tail, buf + n - 64, 64);
		} else {
			memmove(tail, tail + n, (size_t)(64 - n));
			memcpy(tail + 64 - n, buf, (size_t)n);
		}
		total += (size_t)n;
	}
}

static bool ends_with_final(const char *tail)
{
	size_t l = strlen(FINAL);

	return memcmp(tail + 64 - l, FINAL, l) == 0;
}

/* The seed's "wrong password" case: the client has sent data the server never
 * read and has stopped reading, so the server's final message is still
 * queued on the server when it closes by mode. Then the client reads all. */
struct final_run {
	size_t sent, got;
	int err;                      /* how the client's reading ended: 0 = EOF */
	char tail[64];                /* the last bytes it read */
	enum cw_close_reason reason;  /* as the server reported it */
	uint64_t aborts;              /* RSTs the server sent */
};

static void run_final_message(enum cw_close_mode mode, struct final_run *r)
{
	struct cw_server_config cfg;
	struct cwt_recorder *rec = cwt_recorder_new();
	struct cwt_server *s;
	struct cw_conn_stats st;
	struct cwt_close c;
	int fd;

	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.ops.on_open = on_open_final;
	cfg.policy.close_mode = mode;
	s = start(&cfg, rec);
	fd = cwt_connect("127.0.0.1", cwt_server_port(s));
	r->sent = fill_pipes(fd);
	assert_true(cwt_wait_close(rec, cwt_local_port(fd), 3000, &c)); /* it has decided to close */
	r->reason = c.reason;
	r->got = read_all(fd, r->tail, &r->err);
	close(fd);
	cwt_server_stop(s, 1000, &st, NULL);
	r->aborts = st.aborts;
	cwt_recorder_free(rec);
}

/* Graceful: reading again, the client gets every byte, the message, then EOF. */
static void test_final_message_graceful(void **state)
{
	struct final_run r;

	(void)state;
	run_final_message(CW_CLOSE_GRACEFUL, &r);
	print_message("graceful: sent %zu, read %zu then %s; the message %s\n", r.sent, r.got,
		      r.err ? strerror(r.err) : "EOF", ends_with_final(r.tail) ? "arrived last" : "was lost");
	assert_int_equal(r.reason, CW_CLOSE_LOCAL);
	assert_int_equal(r.err, 0);
	assert_true(ends_with_final(r.tail));
	assert_true(r.got > strlen(FINAL));
	assert_int_equal(r.aborts, 0);
}

/* Abort (SO_LINGER {1,0}): RST; the client gets ECONNRESET and never sees
 * the message (what it already had in its receive queue stays readable). */
static void test_final_message_abort(void **state)
{
	struct final_run r;

	(void)state;
	run_final_message(CW_CLOSE_ABORT, &r);
	print_message("abort: read %zu then %s; the message %s\n", r.got, r.err ? strerror(r.err) : "EOF",
		      ends_with_final(r.tail) ? "arrived" : "never arrived");
	assert_int_equal(r.err, ECONNRESET);
	assert_false(ends_with_final(r.tail));
	assert_int_equal(r.aborts, 1);
}

/* Why graceful close exists: a plain close() with unread input sends an RST
 * (RFC 2525 2.17), so the peer may lose what was written just before it. */
static void test_plain_close_with_unread_input_resets(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), fd, srv, err;
	char tail[64];

	(void)state;
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	getsockname(l, (struct sockaddr *)&a, &al);
	fd = cwt_connect("127.0.0.1", ntohs(a.sin_port));
	srv = accept(l, NULL, NULL);
	assert_int_equal(cwt_write_all(fd, "unread input", 12), 0);
	cwt_sleep_ms(50); /* it has arrived, unread */
	assert_int_equal(cwt_write_all(srv, FINAL, strlen(FINAL)), 0);
	close(srv);
	read_all(fd, tail, &err);
	assert_int_equal(err, ECONNRESET);
	close(fd);
	close(l);
}

static int server_time_waits(uint16_t port) { return cwt_count_state(CW_TCP_TIME_WAIT, port, 0); }

struct pair {
	uint16_t sport, cport;
};

static bool server_time_wait(void *arg)
{
	const struct pair *p = arg;

	return cwt_pair_state(p->sport, p->cport, NULL) == CW_TCP_TIME_WAIT;
}

/* Neither end of the connection is in the kernel's table any more. */
static bool pair_gone(void *arg)
{
	const struct pair *p = arg;

	return !cwt_pair_state(p->sport, p->cport, NULL) && !cwt_pair_state(p->cport, p->sport, NULL);
}

/* The server closes an idle connection: graceful leaves TIME_WAIT on the
 * server's side (it closed first); abort leaves none anywhere. */
static void time_wait_after_idle_close(enum cw_close_mode mode, bool reset_timedout)
{
	struct cw_server_config cfg;
	struct cwt_recorder *rec = cwt_recorder_new();
	struct cwt_server *s;
	char tail[64];
	uint16_t port;
	struct pair pr;
	int fd, err;

	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.policy.idle_ms = 200;
	cfg.policy.close_mode = mode;
	cfg.policy.reset_timedout = reset_timedout;
	s = start(&cfg, rec);
	port = cwt_server_port(s);
	fd = cwt_connect("127.0.0.1", port);
	pr = (struct pair){ port, cwt_local_port(fd) };
	read_all(fd, tail, &err); /* waits for the server's end */
	close(fd);
	if (mode == CW_CLOSE_GRACEFUL && !reset_timedout) {
		assert_int_equal(err, 0); /* FIN */
		/* our close answers the server's FIN: its end goes to TIME_WAIT */
		assert_true(cwt_poll_until(server_time_wait, &pr, cwt_slack_ms(1000)) >= 0);
		assert_int_equal(server_time_waits(port), 1);
		assert_int_equal(cwt_count_state(CW_TCP_TIME_WAIT, 0, port), 0);
	} else {
		assert_int_equal(err, ECONNRESET);
		/* The RST came from the server's close(), which freed its end;
		 * ours closed on reading it. Both leave the table (polled), and
		 * a socket gone from it cannot come back as TIME_WAIT. */
		assert_true(cwt_poll_until(pair_gone, &pr, cwt_slack_ms(1000)) >= 0);
		assert_int_equal(server_time_waits(port), 0);
		assert_int_equal(cwt_count_state(CW_TCP_TIME_WAIT, 0, port), 0);
	}
	cwt_server_stop(s, 1000, NULL, NULL);
	cwt_recorder_free(rec);
}

static void test_graceful_close_leaves_time_wait_on_server(void **state)
{
	(void)state;
	time_wait_after_idle_close(CW_CLOSE_GRACEFUL, false);
}

static void test_abort_leaves_no_time_wait(void **state)
{
	(void)state;
	time_wait_after_idle_close(CW_CLOSE_ABORT, false);
}

static void test_reset_timedout_aborts_timeouts(void **state)
{
	(void)state;
	time_wait_after_idle_close(CW_CLOSE_GRACEFUL, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_final_message_graceful),
		CWT_FD_TEST(test_final_message_abort),
		CWT_FD_TEST(test_plain_close_with_unread_input_resets),
		CWT_FD_TEST(test_graceful_close_leaves_time_wait_on_server),
		CWT_FD_TEST(test_abort_leaves_no_time_wait),
		CWT_FD_TEST(test_reset_timedout_aborts_timeouts),
	};
	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
