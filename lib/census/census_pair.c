/* Pairing: both ends of a connection on this host. A local CLOSE_WAIT
 * socket whose peer is a local FIN_WAIT_2 socket is the signature of a leak:
 * the FIN_WAIT_2 side closed, the CLOSE_WAIT side never did. Pure. */
#include "closewait/census_group.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	size_t idx;                   /* CW_NO_PEER: empty */
};

static uint64_t conn_hash(const struct cw_endpoint *a, const struct cw_endpoint *b)
{
	uint64_t h = 1469598103934665603ull;
	const uint8_t *p[2] = { a->addr.s6_addr, b->addr.s6_addr };

	for (int k = 0; k < 2; k++)
		for (int i = 12; i < 16; i++)
			h = (h ^ p[k][i]) * 1099511628211ull;
	h = (h ^ a->port) * 1099511628211ull;
	h = (h ^ b->port) * 1099511628211ull;
	return h ^ (h >> 29);
}

static bool ep_eq(const struct cw_endpoint *a, const struct cw_endpoint *b)
{
	return a->port == b->port && !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

/* Is socket j the other end of socket i? Two namespaces each have their
 * own loopback: 127.0.0.1:80 here and there are different sockets. Other
 * addresses can join namespaces (a veth pair), so those may pair across. */
static bool is_peer(const struct cw_sock *i, const struct cw_sock *j)
{
	static const uint8_t v4lo[12] = { [10] = 0xff, [11] = 0xff };
	const struct in6_addr *a = &i->local.addr;
	bool loopback = IN6_IS_ADDR_LOOPBACK(a) || (!memcmp(a, v4lo, sizeof(v4lo)) && a->s6_addr[12] == 127);

	if (i->netns != j->netns && loopback)
		return false;
	return ep_eq(&i->local, &j->peer) && ep_eq(&i->peer, &j->local);
}

int cw_census_pair(const struct cw_census *c, size_t *peer)
{
	size_t n = cw_census_count(c), cap = 16, mask;
	struct slot *t;

	for (size_t i = 0; i < n; i++)
		peer[i] = CW_NO_PEER;
	while (cap < n * 2)
		cap <<= 1;
	mask = cap - 1;
	t = malloc(cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t k = 0; k < cap; k++)
		t[k].idx = CW_NO_PEER;
	/* Index the FIN_WAIT_2 ends by (local, remote)... */
	for (size_t i = 0; i < n; i++) {
		const struct cw_sock *s = cw_census_sock(c, i);
		size_t h;

		if (s->state != CW_TCP_FIN_WAIT2)
			continue;
		for (h = conn_hash(&s->local, &s->peer) & mask; t[h].idx != CW_NO_PEER; h = (h + 1) & mask)
			;
		t[h].idx = i;
	}
	/* ...and look each CLOSE_WAIT up by (remote, local). */
	for (size_t i = 0; i < n; i++) {
		const struct cw_sock *s = cw_census_sock(c, i);

		if (s->state != CW_TCP_CLOSE_WAIT)
			continue;
		for (size_t h = conn_hash(&s->peer, &s->local) & mask; t[h].idx != CW_NO_PEER;
		     h = (h + 1) & mask) {
			if (is_peer(s, cw_census_sock(c, t[h].idx))) {
				peer[i] = t[h].idx;
				peer[t[h].idx] = i;
				break;
			}
		}
	}
	free(t);
	return 0;
}
