/* closewait ports: ephemeral port pressure per destination. */
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "closewait/census_ports.h"
#include "filter_opts.h"
#include "out.h"
#include "workload_view.h"

enum { OPT_RATE = OPT_F_LAST + 1, OPT_DEST, OPT_JSON, OPT_HELP };

static const struct option ports_options[] = {
	NETNS_LONG_OPTIONS,
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "dest", required_argument, NULL, OPT_DEST },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void ports_help(void)
{
	printf("Usage: closewait ports [--rate N/s] [--dest ADDR:PORT] [--json]\n"
	       "                      [--net NS | --all-netns]\n\n"
	       "Outgoing connections of this host (local port in ip_local_port_range) per\n"
	       "destination and per local address, against what connect() can use: the\n"
	       "usable ephemeral range (ip_local_port_range minus ip_local_reserved_ports) per\n"
	       "source address and destination, each port held 60 s in TIME_WAIT unless\n"
	       "tcp_tw_reuse (with timestamps) lets connect() take it back after\n"
	       "tcp_tw_reuse_delay. For each destination: ports held, utilisation, the\n"
	       "sustainable new-connection rate, the current rate (TIME_WAIT of the last\n"
	       "10 s), and the time until connect() fails with EADDRNOTAVAIL at that rate.\n\n"
	       "  --rate N/s        what if connections came at N per second: time to exhaustion\n"
	       "  --dest ADDR:PORT  report this destination even with no connection yet\n"
	       "  --json            one JSON document (fields: see docs/scan.md)\n"
	       "Namespaces (default: this one; each has its own ports and sysctls):\n"
	       HELP_NETNS);
}

/* 2: a local address is "address" ("local" is an ADDR:PORT everywhere else). */
#define PORTS_JSON_VERSION 2

struct ports_ctx {
	struct cw_ports_report *r;
	struct cw_port_sys sys;
	double rate;
};

#define DEST(ctx, row) cw_ports_dest(((struct ports_ctx *)(ctx))->r, row)

static void d_dest(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	cw_endpoint_str(&DEST(ctx, row)->dest, true, v->buf, sizeof(v->buf));
	v->s = v->buf;
}

/* arg: offsetof a size_t of struct cw_port_dest */
static void d_size(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = (long long)OUT_FIELD(size_t, DEST(ctx, row), v->arg);
}

static void d_capacity(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = (long long)((double)DEST(ctx, row)->sources * ((struct ports_ctx *)ctx)->sys.usable);
}

static void d_util_pct(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	snprintf(v->buf, sizeof(v->buf), "%.0f%%", DEST(ctx, row)->utilisation * 100);
	v->s = v->buf;
}

static void d_reuse(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_BOOL;
	v->b = DEST(ctx, row)->reuse;
}

/* The doubles of struct cw_port_dest: arg is the field's offset plus, in
 * its top bits, how to show it. */
enum { NUM_RATIO, NUM_RATE, NUM_SECS, NUM_SECS_TEXT };
#define NUM(field, how) (offsetof(struct cw_port_dest, field) | (size_t)(how) << 16)

static void d_num(void *ctx, size_t row, struct out_val *v)
{
	double d = OUT_FIELD(double, DEST(ctx, row), v->arg & 0xffff);

	v->type = OUT_NUM;
	v->d = d;
	v->prec = 1;
	switch (v->arg >> 16) {
	case NUM_RATIO: v->prec = 3; break;
	case NUM_RATE: break;
	case NUM_SECS: v->null = d < 0; break; /* <0: never */
	default:
		v->type = OUT_STR;
		if (d < 0)
			v->s = "never";
		else if (d == 0)
			v->s = "now";
		else
			v->s = out_ms_str((uint64_t)(d * 1000 + 0.5), v->buf, sizeof(v->buf));
		break;
	}
}

