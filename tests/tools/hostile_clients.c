/* cwt-hostile: slow and hostile clients for an uppercase echo server.
 *
 *   cwt-hostile MODE --port P [--addr A] [--conns N] [--time MS]
 *               [--bytes N] [--interval MS] [--timeout MS] [--ramp MS]
 *
 * Modes (all connections from one process, one epoll loop):
 *   trickle  N connections, each sends one byte every --interval (1000 ms),
 *            spread over the interval, and reads its replies: never idle.
 *            Runs for --time; counts the connections the server ended.
 *   noread   N connections, each sends lowercase bytes as fast as the
 *            socket takes them (--bytes each at most; 0: no end) and never
 *            reads a reply; a connection the server ends (its FIN or RST) is
 *            closed. Exits once the server has ended all N, or after --time.
 *   flood    noread with one connection and --bytes 1 GiB by default.
 *   reset    one connection: sends until the socket takes no more (the
 *            server stopped reading: its reply is queued), reads one byte
 *            of the reply, then resets (SO_LINGER {1, 0}, close).
 *   ping     N well-behaved clients: each sends a 32-byte message every
 *            --interval (20 ms), waits for its whole uppercase reply
 *            (checked), and notes the latency; a reply later than
 *            --timeout (1000 ms) counts as a timeout. Runs for --time.
 *
 * --ramp MS opens the connections a hundred at a time over MS, not at once.
 * With CWT_HOSTILE_TRACE set, ping prints to stderr every 250 ms how many
 * replies came and the slowest (to find when a stall happened).
 * Prints "connected N port=P" (P: the first one's local port) once all N
 * connections are established, then one
 * summary line of key=value pairs when it ends (--time, SIGTERM or, for
 * noread and flood, when the server has ended every connection). Raises its
 * own RLIMIT_NOFILE to the hard limit. Exit 1 on a setup failure or, in
 * ping, on a wrong or short reply or a connection the server ended. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cwtest.h"

#define CHUNK (64 * 1024)
#define PING_SIZE 32

enum mode { TRICKLE, NOREAD, FLOOD, RESET, PING };

struct opts {
	enum mode mode;
	const char *addr;
	uint16_t port;
	unsigned conns;
	uint64_t time_ms, interval_ms, timeout_ms, bytes, ramp_ms;
};

struct conn {
	int fd;           /* -1 once closed */
	uint64_t sent;    /* bytes the socket took */
	uint64_t next_ms; /* trickle, ping: when to send next */
	uint64_t sent_us; /* ping: when the message in flight was sent (0: none) */
	unsigned got;     /* ping: bytes of the reply in flight */
	bool late;        /* ping: its timeout was counted */
};

struct run {
	struct opts o;
	struct conn *c;
	int ep;
	unsigned open, ended;     /* connections open; ended by the server */
	uint64_t sent, got;       /* bytes */
	uint64_t *lat;            /* ping latencies, us */
	size_t nlat, caplat;
	unsigned timeouts, errors;
	char lower[CHUNK];
};

static volatile sig_atomic_t stop;

static void on_term(int sig) { (void)sig; stop = 1; }

