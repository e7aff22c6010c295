/* The selection options (ss's vocabulary, and the namespaces) as one
 * getopt_long table and one handler, so every command that selects sockets
 * parses them the same way, with the shared value parsers (opt_states,
 * opt_port, opt_duration, cw_addr_parse): --state --pid --port --sport
 * --dport --peer --older --why --comm --unit --container --pod --net
 * --all-netns. */
#ifndef CW_FILTER_OPTS_H
#define CW_FILTER_OPTS_H

#include <stdbool.h>

#include "closewait/census.h"
#include "closewait/census_filter.h"

enum {
	OPT_F_STATE = 0x400,
	OPT_F_PID,
	OPT_F_PORT,
	OPT_F_SPORT,
	OPT_F_DPORT,
	OPT_F_PEER,
	OPT_F_OLDER,
	OPT_F_COMM,
	OPT_F_UNIT,
	OPT_F_CONTAINER,
	OPT_F_POD,
	OPT_F_NET,
	OPT_F_ALL_NETNS,
	OPT_F_WHY,
	OPT_F_LAST,
};

#define NETNS_LONG_OPTIONS                                         \
	{ "net", required_argument, NULL, OPT_F_NET },             \
	{ "all-netns", no_argument, NULL, OPT_F_ALL_NETNS }

#define FILTER_LONG_OPTIONS                                        \
	{ "state", required_argument, NULL, OPT_F_STATE },         \
	{ "pid", required_argument, NULL, OPT_F_PID },             \
	{ "port", required_argument, NULL, OPT_F_PORT },           \
	{ "sport", required_argument, NULL, OPT_F_SPORT },         \
	{ "dport", required_argument, NULL, OPT_F_DPORT },         \
	{ "peer", required_argument, NULL, OPT_F_PEER },           \
	{ "older", required_argument, NULL, OPT_F_OLDER },         \
	{ "why", required_argument, NULL, OPT_F_WHY },             \
	{ "comm", required_argument, NULL, OPT_F_COMM },           \
	{ "unit", required_argument, NULL, OPT_F_UNIT },           \
	{ "container", required_argument, NULL, OPT_F_CONTAINER }, \
	{ "pod", required_argument, NULL, OPT_F_POD },             \
	NETNS_LONG_OPTIONS

/* Which sockets: the filter, and the namespaces to read. */
struct selection {
	struct cw_filter f;
	enum cw_netns_sel netns_sel;
	const char *netns;            /* --net's value */
};

/* No criterion, the current namespace. Cannot fail. */
void selection_init(struct selection *s);
/* Applies one selection option; false if opt is not one. Exits 2 naming
 * the option on a bad value or a conflict (--net with --all-netns). */
bool selection_opt(const char *cmd, struct selection *s, int opt, const char *arg);
/* The namespaces to read, into co: --unit, --container and --pod read
 * every namespace unless --net names one; --pid alone reads the namespaces
 * that process's threads are in. */
void selection_census(const struct selection *s, struct cw_census_opts *co);

/* Help lines for the namespace options and the holder filters, shared by
 * every command's --help. */
#define HELP_NETNS                                                                          \
	"  --net NS         one network namespace: a name in /run/netns, a path to\n"          \
	"                   one, or pid:PID for that process's\n"                                \
	"  --all-netns      every network namespace on the host (processes, threads,\n"       \
	"                   bind mounts in any mount namespace, open fds)\n"
#define HELP_WHY                                                                            \
	"  --why WHY        CLOSE_WAIT sockets open for this reason: eof-read (Recv-Q 0:\n"     \
	"                   the program read up to the end of file and did not close),\n"    \
	"                   never-read (Recv-Q 1 or more: it never read up to the end),\n"   \
	"                   unaccepted (still in a listener's accept queue); commas or\n"     \
	"                   repeated\n"
#define HELP_HOLDERS                                                                        \
	"  --comm NAME      held by a process of this command name\n"                          \
	"  --unit UNIT      held by a process of this systemd unit (nginx.service)\n"          \
	"  --container ID   held in this container (its id or a prefix of 12+ hex digits)\n"  \
	"  --pod UID        held in this Kubernetes pod\n"                                     \
	"                   (--unit, --container and --pod look in every network namespace\n" \
	"                   unless --net names one)\n"

#endif
