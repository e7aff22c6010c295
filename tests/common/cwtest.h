/* Helpers shared by closewait's C tests and test tools. */
#ifndef CWTEST_H
#define CWTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "closewait/census_types.h"
#include "closewait/conn.h"
#include "closewait/server.h"

/* Moves this process into a new network namespace with loopback up; aborts
 * the test run with a clear message if that is not possible (needs root). */
void cwt_netns(void);
/* Open fds of pid (0: this process). */
int cwt_fd_count(pid_t pid);
/* cmocka setup/teardown pair: the test must end with the fds it started with. */
int cwt_fd_setup(void **state);
int cwt_fd_teardown(void **state);
uint64_t cwt_now_ms(void);
/* The one factor by which a test widens its upper time bounds and deadlines:
 * CW_TEST_SLACK (a whole number, 1 when unset). The sanitizer pass sets 3:
 * the code runs several times slower there, the kernel's timers do not, so
 * lower bounds ("not before D") are never scaled. Exits on a bad value. */
unsigned cwt_slack(void);
/* ms × cwt_slack(). */
uint64_t cwt_slack_ms(uint64_t ms);
void cwt_sleep_ms(unsigned ms);
/* A listening TCP socket on addr:port (SO_REUSEADDR, close-on-exec);
 * returns the fd or -errno. */
int cwt_listen(const char *addr, uint16_t port, int backlog);
/* Blocking TCP connect to addr:port; returns the fd or -errno. */
int cwt_connect(const char *addr, uint16_t port);
/* Opens n connections to addr:port into fds; with msg, sends it on each and
 * reads a reply before the next. 0, or -1 once one fails, said on stderr as
 * "who: connect I: ERROR" or "who: exchange I failed" (for test tools, which
 * then exit: what was opened is left to the exit). */
int cwt_connect_n(const char *who, const char *addr, uint16_t port, int n, const char *msg, int *fds);
void cwt_set_nonblock(int fd, bool on);
/* Writes and reads everything (blocking); 0 or -errno. */
int cwt_write_all(int fd, const void *buf, size_t len);
/* Reads until len bytes or EOF; returns bytes read or -errno. */
ssize_t cwt_read_full(int fd, void *buf, size_t len);

/* Sockets in state (the library's enum cw_tcp_state) whose local (or, if
 * local_port is 0, remote) port matches, read from /proc/net/tcp and tcp6
 * (the kernel's table, not our counters). Port 0 on both sides counts every
 * socket in that state. */
int cwt_count_state(enum cw_tcp_state state, uint16_t local_port, uint16_t remote_port);
/* The state of the socket with this local and remote port (one end of one
 * connection), from the kernel's table; 0 when there is none. send_q (may be
 * NULL) gets its send queue: bytes written and not yet acknowledged. */
int cwt_pair_state(uint16_t local_port, uint16_t remote_port, unsigned *send_q);
/* A TcpExt counter of this namespace's /proc/net/netstat (ListenOverflows,
 * TCPSynRetrans...), or -1 if the kernel has no such counter. */
long cwt_tcpext(const char *name);

/* Polls cond(arg) every 2 ms until it holds or deadline_ms passes; returns
 * the elapsed ms when it held, or -1 on timeout. The clock starts at the call. */
long cwt_poll_until(bool (*cond)(void *arg), void *arg, unsigned deadline_ms);

/* An uppercase echo server on libclosewait, run by a thread of the test. */
struct cwt_server;
/* Starts it on 127.0.0.1 (port 0: any); cfg NULL = defaults. */
struct cwt_server *cwt_server_start(const struct cw_server_config *cfg);
uint16_t cwt_server_port(const struct cwt_server *s);
/* The server's loop, for callbacks (they run on the loop thread) that need timers. */
struct cw_loop *cwt_server_loop(const struct cwt_server *s);
/* Stops the loop thread (shutting the server down with drain_ms), returns
 * the final counters. Frees everything. */
void cwt_server_stop(struct cwt_server *s, uint64_t drain_ms, struct cw_conn_stats *st,
		     struct cw_loop_stats *ls);
/* The same, and the timing wheel's own counters (core/loop_internal.h). */
struct wheel_stats;
void cwt_server_stop_wheel(struct cwt_server *s, uint64_t drain_ms, struct cw_conn_stats *st,
			   struct cw_loop_stats *ls, struct wheel_stats *ws);
/* The echo callback itself, for tests that build their own server. */
void cwt_echo_on_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg);

#endif
