/* What the kernel says about the lab's sockets: the census (sock_diag),
 * never ss's text. The lab's namespace holds nothing but the scenario's
 * own sockets, so a port names them all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cli.h"
#include "closewait/census.h"
#include "lab.h"

static const char *owner_name(enum cw_owner_kind k)
{
	switch (k) {
	case CW_OWNED: return "process";
	case CW_ORPHAN: return "orphaned";
	case CW_UNACCEPTED: return "unaccepted";
	default: return "unknown";
	}
}

static int rank(const struct lab_sockview *v)
{
	return !strcmp(v->role, "listener") ? 0 : !strcmp(v->role, "server") ? 1
	       : !strcmp(v->role, "client") ? 2 : 3;
}

static int by_role(const void *a, const void *b)
{
	const struct lab_sockview *x = a, *y = b;

	if (rank(x) != rank(y))
		return rank(x) - rank(y);
	return strcmp(x->local, y->local) ? strcmp(x->local, y->local) : strcmp(x->peer, y->peer);
}

static void view(const struct cw_census *c, size_t i, struct lab_sockview *v, uint16_t port)
{
	const struct cw_sock *s = cw_census_sock(c, i);

	memset(v, 0, sizeof(*v));
	/* Without a port, nothing says which end is whose. */
	v->role = s->state == CW_TCP_LISTEN ? "listener" : !port ? "socket"
		  : s->local.port == port ? "server" : "client";
	cw_endpoint_str(&s->local, true, v->local, sizeof(v->local));
	cw_endpoint_str(&s->peer, true, v->peer, sizeof(v->peer));
	if (!s->peer.port && strlen(v->peer) > 2) /* a listener's: "0.0.0.0:*", as ss has it */
		strcpy(strrchr(v->peer, ':'), ":*");
	v->state = s->state;
	v->rqueue = s->rqueue;
	v->wqueue = s->wqueue;
	v->timer = s->timer;
	v->timer_ms = s->timer ? s->timer_ms : 0;
	v->retrans = s->retrans;
	v->owner = owner_name(cw_census_owner_kind(c, i));
	if (cw_census_owner_count(c, i)) {
		const struct cw_owner *o = cw_census_owner(c, i, 0);

		v->pid = o->pid;
		snprintf(v->comm, sizeof(v->comm), "%s", o->comm ? o->comm : "");
	}
	v->why = cw_why_name(cw_census_why(c, i));
}

long lab_sockets(uint16_t port, struct lab_sockview *v, size_t max)
{
	struct cw_census_opts o;
	struct cw_census *c;
	size_t n = 0;
	int err;

	cw_census_opts_init(&o);
	o.owners = true;
	err = cw_census_take(&o, &c);
	if (err)
		return err;
	for (size_t i = 0; i < cw_census_count(c) && n < max; i++) {
		const struct cw_sock *s = cw_census_sock(c, i);
		bool server = s->local.port == port;

		if (port && !server && s->peer.port != port)
			continue;
		view(c, i, &v[n++], port);
	}
	cw_census_free(c);
	qsort(v, n, sizeof(*v), by_role);
	return (long)n;
}

int lab_state(uint16_t port, bool server)
{
	struct lab_sockview v[16];
	long n = lab_sockets(port, v, 16);

	for (long i = 0; i < n; i++)
		if (!strcmp(v[i].role, server ? "server" : "client"))
			return v[i].state;
	return 0;
}

/* Calls done(arg) every 10 ms until it says yes, for at most ms: the ms it
 * took, or -ETIMEDOUT. The lab's waits for a state or a count. */
static long poll_until(bool (*done)(void *arg), void *arg, unsigned ms)
{
	uint64_t start = cli_now_ms();

	for (;;) {
		if (done(arg))
			return (long)(cli_now_ms() - start);
		if (cli_now_ms() - start >= ms)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000 }, NULL);
	}
}

struct wait_state {
	int (*state_of)(uint16_t port, bool server);  /* lab_state or lab_state_quick */
	uint16_t port;
	bool server;
	int state;
};

static bool state_reached(void *arg)
{
	const struct wait_state *w = arg;

	return w->state_of(w->port, w->server) == w->state;
}

long lab_wait_state(uint16_t port, bool server, int state, unsigned ms)
{
	struct wait_state w = { lab_state, port, server, state };

	return poll_until(state_reached, &w, ms);
}

long lab_wait_states(uint16_t port, int server, int client, unsigned ms)
{
	uint64_t start = cli_now_ms();

	for (;;) {
		struct lab_sockview v[16];
		long n = lab_sockets(port, v, 16);
		int got[2] = { 0, 0 };

		for (long i = 0; i < n; i++)
			if (strcmp(v[i].role, "listener"))
				got[!strcmp(v[i].role, "client")] = v[i].state;
		if ((server < 0 || got[0] == server) && (client < 0 || got[1] == client))
			return (long)(cli_now_ms() - start);
		if (cli_now_ms() - start >= ms)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000000 }, NULL);
	}
}

/* The census without owners: lab_sockets looks for every socket's
 * process through /proc, which takes a second on a busy machine; a poll
 * needs states only. f(sock, arg) for each socket of port. */
static int states(uint16_t port, void (*f)(const struct cw_sock *s, uint16_t port, void *arg),
		  void *arg)
{
	struct cw_census_opts o;
	struct cw_census *c;
	int err;

	cw_census_opts_init(&o);
	if ((err = cw_census_take(&o, &c)))
		return err;
	for (size_t i = 0; i < cw_census_count(c); i++) {
		const struct cw_sock *s = cw_census_sock(c, i);

		if (s->local.port == port || s->peer.port == port)
			f(s, port, arg);
	}
	cw_census_free(c);
	return 0;
}

struct find {
	bool server;
	int state;                    /* found: the first one's */
	int want;                     /* counting: this state (0: all but listeners) */
	long n;
};

static void first_of_role(const struct cw_sock *s, uint16_t port, void *arg)
{
	struct find *q = arg;

	if (s->state != CW_TCP_LISTEN && (s->local.port == port) == q->server && !q->state)
		q->state = s->state;
}

static void in_state(const struct cw_sock *s, uint16_t port, void *arg)
{
	struct find *q = arg;

	(void)port;
	q->n += q->want ? s->state == q->want : s->state != CW_TCP_LISTEN;
}

int lab_state_quick(uint16_t port, bool server)
{
	struct find q = { .server = server };
	int err = states(port, first_of_role, &q);

	return err ? err : q.state;
}

long lab_wait_state_quick(uint16_t port, bool server, int state, unsigned ms)
{
	struct wait_state w = { lab_state_quick, port, server, state };

	return poll_until(state_reached, &w, ms);
}

long lab_count_state(uint16_t port, int state)
{
	struct find q = { .want = state };
	int err = states(port, in_state, &q);

	return err ? err : q.n;
}

struct wait_count {
	uint16_t port;
	int state;
	long n;
	long seen;                    /* the last count, or -errno */
};

static bool count_reached(void *arg)
{
	struct wait_count *w = arg;

	w->seen = lab_count_state(w->port, w->state);
	return w->seen < 0 || w->seen >= w->n;
}

long lab_wait_count(uint16_t port, int state, long n, unsigned ms)
{
	struct wait_count w = { .port = port, .state = state, .n = n };

	poll_until(count_reached, &w, ms);
	return w.seen;
}
