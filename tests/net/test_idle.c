/* Idle timeouts at scale: 10 000 connections (clients in a child process;
 * each process may hold 20 000 fds), lazily re-checked by the wheel. */
#include "cwtest.h"
#include "cwt_fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define NCONN 10000


struct idle_report {
	int connected;
	int closed;          /* EOFs seen on the idle connections */
	int early;           /* closed sooner than 1.0 s after the stamp */
	int late;            /* later than 1.5 s */
	long min_ms, max_ms; /* EOF - stamp */
	int busy_closed_early; /* the busy connection closed while still busy */
	int bad_reply;
};

static void child_write(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		_exit(3);
}

/* Child: N connections; each sends one message 200 ms after its own connect
 * (staggered by the connects themselves), stamps it, reads the reply, then
 * waits for the server's FIN. Connection 0 instead talks every 200 ms for 5 s. */
static void idle_clients(uint16_t port, int out)
{
	struct idle_report r = { .min_ms = 1000000, .max_ms = 0 };
	uint64_t *opened = calloc(NCONN, sizeof(uint64_t)), *stamp = calloc(NCONN, sizeof(uint64_t));
	int *fd = calloc(NCONN, sizeof(int)), ep = epoll_create1(0), sent = 0, open = 0;
	uint64_t busy_start, busy_next;
	bool busy = true;

	for (int i = 0; i < NCONN; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		fd[i] = cwt_connect("127.0.0.1", port);
		if (fd[i] < 0)
			break;
		opened[i] = cwt_now_ms();
		epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
		r.connected++;
	}
	open = r.connected;
	busy_start = opened[0];
	busy_next = busy_start;
	while (open > 0 && cwt_now_ms() < busy_start + 20000) {
		struct epoll_event evs[256];
		uint64_t now = cwt_now_ms();
		int n;

		/* The busy connection: traffic every 200 ms for 5 s. */
		if (busy && now >= busy_next) {
			if (now >= busy_start + 5000) {
				busy = false;
			} else {
				child_write(fd[0], "busy", 4);
				busy_next += 200;
			}
		}
		for (; sent < r.connected && now >= opened[sent] + 200; sent++) {
			if (sent == 0)
				continue;
			stamp[sent] = cwt_now_ms();
			child_write(fd[sent], "ping", 4);
		}
		n = epoll_wait(ep, evs, 256, 5);
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			char b[64];
			ssize_t got = read(fd[i], b, sizeof(b));

			if (got > 0) {
				if (b[0] != (i ? 'P' : 'B'))
					r.bad_reply++;
				continue;
			}
			/* EOF (or reset): the server closed this one. */
			now = cwt_now_ms();
			if (i == 0) {
				if (busy)
					r.busy_closed_early = 1;
			} else {
				long d = stamp[i] ? (long)(now - stamp[i]) : -1;

				r.closed++;
				if (d < 1000)
					r.early++;
				if (d > 1500)
					r.late++;
				if (d >= 0 && d < r.min_ms)
					r.min_ms = d;
				if (d > r.max_ms)
					r.max_ms = d;
			}
			epoll_ctl(ep, EPOLL_CTL_DEL, fd[i], NULL);
			close(fd[i]);
			open--;
		}
	}
	child_write(out, &r, sizeof(r));
	_exit(0);
}

/* --idle 1s, 10 000 idle connections: each closed 1.0-1.5 s after its last
 * message; one with traffic every 200 ms stays open for its 5 s. */
static void test_idle_1s_with_10000_connections(void **state)
{
	struct cw_server_config cfg;
	struct cwt_server *s;
	struct cw_conn_stats st;
	struct cw_loop_stats ls;
	struct idle_report r;
	int pfd[2], status;
	pid_t pid;

	(void)state;
	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.policy.idle_ms = 1000;
	s = cwt_server_start(&cfg);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		idle_clients(cwt_server_port(s), pfd[1]);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &r, sizeof(r)), sizeof(r));
	close(pfd[0]);
	waitpid(pid, &status, 0);
	cwt_server_stop(s, 1000, &st, &ls);
	print_message("idle 1s: %d connections, %d idle-closed, EOF after the last message: min %ld ms, max %ld ms; %d early, %d late\n",
		      r.connected, r.closed, r.min_ms, r.max_ms, r.early, r.late);
	print_message("server: %llu closed idle; wheel: %llu arms, %llu fires, %llu examined, max %llu slots and %llu extra entries in one tick\n",
		      (unsigned long long)st.closed[CW_CLOSE_IDLE], (unsigned long long)ls.timer_arms,
		      (unsigned long long)ls.timer_fires, (unsigned long long)ls.timer_examined,
		      (unsigned long long)ls.timer_max_tick_slots, (unsigned long long)ls.timer_max_tick_extra);
	assert_int_equal(r.connected, NCONN);
	assert_int_equal(r.closed, NCONN - 1);
	assert_int_equal(r.bad_reply, 0);
	assert_int_equal(r.early, 0);
	assert_int_equal(r.late, 0);
	assert_int_equal(r.busy_closed_early, 0);
	assert_int_equal(st.closed[CW_CLOSE_IDLE], NCONN);
	assert_int_equal(ls.timer_max_tick_extra, 0);
	assert_true(ls.timer_max_tick_slots <= 8);
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
	struct cw_server_config cfg;
	struct cwt_server *s;
	struct cw_conn_stats st;
	struct cw_loop_stats ls;
	struct pp_report r;
	int pfd[2], status;
	pid_t pid;

	(void)state;
	cw_server_config_init(&cfg);
	cfg.ops.on_data = cwt_echo_on_data;
	cfg.policy.idle_ms = 300000;
	s = cwt_server_start(&cfg);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		pingpong_clients(cwt_server_port(s), pfd[1]);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &r, sizeof(r)), sizeof(r));
	close(pfd[0]);
	waitpid(pid, &status, 0);
	/* Let the server see every FIN, so the counters are final. */
	for (int i = 0; i < 1000 && cwt_count_state(CWT_CLOSE_WAIT, 0, 0); i++)
		cwt_sleep_ms(5);
	cwt_server_stop(s, 1000, &st, &ls);
	print_message("%d connections, %ld messages in 5 s; wheel: %llu arms, %llu cancels, %llu fires, %llu examined; epoll_ctl %llu\n",
		      r.connected, r.messages, (unsigned long long)ls.timer_arms,
		      (unsigned long long)ls.timer_cancels, (unsigned long long)ls.timer_fires,
		      (unsigned long long)ls.timer_examined, (unsigned long long)ls.epoll_ctl);
	assert_int_equal(r.connected, NCONN);
	assert_int_equal(r.bad_reply, 0);
	assert_true(r.messages > 10 * NCONN);
	assert_int_equal(ls.timer_arms, NCONN);      /* one per connection, at accept */
	assert_int_equal(ls.timer_examined, 0);      /* nothing came due */
	assert_true(ls.epoll_ctl <= 2 * NCONN + 16); /* add + delete per connection */
	assert_int_equal(st.closed[CW_CLOSE_EOF], NCONN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_1s_with_10000_connections, cwt_fd_setup, cwt_fd_teardown),
		cmocka_unit_test_setup_teardown(test_no_timer_work_per_message_at_scale, cwt_fd_setup, cwt_fd_teardown),
	};
	struct rlimit rl;

	/* 10 000 sockets here and 10 000 in the client child: raise the soft limit. */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
