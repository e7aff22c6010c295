/* Port arithmetic: how fast new connections to one destination can be made
 * before connect() runs out of local ports. Pure but for
 * cw_port_sys_read and cw_port_sys_read_netns. Kernel facts (net/ipv4/inet_hashtables.c, tcp_ipv4.c):
 * - connect() picks a port from ip_local_port_range, skipping
 *   ip_local_reserved_ports; the count is rounded down to even (it scans
 *   both parities in two halves: "remaining &= ~1U").
 * - A port is free for a destination when no socket has the same 4-tuple: the
 *   space is per (source address, destination).
 * - TIME_WAIT holds its 4-tuple for TCP_TIMEWAIT_LEN (60 s) unless
 *   tcp_twsk_unique() lets connect() take it over: tcp_tw_reuse 1, or 2 when
 *   an address is loopback, and the connection had timestamps, once
 *   tcp_tw_reuse_delay (1 s) has passed since its last timestamp. */
#include "closewait/census_ports.h"
#include "census_lib.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned reserved_in(unsigned lo, unsigned hi, const char *list)
{
	unsigned n = 0;

	for (const char *p = list; p && *p;) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p)
			break;
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		/* The overlap with [lo, hi], not port by port: text can name
		 * ports up to ULONG_MAX ("1-99999999999", or "1--5", which
		 * strtoul wraps). */
		if (a <= hi && b >= lo && a <= b)
			n += (unsigned)((b < hi ? b : hi) - (a > lo ? a : lo) + 1);
		p = end + strspn(end, ", \t\n");
	}
	return n;
}

static int sys_read_here(void *arg)
{
	return cw_port_sys_read(NULL, arg);
}

int cw_port_sys_read_netns(const struct cw_census *c, size_t j, struct cw_port_sys *sys)
{
	int fd = census_netns_fd(c, cw_census_netns(c, j)->inode);

	/* /proc/sys/net shows the namespace of the thread that opens it. */
	return fd < 0 ? cw_port_sys_read(NULL, sys) : census_netns_call(fd, sys_read_here, sys);
}

int cw_port_sys_set(struct cw_port_sys *sys, unsigned lo, unsigned hi, const char *reserved)
{
	unsigned count;

	if (lo == 0 || hi < lo || hi > 65535)
		return -EINVAL;
	count = hi - lo + 1;
	if (count > 1)
		count &= ~1u;
	sys->range_lo = lo;
	sys->range_hi = hi;
	/* A reserved port at the top of an odd-sized range may be the one the
	 * rounding dropped already; counting it again is off by one at most. */
	sys->reserved = reserved_in(lo, hi, reserved);
	sys->usable = count > sys->reserved ? count - sys->reserved : 0;
	return 0;
}

static int read_line(const char *root, const char *name, char *buf, size_t len)
{
	char path[256];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		err = -EIO;
	fclose(f);
	return err;
}

int cw_port_sys_read(const char *root, struct cw_port_sys *sys)
{
	char buf[4096];
	unsigned lo, hi;
	int err;

	if (!root)
		root = "/proc/sys/net/ipv4";
	memset(sys, 0, sizeof(*sys));
	err = read_line(root, "ip_local_port_range", buf, sizeof(buf));
	if (err)
		return err;
	if (sscanf(buf, "%u %u", &lo, &hi) != 2)
		return -EINVAL;
	if (read_line(root, "ip_local_reserved_ports", buf, sizeof(buf)))
		buf[0] = 0;
	err = cw_port_sys_set(sys, lo, hi, buf);
	if (err)
		return err;
	sys->tw_reuse = read_line(root, "tcp_tw_reuse", buf, sizeof(buf)) ? 0 : atoi(buf);
	sys->timestamps = read_line(root, "tcp_timestamps", buf, sizeof(buf)) ? 1 : atoi(buf);
	/* tcp_tw_reuse_delay appeared in Linux 6.13; before, the delay was 1 s. */
	sys->tw_reuse_delay_ms =
		read_line(root, "tcp_tw_reuse_delay", buf, sizeof(buf)) ? 1000 : (unsigned)atoi(buf);
	return 0;
}

static bool is_loopback(const struct in6_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (!memcmp(a->s6_addr, mapped, 12))
		return a->s6_addr[12] == 127;
	return IN6_IS_ADDR_LOOPBACK(a);
}

