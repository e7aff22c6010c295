/* What `closewait scan` computes from a census and how it shows it. Apart
 * from cmd_scan.c (options, taking the census) so tests can render fixtures. */
#ifndef CW_SCAN_VIEW_H
#define CW_SCAN_VIEW_H

#include "closewait/census_filter.h"
#include "closewait/census_group.h"
#include "out.h"

/* Unaccepted CLOSE_WAIT sockets of one listener: a program not accepting. */
struct scan_backlog {
	const struct cw_sock *listener;
	size_t sample;                /* census index of one of them: its owners are the listener's */
	size_t close_wait;
};

struct scan_result {
	const struct cw_census *c;
	enum cw_group_by by;
	bool state_given;             /* --state: list every selected socket, not only CLOSE_WAIT */
	bool older_given;
	size_t *peer;                 /* cw_census_pair */
	bool *sel;                    /* selected (matched or uncertain) */
	bool *uncertain;              /* --older: age range contains the limit */
	size_t *idx;                  /* selected sockets, census order */
	size_t nidx;
	struct cw_grouping *groups;   /* by `by` */
	struct cw_grouping *procs;    /* by process, for the culprit lines */
	size_t close_wait;            /* selected CLOSE_WAIT sockets: exit status 1 if any */
	size_t uncertain_n;
	bool any_workload;            /* some selected socket's unit, container or pod is known */
	enum cw_netns_sel netns_sel;  /* the caller's: namespaces are shown beyond the current one */
	struct scan_backlog *backlogs;
	size_t nbacklogs;
};

int scan_compute(const struct cw_census *c, const struct cw_filter *f, enum cw_group_by by,
		 bool state_given, struct scan_result *r);
void scan_result_free(struct scan_result *r);
void scan_print_table(struct out *o, struct scan_result *r);
/* Namespaces that could not be read, links that could not be looked at,
 * owners out of sight: a line each (tables). */
void scan_print_netns_notes(struct out *o, const struct cw_census *c);
/* netns_selection, namespaces[], netns_unreadable, owners_hidden (JSON). */
void scan_print_netns_json(struct out *o, const struct cw_census *c, enum cw_netns_sel sel);
void scan_print_json(struct out *o, struct scan_result *r);
/* The summary per group (scan_groups.c): a table, or the "groups" member. */
void scan_print_groups(struct out *o, struct scan_result *r, bool json);
/* "pid 2595 (python3) is not accepting: 5 connections in the accept queue
 * of 127.0.0.1:8500 are in CLOSE_WAIT" */
void scan_backlog_line(const struct scan_result *r, const struct scan_backlog *b, char *buf,
		       size_t len);
/* "pid 6979 (server) has not closed 3 connections that their peers on this host closed (...)" */
void scan_culprit_line(const struct cw_group *g, char *buf, size_t len);
/* "pid 7518 (srv) read EOF on 3 connections and never closed them (...)"
 * (CW_WHY_EOF_READ), "pid 7518 (srv) never read 2 connections to their end
 * after the peer closed (...)" (CW_WHY_NEVER_READ): g->why[why] of them. */
void scan_why_line(const struct cw_group *g, enum cw_why why, char *buf, size_t len);
/* The table's culprit lines, per process: whether its peers on this host
 * closed, then one line per why; a blank line first. true if any. */
bool scan_print_culprit_lines(struct out *o, const struct scan_result *r);
/* The same why lines as JSON: the why_culprits member. */
void scan_print_why_culprits(struct out *o, const struct scan_result *r);

#endif
