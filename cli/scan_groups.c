/* scan's summary per process, peer or local port, and the culprit lines
 * (table and JSON). */
#include "scan_view.h"

#include <stddef.h>
#include <string.h>

#include "age_view.h"
#include "workload_view.h"

/* The view's context: the workload columns read src first. */
struct groups_view {
	struct wl_source src;
	const struct cw_grouping *g;
};

#define GRP(ctx, row) cw_grouping_at(((const struct groups_view *)(ctx))->g, row)

static const struct cw_workload *group_wl(void *ctx, size_t row)
{
	return GRP(ctx, row)->workload;
}

static void g_pid(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_group *g = GRP(ctx, row);

	v->type = OUT_INT;
	/* An unaccepted group is its listener's owner's. */
	v->null = g->kind != CW_OWNED && !(g->kind == CW_UNACCEPTED && g->pid);
	v->i = g->pid;
}

static void g_comm(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_group *g = GRP(ctx, row);

	v->type = OUT_STR;
	if (g->kind == CW_OWNED || (g->kind == CW_UNACCEPTED && g->comm))
		v->s = g->comm;
	else
		v->s = g->kind == CW_ORPHAN ? "(orphaned)" : g->kind == CW_UNACCEPTED ? "(unaccepted)"
										: "(unknown)";
}

static void g_owner(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = owner_kind_name(GRP(ctx, row)->kind);
}

/* arg: offsetof a string of struct cw_workload: the group's key */
static void g_key(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_workload *w = GRP(ctx, row)->workload;

	v->type = OUT_STR;
	v->s = w ? OUT_FIELD(const char *, w, v->arg) : NULL;
	v->null = !v->s;
}

/* --by auto: arg the enum cw_group_auto this column shows */
static void g_auto(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_group *g = GRP(ctx, row);

	v->type = OUT_STR;
	v->null = g->auto_key != (enum cw_group_auto)v->arg;
	if (v->null)
		return;
	v->s = g->auto_key == CW_AUTO_UNIT ? g->workload->systemd_unit
	       : g->auto_key == CW_AUTO_CONTAINER ? g->workload->container_id : g->comm;
}

static void g_auto_text(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_group *g = GRP(ctx, row);

	v->type = OUT_STR;
	if (g->auto_key == CW_AUTO_UNIT || g->auto_key == CW_AUTO_CONTAINER)
		v->s = wl_where(g->workload, v->buf, sizeof(v->buf));
	else
		v->s = g->auto_key == CW_AUTO_COMMAND ? g->comm : owner_kind_name(g->kind);
}

static void g_netns(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_netns *ns = GRP(ctx, row)->netns;

	v->type = OUT_INT;
	v->i = ns ? (long long)ns->inode : 0;
}

static void g_netns_name(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_netns *ns = GRP(ctx, row)->netns;

	v->type = OUT_STR;
	v->s = ns ? ns->name : NULL;
	v->null = !v->s;
}

static void g_netns_text(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_netns *ns = GRP(ctx, row)->netns;

	v->type = OUT_STR;
	v->s = ns ? netns_str(ns, v->buf, sizeof(v->buf)) : "-";
}

#define WL_KEY(key, head, field) { key, head, true, g_key, offsetof(struct cw_workload, field) }

static void g_peer(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	cw_endpoint_str(&GRP(ctx, row)->key, false, v->buf, sizeof(v->buf));
	v->s = v->buf;
}

static void g_lport(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = GRP(ctx, row)->key.port;
}

/* arg: offsetof a size_t of struct cw_group (a count) */
static void g_count(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = (long long)OUT_FIELD(size_t, GRP(ctx, row), v->arg);
}

static void g_recvq(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = (long long)GRP(ctx, row)->recv_q;
}

static void g_oldest(void *ctx, size_t row, struct out_val *v)
{
	age_val(v, &GRP(ctx, row)->cw_oldest);
}

/* Table order: the states that matter most for leaks first. */
static const int state_order[] = {
	CW_TCP_ESTABLISHED, CW_TCP_CLOSE_WAIT, CW_TCP_FIN_WAIT2, CW_TCP_TIME_WAIT,
	CW_TCP_LAST_ACK, CW_TCP_FIN_WAIT1, CW_TCP_CLOSING, CW_TCP_SYN_SENT, CW_TCP_SYN_RECV,
	CW_TCP_LISTEN,
};

#define COUNT(field) offsetof(struct cw_group, field)

