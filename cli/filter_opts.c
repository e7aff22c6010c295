#include "filter_opts.h"

#include <getopt.h>
#include <string.h>
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

static const char *opt_name(const char *cmd, const char *opt, const char *arg)
{
	if (!*arg)
		cli_usage_exit2(cmd, "%s: empty value", opt);
	return arg;
}

static void opt_netns(const char *cmd, struct selection *s, enum cw_netns_sel sel, const char *arg)
{
	if (s->netns_sel != CW_NETNS_SEL_CURRENT && s->netns_sel != sel)
		cli_usage_exit2(cmd, "--net and --all-netns exclude each other");
	if (sel == CW_NETNS_SEL_ONE && s->netns_sel == sel)
		cli_usage_exit2(cmd, "--net: one namespace at a time (or --all-netns)");
	s->netns_sel = sel;
	s->netns = sel == CW_NETNS_SEL_ONE ? opt_name(cmd, "--net", arg) : NULL;
}

void selection_init(struct selection *s)
{
	memset(s, 0, sizeof(*s));
	cw_filter_init(&s->f);
	s->netns_sel = CW_NETNS_SEL_CURRENT;
}

bool selection_opt(const char *cmd, struct selection *s, int opt, const char *arg)
{
	struct cw_filter *f = &s->f;

	switch (opt) {
	case OPT_F_STATE: f->states |= opt_states(cmd, "--state", arg); break;
	case OPT_F_PID: f->pid = (pid_t)opt_ulong(cmd, "--pid", arg, 1, 0x7fffffff); break;
	case OPT_F_PORT: f->port = opt_port(cmd, "--port", arg, false); break;
	case OPT_F_SPORT: f->sport = opt_port(cmd, "--sport", arg, false); break;
	case OPT_F_DPORT: f->dport = opt_port(cmd, "--dport", arg, false); break;
	case OPT_F_PEER: opt_peer(cmd, arg, f); break;
	case OPT_F_OLDER: f->older_ms = opt_duration(cmd, "--older", arg, false); break;
	case OPT_F_WHY:
		if (cw_why_parse(arg, &f->whys))
			cli_usage_exit2(cmd, "--why: unknown reason \"%s\" (eof-read, never-read, "
					"unaccepted)", arg);
		break;
	case OPT_F_COMM: f->comm = opt_name(cmd, "--comm", arg); break;
	case OPT_F_UNIT: f->unit = opt_name(cmd, "--unit", arg); break;
	case OPT_F_POD: f->pod = opt_name(cmd, "--pod", arg); break;
	case OPT_F_CONTAINER:
		if (!cw_container_prefix_ok(arg))
			cli_usage_exit2(cmd, "--container: \"%s\" is not a container id (at least 12 "
					"lowercase hex digits)", arg);
		f->container = arg;
		break;
	case OPT_F_NET: opt_netns(cmd, s, CW_NETNS_SEL_ONE, arg); break;
	case OPT_F_ALL_NETNS: opt_netns(cmd, s, CW_NETNS_SEL_ALL, arg); break;
	default: return false;
	}
	return true;
}

void selection_census(const struct selection *s, struct cw_census_opts *co)
{
	co->netns_sel = s->netns_sel;
	co->netns = s->netns;
	/* A unit, container or pod is wherever it is: nearly always in a
	 * namespace of its own. */
	if (s->netns_sel == CW_NETNS_SEL_CURRENT && (s->f.unit || s->f.container || s->f.pod)) {
		co->netns_sel = CW_NETNS_SEL_ALL;
	} else if (s->netns_sel == CW_NETNS_SEL_CURRENT && s->f.pid) {
		co->netns_sel = CW_NETNS_SEL_PID;
		co->netns_pid = s->f.pid;
	}
}
