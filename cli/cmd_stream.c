/* closewait client --stream: one connection kept forever, a line sent every
 * --interval, each acknowledged by its uppercase echo; reconnects with
 * backoff through cw_dialer, which never holds more than one socket. Lines
 * not acknowledged when a connection dies are sent again on the next one
 * (at-least-once). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "closewait/addr.h"
#include "closewait/dialer.h"
#include "closewait/duration.h"
#include "stream.h"

#define WINDOW 65536      /* most lines in flight (sent, not yet acknowledged) */
#define FINISH_MS 2000    /* on SIGINT: how long to wait for acknowledgements */
#define TICK_MIN_MS 1     /* fastest sending tick; faster rates send several lines a tick */

struct stream {
	struct stream_opts o;
	struct cw_loop *loop;
	struct cw_dialer *dialer;
	struct cw_timer *tick, *finish;
	uint64_t start;
	uint64_t next_seq;         /* the next new line */
	uint64_t fifo[WINDOW];     /* lines sent and not acknowledged, oldest first */
	unsigned head, count;
	unsigned sent_here;        /* how many of them went out on the current connection */
	double due;                /* lines owed by the rate (fractions carry over) */
	uint64_t last_tick;
	char partial[64];          /* a reply line split across reads */
	size_t plen;
	/* the summary */
	uint64_t sent, acked, resent, unexpected, connects, last_ack, longest_gap;
	bool stopping;
};

#define STATUS(st, ...)                                                                            \
	do {                                                                                       \
		if (!(st)->o.quiet) {                                                              \
			stream_stamp((st)->start);                                                 \
			printf(__VA_ARGS__);                                                       \
			putchar('\n');                                                             \
		}                                                                                  \
	} while (0)

static int send_line(struct cw_conn *c, uint64_t seq)
{
	char line[40];
	int n = snprintf(line, sizeof(line), "line %" PRIu64 "\n", seq);

	return cw_conn_write(c, line, (size_t)n);
}

/* At-least-once: what a dead connection took but never answered goes out
 * again on the next one, first, as far as the connection takes it now; the
 * rest follows on later ticks (never more than out_cap is queued). */
static void resend(struct stream *st, struct cw_conn *c)
{
	while (st->sent_here < st->count) {
		if (send_line(c, st->fifo[(st->head + st->sent_here) % WINDOW]) < 0)
			break;
		st->sent_here++;
		st->resent++;
	}
}

static void on_tick(struct cw_timer *t, void *arg)
{
	struct stream *st = arg;
	struct cw_conn *c = cw_dialer_conn(st->dialer);
	uint64_t now = cli_now_ms();

	if (st->stopping)
		return;
	if (c)
		resend(st, c);
	st->due += st->o.rate > 0 ? st->o.rate * (double)(now - st->last_tick) / 1000.0 : 1.0;
	st->last_tick = now;
	/* Lines are sent only while connected: each one sent is one the
	 * summary can account for. Nothing is banked while away, and at most
	 * a second's worth while the window is full. */
	while (c && st->sent_here == st->count && st->due >= 1.0 && st->count < WINDOW) {
		if (send_line(c, st->next_seq) < 0)
			break;
		st->fifo[(st->head + st->count++) % WINDOW] = st->next_seq++;
		st->sent_here++;
		st->sent++;
		st->due -= 1.0;
	}
	if (!c && st->due > 1.0)
		st->due = 1.0;
	if (st->due > (st->o.rate > 1.0 ? st->o.rate : 1.0))
		st->due = st->o.rate > 1.0 ? st->o.rate : 1.0;
	cw_timer_start(t, st->o.interval_ms);
}

static void on_ack(struct stream *st, const char *line)
{
	uint64_t seq, now;
	char *end;

	if (!*line)
		return; /* an empty line: a heartbeat's echo */
	if (strncmp(line, "LINE ", 5) != 0) {
		st->unexpected++;
		return;
	}
	seq = strtoull(line + 5, &end, 10);
	if (*end || !st->count || st->fifo[st->head] != seq) {
		st->unexpected++;
		return;
	}
	st->head = (st->head + 1) % WINDOW;
	st->count--;
	if (st->sent_here)
		st->sent_here--;
	st->acked++;
	now = cli_now_ms();
	if (now - st->last_ack > st->longest_gap)
		st->longest_gap = now - st->last_ack;
	st->last_ack = now;
	if (st->stopping && !st->count)
		cw_loop_stop(st->loop);
}

static void on_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	struct stream *st = arg;

	(void)c;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			st->partial[st->plen] = '\0';
			on_ack(st, st->partial);
			st->plen = 0;
		} else if (st->plen < sizeof(st->partial) - 1) {
			st->partial[st->plen++] = (char)data[i];
		}
	}
}

