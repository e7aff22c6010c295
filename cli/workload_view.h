/* Where a socket's holder lives (its network namespace, systemd unit,
 * container, pod) as columns any view can show: scan's sockets, owners and
 * groups, watch's rows. */
#ifndef CW_WORKLOAD_VIEW_H
#define CW_WORKLOAD_VIEW_H

#include <stddef.h>

#include "closewait/census.h"
#include "out.h"

/* A view whose context struct begins with this can use the columns below:
 * get returns the workload of a row (NULL: unknown). */
struct wl_source {
	const struct cw_workload *(*get)(void *ctx, size_t row);
};

/* The six JSON members of a workload (cgroup, systemd_unit,
 * container_runtime, container_id, pod_uid, pod_qos; null when unknown), as
 * column initialisers. wl_str's arg: offsetof a string of the workload. */
void wl_str(void *ctx, size_t row, struct out_val *v);
#define WL_COLS                                                                               \
	{ "cgroup", NULL, false, wl_str, offsetof(struct cw_workload, cgroup) },                  \
	{ "systemd_unit", NULL, false, wl_str, offsetof(struct cw_workload, systemd_unit) },      \
	{ "container_runtime", NULL, false, wl_str, offsetof(struct cw_workload, container_runtime) }, \
	{ "container_id", NULL, false, wl_str, offsetof(struct cw_workload, container_id) },      \
	{ "pod_uid", NULL, false, wl_str, offsetof(struct cw_workload, pod_uid) },                \
	{ "pod_qos", NULL, false, wl_str, offsetof(struct cw_workload, pod_qos) }
/* A table column "WHERE": the unit, else the container, with the pod. */
void wl_where_get(void *ctx, size_t row, struct out_val *v);
/* That text: "nginx.service", "docker 0123456789ab", "pod 0f5d1c1e (burstable)
 * containerd 0123456789ab", "-". */
char *wl_where(const struct cw_workload *w, char *buf, size_t len);
/* "process", "orphaned", "unaccepted", "unknown" (JSON "owner") */
const char *owner_kind_name(enum cw_owner_kind k);
/* A namespace for a line of text: its name, else "netns INODE". */
char *netns_str(const struct cw_netns *ns, char *buf, size_t len);

#endif
