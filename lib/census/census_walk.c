/* The owners of a census's sockets: the /proc walk (census_procfd.c) run
 * for the sockets and listeners of a census, attached to it. */
#include "census_internal.h"
#include "census_lib.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "census_procfd.h"
#include "census_workload.h"
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
	struct procfd_walk *pw;       /* NULL: the owners came from a source, in given */
	struct procfd_result given;
	struct census_walk_sink sink;
	size_t n;                     /* sockets; hits past them are listeners */
};

static void walk_hit(const struct procfd_hit *h, void *arg)
{
	struct census_walk *w = arg;

	if (w->sink.hit && h->idx < w->n)
		w->sink.hit(h->idx, h->pid, h->fd, w->sink.arg);
}

static void walk_done(void *arg)
{
	struct census_walk *w = arg;

	if (w->sink.done)
		w->sink.done(w->sink.arg);
}

/* The owners from o's source: 0 (in r), 1 when there is none or it failed
 * (then walk), or -ENOMEM. */
static int given_owners(const struct census_walk_opts *o, const struct procfd_spec *spec,
			const struct procfd_sink *sink, struct procfd_result *r)
{
	const struct cw_fd_socket *v = NULL;
	size_t n = 0;

	if (!o->fd_sockets || o->fd_sockets(o->fd_sockets_arg, &v, &n))
		return 1;
	return procfd_given(spec, v, n, sink, r);
}

int census_walk_start(struct cw_census *c, const struct census_walk_opts *o,
		      struct census_walk **out)
{
	size_t total = c->n + c->nl;
	struct census_walk *w = calloc(1, sizeof(*w));
	uint32_t *inodes = calloc(total ? total : 1, sizeof(*inodes));
	struct procfd_spec spec = { .root = "/proc", .inodes = inodes, .n = total,
				    .threads = o->threads, .stop_early = !o->all_owners,
				    .only = o->only ? &o->only : NULL, .nonly = o->only ? 1 : 0 };
	struct procfd_sink sink = { walk_hit, walk_done, w };
	bool unaccepted = false;
	int err = -ENOMEM;

	if (!w || !inodes)
		goto fail;
	for (size_t i = 0; i < c->n; i++) {
		if (o->want && !o->want(i, o->want_arg))
			continue;
		inodes[i] = c->socks[i].inode;
		unaccepted |= !c->socks[i].inode && census_state_unaccepted(c->socks[i].state);
	}
	/* An unaccepted socket's owners are its listener's: look those up only
	 * when there is one. The sink is told of socket hits only. */
	for (size_t j = 0; unaccepted && j < c->nl; j++)
		inodes[c->n + j] = c->listeners[j].inode;
	if (!spec.threads) {
		/* Two readers keep both cores of a small host busy; /proc lookups of
		 * different processes do not contend. More gains little. */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		spec.threads = cpus >= 2 ? 2 : 1;
	}
	w->sink = o->sink;
	w->n = c->n;
	err = given_owners(o, &spec, &sink, &w->given);
	if (err == 1)
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
	struct procfd_result r = w->given;
	int err = w->pw ? procfd_finish(w->pw, &r) : 0;

	free(w);
	if (err)
		return err;
	c->partial = r.partial;
	c->unreadable = r.unreadable;
	err = attach_owners(c, &r);
	if (!err)
		err = census_workloads_owners(c, r.procs, r.nprocs);
	if (!err)
		err = census_workloads_sockets(c);
	procfd_result_free(&r);
	return err;
}

