/* A connection's I/O: reading, writing with backpressure, the epoll
 * interest, and the public accessors. Its timers are in conn_timer.c, its
 * ends in conn_close.c. */
#include "conn_internal.h"

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

#define SEND_FLAGS (MSG_NOSIGNAL | MSG_DONTWAIT) /* SIGPIPE never kills the process */

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

void conn_watch(struct cw_conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	if (loop_io_mod(conn_loop(c), &c->io, conn_interest(c)) < 0)
		conn_end_how(c, CW_CLOSE_ERROR, ENOMEM, END_ABORT);
}

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
	stamp_write(c);
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
	if (c->owner->draining && c->state == CONN_OPEN && drain_idle(c)) {
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
		stamp_write(c); /* the queue just formed: the write-stall clock starts now */
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
