/* Option parsing shared by scan, watch and ports. */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cli.h"
#include "closewait/addr.h"
#include "closewait/census.h"
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
