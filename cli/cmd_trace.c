/* closewait trace: explains leaks live, with eBPF. Parses the options here;
 * the tracer itself is trace/ (built only with the BPF toolchain: without
 * it, the command says so and exits 2). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#ifdef CW_HAVE_TRACE
#include "trace.h"
#endif

enum { OPT_PID = 0x300, OPT_COMM, OPT_GRACE, OPT_INTERVAL, OPT_JSON, OPT_DURATION, OPT_PIN, OPT_HELP };

static const struct option trace_options[] = {
	{ "pid", required_argument, NULL, OPT_PID },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "pin", required_argument, NULL, OPT_PIN },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void trace_help(void)
{
	printf("Usage: closewait trace [--pid PID] [--comm NAME] [--grace D] [--interval D]\n"
	       "                      [--duration D] [--pin NAME|DIR] [--json]\n\n"
	       "Follows, with eBPF, the TCP sockets running processes accept and connect:\n"
	       "where in their code each was created (the user stack, named with the\n"
	       "program's debug information), when it entered CLOSE_WAIT and when the\n"
	       "program read its end of file. Every interval it takes a census of this\n"
	       "network namespace and reports each socket in CLOSE_WAIT longer than the\n"
	       "grace once: owner, fd, endpoints, close_wait_since, age, why (eof-read:\n"
	       "the program read the EOF and did not close; never-read: it never read up\n"
	       "to the EOF; unaccepted: never accepted) and the creating stack; leaks are\n"
	       "grouped by the code that created them. Needs CAP_BPF and CAP_PERFMON (and\n"
	       "CAP_SYS_ADMIN to mount tracefs when absent), or root.\n\n"
	       "  --pid PID        only this process's sockets\n"
	       "  --comm NAME      only sockets of processes of this command name\n"
	       "  --grace D        in CLOSE_WAIT this long before it is reported (default 5s)\n"
	       "  --interval D     between censuses (default 1s)\n"
	       "  --duration D     stop after D (default: at SIGINT or SIGTERM)\n"
	       "  --pin NAME|DIR   keep its records pinned while it runs, in\n"
	       "                   /sys/fs/bpf/closewait/NAME (or DIR, on a bpf file system),\n"
	       "                   so that scan shows exact CLOSE_WAIT ages; removed at exit\n"
	       "  --json           JSON lines (the default when stdout is not a terminal)\n"
	       "  --help           print the options\n\n"
	       "On a terminal the groups' headlines are redrawn each interval and a\n"
	       "summary with the stacks is printed at the end. Exit 0; 1 on a failure;\n"
	       "2 on a usage error or a missing privilege.\n");
}

int cmd_trace(int argc, char **argv)
{
	pid_t pid = 0;
	const char *comm = NULL;
	uint64_t grace_ms = 5000, interval_ms = 1000, duration_ms = 0;
	bool json = false;
	char pin_buf[4096];
	const char *pin = NULL;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = cli_getopt("trace", argc, argv, ":h", trace_options, trace_help)) != -1) {
		switch (opt) {
		case OPT_PID: pid = (pid_t)opt_ulong("trace", "--pid", optarg, 1, 0x7fffffff); break;
		case OPT_COMM:
			/* the kernel keeps 15 bytes of a command name */
			if (!optarg[0] || strlen(optarg) > 15)
				cli_usage_exit2("trace", "--comm: invalid command name \"%s\" (1 to 15 bytes)",
						optarg);
			comm = optarg;
			break;
		case OPT_GRACE: grace_ms = opt_duration("trace", "--grace", optarg, true); break;
		case OPT_INTERVAL: interval_ms = opt_duration("trace", "--interval", optarg, false); break;
		case OPT_DURATION: duration_ms = opt_duration("trace", "--duration", optarg, false); break;
		case OPT_JSON: json = true; break;
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
	struct trace_opts o = {
		.pid = pid,
		.comm = comm,
		.grace_ms = grace_ms,
		.interval_ms = interval_ms,
		.duration_ms = duration_ms,
		.json = json || !isatty(STDOUT_FILENO),
		.pin = pin,
		.no_recv_length = getenv("CLOSEWAIT_TRACE_NO_RECV_LENGTH") &&
				  strcmp(getenv("CLOSEWAIT_TRACE_NO_RECV_LENGTH"), "0"),
	};

	return trace_run(&o);
#else
	(void)pid, (void)comm, (void)pin, (void)grace_ms, (void)interval_ms, (void)duration_ms, (void)json;
	cli_fail_exit2("trace", "this closewait was built without trace, whose eBPF side needs clang, "
				 "llvm-strip, bpftool, libbpf, libelf and libdw at build time");
#endif
}
