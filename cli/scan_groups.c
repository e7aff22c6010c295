/* scan's summary per process, peer or local port, and the culprit lines. */
#include "scan_view.h"

#include <stddef.h>
#include <string.h>

#include "age_view.h"

#define GRP(ctx, row) cw_grouping_at((const struct cw_grouping *)(ctx), row)

static void g_pid(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->null = GRP(ctx, row)->kind != CW_OWNED;
	v->i = GRP(ctx, row)->pid;
}

static void g_comm(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_group *g = GRP(ctx, row);

	v->type = OUT_STR;
	v->s = g->kind == CW_OWNED ? g->comm : g->kind == CW_ORPHAN ? "(orphaned)" : "(unknown)";
}

static void g_owner(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_group *g = GRP(ctx, row);

	v->type = OUT_STR;
	v->s = g->kind == CW_OWNED ? "process" : g->kind == CW_ORPHAN ? "orphaned" : "unknown";
}

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
	return n;
}

void scan_print_groups(struct out *o, struct scan_result *r, bool json)
{
	static const char *const by_name[] = { "process", "peer", "local-port" };
	struct out_col cols[32];
	size_t n = group_columns(r, json, cols);

	if (json) {
		out_json_str(o, "by", by_name[r->by]);
		out_json_rows(o, "groups", cols, n, r->groups, cw_grouping_count(r->groups));
	} else if (cw_grouping_count(r->groups)) {
		out_table(o, cols, n, r->groups, cw_grouping_count(r->groups));
	} else {
		out_printf(o, "no sockets matched\n");
	}
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
