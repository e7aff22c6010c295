/* Idle timeouts at scale: 10 000 connections (clients in a child process;
 * each process may hold 20 000 fds), lazily re-checked by the wheel. */
#include "cwtest.h"
#include "cwtest_main.h"
#include "cwt_fault.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/loop_internal.h"

#define NCONN 10000
#define CONNECTING_MAX 64 /* connects in flight: never more than the accept queue holds */
/* How late an idle close may come, times CW_TEST_SLACK: the wheel's granule
 * at 1 s is 8 ms; the rest is for 10 000 connections' worth of wake-ups on
 * both sides. The lower bound (1.0 s) never widens. */
#define LATE_MS 500

struct idle_report {
	int connected;
	int connect_failed;
	int closed;          /* EOFs (or resets) seen on the idle connections */
	int echoed;          /* ... of which had their ping echoed first */
	int early;           /* closed sooner than 1.0 s after the last message the server saw */
	int late;            /* later than 1.0 s + LATE_MS */
	long min_ms, max_ms; /* EOF - that last message */
	long ping_lag_ms;    /* the latest a ping went out after its due time */
	int busy_closed_early; /* the busy connection closed while still busy */
	int bad_reply;
};

static void child_write(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		_exit(3);
}

/* The client side of the idle test (a child process). Connects are
 * non-blocking: a SYN the kernel drops (and retransmits a second later) only
 * delays its own connection, never the pings of the others. */
struct idle_clients {
	struct idle_report r;
	uint64_t opened[NCONN], stamp[NCONN];
	bool connecting[NCONN], echoed[NCONN];
	int fd[NCONN], order[NCONN]; /* order: indexes as their connects completed */
	int ep, started, inflight, sent, open, busy_i;
	uint64_t busy_start, busy_next;
	long late_ms; /* 1000 + LATE_MS x CW_TEST_SLACK */
	bool busy;
};

