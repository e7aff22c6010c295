/* The census object (private to the census, and to tests that build one
 * from a fixture). */
#ifndef CW_CENSUS_INTERNAL_H
#define CW_CENSUS_INTERNAL_H

#include "closewait/census.h"

/* Socket i's owners: owners[first .. first + n). */
struct owner_span {
	uint32_t first, n;
};

struct cw_census {
	struct cw_sock *socks;
	size_t n, cap;
	struct owner_span *spans;     /* per socket; NULL until owners are attached */
	struct cw_owner *owners;      /* sorted by socket */
	size_t nowners;
	char (*comms)[16];            /* storage the owners' comm point into */
	size_t ncomms;
	uint64_t time_ms, mono_ms, mono_end_ms;
	bool has_owners, partial;
	unsigned unreadable;
};

/* An empty census stamped with these times. 0 or -ENOMEM. */
int census_new(uint64_t time_ms, uint64_t mono_ms, struct cw_census **out);
/* Appends a socket. 0 or -ENOMEM. */
int census_add(struct cw_census *c, const struct cw_sock *s);
/* Attaches owners: owner i holds socket sock_idx[i]; comm copied. Call once,
 * with sock_idx sorted. 0 or -ENOMEM. */
int census_set_owners(struct cw_census *c, const size_t *sock_idx, const pid_t *pid,
		      const int *fd, const char *const *comm, size_t n);

#endif
