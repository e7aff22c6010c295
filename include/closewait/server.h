/* cw_server: listening sockets and the connections they accept.
 *
 *	static void on_done(struct cw_server *srv, void *arg) { cw_loop_stop(arg); }
 *	static void on_term(struct cw_loop *loop, int signo, void *arg)
 *	{
 *		cw_server_shutdown(arg, 5000, on_done, loop);  // 5 s to finish replies
 *	}
 *
 *	struct cw_server_config cfg;
 *	struct cw_server *srv;
 *	int err;
 *
 *	cw_server_config_init(&cfg);
 *	cfg.ops.on_data = on_data;              // conn.h
 *	err = cw_server_new(loop, &cfg, &srv);
 *	if (!err)
 *		err = cw_server_listen(srv, "0.0.0.0", 8000);
 *	if (!err)
 *		err = cw_loop_signal(loop, SIGTERM, on_term, srv);
 *	if (!err)
 *		err = cw_loop_run(loop);         // until SIGTERM and the drain
 *	cw_server_free(srv);
 *
 * Listeners always set SO_REUSEADDR (a restart must not wait out TIME_WAIT);
 * SO_REUSEPORT only when asked (workers sharing a port). Accepted sockets are
 * non-blocking, inherit the policy's socket options from the listener, and
 * are ended only by the library (see conn.h).
 */
#ifndef CLOSEWAIT_SERVER_H
#define CLOSEWAIT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "closewait/conn.h"
#include "closewait/loop.h"

#pragma GCC visibility push(default)

struct cw_server;

struct cw_server_config {
	int backlog;                /* listen() backlog; the kernel clamps it to somaxconn */
	unsigned max_conns;         /* connections over this are closed at once (reason limit); 0 = no limit */
	bool reuseport;             /* SO_REUSEPORT on the listeners */
	struct cw_policy policy;    /* how connections are kept and ended */
	struct cw_conn_ops ops;     /* callbacks */
	void *arg;                  /* passed to the callbacks */
};

/* Fills in the defaults: backlog 4096, no connection limit, no SO_REUSEPORT,
 * cw_policy_init's policy, no callbacks. */
void cw_server_config_init(struct cw_server_config *cfg);
/* A server on loop, listening nowhere yet; cfg is copied. 0; -EINVAL
 * without ops.on_data; -ENOMEM. */
int cw_server_new(struct cw_loop *loop, const struct cw_server_config *cfg, struct cw_server **out);
/* Binds and listens on addr (IPv4 or IPv6 literal) and port, and starts
 * accepting. IPv6 listeners are IPV6_V6ONLY, so "0.0.0.0" and "::" can both
 * be had. 0; -EADDRINUSE when the port is taken, -EINVAL for a bad address,
 * -ESHUTDOWN after cw_server_shutdown, else -errno (socket, bind...). */
int cw_server_listen(struct cw_server *s, const char *addr, uint16_t port);
/* The port of the first listener (useful with port 0); -ENOTCONN with no
 * listener, or -errno of getsockname. */
int cw_server_port(const struct cw_server *s);
/* Stops accepting and ends every connection: idle ones (nothing queued to
 * send, nothing received unread) at once, busy ones as soon as their replies
 * in flight are done, the rest aborted after drain_ms. done runs from the
 * loop once no connection is left (never from inside this call); it may free
 * the server. Calling it again aborts what is left at once. */
void cw_server_shutdown(struct cw_server *s, uint64_t drain_ms,
			void (*done)(struct cw_server *s, void *arg), void *arg);
/* Closes the listeners, ends the connections left by RST (reason drain:
 * on_close runs for each) and frees the server (NULL: nothing); a done not
 * run yet never runs. Allowed from done. */
void cw_server_free(struct cw_server *s);
/* The server's counters so far, into *out. */
void cw_server_stats(const struct cw_server *s, struct cw_conn_stats *out);

/* Accepting pauses when accept() fails for want of fds or memory (the
 * connection stays queued in the kernel): the listeners are left unwatched
 * for 100 ms, then tried again, so the loop does not spin on a connection it
 * cannot take; the connections it has are served meanwhile. The pause lasts
 * until the listeners' queues are empty again (what fds free up meanwhile is
 * accepted at the next try). The library allocates this report; it may gain
 * fields at the end. */
struct cw_accept_pause {
	int err;                    /* EMFILE, ENFILE, ENOBUFS or ENOMEM; 0: over, nothing waits */
	uint64_t paused_ms;         /* since the pause began (loop time) */
	uint64_t waiting;           /* connections queued on the listeners, not accepted */
	uint64_t refusals;          /* accept() calls failed since the pause began */
};
typedef void (*cw_accept_pause_cb)(struct cw_server *s, const struct cw_accept_pause *p, void *arg);
/* cb (NULL: none) runs when accepting pauses, at each retry that fails again
 * (every 100 ms while the shortage lasts: rate-limit any log there), and
 * once when the pause is over (err 0); p is valid during the call, and cb
 * must not free the server. The library never logs this itself. */
void cw_server_on_pause(struct cw_server *s, cw_accept_pause_cb cb, void *arg);

#pragma GCC visibility pop
#endif
