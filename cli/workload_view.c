#include "workload_view.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const struct cw_workload *wl_of(void *ctx, size_t row)
{
	return ((const struct wl_source *)ctx)->get(ctx, row);
}

void wl_str(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_workload *w = wl_of(ctx, row);

	v->type = OUT_STR;
	v->s = w ? OUT_FIELD(const char *, w, v->arg) : NULL;
	v->null = !v->s;
}

char *wl_where(const struct cw_workload *w, char *buf, size_t len)
{
	int n = 0;

	buf[0] = '\0';
	if (w && w->pod_uid)
		n = snprintf(buf, len, "pod %.8s%s%s%s ", w->pod_uid, w->pod_qos ? " (" : "",
			     w->pod_qos ? w->pod_qos : "", w->pod_qos ? ")" : "");
	if (n < 0 || (size_t)n >= len)
		return buf;
	if (w && w->systemd_unit)
		snprintf(buf + n, len - (size_t)n, "%s", w->systemd_unit);
	else if (w && w->container_id)
		snprintf(buf + n, len - (size_t)n, "%s %.12s",
			 w->container_runtime ? w->container_runtime : "container", w->container_id);
	else if (n)
		buf[n - 1] = '\0';
	else
		snprintf(buf, len, "-");
	return buf;
}

void wl_where_get(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = wl_where(wl_of(ctx, row), v->buf, sizeof(v->buf));
}

const char *owner_kind_name(enum cw_owner_kind k)
{
	switch (k) {
	case CW_OWNED: return "process";
	case CW_ORPHAN: return "orphaned";
	case CW_UNACCEPTED: return "unaccepted";
	case CW_UNKNOWN: break;
	}
	return "unknown";
}

char *netns_str(const struct cw_netns *ns, char *buf, size_t len)
{
	if (ns->name)
		snprintf(buf, len, "%s", ns->name);
	else
		snprintf(buf, len, "netns %llu", (unsigned long long)ns->inode);
	return buf;
}
