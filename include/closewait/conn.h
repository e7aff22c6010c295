/* cw_conn and cw_policy: one TCP connection and the rules that end it.
 *
 *	static void on_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
 *	{
 *		int err = cw_conn_write(c, data, len);  // an echo
 *
 *		if (err == -ENOBUFS)                     // the peer does not read
 *			cw_conn_close(c);
 *	}
 *	static void on_close(struct cw_conn *c, enum cw_close_reason reason, int err, void *arg)
 *	{
 *		char peer[64];
 *
 *		if (cw_conn_peer_str(c, peer, sizeof(peer)) == 0)
 *			printf("%s: %s\n", peer, cw_close_reason_name(reason));
 *	}
 *
 *	struct cw_server_config cfg;            // server.h; a dialer's config is alike
 *
 *	cw_server_config_init(&cfg);            // its policy: cw_policy_init's defaults
 *	cfg.policy.idle_ms = 30000;             // end connections silent for 30 s
 *	cfg.policy.keepalive = true;            // and those whose peer vanished
 *	cfg.policy.keepidle_s = 60;
 *	cfg.ops.on_data = on_data;
 *	cfg.ops.on_close = on_close;
 *
 * A connection has exactly one way to end, and the library takes it: on the
 * peer's FIN (after flushing what is queued, bounded by half_close_ms), on a
 * read or write error, on a timeout of the policy, on server shutdown, or when
 * the application calls cw_conn_close(). Each end has a reason, reported once
 * through on_close and counted. Applications never call close() themselves,
 * which is how CLOSE_WAIT leaks are made impossible rather than unlikely.
 */
#ifndef CLOSEWAIT_CONN_H
#define CLOSEWAIT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#pragma GCC visibility push(default)

struct cw_conn;

enum cw_close_reason {
	CW_CLOSE_EOF,          /* the peer closed (read() == 0) and our output was flushed */
	CW_CLOSE_RESET,        /* ECONNRESET / EPIPE: the peer reset */
	CW_CLOSE_ERROR,        /* any other socket error */
	CW_CLOSE_IDLE,         /* nothing read or written for idle_ms */
	CW_CLOSE_READ_IDLE,    /* nothing read for read_idle_ms */
	CW_CLOSE_WRITE_STALL,  /* queued output made no progress for write_stall_ms */
	CW_CLOSE_KEEPALIVE,    /* ETIMEDOUT: keepalive probes unanswered, nothing in flight */
	CW_CLOSE_USER_TIMEOUT, /* ETIMEDOUT: data in flight or a closed window outlived the user timeout */
	CW_CLOSE_HALF_CLOSE_TIMEOUT, /* after the peer's FIN our output did not drain in time (half_close_ms) */
	CW_CLOSE_DRAIN,        /* server shutdown */
	CW_CLOSE_LIMIT,        /* over the server's connection limit */
	CW_CLOSE_LOCAL,        /* the application called cw_conn_close() */
	CW_CLOSE_REASON_MAX
};

/* "eof", "reset", "error", "idle", "read-idle", "write-stall", "keepalive",
 * "user-timeout", "half-close-timeout", "drain", "limit", "local" (static
 * strings); "unknown" for a value out of range. */
const char *cw_close_reason_name(enum cw_close_reason reason);

enum cw_close_mode {
	CW_CLOSE_GRACEFUL, /* shutdown(SHUT_WR), discard input until the peer's FIN or linger_ms, close */
	CW_CLOSE_ABORT,    /* SO_LINGER {1, 0} then close: RST, queued data lost, no TIME_WAIT */
};

/* Keepalive values: CW_KEEPALIVE_SYSTEM keeps the system's value for a field. */
#define CW_KEEPALIVE_SYSTEM (-1)
/* user_timeout_ms: derive from keepalive (IDLE + INTVL x CNT) when it is on, else off. */
#define CW_USER_TIMEOUT_AUTO (-1)