static void on_open(struct cw_conn *c, void *arg)
{
	struct stream *st = arg;
	char local[CW_ADDRSTRLEN], peer[CW_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	getsockname(cw_conn_fd(c), (struct sockaddr *)&ss, &sl);
	cw_addr_port_str(&ss, local, sizeof(local));
	cw_dialer_peer_str(st->dialer, peer, sizeof(peer));
	st->connects++;
	st->plen = 0;
	STATUS(st, "connected to %s from %s%s", peer, local, st->connects > 1 ? " (reconnected)" : "");
	st->sent_here = 0;
	if (st->count)
		STATUS(st, "sending the %u unacknowledged again", st->count);
	resend(st, c);
}

static const char *why(enum cw_close_reason r)
{
	switch (r) {
	case CW_CLOSE_EOF: return "the server closed the connection";
	case CW_CLOSE_RESET: return "the server reset the connection";
	case CW_CLOSE_READ_IDLE: return "nothing received within --recv-timeout";
	case CW_CLOSE_KEEPALIVE: return "keepalive probes went unanswered";
	case CW_CLOSE_USER_TIMEOUT: return "sent data went unacknowledged past the user timeout";
	case CW_CLOSE_IDLE: return "no traffic within --idle";
	case CW_CLOSE_WRITE_STALL: return "the server stopped reading";
	default: return NULL;
	}
}

static void on_close(struct cw_conn *c, enum cw_close_reason r, int err, void *arg)
{
	struct stream *st = arg;
	const char *w = why(r);

	(void)c;
	if (st->stopping)
		return;
	STATUS(st, "closed: %s%s%s%s; unacknowledged: %u", cw_close_reason_name(r), w ? " (" : "",
	       w ? w : "", w ? ")" : "", st->count);
	(void)err;
}

static void on_retry(struct cw_dialer *d, int err, uint64_t delay, void *arg)
{
	struct stream *st = arg;
	char where[CW_ADDRSTRLEN];

	if (st->stopping)
		return;
	cw_dialer_peer_str(d, where, sizeof(where));
	if (err == EADDRNOTAVAIL && st->o.bind)
		STATUS(st, "connect to %s from %s failed: %s (EADDRNOTAVAIL: that local address and port "
			   "still have a connection to this server, in TIME_WAIT here); retrying in %" PRIu64 " ms",
		       where, st->o.bind, strerror(err), delay);
	else if (err == EADDRINUSE && st->o.bind)
		STATUS(st, "cannot bind %s: %s (EADDRINUSE: a listener or another socket holds it); "
			   "retrying in %" PRIu64 " ms", st->o.bind, strerror(err), delay);
	else if (err == EMFILE || err == ENFILE)
		STATUS(st, "cannot open a socket: %s (out of file descriptors: see ulimit -n); "
			   "retrying in %" PRIu64 " ms", strerror(err), delay);
	else if (err)
		STATUS(st, "connect to %s failed: %s; retrying in %" PRIu64 " ms", where,
		       err == ETIMEDOUT ? "timed out" : strerror(err), delay);
	else
		STATUS(st, "retrying in %" PRIu64 " ms", delay);
	fflush(stdout);
}

static void on_finish(struct cw_timer *t, void *arg)
{
	(void)t;
	cw_loop_stop(((struct stream *)arg)->loop);
}

static void on_signal(struct cw_loop *loop, int signo, void *arg)
{
	struct stream *st = arg;

	(void)signo;
	if (st->stopping || !st->count || !cw_dialer_conn(st->dialer)) {
		st->stopping = true; /* no line may leave after this */
		cw_loop_stop(loop);
		return;
	}
	/* Give what is in flight a moment to be acknowledged. */
	st->stopping = true;
	cw_timer_start(st->finish, FINISH_MS);
}

static void summary(struct stream *st)
{
	struct cw_dialer_stats ds;

	cw_dialer_stats(st->dialer, &ds);
	printf("sent %" PRIu64 " lines, acknowledged %" PRIu64 " (%" PRIu64 " unacknowledged), resent %" PRIu64
	       ", reconnects %" PRIu64 ", connect failures %" PRIu64 ", longest gap %" PRIu64 " ms\n",
	       st->sent, st->acked, (uint64_t)st->count, st->resent,
	       st->connects ? st->connects - 1 : 0, ds.failures, st->longest_gap);
	if (st->unexpected)
		printf("unexpected replies: %" PRIu64 "\n", st->unexpected);
}

static int stream_run(const struct stream_opts *o, const struct cw_policy *p)
{
	static struct stream st; /* one per process; the window is large */
	struct cw_dialer_config cfg;
	int err, rc = 1;

	st.o = *o;
	st.start = st.last_ack = st.last_tick = cli_now_ms();
	cw_dialer_config_init(&cfg);
	cfg.host = o->host;
	cfg.port = o->port;
	cfg.bind = o->bind;
	cfg.connect_timeout_ms = o->connect_timeout_ms;
	cfg.backoff_min_ms = o->backoff_min_ms;
	cfg.backoff_max_ms = o->backoff_max_ms;
	cfg.policy = *p;
	cfg.ops.on_open = on_open;
	cfg.ops.on_data = on_data;
	cfg.ops.on_close = on_close;
	cfg.on_retry = on_retry;
	cfg.arg = &st;
	if ((err = cw_loop_new(&st.loop)))
		cli_fail_exit1("client", "cannot create the event loop: %s", strerror(-err));
	err = cw_dialer_new(st.loop, &cfg, &st.dialer);
	if (err == -ENOENT)
		cli_fail_exit1("client", "cannot resolve \"%s\"", o->host);
	if (err)
		cli_fail_exit1("client", "cannot set up the connection: %s", strerror(-err));
	if (cw_timer_new(st.loop, on_tick, &st, &st.tick) || cw_timer_new(st.loop, on_finish, &st, &st.finish) ||
	    cw_loop_signal(st.loop, SIGINT, on_signal, &st) || cw_loop_signal(st.loop, SIGTERM, on_signal, &st)) {
		cli_warn("client", "cannot set up timers and signals");
		goto out;
	}
	cw_timer_start(st.tick, o->interval_ms);
	cw_dialer_start(st.dialer);
	err = cw_loop_run(st.loop);
	if (err)
		cli_warn("client", "event loop failed: %s", strerror(-err));
	else
		rc = 0;
	cw_dialer_stop(st.dialer);
	summary(&st);
out:
	cw_timer_free(st.tick);
	cw_timer_free(st.finish);
	cw_dialer_free(st.dialer);
	cw_loop_free(st.loop);
	return rc;
}

enum {
	OPT_HOST = OPT_POLICY_LAST + 1,
	OPT_PORT,
	OPT_INTERVAL,
	OPT_RATE,
	OPT_BIND,
	OPT_BACKOFF,
	OPT_CONNECT_TIMEOUT,
	OPT_LEAK,
	OPT_QUIET,
	OPT_STREAM,
	OPT_HELP,
};

static const struct option stream_options[] = {
	{ "host", required_argument, NULL, OPT_HOST },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "backoff", required_argument, NULL, OPT_BACKOFF },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "leak", no_argument, NULL, OPT_LEAK },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "stream", no_argument, NULL, OPT_STREAM },
	{ "help", no_argument, NULL, OPT_HELP },
	POLICY_LONG_OPTIONS("recv-timeout"),
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f, const struct cw_policy *p)
{
	fprintf(f,
		"Usage: closewait client --stream [OPTIONS]\n"
		"\n"
		"Keeps one connection to the server and streams lines (\"line N\") through it;\n"
		"each is acknowledged by its uppercase echo. When the connection breaks it\n"
		"reconnects with exponential backoff, closing the old socket first: it never\n"
		"holds more than one. Lines not acknowledged when a connection dies are sent\n"
		"again after the reconnect (at-least-once). One status line per connection\n"
		"event; on SIGINT or SIGTERM a summary, exit 0.\n"
		"\n"
		"  --host H              server address or name (default 127.0.0.1)\n"
		"  --port N              server port (default 8000)\n"
		"  --interval D          a line every D (default 1s)\n"
		"  --rate N/s            N lines per second instead (e.g. 500/s)\n"
		"  --bind ADDR[:PORT]    fixed local address (SO_REUSEADDR). Reusing one local\n"
		"                        port across reconnects: with TCP timestamps on it reconnects\n"
		"                        at once; with them off, a TIME_WAIT left on the server's\n"
		"                        side still lets it (the server accepts a SYN with a higher\n"
		"                        sequence number), one left on this side makes connect\n"
		"                        fail with EADDRNOTAVAIL until it expires (60 s): reported,\n"
		"                        and the backoff goes on\n"
		"  --backoff MIN:MAX     reconnect delays: the n-th is drawn from [MIN, min(MAX,\n"
		"                        MIN*2^n)]; back to MIN after a completed exchange\n"
		"                        (default 100ms:30s)\n"
		"  --connect-timeout D   give up a connect after D (default 5s)\n"
		"  --leak                the classic leaky client, on purpose: reconnect without\n"
		"                        closing the old socket, which then sits in CLOSE_WAIT\n"
		"                        (for demonstrations).\n"
		"                        A blocking loop that takes --host, --port, --interval or\n"
		"                        --rate, --backoff and --quiet; any other option is an error\n"
		"  --quiet               no status lines, only the summary\n"
		"  --help                this text\n"
		"\n"
		"Its graceful close reads what is there, shuts down its side and closes at once\n"
		"(data the server sends after that draws an RST); the server's FIN closes the\n"
		"connection at once. So serve's --linger and --half-close have no use here.\n"
		"\n");
	policy_help_dialer(f, p, "recv-timeout D");
}

