/* The census object (private): lets tests build one from a fixture. */
#ifndef CW_CENSUS_INTERNAL_H
#define CW_CENSUS_INTERNAL_H

#include "closewait/census.h"
#include "census_procfd.h"

struct cw_census {
	struct cw_sock *socks;
	size_t n, cap;
	struct cw_owner *owners;      /* socks[i].owner_first .. + nowners */
	size_t nowners;
	char (*comms)[16];            /* storage the owners' comm point into */
	size_t ncomms;
	uint64_t time_ms, mono_ms, mono_end_ms;
	bool has_owners, partial;
	unsigned unreadable;
};

/* An empty census stamped with these times. */
int census_new(uint64_t time_ms, uint64_t mono_ms, struct cw_census **out);
/* Appends a socket (owner fields ignored). */
int census_add(struct cw_census *c, const struct cw_sock *s);
/* Attaches owners: owner i holds socket sock_idx[i]; comm copied. Call once,
 * with sock_idx sorted. */
int census_set_owners(struct cw_census *c, const size_t *sock_idx, const pid_t *pid,
		      const int *fd, const char *const *comm, size_t n);

/* The /proc walk of cw_census_take, in two halves, for a caller that acts on
 * owners while the walk goes on (reap): start walks in the background (only:
 * just those pids, NULL = all; sink: told of each owner as found), finish
 * waits for it and attaches the owners to c. */
int census_owners_start(struct cw_census *c, const struct cw_census_opts *o, const pid_t *only,
			size_t nonly, const struct procfd_sink *sink, struct procfd_walk **w);
int census_owners_finish(struct cw_census *c, struct procfd_walk *w);

#endif
