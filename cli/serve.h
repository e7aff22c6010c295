/* closewait serve, split by job: cmd_serve.c parses options, serve_run.c is
 * one server process, serve_workers.c supervises N of them. */
#ifndef CW_CLI_SERVE_H
#define CW_CLI_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "closewait/server.h"

#define SERVE_MAX_BINDS 16
#define SERVE_MAX_WORKERS 64

struct serve {
	const char *binds[SERVE_MAX_BINDS]; /* none: 0.0.0.0 and :: */
	size_t nbinds;
	uint16_t port;
	bool quiet;
	bool stats;
	uint64_t drain_ms;
	unsigned workers;            /* 0: serve in this process */
	bool is_worker;              /* run time: this process is a worker of --workers */
	struct cw_server_config cfg;
	/* run time, per process */
	struct cw_loop *loop;
	struct cw_server *srv;
	int signals;
	uint64_t pause_logged;       /* loop time of the last "cannot accept" line (0: none) */
	bool pause_said;             /* the pause going on was logged */
};

/* Addresses to listen on: the --bind list or the default pair. */
size_t serve_addrs(const struct serve *s, const char *const **addrs);
/* Whether a failure to listen on addrs[i] is the default "::" on a host
 * without IPv6, which is skipped. */
bool serve_skip_v6(const struct serve *s, size_t i, int err);
/* Runs one server process until it has drained after SIGTERM/SIGINT.
 * ready_fd (or -1) gets one byte once it listens; stats_fd (or -1) gets the
 * final struct cw_conn_stats, else --stats prints them. Returns the exit code. */
int serve_run(struct serve *s, int ready_fd, int stats_fd);
void serve_print_stats(const struct cw_conn_stats *st);
/* --workers N: N processes with SO_REUSEPORT listeners, supervised. */
int serve_workers(struct serve *s);

#endif
