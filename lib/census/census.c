/* Taking a census: the sock_diag dumps, then (if asked) the /proc owners. */
#include "census_internal.h"
#include "census_lib.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "census_procfd.h"
#include "clock.h"
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

static int add_cb(const struct cw_sock *s, void *arg)
{
	return census_add(arg, s);
}

/* Owners arrive sorted by socket; comm[i] may repeat (it is copied per process). */
int census_set_owners(struct cw_census *c, const size_t *sock_idx, const pid_t *pid,
		      const int *fd, const char *const *comm, size_t n)
{
	c->has_owners = true;
	if (!n)
		return 0;
	c->spans = calloc(c->n, sizeof(*c->spans));
	c->owners = calloc(n, sizeof(*c->owners));
	c->comms = calloc(n, sizeof(*c->comms));
	if (!c->spans || !c->owners || !c->comms)
		return -ENOMEM;
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
	return 0;
}

static int attach_owners(struct cw_census *c, const struct procfd_result *r)
{
	size_t n = r->nhits;
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	pid_t *pid = malloc((n ? n : 1) * sizeof(*pid));
	int *fd = malloc((n ? n : 1) * sizeof(*fd));
	const char **comm = malloc((n ? n : 1) * sizeof(*comm));
	int err = -ENOMEM;

	if (!idx || !pid || !fd || !comm)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *cm = procfd_comm(r, r->hits[i].pid);

		idx[i] = r->hits[i].idx;
		pid[i] = r->hits[i].pid;
		fd[i] = r->hits[i].fd;
		comm[i] = cm ? cm : "?";
	}
	err = census_set_owners(c, idx, pid, fd, comm, n);
out:
	free(idx);
	free(pid);
	free(fd);
	free(comm);
	return err;
}

struct census_walk {
	struct procfd_walk *pw;
	struct census_walk_sink sink;
};

static void walk_hit(const struct procfd_hit *h, void *arg)
{
	struct census_walk *w = arg;

	if (w->sink.hit)
		w->sink.hit(h->idx, h->pid, h->fd, w->sink.arg);
}

static void walk_done(void *arg)
{
	struct census_walk *w = arg;

	if (w->sink.done)
		w->sink.done(w->sink.arg);
}

int census_walk_start(struct cw_census *c, const struct census_walk_opts *o,
		      struct census_walk **out)
{
	struct census_walk *w = calloc(1, sizeof(*w));
	uint32_t *inodes = calloc(c->n ? c->n : 1, sizeof(*inodes));
	struct procfd_spec spec = { .root = "/proc", .inodes = inodes, .n = c->n,
				    .threads = o->threads, .stop_early = !o->all_owners,
				    .only = o->only ? &o->only : NULL, .nonly = o->only ? 1 : 0 };
	struct procfd_sink sink = { walk_hit, walk_done, w };
	int err = -ENOMEM;

	if (!w || !inodes)
		goto fail;
	for (size_t i = 0; i < c->n; i++)
		if (!o->want || o->want(i, o->want_arg))
			inodes[i] = c->socks[i].inode;
	if (!spec.threads) {
		/* Two readers keep both cores of a small host busy; /proc lookups of
		 * different processes do not contend. More gains little. */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		spec.threads = cpus >= 2 ? 2 : 1;
	}
	w->sink = o->sink;
	err = procfd_start(&spec, &sink, &w->pw);
	if (err)
		goto fail;
	free(inodes);
	*out = w;
	return 0;
fail:
	free(inodes);
	free(w);
	return err;
}

int census_walk_finish(struct cw_census *c, struct census_walk *w)
{
	struct procfd_result r;
	int err = procfd_finish(w->pw, &r);

	free(w);
	if (err)
		return err;
	c->partial = r.partial;
	c->unreadable = r.unreadable;
	err = attach_owners(c, &r);
	procfd_result_free(&r);
	return err;
}

/* cw_census_opts.want, asked by socket index. */
struct want_sock {
	const struct cw_census *c;
	const struct cw_census_opts *o;
};

static bool want_sock(size_t i, void *arg)
{
	const struct want_sock *ws = arg;

	return ws->o->want(&ws->c->socks[i], ws->o->want_arg);
}

static int take_owners(struct cw_census *c, const struct cw_census_opts *o)
{
	struct want_sock ws = { c, o };
	struct census_walk_opts wo = { .want = o->want ? want_sock : NULL, .want_arg = &ws,
				       .threads = o->threads, .all_owners = o->all_owners };
	struct census_walk *w;
	int err = census_walk_start(c, &wo, &w);

	return err ? err : census_walk_finish(c, w);
}

int cw_census_take(const struct cw_census_opts *opts, struct cw_census **out)
{
	struct cw_census_opts o;
	struct cw_filter ports;
	struct cw_census *c;
	int err = 0;

	cw_census_opts_init(&o);
	if (opts)
		err = census_opts_read(opts, &o);
	if (!err && o.ports)
		err = census_filter_read(o.ports, &ports);
	if (err)
		return err;
	if (o.ports)
		o.ports = &ports;
	err = census_new(clock_ms(CLOCK_REALTIME), clock_ms(CLOCK_MONOTONIC), &c);
	if (err)
		return err;
	err = netlink_dump_tcp(AF_INET, o.states, o.ports, add_cb, c);
	if (!err)
		err = netlink_dump_tcp(AF_INET6, o.states, o.ports, add_cb, c);
	c->mono_end_ms = clock_ms(CLOCK_MONOTONIC);
	if (!err && o.owners)
		err = take_owners(c, &o);
	if (err) {
		cw_census_free(c);
		return err;
	}
	*out = c;
	return 0;
}

void cw_census_free(struct cw_census *c)
{
	if (!c)
		return;
	free(c->socks);
	free(c->spans);
	free(c->owners);
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
		return CW_ORPHAN;
	return cw_census_owner_count(c, i) ? CW_OWNED : CW_UNKNOWN;
}
