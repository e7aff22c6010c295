/* The census object: its sockets, listeners, owners, namespaces and
 * workloads, and what the public API reads of them. Taking one:
 * census_take.c; the /proc walk: census_walk.c. */
#include "census_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int census_new(uint64_t time_ms, uint64_t mono_ms, struct cw_census **out)
{
	struct cw_census *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->time_ms = time_ms;
	c->mono_ms = c->mono_end_ms = mono_ms;
	*out = c;
	return 0;
}

int census_add(struct cw_census *c, const struct cw_sock *s)
{
	struct cw_sock *v = vec_room(c->socks, c->n, &c->cap, sizeof(*v), 1024);

	if (!v)
		return -ENOMEM;
	c->socks = v;
	c->socks[c->n++] = *s;
	return 0;
}

int census_add_listener(struct cw_census *c, const struct cw_sock *s)
{
	struct cw_sock *v = vec_room(c->listeners, c->nl, &c->lcap, sizeof(*v), 64);

	if (!v)
		return -ENOMEM;
	c->listeners = v;
	c->listeners[c->nl++] = *s;
	return 0;
}

/* Owners arrive sorted by socket; comm[i] may repeat (it is copied per process). */
int census_set_owners(struct cw_census *c, const size_t *sock_idx, const pid_t *pid,
		      const int *fd, const char *const *comm, size_t n)
{
	c->has_owners = true;
	if (n) {
		c->spans = calloc(c->n + c->nl, sizeof(*c->spans));
		c->owners = calloc(n, sizeof(*c->owners));
		c->comms = calloc(n, sizeof(*c->comms));
		if (!c->spans || !c->owners || !c->comms)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct owner_span *sp = &c->spans[sock_idx[i]];

		if (!c->ncomms || strcmp(c->comms[c->ncomms - 1], comm[i]))
			strncpy(c->comms[c->ncomms++], comm[i], sizeof(c->comms[0]) - 1);
		c->owners[i] = (struct cw_owner){ pid[i], fd[i], c->comms[c->ncomms - 1] };
		if (!sp->n)
			sp->first = (uint32_t)i;
		sp->n++;
	}
	c->nowners = n;
	return census_link_unaccepted(c);
}

static void wl_free(struct census_wl *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].buf);
	free(v);
}

void cw_census_free(struct cw_census *c)
{
	if (!c)
		return;
	for (size_t j = 0; j < c->nns; j++) {
		if (c->ns[j].fd >= 0)
			close(c->ns[j].fd);
		free(c->ns[j].name);
		free(c->ns[j].path);
	}
	free(c->ns);
	wl_free(c->procs, c->nprocs);
	wl_free(c->cgroups, c->ncgroups);
	free(c->socks);
	free(c->listeners);
	free(c->spans);
	free(c->owners);
	free(c->lspan);
	free(c->lidx);
	free(c->comms);
	free(c);
}

size_t cw_census_count(const struct cw_census *c) { return c->n; }
const struct cw_sock *cw_census_sock(const struct cw_census *c, size_t i) { return &c->socks[i]; }
uint64_t cw_census_time_ms(const struct cw_census *c) { return c->time_ms; }
uint64_t cw_census_mono_ms(const struct cw_census *c) { return c->mono_ms; }
uint64_t cw_census_mono_end_ms(const struct cw_census *c) { return c->mono_end_ms; }
bool cw_census_has_owners(const struct cw_census *c) { return c->has_owners; }
bool cw_census_owners_partial(const struct cw_census *c) { return c->partial; }
unsigned cw_census_unreadable(const struct cw_census *c) { return c->unreadable; }
bool cw_census_owners_hidden(const struct cw_census *c) { return c->owners_hidden; }
size_t cw_census_netns_count(const struct cw_census *c) { return c->nns; }
const struct cw_netns *cw_census_netns(const struct cw_census *c, size_t j) { return &c->ns[j].pub; }
unsigned cw_census_netns_unreadable(const struct cw_census *c) { return c->ns_unreadable; }

size_t cw_census_owner_count(const struct cw_census *c, size_t i)
{
	return c->spans ? c->spans[i].n : 0;
}

const struct cw_owner *cw_census_owner(const struct cw_census *c, size_t i, size_t k)
{
	return &c->owners[c->spans[i].first + k];
}

enum cw_owner_kind cw_census_owner_kind(const struct cw_census *c, size_t i)
{
	if (!c->socks[i].inode)
		return census_state_unaccepted(c->socks[i].state) ? CW_UNACCEPTED : CW_ORPHAN;
	return cw_census_owner_count(c, i) ? CW_OWNED : CW_UNKNOWN;
}

enum cw_why cw_census_why(const struct cw_census *c, size_t i)
{
	return cw_sock_why(&c->socks[i]);
}

size_t cw_census_listener_count(const struct cw_census *c, size_t i)
{
	return c->lspan ? c->lspan[i].n : 0;
}

const struct cw_sock *cw_census_listener(const struct cw_census *c, size_t i, size_t k)
{
	return &c->listeners[c->lidx[c->lspan[i].first + k]];
}

static int ns_cmp(const void *key, const void *elem)
{
	uint64_t ino = *(const uint64_t *)key;
	const struct census_ns *ns = elem;

	return ino < ns->pub.inode ? -1 : ino > ns->pub.inode;
}

/* A socket dumped in a namespace the census does not list cannot be: every
 * dump is made in one of them. A fixture may leave the table empty. */
const struct cw_netns *cw_census_sock_netns(const struct cw_census *c, size_t i)
{
	static const struct cw_netns none = { 0, NULL, CW_NETNS_CURRENT, 0, NULL, 0 };
	const struct census_ns *ns = c->nns ? bsearch(&c->socks[i].netns, c->ns, c->nns, sizeof(*c->ns),
						      ns_cmp) : NULL;

	return ns ? &ns->pub : &none;
}

const char *cw_netns_how_name(enum cw_netns_how how)
{
	static const char *const names[] = { "current", "given", "process", "thread", "mount", "fd" };

	return (unsigned)how < sizeof(names) / sizeof(names[0]) ? names[how] : "?";
}

static int wl_cmp(const void *key, const void *elem)
{
	uint64_t k = *(const uint64_t *)key;
	const struct census_wl *w = elem;

	return k < w->key ? -1 : k > w->key;
}

static const struct cw_workload *wl_find(const struct census_wl *v, size_t n, uint64_t key)
{
	const struct census_wl *w = n ? bsearch(&key, v, n, sizeof(*v), wl_cmp) : NULL;

	return w ? &w->pub : NULL;
}

const struct cw_workload *cw_census_owner_workload(const struct cw_census *c, size_t i, size_t k)
{
	return wl_find(c->procs, c->nprocs, (uint64_t)cw_census_owner(c, i, k)->pid);
}

const struct cw_workload *cw_census_sock_workload(const struct cw_census *c, size_t i)
{
	if (cw_census_owner_count(c, i))
		return cw_census_owner_workload(c, i, 0);
	return c->socks[i].cgroup_id ? wl_find(c->cgroups, c->ncgroups, c->socks[i].cgroup_id) : NULL;
}