static uint64_t now_us_fine(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *what)
{
	fprintf(stderr, "cwt-hostile: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage_exit(void)
{
	fprintf(stderr, "usage: cwt-hostile trickle|noread|flood|reset|ping --port P [--addr A] "
			"[--conns N] [--time MS] [--bytes N] [--interval MS] [--timeout MS] [--ramp MS]\n");
	exit(2);
}

static void parse(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },   { "addr", required_argument, NULL, 'a' },
		{ "conns", required_argument, NULL, 'n' },  { "time", required_argument, NULL, 't' },
		{ "bytes", required_argument, NULL, 'b' },  { "interval", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 'o' }, { "ramp", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const names[] = { "trickle", "noread", "flood", "reset", "ping" };
	bool interval_set = false, bytes_set = false;
	int opt;

	if (argc < 2)
		usage_exit();
	for (o->mode = TRICKLE; o->mode <= PING; o->mode++)
		if (!strcmp(argv[1], names[o->mode]))
			break;
	if (o->mode > PING)
		usage_exit();
	o->addr = "127.0.0.1";
	o->conns = 1;
	o->time_ms = 10000;
	o->timeout_ms = 1000;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'p': o->port = (uint16_t)atoi(optarg); break;
		case 'a': o->addr = optarg; break;
		case 'n': o->conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': o->time_ms = strtoull(optarg, NULL, 10); break;
		case 'b': o->bytes = strtoull(optarg, NULL, 10); bytes_set = true; break;
		case 'i': o->interval_ms = strtoull(optarg, NULL, 10); interval_set = true; break;
		case 'o': o->timeout_ms = strtoull(optarg, NULL, 10); break;
		case 'r': o->ramp_ms = strtoull(optarg, NULL, 10); break;
		default: usage_exit();
		}
	}
	if (!o->port || !o->conns)
		usage_exit();
	if (!interval_set)
		o->interval_ms = o->mode == PING ? 20 : 1000;
	if (o->mode == FLOOD || o->mode == RESET)
		o->conns = 1;
	if (o->mode == FLOOD && !bytes_set)
		o->bytes = 1ull << 30;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void watch(struct run *r, unsigned i, uint32_t ev, int op)
{
	struct epoll_event e = { .events = ev, .data.u32 = i };

	if (epoll_ctl(r->ep, op, r->c[i].fd, &e) < 0)
		die("epoll_ctl");
}

static void conn_gone(struct run *r, unsigned i, bool by_server)
{
	struct conn *c = &r->c[i];

	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	r->open--;
	if (by_server)
		r->ended++;
}

static unsigned local_port(int fd)
{
	struct sockaddr_in me;
	socklen_t ml = sizeof(me);

	return getsockname(fd, (struct sockaddr *)&me, &ml) == 0 ? ntohs(me.sin_port) : 0;
}

/* Opens all N (non-blocking connects, then a wait for each to complete);
 * the server's accept queue may hold them a while. */
static void connect_all(struct run *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(r->o.port) };
	struct epoll_event ev[256];
	unsigned pending = r->o.conns;
	uint64_t deadline = cwt_now_ms() + cwt_slack_ms(30000);

	if (inet_pton(AF_INET, r->o.addr, &sa.sin_addr) != 1)
		usage_exit();
	for (unsigned i = 0; i < r->o.conns; i++) {
		struct conn *c = &r->c[i];

		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
		if (c->fd < 0)
			die("socket");
		if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
			die("connect");
		watch(r, i, EPOLLOUT, EPOLL_CTL_ADD);
		r->open++;
		if (r->o.ramp_ms && i % 100 == 99)
			cwt_sleep_ms((unsigned)(r->o.ramp_ms * 100 / r->o.conns));
	}
	while (pending) {
		int n = epoll_wait(r->ep, ev, 256, 100);

		if (stop || cwt_now_ms() > deadline) {
			fprintf(stderr, "cwt-hostile: %u connections not established\n", pending);
			exit(1);
		}
		for (int k = 0; k < n; k++) {
			unsigned i = ev[k].data.u32;
			int err = 0;
			socklen_t el = sizeof(err);

			getsockopt(r->c[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err) {
				errno = err;
				die("connect");
			}
			watch(r, i, 0, EPOLL_CTL_MOD);
			pending--;
		}
	}
	printf("connected %u port=%u\n", r->o.conns, local_port(r->c[0].fd));
	fflush(stdout);
}

/* Sends lowercase bytes until the socket takes no more (or --bytes). */
static void push(struct run *r, unsigned i)
{
	struct conn *c = &r->c[i];

	while (!r->o.bytes || c->sent < r->o.bytes) {
		size_t len = CHUNK;
		ssize_t n;

		if (r->o.bytes && r->o.bytes - c->sent < len)
			len = (size_t)(r->o.bytes - c->sent);
		n = send(c->fd, r->lower, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				conn_gone(r, i, true);
			return;
		}
		c->sent += (uint64_t)n;
		r->sent += (uint64_t)n;
	}
}

static void drain(struct run *r, unsigned i)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(r->c[i].fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		r->got += (uint64_t)n;
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		conn_gone(r, i, true);
}

static void lat_add(struct run *r, uint64_t us)
{
	if (r->nlat == r->caplat) {
		r->caplat = r->caplat ? r->caplat * 2 : 4096;
		r->lat = realloc(r->lat, r->caplat * sizeof(*r->lat));
		if (!r->lat)
			die("realloc");
	}
	r->lat[r->nlat++] = us;
}

static void ping_read(struct run *r, unsigned i)
{
	struct conn *c = &r->c[i];
	char buf[PING_SIZE];
	ssize_t n = recv(c->fd, buf, PING_SIZE - c->got, MSG_DONTWAIT);

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			r->errors++;
			conn_gone(r, i, true);
		}
		return;
	}
	for (ssize_t k = 0; k < n; k++)
		if (buf[k] != r->lower[c->got + (unsigned)k] - 32)
			r->errors++;
	r->got += (uint64_t)n;
	c->got += (unsigned)n;
	if (c->got == PING_SIZE) {
		lat_add(r, now_us_fine() - c->sent_us);
		c->sent_us = 0;
		c->got = 0;
	}
}

