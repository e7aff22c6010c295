/* cw_dialer: one long-lived client connection that reconnects by itself,
 * without ever leaking the old one (the seed's second write-up, S9-S12).
 *
 * At most one socket, always: the old connection's fd is closed before a
 * new one is made, and the dialer never keeps a closed connection's fd while
 * the FIN exchange finishes. Its graceful close reads what is there (until
 * EAGAIN), shuts down its side and closes at once, leaving the rest of the
 * exchange to the kernel; data the server sends after that draws an RST from
 * the kernel. (linger_ms does not apply.) It notices the server's FIN at
 * once and ends the connection (reason eof, queued output dropped), so it
 * never stays in CLOSE_WAIT. The policy's read_idle_ms is the receive
 * timeout (S12): it ends the connection with reason read-idle and reconnects.
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
	uint64_t seed;                /* for the jitter; 0: from the clock */
};

struct cw_dialer_stats {
	uint64_t attempts;            /* connects started */
	uint64_t connects;            /* connects that succeeded */
	uint64_t failures;            /* connects that failed */
	uint64_t sockets;             /* TCP sockets this dialer holds now: 0 or 1 */
	uint64_t delay_ms;            /* the last backoff delay */
	struct cw_conn_stats conn;    /* its connections, as a server counts them */
};

void cw_dialer_config_init(struct cw_dialer_config *cfg);
/* Resolves the host (-ENOENT: no such name; -EINVAL: bad bind address) and
 * prepares; nothing is connected until cw_dialer_start(). */
int cw_dialer_new(struct cw_loop *loop, const struct cw_dialer_config *cfg, struct cw_dialer **out);
/* First attempt now; later ones by themselves. */
int cw_dialer_start(struct cw_dialer *d);
/* Ends the connection (graceful, as above) and stops retrying. */
void cw_dialer_stop(struct cw_dialer *d);
void cw_dialer_free(struct cw_dialer *d);
/* The connection now, or NULL while connecting or waiting to retry. */
struct cw_conn *cw_dialer_conn(const struct cw_dialer *d);
void cw_dialer_stats(const struct cw_dialer *d, struct cw_dialer_stats *out);
/* The address the dialer connects to, "ADDR:PORT". */
int cw_dialer_peer_str(const struct cw_dialer *d, char *buf, size_t len);

#endif
