/* Watching CLOSE_WAIT across successive censuses: per process (or per
 * unit, container, pod, namespace...), the count, its growth, the oldest
 * socket and a verdict. Pure: the caller takes the
 * censuses; their monotonic times are the only clock used.
 *
 *	struct cw_watch *w;
 *
 *	if (cw_watch_new(60000, 60000, &w) != 0) // growth over 1 min; stuck after 1 min
 *		return -ENOMEM;
 *	for (;;) {
 *		// take census c (CLOSE_WAIT, with owners), then:
 *		if (cw_watch_update(w, c) == 0)
 *			for (size_t i = 0; i < cw_watch_count(w); i++)
 *				printf("%d %s\n", (int)cw_watch_row(w, i)->pid,
 *				       cw_verdict_name(cw_watch_row(w, i)->verdict));
 *		cw_census_free(c);
 *		sleep(2);
 *	}
 */
#ifndef CLOSEWAIT_CENSUS_WATCH_H
#define CLOSEWAIT_CENSUS_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"
#include "closewait/census_filter.h"
#include "closewait/census_group.h"

#pragma GCC visibility push(default)

enum cw_verdict {
	CW_VERDICT_OK,                /* none, or only young ones that go away */
	CW_VERDICT_STUCK,             /* not growing, but some older than stuck_ms */
	CW_VERDICT_LEAKING            /* growing, and new ones outlive a census */
};
/* "ok", "stuck", "leaking" (static); "?" for a number that is
 * no verdict. */
const char *cw_verdict_name(enum cw_verdict v);

/* One group's CLOSE_WAIT sockets (a process's unless cw_watch_set_by said
 * otherwise). The library allocates it; it may gain fields at the end; do
 * not allocate, copy or index it. */
struct cw_watch_row {
	pid_t pid;                    /* by process: 0 for sockets with no known owner */
	char comm[16];                /* by process: its command name */
	size_t close_wait;            /* in the last census */
	double growth_per_min;        /* over the window */
	struct cw_age oldest;         /* narrowed by what the earlier censuses saw */
	enum cw_verdict verdict;
	/* Other groupings: the group's name (the unit, the container id, the pod
	 * uid, the namespace's name or inode, the peer address, the local port;
	 * by auto, the unit, container id or command), "" for the sockets that
	 * have none; extra: the container's runtime, the pod's QoS class. */
	char name[256];
	char extra[16];
	enum cw_group_auto auto_key;  /* by auto: which of unit, container, command names it */
	uint64_t netns;               /* by netns: the namespace's inode */
	uint64_t key;                 /* the group's identity across updates (0: the sockets
				       * with no group) */
};
struct cw_watch;
/* window_ms: the span growth is measured over; stuck_ms: the age that makes
 * a socket stuck. 0 or -ENOMEM. */
int cw_watch_new(uint64_t window_ms, uint64_t stuck_ms, struct cw_watch **out);
/* Groups the rows by by (cw_census_group's keys) from the next update on;
 * the history of counts restarts. 0, or -EINVAL for a grouping unknown. */
int cw_watch_set_by(struct cw_watch *w, enum cw_group_by by);
/* Counts only the sockets f selects (f NULL: all), from the next update
 * on; f is copied, its strings must outlive the watch. 0 or -EINVAL. */
int cw_watch_set_filter(struct cw_watch *w, const struct cw_filter *f);
/* Row i's count in each census of the window, oldest first, into counts
 * (at most max); returns how many were written. Cannot fail. */
size_t cw_watch_history(const struct cw_watch *w, size_t i, size_t *counts, size_t max);
/* Frees the watch and its rows (NULL: nothing). */
void cw_watch_free(struct cw_watch *w);
/* Feeds a census (its CLOSE_WAIT sockets); then the rows are those of it,
 * sorted by verdict then count, valid until the next update. 0 or -ENOMEM. */
int cw_watch_update(struct cw_watch *w, const struct cw_census *c);
/* The number of rows, and row i (i from 0 to count - 1). */
size_t cw_watch_count(const struct cw_watch *w);
const struct cw_watch_row *cw_watch_row(const struct cw_watch *w, size_t i);
/* Fills *age with the age of CLOSE_WAIT socket i of the last census c,
 * narrowed by the earlier ones (known false: not seen). Cannot fail. */
void cw_watch_age(const struct cw_watch *w, const struct cw_census *c, size_t i, struct cw_age *age);

#pragma GCC visibility pop
#endif
