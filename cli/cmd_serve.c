/* closewait serve: the seed's uppercase echo server (S1), cured (S5-S8, S13). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "closewait/duration.h"
#include "closewait/server.h"

#define MAX_BINDS 16

struct serve {
	const char *binds[MAX_BINDS];
	size_t nbinds;
	uint16_t port;
	bool quiet;
	bool stats;
	uint64_t drain_ms;
	struct cw_server_config cfg;
	struct cw_loop *loop;
	struct cw_server *srv;
	int signals;
};

enum {
	OPT_PORT = OPT_POLICY_LAST + 1,
	OPT_BIND,
	OPT_BACKLOG,
	OPT_MAX_CONNS,
	OPT_QUIET,
	OPT_STATS,
	OPT_LEAK,
	OPT_DRAIN,
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
		"The seed's uppercase echo server: every byte a-z comes back as A-Z, every\n"
		"other byte unchanged. Unlike the seed it closes each connection when the\n"
		"peer closes (read() == 0) or fails, so it leaves no CLOSE_WAIT behind.\n"
		"\n"
		"  --port N              port to listen on (default 8000)\n"
		"  --bind ADDR           IPv4 or IPv6 address; repeat for several (default all:\n"
		"                        0.0.0.0 and ::)\n"
		"  --backlog N           listen backlog, clamped by net.core.somaxconn (default 4096)\n"
		"  --max-conns N         close connections over N at once, reason limit (default 0:\n"
		"                        no limit)\n"
		"  --drain D             on SIGTERM/SIGINT: let connections finish for D, then\n"
		"                        abort the rest; a second signal aborts at once (default 10s)\n"
		"  --quiet               no per-connection log lines\n"
		"  --stats               on exit, print how many connections closed for each reason\n"
		"  --leak                run the seed's buggy server instead: blocking accept, one\n"
		"                        read of up to 80 bytes, reply, and never close(); backlog 20.\n"
		"                        For demonstrations and tests: every client that disconnects\n"
		"                        leaves a socket in CLOSE_WAIT.\n"
		"  --help                this text\n"
		"\n");
	policy_help(f, p, "read-idle D");
}

static void on_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	struct serve *s = arg;

	for (size_t i = 0; i < len; i++)
		if (data[i] >= 'a' && data[i] <= 'z')
			data[i] = (uint8_t)(data[i] - 'a' + 'A');
	if (!s->quiet) {
		char peer[96];

		cw_conn_peer_str(c, peer, sizeof(peer));
		printf("received from %s\n", peer);
	}
	cw_conn_write(c, data, len);
}

static void on_close(struct cw_conn *c, enum cw_close_reason reason, int err, void *arg)
{
	struct serve *s = arg;
	char peer[96];

	if (s->quiet)
		return;
	cw_conn_peer_str(c, peer, sizeof(peer));
	if (reason == CW_CLOSE_EOF)
		printf("the other side has been closed. (%s)\n", peer);
	else if (err)
		printf("closed %s: %s (%s)\n", peer, cw_close_reason_name(reason), strerror(err));
	else
		printf("closed %s: %s\n", peer, cw_close_reason_name(reason));
}

static void on_drained(struct cw_server *srv, void *arg)
{
	struct serve *s = arg;

	(void)srv;
	cw_loop_stop(s->loop);
}

static void on_signal(struct cw_loop *loop, int signo, void *arg)
{
	struct serve *s = arg;
	struct cw_conn_stats st;
	char d[32];

	(void)loop;
	cw_server_stats(s->srv, &st);
	if (s->signals++ == 0) {
		if (!s->quiet)
			printf("%s: shutting down, draining %llu connections for at most %s\n",
			       strsignal(signo), (unsigned long long)st.active,
			       cw_duration_format(s->drain_ms, d, sizeof(d)));
	} else if (!s->quiet) {
		printf("%s again: aborting %llu connections\n", strsignal(signo),
		       (unsigned long long)st.active);
	}
	cw_server_shutdown(s->srv, s->drain_ms, on_drained, s);
}

static void print_stats(const struct serve *s)
{
	struct cw_conn_stats st;
	uint64_t total = 0;

	cw_server_stats(s->srv, &st);
	printf("connections accepted: %llu\n", (unsigned long long)st.opened);
	printf("closed by reason:\n");
	for (int r = 0; r < CW_CLOSE_REASON_MAX; r++) {
		printf("  %-20s %llu\n", cw_close_reason_name((enum cw_close_reason)r),
		       (unsigned long long)st.closed[r]);
		total += st.closed[r];
	}
	printf("  %-20s %llu\n", "total", (unsigned long long)total);
	printf("bytes in: %llu, out: %llu, most queued on one connection: %llu\n",
	       (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out,
	       (unsigned long long)st.bytes_queued_peak);
}

static int listen_all(struct serve *s)
{
	static const char *const all[] = { "0.0.0.0", "::" };
	const char *const *addrs = s->nbinds ? s->binds : all;
	size_t n = s->nbinds ? s->nbinds : 2;

	for (size_t i = 0; i < n; i++) {
		int err = cw_server_listen(s->srv, addrs[i], s->port);

		/* A host without IPv6 still serves IPv4 on the default bind. */
		if (!s->nbinds && i == 1 && (err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL))
			continue;
		if (err) {
			cli_warn("serve", "cannot listen on %s%s%s:%u: %s", strchr(addrs[i], ':') ? "[" : "",
				 addrs[i], strchr(addrs[i], ':') ? "]" : "", s->port, strerror(-err));
			return 1;
		}
	}
	return 0;
}

