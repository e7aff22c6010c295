/* closewait reap: end a running process's leaked connections without a
 * restart. Selects with scan's filters, asks, acts (the library's reap), reports. */
#include <errno.h>
#include <stdatomic.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cli.h"
#include "closewait/duration.h"
#include "closewait/reap.h"
#include "filter_opts.h"
#include "owners_src.h"
#include "reap_view.h"
#ifdef CW_REAP_TEST_SEAM
#include "reap/reap_testing.h"
#else
struct reap_seam; /* the test build's hook between selection and action */
#endif

enum { OPT_MODE = OPT_F_LAST, OPT_WAIT, OPT_DRY_RUN, OPT_YES, OPT_JSON, OPT_HELP };

static const struct option reap_options[] = {
	FILTER_LONG_OPTIONS,
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "yes", no_argument, NULL, OPT_YES },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void reap_help(void)
{
	printf("Usage: closewait reap (--pid PID | --port N | --peer ADDR[:PORT] | --unit UNIT |\n"
	       "                      --container ID | --pod UID | --comm NAME) [OPTIONS]\n\n"
	       "Ends leaked connections of running processes now, without a restart, so\n"
	       "that their ports and peers are freed. The owner's fds stay open (and valid)\n"
	       "until it is fixed to close them.\n\n"
	       "Selection (scan's filters; all must match; one of --pid, --port, --sport,\n"
	       "--dport, --peer, --unit, --container, --pod or --comm is required):\n"
	       "  --state S        ss state names, commas or repeated (default: close-wait);\n"
	       "                   listening sockets are never touched\n"
	       "  --pid PID        sockets held by this process (alone: in the network\n"
	       "                   namespaces its threads are in)\n"
	       HELP_HOLDERS
	       "  --port N         either end's port;  --sport N / --dport N: local / remote\n"
	       "  --peer ADDR[:PORT]  remote address (and port); [v6]:PORT for IPv6\n"
	       "  --older D        only sockets known to be at least D old (age_min >= D);\n"
	       "                   one whose age range contains D is skipped and listed\n"
	       HELP_WHY
	       "Namespaces (default: this one; each socket is acted on in its own):\n"
	       HELP_NETNS
	       "Action:\n"
	       "  --mode fin       (default) duplicate the socket from its owner (pidfd_getfd)\n"
	       "                   and shutdown() it: our FIN goes out, the peer closes\n"
	       "                   cleanly (or, long gone, answers with an RST); the owner then\n"
	       "                   reads EOF and its writes fail. Needs ptrace rights over the\n"
	       "                   owner: the same user, or CAP_SYS_PTRACE.\n"
	       "  --mode rst       destroy the socket through sock_diag (what ss -K does): the\n"
	       "                   peer gets an RST. For sockets whose owner is unknown or gone,\n"
	       "                   and for connections a program never accepted (fin cannot\n"
	       "                   reach those; the reset entry stays in the accept queue until\n"
	       "                   the program accepts it).\n"
	       "                   Needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY.\n"
	       "  --wait D         fin: how long to wait for the peers' answers (default 1s)\n"
	       "Confirmation and output:\n"
	       "  --dry-run        list what would be done, do nothing\n"
	       "  --yes, -y        act without asking; without it reap lists the sockets and\n"
	       "                   asks on the terminal, or, with no terminal, exits 1\n"
	       "  --json           one JSON document (fields: see docs/reap.md)\n\n"
	       "Each socket's inode and state are checked again right before acting: one\n"
	       "closed and replaced in between is skipped, not touched.\n"
	       "Exit status: 0 when every selected socket was reaped or deliberately skipped\n"
	       "(each reported), 1 when some could not be (permissions, kernel) or nothing was\n"
	       "confirmed, 2 on usage errors.\n");
}

struct reap_opts {
	struct selection sel;
	struct cw_filter f;           /* sel.f once parsed */
	enum cw_reap_mode mode;
	uint64_t wait_ms;
	bool dry_run, yes, json;
};

