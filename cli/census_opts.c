/* Option parsing shared by scan, watch and ports. */
#include <stdarg.h>
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
		cli_usage_error(cmd, "%s: unknown state \"%s\" (close-wait, time-wait, fin-wait-2, "
				"established, syn-sent, syn-recv, fin-wait-1, last-ack, closing, listen, all)",
				opt, arg);
	return mask;
}

double opt_rate(const char *cmd, const char *opt, const char *arg)
{
	double r;

	if (cw_rate_parse(arg, &r))
		cli_usage_error(cmd, "%s: invalid rate \"%s\" (connections per second: 100/s, 2.5/s)",
				opt, arg);
	return r;
}

void cli_endpoint(const struct sockaddr_storage *ss, struct cw_endpoint *e)
{
	memset(e, 0, sizeof(*e));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		e->addr.s6_addr[10] = e->addr.s6_addr[11] = 0xff;
		memcpy(&e->addr.s6_addr[12], &s4->sin_addr, 4);
	} else {
		e->addr = ((const struct sockaddr_in6 *)ss)->sin6_addr;
	}
	e->port = cw_addr_port(ss);
}

void opt_endpoint(const char *cmd, const char *opt, const char *arg, struct cw_endpoint *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool has_port;

	if (cw_addr_parse(arg, &ss, &len, &has_port) || !has_port)
		cli_usage_error(cmd, "%s: invalid address \"%s\" (ADDR:PORT or [V6]:PORT)", opt, arg);
	cli_endpoint(&ss, e);
}

void cli_fail(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_warn(cmd, "%s", msg);
	exit(2);
}
