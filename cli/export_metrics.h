/* closewait export's metrics: a census (and the port reports of its
 * namespaces) in the Prometheus text exposition format. Apart from
 * cmd_export.c (HTTP, the textfile, the cache) so tests can render
 * fixtures. */
#ifndef CW_EXPORT_METRICS_H
#define CW_EXPORT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "closewait/census_filter.h"
#include "closewait/census_group.h"
#include "closewait/census_ports.h"
#include "pin_ages.h"

/* A process's fds: how many are open, and its soft RLIMIT_NOFILE. */
struct export_fds {
	long open, max;               /* -1: unknown (the process could not be read) */
};
/* Reads them for pid (export_fds_read reads /proc; tests give their own). */
typedef void (*export_fds_fn)(pid_t pid, struct export_fds *out, void *arg);
/* From /proc/PID/fd (one getdents pass) and /proc/PID/limits; arg unused. */
void export_fds_read(pid_t pid, struct export_fds *out, void *arg);

/* One namespace's port report (NULL report: none). */
struct export_ports {
	uint64_t netns;
	const struct cw_port_sys *sys;
	const struct cw_ports_report *report;
};

struct export_opts {
	enum cw_group_by by;          /* CW_BY_AUTO, _UNIT, _CONTAINER, _POD or _PROCESS */
	size_t top;                   /* groups (and destinations) named; the rest summed */
	const struct cw_filter *f;    /* which CLOSE_WAIT sockets count (NULL: all) */
	bool per_netns;               /* several namespaces: closewait_sockets per namespace */
	const struct export_ports *ports;
	size_t nports;
	export_fds_fn fds;
	void *fds_arg;
	bool openmetrics;             /* OpenMetrics 1.0 text (counters' families without
				       * _total, # EOF at the end) rather than Prometheus 0.0.4 */
	/* closewait trace --pin's per-process counters (pin_counts), any
	 * order; has_counts false: no trace instance's were readable, and the
	 * two counter families are left out. */
	bool has_counts;
	const struct pin_count *counts;
	size_t ncounts;
};

/* The exporter's own figures. */
struct export_self {
	bool up;                      /* the census succeeded */
	double scrape_s;              /* how long taking it took */
	uint64_t errors_census, errors_ports; /* census failures so far, by kind */
};

/* Writes every series of census c (NULL when it failed: only the
 * exporter's own) to out. 0 or -ENOMEM. */
int export_render(FILE *out, const struct cw_census *c, const struct export_opts *o,
		  const struct export_self *self);

#endif
