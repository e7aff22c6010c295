/* Formats what trace found: JSON lines through the CLI's writer (out.h),
 * or text for a terminal. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "out.h"
#include "trace_load.h"
#include "trace_out.h"

struct trace_out {
	const struct trace_opts *o;
	struct out *w;
	bool tty;                     /* redraw the headlines in place */
};

/* "2026-11-30T09:12:03.456Z": UTC, milliseconds. */
static char *iso_ms(uint64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ms % 1000));
	return buf;
}

struct trace_out *trace_out_open(const struct trace_opts *o)
{
	static struct trace_out t;

	t.o = o;
	t.w = out_open(stdout);
	t.tty = !o->json;
	out_json_one_line(t.w, true);
	return &t;
}

void trace_out_started(struct trace_out *t, bool eof_times)
{
	char g[32];

	if (!t->tty) {
		out_json_open(t->w, NULL, '{');
		out_json_int(t->w, "version", TRACE_JSON_VERSION);
		out_json_str(t->w, "event", "started");
		out_json_num(t->w, "grace", (double)t->o->grace_ms / 1000.0, 3);
		out_json_num(t->w, "interval", (double)t->o->interval_ms / 1000.0, 3);
		out_json_bool(t->w, "eof_read_times", eof_times);
		out_json_end(t->w);
		out_flush(t->w);
	} else {
		out_printf(t->w, "closewait trace: following TCP sockets%s%s; reporting CLOSE_WAIT after %s\n",
			   t->o->filter->comm ? " of " : "", t->o->filter->comm ? t->o->filter->comm : "",
			   out_ms_str(t->o->grace_ms, g, sizeof(g)));
		out_flush(t->w);
	}
}

static void json_frame(struct out *w, const struct trace_frame *f)
{
	char a[32];

	out_json_open(w, NULL, '{');
	out_json_str(w, "function", f->function[0] ? f->function : NULL);
	out_json_str(w, "file", f->file[0] ? f->file : NULL);
	if (f->line)
		out_json_int(w, "line", f->line);
	else
		out_json_str(w, "line", NULL);
	out_json_str(w, "module", f->module[0] ? f->module : NULL);
	snprintf(a, sizeof(a), "0x%llx", (unsigned long long)f->addr);
	out_json_str(w, "address", a);
	out_json_str(w, "build_id", f->build_id[0] ? f->build_id : NULL);
	if (f->has_file_offset) {
		snprintf(a, sizeof(a), "0x%llx", (unsigned long long)f->file_offset);
		out_json_str(w, "file_offset", a);
	} else {
		out_json_str(w, "file_offset", NULL);
	}
	out_json_bool(w, "caller_fixup", f->fixup);
	out_json_close(w);
}

static void json_leak(struct out *w, const struct trace_leak *l)
{
	char b[64];

	out_json_open(w, NULL, '{');
	out_json_int(w, "version", TRACE_JSON_VERSION);
	out_json_str(w, "event", "leak");
	out_json_int(w, "pid", l->pid);
	out_json_str(w, "command", l->pid ? l->command : NULL);
	out_json_int(w, "fd", l->fd);
	out_json_int(w, "inode", (long long)l->inode);
	out_json_str(w, "local", l->local);
	out_json_str(w, "peer", l->peer);
	out_json_int(w, "netns", (long long)l->netns);
	out_json_str(w, "netns_name", l->netns_name);
	out_json_str(w, "cgroup", l->cgroup);
	out_json_str(w, "systemd_unit", l->systemd_unit);
	out_json_str(w, "container_runtime", l->container_runtime);
	out_json_str(w, "container_id", l->container_id);
	out_json_str(w, "pod_uid", l->pod_uid);
	out_json_str(w, "pod_qos", l->pod_qos);
	out_json_str(w, "state", "close-wait");
	out_json_str(w, "close_wait_since", l->exact ? iso_ms(l->since_ms, b, sizeof(b)) : NULL);
	out_json_num(w, "age_min", (double)l->age_min_ms / 1000.0, 3);
	out_json_num(w, "age_max", (double)l->age_max_ms / 1000.0, 3);
	out_json_bool(w, "age_exact", l->exact);
	out_json_str(w, "age_source", l->exact ? "trace" : "census");
	out_json_str(w, "why", cw_why_name(l->why));
	out_json_str(w, "eof_read_at", l->has_eof ? iso_ms(l->eof_ms, b, sizeof(b)) : NULL);
	out_json_bool(w, "created_before_trace", l->before_trace);
	if (!l->before_trace) {
		out_json_str(w, "created_by", l->how == CW_HOW_ACCEPT ? "accept" : "connect");
		out_json_str(w, "created_at", iso_ms(l->created_ms, b, sizeof(b)));
		out_json_int(w, "tid", l->tid);
		out_json_str(w, "thread", l->thread);
		out_json_bool(w, "stack_truncated", !l->has_stack || l->stack.truncated);
		out_json_str(w, "stack_note", l->has_stack ? trace_stack_note(&l->stack) : NULL);
		out_json_open(w, "stack", '[');
		for (size_t i = 0; l->has_stack && i < l->stack.n; i++)
			json_frame(w, &l->stack.frames[i]);
		out_json_close(w);
	}
	out_json_str(w, "site", l->site);
	out_json_end(w);
}

