/* closewait: find, fix and prevent leaked TCP connections. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "serve", cmd_serve, "the uppercase echo server (add --leak for the classic CLOSE_WAIT leak, on purpose)" },
	{ "client", cmd_client, "send a message and print the reply; --stream: a long-lived client" },
	{ "scan", cmd_scan, "find leaked sockets: who holds them, how old, which side forgot to close" },
	{ "watch", cmd_watch, "follow CLOSE_WAIT counts per process: leaking, stuck or ok" },
	{ "ports", cmd_ports, "ephemeral port pressure per destination: TIME_WAIT, rates, exhaustion" },
	{ "reap", cmd_reap, "end leaked connections of a running process now, without a restart" },
	{ "export", cmd_export, "serve the census as Prometheus metrics, or write them for node_exporter" },
	{ "guard", cmd_guard, "run a program with the guard: find which line forgot to close, cure its leaks" },
	{ "trace", cmd_trace, "explain leaks live with eBPF: the code that created them, why, since when" },
	{ "lab", cmd_lab, "run a scenario in private network namespaces: the TCP states, step by step" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: closewait COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'closewait COMMAND --help' describes each command and its options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("closewait %s\n", CW_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	cli_usage_exit2(NULL, "unknown command \"%s\"", argv[1]);
}
