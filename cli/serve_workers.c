/* closewait serve --workers N: the nginx model. N processes, each with its
 * own loop and an SO_REUSEPORT listener (so the kernel spreads connections
 * and no process ever holds more than its share of the 20 000-fd limit),
 * under a parent that restarts a worker that dies and drains all on SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "closewait/addr.h"
#include "closewait/sockopt.h"
#include "serve.h"

#define READY_TIMEOUT_MS 5000
#define FAST_DEATH_MS 1000 /* a worker that dies this soon is restarted after a pause */

struct worker {
	pid_t pid;        /* 0 when not running */
	int stats_fd;     /* read end: the worker's final counters */
	uint64_t started; /* ms */
};

struct supervisor {
	struct serve *s;
	struct worker w[SERVE_MAX_WORKERS];
	struct cw_conn_stats sum;
	sigset_t sigs;
	pid_t parent;     /* the supervisor's pid, for the workers' death signal */
	bool stopping;
};

/* Binds each address once, without SO_REUSEPORT: if anything holds the port
 * (another `serve --workers` included, whose listeners would otherwise
 * silently share it with ours), this fails the way a single process would. */
static int precheck(struct serve *s)
{
	const char *const *addrs;
	size_t n = serve_addrs(s, &addrs);

	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t sl;
		int fd, err = 0, one = 1;

		cw_addr_parse(addrs[i], &ss, &sl, NULL);
		cw_addr_set_port(&ss, s->port);
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = -errno;
		} else {
			cw_sockopt_reuseaddr(fd);
			if (ss.ss_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
				err = -errno;
			close(fd);
		}
		if (err && !serve_skip_v6(s, i, err)) {
			char a[CW_ADDRSTRLEN];

			cw_addr_port_str(&ss, a, sizeof(a));
			cli_warn("serve", "cannot listen on %s: %s", a, strerror(-err));
			return -1;
		}
	}
	return 0;
}

/* Starts worker i; ready_fd gets the write end of its readiness pipe, or is
 * NULL for a restart. Returns 0 or -1. */
static int spawn(struct supervisor *sv, unsigned i, int *ready_fd)
{
	int ready[2] = { -1, -1 }, stats[2];
	pid_t pid;

	if (pipe2(stats, O_CLOEXEC) < 0)
		return -1;
	if (ready_fd && pipe2(ready, O_CLOEXEC) < 0) {
		close(stats[0]), close(stats[1]);
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(stats[0]), close(stats[1]);
		if (ready_fd)
			close(ready[0]), close(ready[1]);
		return -1;
	}
	if (pid == 0) {
		close(stats[0]);
		if (ready_fd)
			close(ready[0]);
		for (unsigned j = 0; j < SERVE_MAX_WORKERS; j++)
			if (sv->w[j].pid && sv->w[j].stats_fd >= 0)
				close(sv->w[j].stats_fd);
		signal(SIGINT, SIG_IGN);
		sigprocmask(SIG_UNBLOCK, &sv->sigs, NULL);
		/* A supervisor killed outright must not leave its workers holding
		 * the port: they get SIGTERM and drain. (If it died before this
		 * line, we are already orphaned: go.) */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != sv->parent)
			_exit(1);
		sv->s->cfg.reuseport = true;
		sv->s->is_worker = true;
		_exit(serve_run(sv->s, ready[1], stats[1]));
	}
	close(stats[1]);
	sv->w[i].pid = pid;
	sv->w[i].stats_fd = stats[0];
	sv->w[i].started = cli_now_ms();
	if (ready_fd) {
		close(ready[1]);
		*ready_fd = ready[0];
	}
	return 0;
}

static void collect(struct supervisor *sv, struct worker *w)
{
	struct cw_conn_stats st;

	if (read(w->stats_fd, &st, sizeof(st)) == (ssize_t)sizeof(st)) {
		sv->sum.opened += st.opened;
		for (int r = 0; r < CW_CLOSE_REASON_MAX; r++)
			sv->sum.closed[r] += st.closed[r];
		sv->sum.bytes_in += st.bytes_in;
		sv->sum.bytes_out += st.bytes_out;
		if (st.bytes_queued_peak > sv->sum.bytes_queued_peak)
			sv->sum.bytes_queued_peak = st.bytes_queued_peak;
	}
	close(w->stats_fd);
	w->stats_fd = -1;
	w->pid = 0;
}

