/* Shared by the closewait subcommands: error reporting and option parsing,
 * so every option is parsed once and every bad value fails the same way:
 *   closewait serve: --port: invalid port "70000" (1-65535)
 *   Try 'closewait serve --help'.
 * and exit 2, with nothing started. */
#ifndef CW_CLI_H
#define CW_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "closewait/conn.h"

#define EXIT_USAGE 2

/* The three ways out with a message, "closewait CMD: message" on stderr
 * (opts.c). Their names give the exit status. */
/* A usage error: the message, "Try 'closewait CMD --help'.", exit 2. */
_Noreturn void cli_usage_exit2(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A runtime failure where 1 means failure (serve, client, reap). */
_Noreturn void cli_fail_exit1(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A runtime failure of scan, watch or ports, whose exit 1 means "CLOSE_WAIT found". */
_Noreturn void cli_fail_exit2(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* getopt_long (optstring ":...") returned '?' or ':': names the option the
 * way the user typed it (-x for a short one) and exits 2. */
_Noreturn void cli_bad_option(const char *cmd, int opt, char **argv);
struct option;
/* getopt_long for a command whose options end the command line: the next
 * option, or -1 at the end. Does the same for every such command: -h and
 * --help print help() and exit 0; an unknown option, a missing value or a
 * word after the options exit 2 naming it. Set optind = 1, opterr = 0 first. */
int cli_getopt(const char *cmd, int argc, char **argv, const char *shorts,
	       const struct option *longs, void (*help)(void));
void cli_warn(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

uint64_t opt_duration(const char *cmd, const char *opt, const char *arg, bool allow_zero);
uint16_t opt_port(const char *cmd, const char *opt, const char *arg, bool allow_zero);
unsigned long opt_ulong(const char *cmd, const char *opt, const char *arg, unsigned long min,
			unsigned long max);
/* A numeric IPv4 or IPv6 address (no port). */
void opt_addr(const char *cmd, const char *opt, const char *arg);

/* Time for the commands that wait (deadline.c). Durations go up to 2^64 - 1 ms. */
/* The soft fd limit raised to the hard one: for commands that hold many
 * fds (reap's duplicates, export's connections). Cannot fail (a refusal
 * leaves the limit as it was). */
void cli_raise_fd_limit(void);
uint64_t cli_now_ms(void);  /* CLOCK_MONOTONIC */
/* t + ms, saturated: a duration of "forever" never wraps into the past. */
uint64_t cli_after(uint64_t t, uint64_t ms);
/* poll()'s timeout for a deadline (cli_now_ms() time): the ms left, 0 once
 * past, at most INT_MAX (24.8 days: poll again until the deadline). */
int cli_ms_until(uint64_t deadline);

/* Policy options shared by `serve` and `client --stream` (see policy_opts.c). */
enum {
	OPT_IDLE = 0x200,
	OPT_READ_IDLE,
	OPT_WRITE_STALL,
	OPT_HEARTBEAT,
	OPT_HEARTBEAT_PAYLOAD,
	OPT_KEEPALIVE,
	OPT_USER_TIMEOUT,
	OPT_CLOSE,
	OPT_RESET_TIMEDOUT,
	OPT_LINGER,
	OPT_HALF_CLOSE,
	OPT_POLICY_LAST,
};

/* getopt_long entries; read_idle_name is "read-idle" or "recv-timeout". */
#define POLICY_LONG_OPTIONS(read_idle_name)                                                        \
	{ "idle", required_argument, NULL, OPT_IDLE },                                             \
	{ read_idle_name, required_argument, NULL, OPT_READ_IDLE },                                \
	{ "write-stall", required_argument, NULL, OPT_WRITE_STALL },                               \
	{ "heartbeat", required_argument, NULL, OPT_HEARTBEAT },                                   \
	{ "heartbeat-payload", required_argument, NULL, OPT_HEARTBEAT_PAYLOAD },                   \
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },                                   \
	{ "user-timeout", required_argument, NULL, OPT_USER_TIMEOUT },                             \
	{ "close", required_argument, NULL, OPT_CLOSE },                                           \
	{ "reset-timedout", no_argument, NULL, OPT_RESET_TIMEDOUT },                               \
	{ "linger", required_argument, NULL, OPT_LINGER },                                         \
	{ "half-close", required_argument, NULL, OPT_HALF_CLOSE }

#define POLICY_PAYLOAD_MAX 1024
/* What the policy options of one command fill: its policy, and the
 * heartbeat payload the policy points to (keep it while the policy is used). */
struct policy_args {
	const char *cmd;              /* "serve", "client": for messages */
	const char *read_idle_name;   /* this command's --read-idle: "read-idle", "recv-timeout" */
	struct cw_policy *p;
	char payload[POLICY_PAYLOAD_MAX];
};
/* Applies one policy option; false if opt is not one. Exits 2 on bad values. */
bool policy_opt(struct policy_args *a, int opt, const char *arg);
/* Parses nginx's so_keepalive syntax: "off", "on", "IDLE:INTVL:CNT" (fields may be empty). */
int keepalive_parse(const char *arg, bool *on, int *idle, int *intvl, int *cnt);
/* Help for the policy options, with the detection times the values give. */
void policy_help(FILE *f, const struct cw_policy *p, const char *read_idle_name);
/* The same for a dialer (client --stream), which never lingers: without
 * --linger and --half-close. */
void policy_help_dialer(FILE *f, const struct cw_policy *p, const char *read_idle_name);

int cmd_serve(int argc, char **argv);
int cmd_client(int argc, char **argv);
/* closewait client --stream (cmd_stream.c). */
int cmd_stream(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_ports(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_reap(int argc, char **argv);
/* closewait guard: runs a program with the guard library preloaded (cmd_guard.c). */
int cmd_guard(int argc, char **argv);
/* closewait trace: explains leaks with eBPF (cmd_trace.c, trace/). */
int cmd_trace(int argc, char **argv);
/* closewait lab: scenarios in private network namespaces (cmd_lab.c, lab/). */
int cmd_lab(int argc, char **argv);

/* Options of the census commands (census_opts.c). */
struct cw_endpoint;
/* ss state names, comma-separated or repeated, "all": a CW_STATE_BIT mask. */
/* What a failed cw_census_take means for the options it was given: a
 * sentence for an error message (static storage). */
struct cw_census_opts;
const char *census_strerror(const struct cw_census_opts *co, int err);
/* --by: auto, process, unit, container, pod, netns, peer or local-port. */
int opt_group_by(const char *cmd, const char *arg);
uint32_t opt_states(const char *cmd, const char *opt, const char *arg);
/* "N/s": the one rate syntax (cw_rate_parse). */
double opt_rate(const char *cmd, const char *opt, const char *arg);
/* "ADDR:PORT" or "[V6]:PORT", port required. */
void opt_endpoint(const char *cmd, const char *opt, const char *arg, struct cw_endpoint *e);

/* The classic leaky echo server, on purpose: it never closes (serve_leak.c). */
struct leak_opts {
	const char *bind;   /* NULL: 0.0.0.0 */
	uint16_t port;
	bool quiet;
	bool keepalive;     /* set on the listener; accepted sockets inherit it */
	int keepidle_s, keepintvl_s, keepcnt;
};
int serve_leak(const struct leak_opts *o);

#endif
