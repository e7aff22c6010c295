/* closewait guard: runs a program with the guard library preloaded and the
 * guard's settings in CLOSEWAIT_GUARD, after refusing the programs LD_PRELOAD
 * cannot reach. The program replaces this command (execvp), so its exit
 * status and the signal that ends it are the caller's to see. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "closewait/conn.h"
#include "closewait/sockopt.h"
#include "guard_target.h"

#define GUARD_LIB "libclosewait-guard.so"
#define GUARD_ENV "CLOSEWAIT_GUARD"
#define USAGE_LINE "closewait guard [OPTIONS] -- PROGRAM [ARGS...]"

enum { OPT_INTERVAL = OPT_POLICY_LAST, OPT_GRACE, OPT_CURE, OPT_REPORT, OPT_NO_INHERIT, OPT_DUMP_ABOVE,
       OPT_HELP };

static const struct option guard_options[] = {
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "user-timeout", required_argument, NULL, OPT_USER_TIMEOUT },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "cure", required_argument, NULL, OPT_CURE },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "no-inherit", no_argument, NULL, OPT_NO_INHERIT },
	{ "dump-above", required_argument, NULL, OPT_DUMP_ABOVE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct guard_opts {
	struct cw_policy p;         /* keepalive and user timeout, parsed as serve's */
	uint64_t interval_ms;       /* the checker's period */
	uint64_t grace_ms;          /* how long in CLOSE_WAIT before a report */
	bool cure_fin;              /* shut down sockets still in CLOSE_WAIT after the grace */
	bool no_inherit;            /* the program's children run without the guard */
	long dump_above;            /* --dump-above, or -1: the guard chooses */
	const char *report;         /* --report as given, or NULL: stderr */
	char **argv;                /* PROGRAM and its arguments */
};

static void guard_help(void)
{
	int idle, intvl, cnt;

	cw_sockopt_sys_keepalive(&idle, &intvl, &cnt);
	printf("Usage: " USAGE_LINE "\n\n"
	       "Runs PROGRAM with the closewait guard loaded into it (LD_PRELOAD), to find\n"
	       "which line of a program forgot to close its connections. The guard follows\n"
	       "every TCP socket the program creates or accepts and reports each one left in\n"
	       "CLOSE_WAIT (the peer closed, the program did not) for longer than the grace\n"
	       "period, once, as a JSON line: its addresses, its age, why (eof-read: the\n"
	       "program read the peer's EOF, with the call stack that read it; never-read:\n"
	       "nothing read the socket) and the call stack that created it. A healthy\n"
	       "connection, however long idle, is never reported.\n"
	       "By default the guard only reports. --keepalive, --user-timeout and --cure\n"
	       "change how the program's sockets behave.\n\n"
	       "Options (durations: 250ms, 5s, 2m, 1h):\n"
	       "  --interval D          how often the guard checks its sockets' states\n"
	       "                        (default 1s)\n"
	       "  --grace D             report a socket in CLOSE_WAIT for longer than D\n"
	       "                        (default 5s)\n"
	       "  --report FILE         append the reports to FILE (created if need be) instead\n"
	       "                        of writing them to the program's stderr\n"
	       "  --keepalive IDLE:INTVL:CNT  TCP keepalive on every TCP socket the program\n"
	       "                        creates or accepts, so a peer that vanished without a\n"
	       "                        FIN is found: whole seconds and a count, an empty field\n"
	       "                        = this system's value (now %d:%d:%d); on; off\n"
	       "                        (default off). A socket on which the program sets its\n"
	       "                        own keepalive keeps the program's values.\n"
	       "  --user-timeout D      TCP_USER_TIMEOUT on those sockets (data unacknowledged\n"
	       "                        for D ends the connection); default with keepalive on:\n"
	       "                        IDLE+INTVL*CNT, else off; 0 = off\n"
	       "  --cure fin            shut down a socket still in CLOSE_WAIT after the grace\n"
	       "                        period: the peer gets our FIN and the port is freed. The\n"
	       "                        guard never closes the program's fd: it stays valid\n"
	       "                        (reads return EOF, writes fail with EPIPE).\n"
	       "  --no-inherit          the programs that PROGRAM starts run without the guard\n"
	       "  --dump-above N        read the states with one kernel dump per check\n"
	       "                        (sock_diag, filtered to CLOSE_WAIT) while the program\n"
	       "                        holds more than N tracked sockets, one query per\n"
	       "                        socket otherwise (default: whichever has cost less)\n"
	       "  -h, --help            this help\n\n"
	       "The environment: PROGRAM gets LD_PRELOAD with the guard library appended after\n"
	       "what LD_PRELOAD holds already (a sanitizer's runtime stays first), and\n"
	       GUARD_ENV ", the guard's settings as comma-separated key=value items:\n"
	       "  interval=MS,grace=MS[,keepalive=IDLE:INTVL:CNT][,user_timeout=MS]\n"
	       "  [,cure=fin][,inherit=0][,dump_above=N][,report=PATH]\n"
	       "report comes last: its path runs to the end and may hold commas. Setting the\n"
	       "two variables yourself runs a program under the guard without this command.\n\n"
	       "Refused, with exit status 2 and PROGRAM not run, because LD_PRELOAD cannot\n"
	       "reach them:\n"
	       "  - a statically linked program (no program interpreter: gcc -static,\n"
	       "    -static-pie);\n"
	       "  - a Go program, even a dynamically linked one: Go makes its socket system\n"
	       "    calls itself. Use 'closewait trace' for Go programs;\n"
	       "  - a set-uid or set-gid program: the loader ignores LD_PRELOAD for it.\n"
	       "PROGRAM is looked up in PATH as a shell does; a script (#!) is judged by its\n"
	       "interpreter. Only programs of this machine's byte order are inspected.\n\n"
	       "Exit status: PROGRAM's (it replaces this command; killed by a signal, it is\n"
	       "seen as killed by that signal); 127 if PROGRAM is not found, 126 if it cannot\n"
	       "be run, 2 on usage errors, refusals, or a missing guard library.\n",
	       idle, intvl, cnt);
}

