/* Unaccepted sockets: a connection in a listener's accept queue has no file
 * yet, so no process holds it. The process that will accept it is the
 * listener's owner: the listener of the same namespace and port whose
 * local address matches most specifically (the exact address before the
 * wildcard, which for IPv4 is 0.0.0.0 or an IPv6 ::). With SO_REUSEPORT
 * several listeners match equally: all are named, their owners all listed. */
#include "census_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool census_state_unaccepted(int state)
{
	return state == CW_TCP_SYN_RECV || state == CW_TCP_ESTABLISHED ||
	       state == CW_TCP_CLOSE_WAIT;
}

static bool addr_any(const struct in6_addr *a)
{
	static const uint8_t v4any[16] = { [10] = 0xff, [11] = 0xff };

	return IN6_IS_ADDR_UNSPECIFIED(a) || !memcmp(a, v4any, sizeof(v4any));
}

/* 2: exact address; 1: a wildcard that takes it; 0: no. */
static int match(const struct cw_sock *l, const struct cw_sock *s)
{
	if (l->netns != s->netns || l->local.port != s->local.port)
		return 0;
	if (!memcmp(&l->local.addr, &s->local.addr, sizeof(l->local.addr)))
		return 2;
	if (!addr_any(&l->local.addr))
		return 0;
	/* An IPv4 wildcard takes only IPv4 (mapped) addresses; an IPv6 one
	 * takes both unless it is IPV6_V6ONLY, which the dump does not say. */
	if (l->family == AF_INET)
		return IN6_IS_ADDR_V4MAPPED(&s->local.addr) ? 1 : 0;
	return 1;
}

static int owner_cmp(const void *a, const void *b)
{
	const struct cw_owner *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* Appends to c->lidx the best listeners of socket i; returns how many. */
static int add_listeners(struct cw_census *c, size_t i, size_t *cap)
{
	int best = 0;
	uint32_t n = 0;

	for (size_t j = 0; j < c->nl; j++) {
		int m = match(&c->listeners[j], &c->socks[i]);

		if (!m || m < best)
			continue;
		if (m > best) {
			best = m;
			n = 0;
		}
		if (c->lspan[i].first + n >= *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			uint32_t *v = realloc(c->lidx, ncap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			c->lidx = v;
			*cap = ncap;
		}
		c->lidx[c->lspan[i].first + n++] = (uint32_t)j;
	}
	c->lspan[i].n = n;
	return 0;
}

/* The owner span of listener j. When LISTEN was asked for, the listener
 * is among the sockets too, and the walk, which finds each inode once,
 * told that socket: its span then. */
static const struct owner_span *listener_span(const struct cw_census *c, uint32_t j)
{
	const struct cw_sock *l = &c->listeners[j];

	if (c->spans[c->n + j].n)
		return &c->spans[c->n + j];
	for (size_t i = 0; i < c->n; i++)
		if (c->socks[i].state == CW_TCP_LISTEN && c->socks[i].inode == l->inode &&
		    c->socks[i].netns == l->netns)
			return &c->spans[i];
	return &c->spans[c->n + j];
}

/* Socket i's owners: copies of its listeners' owners, sorted, appended. */
static int add_owners(struct cw_census *c, size_t i, size_t *cap)
{
	size_t first = c->nowners;

	for (uint32_t k = 0; k < c->lspan[i].n; k++) {
		const struct owner_span *ls = listener_span(c, c->lidx[c->lspan[i].first + k]);

		if (c->nowners + ls->n > *cap) {
			size_t ncap = (*cap + ls->n) * 2;
			struct cw_owner *v = realloc(c->owners, ncap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			c->owners = v;
			*cap = ncap;
		}
		memcpy(&c->owners[c->nowners], &c->owners[ls->first], ls->n * sizeof(*c->owners));
		c->nowners += ls->n;
	}
	qsort(&c->owners[first], c->nowners - first, sizeof(*c->owners), owner_cmp);
	c->spans[i] = (struct owner_span){ (uint32_t)first, (uint32_t)(c->nowners - first) };
	return 0;
}

int census_link_unaccepted(struct cw_census *c)
{
	size_t lcap = 0, ocap = c->nowners;
	bool any = false;
	int err;

	for (size_t i = 0; i < c->n && !any; i++)
		any = !c->socks[i].inode && census_state_unaccepted(c->socks[i].state);
	if (!any || !c->nl)
		return 0;
	c->lspan = calloc(c->n, sizeof(*c->lspan));
	if (!c->lspan)
		return -ENOMEM;
	for (size_t i = 0, at = 0; i < c->n; i++) {
		if (c->socks[i].inode || !census_state_unaccepted(c->socks[i].state))
			continue;
		c->lspan[i].first = (uint32_t)at;
		err = add_listeners(c, i, &lcap);
		if (err)
			return err;
		at += c->lspan[i].n;
		if (c->spans && c->lspan[i].n) {
			err = add_owners(c, i, &ocap);
			if (err)
				return err;
		}
	}
	return 0;
}