static void parse_backoff(const char *arg, struct stream_opts *o)
{
	char min[32];
	const char *colon = strchr(arg, ':');
	size_t n = colon ? (size_t)(colon - arg) : 0;

	if (!colon || n == 0 || n >= sizeof(min))
		cli_usage_exit2("client", "--backoff: invalid value \"%s\" (MIN:MAX, e.g. 100ms:30s)", arg);
	memcpy(min, arg, n);
	min[n] = '\0';
	o->backoff_min_ms = opt_duration("client", "--backoff", min, false);
	o->backoff_max_ms = opt_duration("client", "--backoff", colon + 1, false);
	if (o->backoff_min_ms > o->backoff_max_ms)
		cli_usage_exit2("client", "--backoff: MIN is larger than MAX in \"%s\"", arg);
}

struct stream_args {
	bool help, leak, interval;
	const char *not_leak;   /* an option the leaky client has no use for */
	const char *not_stream; /* an option a dialer has no use for (it never lingers) */
};

static void stream_option(struct stream_opts *o, struct stream_args *a, int opt, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	switch (opt) {
	case OPT_HOST:
		if (!*optarg)
			cli_usage_exit2("client", "--host: empty host");
		o->host = optarg;
		break;
	case OPT_PORT:
		o->port = opt_port("client", "--port", optarg, false);
		break;
	case OPT_INTERVAL:
		o->interval_ms = opt_duration("client", "--interval", optarg, false);
		a->interval = true;
		break;
	case OPT_RATE:
		if (cw_rate_parse(optarg, &o->rate))
			cli_usage_exit2("client", "--rate: invalid rate \"%s\" (N/s with N > 0, e.g. 100/s)", optarg);
		break;
	case OPT_BIND:
		if (cw_addr_parse(optarg, &ss, &sl, &(bool){ false }))
			cli_usage_exit2("client", "--bind: invalid address \"%s\" (ADDR, ADDR:PORT or [v6]:PORT)", optarg);
		o->bind = optarg;
		a->not_leak = "bind";
		break;
	case OPT_BACKOFF:
		parse_backoff(optarg, o);
		break;
	case OPT_CONNECT_TIMEOUT:
		o->connect_timeout_ms = opt_duration("client", "--connect-timeout", optarg, false);
		a->not_leak = "connect-timeout";
		break;
	case OPT_LEAK:
		a->leak = true;
		break;
	case OPT_QUIET:
		o->quiet = true;
		break;
	case OPT_STREAM:
		break;
	case OPT_HELP:
		a->help = true;
		break;
	default:
		cli_bad_option("client", opt, argv);
	}
}

