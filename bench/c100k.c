/* c100k: opens many connections to an uppercase echo server and holds them
 * idle, for the C100K harness, the idle-memory figure and the close-latency
 * figure (which needs thousands of idle connections open).
 *
 * The connections are spread over --procs processes (each may hold at most
 * 20 000 files here), process i binding to 127.0.0.(FIRST + i mod SOURCES)
 * and connecting to PORT + i mod PORTS. Each connection exchanges one checked
 * message when it opens (so the server has accepted it), then stays idle.
 * While holding, anything the server sends must be heartbeat bytes (--hb,
 * default "\n"); their count goes to the --counter file. A connection the
 * server closes while held is an error.
 *
 * Prints "ready conns=N" once every connection is open, then holds until
 * SIGUSR1 (or SIGTERM/SIGINT), closes every connection, checks that each
 * process's fd count is back where it started, and prints
 * "closed conns=N heartbeat_bytes=B fd_ok=1". Exit 1 on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define MSG 16 /* bytes of the opening exchange */

struct opts {
	const char *addr;
	uint16_t port;
	unsigned ports, conns, procs, sources, first;
	int hb;
	const char *counter;
};

struct result {
	uint64_t conns;
	uint64_t hb_bytes;
	uint64_t server_closed; /* held connections the server ended */
	int fd_before, fd_after;
};

static void full_io(int fd, void *buf, size_t len, bool wr)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			bu_die(n < 0, "a c100k process went away");
		p += n;
		len -= (size_t)n;
	}
}

/* Reads what a held connection has: heartbeat bytes only. Returns -1 when
 * the server ended the connection (an error: it was to be held). */
static int on_held(const struct opts *o, int fd, struct result *r, uint64_t *ctr, size_t idx)
{
	uint8_t buf[512];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		r->server_closed++;
		fprintf(stderr, "c100k: held connection %zu: %s\n", idx,
			n == 0 ? "the server closed it" : strerror(errno));
		return -1;
	}
	for (ssize_t i = 0; i < n; i++)
		if (o->hb < 0 || buf[i] != (uint8_t)o->hb)
			bu_die(false, "held connection %zu: byte 0x%02x is not a heartbeat", idx, buf[i]);
	r->hb_bytes += (uint64_t)n;
	bu_counter_add(ctr, (uint64_t)n);
	return 0;
}

/* Holds fds until the parent writes on (or closes) cmd_fd. */
static void hold(const struct opts *o, int *fds, size_t n, int cmd_fd, struct result *r,
		 uint64_t *ctr)
{
	struct epoll_event evs[256], ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	bool done = false;

	if (ep < 0)
		bu_die(true, "epoll_create1");
	ev.data.u64 = UINT64_MAX;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, cmd_fd, &ev) < 0)
		bu_die(true, "epoll_ctl");
	for (size_t i = 0; i < n; i++) {
		ev.data.u64 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			bu_die(true, "epoll_ctl");
	}
	while (!done) {
		int k = epoll_wait(ep, evs, 256, -1);

		if (k < 0 && errno != EINTR)
			bu_die(true, "epoll_wait");
		for (int i = 0; i < k; i++) {
			uint64_t idx = evs[i].data.u64;

			if (idx == UINT64_MAX) {
				done = true;
			} else if (on_held(o, fds[idx], r, ctr, (size_t)idx) < 0) {
				close(fds[idx]); /* also leaves the epoll set */
				fds[idx] = -1;
			}
		}
	}
	close(ep);
}

