/* loadgen: ping-pong load for an uppercase echo server.
 *
 * N connections, spread over P processes (and over source addresses
 * 127.0.0.2.. when asked), each sends an M-byte message of lowercase letters
 * and waits for the whole reply before sending the next. Every reply byte is
 * checked against the uppercase of what was sent; a wrong byte, a short reply
 * or a closed connection ends the run with exit 1. After a warm-up, messages
 * that complete within the measured window are counted and their latency
 * (send of the request to the last byte of the reply) goes in a histogram.
 * At the end every connection finishes its message in flight, so the server
 * sees a clean EOF, not a reset.
 *
 * --churn: short connections instead. Each of the N slots connects, sends one
 * message, checks the reply, closes, and connects again at once; a message is
 * then a whole connection, its latency from connect() to the last reply
 * byte, and the rate is connections (the server's accepts) per second. The
 * client closes first, so each connection leaves a TIME_WAIT socket on the
 * client's side for 60 s: at thousands per second the ephemeral ports run
 * out and each connect() searches longer for one to reuse (loopback's
 * default tcp_tw_reuse=2 allows it after 1 s). A harness in a network
 * namespace of its own sets net.ipv4.tcp_max_tw_buckets=0 there: no
 * TIME_WAIT at all.
 *
 * Prints one line of key=value pairs on stdout:
 *   conns= size= secs= msgs= rate= p50_us= p99_us= p999_us= max_us= total=
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_EVENTS 1024
#define DRAIN_NS 5000000000ull /* replies in flight at the end must come within 5 s */

struct opts {
	const char *addr;
	uint16_t port;
	unsigned conns, procs, sources;
	size_t size;
	uint64_t time_ns, warmup_ns;
	uint64_t count; /* --count: messages per connection; 0: until the window ends */
	const char *counter;
	bool churn;
};

struct conn {
	int fd;
	uint32_t sent;   /* bytes of the current request the socket took */
	uint32_t got;    /* bytes of the current reply checked */
	uint64_t id;     /* connection number across all processes */
	uint64_t seq;    /* message number on this connection */
	uint64_t t0;     /* ns: the request started */
	size_t off;      /* pattern offset of the current message */
	bool connecting; /* --churn: connect() in progress */
};

struct result {
	uint64_t msgs;  /* completed within the window */
	uint64_t total; /* completed at all */
	struct bu_hist hist;
};

struct child {
	const struct opts *o;
	struct sockaddr_in dst;
	struct in_addr src;     /* --sources: this process's source address */
	bool bind_src;
	struct bu_pattern pat;
	struct conn *c;
	size_t n;
	int ep;
	uint8_t *rbuf;
	uint64_t *counter;
	uint64_t win_start, win_end;
	size_t outstanding;
	uint64_t scratch;
	struct result res;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: loadgen --port P [--addr A] [--conns N] [--size M] [--time S | --count K]\n"
		"               [--warmup S] [--procs K] [--sources K] [--counter FILE] [--churn]\n"
		"       loadgen --read-counter FILE\n"
		"Ping-pong load against an uppercase echo server; checks every reply byte.\n"
		"  --conns N      connections (default 1)\n"
		"  --size M       message bytes (default 64, at most 1 MiB)\n"
		"  --time S       measured seconds (default 2)\n"
		"  --count K      instead: each connection sends K messages, however long\n"
		"                 that takes (a fixed amount of work for tracers and counters);\n"
		"                 secs and rate are then measured\n"
		"  --warmup S     seconds before measuring (default 0.5)\n"
		"  --procs K      client processes (default: one per 15 000 connections)\n"
		"  --sources K    bind process i to 127.0.0.(2 + i mod K); 0: no bind (default)\n"
		"  --counter FILE count completed messages there, one slot per process, for\n"
		"                 scripts that sample progress (loadgen --read-counter FILE)\n"
		"  --churn        a new connection per message: connect, one message, close;\n"
		"                 msgs and rate then count connections\n");
}

