/* Timed ends: the half-close bound and write stalls. Clocks start where
 * each test says; waits poll with deadlines. An upper bound is the
 * deadline plus a margin for our code and wake-ups; only the margin (and
 * each wait's deadline) widens by CW_TEST_SLACK, never a lower bound. */
#include "cwtest.h"
#include "cwtest_main.h"
#include "cwt_fault.h"

#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>


/* Writes a reply far larger than any socket buffer, whatever it is sent. */
static void on_data_flood(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	static uint8_t big[8 << 20];

	(void)data, (void)len, (void)arg;
	assert_int_equal(cw_conn_write(c, big, sizeof(big)), 0);
}

/* A peer that half-closes and then never reads: closed within the
 * half-close bound (1 s here) of its FIN, 300 ms of margin, reason
 * half-close-timeout. */
static void test_half_closed_peer_that_never_reads(void **state)
{
	struct cw_server_config cfg;
	struct cwt_recorder *rec = cwt_recorder_new();
	struct cwt_server *s;
	struct cwt_close c;
	uint64_t fin;
	int fd;

	(void)state;
	cw_server_config_init(&cfg);
	cfg.ops.on_data = on_data_flood;
	cfg.policy.out_cap = 8 << 20;
	cfg.policy.half_close_ms = 1000;
	s = cwt_server_start_rec(&cfg, rec);
	fd = cwt_connect("127.0.0.1", cwt_server_port(s));
	assert_int_equal(cwt_write_all(fd, "x", 1), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	fin = cwt_now_ms(); /* clock starts: our FIN is sent */
	assert_true(cwt_wait_close(rec, cwt_local_port(fd), cwt_slack_ms(5000), &c));
	print_message("half-closed, never reading: closed %llu ms after its FIN, reason %s\n",
		      (unsigned long long)(c.at_ms - fin), cw_close_reason_name(c.reason));
	assert_int_equal(c.reason, CW_CLOSE_HALF_CLOSE_TIMEOUT);
	assert_in_range(c.at_ms - fin, 1000, 1000 + cwt_slack_ms(300));
	close(fd);
	cwt_server_stop(s, 1000, NULL, NULL);
	cwt_recorder_free(rec);
}

/* --write-stall 1s against a client that never reads a 64 MiB reply: closed
 * with reason write-stall no earlier than 1 s after the server's send queue
 * stopped draining into the client, and within 1.25 s (the stall checks
 * come four times a period) + 1.25 s (filling the buffers, and margin) of
 * the request; the library never queued more than its cap. */
static void test_write_stall(void **state)
{
	static char chunk[65536];
	struct cw_server_config cfg;
	struct cwt_recorder *rec = cwt_recorder_new();
	struct cwt_server *s;
	struct cw_conn_stats st;
	struct cwt_close c;
	uint64_t request, last_change;
	size_t sent = 0;
	int fd, pending = -1;
	uint16_t cport;

	(void)state;
	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.policy.write_stall_ms = 1000;
	s = cwt_server_start_rec(&cfg, rec);
	fd = cwt_connect("127.0.0.1", cwt_server_port(s));
	cport = cwt_local_port(fd);
	cwt_set_nonblock(fd, true);
	memset(chunk, 'w', sizeof(chunk));
	request = last_change = cwt_now_ms(); /* clock starts: the request */
	/* Send the 64 MiB request as far as the server takes it; never read.
	 * Meanwhile watch our receive queue: when it stops growing, the
	 * server's send queue has stopped draining. */
	while (!cwt_wait_close(rec, cport, 0, &c) && cwt_now_ms() - request < cwt_slack_ms(5000)) {
		int q = 0;

		if (sent < (64u << 20)) {
			ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

			if (n > 0)
				sent += (size_t)n;
		}
		ioctl(fd, FIONREAD, &q);
		if (q != pending) {
			pending = q;
			last_change = cwt_now_ms();
		}
		cwt_sleep_ms(2);
	}
	assert_true(cwt_wait_close(rec, cport, 0, &c));
	close(fd);
	cwt_server_stop(s, 0, &st, NULL);
	print_message("write-stall: request sent %zu bytes; the reply stopped draining %llu ms after the request; closed %llu ms after that (%llu ms after the request), reason %s; peak queued %llu of cap %zu\n",
		      sent, (unsigned long long)(last_change - request),
		      (unsigned long long)(c.at_ms - last_change), (unsigned long long)(c.at_ms - request),
		      cw_close_reason_name(c.reason), (unsigned long long)st.bytes_queued_peak,
		      cfg.policy.out_cap);
	assert_int_equal(c.reason, CW_CLOSE_WRITE_STALL);
	/* 1 s after the drain stopped; 5 ms for this loop's 2 ms polling. */
	assert_true(c.at_ms + 5 >= last_change + 1000);
	assert_true(c.at_ms - request <= 1250 + cwt_slack_ms(1250));
	assert_true(st.bytes_queued_peak <= cfg.policy.out_cap);
	cwt_recorder_free(rec);
}

/* Heartbeats carry on after output has queued and drained again (the
 * heartbeat deadline is left out while output is queued). Clock: from the
 * moment the client has drained everything, beats every 100 ms are due. */
static void test_heartbeats_resume_after_backpressure(void **state)
{
	static char chunk[65536];
	struct cw_server_config cfg;
	struct cwt_server *s;
	struct cw_conn_stats st;
	char buf[65536];
	int fd, beats = 0;
	size_t sent = 0, got = 0;
	uint64_t start;

	(void)state;
	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.policy.heartbeat_ms = 100;
	s = cwt_server_start(&cfg);
	fd = cwt_connect("127.0.0.1", cwt_server_port(s));
	cwt_set_nonblock(fd, true);
	memset(chunk, 'b', sizeof(chunk));
	start = cwt_now_ms();
	while (cwt_now_ms() - start < 500) { /* push until the server must queue */
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

		if (n > 0)
			sent += (size_t)n;
		else
			cwt_sleep_ms(5);
	}
	/* Drain the whole echo: every byte sent comes back (10 s at most, times CW_TEST_SLACK). */
	for (start = cwt_now_ms(); got < sent && cwt_now_ms() - start < cwt_slack_ms(10000);) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0)
			got += (size_t)n;
		else
			cwt_sleep_ms(1);
	}
	assert_int_equal(got, sent);
	/* Now count beats for 1 s: about 10 are due. */
	for (start = cwt_now_ms(); cwt_now_ms() - start < 1000;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		for (ssize_t i = 0; i < n; i++)
			beats += buf[i] == '\n';
		cwt_sleep_ms(5);
	}
	close(fd);
	cwt_server_stop(s, 1000, &st, NULL);
	print_message("sent %zu, most queued %llu; heartbeats in the second after the drain: %d\n", sent,
		      (unsigned long long)st.bytes_queued_peak, beats);
	assert_true(st.bytes_queued_peak > 0); /* output did queue */
	assert_true(beats >= 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_half_closed_peer_that_never_reads),
		CWT_FD_TEST(test_write_stall),
		CWT_FD_TEST(test_heartbeats_resume_after_backpressure),
	};
	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
