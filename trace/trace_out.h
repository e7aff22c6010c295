/* closewait trace's output: JSON lines (one per leak, per changed group,
 * and a summary), or on a terminal the groups' headlines redrawn each
 * interval and a summary with the stacks at the end. */
#ifndef CW_TRACE_OUT_H
#define CW_TRACE_OUT_H

#include <stdint.h>

#include "trace.h"
#include "trace_leaks.h"

#define TRACE_JSON_VERSION 1

struct trace_out;
struct trace_out *trace_out_open(const struct trace_opts *o);
/* The programs are attached: every creation from now on is seen. */
void trace_out_started(struct trace_out *t, bool eof_times);
/* A leak just past --grace. */
void trace_out_leak(struct trace_out *t, const struct trace_leak *l);
/* The groups after a census: JSON lines for those that changed, or the
 * terminal redrawn. */
/* A reported leak is over (it left CLOSE_WAIT, or its owner exited) at
 * now_ms (CLOCK_REALTIME): JSON "leak_end" with owner_exited. */
void trace_out_leak_end(struct trace_out *t, const struct trace_leak *l, uint64_t now_ms);
void trace_out_groups(struct trace_out *t, struct trace_leaks *ls);
/* The counters of the eBPF side, for the summary. */
struct trace_counts {
	uint64_t inserted, deleted, live; /* records; dropped = inserted - deleted - live */
	uint64_t no_stack, refused;
	uint64_t entered, left;       /* traced processes' sockets into and out of CLOSE_WAIT */
	bool eof_times;               /* sock_recv_length ran */
};
void trace_out_summary(struct trace_out *t, const struct trace_leaks *ls, const struct trace_counts *k);
/* 0, or -errno of a failed write. */
int trace_out_close(struct trace_out *t);

#endif
