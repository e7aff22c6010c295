/* cw_conn: one TCP connection, its whole life in one file (as libuv keeps a
 * stream): its deadlines (one timer, re-checked lazily), its epoll interest,
 * how it ends (once, with a reason: gracefully, plainly or by RST) and what
 * is freed when, its timer, its I/O, and the public calls. The parts call
 * each other both ways, which is why they are not apart. */
#include "conn_internal.h"
#include "clock.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "closewait/addr.h"
#include "closewait/sockopt.h"
#include "tcpinfo.h"

#define SEND_FLAGS (MSG_NOSIGNAL | MSG_DONTWAIT) /* SIGPIPE never kills the process */

static inline struct cw_loop *conn_loop(const struct cw_conn *c) { return c->owner->loop; }
static inline uint64_t conn_now(const struct cw_conn *c) { return cw_loop_now(conn_loop(c)); }

static void conn_end_how(struct cw_conn *c, enum cw_close_reason r, int err, enum end_how how);

/* ---- Deadlines ---- */

enum deadline_kind { DL_CLOSE, DL_HEARTBEAT, DL_STALL_CHECK, DL_FINAL };

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* While output is queued, write stalls are checked four times per period,
 * so a drain of the kernel's queue is seen within a quarter of it. */
static uint64_t stall_step(const struct cw_policy *p)
{
	return p->write_stall_ms >= 4 ? p->write_stall_ms / 4 : 1;
}

/* The earliest deadline of the policy for c, what it means, UINT64_MAX if none.
 * Activity only moves stamps; this is re-evaluated when the timer fires. */
static uint64_t conn_deadline(const struct cw_conn *c, enum cw_close_reason *reason, int *kind)
{
	const struct cw_policy *p = c->owner->policy;
	uint64_t best = UINT64_MAX;

#define CONSIDER(t, r, k)                                                                          \
	do {                                                                                       \
		if ((t) < best) {                                                                  \
			best = (t);                                                                \
			*reason = (r);                                                             \
			*kind = (k);                                                               \
		}                                                                                  \
	} while (0)

	if (c->state == CONN_FLUSH || c->state == CONN_LINGER) {
		CONSIDER(clock_after(c->since, p->linger_ms), CW_CLOSE_LOCAL, DL_FINAL);
		return best;
	}
	if (c->state != CONN_OPEN)
		return best;
	if (p->idle_ms)
		CONSIDER(clock_after(max_u64(c->last_read, c->last_write), p->idle_ms), CW_CLOSE_IDLE, DL_CLOSE);
	if (p->read_idle_ms && !(c->flags & CONN_F_PEER_FIN))
		CONSIDER(clock_after(c->last_read, p->read_idle_ms), CW_CLOSE_READ_IDLE, DL_CLOSE);
	if (p->write_stall_ms && c->out)
		CONSIDER(clock_after(c->last_stall_check, stall_step(p)), CW_CLOSE_WRITE_STALL, DL_STALL_CHECK);
	if (p->heartbeat_ms && !c->out && !(c->flags & CONN_F_PEER_FIN))
		CONSIDER(clock_after(c->last_write, p->heartbeat_ms), CW_CLOSE_LOCAL, DL_HEARTBEAT);
	/* After the peer's FIN, CLOSE_WAIT is bounded. We read on to the EOF
	 * (and then close) whenever nothing is queued, so what can hold us is
	 * queued output the peer does not take: half_close_ms without progress
	 * ends it. A peer that half-closes and reads its reply slowly is
	 * served; one that never reads is cut off (HAProxy's client-fin). */
	if ((c->flags & CONN_F_PEER_FIN) && c->out)
		CONSIDER(clock_after(max_u64(c->since, c->last_write), p->half_close_ms),
			 CW_CLOSE_HALF_CLOSE_TIMEOUT, DL_CLOSE);
#undef CONSIDER
	return best;
}

/* Arms the timer only when a deadline came earlier than the armed one; a
 * later deadline is found lazily when the timer fires. */
static void conn_schedule(struct cw_conn *c)
{
	enum cw_close_reason r;
	int k;
	uint64_t dl = conn_deadline(c, &r, &k);

	if (dl == UINT64_MAX)
		return;
	if (!wheel_armed(&c->timer) || dl < c->timer.expires)
		wheel_arm(loop_wheel(conn_loop(c)), &c->timer, dl);
}

static uint32_t kernel_outq(const struct cw_conn *c)
{
	int n = 0;

	return ioctl(c->io.fd, SIOCOUTQ, &n) == 0 && n > 0 ? (uint32_t)n : 0;
}