static size_t group_columns(const struct scan_result *r, bool json, struct out_col *c)
{
	size_t n = 0;

	switch (r->by) {
	case CW_BY_PROCESS:
		c[n++] = (struct out_col){ "pid", "PID", false, g_pid };
		c[n++] = (struct out_col){ "command", "COMMAND", true, g_comm };
		c[n++] = (struct out_col){ "owner", NULL, false, g_owner };
		break;
	case CW_BY_PEER:
		c[n++] = (struct out_col){ "peer", "PEER", true, g_peer };
		break;
	case CW_BY_LOCAL_PORT:
		c[n++] = (struct out_col){ "local_port", "LOCAL-PORT", false, g_lport };
		break;
	case CW_BY_AUTO:
		c[n++] = (struct out_col){ "systemd_unit", NULL, false, g_auto, CW_AUTO_UNIT };
		c[n++] = (struct out_col){ "container_id", NULL, false, g_auto, CW_AUTO_CONTAINER };
		c[n++] = (struct out_col){ "command", NULL, false, g_auto, CW_AUTO_COMMAND };
		c[n++] = (struct out_col){ NULL, "UNIT/CONTAINER/COMMAND", true, g_auto_text };
		break;
	case CW_BY_UNIT:
		c[n++] = (struct out_col)WL_KEY("systemd_unit", "UNIT", systemd_unit);
		break;
	case CW_BY_CONTAINER:
		c[n++] = (struct out_col)WL_KEY("container_id", "CONTAINER", container_id);
		c[n++] = (struct out_col)WL_KEY("container_runtime", "RUNTIME", container_runtime);
		break;
	case CW_BY_POD:
		c[n++] = (struct out_col)WL_KEY("pod_uid", "POD", pod_uid);
		c[n++] = (struct out_col)WL_KEY("pod_qos", "QOS", pod_qos);
		break;
	case CW_BY_NETNS:
		c[n++] = (struct out_col){ "netns", NULL, false, g_netns };
		c[n++] = (struct out_col){ "netns_name", NULL, false, g_netns_name };
		c[n++] = (struct out_col){ NULL, "NETNS", true, g_netns_text };
		break;
	}
	for (size_t k = 0; k < sizeof(state_order) / sizeof(state_order[0]); k++) {
		int s = state_order[k];
		bool any = json;

		for (size_t g = 0; g < cw_grouping_count(r->groups) && !any; g++)
			any = cw_grouping_at(r->groups, g)->count[s] > 0;
		/* Every state is in JSON (stable keys); the table shows those present,
		 * and CLOSE-WAIT always. */
		if (any || s == CW_TCP_CLOSE_WAIT)
			c[n++] = (struct out_col){ cw_tcp_state_key(s), cw_tcp_state_heading(s), false,
						   g_count, COUNT(count) + (size_t)s * sizeof(size_t) };
	}
	c[n++] = (struct out_col){ "total", "TOTAL", false, g_count, COUNT(total) };
	c[n++] = (struct out_col){ "close_wait_oldest", "CW-OLDEST", false, g_oldest };
	c[n++] = (struct out_col){ "recv_q", "RECV-Q", false, g_recvq };
	c[n++] = (struct out_col){ "peers_closed", NULL, false, g_count, COUNT(peers_closed) };
	c[n++] = (struct out_col){ "peers_orphaned", NULL, false, g_count, COUNT(peers_orphaned) };
	c[n++] = (struct out_col){ "peers_half_closed", NULL, false, g_count,
				   COUNT(peers_half_closed) };
	c[n++] = (struct out_col){ "why_eof_read", NULL, false, g_count,
				   COUNT(why) + CW_WHY_EOF_READ * sizeof(size_t) };
	c[n++] = (struct out_col){ "why_never_read", NULL, false, g_count,
				   COUNT(why) + CW_WHY_NEVER_READ * sizeof(size_t) };
	c[n++] = (struct out_col){ "why_unaccepted", NULL, false, g_count,
				   COUNT(why) + CW_WHY_UNACCEPTED * sizeof(size_t) };
	return n;
}

void scan_print_groups(struct out *o, struct scan_result *r, bool json)
{
	static const char *const by_name[] = { "process", "peer", "local-port", "auto",
						"unit", "container", "pod", "netns" };
	struct groups_view gv = { { group_wl }, r->groups };
	struct out_col cols[32];
	size_t n = group_columns(r, json, cols);

	if (json) {
		out_json_str(o, "by", by_name[r->by]);
		out_json_rows(o, "groups", cols, n, &gv, cw_grouping_count(r->groups));
	} else if (cw_grouping_count(r->groups)) {
		out_table(o, cols, n, &gv, cw_grouping_count(r->groups));
	} else {
		out_printf(o, "no sockets matched\n");
	}
}

/* The whys a process's lines name, in their order (the unaccepted ones
 * have their listener's line). */
