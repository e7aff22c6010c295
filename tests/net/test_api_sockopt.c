/* Direct tests of sockopt.h and of the policy's socket-level part
 * (cw_policy_user_timeout, cw_policy_apply): each option read back from the
 * kernel (getsockopt, /proc/net/tcp) and, where the header promises an
 * effect, the effect seen. The namespace is private, so its keepalive
 * sysctls are set to values no kernel has by default: "the system's value"
 * is then told apart from any constant. */
#include "cwtest.h"
#include "cwtest_main.h"
#include "child_passed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "closewait/conn.h"
#include "closewait/sockopt.h"

/* This namespace's net.ipv4.tcp_keepalive_{time,intvl,probes}. */
#define SYS_IDLE 111
#define SYS_INTVL 7
#define SYS_CNT 3

static void set_sysctl(const char *name, int v)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/%s", name);
	f = fopen(path, "we");
	if (!f || fprintf(f, "%d\n", v) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot set %s\n", path);
		exit(1);
	}
}

static int get_int(int fd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

static int tcp_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	return fd;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

/* A listener on 127.0.0.1, any port; SO_REUSEADDR by cw_sockopt_reuseaddr if asked. */
static int listener(bool reuseaddr)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = tcp_socket();

	if (reuseaddr)
		assert_int_equal(cw_sockopt_reuseaddr(fd), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

/* A connection: *cli is the connecting end, *srv the accepted one. */
static void connected(int l, int *cli, int *srv)
{
	*cli = cwt_connect("127.0.0.1", local_port(l));
	assert_true(*cli >= 0);
	*srv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(*srv >= 0);
}

/* The kernel timer of one IPv4 socket, from /proc/net/tcp ("tr": 0 none,
 * 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero window probe); -1 if absent. */
static int tcp_timer(uint16_t lport, uint16_t rport)
{
	FILE *f = fopen("/proc/net/tcp", "re");
	char line[512];
	int timer = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned lp, rp, st, tr;

		if (sscanf(line, " %*d: %*x:%x %*x:%x %x %*x:%*x %x", &lp, &rp, &st, &tr) == 4 &&
		    lp == lport && rp == rport)
			timer = (int)tr;
	}
	fclose(f);
	return timer;
}

static void test_sys_keepalive(void **state)
{
	int idle = -1, intvl = -1, cnt = -1;

	(void)state;
	assert_int_equal(cw_sockopt_sys_keepalive(&idle, &intvl, &cnt), 0);
	assert_int_equal(idle, SYS_IDLE);
	assert_int_equal(intvl, SYS_INTVL);
	assert_int_equal(cnt, SYS_CNT);
}

/* Where the sysctls cannot be read (an empty tmpfs over them, in a private
 * mount namespace of a child): the error of the first, and Linux's defaults,
 * which the policy's user timeout then uses. */
static void test_sys_keepalive_unreadable(void **state)
{
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int idle = -1, intvl = -1, cnt = -1;
		struct cw_policy p;

		cw_policy_init(&p);
		p.keepalive = true;
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("none", "/proc/sys/net/ipv4", "tmpfs", 0, NULL))
			_exit(2);
		if (cw_sockopt_sys_keepalive(&idle, &intvl, &cnt) != -ENOENT)
			_exit(3);
		if (idle != CW_KEEPALIVE_DEFAULT_IDLE_S || intvl != CW_KEEPALIVE_DEFAULT_INTVL_S ||
		    cnt != CW_KEEPALIVE_DEFAULT_CNT)
			_exit(4);
		if (cw_policy_user_timeout(&p) != (7200 + 75 * 9) * 1000)
			_exit(5);
		_exit(0);
	}
	child_passed(pid);
}

/* cw_sockopt_keepalive: SO_KEEPALIVE on, each value >= 0 set, each negative
 * one left at the system's. */