int cmd_stream(int argc, char **argv)
{
	struct stream_opts o = {
		.host = "127.0.0.1", .port = 8000, .interval_ms = 1000,
		.backoff_min_ms = 100, .backoff_max_ms = 30000, .connect_timeout_ms = 5000,
	};
	struct stream_args a = { 0 };
	struct cw_policy p;
	struct policy_args pa = { "client", "recv-timeout", &p, "" };
	int opt, idx;

	cw_policy_init(&p);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", stream_options, &idx)) != -1) {
		if (!policy_opt(&pa, opt, optarg)) {
			stream_option(&o, &a, opt, argv);
			continue;
		}
		a.not_leak = stream_options[idx].name;
		if (opt == OPT_LINGER || opt == OPT_HALF_CLOSE)
			a.not_stream = stream_options[idx].name;
	}
	if (a.help) {
		usage(stdout, &p);
		return 0;
	}
	if (optind < argc)
		cli_usage_exit2("client", "--stream takes no MESSAGE (it sends numbered lines): \"%s\"", argv[optind]);
	if (a.leak && a.not_leak)
		cli_usage_exit2("client", "--%s does not apply to --leak (the leaky client takes only --host, "
				"--port, --interval or --rate, --backoff and --quiet)", a.not_leak);
	if (a.not_stream)
		cli_usage_exit2("client", "--%s does not apply to client --stream (%s)", a.not_stream,
				strcmp(a.not_stream, "linger") == 0
					? "its close does not wait for the server's FIN: it shuts down its side and closes at once"
					: "the server's FIN closes the connection at once, dropping what is queued");
	if (a.interval && o.rate > 0)
		cli_usage_exit2("client", "--interval and --rate: choose one");
	if (o.rate > 0) {
		double ms = 1000.0 / o.rate;

		o.interval_ms = ms < TICK_MIN_MS ? TICK_MIN_MS : (uint64_t)ms;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return a.leak ? stream_leak(&o) : stream_run(&o, &p);
}
