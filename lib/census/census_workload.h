/* The workloads of a census (private; census_workload.c). */
#ifndef CW_CENSUS_WORKLOAD_H
#define CW_CENSUS_WORKLOAD_H

#include <stddef.h>

#include "census_procfd.h"

struct cw_census;

/* One workload per owner process with a known cgroup (procs sorted by
 * pid, as procfd gives them). 0 or -ENOMEM. */
int census_workloads_owners(struct cw_census *c, const struct procfd_proc *procs, size_t n);
/* One per cgroup id of the sockets no process holds, resolved by one walk
 * of the cgroup2 mount (none when no such socket has one). 0 or -ENOMEM. */
int census_workloads_sockets(struct cw_census *c);

#endif