/* Output made progress (or began to queue): the write-stall clock restarts.
 * With a write-stall policy the kernel's send queue is noted too, so a
 * check can tell whether the kernel kept delivering to the peer while our
 * own queue waited: that is progress as well. Only under backpressure. */
static void conn_stamp_write(struct cw_conn *c)
{
	c->last_write = conn_now(c);
	if (c->owner->policy->write_stall_ms && c->out) {
		c->outq = kernel_outq(c);
		c->last_stall_check = c->last_write;
	}
}

/* ---- The epoll interest ---- */

static uint32_t conn_interest(const struct cw_conn *c)
{
	switch (c->state) {
	case CONN_OPEN:
		/* While output is queued we stop reading (backpressure), but still
		 * want to hear of the peer's FIN, once. */
		if (c->out)
			return EPOLLOUT | ((c->flags & CONN_F_PEER_FIN) ? 0 : EPOLLRDHUP);
		return EPOLLIN | EPOLLRDHUP;
	case CONN_FLUSH:
		return EPOLLOUT;
	case CONN_LINGER:
		return EPOLLIN | EPOLLRDHUP;
	default:
		return 0;
	}
}

/* Sets the epoll interest the state asks for (no syscall when unchanged). */
static void conn_watch(struct cw_conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	if (loop_io_mod(conn_loop(c), &c->io, conn_interest(c)) < 0)
		conn_end_how(c, CW_CLOSE_ERROR, ENOMEM, END_ABORT);
}

/* ---- Ends ---- */

static void conn_free(struct loop_defer *d)
{
	free(container_of(d, struct cw_conn, defer));
}

static void drop_output(struct cw_conn *c)
{
	struct conn_owner *o = c->owner;

	if (!c->out)
		return;
	o->stats.bytes_queued -= outbuf_len(c->out);
	outbuf_release(&o->pool, &c->out);
}

