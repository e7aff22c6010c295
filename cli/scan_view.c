/* scan's views: the per-group summary, the culprit lines and the sockets,
 * each described once as columns (out.h) for both the table and JSON. */
#include "scan_view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "age_view.h"
#include "caps.h"
#include "workload_view.h"

/* The owners of one socket, for the nested rows of its owners column; and
 * the listeners of an unaccepted one, for its listeners column. */
struct owners_of {
	struct wl_source src;         /* first: the workload columns read it */
	const struct cw_census *c;
	size_t i;
};

struct view {
	struct wl_source src;         /* first: the workload columns read it */
	struct scan_result *r;
	const size_t *rows;           /* display row -> census index (sockets view) */
	struct owners_of owners;      /* the owners column's nested rows, cell by cell */
	struct owners_of listeners;
};

static const struct cw_workload *sock_wl(void *ctx, size_t row)
{
	const struct view *w = ctx;

	return cw_census_sock_workload(w->r->c, w->rows[row]);
}

static const struct cw_workload *owner_wl(void *ctx, size_t row)
{
	const struct owners_of *o = ctx;

	return cw_census_owner_workload(o->c, o->i, row);
}

/* ---- sockets ---- */
#define SOCK(v, row) cw_census_sock((v)->r->c, (v)->rows[row])

static void g_state(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = cw_tcp_state_name(SOCK((struct view *)ctx, row)->state);
}

static void g_family(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = SOCK((struct view *)ctx, row)->family == AF_INET6 ? "ipv6" : "ipv4";
}

/* arg: offsetof(struct cw_sock, local or peer) */
static void g_endpoint(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	cw_endpoint_str(&OUT_FIELD(struct cw_endpoint, SOCK((struct view *)ctx, row), v->arg), true,
			v->buf, sizeof(v->buf));
	v->s = v->buf;
}

/* arg: offsetof a uint32_t of struct cw_sock */
static void g_u32(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = OUT_FIELD(uint32_t, SOCK((struct view *)ctx, row), v->arg);
}

static void g_retrans(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = SOCK((struct view *)ctx, row)->retrans;
}

/* arg: offsetof a tcp_info time of struct cw_sock: null when not reported */
static void g_info_ms(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_sock *s = SOCK((struct view *)ctx, row);

	g_u32(ctx, row, v);
	v->null = !s->has_info || v->i == CW_MS_UNKNOWN;
}

static void g_timer(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = cw_sock_timer_name(SOCK((struct view *)ctx, row)->timer);
}

static void g_age(void *ctx, size_t row, struct out_val *v)
{
	struct cw_age a;

	cw_sock_age(SOCK((struct view *)ctx, row), &a);
	age_val(v, &a);
}

/* census: the kernel's times; trace: an entry time closewait trace
 * recorded (read from its pins); null where there is no age */
static void g_age_source(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_sock *s = SOCK((struct view *)ctx, row);
	struct cw_age a;

	cw_sock_age(s, &a);
	v->type = OUT_STR;
	v->s = s->state == CW_TCP_CLOSE_WAIT && s->has_entry_age ? "trace" : "census";
	v->null = !a.known;
}

static void g_uncertain(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;

	v->type = OUT_BOOL;
	v->b = w->r->uncertain[w->rows[row]];
}

static void g_older(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;

	v->type = OUT_STR;
	v->s = w->r->uncertain[w->rows[row]] ? "uncertain" : "yes";
}

/* nested: one owner */
#define OWNER(ctx, row) \
	cw_census_owner(((struct owners_of *)(ctx))->c, ((struct owners_of *)(ctx))->i, row)

_Static_assert(sizeof(pid_t) == sizeof(int), "pid_t read as an int");

/* arg: offsetof(struct cw_owner, pid or fd) */
static void o_int(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = OUT_FIELD(int, OWNER(ctx, row), v->arg);
}

static void o_comm(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = OWNER(ctx, row)->comm;
}

static void o_text(void *ctx, size_t row, struct out_val *v)
{
	const struct cw_owner *o = OWNER(ctx, row);

	v->type = OUT_STR;
	snprintf(v->buf, sizeof(v->buf), "%s[%d]:%d", o->comm, (int)o->pid, o->fd);
	v->s = v->buf;
}

static const struct out_col owner_cols[] = {
	{ "pid", NULL, false, o_int, offsetof(struct cw_owner, pid) },
	{ "fd", NULL, false, o_int, offsetof(struct cw_owner, fd) },
	{ "command", NULL, false, o_comm },
	WL_COLS,
	{ NULL, "OWNER", true, o_text },
};

