/* Selecting sockets: the filter vocabulary of scan and reap (ss's names). Pure. */
#include "closewait/census_filter.h"

#include <string.h>

bool cw_filter_needs_owners(const struct cw_filter *f)
{
	return f->pid != 0;
}

bool cw_filter_match_addr(const struct cw_filter *f, const struct cw_sock *s)
{
	if (f->states && !(f->states & CW_STATE_BIT(s->state)))
		return false;
	if (f->port >= 0 && s->local.port != f->port && s->peer.port != f->port)
		return false;
	if (f->sport >= 0 && s->local.port != f->sport)
		return false;
	if (f->dport >= 0 && s->peer.port != f->dport)
		return false;
	if (f->has_peer) {
		if (memcmp(&f->peer.addr, &s->peer.addr, sizeof(f->peer.addr)))
			return false;
		if (f->peer.port && f->peer.port != s->peer.port)
			return false;
	}
	return true;
}

enum cw_match cw_filter_match(const struct cw_filter *f, const struct cw_census *c, size_t i,
			      const struct cw_age *age)
{
	const struct cw_sock *s = cw_census_sock(c, i);
	struct cw_age own;

	if (!cw_filter_match_addr(f, s))
		return CW_MATCH_NO;
	if (f->pid) {
		size_t n = cw_census_owner_count(c, i);
		bool hit = false;

		for (size_t k = 0; k < n && !hit; k++)
			hit = cw_census_owner(c, i, k)->pid == f->pid;
		if (!hit)
			return CW_MATCH_NO;
	}
	if (!f->older_ms)
		return CW_MATCH_YES;
	if (!age) {
		cw_sock_age(s, &own);
		age = &own;
	}
	/* Sockets of states with no age rule (established...) never match
	 * older_ms: nothing says how old they are. */
	if (!age->known || age->max_ms < f->older_ms)
		return CW_MATCH_NO;
	return age->min_ms >= f->older_ms ? CW_MATCH_YES : CW_MATCH_UNCERTAIN;
}