static void test_keepalive(void **state)
{
	static const int cases[][6] = {
		/* idle, intvl, cnt asked; idle, intvl, cnt the socket has */
		{ 10, 5, 4, 10, 5, 4 },
		{ -1, -1, -1, SYS_IDLE, SYS_INTVL, SYS_CNT },
		{ 20, -1, 6, 20, SYS_INTVL, 6 },
		{ -1, 9, -1, SYS_IDLE, 9, SYS_CNT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const int *c = cases[i];
		int fd = tcp_socket();

		assert_int_equal(get_int(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
		assert_int_equal(cw_sockopt_keepalive(fd, c[0], c[1], c[2]), 0);
		assert_int_equal(get_int(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
		assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE), c[3]);
		assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL), c[4]);
		assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_KEEPCNT), c[5]);
		close(fd);
	}
}

/* cw_sockopt_keepalive_off: SO_KEEPALIVE reads 0, and on a connection the
 * kernel's keepalive timer is gone. */
static void test_keepalive_off(void **state)
{
	int l = listener(false), cli, srv;
	uint16_t lp, rp;

	(void)state;
	connected(l, &cli, &srv);
	lp = local_port(cli);
	rp = local_port(l);
	assert_int_equal(tcp_timer(lp, rp), 0);
	assert_int_equal(cw_sockopt_keepalive(cli, 30, 5, 3), 0);
	assert_int_equal(tcp_timer(lp, rp), 2);
	assert_int_equal(cw_sockopt_keepalive_off(cli), 0);
	assert_int_equal(get_int(cli, SOL_SOCKET, SO_KEEPALIVE), 0);
	assert_int_equal(tcp_timer(lp, rp), 0);
	/* and it stays off: a second call is no toggle */
	assert_int_equal(cw_sockopt_keepalive_off(cli), 0);
	assert_int_equal(get_int(cli, SOL_SOCKET, SO_KEEPALIVE), 0);
	close(cli);
	close(srv);
	close(l);
}

static void test_user_timeout(void **state)
{
	int fd = tcp_socket();

	(void)state;
	assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
	assert_int_equal(cw_sockopt_user_timeout(fd, 1234), 0);
	assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 1234);
	assert_int_equal(cw_sockopt_user_timeout(fd, 0), 0);
	assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
	close(fd);
}

/* cw_sockopt_linger_abort: SO_LINGER {1, 0}; the next close() resets the
 * connection (the peer reads ECONNRESET) and leaves no TIME_WAIT. */
static void test_linger_abort(void **state)
{
	int l = listener(false), cli, srv;
	struct linger lg = { -1, -1 };
	socklen_t len = sizeof(lg);
	uint16_t sp, cp;
	char b;

	(void)state;
	connected(l, &cli, &srv);
	sp = local_port(srv);
	cp = local_port(cli);
	assert_int_equal(cw_sockopt_linger_abort(srv), 0);
	assert_int_equal(getsockopt(srv, SOL_SOCKET, SO_LINGER, &lg, &len), 0);
	assert_int_equal(lg.l_onoff, 1);
	assert_int_equal(lg.l_linger, 0);
	/* The server's end closes first, which would leave it in TIME_WAIT. */
	close(srv);
	assert_int_equal(read(cli, &b, 1), -1);
	assert_int_equal(errno, ECONNRESET);
	close(cli);
	assert_int_equal(cwt_pair_state(sp, cp, NULL), 0);
	assert_int_equal(cwt_pair_state(cp, sp, NULL), 0);
	close(l);
}

/* cw_sockopt_reuseaddr: a listener binds the port that a connection of the
 * last one holds in TIME_WAIT; without it the bind fails. (The kernel wants
 * the flag on both: the TIME_WAIT socket has it from its listener, which is
 * why a cw_server sets it on every listener.) */
static void test_reuseaddr(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int l = listener(true), cli, srv, fresh;
	uint16_t port = local_port(l);
	char b;

	(void)state;
	assert_int_equal(get_int(l, SOL_SOCKET, SO_REUSEADDR), 1);
	connected(l, &cli, &srv);
	close(srv); /* the server's end closes first: TIME_WAIT on the listener's port */
	assert_int_equal(read(cli, &b, 1), 0);
	close(cli);
	close(l);
	assert_int_equal(cwt_count_state(CW_TCP_TIME_WAIT, port, 0), 1);
	a.sin_port = htons(port);
	fresh = tcp_socket();
	assert_int_equal(bind(fresh, (struct sockaddr *)&a, sizeof(a)), -1);
	assert_int_equal(errno, EADDRINUSE);
	close(fresh);
	fresh = tcp_socket();
	assert_int_equal(cw_sockopt_reuseaddr(fresh), 0);
	assert_int_equal(bind(fresh, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fresh, 1), 0);
	close(fresh);
}

