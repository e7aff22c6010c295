#include "filter_opts.h"

#include <getopt.h>
#include <sys/socket.h>

#include "cli.h"
#include "closewait/addr.h"

/* "ADDR", "ADDR:PORT" or "[V6]:PORT": without a port, any port of ADDR. */
static void opt_peer(const char *cmd, const char *arg, struct cw_filter *f)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool has_port;

	if (cw_addr_parse(arg, &ss, &len, &has_port) ||
	    cw_endpoint_from_sockaddr((const struct sockaddr *)&ss, len, &f->peer))
		cli_usage_exit2(cmd, "--peer: invalid address \"%s\" (ADDR, ADDR:PORT or [V6]:PORT)", arg);
	if (!has_port)
		f->peer.port = 0;
	f->has_peer = true;
}

bool filter_opt(const char *cmd, struct cw_filter *f, int opt, const char *arg)
{
	switch (opt) {
	case OPT_F_STATE: f->states |= opt_states(cmd, "--state", arg); break;
	case OPT_F_PID: f->pid = (pid_t)opt_ulong(cmd, "--pid", arg, 1, 0x7fffffff); break;
	case OPT_F_PORT: f->port = opt_port(cmd, "--port", arg, false); break;
	case OPT_F_SPORT: f->sport = opt_port(cmd, "--sport", arg, false); break;
	case OPT_F_DPORT: f->dport = opt_port(cmd, "--dport", arg, false); break;
	case OPT_F_PEER: opt_peer(cmd, arg, f); break;
	case OPT_F_OLDER: f->older_ms = opt_duration(cmd, "--older", arg, false); break;
	default: return false;
	}
	return true;
}
