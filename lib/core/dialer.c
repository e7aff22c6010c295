#include "closewait/dialer.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "closewait/addr.h"
#include "closewait/sockopt.h"
#include "conn_internal.h"
#include "util.h"

#define DIALER_MAX_ADDRS 8

enum dialer_state { D_IDLE, D_WAITING, D_CONNECTING, D_CONNECTED, D_STOPPED };

struct cw_dialer {
	struct loop_io io;            /* first: the connecting socket's epoll registration */
	struct loop_defer defer;      /* freed after the batch: it may be inside our callbacks */
	struct cw_loop *loop;
	struct cw_dialer_config cfg;
	struct cw_policy policy;      /* cfg.policy, as a dialer applies it */
	struct conn_owner owner;
	struct cw_conn *conn;
	struct cw_timer *timer;       /* backoff delay, or connect timeout */
	struct sockaddr_storage addr[DIALER_MAX_ADDRS];
	socklen_t addrlen[DIALER_MAX_ADDRS];
	unsigned naddrs, next_addr;
	struct sockaddr_storage local;
	socklen_t locallen;
	enum dialer_state state;
	unsigned failures_in_row;     /* n in MIN * 2^n */
	uint64_t rng;                 /* xorshift64 state for the jitter */
	uint64_t in_at_open, out_at_open; /* byte counters when the connection opened */
	struct cw_dialer_stats stats; /* but sockets and conn: derived when stats are taken */
};

static void attempt(struct cw_dialer *d);

void cw_dialer_config_init(struct cw_dialer_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->connect_timeout_ms = 5000;
	cfg->backoff_min_ms = 100;
	cfg->backoff_max_ms = 30000;
	cw_policy_init(&cfg->policy);
}

static uint64_t rng_next(struct cw_dialer *d)
{
	d->rng ^= d->rng << 13;
	d->rng ^= d->rng >> 7;
	d->rng ^= d->rng << 17;
	return d->rng;
}

/* The n-th delay: uniform in [MIN, min(MAX, MIN * 2^n)]. */
static uint64_t next_delay(struct cw_dialer *d)
{
	uint64_t min = d->cfg.backoff_min_ms, max = d->cfg.backoff_max_ms, ceil = min;
	unsigned n = d->failures_in_row;

	for (unsigned i = 0; i < n && ceil < max; i++)
		ceil = ceil > max / 2 ? max : ceil * 2;
	if (ceil > max)
		ceil = max;
	if (d->failures_in_row < 64)
		d->failures_in_row++;
	return min + (ceil > min ? rng_next(d) % (ceil - min + 1) : 0);
}

static void schedule(struct cw_dialer *d, int err)
{
	uint64_t delay;

	if (d->state == D_STOPPED)
		return;
	delay = next_delay(d);

	d->state = D_WAITING;
	d->stats.delay_ms = delay;
	cw_timer_start(d->timer, delay);
	if (d->cfg.on_retry)
		d->cfg.on_retry(d, err, delay, d->cfg.arg);
}

static void close_connecting(struct cw_dialer *d)
{
	loop_io_del(d->loop, &d->io);
	close(d->io.fd);
	d->io.fd = -1;
}

static void connect_failed(struct cw_dialer *d, int err)
{
	cw_timer_stop(d->timer);
	close_connecting(d);
	d->stats.failures++;
	schedule(d, err);
}

static void connected(struct cw_dialer *d)
{
	int fd = d->io.fd;
	unsigned i = (d->next_addr + d->naddrs - 1) % d->naddrs;

	cw_timer_stop(d->timer);
	/* The connection registers the fd itself. */
	loop_io_del(d->loop, &d->io);
	d->io.fd = -1;
	d->state = D_CONNECTED;
	d->stats.connects++;
	d->in_at_open = d->owner.stats.bytes_in;
	d->out_at_open = d->owner.stats.bytes_out;
	if (conn_open(&d->owner, fd, (struct sockaddr *)&d->addr[i], d->addrlen[i], &d->conn) < 0) {
		d->conn = NULL;
		d->stats.failures++;
		schedule(d, ENOMEM);
	}
}

static void on_connecting(struct loop_io *io, uint32_t events)
{
	struct cw_dialer *d = (struct cw_dialer *)io;
	int err;

	(void)events;
	if (d->state != D_CONNECTING)
		return; /* stopped, or given up, earlier in this batch */
	err = cw_sockopt_error(io->fd);
	if (err)
		connect_failed(d, -err);
	else
		connected(d);
}

static void on_timer(struct cw_timer *t, void *arg)
{
	struct cw_dialer *d = arg;

	(void)t;
	if (d->state == D_CONNECTING)
		connect_failed(d, ETIMEDOUT);
	else if (d->state == D_WAITING)
		attempt(d);
}

/* A new socket, bound if asked, options applied; connect started. */
static int start_connect(struct cw_dialer *d, const struct sockaddr_storage *to, socklen_t tolen)
{
	int fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	d->io.fd = fd;
	if (d->locallen) {
		/* SO_REUSEADDR lets a fixed local address rebind while its last
		 * connection is still in TIME_WAIT. Whether connect() then
		 * succeeds depends on TCP timestamps: with them, at once; without,
		 * a TIME_WAIT on our side makes it fail with EADDRNOTAVAIL until
		 * it expires. */
		err = cw_sockopt_reuseaddr(fd);
		if (!err && bind(fd, (const struct sockaddr *)&d->local, d->locallen) < 0)
			err = -errno;
	}
	if (!err)
		err = cw_policy_apply(&d->policy, fd);
	if (!err && connect(fd, (const struct sockaddr *)to, tolen) < 0 && errno != EINPROGRESS)
		err = -errno;
	if (!err)
		err = loop_io_add(d->loop, &d->io, fd, EPOLLOUT);
	if (err) {
		close(fd);
		d->io.fd = -1;
	}
	return err;
}