#define SIZE(field) offsetof(struct cw_port_dest, field)
static const struct out_col dest_cols[] = {
	{ "destination", "DESTINATION", true, d_dest },
	{ "sources", "SOURCES", false, d_size, SIZE(sources) },
	{ "capacity", NULL, false, d_capacity },
	{ "open", "OPEN", false, d_size, SIZE(open) },
	{ "time_wait", "TIME-WAIT", false, d_size, SIZE(time_wait) },
	{ "time_wait_recent", NULL, false, d_size, SIZE(time_wait_recent) },
	{ "utilisation", NULL, false, d_num, NUM(utilisation, NUM_RATIO) },
	{ NULL, "USED", false, d_util_pct },
	{ "rate_now", "RATE-NOW/s", false, d_num, NUM(rate_now, NUM_RATE) },
	{ "rate_max", "MAX-RATE/s", false, d_num, NUM(rate_max, NUM_RATE) },
	{ "reuse", "REUSE", false, d_reuse },
	{ "exhaust_s", NULL, false, d_num, NUM(exhaust_s, NUM_SECS) },
	{ NULL, "EXHAUSTED-IN", false, d_num, NUM(exhaust_s, NUM_SECS_TEXT) },
};
static const struct out_col what_if_cols[] = {
	{ "what_if_exhaust_s", NULL, false, d_num, NUM(exhaust_what_if_s, NUM_SECS) },
	{ NULL, "AT-RATE", false, d_num, NUM(exhaust_what_if_s, NUM_SECS_TEXT) },
};

#define LOC(ctx, row) cw_ports_local(((struct ports_ctx *)(ctx))->r, row)

static void l_addr(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	cw_endpoint_str(&LOC(ctx, row)->addr, false, v->buf, sizeof(v->buf));
	v->s = v->buf;
}

/* arg: offsetof a size_t of struct cw_port_local */
static void l_size(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = (long long)OUT_FIELD(size_t, LOC(ctx, row), v->arg);
}

static const struct out_col local_cols[] = {
	{ "address", "LOCAL", true, l_addr },
	{ "destinations", "DESTINATIONS", false, l_size, offsetof(struct cw_port_local, dests) },
	{ "open", "OPEN", false, l_size, offsetof(struct cw_port_local, open) },
	{ "time_wait", "TIME-WAIT", false, l_size, offsetof(struct cw_port_local, time_wait) },
};

static const char *reuse_name(int v)
{
	return v == 0 ? "off" : v == 1 ? "on" : v == 2 ? "loopback only" : "?";
}

static size_t advice(const struct ports_ctx *p, const char **lines, size_t max)
{
	size_t n = 0;
	bool pressed = false, no_reuse = false;

	for (size_t i = 0; i < cw_ports_dest_count(p->r); i++) {
		const struct cw_port_dest *d = cw_ports_dest(p->r, i);

		if (d->utilisation > 0.5 || (d->exhaust_what_if_s >= 0 && p->rate > 0)) {
			pressed = true;
			no_reuse |= !d->reuse;
		}
	}
	if (!pressed)
		return 0;
	lines[n++] = "reuse connections (HTTP keep-alive, a connection pool): one connection "
		     "carries many requests and leaves no TIME_WAIT behind";
	lines[n++] = "add source addresses: each local address has its own ports toward a "
		     "destination";
	if (no_reuse && p->sys.timestamps)
		lines[n++] = "net.ipv4.tcp_tw_reuse=1 lets connect() take a TIME_WAIT port back after "
			     "tcp_tw_reuse_delay (timestamps are on here); 2, the default, does it for "
			     "loopback only";
	else if (no_reuse)
		lines[n++] = "tcp_tw_reuse needs TCP timestamps (net.ipv4.tcp_timestamps is 0 here)";
	lines[n++] = "a client that bind()s to choose its source address takes a port for every "
		     "destination at once: set IP_BIND_ADDRESS_NO_PORT so connect() picks it per "
		     "destination";
	(void)max;
	return n;
}

/* A report's members: the whole document of one namespace, or one entry
 * of namespaces[]. */