static void parse_args(int argc, char **argv, struct guard_opts *o)
{
	struct policy_args pa = { .cmd = "guard", .read_idle_name = "read-idle", .p = &o->p };
	int opt, before;

	cw_policy_init(&o->p);
	o->interval_ms = 1000;
	o->grace_ms = 5000;
	o->dump_above = -1;
	optind = 1;
	opterr = 0;
	/* "+": options end at PROGRAM; everything after it is PROGRAM's. */
	for (;;) {
		before = optind;
		opt = getopt_long(argc, argv, "+:h", guard_options, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case '?':
		case ':': cli_bad_option("guard", opt, argv); break;
		case 'h':
		case OPT_HELP: guard_help(); exit(0);
		case OPT_KEEPALIVE:
		case OPT_USER_TIMEOUT: policy_opt(&pa, opt, optarg); break;
		case OPT_INTERVAL: o->interval_ms = opt_duration("guard", "--interval", optarg, false); break;
		case OPT_GRACE: o->grace_ms = opt_duration("guard", "--grace", optarg, false); break;
		case OPT_CURE:
			if (strcmp(optarg, "fin"))
				cli_usage_exit2("guard", "--cure: invalid value \"%s\" (fin)", optarg);
			o->cure_fin = true;
			break;
		case OPT_REPORT:
			if (!*optarg)
				cli_usage_exit2("guard", "--report: empty file name");
			o->report = optarg;
			break;
		case OPT_NO_INHERIT: o->no_inherit = true; break;
		case OPT_DUMP_ABOVE:
			o->dump_above = (long)opt_ulong("guard", "--dump-above", optarg, 0, 1000000000UL);
			break;
		}
	}
	/* getopt stepped over a "--" of its own: one that is an option's value
	 * (--report --) is not the separator. */
	if (optind != before + 1 || strcmp(argv[before], "--")) {
		if (optind < argc)
			cli_usage_exit2("guard", "\"%s\": put \"--\" before the program (" USAGE_LINE ")",
					argv[optind]);
		cli_usage_exit2("guard", "no program to run (" USAGE_LINE ")");
	}
	if (optind == argc)
		cli_usage_exit2("guard", "no program after \"--\" (" USAGE_LINE ")");
	o->argv = argv + optind;
}

/* Exits 2 with the reason PROGRAM cannot be guarded, if there is one. */
static void check_target(const char *prog, const char *path)
{
	struct guard_target t;
	char via[PATH_MAX + 32] = "";
	int err = guard_target_check(path, &t);

	if (err) {
		/* An unreadable program (mode 711) still runs, preload and all. */
		cli_warn("guard", "cannot read %s to check it (%s); running it unchecked", t.file,
			 strerror(-err));
		return;
	}
	if (t.script)
		snprintf(via, sizeof(via), " (the interpreter of %s)", prog);
	switch (t.kind) {
	case GUARD_TARGET_GO:
		cli_fail_exit2("guard", "%s%s is a Go program: Go makes its socket system calls itself, where "
			       "LD_PRELOAD cannot reach them; use 'closewait trace' for Go programs",
			       t.file, via);
	case GUARD_TARGET_STATIC:
		cli_fail_exit2("guard", "%s%s is statically linked (no program interpreter): LD_PRELOAD "
			       "cannot reach it", t.file, via);
	case GUARD_TARGET_SETID:
		cli_fail_exit2("guard", "%s%s is set-uid or set-gid: the loader ignores LD_PRELOAD for it",
			       t.file, via);
	case GUARD_TARGET_OK:
	case GUARD_TARGET_UNKNOWN:
		break;
	}
}