/* Closes the fd and schedules the free; the end was already reported. */
static void conn_release(struct cw_conn *c)
{
	struct conn_owner *o = c->owner;
	struct cw_loop *l = conn_loop(c);

	if (c->state == CONN_DEAD)
		return;
	loop_io_del(l, &c->io);
	close(c->io.fd);
	wheel_cancel(loop_wheel(l), &c->timer);
	drop_output(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		o->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->state = CONN_DEAD;
	o->stats.active--;
	c->defer.fn = conn_free;
	loop_defer(l, &c->defer);
	if (o->released)
		o->released(o, c);
}

static void conn_reset(struct cw_conn *c)
{
	/* Counted only when set: without it, close() sends a FIN (or an RST
	 * of its own, for unread input), not the abort asked for. */
	if (cw_sockopt_linger_abort(c->io.fd) == 0)
		c->owner->stats.aborts++;
	conn_release(c);
}

/* Reads and discards what is there now, without waiting for more. */
static void discard_input(struct cw_conn *c)
{
	size_t cap;
	uint8_t *buf = loop_rbuf(conn_loop(c), &cap);

	while (read(c->io.fd, buf, cap) > 0)
		;
}

/* Graceful end, once the output is flushed: shut down our side, linger. */
static void conn_linger(struct cw_conn *c)
{
	/* A dialer keeps no socket while the FIN exchange finishes (it must own
	 * one at most): with nothing unread, close() sends a FIN, not an RST,
	 * and the kernel completes the exchange. Input arriving later draws an
	 * RST from the kernel. */
	if (c->owner->no_linger) {
		discard_input(c);
		shutdown(c->io.fd, SHUT_WR);
		conn_release(c);
		return;
	}
	/* Our FIN goes out after everything queued in the kernel; then we keep
	 * reading (and discarding) so unread input cannot turn close() into an
	 * RST that destroys our last message (nginx's lingering close). */
	if (c->owner->policy->linger_ms == 0 || shutdown(c->io.fd, SHUT_WR) < 0) {
		conn_release(c);
		return;
	}
	c->state = CONN_LINGER;
	conn_watch(c);
	conn_schedule(c);
}

static void conn_end_how(struct cw_conn *c, enum cw_close_reason r, int err, enum end_how how)
{
	struct conn_owner *o = c->owner;
	const struct cw_policy *p = o->policy;

	if (c->state != CONN_OPEN)
		return;
	o->stats.closed[r]++;
	c->state = CONN_FLUSH; /* from here on writes fail and further ends are ignored */
	if (o->ops->on_close)
		o->ops->on_close(c, r, err, o->arg);
	if (how == END_POLICY)
		how = policy_end_how(p, r);
	if (how == END_ABORT) {
		conn_reset(c);
		return;
	}
	if (how == END_PLAIN) {
		conn_release(c);
		return;
	}
	c->since = conn_now(c);
	/* Output that made no progress is not going anywhere, and the dialer
	 * does not wait for it: flushing it for a linger would keep a
	 * half-closed peer's socket in CLOSE_WAIT past the bound. */
	if (r == CW_CLOSE_WRITE_STALL || r == CW_CLOSE_HALF_CLOSE_TIMEOUT || o->no_linger)
		drop_output(c);
	if (!c->out) {
		conn_linger(c);
		return;
	}
	conn_watch(c);
	conn_schedule(c);
}

void conn_end(struct cw_conn *c, enum cw_close_reason r, int err)
{
	conn_end_how(c, r, err, END_POLICY);
}

void conn_abort(struct cw_conn *c)
{
	if (c->state == CONN_OPEN)
		conn_end_how(c, CW_CLOSE_DRAIN, 0, END_ABORT);
	else
		conn_reset(c);
}

/* Idle for a drain: nothing queued to send and nothing received unread, so
 * no reply is in flight. (FIONREAD: only while shutting down, hence cold:
 * out of line, it leaves the message path's code as it is.) */
__attribute__((cold)) static bool conn_drain_idle(const struct cw_conn *c)
{
	int unread = 0;

	return !c->out && ioctl(c->io.fd, FIONREAD, &unread) == 0 && unread == 0;
}

void conn_drain(struct cw_conn *c)
{
	if (c->state == CONN_OPEN && conn_drain_idle(c))
		conn_end(c, CW_CLOSE_DRAIN, 0);
}

/* Ends c for a socket error err (the reason comes from err and tcp_info). */
static void conn_fail(struct cw_conn *c, int err)
{
	enum cw_close_reason r = CW_CLOSE_ERROR;

	if (err == ECONNRESET || err == EPIPE) {
		r = CW_CLOSE_RESET;
	} else if (err == ETIMEDOUT) {
		struct tcp_info ti;

		r = tcpinfo_read(c->io.fd, &ti) == 0 ? tcpinfo_timeout_reason(&ti)
						     : CW_CLOSE_USER_TIMEOUT;
	}
	if (c->state == CONN_OPEN)
		conn_end(c, r, err);
	else
		conn_release(c);
}

void cw_conn_close(struct cw_conn *c)
{
	conn_end_how(c, CW_CLOSE_LOCAL, 0, END_POLICY);
}

void cw_conn_close_mode(struct cw_conn *c, enum cw_close_mode mode)
{
	conn_end_how(c, CW_CLOSE_LOCAL, 0, mode == CW_CLOSE_ABORT ? END_ABORT : END_GRACEFUL);
}

/* ---- The timer ---- */

/* A write-stall check: progress if the kernel's queue shrank since the last
 * one; the end once a whole period passed without any. So a connection ends
 * between 1 and 1.25 periods after its output stopped draining, never sooner. */
static void conn_stall_check(struct cw_conn *c)
{
	uint64_t now = conn_now(c);
	uint32_t q = kernel_outq(c);

	if (q < c->outq)
		c->last_write = now;
	c->outq = q;
	c->last_stall_check = now;
	if (now - c->last_write >= c->owner->policy->write_stall_ms)
		conn_end(c, CW_CLOSE_WRITE_STALL, 0);
}

static void conn_heartbeat(struct cw_conn *c)
{
	const struct cw_policy *p = c->owner->policy;

	/* Stamp first: a beat that cannot even be queued must not spin. */
	c->last_write = conn_now(c);
	if (cw_conn_write(c, p->heartbeat, p->heartbeat_len) == 0)
		c->owner->stats.heartbeats++;
}

static void conn_on_timer(struct wheel_entry *e)
{
	struct cw_conn *c = container_of(e, struct cw_conn, timer);
	uint64_t now = conn_now(c);

	while (c->state != CONN_DEAD) {
		enum cw_close_reason r = CW_CLOSE_LOCAL;
		int kind = DL_CLOSE;
		uint64_t dl = conn_deadline(c, &r, &kind);

		if (dl == UINT64_MAX)
			return;
		if (dl > now) {
			wheel_arm(loop_wheel(conn_loop(c)), &c->timer, dl);
			return;
		}
		if (kind == DL_FINAL)
			conn_release(c); /* linger or flush time is up */
		else if (kind == DL_HEARTBEAT)
			conn_heartbeat(c);
		else if (kind == DL_STALL_CHECK)
			conn_stall_check(c);
		else
			conn_end(c, r, 0);
	}
}

/* ---- I/O ---- */

/* One send of what is queued. Returns -1 if the connection failed. */
static int conn_flush(struct cw_conn *c)
{
	struct conn_owner *o = c->owner;
	ssize_t n = send(c->io.fd, outbuf_data(c->out), outbuf_len(c->out), SEND_FLAGS);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		conn_fail(c, errno);
		return -1;
	}
	o->stats.bytes_out += (uint64_t)n;
	o->stats.bytes_queued -= (uint64_t)n;
	outbuf_consume(&o->pool, &c->out, (size_t)n);
	conn_stamp_write(c);
	if (!c->out)
		conn_schedule(c); /* deadlines left out while queued (heartbeat) apply again */
	return 0;
}

