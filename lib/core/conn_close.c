/* How a connection ends: once, with a reason; gracefully (lingering),
 * plainly, or by RST; and what is freed when. */
#include "conn_internal.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "closewait/addr.h"
#include "closewait/sockopt.h"
#include "tcpinfo.h"

static const char *const reason_names[CW_CLOSE_REASON_MAX] = {
	[CW_CLOSE_EOF] = "eof",
	[CW_CLOSE_RESET] = "reset",
	[CW_CLOSE_ERROR] = "error",
	[CW_CLOSE_IDLE] = "idle",
	[CW_CLOSE_READ_IDLE] = "read-idle",
	[CW_CLOSE_WRITE_STALL] = "write-stall",
	[CW_CLOSE_KEEPALIVE] = "keepalive",
	[CW_CLOSE_USER_TIMEOUT] = "user-timeout",
	[CW_CLOSE_HALF_CLOSE_TIMEOUT] = "half-close-timeout",
	[CW_CLOSE_DRAIN] = "drain",
	[CW_CLOSE_LIMIT] = "limit",
	[CW_CLOSE_LOCAL] = "local",
};

const char *cw_close_reason_name(enum cw_close_reason r)
{
	return (unsigned)r < CW_CLOSE_REASON_MAX ? reason_names[r] : "unknown";
}

static bool is_timeout(enum cw_close_reason r)
{
	return r == CW_CLOSE_IDLE || r == CW_CLOSE_READ_IDLE || r == CW_CLOSE_WRITE_STALL ||
	       r == CW_CLOSE_HALF_CLOSE_TIMEOUT;
}

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
void conn_release(struct cw_conn *c)
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

void conn_linger(struct cw_conn *c)
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

/* Ends where the peer has finished sending, the socket is dead, or we never
 * read anything: a plain close(), nothing to linger for and no reason to
 * reset. The policy's close mode is for ends we choose. */
static bool ends_plainly(enum cw_close_reason r)
{
	switch (r) {
	case CW_CLOSE_EOF:
	case CW_CLOSE_RESET:
	case CW_CLOSE_ERROR:
	case CW_CLOSE_KEEPALIVE:
	case CW_CLOSE_USER_TIMEOUT:
	case CW_CLOSE_LIMIT:
		return true;
	default:
		return false;
	}
}

void conn_end_how(struct cw_conn *c, enum cw_close_reason r, int err, enum end_how how)
{
	struct conn_owner *o = c->owner;
	const struct cw_policy *p = o->policy;

	if (c->state != CONN_OPEN)
		return;
	o->stats.closed[r]++;
	c->state = CONN_FLUSH; /* from here on writes fail and further ends are ignored */
	if (o->ops->on_close)
		o->ops->on_close(c, r, err, o->arg);
	if (how == END_POLICY) {
		if (p->reset_timedout && is_timeout(r))
			how = END_ABORT; /* nginx's reset_timedout_connection */
		else if (ends_plainly(r))
			how = END_PLAIN;
		else
			how = p->close_mode == CW_CLOSE_ABORT ? END_ABORT : END_GRACEFUL;
	}
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
 * no reply is in flight. (FIONREAD: only while shutting down.) */
bool drain_idle(const struct cw_conn *c)
{
	int unread = 0;

	return !c->out && ioctl(c->io.fd, FIONREAD, &unread) == 0 && unread == 0;
}

void conn_drain(struct cw_conn *c)
{
	if (c->state == CONN_OPEN && drain_idle(c))
		conn_end(c, CW_CLOSE_DRAIN, 0);
}

void conn_fail(struct cw_conn *c, int err)
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
