/* reap's sock_diag requests wait a bounded time for their answer. The
 * kernel answers a request before sendto() returns, so only a message that
 * is not the answer can make the wait long: here one carrying the request's
 * sequence number but neither NLMSG_ERROR nor SOCK_DIAG_BY_FAMILY, sent by
 * a second NETLINK_SOCK_DIAG socket of ours to the first one's port id.
 * In a private network namespace. */
#include "cwtest.h"
#include "cwtest_main.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include "reap/reap_diag.h"

#define SEQ 4242u

static int nl_open(uint32_t *portid)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK };
	socklen_t len = sizeof(a);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*portid = a.nl_pid;
	return fd;
}

/* A bare netlink header of type with seq, from fd to the socket to. */
static void send_msg(int fd, uint32_t to, uint16_t type, uint32_t seq)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = to };
	struct nlmsghdr h = { .nlmsg_len = NLMSG_LENGTH(0), .nlmsg_type = type, .nlmsg_seq = seq };

	assert_int_equal(sendto(fd, &h, sizeof(h), 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)sizeof(h));
}

/* Messages with the request's seq that are not its answer, then silence:
 * -ETIMEDOUT once the wait is over, not a receive that blocks for ever
 * (the alarm kills the test if it does). Clock: from the call. */
static void test_no_answer_times_out(void **state)
{
	uint32_t rx_id, tx_id;
	int rx = nl_open(&rx_id), tx = nl_open(&tx_id), err;
	char buf[8192];
	uint64_t t0, took;

	(void)state;
	send_msg(tx, rx_id, NLMSG_NOOP, SEQ);
	send_msg(tx, rx_id, NLMSG_DONE, SEQ);
	send_msg(tx, rx_id, SOCK_DIAG_BY_FAMILY, SEQ); /* an answer a destroy does not take */
	alarm(10 * cwt_slack());
	t0 = cwt_now_ms();
	err = reap_diag_recv(rx, buf, sizeof(buf), SEQ, 300, NULL);
	took = cwt_now_ms() - t0;
	alarm(0);
	print_message("no answer: %s after %llu ms\n", strerror(-err), (unsigned long long)took);
	assert_int_equal(err, -ETIMEDOUT);
	assert_true(took >= 300);
	assert_true(took <= cwt_slack_ms(1000));
	close(rx);
	close(tx);
}

/* The kernel's answer still ends the wait at once, after what is not the
 * answer: a late one to an earlier request (another seq), a NOOP, and an
 * error with the request's seq forged by another socket (any process may
 * send to our port id: only the kernel's messages count). The request asks
 * for a socket that does not exist: the kernel answers -ENOENT. */
static void test_answer_after_noise(void **state)
{
	uint32_t rx_id, tx_id;
	int rx = nl_open(&rx_id), tx = nl_open(&tx_id), err;
	char buf[8192], req[256];
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} m = { .h = { .nlmsg_len = sizeof(m), .nlmsg_type = NLMSG_ERROR, .nlmsg_seq = SEQ },
		.e = { .error = -EPERM } };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK }, kernel = { .nl_family = AF_NETLINK };
	struct cw_sock none = { .family = AF_INET, .state = CW_TCP_CLOSE_WAIT };
	size_t len;

	(void)state;
	send_msg(tx, rx_id, NLMSG_ERROR, SEQ - 1);
	send_msg(tx, rx_id, NLMSG_NOOP, SEQ);
	to.nl_pid = rx_id;
	assert_int_equal(sendto(tx, &m, sizeof(m), 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)sizeof(m));
	/* 127.0.0.1:1 <-> 127.0.0.1:2, IPv4-mapped as the census stores it. */
	none.local.addr.s6_addr[10] = none.local.addr.s6_addr[11] = 0xff;
	none.local.addr.s6_addr[12] = 127;
	none.local.addr.s6_addr[15] = 1;
	none.peer = none.local;
	none.local.port = 1;
	none.peer.port = 2;
	len = reap_diag_request(req, SOCK_DIAG_BY_FAMILY, &none, NULL, SEQ);
	assert_int_equal(sendto(rx, req, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)), (ssize_t)len);
	alarm(10 * cwt_slack());
	err = reap_diag_recv(rx, buf, sizeof(buf), SEQ, 300, NULL);
	alarm(0);
	assert_int_equal(err, -ENOENT);
	close(rx);
	close(tx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_no_answer_times_out),
		CWT_FD_TEST(test_answer_after_noise),
	};

	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