static _Noreturn void child_main(const struct opts *o, unsigned i, uint64_t first, size_t n,
				 int cmd_fd, int res_fd)
{
	struct result r = { .conns = n };
	struct bu_pattern pat;
	struct sockaddr_in dst;
	struct in_addr src;
	uint64_t scratch = 0, *ctr = &scratch;
	int *fds = calloc(n, sizeof(int));
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (!fds)
		bu_die(false, "out of memory");
	if (o->counter)
		ctr = bu_counter_map(o->counter, o->procs, BU_MAP_WRITE) + i;
	r.fd_before = bu_fd_count();
	bu_pattern_init(&pat, MSG, 0x51ed270b27f1a3c5ull);
	bu_addr(&dst, o->addr, (uint16_t)(o->port + i % o->ports));
	src.s_addr = htonl(0x7f000000u + o->first + (o->sources ? i % o->sources : 0));
	bu_open_pinged(&dst, o->sources ? &src : NULL, fds, n, 256, &pat, MSG, first);
	full_io(res_fd, "R", 1, true);
	hold(o, fds, n, cmd_fd, &r, ctr);
	for (size_t k = 0; k < n; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	free(fds);
	bu_pattern_free(&pat);
	r.fd_after = bu_fd_count();
	full_io(res_fd, &r, sizeof(r), true);
	exit(r.server_closed ? 1 : 0);
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "addr", required_argument, NULL, 'a' },   { "port", required_argument, NULL, 'p' },
		{ "ports", required_argument, NULL, 'n' },  { "conns", required_argument, NULL, 'c' },
		{ "procs", required_argument, NULL, 'P' },  { "sources", required_argument, NULL, 'S' },
		{ "first-source", required_argument, NULL, 'f' }, { "hb", required_argument, NULL, 'b' },
		{ "counter", required_argument, NULL, 'C' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct opts){ .addr = "127.0.0.1", .ports = 1, .conns = 1, .first = 2, .hb = '\n' };
	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'a': o->addr = optarg; break;
		case 'p': o->port = (uint16_t)bu_ulong("--port", optarg, 1, 65535); break;
		case 'n': o->ports = (unsigned)bu_ulong("--ports", optarg, 1, 64); break;
		case 'c': o->conns = (unsigned)bu_ulong("--conns", optarg, 1, 10000000); break;
		case 'P': o->procs = (unsigned)bu_ulong("--procs", optarg, 1, 512); break;
		case 'S': o->sources = (unsigned)bu_ulong("--sources", optarg, 0, 250); break;
		case 'f': o->first = (unsigned)bu_ulong("--first-source", optarg, 1, 250); break;
		case 'b': o->hb = strcmp(optarg, "none") ? (int)bu_ulong("--hb", optarg, 0, 255) : -1; break;
		case 'C': o->counter = optarg; break;
		case 'h':
			printf("Usage: c100k --port P [--ports K] [--conns N] [--procs K] [--sources K]\n"
			       "             [--first-source X] [--hb BYTE|none] [--counter FILE]\n"
			       "Holds N idle connections; SIGUSR1 closes them. --hb: the heartbeat byte\n"
			       "value accepted while holding (default 10, \"\\n\"); none: no byte.\n");
			exit(0);
		default: exit(2);
		}
	}
	if (optind < argc || !o->port)
		bu_die(false, "usage: c100k --port P [...] (see --help)");
	if (!o->procs)
		o->procs = (o->conns + 14999) / 15000;
	if (o->procs > o->conns)
		o->procs = o->conns;
	if (o->conns / o->procs > 19000)
		bu_die(false, "%u connections per process: a process may hold at most 20 000 files",
		       o->conns / o->procs + 1);
	if (o->port + o->ports - 1 > 65535 || o->first + o->sources > 255)
		bu_die(false, "ports or source addresses out of range");
}

/* Tells every child to close, collects their results; returns 1 on any failure. */
static int close_all(const struct opts *o, int (*cmd)[2], int (*res)[2], const pid_t *pids)
{
	struct result tot = { 0 }, r;
	int failed = 0;

	for (unsigned i = 0; i < o->procs; i++)
		full_io(cmd[i][1], "C", 1, true);
	for (unsigned i = 0; i < o->procs; i++) {
		int st;

		full_io(res[i][0], &r, sizeof(r), false);
		tot.conns += r.conns;
		tot.hb_bytes += r.hb_bytes;
		tot.server_closed += r.server_closed;
		if (r.fd_after != r.fd_before) {
			fprintf(stderr, "c100k: process %u: %d fds open after closing, %d before\n", i,
				r.fd_after, r.fd_before);
			failed = 1;
		}
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			failed = 1;
	}
	printf("closed conns=%llu heartbeat_bytes=%llu server_closed=%llu fd_ok=%d\n",
	       (unsigned long long)tot.conns, (unsigned long long)tot.hb_bytes,
	       (unsigned long long)tot.server_closed, !failed);
	return failed;
}

int main(int argc, char **argv)
{
	struct opts o;
	sigset_t set;
	int (*cmd)[2], (*res)[2], sig, failed;
	pid_t *pids;
	uint64_t first = 0;

	bu_set_prog(argv[0]);
	parse(argc, argv, &o);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1), sigaddset(&set, SIGTERM), sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL); /* taken by sigwait below, not by a handler */
	signal(SIGPIPE, SIG_IGN);
	cmd = calloc(o.procs, sizeof(*cmd));
	res = calloc(o.procs, sizeof(*res));
	pids = calloc(o.procs, sizeof(*pids));
	if (!cmd || !res || !pids)
		bu_die(false, "out of memory");
	if (o.counter)
		munmap(bu_counter_map(o.counter, o.procs, BU_MAP_CREATE), o.procs * sizeof(uint64_t));
	for (unsigned i = 0; i < o.procs; i++) {
		size_t n = o.conns / o.procs + (i < o.conns % o.procs);

		if (pipe2(cmd[i], O_CLOEXEC) < 0 || pipe2(res[i], O_CLOEXEC) < 0)
			bu_die(true, "pipe");
		pids[i] = fork();
		if (pids[i] < 0)
			bu_die(true, "fork");
		if (pids[i] == 0) {
			/* Only the parent may hold the other ends: a child must see EOF
			 * on its command pipe when the parent goes away. */
			for (unsigned j = 0; j < i; j++)
				close(cmd[j][1]), close(res[j][0]);
			child_main(&o, i, first, n, cmd[i][0], res[i][1]);
		}
		close(cmd[i][0]), close(res[i][1]);
		first += n;
	}
	for (unsigned i = 0; i < o.procs; i++) {
		char ready;

		full_io(res[i][0], &ready, 1, false);
	}
	printf("ready conns=%u\n", o.conns);
	fflush(stdout);
	sigwait(&set, &sig);
	failed = close_all(&o, cmd, res, pids);
	free(cmd), free(res), free(pids);
	return failed;
}
