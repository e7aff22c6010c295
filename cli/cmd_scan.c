/* closewait scan: the sockets of this host, who holds them, how long the
 * stuck ones have been stuck, and which side forgot to close. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "filter_opts.h"
#include "owners_src.h"
#include "pin_ages.h"
#include "scan_view.h"

enum { OPT_BY = OPT_F_LAST + 1, OPT_JSON, OPT_ALL_OWNERS, OPT_HELP };

static const struct option scan_options[] = {
	FILTER_LONG_OPTIONS,
	{ "by", required_argument, NULL, OPT_BY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all-owners", no_argument, NULL, OPT_ALL_OWNERS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void scan_help(void)
{
	printf("Usage: closewait scan [OPTIONS]\n\n"
	       "Lists this host's TCP sockets (this network namespace unless --net or\n"
	       "--all-netns): a summary per process (count per state, oldest CLOSE_WAIT,\n"
	       "Recv-Q), the processes whose peers on this host closed connections they never\n"
	       "closed, then the stuck (CLOSE_WAIT) sockets, with the systemd unit, container\n"
	       "and pod of whoever holds them.\n\n"
	       "Filters (ss's names; all must match):\n"
	       "  --state S        close-wait, time-wait, fin-wait-2, established, syn-sent,\n"
	       "                   syn-recv, fin-wait-1, last-ack, closing, listen, or all;\n"
	       "                   repeat or separate with commas. With --state every matching\n"
	       "                   socket is listed, not only CLOSE_WAIT ones.\n"
	       "  --pid PID        sockets held by this process (alone: in the network\n"
	       "                   namespaces its threads are in)\n"
	       HELP_HOLDERS
	       "  --port N         either end's port;  --sport N / --dport N: local / remote port\n"
	       "  --peer ADDR[:PORT]  remote address (and port); [v6]:PORT for IPv6\n"
	       "  --older D        age of at least D (250ms, 5s, 2m, 1h): a socket whose age\n"
	       "                   range contains D is shown as uncertain\n"
	       HELP_WHY
	       "Namespaces (default: this one):\n"
	       HELP_NETNS
	       "Output:\n"
	       "  --by G           grouping of the summary: auto (systemd unit, else container,\n"
	       "                   else command), process (the default), unit, container, pod,\n"
	       "                   netns, peer or local-port\n"
	       "  --json           one JSON document (fields: see docs/scan.md)\n"
	       "  --all-owners     read every process even once each socket has an owner\n"
	       "                   (lists every process of a shared socket; slower)\n\n"
	       "Ages: CLOSE_WAIT ages are exact (\"12s\") where the kernel's times allow,\n"
	       "otherwise a range (\"12s\u201342s\"): see docs/scan.md.\n"
	       "Exit status: 1 if a CLOSE_WAIT socket is among the results, 0 if not, 2 on errors.\n");
}

struct scan_opts {
	struct selection sel;
	enum cw_group_by by;
	bool json, all_owners, state_given;
};

static void parse_args(int argc, char **argv, struct scan_opts *o)
{
	int opt;

	selection_init(&o->sel);
	o->by = CW_BY_PROCESS;
	optind = 1;
	opterr = 0;
	while ((opt = cli_getopt("scan", argc, argv, ":h", scan_options, scan_help)) != -1) {
		if (selection_opt("scan", &o->sel, opt, optarg)) {
			o->state_given |= opt == OPT_F_STATE;
			continue;
		}
		switch (opt) {
		case OPT_BY: o->by = opt_group_by("scan", optarg); break;
		case OPT_JSON: o->json = true; break;
		case OPT_ALL_OWNERS: o->all_owners = true; break;
		}
	}
}

struct want_ctx {
	const struct cw_filter *f;
};

/* Owners are looked up for the sockets the address filters keep, and for
 * FIN_WAIT_2 ends that may be the peers of CLOSE_WAIT ones (pairing). */
static bool want_owner(const struct cw_sock *s, void *arg)
{
	const struct want_ctx *w = arg;

	return cw_filter_match_addr(w->f, s) || s->state == CW_TCP_FIN_WAIT2;
}

int cmd_scan(int argc, char **argv)
{
	struct scan_opts o = { 0 };
	struct cw_census_opts co;
	struct cw_entry_time *entry_times;
	struct want_ctx w;
	struct cw_census *c;
	struct scan_result r;
	struct out *out;
	int err;

	parse_args(argc, argv, &o);
	w.f = &o.sel.f;
	cw_census_opts_init(&co);
	selection_census(&o.sel, &co);
	co.states = o.sel.f.states;
	/* Only CLOSE_WAIT sockets have a why: the kernel need dump no other. */
	if (o.sel.f.whys && !co.states)
		co.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	/* Pairing needs the FIN_WAIT_2 ends of CLOSE_WAIT sockets. */
	if (co.states & CW_STATE_BIT(CW_TCP_CLOSE_WAIT))
		co.states |= CW_STATE_BIT(CW_TCP_FIN_WAIT2);
	co.owners = true;
	co.all_owners = o.all_owners;
	co.want = want_owner;
	co.want_arg = &w;
	pin_ages("scan", &co, &entry_times);
	owners_src_open("scan", &co, false);
	err = cw_census_take(&co, &c);
	owners_src_close(&co);
	free(entry_times);
	if (err)
		cli_fail_exit2("scan", "%s", census_strerror(&co, err));
	err = scan_compute(c, &o.sel.f, o.by, o.state_given, &r);
	if (err)
		cli_fail_exit2("scan", "%s", strerror(-err));
	r.netns_sel = co.netns_sel;
	out = out_open(stdout);
	if (o.json)
		scan_print_json(out, &r);
	else
		scan_print_table(out, &r);
	err = out_close(out);
	if (err) {
		scan_result_free(&r);
		cw_census_free(c);
		cli_fail_exit2("scan", "writing output: %s", out_strerror(err));
	}
	err = r.close_wait ? 1 : 0;
	scan_result_free(&r);
	cw_census_free(c);
	return err;
}