static void send_more(struct child *ch, struct conn *x)
{
	size_t size = ch->o->size;
	ssize_t n = send(x->fd, ch->pat.lower + x->off + x->sent, size - x->sent, MSG_NOSIGNAL);

	if (n < 0 && errno != EAGAIN && errno != EINTR)
		bu_die(true, "connection %llu: send", (unsigned long long)x->id);
	if (n > 0)
		x->sent += (uint32_t)n;
	if (x->sent < size) {
		/* The socket's buffer is full: wait until it takes the rest. */
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = x };

		if (epoll_ctl(ch->ep, EPOLL_CTL_MOD, x->fd, &ev) < 0)
			bu_die(true, "epoll_ctl");
	}
}

static void start_message(struct child *ch, struct conn *x, uint64_t now)
{
	x->seq++;
	x->off = bu_pattern_off(x->id, x->seq);
	x->sent = x->got = 0;
	x->t0 = now;
	send_more(ch, x);
}

/* --churn: slot x gets a new connection; its message starts once connected,
 * and its latency counts from now. */
static void churn_open(struct child *ch, struct conn *x, uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = x };

	x->fd = bu_connect_start(&ch->dst, ch->bind_src ? &ch->src : NULL);
	x->connecting = true;
	x->t0 = now;
	if (epoll_ctl(ch->ep, EPOLL_CTL_ADD, x->fd, &ev) < 0)
		bu_die(true, "epoll_ctl");
}

/* --churn: the reply came; the connection is done. */
static void churn_close(struct conn *x)
{
	close(x->fd); /* also leaves the epoll set */
	x->fd = -1;
}

static void on_writable(struct child *ch, struct conn *x)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = x };

	if (x->connecting) {
		uint64_t t0 = x->t0;

		bu_connect_check(x->fd, ch->o->port);
		x->connecting = false;
		start_message(ch, x, t0);
	}
	if (x->sent < ch->o->size)
		send_more(ch, x);
	if (x->sent == ch->o->size && epoll_ctl(ch->ep, EPOLL_CTL_MOD, x->fd, &ev) < 0)
		bu_die(true, "epoll_ctl");
}

/* A message (with --churn, a connection) is done at now. */
static void completed(struct child *ch, struct conn *x, uint64_t now)
{
	ch->res.total++;
	bu_counter_add(ch->counter, 1);
	if (now >= ch->win_start && now < ch->win_end) {
		ch->res.msgs++;
		bu_hist_add(&ch->res.hist, now - x->t0);
	}
	if (now >= ch->win_end || (ch->o->count && x->seq >= ch->o->count))
		ch->outstanding--;
	else if (ch->o->churn)
		churn_open(ch, x, now);
	else
		start_message(ch, x, now);
}

static void on_readable(struct child *ch, struct conn *x)
{
	size_t size = ch->o->size;
	ssize_t n = read(x->fd, ch->rbuf, size - x->got);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		bu_die(true, "connection %llu: read", (unsigned long long)x->id);
	}
	if (n == 0)
		bu_die(false, "connection %llu: the server closed it (message %llu, %u of %zu reply bytes)",
		       (unsigned long long)x->id, (unsigned long long)x->seq, x->got, size);
	bu_check_reply(ch->pat.upper + x->off + x->got, ch->rbuf, (size_t)n, x->id, x->seq, x->got);
	x->got += (uint32_t)n;
	if (x->got < size)
		return;
	if (x->sent < size)
		bu_die(false, "connection %llu: a whole reply came before the request was sent",
		       (unsigned long long)x->id);
	if (ch->o->churn)
		churn_close(x);
	completed(ch, x, bu_now_ns());
}

static int wait_ms(const struct child *ch, uint64_t now)
{
	uint64_t until = now < ch->win_end ? ch->win_end : ch->win_end + DRAIN_NS;

	if (now >= until)
		return 0;
	/* --count has no window end: wake each second all the same */
	return until - now > 1000000000ull ? 1000 : (int)((until - now) / 1000000u) + 1;
}

