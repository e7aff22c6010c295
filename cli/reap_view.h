/* reap's output: the sockets (plan or results) described once as columns
 * for out.c's table and JSON, the human reasons, and the summary. */
#ifndef CW_REAP_VIEW_H
#define CW_REAP_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "closewait/reap.h"
#include "out.h"

struct reap_view {
	const struct cw_reap *r;
	uint64_t wait_ms;             /* --wait */
	uint64_t older_ms;            /* --older (0: none) */
	bool dry_run;
	bool acted;                   /* cw_reap_run was called */
	const char *not_acted;        /* why not, when !acted and something was to do */
	size_t todo;                  /* sockets that were to be acted on */
};

/* The sockets, as a table: before acting ("to-reap"), or the results. */
void reap_print_table(struct out *o, const struct reap_view *v);
/* The summary lines under the table (also the JSON "message"). */
void reap_print_summary(struct out *o, const struct reap_view *v);
/* One JSON document: counts, sockets, owners whose fds stay open, message. */
void reap_print_json(struct out *o, const struct reap_view *v);
/* Why ptrace access to pid is refused, in words naming the right missing. */
void reap_ptrace_text(const struct cw_ptrace_denial *d, pid_t pid, char *buf, size_t len);

#endif