static const enum cw_why line_whys[2] = { CW_WHY_EOF_READ, CW_WHY_NEVER_READ };

void scan_why_line(const struct cw_group *g, enum cw_why why, char *buf, size_t len)
{
	char comm[OUT_NAME_LEN];
	size_t n = g->why[why];
	bool one = n == 1;

	out_name(g->comm ? g->comm : "?", comm, sizeof(comm));
	/* Recv-Q tells which: the peer's FIN is one byte of it until a read
	 * takes it (cw_sock_why). */
	if (why == CW_WHY_EOF_READ)
		snprintf(buf, len, "pid %d (%s) read EOF on %zu connection%s and never closed %s "
			 "(fix the end-of-file path: close when read returns 0)",
			 (int)g->pid, comm, n, one ? "" : "s", one ? "it" : "them");
	else
		snprintf(buf, len, "pid %d (%s) never read %zu connection%s to %s end after the peer "
			 "closed (an idle pool member, or a handler stuck elsewhere)",
			 (int)g->pid, comm, n, one ? "" : "s", one ? "its" : "their");
}

void scan_culprit_line(const struct cw_group *g, char *buf, size_t len)
{
	char comm[OUT_NAME_LEN], peer_comm[OUT_NAME_LEN];
	int n = snprintf(buf, len, "pid %d (%s) has not closed %zu connection%s that %s peer%s on "
			 "this host closed",
			 (int)g->pid, out_name(g->comm ? g->comm : "?", comm, sizeof(comm)), g->peers_closed,
			 g->peers_closed == 1 ? "" : "s", g->peers_closed == 1 ? "its" : "their",
			 g->peers_closed == 1 ? "" : "s");

	if (n < 0 || (size_t)n >= len)
		return;
	if (!g->peers_half_closed)
		snprintf(buf + n, len - (size_t)n, " (%s orphaned: the peer%s closed and left)",
			 g->peers_orphaned == 1 ? "the peer's end is" : "their ends are",
			 g->peers_orphaned == 1 ? "" : "s");
	else if (g->peers_orphaned)
		snprintf(buf + n, len - (size_t)n, " (%zu orphaned; %zu half-closed, still held, e.g. by pid %d (%s))",
			 g->peers_orphaned, g->peers_half_closed, (int)g->peer_pid,
			 out_name(g->peer_comm ? g->peer_comm : "?", peer_comm, sizeof(peer_comm)));
	else
		snprintf(buf + n, len - (size_t)n, " (half-closed: the peer%s still hold%s %s end, e.g. pid %d (%s))",
			 g->peers_half_closed == 1 ? "" : "s", g->peers_half_closed == 1 ? "s" : "",
			 g->peers_half_closed == 1 ? "its" : "their", (int)g->peer_pid,
			 out_name(g->peer_comm ? g->peer_comm : "?", peer_comm, sizeof(peer_comm)));
}

bool scan_print_culprit_lines(struct out *o, const struct scan_result *r)
{
	char line[512];
	bool any = false;

	/* Per process: the other ends it left behind on this host, then why
	 * its CLOSE_WAIT sockets are open. */
	for (size_t g = 0; g < cw_grouping_count(r->procs); g++) {
		const struct cw_group *p = cw_grouping_at(r->procs, g);

		if (p->kind != CW_OWNED)
			continue;
		for (int k = -1; k < 2; k++) {
			if (k < 0 ? !p->peers_closed : !p->why[line_whys[k]])
				continue;
			if (!any)
				out_printf(o, "\n");
			any = true;
			if (k < 0)
				scan_culprit_line(p, line, sizeof(line));
			else
				scan_why_line(p, line_whys[k], line, sizeof(line));
			out_printf(o, "%s\n", line);
		}
	}
	return any;
}

void scan_print_why_culprits(struct out *o, const struct scan_result *r)
{
	char line[512];

	out_json_open(o, "why_culprits", '[');
	for (size_t g = 0; g < cw_grouping_count(r->procs); g++) {
		const struct cw_group *p = cw_grouping_at(r->procs, g);

		for (size_t k = 0; k < 2 && p->kind == CW_OWNED; k++) {
			enum cw_why why = line_whys[k];

			if (!p->why[why])
				continue;
			out_json_open(o, NULL, '{');
			out_json_int(o, "pid", p->pid);
			out_json_str(o, "command", p->comm);
			out_json_str(o, "why", cw_why_name(why));
			out_json_int(o, "close_wait", (long long)p->why[why]);
			scan_why_line(p, why, line, sizeof(line));
			out_json_str(o, "message", line);
			out_json_close(o);
		}
	}
	out_json_close(o);
}
