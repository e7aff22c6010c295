/* Connections and their owners (private). A server and a dialer each own
 * connections through a conn_owner: the policy and callbacks they share,
 * the counters, the output buffer pool, and the list used to end them all. */
#ifndef CW_CONN_INTERNAL_H
#define CW_CONN_INTERNAL_H

#include <netinet/in.h>

#include "buf.h"
#include "closewait/conn.h"
#include "loop_internal.h"

struct conn_owner {
	struct cw_loop *loop;
	const struct cw_policy *policy;
	const struct cw_conn_ops *ops;
	void *arg;
	struct cw_conn_stats stats; /* but out_buffers: pool.held, read when stats are taken */
	struct bufpool pool;
	struct cw_conn *conns;  /* every connection whose fd is still open */
	bool draining;          /* end connections as soon as their output is flushed */
	bool no_linger;         /* graceful close without waiting for the peer's FIN (dialer) */
	/* Called when a connection's fd has been closed (before it is freed). */
	void (*released)(struct conn_owner *o, struct cw_conn *c);
};

enum conn_state {
	CONN_OPEN,     /* reading and writing */
	CONN_FLUSH,    /* ending gracefully: flushing queued output (bounded by linger) */
	CONN_LINGER,   /* ending gracefully: shut down our side, discarding input until the FIN */
	CONN_DEAD,     /* fd closed; freed after the current batch */
};

struct cw_conn {
	struct loop_io io;          /* epoll registration: fd and interest */
	struct wheel_entry timer;   /* the one timer: earliest of the policy's deadlines */
	struct conn_owner *owner;
	struct outbuf *out;         /* queued output, NULL when nothing is queued */
	void *data;                 /* the application's */
	struct cw_conn *prev, *next;/* owner's list */
	struct loop_defer defer;    /* deferred free */
	uint64_t last_read;         /* ms: last byte read */
	uint64_t last_write;        /* ms: last byte the socket took (or queue formed) */
	uint64_t since;             /* ms: the peer's FIN (open) or the start of a graceful end */
	uint64_t last_stall_check;  /* ms: last write-stall check (while output is queued) */
	uint32_t outq;              /* kernel send queue (SIOCOUTQ) at that check */
	uint8_t state;              /* enum conn_state */
	uint8_t flags;              /* CONN_F_* */
	uint8_t peer_family;        /* AF_INET or AF_INET6 */
	uint8_t pad_;
	uint16_t peer_port;         /* host order */
	uint8_t peer_addr[16];
};

#define CONN_F_PEER_FIN 0x01 /* EPOLLRDHUP or read() == 0: the peer sent its FIN */

void conn_owner_init(struct conn_owner *o, struct cw_loop *loop, const struct cw_policy *policy,
		     const struct cw_conn_ops *ops, void *arg);
void conn_owner_destroy(struct conn_owner *o);
/* Wraps a connected, non-blocking socket; calls on_open. Closes fd on failure. */
int conn_open(struct conn_owner *o, int fd, const struct sockaddr *peer, socklen_t peerlen,
	      struct cw_conn **out);
/* Ends a connection with a reason (once; later calls are ignored). */
void conn_end(struct cw_conn *c, enum cw_close_reason reason, int err);
/* Ends it with RST now, whatever state it is in (shutdown deadline). */
void conn_abort(struct cw_conn *c);
/* Server shutdown: ends c now if it has nothing queued, else once flushed. */
void conn_drain(struct cw_conn *c);

/* How an end closes: as the policy says, plainly, gracefully or by RST. */
enum end_how { END_POLICY, END_PLAIN, END_GRACEFUL, END_ABORT };
/* The way the policy closes an end for reason r (never END_POLICY): ends we
 * did not choose plainly, timeouts by RST if it says so, the rest by its
 * close mode. */
enum end_how policy_end_how(const struct cw_policy *p, enum cw_close_reason r);

#endif
