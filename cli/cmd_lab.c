/* closewait lab [NAME]: the list of scenarios, or one of them run in
 * private network namespaces, step by step, with the kernel's view. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lab/lab.h"

enum { OPT_JSON = 0x100, OPT_HELP };

static const struct option lab_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void list(FILE *f)
{
	for (size_t i = 0; i < lab_scenario_count; i++)
		fprintf(f, "  %-14s %s\n", lab_scenarios[i].name, lab_scenarios[i].summary);
}

static void lab_help(void)
{
	printf("Usage: closewait lab [--json] [NAME]\n"
	       "\n"
	       "Runs a scenario in private network namespaces and prints each step: what is\n"
	       "done, the sockets' states and timers as the kernel reports them, the TCP\n"
	       "counters that moved, and what it means. Without NAME, lists the scenarios.\n"
	       "Needs root, or a kernel that lets users make user namespaces.\n"
	       "\n"
	       "  --json   each step as one JSON line\n"
	       "  --help   this text\n"
	       "\n"
	       "Scenarios:\n");
	list(stdout);
	printf("\nExit status: 0 the scenario ran; 1 it could not; 2 usage error;\n"
	       "128+N when signal N interrupted it.\n");
}

int cmd_lab(int argc, char **argv)
{
	const struct lab_scenario *sc;
	bool json = false;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", lab_options, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			cli_bad_option("lab", opt, argv);
		if (opt == 'h' || opt == OPT_HELP) {
			lab_help();
			return 0;
		}
		if (opt == OPT_JSON)
			json = true;
	}
	if (optind == argc) {
		printf("Scenarios (closewait lab NAME runs one):\n");
		list(stdout);
		return 0;
	}
	if (optind + 1 < argc)
		cli_usage_exit2("lab", "one scenario at a time, not \"%s\"", argv[optind + 1]);
	sc = lab_scenario_find(argv[optind]);
	if (!sc)
		cli_usage_exit2("lab", "no scenario \"%s\" (closewait lab lists them)", argv[optind]);
	return lab_run(sc, json);
}
