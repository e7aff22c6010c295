/* closewait trace: explains leaks live, with eBPF. Parses the options here;
 * the tracer itself is trace/ (built only with the BPF toolchain: without
 * it, the command says so and exits 2). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "cli.h"
#include "filter_opts.h"
#ifdef CW_HAVE_TRACE
#include "trace.h"
#endif

#ifdef CW_HAVE_TRACE
/* A process trace cannot read is one whose sockets it cannot follow. */
static void say_unreadable(const struct cw_census *c)
{
	char note[320];
	bool said = false;

	if (caps_unreadable_first(c, &said, note, sizeof(note)))
		cli_warn("trace", "%s Their leaks are not reported.", note);
}
#endif

enum { OPT_GRACE = 0x300, OPT_INTERVAL, OPT_JSON, OPT_DURATION, OPT_PIN, OPT_NO_EOF_TIMES, OPT_HELP };

static const struct option trace_options[] = {
	/* scan's selection of processes and namespaces (its socket filters
	 * --state, --port and the rest have no meaning here) */
	{ "pid", required_argument, NULL, OPT_F_PID },
	{ "comm", required_argument, NULL, OPT_F_COMM },
	{ "unit", required_argument, NULL, OPT_F_UNIT },
	{ "container", required_argument, NULL, OPT_F_CONTAINER },
	{ "pod", required_argument, NULL, OPT_F_POD },
	NETNS_LONG_OPTIONS,
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "pin", required_argument, NULL, OPT_PIN },
	{ "no-eof-times", no_argument, NULL, OPT_NO_EOF_TIMES },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void trace_help(void)
{
	printf("Usage: closewait trace [--pid PID] [--comm NAME] [--unit UNIT] [--container ID]\n"
	       "                      [--pod UID] [--net NS | --all-netns] [--grace D]\n"
	       "                      [--interval D] [--duration D] [--pin NAME|DIR]\n"
	       "                      [--no-eof-times] [--json]\n\n"
	       "Follows, with eBPF, the TCP sockets running processes accept and connect:\n"
	       "where in their code each was created (the user stack, named with the\n"
	       "program's debug information), when it entered CLOSE_WAIT and when the\n"
	       "program read its end of file. Every interval it takes a census of the\n"
	       "selected network namespaces (as scan: this one by default) and reports\n"
	       "each socket in CLOSE_WAIT longer than the grace once: owner, fd,\n"
	       "endpoints, namespace and container, close_wait_since, age, why (eof-read:\n"
	       "the program read the EOF and did not close; never-read: it never read up\n"
	       "to the EOF; unaccepted: never accepted) and the creating stack; leaks are\n"
	       "grouped by the code that created them. Needs CAP_BPF and CAP_PERFMON (and\n"
	       "CAP_SYS_ADMIN to mount tracefs when absent), or root.\n\n"
	       "  --pid PID        only this process's sockets (in whatever network\n"
	       "                   namespace it is: its own is read)\n"
	       HELP_HOLDERS
	       HELP_NETNS
	       "  --grace D        in CLOSE_WAIT this long before it is reported (default 5s)\n"
	       "  --interval D     between censuses (default 1s)\n"
	       "  --duration D     stop after D (default: at SIGINT or SIGTERM)\n"
	       "  --pin NAME|DIR   keep its records pinned while it runs, in\n"
	       "                   /sys/fs/bpf/closewait/NAME (or DIR, on a bpf file system),\n"
	       "                   so that scan shows exact CLOSE_WAIT ages; removed at exit\n"
	       "  --no-eof-times   no hook on socket reads: about half of what trace costs\n"
	       "                   every socket read on the host, without the EOF read\n"
	       "                   times (why still says eof-read or never-read)\n"
	       "  --json           JSON lines (the default when stdout is not a terminal)\n"
	       "  --help           print the options\n\n"
	       "On a terminal the groups' headlines are redrawn each interval and a\n"
	       "summary with the stacks is printed at the end. Exit 0; 1 on a failure;\n"
	       "2 on a usage error or a missing privilege.\n");
}

int cmd_trace(int argc, char **argv)
{
	struct selection sel;
	uint64_t grace_ms = 5000, interval_ms = 1000, duration_ms = 0;
	bool json = false, no_eof_times = false;
	char pin_buf[4096];
	const char *pin = NULL;
	int opt;

	selection_init(&sel);
	optind = 1;
	opterr = 0;
	while ((opt = cli_getopt("trace", argc, argv, ":h", trace_options, trace_help)) != -1) {
		/* the kernel keeps 15 bytes of a command name, and the eBPF
		 * side compares them */
		if (opt == OPT_F_COMM && (!optarg[0] || strlen(optarg) > 15))
			cli_usage_exit2("trace", "--comm: invalid command name \"%s\" (1 to 15 bytes)",
					optarg);
		if (selection_opt("trace", &sel, opt, optarg))
			continue;
		switch (opt) {
		case OPT_GRACE: grace_ms = opt_duration("trace", "--grace", optarg, true); break;
		case OPT_INTERVAL: interval_ms = opt_duration("trace", "--interval", optarg, false); break;
		case OPT_DURATION: duration_ms = opt_duration("trace", "--duration", optarg, false); break;
		case OPT_JSON: json = true; break;
		case OPT_NO_EOF_TIMES: no_eof_times = true; break;
		case OPT_PIN:
			/* a bare name is an instance under the directory scan reads */
			if (!optarg[0] || !strcmp(optarg, ".") || !strcmp(optarg, "..") ||
			    strlen(optarg) >= sizeof(pin_buf) - 32)
				cli_usage_exit2("trace", "--pin: invalid name \"%s\"", optarg);
			if (strchr(optarg, '/'))
				snprintf(pin_buf, sizeof(pin_buf), "%s", optarg);
			else
				snprintf(pin_buf, sizeof(pin_buf), "/sys/fs/bpf/closewait/%s", optarg);
			pin = pin_buf;
			break;
		default: cli_bad_option("trace", opt, argv);
		}
	}
#ifdef CW_HAVE_TRACE
	struct cw_census_opts co;

	cw_census_opts_init(&co);
	selection_census(&sel, &co);
	struct trace_opts o = {
		.filter = &sel.f,
		.netns_sel = co.netns_sel,
		.netns = co.netns,
		.netns_pid = co.netns_pid,
		.grace_ms = grace_ms,
		.interval_ms = interval_ms,
		.duration_ms = duration_ms,
		.json = json || !isatty(STDOUT_FILENO),
		.pin = pin,
		.on_unreadable = say_unreadable,
		.no_recv_length = no_eof_times,
	};

	return trace_run(&o);
#else
	(void)sel, (void)pin, (void)grace_ms, (void)interval_ms, (void)duration_ms, (void)json, (void)no_eof_times;
	cli_fail_exit2("trace", "this closewait was built without trace, whose eBPF side needs clang, "
				 "llvm-strip, bpftool, libbpf, libelf and libdw at build time");
#endif
}