static void g_owners(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;
	size_t i = w->rows[row];

	/* The list is rendered before the next cell is asked for. */
	w->owners = (struct owners_of){ { owner_wl }, w->r->c, i };
	v->type = OUT_LIST;
	v->list_ctx = &w->owners;
	v->list_n = cw_census_owner_count(w->r->c, i);
	v->list_cols = owner_cols;
	v->list_ncols = sizeof(owner_cols) / sizeof(owner_cols[0]);
}

/* nested: one listener of an unaccepted socket */
#define LISTENER(ctx, row) \
	cw_census_listener(((struct owners_of *)(ctx))->c, ((struct owners_of *)(ctx))->i, row)

static void l_local(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	cw_endpoint_str(&LISTENER(ctx, row)->local, true, v->buf, sizeof(v->buf));
	v->s = v->buf;
}

/* arg: offsetof a uint32_t of struct cw_sock */
static void l_u32(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = OUT_FIELD(uint32_t, LISTENER(ctx, row), v->arg);
}

static const struct out_col listener_cols[] = {
	{ "local", NULL, false, l_local },
	{ "queued", NULL, false, l_u32, offsetof(struct cw_sock, rqueue) },
	{ "backlog", NULL, false, l_u32, offsetof(struct cw_sock, wqueue) },
};

static void g_listeners(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;
	size_t i = w->rows[row];

	w->listeners = (struct owners_of){ { NULL }, w->r->c, i };
	v->type = OUT_LIST;
	v->list_ctx = &w->listeners;
	v->list_n = cw_census_listener_count(w->r->c, i);
	v->list_cols = listener_cols;
	v->list_ncols = sizeof(listener_cols) / sizeof(listener_cols[0]);
}

static void g_owner_kind(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;

	v->type = OUT_STR;
	v->s = owner_kind_name(cw_census_owner_kind(w->r->c, w->rows[row]));
}

static void g_why(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;

	v->type = OUT_STR;
	v->s = cw_why_name(cw_census_why(w->r->c, w->rows[row]));
	v->null = !v->s;
}

static void g_process(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;
	enum cw_owner_kind k = cw_census_owner_kind(w->r->c, w->rows[row]);

	if (k == CW_OWNED) {
		g_owners(ctx, row, v);
		return;
	}
	v->type = OUT_STR;
	if (k == CW_UNACCEPTED && cw_census_owner_count(w->r->c, w->rows[row])) {
		const struct cw_owner *o = cw_census_owner(w->r->c, w->rows[row], 0);

		snprintf(v->buf, sizeof(v->buf), "(unaccepted: %s[%d])", o->comm, (int)o->pid);
		v->s = v->buf;
		return;
	}
	v->s = k == CW_ORPHAN ? "(orphaned)" : k == CW_UNACCEPTED ? "(unaccepted)" : "(unknown)";
}

static void g_netns(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;

	v->type = OUT_INT;
	v->i = (long long)cw_census_sock(w->r->c, w->rows[row])->netns;
}

static void g_netns_name(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;

	v->type = OUT_STR;
	v->s = cw_census_sock_netns(w->r->c, w->rows[row])->name;
	v->null = !v->s;
}

static void g_netns_text(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;

	v->type = OUT_STR;
	v->s = netns_str(cw_census_sock_netns(w->r->c, w->rows[row]), v->buf, sizeof(v->buf));
}

/* The other end, when it is on this host (pairing). */
static size_t peer_of(struct view *w, size_t row)
{
	return w->r->peer ? w->r->peer[w->rows[row]] : CW_NO_PEER;
}

static void g_peer_state(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;
	size_t j = peer_of(w, row);

	v->type = OUT_STR;
	v->null = j == CW_NO_PEER;
	v->s = v->null ? NULL : cw_tcp_state_name(cw_census_sock(w->r->c, j)->state);
}

static void g_peer_owner(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;
	size_t j = peer_of(w, row);
	const struct cw_owner *o;

	v->type = OUT_STR;
	if (j == CW_NO_PEER) {
		v->null = true;
		return;
	}
	o = cw_census_owner_count(w->r->c, j) ? cw_census_owner(w->r->c, j, 0) : NULL;
	if (!cw_census_sock(w->r->c, j)->inode)
		v->s = "orphaned";
	else if (o)
		snprintf(v->buf, sizeof(v->buf), "%s[%d]", o->comm, (int)o->pid), v->s = v->buf;
	else
		v->s = "unknown";
}

