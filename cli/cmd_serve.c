/* closewait serve: the uppercase echo server, cured of its CLOSE_WAIT leak
 * (it closes on the peer's FIN, on errors, on timeouts; abortive close on request). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "closewait/duration.h"
#include "closewait/server.h"
#include "serve.h"

enum {
	OPT_PORT = OPT_POLICY_LAST + 1,
	OPT_BIND,
	OPT_BACKLOG,
	OPT_MAX_CONNS,
	OPT_QUIET,
	OPT_STATS,
	OPT_LEAK,
	OPT_DRAIN,
	OPT_WORKERS,
	OPT_HELP,
};

static const struct option serve_options[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "backlog", required_argument, NULL, OPT_BACKLOG },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "leak", no_argument, NULL, OPT_LEAK },
	{ "drain", required_argument, NULL, OPT_DRAIN },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "help", no_argument, NULL, OPT_HELP },
	POLICY_LONG_OPTIONS("read-idle"),
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f, const struct cw_policy *p)
{
	fprintf(f,
		"Usage: closewait serve [OPTIONS]\n"
		"       closewait serve --leak [--port N] [--bind ADDR] [--keepalive I:I:C] [--quiet]\n"
		"\n"
		"The uppercase echo server: every byte a-z comes back as A-Z, every other\n"
		"byte unchanged. Unlike the classic leaky one it closes each connection when\n"
		"the peer closes (read() == 0) or fails, so it leaves no CLOSE_WAIT behind.\n"
		"\n"
		"  --port N              port to listen on (default 8000)\n"
		"  --bind ADDR           IPv4 or IPv6 address; repeat for several (default all:\n"
		"                        0.0.0.0 and ::)\n"
		"  --backlog N           listen backlog, clamped by net.core.somaxconn (default 4096)\n"
		"  --max-conns N         close connections over N at once, reason limit (default 0:\n"
		"                        no limit)\n"
		"  --drain D             on SIGTERM/SIGINT: let connections finish for D, then\n"
		"                        abort the rest; a second signal aborts at once (default 10s)\n"
		"  --workers N           N worker processes (1-%d), each with its own loop and an\n"
		"                        SO_REUSEPORT listener, supervised: a worker that dies is\n"
		"                        restarted; SIGTERM drains them all; --stats sums the\n"
		"                        counters of workers that exit (default 0: one process)\n"
		"  --quiet               no per-connection log lines\n"
		"  --stats               on exit, print how many connections closed for each reason\n"
		"  --leak                run the classic leaky server instead, on purpose: blocking\n"
		"                        accept, one read of up to 80 bytes, reply, and never\n"
		"                        close(); backlog 20.\n"
		"                        For demonstrations and tests: every client that disconnects\n"
		"                        leaves a socket in CLOSE_WAIT.\n"
		"  --help                this text\n"
		"\n", SERVE_MAX_WORKERS);
	policy_help(f, p, "read-idle D");
}

struct serve_args {
	bool help, leak;
	const char *not_leak; /* an option the leaky server has no use for */
};

static void serve_option(struct serve *s, struct serve_args *a, int opt, char **argv)
{
	switch (opt) {
	case OPT_PORT:
		s->port = opt_port("serve", "--port", optarg, false);
		break;
	case OPT_BIND:
		opt_addr("serve", "--bind", optarg);
		if (s->nbinds == SERVE_MAX_BINDS)
			cli_usage_exit2("serve", "--bind: at most %d addresses", SERVE_MAX_BINDS);
		s->binds[s->nbinds++] = optarg;
		break;
	case OPT_BACKLOG:
		s->cfg.backlog = (int)opt_ulong("serve", "--backlog", optarg, 1, 65535);
		a->not_leak = "backlog";
		break;
	case OPT_MAX_CONNS:
		s->cfg.max_conns = (unsigned)opt_ulong("serve", "--max-conns", optarg, 0, 100000000);
		a->not_leak = "max-conns";
		break;
	case OPT_DRAIN:
		s->drain_ms = opt_duration("serve", "--drain", optarg, true);
		a->not_leak = "drain";
		break;
	case OPT_WORKERS:
		s->workers = (unsigned)opt_ulong("serve", "--workers", optarg, 1, SERVE_MAX_WORKERS);
		a->not_leak = "workers";
		break;
	case OPT_QUIET:
		s->quiet = true;
		break;
	case OPT_STATS:
		s->stats = true;
		a->not_leak = "stats";
		break;
	case OPT_LEAK:
		a->leak = true;
		break;
	case OPT_HELP:
		a->help = true;
		break;
	default:
		cli_bad_option("serve", opt, argv);
	}
}

static int run_leak(const struct serve *s, const char *not_leak)
{
	struct leak_opts leak = { 0 };

	if (not_leak)
		cli_usage_exit2("serve", "--%s does not apply to --leak (the leaky server has no such cure)",
				not_leak);
	if (s->nbinds > 1)
		cli_usage_exit2("serve", "--leak listens on one address only");
	leak.bind = s->nbinds ? s->binds[0] : NULL;
	leak.port = s->port;
	leak.quiet = s->quiet;
	leak.keepalive = s->cfg.policy.keepalive;
	leak.keepidle_s = s->cfg.policy.keepidle_s;
	leak.keepintvl_s = s->cfg.policy.keepintvl_s;
	leak.keepcnt = s->cfg.policy.keepcnt;
	return serve_leak(&leak);
}

int cmd_serve(int argc, char **argv)
{
	struct serve s = { .port = 8000, .drain_ms = 10000 };
	struct serve_args a = { 0 };
	struct policy_args pa = { "serve", "read-idle", &s.cfg.policy, "" };
	int opt, idx;

	cw_server_config_init(&s.cfg);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", serve_options, &idx)) != -1) {
		if (!policy_opt(&pa, opt, optarg))
			serve_option(&s, &a, opt, argv);
		else if (opt != OPT_KEEPALIVE)
			a.not_leak = serve_options[idx].name;
	}
	if (optind < argc)
		cli_usage_exit2("serve", "unexpected argument \"%s\"", argv[optind]);
	if (a.help) {
		usage(stdout, &s.cfg.policy);
		return 0;
	}
	if (a.leak)
		return run_leak(&s, a.not_leak);
	/* stdout may be a pipe that goes away; SIGPIPE must not end the server. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return s.workers ? serve_workers(&s) : serve_run(&s, -1, -1);
}
