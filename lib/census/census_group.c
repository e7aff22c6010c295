/* Grouping a census by process, peer address or local port. Pure. */
#include "closewait/census_group.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct gkey {
	uint32_t kind;
	int32_t pid;
	struct cw_endpoint ep;
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

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h ^ (h >> 31);
}

/* The first owner of socket i (a shared socket counts for it), or NULL. */
static const struct cw_owner *first_owner(const struct cw_census *c, size_t i)
{
	return cw_census_owner_count(c, i) ? cw_census_owner(c, i, 0) : NULL;
}

static void key_of(const struct cw_census *c, size_t i, enum cw_group_by by, struct gkey *k)
{
	const struct cw_sock *s = cw_census_sock(c, i);
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
	}
}

static struct cw_group *group_get(struct gtable *t, const struct cw_census *c, size_t i,
				  const struct gkey *k)
{
	size_t h = key_hash(k) & t->mask;
	const struct cw_owner *o;
	struct cw_group *g;

	for (; t->slots[h]; h = (h + 1) & t->mask)
		if (!memcmp(&t->keys[t->slots[h] - 1], k, sizeof(*k)))
			return &t->g[t->slots[h] - 1];
	g = &t->g[t->n];
	t->keys[t->n] = *k;
	t->slots[h] = ++t->n;
	memset(g, 0, sizeof(*g));
	g->kind = k->kind;
	g->pid = k->pid;
	g->key = k->ep;
	o = first_owner(c, i);
	g->comm = o ? o->comm : NULL;
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
		account(group_get(&t, c, i, &k), c, i, peer);
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