static void g_peer_pid(void *ctx, size_t row, struct out_val *v)
{
	struct view *w = ctx;
	size_t j = peer_of(w, row);
	const struct cw_owner *o = j == CW_NO_PEER || !cw_census_owner_count(w->r->c, j)
					   ? NULL : cw_census_owner(w->r->c, j, 0);

	v->type = OUT_INT;
	v->null = !o;
	v->i = o ? o->pid : 0;
}

static const struct out_col sock_cols[] = {
	{ "state", "STATE", true, g_state },
	{ "family", NULL, false, g_family },
	{ "local", "LOCAL", true, g_endpoint, offsetof(struct cw_sock, local) },
	{ "peer", "PEER", true, g_endpoint, offsetof(struct cw_sock, peer) },
	{ "recv_q", "RECV-Q", false, g_u32, offsetof(struct cw_sock, rqueue) },
	{ "send_q", "SEND-Q", false, g_u32, offsetof(struct cw_sock, wqueue) },
	{ "age", "AGE", false, g_age },
	{ "age_source", NULL, false, g_age_source },
	{ "inode", NULL, false, g_u32, offsetof(struct cw_sock, inode) },
	{ "uid", NULL, false, g_u32, offsetof(struct cw_sock, uid) },
	{ "timer", NULL, false, g_timer },
	{ "timer_ms", NULL, false, g_u32, offsetof(struct cw_sock, timer_ms) },
	{ "retrans", NULL, false, g_retrans },
	{ "lastsnd_ms", NULL, false, g_info_ms, offsetof(struct cw_sock, lastsnd_ms) },
	{ "lastrcv_ms", NULL, false, g_info_ms, offsetof(struct cw_sock, lastrcv_ms) },
	{ "lastack_ms", NULL, false, g_info_ms, offsetof(struct cw_sock, lastack_ms) },
	{ "netns", NULL, false, g_netns },
	{ "netns_name", NULL, false, g_netns_name },
	{ "owner", NULL, false, g_owner_kind },
	{ "why", NULL, false, g_why },
	WL_COLS,
	{ "owners", NULL, false, g_owners },
	{ NULL, "PROCESS", true, g_process },
	{ "listeners", NULL, false, g_listeners },
	{ "peer_state", NULL, false, g_peer_state },
	{ "peer_pid", NULL, false, g_peer_pid },
	{ NULL, "PEER-END", true, g_peer_owner },
};
#define NSOCK_COLS (sizeof(sock_cols) / sizeof(sock_cols[0]))
#define NSOCK_MAX (NSOCK_COLS + 4)

static const struct out_col older_cols[] = {
	{ "uncertain", NULL, false, g_uncertain },
	{ NULL, "OLDER", true, g_older },
};

/* Sock columns, the workload's (JSON; the table shows WHERE when any is
 * known, and NETNS beyond this namespace), plus the --older verdict. */
static size_t sock_columns(const struct scan_result *r, struct out_col *cols)
{
	size_t n = NSOCK_COLS;

	memcpy(cols, sock_cols, sizeof(sock_cols));
	if (r->any_workload)
		cols[n++] = (struct out_col){ NULL, "WHERE", true, wl_where_get };
	if (r->netns_sel != CW_NETNS_SEL_CURRENT)
		cols[n++] = (struct out_col){ NULL, "NETNS", true, g_netns_text };
	if (r->older_given) {
		memcpy(cols + n, older_cols, sizeof(older_cols));
		n += sizeof(older_cols) / sizeof(older_cols[0]);
	}
	return n;
}