static int run(struct serve *s)
{
	int rc = 1, err;

	err = cw_loop_new(&s->loop);
	if (err)
		cli_fatal("serve", "cannot create the event loop: %s", strerror(-err));
	err = cw_server_new(s->loop, &s->cfg, &s->srv);
	if (err) {
		cli_warn("serve", "cannot create the server: %s", strerror(-err));
		goto out_loop;
	}
	if (listen_all(s))
		goto out_srv;
	if (cw_loop_signal(s->loop, SIGINT, on_signal, s) || cw_loop_signal(s->loop, SIGTERM, on_signal, s)) {
		cli_warn("serve", "cannot take SIGINT/SIGTERM: %s", strerror(errno));
		goto out_srv;
	}
	printf("Accepting connections ...\n");
	fflush(stdout);
	err = cw_loop_run(s->loop);
	if (err) {
		cli_warn("serve", "event loop failed: %s", strerror(-err));
		goto out_srv;
	}
	if (s->stats)
		print_stats(s);
	rc = 0;
out_srv:
	cw_server_free(s->srv);
out_loop:
	cw_loop_free(s->loop);
	return rc;
}

int cmd_serve(int argc, char **argv)
{
	struct serve s = { .port = 8000, .drain_ms = 10000 };
	struct leak_opts leak = { 0 };
	bool help = false, is_leak = false;
	const char *not_leak = NULL;
	int opt, idx;

	cw_server_config_init(&s.cfg);
	s.cfg.ops.on_data = on_data;
	s.cfg.ops.on_close = on_close;
	s.cfg.arg = &s;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", serve_options, &idx)) != -1) {
		if (policy_opt("serve", &s.cfg.policy, opt, optarg)) {
			if (opt != OPT_KEEPALIVE)
				not_leak = serve_options[idx].name;
			continue;
		}
		switch (opt) {
		case OPT_PORT:
			s.port = opt_port("serve", "--port", optarg, false);
			break;
		case OPT_BIND:
			opt_addr("serve", "--bind", optarg);
			if (s.nbinds == MAX_BINDS)
				cli_usage_error("serve", "--bind: at most %d addresses", MAX_BINDS);
			s.binds[s.nbinds++] = optarg;
			break;
		case OPT_BACKLOG:
			s.cfg.backlog = (int)opt_ulong("serve", "--backlog", optarg, 1, 65535);
			not_leak = "backlog";
			break;
		case OPT_MAX_CONNS:
			s.cfg.max_conns = (unsigned)opt_ulong("serve", "--max-conns", optarg, 0, 100000000);
			not_leak = "max-conns";
			break;
		case OPT_DRAIN:
			s.drain_ms = opt_duration("serve", "--drain", optarg, true);
			not_leak = "drain";
			break;
		case OPT_QUIET:
			s.quiet = true;
			break;
		case OPT_STATS:
			s.stats = true;
			not_leak = "stats";
			break;
		case OPT_LEAK:
			is_leak = true;
			break;
		case OPT_HELP:
			help = true;
			break;
		case ':':
			cli_usage_error("serve", "%s needs a value", argv[optind - 1]);
		default:
			cli_usage_error("serve", "unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cli_usage_error("serve", "unexpected argument \"%s\"", argv[optind]);
	if (help) {
		usage(stdout, &s.cfg.policy);
		return 0;
	}
	if (is_leak) {
		if (not_leak)
			cli_usage_error("serve", "--%s does not apply to --leak (the seed's server has no such cure)",
					not_leak);
		if (s.nbinds > 1)
			cli_usage_error("serve", "--leak listens on one address only");
		leak.bind = s.nbinds ? s.binds[0] : NULL;
		leak.port = s.port;
		leak.quiet = s.quiet;
		leak.keepalive = s.cfg.policy.keepalive;
		leak.keepidle_s = s.cfg.policy.keepidle_s;
		leak.keepintvl_s = s.cfg.policy.keepintvl_s;
		leak.keepcnt = s.cfg.policy.keepcnt;
		return serve_leak(&leak);
	}
	/* stdout may be a pipe that goes away; SIGPIPE must not end the server. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run(&s);
}
