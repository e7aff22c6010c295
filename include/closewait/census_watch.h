/* Watching CLOSE_WAIT across successive censuses: per process, the count,
 * its growth, the oldest socket and a verdict. Pure: the caller takes the
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

#pragma GCC visibility push(default)

enum cw_verdict {
	CW_VERDICT_OK,                /* none, or only young ones that go away */
	CW_VERDICT_STUCK,             /* not growing, but some older than stuck_ms */
	CW_VERDICT_LEAKING            /* growing, and new ones outlive a census */
};
/* "ok", "stuck", "leaking" (static); "?" for a number that is
 * no verdict. */
const char *cw_verdict_name(enum cw_verdict v);

/* One process's CLOSE_WAIT sockets. The library allocates it; it may gain
 * fields at the end; do not allocate, copy or index it. */
struct cw_watch_row {
	pid_t pid;                    /* 0: sockets with no known owner */
	char comm[16];                /* its command name */
	size_t close_wait;            /* in the last census */
	double growth_per_min;        /* over the window */
	struct cw_age oldest;         /* narrowed by what the earlier censuses saw */
	enum cw_verdict verdict;
};
struct cw_watch;
/* window_ms: the span growth is measured over; stuck_ms: the age that makes
 * a socket stuck. 0 or -ENOMEM. */
int cw_watch_new(uint64_t window_ms, uint64_t stuck_ms, struct cw_watch **out);
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