/* cw_sockopt_reuseport: two listeners share one port; without it the second
 * bind fails. */
static void test_reuseport(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int one = tcp_socket(), two = tcp_socket(), plain = tcp_socket();

	(void)state;
	assert_int_equal(cw_sockopt_reuseport(one), 0);
	assert_int_equal(get_int(one, SOL_SOCKET, SO_REUSEPORT), 1);
	assert_int_equal(bind(one, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(one, 1), 0);
	assert_int_equal(getsockname(one, (struct sockaddr *)&a, &al), 0);
	assert_int_equal(bind(plain, (struct sockaddr *)&a, sizeof(a)), -1);
	assert_int_equal(errno, EADDRINUSE);
	assert_int_equal(cw_sockopt_reuseport(two), 0);
	assert_int_equal(bind(two, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(two, 1), 0);
	assert_int_equal(cwt_count_state(CW_TCP_LISTEN, ntohs(a.sin_port), 0), 2);
	close(one);
	close(two);
	close(plain);
}

static void test_nodelay(void **state)
{
	int fd = tcp_socket();

	(void)state;
	assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_NODELAY), 0);
	assert_int_equal(cw_sockopt_nodelay(fd), 0);
	assert_int_equal(get_int(fd, IPPROTO_TCP, TCP_NODELAY), 1);
	close(fd);
}

/* cw_sockopt_error: the pending error as -errno, cleared by reading it; a
 * failing getsockopt's -errno too. */
static void test_sock_error(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int closed = tcp_socket(), fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int p[2];

	(void)state;
	/* a port bound but never listening: the connect is refused */
	assert_int_equal(bind(closed, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(closed, (struct sockaddr *)&a, &al), 0);
	assert_int_equal(cw_sockopt_error(fd), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), -1);
	assert_int_equal(errno, EINPROGRESS);
	assert_int_equal(poll(&pfd, 1, (int)cwt_slack_ms(2000)), 1);
	assert_int_equal(cw_sockopt_error(fd), -ECONNREFUSED);
	assert_int_equal(cw_sockopt_error(fd), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(cw_sockopt_error(p[0]), -ENOTSOCK);
	close(p[0]);
	close(p[1]);
	close(fd);
	close(closed);
}

/* "All return 0 or -errno": each function on a pipe and on no fd at all. */
static void test_errors(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	for (int k = 0; k < 2; k++) {
		int fd = k ? -1 : p[0], want = k ? -EBADF : -ENOTSOCK;

		assert_int_equal(cw_sockopt_keepalive(fd, 1, 1, 1), want);
		assert_int_equal(cw_sockopt_keepalive_off(fd), want);
		assert_int_equal(cw_sockopt_user_timeout(fd, 1000), want);
		assert_int_equal(cw_sockopt_linger_abort(fd), want);
		assert_int_equal(cw_sockopt_reuseaddr(fd), want);
		assert_int_equal(cw_sockopt_reuseport(fd), want);
		assert_int_equal(cw_sockopt_nodelay(fd), want);
		assert_int_equal(cw_sockopt_error(fd), want);
	}
	close(p[0]);
	close(p[1]);
}

/* ---- The policy's socket-level part ---- */

static void test_policy_user_timeout(void **state)
{
	struct cw_policy p;

	(void)state;
	cw_policy_init(&p);
	assert_int_equal(cw_policy_user_timeout(&p), 0); /* AUTO without keepalive: none */
	p.keepalive = true;
	assert_int_equal(cw_policy_user_timeout(&p), (SYS_IDLE + SYS_INTVL * SYS_CNT) * 1000);
	p.keepidle_s = 10;
	assert_int_equal(cw_policy_user_timeout(&p), (10 + SYS_INTVL * SYS_CNT) * 1000);
	p.keepintvl_s = 2;
	assert_int_equal(cw_policy_user_timeout(&p), (10 + 2 * SYS_CNT) * 1000);
	p.keepcnt = 4;
	assert_int_equal(cw_policy_user_timeout(&p), (10 + 2 * 4) * 1000);
	p.user_timeout_ms = 1234; /* explicit wins */
	assert_int_equal(cw_policy_user_timeout(&p), 1234);
	p.user_timeout_ms = 0;
	assert_int_equal(cw_policy_user_timeout(&p), 0);
	p.keepalive = false;
	p.user_timeout_ms = 4321;
	assert_int_equal(cw_policy_user_timeout(&p), 4321);
}

struct sock_view {
	int nodelay, keepalive, idle, intvl, cnt, user_timeout;
};

static void view(int fd, struct sock_view *v)
{
	v->nodelay = get_int(fd, IPPROTO_TCP, TCP_NODELAY);
	v->keepalive = get_int(fd, SOL_SOCKET, SO_KEEPALIVE);
	v->idle = get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE);
	v->intvl = get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL);
	v->cnt = get_int(fd, IPPROTO_TCP, TCP_KEEPCNT);
	v->user_timeout = get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
}