/* Timed sends: trickle's byte, ping's message; ping's timeouts. */
static void tick(struct run *r, uint64_t now)
{
	for (unsigned i = 0; i < r->o.conns; i++) {
		struct conn *c = &r->c[i];

		if (c->fd < 0)
			continue;
		if (r->o.mode == PING && c->sent_us && !c->late &&
		    now_us_fine() - c->sent_us > r->o.timeout_ms * 1000) {
			c->late = true;
			r->timeouts++;
		}
		if (now < c->next_ms || (r->o.mode == PING && c->sent_us))
			continue;
		c->next_ms += r->o.interval_ms;
		if (c->next_ms < now)
			c->next_ms = now; /* behind: no burst to catch up */
		if (r->o.mode == PING) {
			c->late = false;
			c->sent_us = now_us_fine();
			if (send(c->fd, r->lower, PING_SIZE, MSG_NOSIGNAL) != PING_SIZE) {
				r->errors++; /* 32 bytes always fit an empty socket buffer */
				conn_gone(r, i, true);
			}
		} else if (send(c->fd, r->lower, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
			r->sent++;
		}
	}
}

static void on_event(struct run *r, unsigned i, uint32_t ev)
{
	if (r->c[i].fd < 0)
		return;
	switch (r->o.mode) {
	case TRICKLE:
		drain(r, i);
		break;
	case NOREAD:
	case FLOOD:
		if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			conn_gone(r, i, true);
		else if (ev & EPOLLOUT)
			push(r, i);
		if (r->c[i].fd >= 0 && r->o.bytes && r->c[i].sent >= r->o.bytes)
			watch(r, i, EPOLLRDHUP, EPOLL_CTL_MOD);
		break;
	case PING:
		ping_read(r, i);
		break;
	case RESET:
		break;
	}
}

static int percentile(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(const struct run *r, double p)
{
	size_t k;

	if (!r->nlat)
		return 0;
	k = (size_t)(p * (double)(r->nlat - 1) + 0.5);
	return r->lat[k];
}

static void summary(struct run *r, uint64_t ms)
{
	static const char *const names[] = { "trickle", "noread", "flood", "reset", "ping" };
	uint64_t most = 0;

	for (unsigned i = 0; i < r->o.conns; i++)
		if (r->c[i].sent > most)
			most = r->c[i].sent;
	printf("%s conns=%u open=%u ended=%u ms=%llu sent=%llu most_sent=%llu got=%llu",
	       names[r->o.mode], r->o.conns, r->open, r->ended, (unsigned long long)ms,
	       (unsigned long long)r->sent, (unsigned long long)most, (unsigned long long)r->got);
	if (r->o.mode == PING) {
		qsort(r->lat, r->nlat, sizeof(*r->lat), percentile);
		printf(" msgs=%zu p50_us=%llu p99_us=%llu max_us=%llu timeouts=%u errors=%u", r->nlat,
		       (unsigned long long)pct(r, 0.5), (unsigned long long)pct(r, 0.99),
		       (unsigned long long)pct(r, 1.0), r->timeouts, r->errors);
	}
	printf("\n");
	fflush(stdout);
}

/* reset: the reply is queued at the server once our sends stop going
 * through; one byte of it read, the connection is reset. */
static int run_reset(struct run *r)
{
	struct conn *c = &r->c[0];
	struct linger lg = { 1, 0 };
	uint64_t deadline = cwt_now_ms() + cwt_slack_ms(10000);
	uint64_t quiet_since = 0;
	char b;

	cwt_set_nonblock(c->fd, true);
	for (;;) {
		uint64_t before = c->sent;

		push(r, 0);
		if (c->fd < 0) {
			fprintf(stderr, "cwt-hostile: the server ended the connection first\n");
			return 1;
		}
		if (c->sent != before)
			quiet_since = cwt_now_ms();
		else if (cwt_now_ms() - quiet_since >= 200)
			break; /* 200 ms and the socket took nothing: the server stopped reading */
		if (cwt_now_ms() > deadline) {
			fprintf(stderr, "cwt-hostile: the server never stopped reading\n");
			return 1;
		}
		cwt_sleep_ms(5);
	}
	cwt_set_nonblock(c->fd, false);
	if (recv(c->fd, &b, 1, 0) != 1)
		die("recv");
	r->got = 1;
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	printf("reset port=%u sent=%llu got=%llu\n", local_port(c->fd), (unsigned long long)r->sent,
	       (unsigned long long)r->got);
	fflush(stdout);
	close(c->fd);
	c->fd = -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct run r;
	struct sigaction sa = { .sa_handler = on_term };
	struct epoll_event ev[256];
	uint64_t t0, end, last = 0;
	size_t seen = 0;
	bool trace = getenv("CWT_HOSTILE_TRACE") != NULL;
	int rc = 0;

	parse(&r.o, argc, argv);
	raise_nofile();
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (size_t k = 0; k < CHUNK; k++)
		r.lower[k] = (char)('a' + k % 26);
	r.c = calloc(r.o.conns, sizeof(*r.c));
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!r.c || r.ep < 0)
		die("setup");
	connect_all(&r);
	t0 = cwt_now_ms();
	if (r.o.mode == RESET) {
		rc = run_reset(&r);
		goto out;
	}
	for (unsigned i = 0; i < r.o.conns; i++) {
		struct conn *c = &r.c[i];

		c->next_ms = t0 + (uint64_t)i * r.o.interval_ms / r.o.conns;
		if (r.o.mode == NOREAD || r.o.mode == FLOOD) {
			watch(&r, i, EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_MOD);
			push(&r, i);
		} else {
			watch(&r, i, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
		}
	}
	end = t0 + r.o.time_ms;
	while (!stop && cwt_now_ms() < end && r.open) {
		int n = epoll_wait(r.ep, ev, 256, 5);

		if (trace && cwt_now_ms() >= last + 250) {
			uint64_t mx = 0;

			for (size_t k = seen; k < r.nlat; k++)
				if (r.lat[k] > mx)
					mx = r.lat[k];
			fprintf(stderr, "trace t=%llu msgs=%zu max_us=%llu\n",
				(unsigned long long)(cwt_now_ms() - t0), r.nlat - seen, (unsigned long long)mx);
			seen = r.nlat;
			last = cwt_now_ms();
		}

		for (int k = 0; k < n; k++)
			on_event(&r, ev[k].data.u32, ev[k].events);
		if (r.o.mode == TRICKLE || r.o.mode == PING)
			tick(&r, cwt_now_ms());
	}
	summary(&r, cwt_now_ms() - t0);
	if (r.o.mode == PING && (r.errors || r.ended))
		rc = 1;
out:
	for (unsigned i = 0; i < r.o.conns; i++)
		if (r.c[i].fd >= 0)
			close(r.c[i].fd);
	close(r.ep);
	free(r.c);
	free(r.lat);
	return rc;
}