static void conn_read(struct cw_conn *c)
{
	struct conn_owner *o = c->owner;
	size_t cap;
	uint8_t *buf = loop_rbuf(conn_loop(c), &cap);
	ssize_t n;

	/* Reading pauses while output is queued, so one read is the most that
	 * can ever be queued: bounding it by the cap keeps an echo within it. */
	if (cap > o->policy->out_cap)
		cap = o->policy->out_cap;
	n = read(c->io.fd, buf, cap);
	if (n > 0) {
		o->stats.bytes_in += (uint64_t)n;
		c->last_read = conn_now(c);
		o->ops->on_data(c, buf, (size_t)n, o->arg);
		return;
	}
	if (n == 0) {
		/* Reads pause while output is queued, so nothing is queued now:
		 * the peer is done and so are we. */
		c->flags |= CONN_F_PEER_FIN;
		conn_end(c, CW_CLOSE_EOF, 0);
		return;
	}
	if (errno != EAGAIN && errno != EINTR)
		conn_fail(c, errno);
}

static void conn_io_open(struct cw_conn *c, uint32_t ev)
{
	const struct outbuf *had_out = c->out;
	uint8_t had_flags = c->flags;

	if (ev & EPOLLERR) {
		int err = -cw_sockopt_error(c->io.fd);

		conn_fail(c, err ? err : EIO);
		return;
	}
	if (c->out && (ev & (EPOLLOUT | EPOLLHUP))) {
		if (conn_flush(c) < 0)
			return;
	}
	if ((ev & EPOLLRDHUP) && !(c->flags & CONN_F_PEER_FIN)) {
		c->flags |= CONN_F_PEER_FIN;
		c->since = conn_now(c);
		if (c->out && c->owner->policy->half_close_ms == 0) {
			/* No flushing after the FIN: stuck output cannot hold us in CLOSE_WAIT. */
			conn_end(c, CW_CLOSE_EOF, 0);
			return;
		}
		conn_schedule(c);
	}
	if (!c->out && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
		conn_read(c);
	/* Shutting down: end once the replies in flight are done. */
	if (c->owner->draining && c->state == CONN_OPEN && conn_drain_idle(c)) {
		conn_end(c, CW_CLOSE_DRAIN, 0);
		return;
	}
	/* The interest depends only on these (a write that queued has updated
	 * it already): the ping-pong path does not even compare. */
	if ((c->out != NULL) != (had_out != NULL) || c->flags != had_flags)
		conn_watch(c);
}

static void conn_io_discard(struct cw_conn *c, uint32_t ev)
{
	size_t cap;
	uint8_t *buf = loop_rbuf(conn_loop(c), &cap);
	ssize_t n;

	if (ev & EPOLLERR) {
		conn_release(c);
		return;
	}
	n = read(c->io.fd, buf, cap);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		conn_release(c); /* the peer's FIN (or its reset): the end is clean */
}

static void conn_on_io(struct loop_io *io, uint32_t ev)
{
	struct cw_conn *c = (struct cw_conn *)io;

	switch (c->state) {
	case CONN_OPEN:
		conn_io_open(c, ev);
		break;
	case CONN_FLUSH:
		if (ev & EPOLLERR) {
			conn_release(c);
			break;
		}
		if (conn_flush(c) == 0 && !c->out)
			conn_linger(c);
		break;
	case CONN_LINGER:
		conn_io_discard(c, ev);
		break;
	default:
		break; /* closed earlier in this batch */
	}
}

/* ---- Opening, and the owner ---- */

void conn_owner_init(struct conn_owner *o, struct cw_loop *loop, const struct cw_policy *policy,
		     const struct cw_conn_ops *ops, void *arg)
{
	memset(o, 0, sizeof(*o));
	o->loop = loop;
	o->policy = policy;
	o->ops = ops;
	o->arg = arg;
}

void conn_owner_destroy(struct conn_owner *o)
{
	while (o->conns)
		conn_abort(o->conns);
	bufpool_destroy(&o->pool);
}

int conn_open(struct conn_owner *o, int fd, const struct sockaddr *peer, socklen_t peerlen,
	      struct cw_conn **out)
{
	struct cw_conn *c = calloc(1, sizeof(*c));
	uint64_t now = cw_loop_now(o->loop);
	int err;

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->io.cb = conn_on_io;
	c->owner = o;
	wheel_entry_init(&c->timer, conn_on_timer);
	c->last_read = c->last_write = now;
	if (peer && peer->sa_family == AF_INET && peerlen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;

		c->peer_family = AF_INET;
		c->peer_port = ntohs(sin->sin_port);
		memcpy(c->peer_addr, &sin->sin_addr, 4);
	} else if (peer && peer->sa_family == AF_INET6 && peerlen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;

		c->peer_family = AF_INET6;
		c->peer_port = ntohs(sin6->sin6_port);
		memcpy(c->peer_addr, &sin6->sin6_addr, 16);
	}
	err = loop_io_add(o->loop, &c->io, fd, EPOLLIN | EPOLLRDHUP);
	if (err) {
		close(fd);
		free(c);
		return err;
	}
	c->next = o->conns;
	if (c->next)
		c->next->prev = c;
	o->conns = c;
	o->stats.opened++;
	o->stats.active++;
	conn_schedule(c);
	if (out)
		*out = c;
	if (o->ops->on_open)
		o->ops->on_open(c, o->arg);
	return 0;
}

/* ---- The rest of the public calls ---- */

int cw_conn_write(struct cw_conn *c, const void *data, size_t len)
{
	struct conn_owner *o = c->owner;
	size_t cap = o->policy->out_cap, queued;
	ssize_t n = 0;
	bool formed;
	int err;

	if (c->state != CONN_OPEN)
		return -EPIPE;
	if (len > cap)
		return -ENOBUFS;
	formed = !c->out;
	if (formed) {
		n = send(c->io.fd, data, len, SEND_FLAGS);
		if (n == (ssize_t)len) {
			o->stats.bytes_out += len;
			c->last_write = conn_now(c);
			return 0;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				err = errno;
				conn_fail(c, err);
				return -err;
			}
			n = 0;
		}
		o->stats.bytes_out += (uint64_t)n;
	}
	err = outbuf_append(&o->pool, &c->out, (const uint8_t *)data + n, len - (size_t)n, cap);
	if (err) {
		if (n > 0 || err != -ENOBUFS) {
			/* Part of this message left and the rest cannot follow, or
			 * memory ran out: the stream is broken, so end it rather
			 * than let a torn or lost message pass unnoticed. */
			conn_end_how(c, CW_CLOSE_ERROR, -err, END_ABORT);
		}
		return err;
	}
	if (formed)
		conn_stamp_write(c); /* the queue just formed: the write-stall clock starts now */
	o->stats.bytes_queued += len - (size_t)n;
	queued = outbuf_len(c->out);
	if (queued > o->stats.bytes_queued_peak)
		o->stats.bytes_queued_peak = queued;
	conn_watch(c);
	conn_schedule(c);
	return 0;
}

int cw_conn_fd(const struct cw_conn *c) { return c->io.fd; }

size_t cw_conn_queued(const struct cw_conn *c) { return outbuf_len(c->out); }

void cw_conn_set_data(struct cw_conn *c, void *data) { c->data = data; }

void *cw_conn_data(const struct cw_conn *c) { return c->data; }

void cw_conn_peer(const struct cw_conn *c, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (c->peer_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->peer_port);
		memcpy(&sin->sin_addr, c->peer_addr, 4);
		*len = sizeof(*sin);
	} else if (c->peer_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->peer_port);
		memcpy(&sin6->sin6_addr, c->peer_addr, 16);
		*len = sizeof(*sin6);
	} else {
		*len = 0;
	}
}

int cw_conn_peer_str(const struct cw_conn *c, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	cw_conn_peer(c, &ss, &sl);
	return cw_addr_port_str(&ss, buf, len);
}
