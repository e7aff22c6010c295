#include "closewait/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "closewait/addr.h"
#include "closewait/sockopt.h"
#include "conn_internal.h"
#include "tcpinfo.h"
#include "util.h"

#define ACCEPT_BATCH 64            /* accepts per wake-up, so one listener cannot starve the rest */
#define ACCEPT_PAUSE_MS 100        /* back off this long when out of fds */

struct listener {
	struct loop_io io;         /* first: epoll hands us back this pointer */
	struct cw_server *srv;     /* NULL once closed (an event may still be pending) */
	struct listener *next;
	struct loop_defer defer;   /* freed after the current batch */
};

struct cw_server {
	struct cw_loop *loop;
	struct cw_server_config cfg; /* a copy: the owner points at its policy and ops */
	struct conn_owner owner;
	struct listener *listeners;
	struct cw_timer *pause;      /* re-enables accepting after EMFILE */
	bool paused;                 /* out of fds or memory since paused_at, queue not emptied since */
	uint64_t paused_at;          /* when the pause began (loop time) */
	uint64_t refusals;           /* accept() calls failed during this pause */
	cw_accept_pause_cb pause_cb;
	void *pause_arg;
	struct cw_timer *deadline;   /* end of the drain */
	bool shutting_down;
	bool done_called;
	void (*done)(struct cw_server *s, void *arg);
	void *done_arg;
	struct loop_defer done_defer; /* done runs from the loop, never inside our own loops */
};

void cw_server_config_init(struct cw_server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->backlog = 4096;
	cw_policy_init(&cfg->policy);
}

static void listeners_set(struct cw_server *s, uint32_t events)
{
	for (struct listener *l = s->listeners; l; l = l->next)
		loop_io_mod(s->loop, &l->io, events);
}

static void on_pause_over(struct cw_timer *t, void *arg)
{
	struct cw_server *s = arg;

	(void)t;
	if (!s->shutting_down)
		listeners_set(s, EPOLLIN);
}

/* The connections the kernel holds for us, handshake done, not accepted:
 * for a listener, tcp_info's unacked is its accept queue's length. */
static uint64_t waiting(const struct cw_server *s)
{
	uint64_t n = 0;
	struct tcp_info ti;

	for (const struct listener *l = s->listeners; l; l = l->next)
		if (tcpinfo_read(l->io.fd, &ti) == 0)
			n += ti.tcpi_unacked;
	return n;
}

static void pause_report(struct cw_server *s, int err)
{
	struct cw_accept_pause p = {
		.err = err,
		.paused_ms = cw_loop_now(s->loop) - s->paused_at,
		.waiting = waiting(s),
		.refusals = s->refusals,
	};

	if (s->pause_cb)
		s->pause_cb(s, &p, s->pause_arg);
}

static void accept_paused(struct cw_server *s, int err)
{
	/* Level-triggered: without a pause we would spin on the pending
	 * connection until an fd frees up. */
	listeners_set(s, 0);
	cw_timer_start(s->pause, ACCEPT_PAUSE_MS);
	if (!s->paused) {
		s->paused = true;
		s->paused_at = cw_loop_now(s->loop);
		s->refusals = 0;
	}
	s->refusals++;
	pause_report(s, err);
}

/* Over only once the queue is empty: a server at its fd limit whose
 * connections come and go accepts one now and then, and a pause that ended
 * at each of those would be reported (and logged) again and again. */
static void accept_resumed(struct cw_server *s)
{
	if (!s->paused)
		return;
	s->paused = false;
	pause_report(s, 0);
}

static void on_accept(struct loop_io *io, uint32_t events)
{
	struct listener *l = (struct listener *)io;
	struct cw_server *s = l->srv;

	(void)events;
	if (!s)
		return; /* closed earlier in this batch */
	for (int i = 0; i < ACCEPT_BATCH && !s->shutting_down; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct cw_conn *c;
		int fd = accept4(io->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_paused(s, errno);
			else if (errno == EAGAIN)
				accept_resumed(s);
			return;
		}
		/* Socket options come from the listener: accepted sockets inherit
		 * keepalive, user timeout and nodelay, so no setsockopt here. */
		if (conn_open(&s->owner, fd, (struct sockaddr *)&ss, sl, &c) < 0)
			continue;
		if (s->cfg.max_conns && s->owner.stats.active > s->cfg.max_conns)
			conn_end(c, CW_CLOSE_LIMIT, 0);
	}
}

static void run_done(struct loop_defer *d)
{
	struct cw_server *s = container_of(d, struct cw_server, done_defer);

	if (s->done)
		s->done(s, s->done_arg); /* may free s */
}

static void maybe_done(struct cw_server *s)
{
	if (!s->shutting_down || s->done_called || s->owner.stats.active)
		return;
	s->done_called = true;
	cw_timer_stop(s->deadline);
	/* Not from here: we may be deep in a loop over the connections, and
	 * done may well free the server. */
	s->done_defer.fn = run_done;
	loop_defer(s->loop, &s->done_defer);
}

