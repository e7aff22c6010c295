/* closewait trace: what the command line hands the tracer. Built only with
 * the eBPF toolchain (CW_HAVE_TRACE); cli/cmd_trace.c parses the options. */
#ifndef CW_TRACE_H
#define CW_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"
#include "closewait/census_filter.h"

struct cw_census;
struct trace_opts {
	/* The selection, as scan's: --pid, --comm, --unit, --container, --pod
	 * (the filter; pid and comm are applied in the kernel too) and --net,
	 * --all-netns (netns_sel, netns, netns_pid: the namespaces each census
	 * reads, as selection_census sets them). */
	const struct cw_filter *filter;
	enum cw_netns_sel netns_sel;
	const char *netns;
	pid_t netns_pid;
	uint64_t grace_ms;            /* --grace: in CLOSE_WAIT this long before it is reported */
	uint64_t interval_ms;         /* --interval: between censuses */
	uint64_t duration_ms;         /* --duration; 0: until SIGINT or SIGTERM */
	bool json;                    /* JSON lines (--json, or stdout is not a terminal) */
	bool no_recv_length;          /* --no-eof-times: EOF times off */
	const char *pin;              /* --pin: the directory its records are pinned in; NULL: none */
	/* Called once, the first time a census has processes whose fds could
	 * not be read (their sockets have no owner, so their leaks are not
	 * reported): says so, naming what closewait lacks. NULL: nothing. */
	void (*on_unreadable)(const struct cw_census *c);
};

/* Runs until the duration ends or a signal; the exit status: 0, 1 on a
 * failure, 2 when a privilege is missing (messages on stderr). */
int trace_run(const struct trace_opts *o);

#endif
