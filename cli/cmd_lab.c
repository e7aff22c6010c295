/* closewait lab [NAME | --all]: the list of scenarios, or one of them (or
 * every one in turn) run in private network namespaces, step by step, with
 * the kernel's view. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lab/lab.h"

enum { OPT_JSON = 0x100, OPT_ALL, OPT_SVG, OPT_HELP };

static const struct option lab_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "svg", required_argument, NULL, OPT_SVG },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void list(FILE *f)
{
	for (size_t i = 0; i < lab_scenario_count; i++)
		fprintf(f, "  %-15s %s\n", lab_scenarios[i].name, lab_scenarios[i].summary);
}

static void lab_help(void)
{
	printf("Usage: closewait lab [--json] [--svg FILE] NAME\n"
	       "       closewait lab [--json] --all\n"
	       "       closewait lab\n"
	       "\n"
	       "Runs a scenario in private network namespaces and prints each step: what is\n"
	       "done, the sockets' states and timers as the kernel reports them, the TCP\n"
	       "counters that moved, and what it means. Without NAME, lists the scenarios.\n"
	       "Needs root, or a kernel that lets users make user namespaces.\n"
	       "\n"
	       "  --all    every scenario, one after the other, each in namespaces of its\n"
	       "           own; a scenario that fails does not stop the others\n"
	       "  --json   each step as one JSON line\n"
	       "  --svg FILE\n"
	       "           also draw the scenario as a sequence diagram in FILE (SVG): one\n"
	       "           lane per endpoint, an arrow per TCP segment captured, the states\n"
	       "           each step showed\n"
	       "  --help   this text\n"
	       "\n"
	       "Scenarios:\n");
	list(stdout);
	printf("\nExit status: 0 the scenario ran (with --all: every one); 1 it could not\n"
	       "(with --all: one or more could not); 2 usage error; 128+N when signal N\n"
	       "interrupted it.\n");
}

/* Every scenario in turn; 1 when one failed, 128 + N at a signal, which
 * ends the run there. */
static int run_all(bool json)
{
	int failed = 0;

	for (size_t i = 0; i < lab_scenario_count; i++) {
		int rc;

		if (i && !json) {
			putchar('\n');
			fflush(stdout);
		}
		rc = lab_run(&lab_scenarios[i], json, NULL);
		if (rc >= 128)
			return rc;
		if (rc)
			failed = 1;
	}
	return failed;
}

int cmd_lab(int argc, char **argv)
{
	const struct lab_scenario *sc;
	bool json = false, all = false;
	const char *svg_path = NULL;
	FILE *svg;
	int opt, rc;

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
		if (opt == OPT_ALL)
			all = true;
		if (opt == OPT_SVG)
			svg_path = optarg;
	}
	if (all && svg_path)
		cli_usage_exit2("lab", "--svg draws one scenario: name it instead of --all");
	if (all) {
		if (optind < argc)
			cli_usage_exit2("lab", "--all runs every scenario: name none (\"%s\")",
					argv[optind]);
		return run_all(json);
	}
	if (optind == argc && svg_path)
		cli_usage_exit2("lab", "--svg draws a scenario: name one");
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
	if (!svg_path)
		return lab_run(sc, json, NULL);
	svg = fopen(svg_path, "we");
	if (!svg)
		cli_fail_exit1("lab", "cannot write %s: %s", svg_path, strerror(errno));
	rc = lab_run(sc, json, svg);
	if (fclose(svg) && !rc) {
		cli_warn("lab", "cannot write %s: %s", svg_path, strerror(errno));
		rc = 1;
	}
	return rc;
}
