/* The socket filter options (ss's vocabulary) as one getopt_long table and
 * one handler, so every command that selects sockets parses them the same
 * way, with the shared value parsers (opt_states, opt_port, opt_duration,
 * cw_addr_parse): --state --pid --port --sport --dport --peer --older. */
#ifndef CW_FILTER_OPTS_H
#define CW_FILTER_OPTS_H

#include <stdbool.h>

#include "closewait/census_filter.h"

enum {
	OPT_F_STATE = 0x400,
	OPT_F_PID,
	OPT_F_PORT,
	OPT_F_SPORT,
	OPT_F_DPORT,
	OPT_F_PEER,
	OPT_F_OLDER,
	OPT_F_LAST,
};

#define FILTER_LONG_OPTIONS                                        \
	{ "state", required_argument, NULL, OPT_F_STATE },         \
	{ "pid", required_argument, NULL, OPT_F_PID },             \
	{ "port", required_argument, NULL, OPT_F_PORT },           \
	{ "sport", required_argument, NULL, OPT_F_SPORT },         \
	{ "dport", required_argument, NULL, OPT_F_DPORT },         \
	{ "peer", required_argument, NULL, OPT_F_PEER },           \
	{ "older", required_argument, NULL, OPT_F_OLDER }

/* Applies one filter option to f (cw_filter_init first); false if opt is
 * not one. Exits 2 naming the option on a bad value. */
bool filter_opt(const char *cmd, struct cw_filter *f, int opt, const char *arg);

#endif