static void start_connects(struct idle_clients *ic, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	while (ic->started < NCONN && ic->inflight < CONNECTING_MAX) {
		int i = ic->started++;
		struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)i };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0 || (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)) {
			ic->r.connect_failed++;
			if (fd >= 0)
				close(fd);
			continue;
		}
		ic->fd[i] = fd;
		ic->connecting[i] = true;
		ic->inflight++;
		epoll_ctl(ic->ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

static void on_connected(struct idle_clients *ic, int i, uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
	int err = 0;
	socklen_t len = sizeof(err);

	ic->connecting[i] = false;
	ic->inflight--;
	if (getsockopt(ic->fd[i], SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		ic->r.connect_failed++;
		close(ic->fd[i]);
		return;
	}
	epoll_ctl(ic->ep, EPOLL_CTL_MOD, ic->fd[i], &ev);
	ic->opened[i] = now;
	if (ic->r.connected == 0) {
		ic->busy_i = i;
		ic->busy_start = ic->busy_next = now;
	}
	ic->order[ic->r.connected++] = i;
	ic->open++;
}

/* The first connection talks every 200 ms for 5 s; each other one sends its
 * one message 200 ms after its own connect, stamped. */
static void send_due(struct idle_clients *ic, uint64_t now)
{
	if (ic->busy && now >= ic->busy_next) {
		if (now >= ic->busy_start + 5000) {
			ic->busy = false;
		} else {
			if (send(ic->fd[ic->busy_i], "busy", 4, MSG_NOSIGNAL) != 4)
				ic->r.busy_closed_early = 1;
			ic->busy_next += 200;
		}
	}
	for (; ic->sent < ic->r.connected; ic->sent++) {
		int i = ic->order[ic->sent];

		if (now < ic->opened[i] + 200)
			break;
		if (i == ic->busy_i)
			continue;
		if ((long)(now - ic->opened[i] - 200) > ic->r.ping_lag_ms)
			ic->r.ping_lag_ms = (long)(now - ic->opened[i] - 200);
		ic->stamp[i] = cwt_now_ms();
		/* It may fail only if the server already timed the connection
		 * out (its reset came back): judged when the EOF is read. */
		(void)send(ic->fd[i], "ping", 4, MSG_NOSIGNAL);
	}
}

/* The server's idle clock restarts at the last message it read: the ping
 * if it echoed it (the echo precedes its FIN), the connect otherwise (the
 * client ran late and the server rightly closed first). Either way the
 * close must come 1.0 s to late_ms after that. */
static void on_closed(struct idle_clients *ic, int i)
{
	if (i == ic->busy_i) {
		ic->r.busy_closed_early |= ic->busy;
	} else {
		long d = (long)(cwt_now_ms() - (ic->echoed[i] ? ic->stamp[i] : ic->opened[i]));

		ic->r.closed++;
		ic->r.echoed += ic->echoed[i];
		ic->r.early += d < 1000;
		ic->r.late += d > ic->late_ms;
		if (d < ic->r.min_ms)
			ic->r.min_ms = d;
		if (d > ic->r.max_ms)
			ic->r.max_ms = d;
	}
	epoll_ctl(ic->ep, EPOLL_CTL_DEL, ic->fd[i], NULL);
	close(ic->fd[i]);
	ic->open--;
}

static void poll_events(struct idle_clients *ic, int timeout)
{
	struct epoll_event evs[256];
	int n = epoll_wait(ic->ep, evs, 256, timeout);
	uint64_t now = cwt_now_ms();

	for (int k = 0; k < n; k++) {
		int i = (int)evs[k].data.u32;
		char b[64];
		ssize_t got;

		if (ic->connecting[i]) {
			on_connected(ic, i, now);
			continue;
		}
		got = read(ic->fd[i], b, sizeof(b));
		if (got < 0 && errno == EAGAIN)
			continue;
		if (got > 0) {
			ic->r.bad_reply += b[0] != (i == ic->busy_i ? 'B' : 'P');
			ic->echoed[i] = true;
		} else {
			on_closed(ic, i); /* EOF (or reset): the server closed this one */
		}
	}
}

/* Child: N connections; pings go out while the others still connect. */
static void idle_clients(uint16_t port, int out)
{
	static struct idle_clients ic;
	uint64_t end = cwt_now_ms() + cwt_slack_ms(30000);

	ic.r.min_ms = 1000000;
	ic.late_ms = (long)(1000 + cwt_slack_ms(LATE_MS));
	ic.ep = epoll_create1(EPOLL_CLOEXEC);
	ic.busy = true;
	while ((ic.started < NCONN || ic.inflight > 0 || ic.open > 0) && cwt_now_ms() < end) {
		start_connects(&ic, port);
		send_due(&ic, cwt_now_ms());
		poll_events(&ic, ic.started < NCONN ? 0 : 5);
	}
	child_write(out, &ic.r, sizeof(ic.r));
	_exit(0);
}

/* An echo server with --idle idle_ms, and clients(port, out) run by a child
 * against it: reads the report (len bytes) the child writes to out, waits
 * for the child and returns the server, still running. */
static struct cwt_server *serve_clients(uint64_t idle_ms, void (*clients)(uint16_t port, int out),
					 void *report, size_t len)
{
	struct cw_server_config cfg;
	struct cwt_server *s;
	int pfd[2];
	pid_t pid;

	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.policy.idle_ms = idle_ms;
	s = cwt_server_start(&cfg);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		clients(cwt_server_port(s), pfd[1]);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], report, len), (ssize_t)len);
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	return s;
}

/* --idle 1s, 10 000 idle connections: each closed 1.0 s to 1.0 s + 0.5 s
 * (times CW_TEST_SLACK) after the last message the server read; one with
 * traffic every 200 ms stays open for its 5 s. The clock starts at the
 * client's send of that message (or at its connect, for a ping the server
 * never read). */
static void test_idle_1s_with_10000_connections(void **state)
{
	struct cwt_server *s;
	struct cw_conn_stats st;
	struct cw_loop_stats ls;
	struct wheel_stats ws;
	struct idle_report r;

	(void)state;
	s = serve_clients(1000, idle_clients, &r, sizeof(r));
	cwt_server_stop_wheel(s, 1000, &st, &ls, &ws);
	print_message("idle 1s: %d connections (%d failed), %d idle-closed, %d after their ping was echoed; EOF after the last message: min %ld ms, max %ld ms; %d early, %d late; pings up to %ld ms late\n",
		      r.connected, r.connect_failed, r.closed, r.echoed, r.min_ms, r.max_ms, r.early, r.late,
		      r.ping_lag_ms);
	print_message("kernel: %ld listen overflows, %ld SYN retransmits\n", cwt_tcpext("ListenOverflows"),
		      cwt_tcpext("TCPSynRetrans"));
	print_message("server: %llu closed idle; wheel: %llu arms, %llu fires, %llu examined, max %llu slots and %llu extra entries in one tick\n",
		      (unsigned long long)st.closed[CW_CLOSE_IDLE], (unsigned long long)ls.timer_arms,
		      (unsigned long long)ls.timer_fires, (unsigned long long)ws.examined,
		      (unsigned long long)ws.max_tick_slots, (unsigned long long)ws.max_tick_extra);
	assert_int_equal(r.connect_failed, 0);
	assert_int_equal(r.connected, NCONN);
	assert_int_equal(r.closed, NCONN - 1);
	assert_int_equal(r.bad_reply, 0);
	assert_int_equal(r.early, 0);
	assert_int_equal(r.late, 0);
	assert_int_equal(r.busy_closed_early, 0);
	assert_int_equal(st.closed[CW_CLOSE_IDLE], NCONN);
	/* An echoed ping moved the deadline: the wheel found it lazily, at the
	 * old deadline, and fired again at the new one. */
	assert_true(r.echoed > 0);
	assert_true(ls.timer_fires >= (uint64_t)(NCONN - 1 + r.echoed));
	assert_int_equal(ws.max_tick_extra, 0);
	assert_true(ws.max_tick_slots <= 8);
}

