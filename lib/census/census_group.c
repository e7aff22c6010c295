/* Grouping a census by process, peer address or local port. Pure. */
#include "closewait/census_group.h"

#include <errno.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

struct gkey {
	uint32_t kind;
	int32_t pid;
	struct cw_endpoint ep;
	uint64_t netns;
	const char *str;              /* a unit, container id, pod uid or command; compared by content */
};

struct cw_grouping {
	struct cw_group *g;
	size_t n;
};

struct gtable {
	struct cw_group *g;
	struct gkey *keys;
	size_t n, cap;
	size_t *slots;                /* index into g + 1; 0 = empty */
	size_t mask;
};

static uint64_t key_hash(const struct gkey *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < offsetof(struct gkey, str); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	for (const char *q = k->str; q && *q; q++)
		h = (h ^ (uint8_t)*q) * 1099511628211ull;
	return h ^ (h >> 31);
}

static bool key_eq(const struct gkey *a, const struct gkey *b)
{
	if (memcmp(a, b, offsetof(struct gkey, str)))
		return false;
	return a->str == b->str || (a->str && b->str && !strcmp(a->str, b->str));
}

/* The first owner of socket i (a shared socket counts for it), or NULL. */
static const struct cw_owner *first_owner(const struct cw_census *c, size_t i)
{
	return cw_census_owner_count(c, i) ? cw_census_owner(c, i, 0) : NULL;
}

static void key_of(const struct cw_census *c, size_t i, enum cw_group_by by, struct gkey *k)
{
	const struct cw_sock *s = cw_census_sock(c, i);
	const struct cw_workload *w = by >= CW_BY_AUTO ? cw_census_sock_workload(c, i) : NULL;
	const struct cw_owner *o;

	memset(k, 0, sizeof(*k));
	switch (by) {
	case CW_BY_PROCESS:
		k->kind = cw_census_owner_kind(c, i);
		o = first_owner(c, i);
		k->pid = o ? o->pid : 0;
		break;
	case CW_BY_PEER:
		k->ep.addr = s->peer.addr;
		break;
	case CW_BY_LOCAL_PORT:
		k->ep.port = s->local.port;
		break;
	case CW_BY_NETNS:
		k->netns = s->netns;
		break;
	case CW_BY_UNIT:
		k->str = w ? w->systemd_unit : NULL;
		break;
	case CW_BY_CONTAINER:
		k->str = w ? w->container_id : NULL;
		break;
	case CW_BY_POD:
		k->str = w ? w->pod_uid : NULL;
		break;
	case CW_BY_AUTO:
		o = first_owner(c, i);
		if (w && w->systemd_unit) {
			k->kind = CW_AUTO_UNIT;
			k->str = w->systemd_unit;
		} else if (w && w->container_id) {
			k->kind = CW_AUTO_CONTAINER;
			k->str = w->container_id;
		} else if (o) {
			k->kind = CW_AUTO_COMMAND;
			k->str = o->comm;
		}
		break;
	}
}

static struct cw_group *group_get(struct gtable *t, const struct cw_census *c, size_t i,
				  enum cw_group_by by, const struct gkey *k)
{
	size_t h = key_hash(k) & t->mask;
	const struct cw_owner *o;
	struct cw_group *g;

	for (; t->slots[h]; h = (h + 1) & t->mask)
		if (key_eq(&t->keys[t->slots[h] - 1], k))
			return &t->g[t->slots[h] - 1];
	g = &t->g[t->n];
	t->keys[t->n] = *k;
	t->slots[h] = ++t->n;
	memset(g, 0, sizeof(*g));
	g->kind = by == CW_BY_PROCESS ? k->kind : cw_census_owner_kind(c, i);
	g->pid = k->pid;
	g->key = k->ep;
	o = first_owner(c, i);
	g->comm = o ? o->comm : NULL;
	if (by >= CW_BY_AUTO && by != CW_BY_NETNS)
		g->workload = cw_census_sock_workload(c, i);
	if (by == CW_BY_AUTO)
		g->auto_key = (enum cw_group_auto)k->kind;
	if (by == CW_BY_NETNS)
		g->netns = cw_census_sock_netns(c, i);
	return g;
}

static void account(struct cw_group *g, const struct cw_census *c, size_t i, const size_t *peer)
{
	const struct cw_sock *s = cw_census_sock(c, i);

	g->total++;
	g->count[s->state < CW_TCP_MAX_STATE ? s->state : 0]++;
	g->recv_q += s->rqueue;
	if (s->state != CW_TCP_CLOSE_WAIT)
		return;
	g->why[cw_sock_why(s)]++;
	{
		struct cw_age a;

		cw_sock_age(s, &a);
		if (a.known && (!g->cw_oldest.known || a.min_ms > g->cw_oldest.min_ms))
			g->cw_oldest = a;
	}
	if (peer && peer[i] != CW_NO_PEER) {
		size_t j = peer[i];
		const struct cw_owner *o = first_owner(c, j);

		g->peers_closed++;
		if (cw_census_sock(c, j)->inode == 0) {
			g->peers_orphaned++;
		} else {
			g->peers_half_closed++;
			if (o && !g->peer_pid) {
				g->peer_pid = o->pid;
				g->peer_comm = o->comm;
			}
		}
	}
}

static int group_cmp(const void *a, const void *b)
{
	const struct cw_group *x = a, *y = b;

	if (x->count[CW_TCP_CLOSE_WAIT] != y->count[CW_TCP_CLOSE_WAIT])
		return x->count[CW_TCP_CLOSE_WAIT] > y->count[CW_TCP_CLOSE_WAIT] ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->key.port != y->key.port)
		return x->key.port < y->key.port ? -1 : 1;
	if (x->netns != y->netns && x->netns && y->netns)
		return x->netns->inode < y->netns->inode ? -1 : 1;
	return memcmp(&x->key.addr, &y->key.addr, sizeof(x->key.addr));
}

int cw_census_group(const struct cw_census *c, const bool *sel, const size_t *peer,
		    enum cw_group_by by, struct cw_grouping **out)
{
	size_t n = cw_census_count(c), cap = 16;
	struct cw_grouping *gr = malloc(sizeof(*gr));
	struct gtable t = { 0 };

	while (cap < n * 2)
		cap <<= 1;
	t.mask = cap - 1;
	t.slots = calloc(cap, sizeof(*t.slots));
	t.g = malloc((n ? n : 1) * sizeof(*t.g));
	t.keys = malloc((n ? n : 1) * sizeof(*t.keys));
	if (!gr || !t.slots || !t.g || !t.keys)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct gkey k;

		if (sel && !sel[i])
			continue;
		key_of(c, i, by, &k);
		account(group_get(&t, c, i, by, &k), c, i, peer);
	}
	free(t.slots);
	free(t.keys);
	qsort(t.g, t.n, sizeof(*t.g), group_cmp);
	*gr = (struct cw_grouping){ t.g, t.n };
	*out = gr;
	return 0;
fail:
	free(gr);
	free(t.slots);
	free(t.g);
	free(t.keys);
	return -ENOMEM;
}

void cw_grouping_free(struct cw_grouping *g)
{
	if (!g)
		return;
	free(g->g);
	free(g);
}

size_t cw_grouping_count(const struct cw_grouping *g) { return g->n; }
const struct cw_group *cw_grouping_at(const struct cw_grouping *g, size_t i) { return &g->g[i]; }