/* Counts socket i if it is an unaccepted CLOSE_WAIT one, per listener. */
static int backlog_count(struct scan_result *r, size_t i)
{
	const struct cw_sock *l;
	struct scan_backlog *v;
	size_t k = 0;

	if (cw_census_why(r->c, i) != CW_WHY_UNACCEPTED || !cw_census_listener_count(r->c, i))
		return 0;
	l = cw_census_listener(r->c, i, 0);
	while (k < r->nbacklogs && r->backlogs[k].listener != l)
		k++;
	if (k == r->nbacklogs) {
		v = realloc(r->backlogs, (r->nbacklogs + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->backlogs = v;
		r->backlogs[r->nbacklogs++] = (struct scan_backlog){ l, i, 0 };
	}
	r->backlogs[k].close_wait++;
	return 0;
}

void scan_backlog_line(const struct scan_result *r, const struct scan_backlog *b, char *buf,
		       size_t len)
{
	char comm[OUT_NAME_LEN], local[CW_ENDPOINT_STRLEN];
	const struct cw_owner *o = cw_census_owner_count(r->c, b->sample)
					   ? cw_census_owner(r->c, b->sample, 0) : NULL;
	int n = o ? snprintf(buf, len, "pid %d (%s)", (int)o->pid, out_name(o->comm, comm, sizeof(comm)))
		  : snprintf(buf, len, "the program listening there");

	cw_endpoint_str(&b->listener->local, true, local, sizeof(local));
	if (n < 0 || (size_t)n >= len)
		return;
	snprintf(buf + n, len - (size_t)n, " is not accepting: %zu connection%s in the accept queue "
		 "of %s %s in CLOSE_WAIT (%u queued, backlog %u)", b->close_wait,
		 b->close_wait == 1 ? "" : "s", local, b->close_wait == 1 ? "is" : "are",
		 b->listener->rqueue, b->listener->wqueue);
}

int scan_compute(const struct cw_census *c, const struct cw_filter *f, enum cw_group_by by,
		 bool state_given, struct scan_result *r)
{
	size_t n = cw_census_count(c);
	int err = -ENOMEM;

	memset(r, 0, sizeof(*r));
	r->c = c;
	r->by = by;
	r->state_given = state_given;
	r->older_given = f->older_ms > 0;
	r->peer = malloc((n ? n : 1) * sizeof(*r->peer));
	r->sel = calloc(n ? n : 1, sizeof(*r->sel));
	r->uncertain = calloc(n ? n : 1, sizeof(*r->uncertain));
	r->idx = malloc((n ? n : 1) * sizeof(*r->idx));
	if (!r->peer || !r->sel || !r->uncertain || !r->idx)
		goto fail;
	err = cw_census_pair(c, r->peer);
	if (err)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		enum cw_match m = cw_filter_match(f, c, i, NULL);

		if (m == CW_MATCH_NO)
			continue;
		r->sel[i] = true;
		r->uncertain[i] = m == CW_MATCH_UNCERTAIN;
		r->uncertain_n += r->uncertain[i];
		r->idx[r->nidx++] = i;
		r->close_wait += cw_census_sock(c, i)->state == CW_TCP_CLOSE_WAIT;
		if (!r->any_workload) {
			const struct cw_workload *w = cw_census_sock_workload(c, i);

			r->any_workload = w && (w->systemd_unit || w->container_id || w->pod_uid);
		}
		err = backlog_count(r, i);
		if (err)
			goto fail;
	}
	err = cw_census_group(c, r->sel, r->peer, by, &r->groups);
	if (!err)
		err = cw_census_group(c, r->sel, r->peer, CW_BY_PROCESS, &r->procs);
	if (!err)
		return 0;
fail:
	scan_result_free(r);
	return err;
}

void scan_result_free(struct scan_result *r)
{
	free(r->peer);
	free(r->sel);
	free(r->uncertain);
	free(r->idx);
	cw_grouping_free(r->groups);
	cw_grouping_free(r->procs);
	free(r->backlogs);
	memset(r, 0, sizeof(*r));
}

struct age_row {
	size_t idx;
	struct cw_age a;
};

static int age_row_cmp(const void *x, const void *y)
{
	const struct age_row *a = x, *b = y;

	if (a->a.min_ms != b->a.min_ms)
		return a->a.min_ms > b->a.min_ms ? -1 : 1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

/* The sockets of the table: every selected one with --state, else the
 * CLOSE_WAIT ones (the stuck sockets); oldest first. */
static size_t table_rows(const struct scan_result *r, size_t *rows)
{
	struct age_row *ar = malloc((r->nidx ? r->nidx : 1) * sizeof(*ar));
	size_t n = 0;

	if (!ar)
		return 0;
	for (size_t k = 0; k < r->nidx; k++) {
		const struct cw_sock *s = cw_census_sock(r->c, r->idx[k]);

		if (!r->state_given && s->state != CW_TCP_CLOSE_WAIT)
			continue;
		ar[n].idx = r->idx[k];
		cw_sock_age(s, &ar[n].a);
		n++;
	}
	qsort(ar, n, sizeof(*ar), age_row_cmp);
	for (size_t k = 0; k < n; k++)
		rows[k] = ar[k].idx;
	free(ar);
	return n;
}

void scan_print_table(struct out *o, struct scan_result *r)
{
	struct out_col cols[NSOCK_MAX];
	size_t *rows = malloc((r->nidx ? r->nidx : 1) * sizeof(*rows));
	struct view v = { { sock_wl }, r, rows, { { NULL }, NULL, 0 }, { { NULL }, NULL, 0 } };
	size_t ncols = sock_columns(r, cols), nrows;
	char line[512];
	bool any_culprit;

	if (!rows)
		return;
	scan_print_groups(o, r, false);
	any_culprit = scan_print_culprit_lines(o, r);
	for (size_t k = 0; k < r->nbacklogs; k++) {
		scan_backlog_line(r, &r->backlogs[k], line, sizeof(line));
		out_printf(o, "%s%s\n", k || any_culprit ? "" : "\n", line);
	}
	nrows = table_rows(r, rows);
	out_printf(o, "\n");
	if (nrows)
		out_table(o, cols, ncols, &v, nrows);
	else
		out_printf(o, "no %s sockets%s\n", r->state_given ? "matching" : "CLOSE_WAIT",
			   r->nidx ? "" : " (nothing matched)");
	if (r->uncertain_n)
		out_printf(o, "\n%zu socket%s may or may not be older than --older: the age range "
			      "contains it (OLDER: uncertain).\n",
			   r->uncertain_n, r->uncertain_n == 1 ? "" : "s");
	if (cw_census_unreadable(r->c)) {
		char note[320];

		caps_unreadable_note(cw_census_unreadable(r->c), note, sizeof(note));
		out_printf(o, "\n%s\n", note);
	}
	scan_print_netns_notes(o, r->c);
	free(rows);
}

void scan_print_json(struct out *o, struct scan_result *r)
{
	struct out_col cols[NSOCK_MAX];
	struct view v = { { sock_wl }, r, r->idx, { { NULL }, NULL, 0 }, { { NULL }, NULL, 0 } };
	size_t ncols = sock_columns(r, cols);
	char line[512];

	out_json_open(o, NULL, '{');
	out_json_int(o, "version", 1);
	out_json_int(o, "time_ms", (long long)cw_census_time_ms(r->c));
	out_json_bool(o, "owners", cw_census_has_owners(r->c));
	out_json_bool(o, "owners_partial", cw_census_owners_partial(r->c));
	out_json_int(o, "unreadable_processes", cw_census_unreadable(r->c));
	out_json_int(o, "sockets_total", (long long)r->nidx);
	out_json_int(o, "close_wait_total", (long long)r->close_wait);
	out_json_int(o, "uncertain_total", (long long)r->uncertain_n);
	scan_print_netns_json(o, r->c, r->netns_sel);
	scan_print_groups(o, r, true);
	out_json_open(o, "culprits", '[');
	for (size_t g = 0; g < cw_grouping_count(r->procs); g++) {
		const struct cw_group *p = cw_grouping_at(r->procs, g);

		if (!p->peers_closed || p->kind != CW_OWNED)
			continue;
		out_json_open(o, NULL, '{');
		out_json_int(o, "pid", p->pid);
		out_json_str(o, "command", p->comm);
		out_json_int(o, "close_wait", (long long)p->count[CW_TCP_CLOSE_WAIT]);
		out_json_int(o, "peers_closed", (long long)p->peers_closed);
		out_json_int(o, "peers_orphaned", (long long)p->peers_orphaned);
		out_json_int(o, "peers_half_closed", (long long)p->peers_half_closed);
		if (p->peer_pid)
			out_json_int(o, "peer_pid", p->peer_pid);
		else
			out_json_str(o, "peer_pid", NULL);
		scan_culprit_line(p, line, sizeof(line));
		out_json_str(o, "message", line);
		out_json_close(o);
	}
	out_json_close(o);
	scan_print_why_culprits(o, r);
	out_json_open(o, "unaccepted", '[');
	for (size_t k = 0; k < r->nbacklogs; k++) {
		const struct scan_backlog *b = &r->backlogs[k];
		const struct cw_owner *ow = cw_census_owner_count(r->c, b->sample)
						    ? cw_census_owner(r->c, b->sample, 0) : NULL;
		char local[CW_ENDPOINT_STRLEN];

		out_json_open(o, NULL, '{');
		if (ow)
			out_json_int(o, "pid", ow->pid);
		else
			out_json_str(o, "pid", NULL);
		out_json_str(o, "command", ow ? ow->comm : NULL);
		cw_endpoint_str(&b->listener->local, true, local, sizeof(local));
		out_json_str(o, "listener", local);
		out_json_int(o, "close_wait", (long long)b->close_wait);
		out_json_int(o, "queued", b->listener->rqueue);
		out_json_int(o, "backlog", b->listener->wqueue);
		scan_backlog_line(r, b, line, sizeof(line));
		out_json_str(o, "message", line);
		out_json_close(o);
	}
	out_json_close(o);
	out_json_rows(o, "sockets", cols, ncols, &v, r->nidx);
	out_json_end(o);
}
