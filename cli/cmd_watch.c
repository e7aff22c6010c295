/* closewait watch: CLOSE_WAIT per process over time, with a verdict. On a
 * terminal it redraws in place (top-like: cursor home, each line cleared to
 * its end, no full clear, so no flicker) and quits on q or Ctrl-C; otherwise
 * it prints one line (or, with --json, one JSON document) per interval. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "closewait/census_watch.h"
#include "age_view.h"
#include "caps.h"
#include "owners_src.h"
#include "pin_ages.h"
#include "filter_opts.h"
#include "out.h"

enum { OPT_INTERVAL = OPT_F_LAST + 1, OPT_STUCK, OPT_COUNT, OPT_JSON, OPT_BY, OPT_HELP };

static const struct option watch_options[] = {
	FILTER_LONG_OPTIONS,
	{ "by", required_argument, NULL, OPT_BY },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "stuck-after", required_argument, NULL, OPT_STUCK },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static volatile sig_atomic_t watch_stop;

static void on_signal(int signo)
{
	(void)signo;
	watch_stop = 1;
}

static void watch_help(void)
{
	printf("Usage: closewait watch [--interval D] [--stuck-after D] [--count N] [--json]\n"
	       "                      [--by G] [FILTERS] [--net NS | --all-netns]\n\n"
	       "Takes a census of CLOSE_WAIT sockets every interval and shows, per process\n"
	       "(or per --by group), their count, its growth per minute (over the last minute),\n"
	       "a sparkline of the count over the last intervals (on a terminal), the oldest age\n"
	       "(narrowed by what watch saw: a socket absent from the previous census entered\n"
	       "CLOSE_WAIT since) and a verdict:\n"
	       "  leaking   the count grew and new sockets outlived an interval\n"
	       "  stuck     not growing, but sockets older than --stuck-after\n"
	       "  ok        none, or only young ones that go away\n\n"
	       "  --interval D      between censuses (default 2s)\n"
	       "  --stuck-after D   age that makes a socket stuck (default 60s)\n"
	       "  --count N         stop after N censuses (default: until q or Ctrl-C)\n"
	       "  --json            when not on a terminal: one JSON document per line\n"
	       "  --by G            rows per auto (systemd unit, else container, else command),\n"
	       "                    process (the default), unit, container, pod, netns, peer\n"
	       "                    or local-port\n"
	       "Filters (scan's; all must match): --pid PID, --port N, --sport N, --dport N,\n"
	       "--peer ADDR[:PORT], --older D, --why WHY (eof-read, never-read, unaccepted),\n"
	       "and\n"
	       HELP_HOLDERS
	       "Namespaces (default: this one):\n"
	       HELP_NETNS
	       "On a terminal it redraws in place; q or Ctrl-C quits.\n");
}

/* closewait trace --pin's per-process counters (pin_counts), sorted by
 * pid; has false: none readable. */
struct wcounts {
	bool has;
	struct pin_count *v;
	size_t n;
};

/* The view's context: the watch, how its rows are keyed, and the counters. */
struct wview {
	const struct cw_watch *w;
	enum cw_group_by by;
	const struct wcounts *counts;
};

#define ROW(ctx, r) cw_watch_row(((const struct wview *)(ctx))->w, r)

static void w_pid(void *ctx, size_t r, struct out_val *v)
{
	v->type = OUT_INT;
	v->null = ROW(ctx, r)->pid == 0;
	v->i = ROW(ctx, r)->pid;
}

static void w_comm(void *ctx, size_t r, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = ROW(ctx, r)->comm;
}

static void w_count(void *ctx, size_t r, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = (long long)ROW(ctx, r)->close_wait;
}

static void w_growth(void *ctx, size_t r, struct out_val *v)
{
	v->type = OUT_NUM;
	v->d = ROW(ctx, r)->growth_per_min;
	v->prec = 1;
}

static void w_oldest(void *ctx, size_t r, struct out_val *v)
{
	age_val(v, &ROW(ctx, r)->oldest);
}

