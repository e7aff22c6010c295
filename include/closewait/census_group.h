/* Summaries of a census: pairing (both ends of a connection on this host)
 * and grouping by process, peer address or local port. Pure: no I/O.
 *
 *	size_t *peer = malloc(cw_census_count(c) * sizeof(*peer));
 *	struct cw_grouping *g;
 *
 *	if (peer && cw_census_pair(c, peer) == 0 &&
 *	    cw_census_group(c, NULL, peer, CW_BY_PROCESS, &g) == 0) {
 *		for (size_t i = 0; i < cw_grouping_count(g); i++)
 *			printf("%d %zu\n", (int)cw_grouping_at(g, i)->pid,
 *			       cw_grouping_at(g, i)->count[CW_TCP_CLOSE_WAIT]);
 *		cw_grouping_free(g);
 *	}
 *	free(peer);
 */
#ifndef CLOSEWAIT_CENSUS_GROUP_H
#define CLOSEWAIT_CENSUS_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"

#pragma GCC visibility push(default)

/* Pairing. A local CLOSE_WAIT socket whose other end is a local FIN_WAIT_2
 * socket is the signature of a leak: that side closed, this one never did. */
#define CW_NO_PEER SIZE_MAX
/* peer (cw_census_count entries, allocated by the caller): peer[i] = index
 * of the other end of CLOSE_WAIT or FIN_WAIT_2 socket i, or CW_NO_PEER.
 * 0 or -ENOMEM. */
int cw_census_pair(const struct cw_census *c, size_t *peer);

/* Grouping. */
enum cw_group_by {
	CW_BY_PROCESS, CW_BY_PEER, CW_BY_LOCAL_PORT,
	CW_BY_AUTO,                   /* the systemd unit, else the container, else the command */
	CW_BY_UNIT, CW_BY_CONTAINER, CW_BY_POD, CW_BY_NETNS
};
/* What keys a CW_BY_AUTO group. */
enum cw_group_auto { CW_AUTO_NONE, CW_AUTO_UNIT, CW_AUTO_CONTAINER, CW_AUTO_COMMAND };
/* One group. The library allocates it; it may gain fields at the end; do
 * not allocate, copy or index it. */
struct cw_group {
	enum cw_owner_kind kind;      /* CW_BY_PROCESS: owned, orphaned or unknown */
	pid_t pid;                    /* CW_BY_PROCESS, CW_OWNED: the first owner */
	const char *comm;             /* ...its command name (owned by the census) */
	struct cw_endpoint key;       /* CW_BY_PEER: address (port 0); CW_BY_LOCAL_PORT: port */
	size_t total;                 /* sockets in the group */
	size_t count[16];             /* of which in each state (by enum cw_tcp_state) */
	uint64_t recv_q;              /* sum of Recv-Q */
	struct cw_age cw_oldest;      /* oldest CLOSE_WAIT (largest age_min) */
	/* Pairing: CLOSE_WAIT sockets whose other end is a local FIN_WAIT_2, of
	 * which orphaned (no process holds that end) or half-closed (held). */
	size_t peers_closed, peers_orphaned, peers_half_closed;
	pid_t peer_pid;               /* one owner of a half-closed other end (0: none) */
	const char *peer_comm;
	/* CW_BY_UNIT, _CONTAINER, _POD, _AUTO: the workload of the group's first
	 * socket (cw_census_sock_workload; NULL: none known), whose unit,
	 * container or pod is the group's key (NULL there: the sockets without). */
	const struct cw_workload *workload;
	enum cw_group_auto auto_key;  /* CW_BY_AUTO: which of unit, container, command keys it */
	const struct cw_netns *netns; /* CW_BY_NETNS: the namespace */
	/* Its CLOSE_WAIT sockets by why they are open (cw_sock_why), indexed by
	 * enum cw_why; why[CW_WHY_NONE] stays 0. */
	size_t why[4];
};
struct cw_grouping;
/* Groups the sockets with sel[i] true (sel NULL: all), sorted by CLOSE_WAIT
 * count, then total. peer is from cw_census_pair (NULL: no pairing). The
 * command names point into c: read the groups while c lives. 0 or -ENOMEM. */
int cw_census_group(const struct cw_census *c, const bool *sel, const size_t *peer,
		    enum cw_group_by by, struct cw_grouping **out);
/* Frees the grouping (NULL: nothing). */
void cw_grouping_free(struct cw_grouping *g);
/* The number of groups, and group i (i from 0 to count - 1). */
size_t cw_grouping_count(const struct cw_grouping *g);
const struct cw_group *cw_grouping_at(const struct cw_grouping *g, size_t i);

#pragma GCC visibility pop
#endif