/* Would connect() reuse a TIME_WAIT port toward d from local address src? */
static bool reuse_applies(const struct cw_port_sys *sys, const struct in6_addr *src,
			  const struct in6_addr *dst)
{
	if (!sys->timestamps || !sys->tw_reuse)
		return false;
	return sys->tw_reuse == 1 || is_loopback(src) || is_loopback(dst);
}

double cw_ports_exhaust_s(const struct cw_port_sys *sys, const struct cw_port_dest *d, double rate)
{
	double cap = (double)sys->usable * (double)(d->sources ? d->sources : 1);
	double hold_s = d->reuse ? sys->tw_reuse_delay_ms / 1000.0 : CW_TIME_WAIT_MS / 1000.0;
	double prev = 0;
	size_t old = d->reuse ? 0 : d->time_wait; /* with reuse, old ports come back within the delay */

	if (rate <= 0)
		return -1;
	if ((double)d->open + (double)old >= cap)
		return 0;
	/* Between two expiries of the TIME_WAIT already there, ports held =
	 * open + old still waiting + rate * t (each new one held hold_s). */
	for (size_t k = 0; k <= old; k++) {
		double next = k < old ? d->tw_left_ms[k] / 1000.0 : hold_s;
		double t = (cap - (double)d->open - (double)(old - k)) / rate;

		if (next > hold_s)
			next = hold_s;
		if (t < prev)
			t = prev;
		if (t <= next)
			return t;
		prev = next;
	}
	return -1; /* open + rate * hold_s < capacity: sustainable */
}

struct acc {
	struct cw_endpoint key;       /* dest (addr, port), or local (addr) */
	struct in6_addr src;          /* dests: one source seen, to count distinct ones */
	size_t sources, open, time_wait, recent, dests;
	uint32_t oldest_tw_ms;
	size_t tw_first;              /* into the TIME_WAIT list, after sorting */
};

struct tw {
	size_t dest;
	uint32_t left_ms;
	struct in6_addr src;
};

static bool ep_eq(const struct cw_endpoint *a, const struct cw_endpoint *b)
{
	return a->port == b->port && !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

/* Linear lookups: few destinations and local addresses in practice. */
static size_t acc_find(struct acc **v, size_t *n, const struct cw_endpoint *key, int *err)
{
	struct acc *a;

	for (size_t i = 0; i < *n; i++)
		if (ep_eq(&(*v)[i].key, key))
			return i;
	a = realloc(*v, (*n + 1) * sizeof(**v));
	if (!a) {
		*err = -ENOMEM;
		return 0;
	}
	*v = a;
	memset(&a[*n], 0, sizeof(a[0]));
	a[*n].key = *key;
	return (*n)++;
}

/* Ports somebody listens on: their sockets are the server side, not connect()'s. */
/* Which namespace a report is of: all of the census's, or one. */
struct ns_pick {
	bool one;
	uint64_t netns;
};

static bool picked(const struct ns_pick *p, const struct cw_sock *s)
{
	return !p->one || s->netns == p->netns;
}

static void listening_ports(const struct cw_census *c, const struct ns_pick *p, uint8_t *bits)
{
	memset(bits, 0, 65536 / 8);
	for (size_t i = 0, n = cw_census_count(c); i < n; i++) {
		const struct cw_sock *s = cw_census_sock(c, i);

		if (s->state == CW_TCP_LISTEN && picked(p, s))
			bits[s->local.port / 8] |= (uint8_t)(1u << (s->local.port % 8));
	}
}

static int tw_cmp(const void *a, const void *b)
{
	const struct tw *x = a, *y = b;

	if (x->dest != y->dest)
		return x->dest < y->dest ? -1 : 1;
	return (x->left_ms > y->left_ms) - (x->left_ms < y->left_ms);
}

static int dest_cmp(const void *a, const void *b)
{
	const struct cw_port_dest *x = a, *y = b;

	if (x->utilisation != y->utilisation)
		return x->utilisation > y->utilisation ? -1 : 1;
	return (x->time_wait < y->time_wait) - (x->time_wait > y->time_wait);
}

static void finish_dest(const struct cw_port_sys *sys, const struct acc *a, const struct tw *tws,
			double what_if, uint32_t *storage, struct cw_port_dest *d)
{
	double cap = (double)sys->usable * (double)(a->sources ? a->sources : 1);
	double hold_s, window_s;
	size_t held_tw = 0;

	memset(d, 0, sizeof(*d));
	d->dest = a->key;
	d->sources = a->sources ? a->sources : 1;
	d->open = a->open;
	d->time_wait = a->time_wait;
	d->time_wait_recent = a->recent;
	d->reuse = reuse_applies(sys, a->time_wait ? &tws[a->tw_first].src : &a->src, &a->key.addr);
	for (size_t k = 0; k < a->time_wait; k++) {
		storage[k] = tws[a->tw_first + k].left_ms;
		held_tw += !d->reuse || CW_TIME_WAIT_MS - storage[k] < sys->tw_reuse_delay_ms;
	}
	d->tw_left_ms = storage;
	hold_s = d->reuse ? sys->tw_reuse_delay_ms / 1000.0 : CW_TIME_WAIT_MS / 1000.0;
	d->rate_max = cap > (double)d->open ? (cap - (double)d->open) / hold_s : 0;
	/* TIME_WAIT ages are exact (60 s minus the timer): the ones that entered
	 * in the last window, over the window (shorter if they are all younger). */
	window_s = a->oldest_tw_ms / 1000.0;
	if (window_s > CW_RATE_WINDOW_MS / 1000.0)
		window_s = CW_RATE_WINDOW_MS / 1000.0;
	if (window_s < 1)
		window_s = 1;
	d->rate_now = (double)a->recent / window_s;
	d->utilisation = cap > 0 ? ((double)d->open + (double)held_tw) / cap : 1;
	d->exhaust_s = cw_ports_exhaust_s(sys, d, d->rate_now);
	d->exhaust_what_if_s = what_if > 0 ? cw_ports_exhaust_s(sys, d, what_if) : -1;
}

struct pair {
	size_t dest;
	struct in6_addr src;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->dest != y->dest)
		return x->dest < y->dest ? -1 : 1;
	return memcmp(&x->src, &y->src, sizeof(x->src));
}

