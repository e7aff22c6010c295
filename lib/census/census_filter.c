/* Selecting sockets: the filter vocabulary of scan and reap (ss's names). Pure. */
#include "closewait/census_filter.h"

#include <string.h>

#include "util.h"

bool cw_filter_needs_owners(const struct cw_filter *f)
{
	return f->pid || f->comm || f->unit || f->container || f->pod;
}

bool cw_container_prefix_ok(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n >= 12 && !s[n];
}

static bool str_is(const char *have, const char *want)
{
	return have && !strcmp(have, want);
}

static bool workload_match(const struct cw_filter *f, const struct cw_workload *w)
{
	if (!w)
		return false;
	if (f->unit && !str_is(w->systemd_unit, f->unit))
		return false;
	if (f->container && (!w->container_id ||
			     strncmp(w->container_id, f->container, strlen(f->container))))
		return false;
	return !f->pod || str_is(w->pod_uid, f->pod);
}

/* Any owner of socket i that is everything f asks of a holder; with no
 * owner, the socket's own cgroup for what that can answer. */
static bool holder_match(const struct cw_filter *f, const struct cw_census *c, size_t i)
{
	size_t n = cw_census_owner_count(c, i);

	for (size_t k = 0; k < n; k++) {
		const struct cw_owner *o = cw_census_owner(c, i, k);

		if (f->pid && o->pid != f->pid)
			continue;
		if (f->comm && strcmp(o->comm, f->comm))
			continue;
		if ((f->unit || f->container || f->pod) &&
		    !workload_match(f, cw_census_owner_workload(c, i, k)))
			continue;
		return true;
	}
	if (n || f->pid || f->comm)
		return false;
	return workload_match(f, cw_census_sock_workload(c, i));
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
	/* whys lies past the first version's fields: read it only from a
	 * filter whose size holds it. */
	if (f->size >= EXT_SIZE(struct cw_filter, whys) && f->whys &&
	    !(f->whys & CW_WHY_BIT(cw_sock_why(s))))
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
	if (cw_filter_needs_owners(f) && !holder_match(f, c, i))
		return CW_MATCH_NO;
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