struct cw_policy {
	uint64_t idle_ms;          /* close after no read and no write for this long; 0 = off */
	uint64_t read_idle_ms;     /* close after nothing read for this long; 0 = off */
	uint64_t write_stall_ms;   /* close when queued output makes no progress this long; 0 = off */
	uint64_t heartbeat_ms;     /* send heartbeat when nothing was sent this long; 0 = off */
	const void *heartbeat;     /* heartbeat payload (default "\n") */
	size_t heartbeat_len;
	bool keepalive;            /* SO_KEEPALIVE */
	int keepidle_s;            /* TCP_KEEPIDLE, or CW_KEEPALIVE_SYSTEM */
	int keepintvl_s;           /* TCP_KEEPINTVL, or CW_KEEPALIVE_SYSTEM */
	int keepcnt;               /* TCP_KEEPCNT, or CW_KEEPALIVE_SYSTEM */
	int64_t user_timeout_ms;   /* TCP_USER_TIMEOUT; 0 = off; CW_USER_TIMEOUT_AUTO */
	enum cw_close_mode close_mode; /* how timeouts and cw_conn_close() end a connection */
	bool reset_timedout;       /* abort connections closed by a timeout, whatever close_mode */
	uint64_t linger_ms;        /* graceful close: wait this long for the peer's FIN (5 s) */
	uint64_t half_close_ms;    /* after the peer's FIN, end when queued output makes no
				    * progress this long (5 s); 0: end at the FIN (reason
				    * eof), dropping queued output */
	size_t out_cap;            /* most bytes a connection may queue (256 KiB) */
	bool nodelay;              /* TCP_NODELAY (on) */
};

/* Fills in the defaults: everything off but graceful close, linger 5 s,
 * half-close 5 s, out_cap 256 KiB, nodelay. */
void cw_policy_init(struct cw_policy *p);
/* The TCP_USER_TIMEOUT that the policy puts on sockets, in ms (0 = none):
 * explicit, or IDLE + INTVL x CNT when keepalive is on and it is AUTO. The
 * system's keepalive values fill unset fields (cw_sockopt_sys_keepalive). */
int64_t cw_policy_user_timeout(const struct cw_policy *p);
/* Applies the socket-level part (nodelay, keepalive, user timeout) to fd.
 * 0, or -errno of the first option that failed (those before it stay set). */
int cw_policy_apply(const struct cw_policy *p, int fd);

struct cw_conn_ops {
	/* A connection was accepted or connected. */
	void (*on_open)(struct cw_conn *c, void *arg);
	/* Bytes arrived. data points into the loop's read buffer, valid (and
	 * writable) until the callback returns. */
	void (*on_data)(struct cw_conn *c, uint8_t *data, size_t len, void *arg);
	/* The connection ended (once). err is the errno behind it, or 0. The
	 * connection must not be used after this returns. */
	void (*on_close)(struct cw_conn *c, enum cw_close_reason reason, int err, void *arg);
};

/* Sends or queues len bytes. 0 on success; -ENOBUFS if the queue would pass
 * out_cap (nothing sent, nothing queued: the caller may retry later); -EPIPE
 * if the connection is closing; other -errno if the socket failed or memory
 * ran out, in which case the connection is ended (reason reset or error). */
int cw_conn_write(struct cw_conn *c, const void *data, size_t len);
/* Ends the connection by the policy's close mode; reason CW_CLOSE_LOCAL.
 * on_close runs from inside this call. Nothing if it is ending already. */
void cw_conn_close(struct cw_conn *c);
/* Ends it with an explicit mode, for the few callers that must choose. */
void cw_conn_close_mode(struct cw_conn *c, enum cw_close_mode mode);
/* The socket, for getsockopt and the like; the library closes it. */
int cw_conn_fd(const struct cw_conn *c);
/* Bytes queued in user space, waiting for the socket to take them. */
size_t cw_conn_queued(const struct cw_conn *c);
/* The peer's address as the kernel gave it at accept or connect; *len 0 if
 * it is not known. */
void cw_conn_peer(const struct cw_conn *c, struct sockaddr_storage *ss, socklen_t *len);
/* The peer as "ADDR:PORT", IPv6 as "[ADDR]:PORT" (cw_addr_port_str). 0;
 * -ENOSPC if it does not fit in len; -EAFNOSUPPORT if the peer is unknown. */
int cw_conn_peer_str(const struct cw_conn *c, char *buf, size_t len);
/* A pointer of the application's, kept with the connection (NULL at first). */
void cw_conn_set_data(struct cw_conn *c, void *data);
/* The pointer last set, or NULL. */
void *cw_conn_data(const struct cw_conn *c);

/* Counters kept by whatever owns connections (a server or a dialer). */
struct cw_conn_stats {
	uint64_t opened;            /* connections opened */
	uint64_t active;            /* open now (including those still closing) */
	uint64_t closed[CW_CLOSE_REASON_MAX]; /* ends, per reason */
	uint64_t bytes_in;          /* bytes read */
	uint64_t bytes_out;         /* bytes the socket took */
	uint64_t bytes_queued;      /* bytes queued in user space now, all connections */
	uint64_t bytes_queued_peak; /* most bytes any one connection ever had queued */
	uint64_t out_buffers;       /* output buffers held now (idle connections hold none) */
	uint64_t heartbeats;        /* heartbeats written */
	uint64_t aborts;            /* closes that sent an RST (abort mode or deadline) */
};

#pragma GCC visibility pop
#endif
