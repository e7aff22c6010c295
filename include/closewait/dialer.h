/* cw_dialer: one long-lived client connection that reconnects by itself,
 * without ever leaking the old one (the classic leaky client keeps the old
 * socket, in CLOSE_WAIT, every time its server restarts).
 *
 *	static void on_open(struct cw_conn *c, void *arg) { cw_conn_write(c, "hello\n", 6); }
 *
 *	struct cw_dialer_config cfg;
 *	struct cw_dialer *d;
 *	int err;
 *
 *	cw_dialer_config_init(&cfg);
 *	cfg.host = "10.0.0.1";
 *	cfg.port = 8000;
 *	cfg.policy.read_idle_ms = 10000;        // leave a server silent for 10 s
 *	cfg.ops.on_open = on_open;              // each time it is connected (again)
 *	cfg.ops.on_data = on_data;              // conn.h
 *	err = cw_dialer_new(loop, &cfg, &d);
 *	if (!err)
 *		err = cw_dialer_start(d);
 *	if (!err)
 *		err = cw_loop_run(loop);
 *	cw_dialer_free(d);
 *
 * At most one socket, always: the old connection's fd is closed before a
 * new one is made, and the dialer never keeps a closed connection's fd while
 * the FIN exchange finishes. Its graceful close reads what is there (until
 * EAGAIN), shuts down its side and closes at once, leaving the rest of the
 * exchange to the kernel; data the server sends after that draws an RST from
 * the kernel. (linger_ms does not apply.) It notices the server's FIN at
 * once and ends the connection (reason eof, queued output dropped), so it
 * never stays in CLOSE_WAIT. The policy's read_idle_ms is the receive
 * timeout: it ends the connection with reason read-idle and reconnects.
 *
 * Reconnects back off exponentially with jitter: the n-th delay after a
 * failure is drawn from [MIN, min(MAX, MIN * 2^n)]; it starts again at MIN
 * once a connection has both sent and received data (an exchange).
 */
#ifndef CLOSEWAIT_DIALER_H
#define CLOSEWAIT_DIALER_H

#include <stdint.h>

#include "closewait/conn.h"
#include "closewait/loop.h"

#pragma GCC visibility push(default)

struct cw_dialer;

struct cw_dialer_config {
	const char *host;             /* IPv4/IPv6 literal or a name (getaddrinfo, at creation) */
	uint16_t port;
	const char *bind;             /* local "ADDR", "ADDR:PORT" or "[v6]:PORT" (SO_REUSEADDR), or NULL */
	uint64_t connect_timeout_ms;  /* a connect that takes longer fails with ETIMEDOUT (5 s) */
	uint64_t backoff_min_ms;      /* 100 ms */
	uint64_t backoff_max_ms;      /* 30 s */
	struct cw_policy policy;      /* as for a server; see above for what differs */
	struct cw_conn_ops ops;       /* on_open: connected; on_data; on_close: ended, with why */
	/* An attempt failed (err: ECONNREFUSED, ETIMEDOUT, EADDRNOTAVAIL,
	 * EADDRINUSE...) or a connection ended (err 0): the next attempt is in
	 * delay_ms. */
	void (*on_retry)(struct cw_dialer *d, int err, uint64_t delay_ms, void *arg);
	void *arg;                    /* passed to every callback */
	uint64_t jitter_seed;         /* starts the jitter's random sequence; 0: from the clock */
};

struct cw_dialer_stats {
	uint64_t attempts;            /* connects started */
	uint64_t connects;            /* connects that succeeded */
	uint64_t failures;            /* connects that failed */
	uint64_t sockets;             /* TCP sockets this dialer holds now: 0 or 1 */
	uint64_t delay_ms;            /* the last backoff delay */
	struct cw_conn_stats conn;    /* its connections, as a server counts them */
};

/* Fills in the defaults (the ones noted above, cw_policy_init's policy) and
 * zeroes the rest: host, port and ops.on_data must be set. */
void cw_dialer_config_init(struct cw_dialer_config *cfg);
/* Resolves the host and prepares; nothing is connected until
 * cw_dialer_start(); cfg is copied (host and bind are read only here). 0;
 * -EINVAL without host, port or ops.on_data, for backoff_min_ms 0 or above
 * backoff_max_ms, or a bad bind address; -ENOENT: no such name; -ENOMEM;
 * else -errno. */
int cw_dialer_new(struct cw_loop *loop, const struct cw_dialer_config *cfg, struct cw_dialer **out);
/* First attempt now; later ones by themselves. 0; -EALREADY if started (or
 * stopped) before. A failing attempt is reported through on_retry, not here. */
int cw_dialer_start(struct cw_dialer *d);
/* Ends the connection (graceful, as above) and stops retrying. */
void cw_dialer_stop(struct cw_dialer *d);
/* Stops it and frees it (NULL: nothing); allowed from its callbacks. */
void cw_dialer_free(struct cw_dialer *d);
/* The connection now, or NULL while connecting or waiting to retry. */
struct cw_conn *cw_dialer_conn(const struct cw_dialer *d);
/* The dialer's counters so far, into *out. */
void cw_dialer_stats(const struct cw_dialer *d, struct cw_dialer_stats *out);
/* The address the dialer connects to (the last one tried), "ADDR:PORT" or
 * "[ADDR]:PORT". 0; -ENOSPC if it does not fit in len. */
int cw_dialer_peer_str(const struct cw_dialer *d, char *buf, size_t len);

#pragma GCC visibility pop
#endif