static void json_members(struct out *o, struct ports_ctx *p)
{
	struct out_col cols[16];
	const char *adv[8];
	size_t nc = sizeof(dest_cols) / sizeof(dest_cols[0]), na = advice(p, adv, 8);

	memcpy(cols, dest_cols, sizeof(dest_cols));
	memcpy(cols + nc, what_if_cols, sizeof(what_if_cols));
	nc += 2;
	out_json_open(o, "ephemeral", '{');
	out_json_int(o, "low", p->sys.range_lo);
	out_json_int(o, "high", p->sys.range_hi);
	out_json_int(o, "reserved", p->sys.reserved);
	out_json_int(o, "usable", p->sys.usable);
	out_json_close(o);
	out_json_int(o, "time_wait_s", CW_TIME_WAIT_MS / 1000);
	out_json_int(o, "tw_reuse", p->sys.tw_reuse);
	out_json_int(o, "tw_reuse_delay_ms", p->sys.tw_reuse_delay_ms);
	out_json_int(o, "timestamps", p->sys.timestamps);
	if (p->rate > 0)
		out_json_num(o, "rate", p->rate, 3);
	else
		out_json_str(o, "rate", NULL);
	out_json_rows(o, "destinations", cols, nc, p, cw_ports_dest_count(p->r));
	out_json_rows(o, "locals", local_cols, sizeof(local_cols) / sizeof(local_cols[0]), p,
		      cw_ports_local_count(p->r));
	out_json_open(o, "advice", '[');
	for (size_t i = 0; i < na; i++)
		out_json_str(o, NULL, adv[i]);
	out_json_close(o);
}

static void print_table(struct out *o, struct ports_ctx *p)
{
	struct out_col cols[16];
	const char *adv[8];
	size_t nc = sizeof(dest_cols) / sizeof(dest_cols[0]), na = advice(p, adv, 8);
	char rate[32];

	memcpy(cols, dest_cols, sizeof(dest_cols));
	if (p->rate > 0) {
		memcpy(cols + nc, what_if_cols, sizeof(what_if_cols));
		snprintf(rate, sizeof(rate), "AT-%g/s", p->rate);
		cols[nc + 1].head = rate;
		nc += 2;
	}
	out_printf(o, "ephemeral ports %u-%u: %u usable per source address and destination "
		      "(%u reserved)\n",
		   p->sys.range_lo, p->sys.range_hi, p->sys.usable, p->sys.reserved);
	out_printf(o, "TIME_WAIT holds a port 60s; tcp_tw_reuse=%d (%s), timestamps %s",
		   p->sys.tw_reuse, reuse_name(p->sys.tw_reuse), p->sys.timestamps ? "on" : "off");
	if (p->sys.tw_reuse && p->sys.timestamps)
		out_printf(o, ": reused after %ums%s\n", p->sys.tw_reuse_delay_ms,
			   p->sys.tw_reuse == 2 ? " toward loopback" : "");
	else
		out_printf(o, ": no reuse, %.1f new connections/s per source and destination at most\n",
			   p->sys.usable / (CW_TIME_WAIT_MS / 1000.0));
	out_printf(o, "\n");
	if (cw_ports_dest_count(p->r))
		out_table(o, cols, nc, p, cw_ports_dest_count(p->r));
	else
		out_printf(o, "no outgoing connections\n");
	if (cw_ports_local_count(p->r)) {
		out_printf(o, "\n");
		out_table(o, local_cols, sizeof(local_cols) / sizeof(local_cols[0]), p,
			  cw_ports_local_count(p->r));
	}
	if (na)
		out_printf(o, "\nadvice:\n");
	for (size_t i = 0; i < na; i++)
		out_printf(o, "  - %s\n", adv[i]);
}

/* One namespace's report: its sysctls read inside it, its sockets. 0, or
 * -errno with what failed in *what. */
static int ns_report(const struct cw_census *c, size_t j, bool one_ns, struct ports_ctx *p,
		     const struct cw_endpoint *dest, const char **what)
{
	int err = one_ns ? cw_port_sys_read_netns(c, j, &p->sys) : cw_port_sys_read(NULL, &p->sys);

	*what = "cannot read net.ipv4 sysctls";
	if (err)
		return err;
	*what = "computing the report";
	if (one_ns)
		return cw_ports_report_netns(c, cw_census_netns(c, j)->inode, &p->sys, p->rate, dest,
					     &p->r);
	return cw_ports_report(c, &p->sys, p->rate, dest, &p->r);
}