static void parse_args(int argc, char **argv, struct reap_opts *o)
{
	int opt;

	selection_init(&o->sel);
	o->mode = CW_REAP_FIN;
	o->wait_ms = CW_REAP_WAIT_MS;
	optind = 1;
	opterr = 0;
	while ((opt = cli_getopt("reap", argc, argv, ":hy", reap_options, reap_help)) != -1) {
		if (selection_opt("reap", &o->sel, opt, optarg))
			continue;
		switch (opt) {
		case OPT_MODE:
			if (!strcmp(optarg, "fin"))
				o->mode = CW_REAP_FIN;
			else if (!strcmp(optarg, "rst"))
				o->mode = CW_REAP_RST;
			else
				cli_usage_exit2("reap", "--mode: unknown mode \"%s\" (fin or rst)", optarg);
			break;
		case OPT_WAIT: o->wait_ms = opt_duration("reap", "--wait", optarg, true); break;
		case OPT_DRY_RUN: o->dry_run = true; break;
		case 'y':
		case OPT_YES: o->yes = true; break;
		case OPT_JSON: o->json = true; break;
		}
	}
	o->f = o->sel.f;
	if (!o->f.pid && o->f.port < 0 && o->f.sport < 0 && o->f.dport < 0 && !o->f.has_peer &&
	    !o->f.unit && !o->f.container && !o->f.pod && !o->f.comm)
		cli_usage_exit2("reap", "too broad: name the sockets with --pid, --port (--sport, --dport), "
				"--peer, --unit, --container, --pod or --comm; reap never acts on every "
				"socket of the host");
	if (!o->f.states)
		o->f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	o->sel.f = o->f;
}

/* With --pid, make sure we may reach it before anything else: otherwise its
 * fds cannot even be read and the selection would be silently empty. rst
 * mode only reads them; fin mode duplicates them too. */
static void check_pid(pid_t pid, enum cw_reap_mode mode)
{
	struct cw_ptrace_denial d;
	char why[512];
	int err = cw_reap_check_pid(pid, mode == CW_REAP_FIN, &d);

	if (err == -ESRCH)
		cli_fail_exit1("reap", "--pid %d: no such process", (int)pid);
	if (err == -EINVAL)
		cli_fail_exit1("reap", "--pid %d: not a process (a thread id? give its process id)", (int)pid);
	if (err == -EPERM) {
		reap_ptrace_text(&d, pid, why, sizeof(why));
		cli_fail_exit1("reap", "cannot reap sockets of pid %d: %s. Nothing was changed.", (int)pid, why);
	}
	if (err)
		cli_fail_exit1("reap", "--pid %d: %s", (int)pid, strerror(-err));
}

static bool want_sock(const struct cw_sock *s, void *arg)
{
	return cw_filter_match_addr(arg, s);
}

