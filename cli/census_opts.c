/* Option parsing shared by scan, watch and ports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cli.h"
#include "closewait/addr.h"
#include "closewait/census.h"
#include "closewait/census_group.h"
#include "closewait/duration.h"

uint32_t opt_states(const char *cmd, const char *opt, const char *arg)
{
	uint32_t mask = 0;

	if (cw_tcp_states_parse(arg, &mask))
		cli_usage_exit2(cmd, "%s: unknown state \"%s\" (close-wait, time-wait, fin-wait-2, "
				"established, syn-sent, syn-recv, fin-wait-1, last-ack, closing, listen, all)",
				opt, arg);
	return mask;
}

double opt_rate(const char *cmd, const char *opt, const char *arg)
{
	double r;

	if (cw_rate_parse(arg, &r))
		cli_usage_exit2(cmd, "%s: invalid rate \"%s\" (connections per second: 100/s, 2.5/s)",
				opt, arg);
	return r;
}

void opt_endpoint(const char *cmd, const char *opt, const char *arg, struct cw_endpoint *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool has_port;

	if (cw_addr_parse(arg, &ss, &len, &has_port) || !has_port ||
	    cw_endpoint_from_sockaddr((const struct sockaddr *)&ss, len, e))
		cli_usage_exit2(cmd, "%s: invalid address \"%s\" (ADDR:PORT or [V6]:PORT)", opt, arg);
}

int opt_group_by(const char *cmd, const char *arg)
{
	static const struct {
		const char *name;
		enum cw_group_by by;
	} names[] = {
		{ "auto", CW_BY_AUTO }, { "process", CW_BY_PROCESS }, { "unit", CW_BY_UNIT },
		{ "container", CW_BY_CONTAINER }, { "pod", CW_BY_POD }, { "netns", CW_BY_NETNS },
		{ "peer", CW_BY_PEER }, { "local-port", CW_BY_LOCAL_PORT },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(arg, names[i].name))
			return names[i].by;
	cli_usage_exit2(cmd, "--by: unknown grouping \"%s\" (auto, process, unit, container, pod, "
			"netns, peer or local-port)", arg);
}

const char *census_strerror(const struct cw_census_opts *co, int err)
{
	static char msg[512];

	if (co->netns_sel == CW_NETNS_SEL_ONE && (err == -ENOENT || err == -ESRCH))
		snprintf(msg, sizeof(msg), "--net %s: no such network namespace (a name in /run/netns, "
			 "a path, or pid:PID)", co->netns);
	else if (co->netns_sel == CW_NETNS_SEL_ONE && err == -EINVAL)
		snprintf(msg, sizeof(msg), "--net %s: not a network namespace", co->netns);
	else if (co->netns_sel == CW_NETNS_SEL_PID && err == -ESRCH)
		snprintf(msg, sizeof(msg), "--pid %d: no such process", (int)co->netns_pid);
	else if (co->netns_sel != CW_NETNS_SEL_CURRENT && err == -EPERM)
		snprintf(msg, sizeof(msg), "cannot enter the network namespace: %s (entering one "
			 "needs CAP_SYS_ADMIN)", strerror(-err));
	else if (co->netns_sel != CW_NETNS_SEL_CURRENT && err == -EACCES)
		snprintf(msg, sizeof(msg), "cannot open the network namespace: %s (opening another "
			 "user's process's namespace needs CAP_SYS_PTRACE; a namespace file, read "
			 "permission)",
			 strerror(-err));
	else
		snprintf(msg, sizeof(msg), "cannot read the socket table: %s", strerror(-err));
	return msg;
}