static void run(struct child *ch, uint64_t start)
{
	struct epoll_event evs[MAX_EVENTS];
	uint64_t now = bu_now_ns();

	ch->win_start = start + ch->o->warmup_ns;
	ch->win_end = ch->o->count ? UINT64_MAX - DRAIN_NS : ch->win_start + ch->o->time_ns;
	if (start > now)
		bu_sleep_ns(start - now);
	now = bu_now_ns();
	for (size_t i = 0; i < ch->n; i++) {
		if (ch->o->churn)
			churn_open(ch, &ch->c[i], now);
		else
			start_message(ch, &ch->c[i], now);
	}
	ch->outstanding = ch->n;
	while (ch->outstanding) {
		int k = epoll_wait(ch->ep, evs, MAX_EVENTS, wait_ms(ch, bu_now_ns()));

		if (k < 0 && errno != EINTR)
			bu_die(true, "epoll_wait");
		if (k == 0 && bu_now_ns() >= ch->win_end + DRAIN_NS)
			bu_die(false, "%zu replies still missing %llu s after the end",
			       ch->outstanding, DRAIN_NS / 1000000000ull);
		for (int i = 0; i < k; i++) {
			struct conn *x = evs[i].data.ptr;

			/* a failed connect may come without EPOLLOUT */
			if (evs[i].events & EPOLLOUT || x->connecting)
				on_writable(ch, x);
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(ch, x);
		}
	}
}

static void read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			bu_die(n < 0, "a client process went away");
		p += n;
		len -= (size_t)n;
	}
}

static void write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			bu_die(true, "pipe");
		p += n;
		len -= (size_t)n;
	}
}

/* One client process: connects its share, says ready, waits for the start
 * time, runs, sends back its result. */
