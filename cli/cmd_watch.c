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
#include "out.h"

enum { OPT_INTERVAL = 0x300, OPT_STUCK, OPT_COUNT, OPT_JSON, OPT_HELP };

static const struct option watch_options[] = {
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
	printf("Usage: closewait watch [--interval D] [--stuck-after D] [--count N] [--json]\n\n"
	       "Takes a census of CLOSE_WAIT sockets every interval and shows, per process,\n"
	       "their count, its growth per minute (over the last minute), the oldest age\n"
	       "(narrowed by what watch saw: a socket absent from the previous census entered\n"
	       "CLOSE_WAIT since) and a verdict:\n"
	       "  leaking   the count grew and new sockets outlived an interval\n"
	       "  stuck     not growing, but sockets older than --stuck-after\n"
	       "  ok        none, or only young ones that go away\n\n"
	       "  --interval D      between censuses (default 2s)\n"
	       "  --stuck-after D   age that makes a socket stuck (default 60s)\n"
	       "  --count N         stop after N censuses (default: until q or Ctrl-C)\n"
	       "  --json            when not on a terminal: one JSON document per line\n"
	       "On a terminal it redraws in place; q or Ctrl-C quits.\n");
}

#define ROW(ctx, r) cw_watch_row((const struct cw_watch *)(ctx), r)

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

static void w_verdict(void *ctx, size_t r, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = cw_verdict_name(ROW(ctx, r)->verdict);
}

static const struct out_col watch_cols[] = {
	{ "pid", "PID", false, w_pid },
	{ "command", "COMMAND", true, w_comm },
	{ "close_wait", "CLOSE-WAIT", false, w_count },
	{ "growth_per_min", "GROWTH/MIN", false, w_growth },
	{ "oldest", "OLDEST", false, w_oldest },
	{ "verdict", "VERDICT", true, w_verdict },
};
#define NWATCH_COLS (sizeof(watch_cols) / sizeof(watch_cols[0]))

struct watch_opts {
	uint64_t interval_ms, stuck_ms;
	unsigned long count;
	bool json, tty;
};

static void clock_str(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

/* Non-terminal: one line per interval. */
static void print_line(struct out *o, const struct cw_watch *w)
{
	char t[16], age[64], comm[OUT_NAME_LEN];
	size_t n = cw_watch_count(w);

	clock_str(t, sizeof(t));
	out_printf(o, "%s", t);
	if (!n)
		out_printf(o, " no CLOSE_WAIT sockets");
	for (size_t i = 0; i < n; i++) {
		const struct cw_watch_row *row = cw_watch_row(w, i);

		out_printf(o, "%s %s[%d] close-wait=%zu growth=%+.1f/min oldest=%s verdict=%s",
			   i ? " |" : "", out_name(row->comm, comm, sizeof(comm)), (int)row->pid, row->close_wait,
			   row->growth_per_min, age_str(&row->oldest, age, sizeof(age)),
			   cw_verdict_name(row->verdict));
	}
	out_printf(o, "\n");
}

static void print_json(struct out *o, const struct cw_census *c, const struct cw_watch *w)
{
	out_json_open(o, NULL, '{');
	out_json_int(o, "version", 1);
	out_json_int(o, "time_ms", (long long)cw_census_time_ms(c));
	out_json_rows(o, "processes", watch_cols, NWATCH_COLS, (void *)w, cw_watch_count(w));
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
	struct out *f;

	if (!mem)
		return;
	f = out_open(mem);
	clock_str(t, sizeof(t));
	out_printf(f, "closewait watch  every %s, stuck after %s  %s  (q quits)\n\n",
		   out_ms_str(wo->interval_ms, iv, sizeof(iv)), out_ms_str(wo->stuck_ms, st, sizeof(st)), t);
	if (n)
		out_table(f, watch_cols, NWATCH_COLS, (void *)w, n);
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
	optind = 1;
	opterr = 0;
	while ((opt = cli_getopt("watch", argc, argv, ":h", watch_options, watch_help)) != -1) {
		switch (opt) {
		case OPT_INTERVAL: wo->interval_ms = opt_duration("watch", "--interval", optarg, false); break;
		case OPT_STUCK: wo->stuck_ms = opt_duration("watch", "--stuck-after", optarg, false); break;
		case OPT_COUNT: wo->count = opt_ulong("watch", "--count", optarg, 1, 1000000000); break;
		case OPT_JSON: wo->json = true; break;
		}
	}
	if (wo->interval_ms < 100)
		cli_usage_exit2("watch", "--interval: at least 100ms");
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

static int one_round(struct cw_watch *w, struct out *o, const struct watch_opts *wo)
{
	struct cw_census_opts co;
	struct cw_census *c;
	int err;

	cw_census_opts_init(&co);
	co.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	co.owners = true;
	err = cw_census_take(&co, &c);
	if (err)
		return err;
	err = cw_watch_update(w, c);
	if (!err) {
		if (wo->tty)
			print_frame(o, wo, w);
		else if (wo->json)
			print_json(o, c, w);
		else
			print_line(o, w);
		out_flush(o);
	}
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
	if (cw_watch_new(60000, wo.stuck_ms, &w))
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
	if (err)
		cli_fail_exit2("watch", "cannot read the socket table: %s", strerror(-err));
	if (out_err)
		cli_fail_exit2("watch", "writing output: %s", out_strerror(out_err));
	return 0;
}