static void attempt(struct cw_dialer *d)
{
	unsigned i = d->next_addr++ % d->naddrs;
	int err;

	d->stats.attempts++;
	err = start_connect(d, &d->addr[i], d->addrlen[i]);
	if (err) {
		d->stats.failures++;
		schedule(d, -err);
		return;
	}
	d->state = D_CONNECTING;
	cw_timer_start(d->timer, d->cfg.connect_timeout_ms);
}

static void on_released(struct conn_owner *o, struct cw_conn *c)
{
	struct cw_dialer *d = container_of(o, struct cw_dialer, owner);

	(void)c;
	d->conn = NULL;
	if (d->state == D_STOPPED)
		return;
	/* An exchange completed on it: the next delay starts again at MIN. */
	if (o->stats.bytes_in > d->in_at_open && o->stats.bytes_out > d->out_at_open)
		d->failures_in_row = 0;
	schedule(d, 0);
}

static int resolve(struct cw_dialer *d)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", d->cfg.port);
	if (d->locallen)
		hints.ai_family = d->local.ss_family; /* the bound address decides the family */
	rc = getaddrinfo(d->cfg.host, port, &hints, &res);
	if (rc == EAI_SYSTEM)
		return -errno;
	if (rc == EAI_MEMORY)
		return -ENOMEM;
	if (rc)
		return -ENOENT;
	for (ai = res; ai && d->naddrs < DIALER_MAX_ADDRS; ai = ai->ai_next) {
		memcpy(&d->addr[d->naddrs], ai->ai_addr, ai->ai_addrlen);
		d->addrlen[d->naddrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	return d->naddrs ? 0 : -ENOENT;
}

int cw_dialer_new(struct cw_loop *loop, const struct cw_dialer_config *cfg, struct cw_dialer **out)
{
	struct cw_dialer *d;
	int err;

	if (!cfg->host || !cfg->port || !cfg->ops.on_data || !cfg->backoff_min_ms ||
	    cfg->backoff_min_ms > cfg->backoff_max_ms)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->cfg = *cfg;
	d->io.fd = -1;
	d->io.cb = on_connecting;
	d->policy = cfg->policy;
	d->policy.half_close_ms = 0; /* no CLOSE_WAIT while flushing to a server that left */
	d->rng = cfg->jitter_seed ? cfg->jitter_seed : (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)d << 16);
	if (!d->rng)
		d->rng = 88172645463325252ull;
	if (cfg->bind) {
		bool has_port;

		err = cw_addr_parse(cfg->bind, &d->local, &d->locallen, &has_port);
		if (err)
			goto fail;
	}
	err = resolve(d);
	if (err)
		goto fail;
	conn_owner_init(&d->owner, loop, &d->policy, &d->cfg.ops, d->cfg.arg);
	d->owner.no_linger = true;
	d->owner.released = on_released;
	err = cw_timer_new(loop, on_timer, d, &d->timer);
	if (err)
		goto fail;
	*out = d;
	return 0;
fail:
	free(d);
	return err;
}

int cw_dialer_start(struct cw_dialer *d)
{
	if (d->state != D_IDLE)
		return -EALREADY;
	attempt(d);
	return 0;
}

void cw_dialer_stop(struct cw_dialer *d)
{
	enum dialer_state was = d->state;

	d->state = D_STOPPED;
	cw_timer_stop(d->timer);
	if (was == D_CONNECTING)
		close_connecting(d);
	else if (was == D_CONNECTED && d->conn)
		cw_conn_close(d->conn);
}

static void dialer_free(struct loop_defer *df)
{
	free(container_of(df, struct cw_dialer, defer));
}

void cw_dialer_free(struct cw_dialer *d)
{
	if (!d)
		return;
	cw_dialer_stop(d);
	conn_owner_destroy(&d->owner);
	cw_timer_free(d->timer);
	d->timer = NULL;
	/* It may be freed from one of its own callbacks: the memory goes after
	 * the current batch. */
	d->defer.fn = dialer_free;
	loop_defer(d->loop, &d->defer);
}

struct cw_conn *cw_dialer_conn(const struct cw_dialer *d)
{
	return d->conn;
}

void cw_dialer_stats(const struct cw_dialer *d, struct cw_dialer_stats *out)
{
	*out = d->stats;
	/* The connecting socket, or the connection's until it is closed. */
	out->sockets = d->io.fd >= 0 || d->conn != NULL;
	out->conn = d->owner.stats;
	out->conn.out_buffers = d->owner.pool.held;
}

int cw_dialer_peer_str(const struct cw_dialer *d, char *buf, size_t len)
{
	unsigned i = d->naddrs ? (d->next_addr + d->naddrs - 1) % d->naddrs : 0;

	return cw_addr_port_str(&d->addr[i], buf, len);
}