static bool ask(size_t n, enum cw_reap_mode mode)
{
	char line[64];
	size_t len;

	fprintf(stderr, "Reap these %zu socket%s (mode %s)? [y/N] ", n, n == 1 ? "" : "s",
		mode == CW_REAP_FIN ? "fin" : "rst");
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	len = strcspn(line, "\r\n");
	line[len] = 0;
	return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

#ifdef CW_REAP_TEST_SEAM
/* Test build only (the tests' cw_reap_seam program): with
 * CW_REAP_PAUSE=PATH, before acting on the first socket create PATH.paused
 * and wait (60 s at most) for PATH.go, so a test can change the world
 * between selection and action. */
static void seam_pause(const struct cw_reap_item *it, void *arg)
{
	const char *path = getenv("CW_REAP_PAUSE");
	atomic_bool *done = arg; /* walker threads call it (cw_reap_now) */
	char p[4096];
	struct stat st;
	FILE *f;

	(void)it;
	if (!path || atomic_exchange(done, true))
		return;
	snprintf(p, sizeof(p), "%s.paused", path);
	f = fopen(p, "w");
	if (f)
		fclose(f);
	snprintf(p, sizeof(p), "%s.go", path);
	for (int i = 0; i < 6000 && stat(p, &st); i++)
		usleep(10000);
}
#endif

static int report(const struct reap_opts *o, struct reap_view *v, FILE *table_to)
{
	struct out *out = out_open(o->json ? stdout : table_to);
	struct cw_reap_counts n;
	int err;

	if (o->json) {
		reap_print_json(out, v);
	} else {
		reap_print_table(out, v);
		reap_print_summary(out, v);
	}
	err = out_close(out);
	if (err)
		cli_fail_exit1("reap", "writing output: %s", out_strerror(err));
	cw_reap_counts(v->r, &n);
	/* Acted, yet some still to reap: it stopped, out of fds. */
	return n.failed || (v->acted && n.to_reap) || (!v->acted && v->todo && !v->dry_run) ? 1 : 0;
}

/* Lists the plan and asks; false (after saying why) if not confirmed. */
static bool confirmed(const struct reap_opts *o, struct reap_view *v)
{
	struct out *out;

	if (o->yes)
		return true;
	if (!isatty(STDIN_FILENO)) {
		v->not_acted = "Not confirmed (no terminal to ask on; add --yes)";
		return false;
	}
	out = out_open(o->json ? stderr : stdout);
	reap_print_table(out, v);
	out_close(out);
	if (ask(v->todo, o->mode))
		return true;
	v->not_acted = "Not confirmed";
	return false;
}

/* --yes in fin mode: nothing to confirm, so the walk for owners and the
 * FINs overlap (cw_reap_now). */
static struct cw_reap *reap_now(const struct reap_opts *o, struct cw_reap_opts *ro,
				const struct reap_seam *seam, struct reap_view *v)
{
	struct cw_reap_counts n;
	struct cw_census_opts co;
	struct cw_reap *r;
	int err;

	cw_census_opts_init(&co);
	selection_census(&o->sel, &co);
	owners_src_open("reap", &co, false);
#ifdef CW_REAP_TEST_SEAM
	err = reap_now_seam(&o->f, &co, ro, seam, &r);
#else
	err = cw_reap_now(&o->f, &co, ro, &r);

	(void)seam;
#endif
	owners_src_close(&co);

	if (err) /* the dump, or memory */
		cli_fail_exit1("reap", "%s", census_strerror(&co, err));
	cw_reap_counts(r, &n);
	*v = (struct reap_view){ .r = r, .wait_ms = o->wait_ms, .older_ms = o->f.older_ms,
				 .todo = n.acted };
	v->acted = v->todo > 0;
	return r;
}

int cmd_reap(int argc, char **argv)
{
	struct reap_opts o = { 0 };
	struct cw_census_opts co;
	struct cw_reap_opts ro;
	const struct reap_seam *seam = NULL;
	struct reap_view v = { 0 };
	struct cw_reap_counts n;
	struct cw_census *c;
	struct cw_reap *r;
	int err;

	parse_args(argc, argv, &o);
	if (o.f.pid)
		check_pid(o.f.pid, o.mode);
	cli_raise_fd_limit(); /* fin mode holds one duplicate per socket until the peers answer */
	cw_reap_opts_init(&ro);
	ro.wait_ms = o.wait_ms;
#ifdef CW_REAP_TEST_SEAM
	static atomic_bool paused;
	static const struct reap_seam pause = { seam_pause, &paused };

	seam = &pause;
#endif
	if (o.yes && !o.dry_run && o.mode == CW_REAP_FIN) {
		r = reap_now(&o, &ro, seam, &v);
		goto report;
	}
	cw_census_opts_init(&co);
	selection_census(&o.sel, &co);
	co.states = o.f.states;
	co.ports = &o.f;
	co.owners = true;
	co.want = want_sock;
	co.want_arg = &o.f;
	owners_src_open("reap", &co, false);
	err = cw_census_take(&co, &c);
	owners_src_close(&co);
	if (err)
		cli_fail_exit1("reap", "%s", census_strerror(&co, err));
	err = cw_reap_select(c, &o.f, o.mode, &r);
	cw_census_free(c);
	if (err)
		cli_fail_exit1("reap", "%s", strerror(-err));
	cw_reap_counts(r, &n);
	v = (struct reap_view){ .r = r, .wait_ms = o.wait_ms, .older_ms = o.f.older_ms,
				.dry_run = o.dry_run, .todo = n.to_reap };
	if (n.to_reap && !o.dry_run && confirmed(&o, &v)) {
#ifdef CW_REAP_TEST_SEAM
		err = reap_run_seam(r, &ro, seam);
#else
		err = cw_reap_run(r, &ro);
#endif
		if (err) {
			cw_reap_free(r);
			cli_fail_exit1("reap", "%s", strerror(-err));
		}
		v.acted = true;
	}
report:
	err = report(&o, &v, stdout);
	if (v.not_acted && o.json) /* the table's summary says it already */
		cli_warn("reap", "%s: nothing was done.", v.not_acted);
	cw_reap_free(r);
	return err;
}