/* What collect() counts: per destination, per local address, each
 * outgoing TIME_WAIT and each (destination, source) pair seen. tws and
 * pairs have room for every socket of the census. */
struct tally {
	struct acc *dests, *locals;
	size_t nd, nl;
	struct tw *tws;
	size_t ntw;
	struct pair *pairs;
	size_t np;
};

/* Counts every outgoing socket into its destination and local address. */
static int collect(const struct cw_census *c, const struct ns_pick *p, const struct cw_port_sys *sys,
		   struct tally *t)
{
	uint8_t listen[65536 / 8];
	int err = 0;

	listening_ports(c, p, listen);
	for (size_t i = 0, n = cw_census_count(c); i < n && !err; i++) {
		const struct cw_sock *s = cw_census_sock(c, i);
		struct cw_endpoint lk = { s->local.addr, 0 };
		size_t di, li;
		struct acc *d, *l;

		if (!picked(p, s) || s->state == CW_TCP_LISTEN || s->local.port < sys->range_lo ||
		    s->local.port > sys->range_hi ||
		    (listen[s->local.port / 8] & (1u << (s->local.port % 8))))
			continue;
		di = acc_find(&t->dests, &t->nd, &s->peer, &err);
		li = err ? 0 : acc_find(&t->locals, &t->nl, &lk, &err);
		if (err)
			break;
		d = &t->dests[di];
		l = &t->locals[li];
		d->src = s->local.addr;
		t->pairs[t->np++] = (struct pair){ di, s->local.addr };
		if (s->state == CW_TCP_TIME_WAIT) {
			struct cw_age a;

			cw_sock_age(s, &a);
			d->time_wait++;
			l->time_wait++;
			d->recent += a.min_ms <= CW_RATE_WINDOW_MS;
			if (a.min_ms > d->oldest_tw_ms)
				d->oldest_tw_ms = (uint32_t)a.min_ms;
			t->tws[t->ntw++] = (struct tw){ di, CW_TIME_WAIT_MS - (uint32_t)a.min_ms,
							s->local.addr };
		} else {
			d->open++;
			l->open++;
		}
	}
	return err;
}