/* The text of one leak: who, where, since when, why; then its stack. */
static void text_leak(struct out *w, const struct trace_leak *l)
{
	char b[64], e[64], f[300], cmd[OUT_NAME_LEN];

	out_printf(w, "  pid %d (%s) fd %d %s <- %s: CLOSE_WAIT ", (int)l->pid,
		   out_name(l->command, cmd, sizeof(cmd)), l->fd, l->local, l->peer);
	if (l->exact)
		out_printf(w, "since %s (%s), ", iso_ms(l->since_ms, b, sizeof(b)),
			   out_ms_str(l->age_min_ms, e, sizeof(e)));
	else if (l->age_min_ms == l->age_max_ms)
		out_printf(w, "for %s, ", out_ms_str(l->age_min_ms, b, sizeof(b)));
	else
		out_printf(w, "for %s to %s, ", out_ms_str(l->age_min_ms, b, sizeof(b)),
			   out_ms_str(l->age_max_ms, e, sizeof(e)));
	out_printf(w, "%s", cw_why_name(l->why));
	/* where, when it is beyond a plain process of this host */
	if (l->container_id)
		out_printf(w, ", in %s %.12s", l->container_runtime ? l->container_runtime : "container",
			   l->container_id);
	else if (l->systemd_unit)
		out_printf(w, ", in %s", l->systemd_unit);
	if (l->netns_name)
		out_printf(w, ", netns %s", l->netns_name);
	if (l->has_eof)
		out_printf(w, " (EOF read at %s)", iso_ms(l->eof_ms, b, sizeof(b)));
	if (l->owner_exited)
		out_printf(w, " (owner exited)");
	else if (l->ended)
		out_printf(w, " (closed since)");
	out_printf(w, "\n");
	if (!l->before_trace)
		out_printf(w, "      created %s by thread %d (%s)\n", iso_ms(l->created_ms, b, sizeof(b)),
			   (int)l->tid, out_name(l->thread, cmd, sizeof(cmd)));
	/* an interpreter's native frames would only show the interpreter */
	if (l->has_stack && l->stack.interpreter[0]) {
		out_printf(w, "      ... %s (%s)\n", TRACE_NOTE_INTERPRETER, l->stack.interpreter);
		return;
	}
	for (size_t i = 0; l->has_stack && i < l->stack.n; i++)
		out_printf(w, "      %s %s%s\n", i ? "<-" : "at", trace_frame_str(&l->stack.frames[i], f, sizeof(f)),
			   l->stack.frames[i].fixup ? " (caller recovered)" : "");
	if (l->has_stack && l->stack.truncated)
		out_printf(w, "      ... %s\n", TRACE_NOTE_TRUNCATED);
}

void trace_out_leak(struct trace_out *t, const struct trace_leak *l)
{
	if (!t->tty)
		json_leak(t->w, l);
}

void trace_out_leak_end(struct trace_out *t, const struct trace_leak *l, uint64_t now_ms)
{
	char b[64];

	if (t->tty)
		return;
	out_json_open(t->w, NULL, '{');
	out_json_int(t->w, "version", TRACE_JSON_VERSION);
	out_json_str(t->w, "event", "leak_end");
	out_json_int(t->w, "pid", l->pid);
	out_json_str(t->w, "command", l->command);
	out_json_int(t->w, "fd", l->fd);
	out_json_int(t->w, "inode", (long long)l->inode);
	out_json_int(t->w, "netns", (long long)l->netns);
	out_json_str(t->w, "state", l->live ? "close-wait" : NULL);
	out_json_bool(t->w, "owner_exited", l->owner_exited);
	out_json_str(t->w, "ended_at", iso_ms(now_ms, b, sizeof(b)));
	out_json_str(t->w, "site", l->site);
	out_json_end(t->w);
	out_flush(t->w);
}