struct pp_report {
	int connected;
	long messages;
	int bad_reply;
};

/* Child: N connections exchanging messages (ping-pong on each) for 5 s. */
static void pingpong_clients(uint16_t port, int out)
{
	struct pp_report r = { 0 };
	int *fd = calloc(NCONN, sizeof(int)), ep = epoll_create1(0);
	uint64_t end;

	for (int i = 0; i < NCONN; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		fd[i] = cwt_connect("127.0.0.1", port);
		if (fd[i] < 0)
			break;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
		child_write(fd[i], "message", 7);
		r.connected++;
	}
	end = cwt_now_ms() + 5000;
	while (cwt_now_ms() < end) {
		struct epoll_event evs[512];
		int n = epoll_wait(ep, evs, 512, 10);

		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			char b[7];

			if (cwt_read_full(fd[i], b, 7) != 7 || memcmp(b, "MESSAGE", 7)) {
				r.bad_reply++;
				continue;
			}
			r.messages++;
			child_write(fd[i], "message", 7);
		}
	}
	/* Each connection has one request outstanding: take its reply before
	 * closing, or the close would be an RST (unread data) and not a FIN. */
	for (int i = 0; i < r.connected; i++) {
		char b[7];

		if (cwt_read_full(fd[i], b, 7) != 7)
			r.bad_reply++;
		close(fd[i]);
	}
	child_write(out, &r, sizeof(r));
	_exit(0);
}

/* 10 000 connections exchanging messages for 5 s under --idle 300s: the
 * wheel is armed once per connection, never per message, and no tick
 * examines anything (no deadline comes due). */
static void test_no_timer_work_per_message_at_scale(void **state)
{
	struct cwt_server *s;
	struct cw_conn_stats st;
	struct cw_loop_stats ls;
	struct wheel_stats ws;
	struct pp_report r;

	(void)state;
	s = serve_clients(300000, pingpong_clients, &r, sizeof(r));
	/* Let the server see every FIN, so the counters are final (5 s at most, times CW_TEST_SLACK). */
	for (uint64_t t = cwt_now_ms(); cwt_count_state(CW_TCP_CLOSE_WAIT, 0, 0) && cwt_now_ms() - t < cwt_slack_ms(5000);)
		cwt_sleep_ms(5);
	cwt_server_stop_wheel(s, 1000, &st, &ls, &ws);
	print_message("%d connections, %ld messages in 5 s; wheel: %llu arms, %llu cancels, %llu fires, %llu examined; epoll_ctl %llu\n",
		      r.connected, r.messages, (unsigned long long)ls.timer_arms,
		      (unsigned long long)ls.timer_cancels, (unsigned long long)ls.timer_fires,
		      (unsigned long long)ws.examined, (unsigned long long)ls.epoll_ctl);
	assert_int_equal(r.connected, NCONN);
	assert_int_equal(r.bad_reply, 0);
	assert_true(r.messages > 10 * NCONN);
	assert_int_equal(ls.timer_arms, NCONN);      /* one per connection, at accept */
	assert_int_equal(ws.examined, 0);            /* nothing came due */
	assert_true(ls.epoll_ctl <= 2 * NCONN + 16); /* add + delete per connection */
	assert_int_equal(st.closed[CW_CLOSE_EOF], NCONN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_idle_1s_with_10000_connections),
		CWT_FD_TEST(test_no_timer_work_per_message_at_scale),
	};
	struct rlimit rl;

	/* 10 000 sockets here and 10 000 in the client child: raise the soft limit. */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