static void describe(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* Reaps dead workers; restarts them unless we are stopping. */
static void reap(struct supervisor *sv)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < sv->s->workers; i++) {
			struct worker *w = &sv->w[i];
			char how[96];
			bool fast;

			if (w->pid != pid)
				continue;
			fast = cli_now_ms() - w->started < FAST_DEATH_MS;
			collect(sv, w);
			if (sv->stopping)
				break;
			describe(status, how, sizeof(how));
			printf("worker %u (pid %d) %s; restarting it\n", i, (int)pid, how);
			if (fast) {
				/* Dying at once again and again: do not spin. */
				struct timespec ts = { 1, 0 };

				nanosleep(&ts, NULL);
			}
			if (spawn(sv, i, NULL) < 0)
				cli_warn("serve", "cannot restart worker %u: %s", i, strerror(errno));
			break;
		}
	}
}

static void signal_all(struct supervisor *sv, int signo)
{
	for (unsigned i = 0; i < sv->s->workers; i++)
		if (sv->w[i].pid)
			kill(sv->w[i].pid, signo);
}

static unsigned alive(const struct supervisor *sv)
{
	unsigned n = 0;

	for (unsigned i = 0; i < sv->s->workers; i++)
		n += sv->w[i].pid != 0;
	return n;
}

/* Waits for every worker to listen; false if one failed to start. */
static bool wait_ready(struct supervisor *sv, const int *ready)
{
	uint64_t deadline = cli_after(cli_now_ms(), READY_TIMEOUT_MS);
	bool ok = true;

	for (unsigned i = 0; i < sv->s->workers; i++) {
		struct pollfd p = { .fd = ready[i], .events = POLLIN };
		char c;
		int ms = cli_ms_until(deadline);

		if (!ok || ms == 0 || poll(&p, 1, ms) <= 0 ||
		    read(ready[i], &c, 1) != 1)
			ok = false;
		close(ready[i]);
	}
	return ok;
}

/* Start-up failed: no worker may stay behind holding the port. */
static int abort_start(struct supervisor *sv)
{
	sv->stopping = true;
	signal_all(sv, SIGKILL);
	for (unsigned i = 0; i < sv->s->workers; i++) {
		if (sv->w[i].pid) {
			waitpid(sv->w[i].pid, NULL, 0);
			collect(sv, &sv->w[i]);
		}
	}
	return 1;
}

int serve_workers(struct serve *s)
{
	static struct supervisor sv; /* the CLI's one supervisor; large, so not on the stack */
	int ready[SERVE_MAX_WORKERS], signals = 0;

	sv.s = s;
	sv.parent = getpid();
	if (precheck(s) < 0)
		return 1;
	sigemptyset(&sv.sigs);
	sigaddset(&sv.sigs, SIGCHLD);
	sigaddset(&sv.sigs, SIGINT);
	sigaddset(&sv.sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sv.sigs, NULL);
	for (unsigned i = 0; i < s->workers; i++)
		sv.w[i].stats_fd = -1;
	for (unsigned i = 0; i < s->workers; i++) {
		if (spawn(&sv, i, &ready[i]) < 0) {
			cli_warn("serve", "cannot start worker %u: %s", i, strerror(errno));
			for (unsigned j = 0; j < i; j++)
				close(ready[j]);
			return abort_start(&sv);
		}
	}
	if (!wait_ready(&sv, ready)) {
		cli_warn("serve", "a worker failed to start; stopping");
		return abort_start(&sv);
	}
	printf("Accepting connections ... (%u workers)\n", s->workers);
	fflush(stdout);
	while (!sv.stopping || alive(&sv)) {
		siginfo_t si;
		int signo = sigwaitinfo(&sv.sigs, &si);

		if (signo == SIGCHLD) {
			reap(&sv);
		} else if (signo == SIGINT || signo == SIGTERM) {
			/* Each worker drains for --drain; a second signal aborts them. */
			sv.stopping = true;
			if (!s->quiet)
				printf("%s%s: stopping %u workers\n", strsignal(signo), signals++ ? " again" : "",
				       alive(&sv));
			signal_all(&sv, SIGTERM);
		}
	}
	if (s->stats)
		serve_print_stats(&sv.sum);
	return 0;
}
