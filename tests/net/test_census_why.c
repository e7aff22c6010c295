/* Why a CLOSE_WAIT socket is open (cw_sock_why, cw_census_why), on real
 * sockets in a private network namespace: the kernel fact it rests on.
 * Recv-Q, as sock_diag reports it (rcv_nxt - copied_seq), counts the peer's
 * FIN as one byte until the program's read returns 0: Recv-Q 0 after the
 * EOF was read, at least 1 while it was not (data read up to the FIN but no
 * further, nothing read, or read(fd, buf, 0)); and a connection
 * never accepted is unaccepted, whatever its Recv-Q, which is at least 1. */
#include "cwtest.h"
#include "cwtest_main.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "closewait/census.h"

/* One connection on loopback: the client closed (FIN sent), the server's
 * end in CLOSE_WAIT, unread; srv is -1 when it was left in the queue. */
struct pair {
	int lfd, srv;
	uint16_t sport, cport;
};

static uint16_t port_of(int fd, bool peer)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(peer ? getpeername(fd, (struct sockaddr *)&a, &len)
			      : getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static bool in_close_wait(void *arg)
{
	const struct pair *p = arg;

	return cwt_pair_state(p->sport, p->cport, NULL) == CW_TCP_CLOSE_WAIT;
}

/* Connects, sends data (NULL: none), closes the client's end and waits
 * (without touching the server's socket) until the FIN made it CLOSE_WAIT.
 * accept_it false: the connection stays in the listener's queue. read_first:
 * the server reads the data before the client closes, so the FIN comes
 * alone (else the kernel merges it into the unread data's buffer). */
static struct pair pair_closed_as(const char *data, bool accept_it, bool read_first)
{
	struct pair p = { .srv = -1 };
	char buf[64];
	int cli;

	p.lfd = cwt_listen("127.0.0.1", 0, 8);
	assert_true(p.lfd >= 0);
	p.sport = port_of(p.lfd, false);
	cli = cwt_connect("127.0.0.1", p.sport);
	assert_true(cli >= 0);
	p.cport = port_of(cli, false);
	if (accept_it) {
		p.srv = accept(p.lfd, NULL, NULL);
		assert_true(p.srv >= 0);
	}
	if (data)
		assert_int_equal(cwt_write_all(cli, data, strlen(data)), 0);
	if (data && read_first)
		assert_int_equal(cwt_read_full(p.srv, buf, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(close(cli), 0);
	assert_true(cwt_poll_until(in_close_wait, &p, (unsigned)cwt_slack_ms(2000)) >= 0);
	return p;
}

static struct pair pair_closed(const char *data, bool accept_it)
{
	return pair_closed_as(data, accept_it, false);
}

static void pair_free(struct pair *p)
{
	if (p->srv >= 0)
		close(p->srv);
	close(p->lfd);
}

/* The server's end as the census sees it: its Recv-Q and its why. */
static enum cw_why census_why(const struct pair *p, uint32_t *rqueue)
{
	struct cw_census_opts o;
	struct cw_census *c;
	enum cw_why why = CW_WHY_NONE;
	size_t found = 0;

	cw_census_opts_init(&o);
	o.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	assert_int_equal(cw_census_take(&o, &c), 0);
	for (size_t i = 0; i < cw_census_count(c); i++) {
		const struct cw_sock *s = cw_census_sock(c, i);

		if (s->local.port != p->sport || s->peer.port != p->cport)
			continue;
		found++;
		*rqueue = s->rqueue;
		why = cw_census_why(c, i);
		assert_int_equal(cw_sock_why(s), why);
		/* a socket with a file is one this process holds */
		assert_int_equal(s->inode == 0, p->srv < 0);
	}
	cw_census_free(c);
	assert_int_equal(found, 1);
	return why;
}

static void read_exactly(int fd, size_t n)
{
	char buf[64];

	assert_true(n <= sizeof(buf));
	assert_int_equal(read(fd, buf, n), (ssize_t)n);
}

/* Data and FIN read, up to the read that returns 0, whether the FIN came
 * apart from the data or merged with it: Recv-Q 0, eof-read. */
static void test_eof_read(void **state)
{
	(void)state;
	for (int apart = 0; apart < 2; apart++) {
		struct pair p = pair_closed_as("hello", true, apart);
		char buf[64];
		uint32_t rq = 99;
		ssize_t n;

		assert_int_equal(census_why(&p, &rq), CW_WHY_NEVER_READ);
		assert_int_equal(rq, apart ? 1 : 5 + 1);
		while ((n = read(p.srv, buf, sizeof(buf))) > 0)
			;
		assert_int_equal(n, 0);
		assert_int_equal(census_why(&p, &rq), CW_WHY_EOF_READ);
		assert_int_equal(rq, 0);
		pair_free(&p);
	}
}

/* A bare FIN (no data) read: the one read returns 0, Recv-Q 1 -> 0. */
static void test_eof_read_no_data(void **state)
{
	struct pair p = pair_closed(NULL, true);
	char buf[64];
	uint32_t rq = 99;

	(void)state;
	assert_int_equal(census_why(&p, &rq), CW_WHY_NEVER_READ);
	assert_int_equal(rq, 1); /* the FIN alone */
	assert_int_equal(read(p.srv, buf, sizeof(buf)), 0);
	assert_int_equal(census_why(&p, &rq), CW_WHY_EOF_READ);
	assert_int_equal(rq, 0);
	pair_free(&p);
}

/* Every byte of data read before the FIN came, but not the read that
 * returns 0: the FIN, alone in its buffer, is still one byte of Recv-Q:
 * never-read; reading on gives the EOF. */
static void test_data_read_not_eof(void **state)
{
	struct pair p = pair_closed_as("hello", true, true);
	char buf[64];
	uint32_t rq = 99;

	(void)state;
	assert_int_equal(census_why(&p, &rq), CW_WHY_NEVER_READ);
	assert_int_equal(rq, 1);
	assert_int_equal(read(p.srv, buf, sizeof(buf)), 0);
	assert_int_equal(census_why(&p, &rq), CW_WHY_EOF_READ);
	assert_int_equal(rq, 0);
	pair_free(&p);
}

/* The FIN came while data was unread: the kernel merged it into the
 * buffer of that data, and the read that takes the last byte takes the FIN
 * with it (Recv-Q 0) though it returns the data, not 0. The program has
 * read everything; its next read returns 0 at once. eof-read means that:
 * nothing left to read but the end. Measured on Linux 6.18. */
static void test_last_data_takes_merged_fin(void **state)
{
	struct pair p = pair_closed("hello", true);
	char buf[64];
	uint32_t rq = 99;

	(void)state;
	assert_int_equal(census_why(&p, &rq), CW_WHY_NEVER_READ);
	assert_int_equal(rq, 5 + 1);
	read_exactly(p.srv, 4);
	assert_int_equal(census_why(&p, &rq), CW_WHY_NEVER_READ);
	assert_int_equal(rq, 1 + 1);
	assert_int_equal(read(p.srv, buf, sizeof(buf)), 1);
	assert_int_equal(census_why(&p, &rq), CW_WHY_EOF_READ);
	assert_int_equal(rq, 0);
	assert_int_equal(recv(p.srv, buf, sizeof(buf), MSG_DONTWAIT), 0);
	pair_free(&p);
}

/* read(fd, buf, 0) after the FIN returns 0 as the EOF does, and consumes
 * nothing (the socket layer answers an empty read before TCP sees it):
 * still never-read, with or without data before the FIN. */
static void test_zero_length_read(void **state)
{
	const char *data[] = { NULL, "hello" };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		struct pair p = pair_closed(data[k], true);
		char buf[64];
		uint32_t rq = 99, want = data[k] ? 5 + 1 : 1;

		for (int n = 0; n < 3; n++)
			assert_int_equal(read(p.srv, buf, 0), 0);
		assert_int_equal(census_why(&p, &rq), CW_WHY_NEVER_READ);
		assert_int_equal(rq, want);
		/* the real EOF is still there to read */
		if (data[k])
			read_exactly(p.srv, 5);
		assert_int_equal(read(p.srv, buf, sizeof(buf)), 0);
		assert_int_equal(census_why(&p, &rq), CW_WHY_EOF_READ);
		assert_int_equal(rq, 0);
		pair_free(&p);
	}
}

/* recv(fd, buf, 0, 0) is not read(fd, buf, 0): it reaches TCP, which, when
 * the FIN is all that is left, takes it (Recv-Q 1 -> 0) and returns 0: the
 * program was handed its EOF, so eof-read is what it is. With data before
 * the FIN it takes nothing; MSG_PEEK never does. Measured on Linux 6.18. */
static void test_zero_length_recv(void **state)
{
	const char *data[] = { NULL, "hello" };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		struct pair p = pair_closed(data[k], true);
		char buf[64];
		uint32_t rq = 99, want = data[k] ? 5 + 1 : 1;

		assert_int_equal(recv(p.srv, buf, 0, MSG_PEEK | MSG_DONTWAIT), 0);
		assert_int_equal(census_why(&p, &rq), CW_WHY_NEVER_READ);
		assert_int_equal(rq, want);
		assert_int_equal(recv(p.srv, buf, 0, MSG_DONTWAIT), 0);
		if (data[k]) {
			assert_int_equal(census_why(&p, &rq), CW_WHY_NEVER_READ);
			assert_int_equal(rq, want);
		} else {
			assert_int_equal(census_why(&p, &rq), CW_WHY_EOF_READ);
			assert_int_equal(rq, 0);
		}
		pair_free(&p);
	}
}

/* Never accepted: the connection's data and FIN wait in the accept queue
 * (Recv-Q at least 1); it is unaccepted, which takes precedence. */
static void test_unaccepted(void **state)
{
	const char *data[] = { NULL, "hello" };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		struct pair p = pair_closed(data[k], false);
		uint32_t rq = 0;

		assert_int_equal(census_why(&p, &rq), CW_WHY_UNACCEPTED);
		assert_int_equal(rq, data[k] ? 5 + 1 : 1);
		pair_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_eof_read),
		CWT_FD_TEST(test_eof_read_no_data),
		CWT_FD_TEST(test_data_read_not_eof),
		CWT_FD_TEST(test_last_data_takes_merged_fin),
		CWT_FD_TEST(test_zero_length_read),
		CWT_FD_TEST(test_zero_length_recv),
		CWT_FD_TEST(test_unaccepted),
	};

	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