static int pid_cmp(const void *a, const void *b)
{
	const struct pin_count *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* A process's counter (arg: 0 entered, 1 left); null when trace does not
 * count it, or its pins are not readable. */
static void w_trace_count(void *ctx, size_t r, struct out_val *v)
{
	const struct wcounts *k = ((const struct wview *)ctx)->counts;
	struct pin_count key = { .pid = ROW(ctx, r)->pid };
	const struct pin_count *e = k && k->has && k->n ? bsearch(&key, k->v, k->n, sizeof(*k->v), pid_cmp)
							: NULL;

	v->type = OUT_INT;
	v->null = !e;
	v->i = e ? (long long)(v->arg ? e->left : e->entered) : 0;
}

static void w_verdict(void *ctx, size_t r, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = cw_verdict_name(ROW(ctx, r)->verdict);
}

/* The group's name; null (JSON) or "-" for the sockets with none. */
static void w_name(void *ctx, size_t r, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = ROW(ctx, r)->name;
	v->null = !v->s[0];
}

static void w_extra(void *ctx, size_t r, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = ROW(ctx, r)->extra;
	v->null = !v->s[0];
}

static void w_netns(void *ctx, size_t r, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = (long long)ROW(ctx, r)->netns;
}

/* --by auto: arg the enum cw_group_auto this column shows */
static void w_auto(void *ctx, size_t r, struct out_val *v)
{
	v->type = OUT_STR;
	v->null = ROW(ctx, r)->auto_key != (enum cw_group_auto)v->arg;
	v->s = ROW(ctx, r)->name;
}

static void w_group(void *ctx, size_t r, struct out_val *v)
{
	const struct cw_watch_row *row = ROW(ctx, r);
	enum cw_group_by by = ((const struct wview *)ctx)->by;

	v->type = OUT_STR;
	if (by == CW_BY_NETNS && !row->name[0])
		snprintf(v->buf, sizeof(v->buf), "netns %llu", (unsigned long long)row->netns);
	else if (row->extra[0])
		snprintf(v->buf, sizeof(v->buf), "%.*s (%s)", by == CW_BY_POD ? 36 : 12, row->name,
			 row->extra);
	else
		snprintf(v->buf, sizeof(v->buf), "%s", row->name[0] ? row->name : "-");
	v->s = v->buf;
}

/* ▁▂▃▄▅▆▇█ of the row's count over the last intervals, scaled to its maximum. */
#define SPARK_N 20
static void w_spark(void *ctx, size_t r, struct out_val *v)
{
	static const char *const bars[] = { "\u2581", "\u2582", "\u2583", "\u2584",
					    "\u2585", "\u2586", "\u2587", "\u2588" };
	size_t counts[SPARK_N], n = cw_watch_history(((const struct wview *)ctx)->w, r, counts, SPARK_N);
	size_t max = 0, at = 0;

	for (size_t k = 0; k < n; k++)
		max = counts[k] > max ? counts[k] : max;
	for (size_t k = 0; k < n && at + 4 < sizeof(v->buf); k++)
		at += (size_t)snprintf(v->buf + at, sizeof(v->buf) - at, "%s",
				       bars[max ? counts[k] * 7 / max : 0]);
	v->buf[at] = 0;
	v->type = OUT_STR;
	v->s = v->buf;
}

static const struct out_col watch_tail[] = {
	{ "close_wait", "CLOSE-WAIT", false, w_count },
	{ "growth_per_min", "GROWTH/MIN", false, w_growth },
	{ "oldest", "OLDEST", false, w_oldest },
	{ "verdict", "VERDICT", true, w_verdict },
};

/* The key columns of by, then the counts; the sparkline on a terminal. */
static size_t watch_columns(enum cw_group_by by, bool tty, struct out_col *c)
{
	size_t n = 0;

	switch (by) {
	case CW_BY_PROCESS:
		c[n++] = (struct out_col){ "pid", "PID", false, w_pid };
		c[n++] = (struct out_col){ "command", "COMMAND", true, w_comm };
		break;
	case CW_BY_AUTO:
		c[n++] = (struct out_col){ "systemd_unit", NULL, false, w_auto, CW_AUTO_UNIT };
		c[n++] = (struct out_col){ "container_id", NULL, false, w_auto, CW_AUTO_CONTAINER };
		c[n++] = (struct out_col){ "command", NULL, false, w_auto, CW_AUTO_COMMAND };
		c[n++] = (struct out_col){ NULL, "UNIT/CONTAINER/COMMAND", true, w_group };
		break;
	case CW_BY_UNIT: c[n++] = (struct out_col){ "systemd_unit", "UNIT", true, w_name }; break;
	case CW_BY_CONTAINER:
		c[n++] = (struct out_col){ "container_id", NULL, false, w_name };
		c[n++] = (struct out_col){ "container_runtime", NULL, false, w_extra };
		c[n++] = (struct out_col){ NULL, "CONTAINER", true, w_group };
		break;
	case CW_BY_POD:
		c[n++] = (struct out_col){ "pod_uid", NULL, false, w_name };
		c[n++] = (struct out_col){ "pod_qos", NULL, false, w_extra };
		c[n++] = (struct out_col){ NULL, "POD", true, w_group };
		break;
	case CW_BY_NETNS:
		c[n++] = (struct out_col){ "netns", NULL, false, w_netns };
		c[n++] = (struct out_col){ "netns_name", NULL, false, w_name };
		c[n++] = (struct out_col){ NULL, "NETNS", true, w_group };
		break;
	case CW_BY_PEER: c[n++] = (struct out_col){ "peer", "PEER", true, w_name }; break;
	case CW_BY_LOCAL_PORT: c[n++] = (struct out_col){ "local_port", "LOCAL-PORT", false, w_name }; break;
	}
	memcpy(c + n, watch_tail, sizeof(watch_tail));
	n += sizeof(watch_tail) / sizeof(watch_tail[0]);
	if (tty)
		c[n++] = (struct out_col){ NULL, "HISTORY", true, w_spark };
	return n;
}

struct watch_opts {
	uint64_t interval_ms, stuck_ms;
	unsigned long count;
	bool json, tty;
	enum cw_group_by by;
	struct selection sel;
	struct cw_census_opts co;     /* the namespaces; states and owners set per round */
};

static void clock_str(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

/* Non-terminal: one line per interval. */
static void print_line(struct out *o, const struct watch_opts *wo, const struct cw_watch *w)
{
	char t[16], age[64], comm[OUT_NAME_LEN];
	size_t n = cw_watch_count(w);
	struct wview wv = { w, wo->by, NULL };

	clock_str(t, sizeof(t));
	out_printf(o, "%s", t);
	if (!n)
		out_printf(o, " no CLOSE_WAIT sockets");
	for (size_t i = 0; i < n; i++) {
		const struct cw_watch_row *row = cw_watch_row(w, i);

		struct out_val key = { 0 };

		if (wo->by == CW_BY_PROCESS) {
			out_printf(o, "%s %s[%d]", i ? " |" : "", out_name(row->comm, comm, sizeof(comm)),
				   (int)row->pid);
		} else {
			w_group(&wv, i, &key);
			out_printf(o, "%s %s", i ? " |" : "", out_name(key.s, comm, sizeof(comm)));
		}
		out_printf(o, " close-wait=%zu growth=%+.1f/min oldest=%s verdict=%s", row->close_wait,
			   row->growth_per_min, age_str(&row->oldest, age, sizeof(age)),
			   cw_verdict_name(row->verdict));
	}
	out_printf(o, "\n");
}

static void print_json(struct out *o, const struct watch_opts *wo, const struct cw_census *c,
		       const struct cw_watch *w, const struct wcounts *k)
{
	static const char *const by_name[] = { "process", "peer", "local-port", "auto",
						"unit", "container", "pod", "netns" };
	struct wview wv = { w, wo->by, k };
	struct out_col cols[16];
	size_t n = watch_columns(wo->by, false, cols);

	/* per process: trace's counters (null without them) */
	if (wo->by == CW_BY_PROCESS) {
		cols[n++] = (struct out_col){ "close_wait_entered", NULL, false, w_trace_count, 0 };
		cols[n++] = (struct out_col){ "close_wait_left", NULL, false, w_trace_count, 1 };
	}

	out_json_open(o, NULL, '{');
	out_json_int(o, "version", 1);
	out_json_int(o, "time_ms", (long long)cw_census_time_ms(c));
	if (wo->by == CW_BY_PROCESS) {
		out_json_rows(o, "processes", cols, n, &wv, cw_watch_count(w));
	} else {
		out_json_str(o, "by", by_name[wo->by]);
		out_json_rows(o, "groups", cols, n, &wv, cw_watch_count(w));
	}
	out_json_end(o);
}

/* Terminal: redraw in place. The frame is built in memory, then every line
 * is cleared to its end and the screen below it, so nothing blinks. */
static void print_frame(struct out *o, const struct watch_opts *wo, const struct cw_watch *w)
{
	size_t n = cw_watch_count(w);
	char t[16], iv[32], st[32], *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct wview wv = { w, wo->by, NULL };
	struct out_col cols[16];
	size_t ncols = watch_columns(wo->by, true, cols);
	struct out *f;

	if (!mem)
		return;
	f = out_open(mem);
	clock_str(t, sizeof(t));
	out_printf(f, "closewait watch  every %s, stuck after %s  %s  (q quits)\n\n",
		   out_ms_str(wo->interval_ms, iv, sizeof(iv)), out_ms_str(wo->stuck_ms, st, sizeof(st)), t);
	if (n)
		out_table(f, cols, ncols, &wv, n);
	else
		out_printf(f, "no CLOSE_WAIT sockets\n");
	out_close(f);
	fclose(mem);
	out_printf(o, "\033[H");
	for (char *line = text, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		out_printf(o, "%.*s\033[K\n", (int)(nl - line), line);
	}
	out_printf(o, "\033[J");
	free(text);
}

static void parse_args(int argc, char **argv, struct watch_opts *wo)
{
	int opt;

	wo->interval_ms = 2000;
	wo->stuck_ms = 60000;
	wo->by = CW_BY_PROCESS;
	selection_init(&wo->sel);
	optind = 1;
	opterr = 0;
	while ((opt = cli_getopt("watch", argc, argv, ":h", watch_options, watch_help)) != -1) {
		if (selection_opt("watch", &wo->sel, opt, optarg))
			continue;
		switch (opt) {
		case OPT_BY: wo->by = opt_group_by("watch", optarg); break;
		case OPT_INTERVAL: wo->interval_ms = opt_duration("watch", "--interval", optarg, false); break;
		case OPT_STUCK: wo->stuck_ms = opt_duration("watch", "--stuck-after", optarg, false); break;
		case OPT_COUNT: wo->count = opt_ulong("watch", "--count", optarg, 1, 1000000000); break;
		case OPT_JSON: wo->json = true; break;
		}
	}
	if (wo->interval_ms < 100)
		cli_usage_exit2("watch", "--interval: at least 100ms");
	if (wo->sel.f.states && wo->sel.f.states != CW_STATE_BIT(CW_TCP_CLOSE_WAIT))
		cli_usage_exit2("watch", "--state: watch follows CLOSE_WAIT sockets only");
	cw_census_opts_init(&wo->co);
	selection_census(&wo->sel, &wo->co);
}

/* Waits until deadline; false if the user quit (q, Ctrl-C, a signal). */
static bool wait_until(uint64_t deadline, bool keys)
{
	while (!watch_stop) {
		struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
		int ms = cli_ms_until(deadline), n;

		if (ms == 0)
			return true;
		n = poll(&p, keys ? 1 : 0, ms);
		if (n > 0 && keys) {
			char c;

			if (read(STDIN_FILENO, &c, 1) <= 0 || c == 'q' || c == 'Q' || c == 3)
				return false;
		}
	}
	return false;
}

/* Whether watch said that closewait trace's pins are not readable, and
 * that processes could not be read. */
static bool pins_said, unreadable_said;

static int one_round(struct cw_watch *w, struct out *o, const struct watch_opts *wo)
{
	struct cw_census_opts co = wo->co;
	struct cw_entry_time *entry_times;
	struct wcounts k = { 0 };
	struct cw_census *c;
	char note[320];
	int err;

	co.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	co.owners = true;
	/* exact CLOSE_WAIT ages from a running closewait trace --pin, as scan */
	pin_ages_once("watch", &co, &entry_times, &pins_said);
	err = cw_census_take(&co, &c);
	free(entry_times);
	if (err)
		return err;
	if (caps_unreadable_first(c, &unreadable_said, note, sizeof(note)))
		cli_warn("watch", "%s", note);
	if (wo->json && !wo->tty && wo->by == CW_BY_PROCESS) {
		k.has = pin_counts(&k.v, &k.n) == 0;
		if (k.n)
			qsort(k.v, k.n, sizeof(*k.v), pid_cmp);
	}
	err = cw_watch_update(w, c);
	if (!err) {
		if (wo->tty)
			print_frame(o, wo, w);
		else if (wo->json)
			print_json(o, wo, c, w, &k);
		else
			print_line(o, wo, w);
		out_flush(o);
	}
	free(k.v);
	cw_census_free(c);
	return err;
}

int cmd_watch(int argc, char **argv)
{
	struct watch_opts wo = { 0 };
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: poll() returns */
	struct termios saved, raw;
	bool keys = false;
	struct cw_watch *w;
	struct out *o;
	int err = 0, out_err;

	parse_args(argc, argv, &wo);
	wo.tty = isatty(STDOUT_FILENO);
	if (cw_watch_new(60000, wo.stuck_ms, &w) || cw_watch_set_by(w, wo.by) ||
	    cw_watch_set_filter(w, &wo.sel.f))
		cli_fail_exit2("watch", "out of memory");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (wo.tty && isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &saved)) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		keys = !tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	owners_src_open("watch", &wo.co, true); /* loaded once, read each round */
	o = out_open(stdout);
	out_json_one_line(o, true);
	if (wo.tty)
		out_printf(o, "\033[?1049h\033[?25l"); /* alternate screen, no cursor */
	for (unsigned long round = 0; !watch_stop && (!wo.count || round < wo.count); round++) {
		uint64_t start = cli_now_ms();

		err = one_round(w, o, &wo);
		if (err || (wo.count && round + 1 == wo.count) || !wait_until(cli_after(start, wo.interval_ms), keys))
			break;
	}
	if (wo.tty)
		out_printf(o, "\033[?25h\033[?1049l");
	out_err = out_close(o);
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	cw_watch_free(w);
	owners_src_close(&wo.co);
	if (err)
		cli_fail_exit2("watch", "%s", census_strerror(&wo.co, err));
	if (out_err)
		cli_fail_exit2("watch", "writing output: %s", out_strerror(out_err));
	return 0;
}