/* --net or --all-netns: a report per namespace read. */
static int print_namespaces(struct out *o, const struct cw_census *c, struct ports_ctx *p,
			    const struct cw_endpoint *dest, bool json)
{
	char name[128];
	const char *what;
	size_t quiet = 0, shown = 0;
	int err = 0;

	if (json) {
		out_json_open(o, NULL, '{');
		out_json_int(o, "version", PORTS_JSON_VERSION);
		out_json_int(o, "time_ms", (long long)cw_census_time_ms(c));
		out_json_open(o, "namespaces", '[');
	}
	for (size_t j = 0; j < cw_census_netns_count(c) && !err; j++) {
		const struct cw_netns *ns = cw_census_netns(c, j);

		if (ns->err)
			continue; /* scan's notes say why; here it has no sockets to report */
		err = ns_report(c, j, true, p, dest, &what);
		if (err) {
			cli_warn("ports", "%s: %s: %s", netns_str(ns, name, sizeof(name)), what,
				 strerror(-err));
			err = 0;
			continue;
		}
		if (json) {
			out_json_open(o, NULL, '{');
			out_json_int(o, "netns", (long long)ns->inode);
			out_json_str(o, "netns_name", ns->name);
			json_members(o, p);
			out_json_close(o);
		} else if (!cw_ports_dest_count(p->r) && cw_census_netns_count(c) > 1) {
			quiet++; /* a table per idle namespace would bury the ones that matter */
		} else {
			out_printf(o, "%s== %s ==\n", shown++ ? "\n" : "", netns_str(ns, name, sizeof(name)));
			print_table(o, p);
		}
		cw_ports_report_free(p->r);
		p->r = NULL;
	}
	if (json) {
		out_json_close(o);
		out_json_end(o);
	} else if (quiet) {
		out_printf(o, "%s%zu namespace%s with no outgoing connections not shown (--json lists "
			      "every one)\n", shown ? "\n" : "", quiet, quiet == 1 ? "" : "s");
	}
	return err;
}

int cmd_ports(int argc, char **argv)
{
	struct ports_ctx p = { 0 };
	struct cw_endpoint dest;
	struct selection sel;
	struct cw_census_opts co;
	bool has_dest = false, json = false;
	struct cw_census *c;
	const char *what;
	struct out *o;
	int opt, err;

	selection_init(&sel);
	optind = 1;
	opterr = 0;
	while ((opt = cli_getopt("ports", argc, argv, ":h", ports_options, ports_help)) != -1) {
		switch (opt) {
		case OPT_RATE: p.rate = opt_rate("ports", "--rate", optarg); break;
		case OPT_DEST: opt_endpoint("ports", "--dest", optarg, &dest), has_dest = true; break;
		case OPT_JSON: json = true; break;
		default: selection_opt("ports", &sel, opt, optarg); break;
		}
	}
	cw_census_opts_init(&co);
	selection_census(&sel, &co);
	err = cw_census_take(&co, &c);
	if (err)
		cli_fail_exit2("ports", "%s", census_strerror(&co, err));
	o = out_open(stdout);
	if (co.netns_sel != CW_NETNS_SEL_CURRENT) {
		err = print_namespaces(o, c, &p, has_dest ? &dest : NULL, json);
	} else {
		err = ns_report(c, 0, false, &p, has_dest ? &dest : NULL, &what);
		if (err) {
			out_close(o);
			cw_census_free(c);
			cli_fail_exit2("ports", "%s: %s", what, strerror(-err));
		}
		if (json) {
			out_json_open(o, NULL, '{');
			out_json_int(o, "version", PORTS_JSON_VERSION);
			out_json_int(o, "time_ms", (long long)cw_census_time_ms(c));
			json_members(o, &p);
			out_json_end(o);
		} else {
			print_table(o, &p);
		}
		cw_ports_report_free(p.r);
	}
	err = out_close(o);
	cw_census_free(c);
	if (err)
		cli_fail_exit2("ports", "writing output: %s", out_strerror(err));
	return 0;
}