static _Noreturn void child_main(const struct opts *o, unsigned idx, uint64_t first, size_t n,
				 int go_fd, int res_fd)
{
	struct child *ch = calloc(1, sizeof(*ch));
	int *fds = calloc(n, sizeof(int));
	uint64_t start;

	if (!ch || !fds)
		bu_die(false, "out of memory");
	ch->o = o;
	ch->n = n;
	ch->c = calloc(n, sizeof(*ch->c));
	ch->rbuf = malloc(o->size);
	if (!ch->c || !ch->rbuf)
		bu_die(false, "out of memory");
	bu_pattern_init(&ch->pat, o->size, 0x9e3779b97f4a7c15ull);
	/* Without a counter file, count into a slot nobody reads. */
	ch->counter = o->counter ? bu_counter_map(o->counter, o->procs, BU_MAP_WRITE) + idx : &ch->scratch;
	bu_addr(&ch->dst, o->addr, o->port);
	ch->src.s_addr = htonl(0x7f000002u + (o->sources ? idx % o->sources : 0));
	ch->bind_src = o->sources > 0;
	if (!o->churn)
		bu_open_pinged(&ch->dst, ch->bind_src ? &ch->src : NULL, fds, n, 256, &ch->pat,
			       o->size, first);
	ch->ep = epoll_create1(EPOLL_CLOEXEC);
	if (ch->ep < 0)
		bu_die(true, "epoll_create1");
	for (size_t i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ch->c[i] };

		ch->c[i] = (struct conn){ .fd = o->churn ? -1 : fds[i], .id = first + i };
		if (!o->churn && epoll_ctl(ch->ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			bu_die(true, "epoll_ctl");
	}
	write_full(res_fd, "R", 1);
	read_full(go_fd, &start, sizeof(start));
	run(ch, start);
	for (size_t i = 0; i < n; i++)
		if (ch->c[i].fd >= 0)
			close(ch->c[i].fd);
	write_full(res_fd, &ch->res, sizeof(ch->res));
	bu_pattern_free(&ch->pat);
	free(ch->c), free(ch->rbuf), free(ch), free(fds);
	exit(0);
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "addr", required_argument, NULL, 'a' },   { "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'c' },  { "size", required_argument, NULL, 's' },
		{ "time", required_argument, NULL, 't' },   { "warmup", required_argument, NULL, 'w' },
		{ "procs", required_argument, NULL, 'P' },  { "sources", required_argument, NULL, 'S' },
		{ "counter", required_argument, NULL, 'C' }, { "read-counter", required_argument, NULL, 'R' },
		{ "churn", no_argument, NULL, 'n' },        { "help", no_argument, NULL, 'h' },
		{ "count", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	bool timed = false;

	*o = (struct opts){ .addr = "127.0.0.1", .conns = 1, .size = 64, .time_ns = 2000000000ull,
			    .warmup_ns = 500000000ull };
	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'a': o->addr = optarg; break;
		case 'p': o->port = (uint16_t)bu_ulong("--port", optarg, 1, 65535); break;
		case 'c': o->conns = (unsigned)bu_ulong("--conns", optarg, 1, 1000000); break;
		case 's': o->size = bu_ulong("--size", optarg, 1, 1u << 20); break;
		case 't': o->time_ns = bu_secs_ns("--time", optarg), timed = true; break;
		case 'k': o->count = bu_ulong("--count", optarg, 1, 1000000000); break;
		case 'w': o->warmup_ns = bu_secs_ns("--warmup", optarg); break;
		case 'P': o->procs = (unsigned)bu_ulong("--procs", optarg, 1, 256); break;
		case 'S': o->sources = (unsigned)bu_ulong("--sources", optarg, 0, 250); break;
		case 'C': o->counter = optarg; break;
		case 'n': o->churn = true; break;
		case 'R': printf("%llu\n", (unsigned long long)bu_counter_sum(optarg)); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || !o->port || (timed && o->count)) {
		usage(stderr);
		exit(2);
	}
	if (!o->procs)
		o->procs = (o->conns + 14999) / 15000;
	if (o->procs > o->conns)
		o->procs = o->conns;
}

/* secs: the window's length, or with --count the time the run took */
static void report(const struct opts *o, const struct result *r, double secs)
{
	printf("conns=%u size=%zu secs=%.3f msgs=%llu rate=%.0f p50_us=%.1f p99_us=%.1f "
	       "p999_us=%.1f max_us=%.1f total=%llu\n",
	       o->conns, o->size, secs, (unsigned long long)r->msgs, (double)r->msgs / secs,
	       (double)bu_hist_quantile(&r->hist, 0.50) / 1e3,
	       (double)bu_hist_quantile(&r->hist, 0.99) / 1e3,
	       (double)bu_hist_quantile(&r->hist, 0.999) / 1e3, (double)r->hist.max / 1e3,
	       (unsigned long long)r->total);
}

/* Forks the client processes; pipes[i][0] carries the start time to child i,
 * pipes[i][1] its "ready" byte and then its result back. */
static void spawn(const struct opts *o, int (*pipes)[2][2], pid_t *pids)
{
	uint64_t first = 0;

	for (unsigned i = 0; i < o->procs; i++) {
		size_t n = o->conns / o->procs + (i < o->conns % o->procs);

		if (pipe2(pipes[i][0], O_CLOEXEC) < 0 || pipe2(pipes[i][1], O_CLOEXEC) < 0)
			bu_die(true, "pipe");
		pids[i] = fork();
		if (pids[i] < 0)
			bu_die(true, "fork");
		if (pids[i] == 0) {
			for (unsigned j = 0; j < i; j++) /* the parent's ends are the parent's */
				close(pipes[j][0][1]), close(pipes[j][1][0]);
			child_main(o, i, first, n, pipes[i][0][0], pipes[i][1][1]);
		}
		close(pipes[i][0][0]);
		close(pipes[i][1][1]);
		first += n;
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct result *sum = calloc(1, sizeof(*sum)), *one = calloc(1, sizeof(*one));
	int (*pipes)[2][2];
	pid_t *pids;
	uint64_t start;
	int failed = 0;

	bu_set_prog(argv[0]);
	parse(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	pipes = calloc(o.procs, sizeof(*pipes));
	pids = calloc(o.procs, sizeof(*pids));
	if (!sum || !one || !pipes || !pids)
		bu_die(false, "out of memory");
	if (o.counter)
		munmap(bu_counter_map(o.counter, o.procs, BU_MAP_CREATE), o.procs * sizeof(uint64_t));
	spawn(&o, pipes, pids);
	for (unsigned i = 0; i < o.procs; i++) {
		char r;

		read_full(pipes[i][1][0], &r, 1);
	}
	start = bu_now_ns() + 10000000u; /* every process starts at the same instant */
	for (unsigned i = 0; i < o.procs; i++)
		write_full(pipes[i][0][1], &start, sizeof(start));
	for (unsigned i = 0; i < o.procs; i++) {
		read_full(pipes[i][1][0], one, sizeof(*one));
		sum->msgs += one->msgs;
		sum->total += one->total;
		bu_hist_merge(&sum->hist, &one->hist);
	}
	for (unsigned i = 0; i < o.procs; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed = 1;
	}
	if (failed)
		bu_die(false, "a client process failed");
	report(&o, sum, o.count ? (double)(bu_now_ns() - start) / 1e9 : (double)o.time_ns / 1e9);
	free(sum), free(one), free(pipes), free(pids);
	return 0;
}