/* The library next to this program (a build tree), else the installed one. */
static void find_library(char *out, size_t len)
{
	char exe[PATH_MAX], built[PATH_MAX + sizeof(GUARD_LIB)] = "(this program's directory)/" GUARD_LIB;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		snprintf(built, sizeof(built), "%s/%s", dirname(exe), GUARD_LIB);
		if (!access(built, R_OK) && strlen(built) < len) {
			strcpy(out, built);
			return;
		}
	}
	if (!access(CW_GUARD_LIB_INSTALLED, R_OK) && strlen(CW_GUARD_LIB_INSTALLED) < len) {
		strcpy(out, CW_GUARD_LIB_INSTALLED);
		return;
	}
	cli_fail_exit2("guard", "the guard library is not installed: found neither %s nor %s", built,
		       CW_GUARD_LIB_INSTALLED);
}

/* Whether the LD_PRELOAD list (spaces or colons between) names lib. */
static bool preloads(const char *list, const char *lib)
{
	size_t n = strlen(lib);

	for (const char *p = list; *p; p += strcspn(p, " :")) {
		p += strspn(p, " :");
		if (!strncmp(p, lib, n) && (p[n] == '\0' || p[n] == ' ' || p[n] == ':'))
			return true;
	}
	return false;
}

static char *xstrfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xstrfmt(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		cli_fail_exit2("guard", "out of memory");
	return s;
}

/* LD_PRELOAD with the library last: a sanitizer's runtime must come first. */
static void set_preload(const char *lib)
{
	const char *cur = getenv("LD_PRELOAD");
	char *v;

	if (strpbrk(lib, " :"))
		cli_fail_exit2("guard", "%s: LD_PRELOAD cannot name a path holding a space or a colon", lib);
	if (!cur || !cur[strspn(cur, " :")])
		v = xstrfmt("%s", lib);
	else if (preloads(cur, lib))
		v = xstrfmt("%s", cur);
	else
		v = xstrfmt("%s %s", cur, lib);
	if (setenv("LD_PRELOAD", v, 1))
		cli_fail_exit2("guard", "cannot set LD_PRELOAD: %s", strerror(errno));
	free(v);
}

/* CLOSEWAIT_GUARD: report= last, its value running to the end of the string. */
static void set_settings(const struct guard_opts *o)
{
	char *s = NULL, *report = NULL, *cwd;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	int64_t ut = cw_policy_user_timeout(&o->p);

	if (!f)
		cli_fail_exit2("guard", "out of memory");
	fprintf(f, "interval=%" PRIu64 ",grace=%" PRIu64, o->interval_ms, o->grace_ms);
	if (o->p.keepalive) {
		int idle, intvl, cnt;

		cw_sockopt_sys_keepalive(&idle, &intvl, &cnt);
		fprintf(f, ",keepalive=%d:%d:%d", o->p.keepidle_s >= 0 ? o->p.keepidle_s : idle,
			o->p.keepintvl_s >= 0 ? o->p.keepintvl_s : intvl, o->p.keepcnt >= 0 ? o->p.keepcnt : cnt);
	}
	/* Capped as cw_policy_apply caps it: the kernel takes an int. An explicit
	 * 0 is written, so that the guard does not derive one of its own. */
	if (ut > 0 || o->p.user_timeout_ms != CW_USER_TIMEOUT_AUTO)
		fprintf(f, ",user_timeout=%" PRId64, ut > INT32_MAX ? (int64_t)INT32_MAX : ut);
	if (o->cure_fin)
		fprintf(f, ",cure=fin");
	if (o->no_inherit)
		fprintf(f, ",inherit=0");
	if (o->dump_above >= 0)
		fprintf(f, ",dump_above=%ld", o->dump_above);
	if (o->report && o->report[0] != '/') {
		/* The program may change its directory: the guard opens the file later. */
		if (!(cwd = getcwd(NULL, 0)))
			cli_fail_exit2("guard", "--report %s: cannot read the current directory: %s", o->report,
				       strerror(errno));
		report = xstrfmt("%s/%s", cwd, o->report);
		free(cwd);
	}
	if (o->report)
		fprintf(f, ",report=%s", report ? report : o->report);
	free(report);
	if (fclose(f) || !s)
		cli_fail_exit2("guard", "out of memory");
	if (setenv(GUARD_ENV, s, 1))
		cli_fail_exit2("guard", "cannot set " GUARD_ENV ": %s", strerror(errno));
	free(s);
}

int cmd_guard(int argc, char **argv)
{
	struct guard_opts o = { 0 };
	char path[PATH_MAX], lib[PATH_MAX];
	int err;

	parse_args(argc, argv, &o);
	err = guard_target_resolve(o.argv[0], path, sizeof(path));
	if (err) {
		cli_warn("guard", "%s: %s", o.argv[0], err == -ENOENT && !strchr(o.argv[0], '/') ?
			 "command not found" : strerror(-err));
		exit(err == -ENOENT ? 127 : 126);
	}
	check_target(o.argv[0], path);
	find_library(lib, sizeof(lib));
	set_preload(lib);
	set_settings(&o);
	execvp(path, o.argv);
	err = errno;
	cli_warn("guard", "%s: %s", o.argv[0], strerror(err));
	exit(err == ENOENT ? 127 : 126);
}