/* What a fresh socket reports once cw_policy_apply(p) set it. */
static void applied(const struct cw_policy *p, struct sock_view *v)
{
	int fd = tcp_socket();

	assert_int_equal(cw_policy_apply(p, fd), 0);
	view(fd, v);
	close(fd);
}

/* cw_policy_apply: keepalive, the user timeout and nodelay, as the socket
 * then reports them; what the policy leaves off stays off. */
static void test_policy_apply(void **state)
{
	struct cw_policy p;
	struct sock_view v;
	int pp[2];

	(void)state;
	cw_policy_init(&p); /* defaults: only nodelay */
	applied(&p, &v);
	assert_int_equal(v.nodelay, 1);
	assert_int_equal(v.keepalive, 0);
	assert_int_equal(v.user_timeout, 0);

	p.keepalive = true;
	p.keepidle_s = 10;
	p.keepintvl_s = 5;
	p.keepcnt = 3;
	applied(&p, &v);
	assert_int_equal(v.nodelay, 1);
	assert_int_equal(v.keepalive, 1);
	assert_int_equal(v.idle, 10);
	assert_int_equal(v.intvl, 5);
	assert_int_equal(v.cnt, 3);
	assert_int_equal(v.user_timeout, (10 + 5 * 3) * 1000);

	cw_policy_init(&p);
	p.nodelay = false;
	p.user_timeout_ms = 1234;
	applied(&p, &v);
	assert_int_equal(v.nodelay, 0);
	assert_int_equal(v.keepalive, 0);
	assert_int_equal(v.user_timeout, 1234);

	/* more than the socket option can hold: the most it can */
	p.user_timeout_ms = 1000000000000;
	applied(&p, &v);
	assert_int_equal(v.user_timeout, INT_MAX);

	assert_int_equal(pipe(pp), 0);
	assert_int_equal(cw_policy_apply(&p, pp[0]), -ENOTSOCK);
	close(pp[0]);
	close(pp[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_sys_keepalive),
		CWT_FD_TEST(test_sys_keepalive_unreadable),
		CWT_FD_TEST(test_keepalive),
		CWT_FD_TEST(test_keepalive_off),
		CWT_FD_TEST(test_user_timeout),
		CWT_FD_TEST(test_linger_abort),
		CWT_FD_TEST(test_reuseaddr),
		CWT_FD_TEST(test_reuseport),
		CWT_FD_TEST(test_nodelay),
		CWT_FD_TEST(test_sock_error),
		CWT_FD_TEST(test_errors),
		CWT_FD_TEST(test_policy_user_timeout),
		CWT_FD_TEST(test_policy_apply),
	};

	cwt_netns();
	set_sysctl("tcp_keepalive_time", SYS_IDLE);
	set_sysctl("tcp_keepalive_intvl", SYS_INTVL);
	set_sysctl("tcp_keepalive_probes", SYS_CNT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