static void on_released(struct conn_owner *o, struct cw_conn *c)
{
	struct cw_server *s = container_of(o, struct cw_server, owner);

	(void)c;
	maybe_done(s);
}

static void abort_all(struct cw_server *s)
{
	while (s->owner.conns)
		conn_abort(s->owner.conns);
}

static void on_drain_deadline(struct cw_timer *t, void *arg)
{
	(void)t;
	abort_all(arg);
}

int cw_server_new(struct cw_loop *loop, const struct cw_server_config *cfg, struct cw_server **out)
{
	struct cw_server *s = calloc(1, sizeof(*s));
	int err = -ENOMEM;

	if (!s)
		return -ENOMEM;
	if (!cfg->ops.on_data) {
		err = -EINVAL;
		goto fail;
	}
	s->loop = loop;
	s->cfg = *cfg;
	conn_owner_init(&s->owner, loop, &s->cfg.policy, &s->cfg.ops, s->cfg.arg);
	s->owner.released = on_released;
	err = cw_timer_new(loop, on_pause_over, s, &s->pause);
	if (err)
		goto fail;
	err = cw_timer_new(loop, on_drain_deadline, s, &s->deadline);
	if (err)
		goto fail_pause;
	*out = s;
	return 0;

fail_pause:
	cw_timer_free(s->pause);
fail:
	free(s);
	return err;
}

int cw_server_listen(struct cw_server *s, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct listener *l;
	int fd, err, one = 1;

	if (s->shutting_down)
		return -ESHUTDOWN;
	err = cw_addr_parse(addr, &ss, &sl, NULL);
	if (err)
		return err;
	cw_addr_set_port(&ss, port);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	err = cw_sockopt_reuseaddr(fd);
	if (!err && s->cfg.reuseport)
		err = cw_sockopt_reuseport(fd);
	if (!err && ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		err = -errno;
	if (!err)
		err = cw_policy_apply(&s->cfg.policy, fd);
	if (err)
		goto fail_fd;
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, s->cfg.backlog) < 0) {
		err = -errno;
		goto fail_fd;
	}
	l->srv = s;
	l->io.cb = on_accept;
	err = loop_io_add(s->loop, &l->io, fd, EPOLLIN);
	if (err)
		goto fail_fd;
	l->next = s->listeners;
	s->listeners = l;
	return 0;

fail_fd:
	close(fd);
fail:
	free(l);
	return err;
}

int cw_server_port(const struct cw_server *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const struct listener *l = s->listeners;

	if (!l)
		return -ENOTCONN;
	while (l->next)
		l = l->next; /* the first one listened is last on the list */
	if (getsockname(l->io.fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	return cw_addr_port(&ss);
}

static void free_listener(struct loop_defer *d)
{
	free(container_of(d, struct listener, defer));
}

static void close_listeners(struct cw_server *s)
{
	while (s->listeners) {
		struct listener *l = s->listeners;

		s->listeners = l->next;
		loop_io_del(s->loop, &l->io);
		close(l->io.fd);
		l->srv = NULL; /* an accept event of this batch may still name it */
		l->defer.fn = free_listener;
		loop_defer(s->loop, &l->defer);
	}
}

void cw_server_shutdown(struct cw_server *s, uint64_t drain_ms,
			void (*done)(struct cw_server *s, void *arg), void *arg)
{
	struct cw_conn *c, *next;

	if (s->shutting_down) {
		abort_all(s); /* asked twice: do not wait any longer */
		return;
	}
	s->shutting_down = true;
	s->done = done;
	s->done_arg = arg;
	close_listeners(s);
	cw_timer_stop(s->pause);
	s->owner.draining = true;
	if (drain_ms == 0) {
		abort_all(s);
		maybe_done(s);
		return;
	}
	for (c = s->owner.conns; c; c = next) {
		next = c->next; /* c may be released; its successor stays */
		conn_drain(c);
	}
	maybe_done(s);
	if (!s->done_called)
		cw_timer_start(s->deadline, drain_ms);
}

void cw_server_free(struct cw_server *s)
{
	if (!s)
		return;
	close_listeners(s);
	s->done = NULL;
	s->shutting_down = true;
	s->done_called = true;
	loop_defer_cancel(s->loop, &s->done_defer); /* a done deferred must not run on freed memory */
	conn_owner_destroy(&s->owner);
	cw_timer_free(s->pause);
	cw_timer_free(s->deadline);
	free(s);
}

void cw_server_on_pause(struct cw_server *s, cw_accept_pause_cb cb, void *arg)
{
	s->pause_cb = cb;
	s->pause_arg = arg;
}

void cw_server_stats(const struct cw_server *s, struct cw_conn_stats *out)
{
	*out = s->owner.stats;
	out->out_buffers = s->owner.pool.held;
}