static void count_sources(struct tally *t)
{
	qsort(t->pairs, t->np, sizeof(*t->pairs), pair_cmp);
	for (size_t i = 0; i < t->np; i++) {
		const struct pair *p = &t->pairs[i];

		if (i && p->dest == p[-1].dest && !memcmp(&p->src, &p[-1].src, sizeof(p->src)))
			continue;
		t->dests[p->dest].sources++;
		for (size_t l = 0; l < t->nl; l++)
			if (!memcmp(&t->locals[l].key.addr, &p->src, sizeof(p->src)))
				t->locals[l].dests++;
	}
}

struct cw_ports_report {
	struct cw_port_dest *dests;   /* sorted by utilisation, then TIME_WAIT */
	size_t ndests;
	struct cw_port_local *locals;
	size_t nlocals;
	uint32_t *tw_storage;         /* holds the dests' tw_left_ms */
};

/* The report from what collect() counted. */
static int report_fill(struct cw_ports_report *r, const struct tally *t,
		       const struct cw_port_sys *sys, double what_if)
{
	r->dests = calloc(t->nd ? t->nd : 1, sizeof(*r->dests));
	r->locals = calloc(t->nl ? t->nl : 1, sizeof(*r->locals));
	r->tw_storage = malloc((t->ntw ? t->ntw : 1) * sizeof(*r->tw_storage));
	if (!r->dests || !r->locals || !r->tw_storage)
		return -ENOMEM;
	for (size_t i = 0, off = 0; i < t->nd; i++) {
		finish_dest(sys, &t->dests[i], t->tws, what_if, r->tw_storage + off, &r->dests[i]);
		off += t->dests[i].time_wait;
	}
	r->ndests = t->nd;
	qsort(r->dests, t->nd, sizeof(*r->dests), dest_cmp);
	for (size_t i = 0; i < t->nl; i++)
		r->locals[i] = (struct cw_port_local){ t->locals[i].key, t->locals[i].dests,
						       t->locals[i].open, t->locals[i].time_wait };
	r->nlocals = t->nl;
	return 0;
}

static int report(const struct cw_census *c, const struct ns_pick *p, const struct cw_port_sys *sys,
		  double what_if, const struct cw_endpoint *extra, struct cw_ports_report **out)
{
	size_t n = cw_census_count(c);
	struct cw_ports_report *r = calloc(1, sizeof(*r));
	struct tally t = { .tws = malloc((n ? n : 1) * sizeof(*t.tws)),
			   .pairs = malloc((n ? n : 1) * sizeof(*t.pairs)) };
	int err = r && t.tws && t.pairs ? 0 : -ENOMEM;

	if (!err)
		err = collect(c, p, sys, &t);
	if (!err && extra)
		acc_find(&t.dests, &t.nd, extra, &err);
	if (err)
		goto out;
	count_sources(&t);
	qsort(t.tws, t.ntw, sizeof(*t.tws), tw_cmp);
	for (size_t k = 0; k < t.ntw; k++)
		if (!k || t.tws[k].dest != t.tws[k - 1].dest)
			t.dests[t.tws[k].dest].tw_first = k;
	err = report_fill(r, &t, sys, what_if);
out:
	free(t.dests);
	free(t.locals);
	free(t.tws);
	free(t.pairs);
	if (err) {
		cw_ports_report_free(r);
		return err;
	}
	*out = r;
	return 0;
}

int cw_ports_report(const struct cw_census *c, const struct cw_port_sys *sys, double what_if,
		    const struct cw_endpoint *extra, struct cw_ports_report **out)
{
	struct ns_pick all = { false, 0 };

	return report(c, &all, sys, what_if, extra, out);
}

int cw_ports_report_netns(const struct cw_census *c, uint64_t netns, const struct cw_port_sys *sys,
			  double what_if, const struct cw_endpoint *extra,
			  struct cw_ports_report **out)
{
	struct ns_pick one = { true, netns };

	return report(c, &one, sys, what_if, extra, out);
}

void cw_ports_report_free(struct cw_ports_report *r)
{
	if (!r)
		return;
	free(r->dests);
	free(r->locals);
	free(r->tw_storage);
	free(r);
}

size_t cw_ports_dest_count(const struct cw_ports_report *r) { return r->ndests; }
const struct cw_port_dest *cw_ports_dest(const struct cw_ports_report *r, size_t i) { return &r->dests[i]; }
size_t cw_ports_local_count(const struct cw_ports_report *r) { return r->nlocals; }
const struct cw_port_local *cw_ports_local(const struct cw_ports_report *r, size_t i) { return &r->locals[i]; }