/* A group's members, in an object the caller opened. */
static void json_group(struct out *w, const struct trace_group *g)
{
	char h[1024];

	out_json_str(w, "site", g->site);
	out_json_int(w, "count", (long long)(g->live[1] + g->live[2] + g->live[3]));
	out_json_open(w, "why", '{');
	for (enum cw_why y = CW_WHY_EOF_READ; y <= CW_WHY_UNACCEPTED; y++)
		out_json_int(w, cw_why_name(y), (long long)g->live[y]);
	out_json_close(w);
	out_json_int(w, "total", (long long)g->total);
	out_json_int(w, "owner_exited", (long long)g->owner_exited);
	out_json_str(w, "headline", trace_group_headline(g, h, sizeof(h)));
}

void trace_out_groups(struct trace_out *t, struct trace_leaks *ls)
{
	char h[1024];

	if (!t->tty) {
		for (size_t j = 0; j < ls->ng; j++) {
			if (!ls->g[j].changed)
				continue;
			out_json_open(t->w, NULL, '{');
			out_json_int(t->w, "version", TRACE_JSON_VERSION);
			out_json_str(t->w, "event", "group");
			json_group(t->w, &ls->g[j]);
			out_json_end(t->w);
		}
	} else {
		/* top-like: home, clear to the end, the headlines */
		out_printf(t->w, "\033[H\033[Jclosewait trace: %zu site%s (Ctrl-C to stop)\n", ls->ng,
			   ls->ng == 1 ? "" : "s");
		for (size_t j = 0; j < ls->ng; j++)
			out_printf(t->w, "%s\n", trace_group_headline(&ls->g[j], h, sizeof(h)));
	}
	for (size_t j = 0; j < ls->ng; j++)
		ls->g[j].changed = false;
	out_flush(t->w);
}

void trace_out_summary(struct trace_out *t, const struct trace_leaks *ls, const struct trace_counts *k)
{
	uint64_t dropped = k->inserted > k->deleted + k->live ? k->inserted - k->deleted - k->live : 0;
	size_t reported = 0;
	char h[1024];

	for (size_t i = 0; i < ls->n; i++)
		reported += ls->v[i].reported;
	if (!t->tty) {
		out_json_open(t->w, NULL, '{');
		out_json_int(t->w, "version", TRACE_JSON_VERSION);
		out_json_str(t->w, "event", "summary");
		out_json_int(t->w, "leaks", (long long)reported);
		out_json_open(t->w, "groups", '[');
		for (size_t j = 0; j < ls->ng; j++) {
			out_json_open(t->w, NULL, '{');
			json_group(t->w, &ls->g[j]);
			out_json_close(t->w);
		}
		out_json_close(t->w);
		out_json_int(t->w, "close_wait_entered", (long long)k->entered);
		out_json_int(t->w, "close_wait_left", (long long)k->left);
		out_json_int(t->w, "records_dropped", (long long)dropped);
		out_json_int(t->w, "records_refused", (long long)k->refused);
		out_json_int(t->w, "stacks_lost", (long long)k->no_stack);
		out_json_bool(t->w, "eof_read_times", k->eof_times);
		out_json_end(t->w);
		out_flush(t->w);
		return;
	}
	out_printf(t->w, "\nSummary: %zu socket%s reported in CLOSE_WAIT, %zu site%s\n", reported,
		   reported == 1 ? "" : "s", ls->ng, ls->ng == 1 ? "" : "s");
	for (size_t j = 0; j < ls->ng; j++) {
		out_printf(t->w, "%s\n", trace_group_headline(&ls->g[j], h, sizeof(h)));
		for (size_t i = 0; i < ls->n; i++)
			if (ls->v[i].reported && ls->v[i].group == j)
				text_leak(t->w, &ls->v[i]);
	}
	out_printf(t->w, "Sockets made while traced: %llu entered CLOSE_WAIT, %llu left it\n",
		   (unsigned long long)k->entered, (unsigned long long)k->left);
	if (dropped || k->refused || k->no_stack)
		out_printf(t->w, "%llu records dropped (map full), %llu refused, %llu stacks lost\n",
			   (unsigned long long)dropped, (unsigned long long)k->refused,
			   (unsigned long long)k->no_stack);
	out_flush(t->w);
}

int trace_out_close(struct trace_out *t)
{
	return out_close(t->w);
}
