/* Direct tests of the connection, loop and dialer functions that the rest
 * of the suite reaches only indirectly or not at all: each checks what its
 * header comment promises, seen from the kernel or the peer where the
 * promise is about the socket. One loop, run by the test's own thread; the
 * peers are plain sockets. */
#include "cwtest.h"
#include "cwtest_main.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "closewait/dialer.h"
#include "closewait/loop.h"

#define MAXC 4
#define CHUNK 16384
#define FINAL "LAST WORD\n"

/* A server on the test's loop that records what its callbacks saw. */
struct rig {
	struct cw_loop *loop;
	struct cw_server *srv;
	uint16_t port;
	int tags[MAXC];               /* what cw_conn_set_data points each connection at */
	struct cw_conn *conn[MAXC];   /* in the order they opened */
	int nopen;
	void *data_in_open[MAXC];     /* cw_conn_data right after the set, in on_open */
	void *data_in_data[MAXC];     /* cw_conn_data in on_data */
	void *data_in_close[MAXC];    /* ... and in on_close */
	bool closed[MAXC];
	enum cw_close_reason reason[MAXC];
	int small_sndbuf;             /* on_open sets SO_SNDBUF to this (0: leave it) */
};

static int conn_index(const struct rig *r, const struct cw_conn *c)
{
	for (int i = 0; i < r->nopen; i++)
		if (r->conn[i] == c)
			return i;
	return -1;
}

static void rig_open(struct cw_conn *c, void *arg)
{
	struct rig *r = arg;
	int i = r->nopen++;

	assert_true(i < MAXC);
	r->conn[i] = c;
	cw_conn_set_data(c, &r->tags[i]);
	r->data_in_open[i] = cw_conn_data(c);
	if (r->small_sndbuf)
		assert_int_equal(setsockopt(cw_conn_fd(c), SOL_SOCKET, SO_SNDBUF, &r->small_sndbuf,
					    sizeof(r->small_sndbuf)), 0);
}

static void rig_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	struct rig *r = arg;
	int i = conn_index(r, c);

	(void)data, (void)len;
	assert_true(i >= 0);
	r->data_in_data[i] = cw_conn_data(c);
}

static void rig_close(struct cw_conn *c, enum cw_close_reason reason, int err, void *arg)
{
	struct rig *r = arg;
	int i = conn_index(r, c);

	(void)err;
	assert_true(i >= 0);
	r->closed[i] = true;
	r->reason[i] = reason;
	r->data_in_close[i] = cw_conn_data(c);
}

static void rig_start(struct rig *r, const char *addr, const struct cw_policy *policy)
{
	struct cw_server_config cfg;
	int port;

	memset(r, 0, sizeof(*r));
	assert_int_equal(cw_loop_new(&r->loop), 0);
	cw_server_config_init(&cfg);
	if (policy)
		cfg.policy = *policy;
	cfg.ops.on_open = rig_open;
	cfg.ops.on_data = rig_data;
	cfg.ops.on_close = rig_close;
	cfg.arg = r;
	assert_int_equal(cw_server_new(r->loop, &cfg, &r->srv), 0);
	assert_int_equal(cw_server_listen(r->srv, addr, 0), 0);
	port = cw_server_port(r->srv);
	assert_true(port > 0);
	r->port = (uint16_t)port;
}

static void rig_stop(struct rig *r, struct cw_conn_stats *st)
{
	if (st)
		cw_server_stats(r->srv, st);
	cw_server_free(r->srv);
	cw_loop_free(r->loop);
}

/* Runs the loop until cond holds; false when deadline_ms (times the slack)
 * passes first. The clock starts at the call. */
static bool spin(struct cw_loop *l, bool (*cond)(void *), void *arg, unsigned deadline_ms)
{
	uint64_t end = cwt_now_ms() + cwt_slack_ms(deadline_ms);

	while (!cond(arg)) {
		if (cwt_now_ms() > end)
			return false;
		assert_int_equal(cw_loop_run_once(l, 5), 0);
	}
	return true;
}

struct open_wait {
	const struct rig *r;
	int want;
};
static bool opened_enough(void *arg)
{
	const struct open_wait *w = arg;

	return w->r->nopen >= w->want;
}

/* Connects a client and runs the loop until the server has accepted it. */
static int rig_connect(struct rig *r, const char *addr, int rcvbuf)
{
	struct sockaddr_storage ss = { 0 };
	struct open_wait w = { r, r->nopen + 1 };
	socklen_t len;
	int fd;

	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(r->port);
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(r->port);
		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	/* Before connect, so the window it offers is small from the start. */
	if (rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	assert_true(spin(r->loop, opened_enough, &w, 2000));
	return fd;
}

static uint16_t sock_port(int fd, bool peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &len), 0);
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static bool data_seen_by_two(void *arg)
{
	const struct rig *r = arg;

	return r->data_in_data[0] && r->data_in_data[1];
}

static bool closed0(void *arg) { return ((struct rig *)arg)->closed[0]; }

/* cw_conn_set_data / cw_conn_data: each connection keeps its own pointer,
 * from on_open through on_data to on_close. */
static void test_conn_data(void **state)
{
	struct rig r;
	int a, b;

	(void)state;
	rig_start(&r, "127.0.0.1", NULL);
	a = rig_connect(&r, "127.0.0.1", 0);
	b = rig_connect(&r, "127.0.0.1", 0);
	assert_int_equal(write(b, "b", 1), 1);
	assert_int_equal(write(a, "a", 1), 1);
	assert_true(spin(r.loop, data_seen_by_two, &r, 2000));
	for (int i = 0; i < 2; i++) {
		assert_ptr_equal(r.data_in_open[i], &r.tags[i]);
		assert_ptr_equal(r.data_in_data[i], &r.tags[i]);
	}
	close(a);
	assert_true(spin(r.loop, closed0, &r, 2000));
	assert_ptr_equal(r.data_in_close[0], &r.tags[0]);
	assert_false(r.closed[1]);
	close(b);
	rig_stop(&r, NULL);
}

/* cw_conn_fd is the kernel's socket of that connection: its two ends are
 * the listener's port and the client's. */
static void test_conn_fd(void **state)
{
	struct rig r;
	int a, b;
	struct stat st;

	(void)state;
	rig_start(&r, "127.0.0.1", NULL);
	a = rig_connect(&r, "127.0.0.1", 0);
	b = rig_connect(&r, "127.0.0.1", 0);
	for (int i = 0; i < 2; i++) {
		int fd = cw_conn_fd(r.conn[i]);

		assert_int_equal(fstat(fd, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_int_equal(sock_port(fd, false), r.port);
		assert_int_equal(sock_port(fd, true), sock_port(i ? b : a, false));
	}
	close(a);
	close(b);
	rig_stop(&r, NULL);
}

/* cw_conn_peer_str: "ADDR:PORT", IPv6 as "[ADDR]:PORT"; -ENOSPC when it
 * does not fit. */
static void test_conn_peer_str(void **state)
{
	static const char *const addrs[] = { "127.0.0.1", "::1" };

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct rig r;
		char want[64], got[64], tiny[8];
		int fd;

		rig_start(&r, addrs[k], NULL);
		fd = rig_connect(&r, addrs[k], 0);
		snprintf(want, sizeof(want), k ? "[%s]:%u" : "%s:%u", addrs[k], sock_port(fd, false));
		assert_int_equal(cw_conn_peer_str(r.conn[0], got, sizeof(got)), 0);
		assert_string_equal(got, want);
		assert_int_equal(cw_conn_peer_str(r.conn[0], tiny, sizeof(tiny)), -ENOSPC);
		close(fd);
		rig_stop(&r, NULL);
	}
}

/* ---- Output the peer does not take ---- */

static uint8_t g_pattern[CHUNK];

static void pattern_init(void)
{
	for (size_t i = 0; i < sizeof(g_pattern); i++)
		g_pattern[i] = (uint8_t)('a' + i % 26);
}

static size_t inq(int fd)
{
	int n = 0;

	assert_int_equal(ioctl(fd, SIOCINQ, &n), 0);
	return (size_t)n;
}

static size_t outq(int fd)
{
	int n = 0;

	assert_int_equal(ioctl(fd, SIOCOUTQ, &n), 0);
	return (size_t)n;
}

struct held {
	struct cw_conn *c;
	int client;
	size_t written;
};

/* Every byte written is in exactly one place: queued in user space, in the
 * server's send queue (not yet acknowledged), or in the client's receive
 * queue. (A segment the client has and the server has not yet seen
 * acknowledged is in both for a moment: hence the polling.) */
static bool accounted(void *arg)
{
	struct held *h = arg;

	return cw_conn_queued(h->c) + outq(cw_conn_fd(h->c)) + inq(h->client) == h->written;
}

/* A connection whose peer has stopped reading, with total bytes written to it
 * through the library; small socket buffers make most of it queue in user
 * space (well under out_cap). */
static void hold_output(struct rig *r, struct held *h, size_t total)
{
	r->small_sndbuf = 4096;
	h->client = rig_connect(r, "127.0.0.1", 4096);
	h->c = r->conn[r->nopen - 1];
	h->written = 0;
	while (h->written < total) {
		assert_int_equal(cw_conn_write(h->c, g_pattern, CHUNK), 0);
		h->written += CHUNK;
		assert_int_equal(cw_loop_run_once(r->loop, 0), 0);
	}
	assert_true(spin(r->loop, accounted, h, 2000));
}

/* What the client reads: body bytes of the pattern, then FINAL. */
struct reading {
	size_t body;                  /* pattern bytes before FINAL */
	size_t limit;                 /* stop once this many are read (0: at the end) */
	size_t got;
	size_t wrong;                 /* bytes not what was written there */
	int end_err;                  /* 0: EOF; errno; -1: stopped at limit */
};

static uint8_t expected_byte(const struct reading *rd, size_t off)
{
	return off < rd->body ? g_pattern[off % CHUNK] : (uint8_t)FINAL[(off - rd->body) % strlen(FINAL)];
}

/* Reads the client's side, running the loop between reads, until EOF, an
 * error, or the limit. */
static void read_client(struct rig *r, int fd, struct reading *rd)
{
	uint8_t buf[65536];
	uint64_t end = cwt_now_ms() + cwt_slack_ms(5000);

	rd->got = rd->wrong = 0;
	cwt_set_nonblock(fd, true);
	for (;;) {
		size_t want = rd->limit ? rd->limit - rd->got : sizeof(buf);
		ssize_t n;

		if (rd->limit && rd->got == rd->limit) {
			rd->end_err = -1;
			return;
		}
		n = read(fd, buf, want < sizeof(buf) ? want : sizeof(buf));
		if (n > 0) {
			for (ssize_t k = 0; k < n; k++)
				rd->wrong += buf[k] != expected_byte(rd, rd->got + (size_t)k);
			rd->got += (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN) {
			rd->end_err = n == 0 ? 0 : errno;
			return;
		}
		assert_true(cwt_now_ms() < end);
		assert_int_equal(cw_loop_run_once(r->loop, 5), 0);
	}
}

/* cw_conn_queued: the bytes held in user space, while the peer is not
 * reading and out_cap is far; once the peer has read everything, 0. The
 * server's bytes_queued and out_buffers follow. */
static void test_conn_queued(void **state)
{
	struct rig r;
	struct held h;
	struct reading rd = { 0 };
	struct cw_conn_stats st;
	size_t before;

	(void)state;
	rig_start(&r, "127.0.0.1", NULL);
	hold_output(&r, &h, 8 * CHUNK);
	/* The server's counters see the same queue, in one output buffer. */
	cw_server_stats(r.srv, &st);
	assert_int_equal(st.bytes_queued, cw_conn_queued(h.c));
	assert_int_equal(st.out_buffers, 1);
	print_message("written %zu: queued %zu, server send queue %zu, client receive queue %zu\n",
		      h.written, cw_conn_queued(h.c), outq(cw_conn_fd(h.c)), inq(h.client));
	/* The kernel holds a few KiB at most: most of it is ours to hold. */
	assert_true(cw_conn_queued(h.c) >= h.written / 2);
	assert_true(cw_conn_queued(h.c) < 256 * 1024);
	/* Written while nothing moves: the queue grows by exactly that. */
	before = cw_conn_queued(h.c);
	assert_int_equal(cw_conn_write(h.c, FINAL, strlen(FINAL)), 0);
	assert_int_equal(cw_conn_queued(h.c), before + strlen(FINAL));
	h.written += strlen(FINAL);
	assert_true(spin(r.loop, accounted, &h, 2000));
	rd.body = h.written - strlen(FINAL);
	rd.limit = h.written;
	read_client(&r, h.client, &rd);
	assert_int_equal(rd.end_err, -1);
	assert_int_equal(rd.wrong, 0);
	assert_int_equal(cw_conn_queued(h.c), 0);
	cw_server_stats(r.srv, &st);
	assert_int_equal(st.bytes_queued, 0);
	assert_int_equal(st.out_buffers, 0); /* given back once drained */
	close(h.client);
	rig_stop(&r, NULL);
}

struct pair_cond {
	uint16_t local, remote;
	int state;
};
static bool pair_in_state(void *arg)
{
	struct pair_cond *p = arg;

	return cwt_pair_state(p->local, p->remote, NULL) == p->state;
}

/* cw_conn_close_mode(ABORT) under a graceful policy: RST, so the peer reads
 * what it already had, then ECONNRESET; what was queued is lost; neither end
 * keeps a socket (no TIME_WAIT), even once the loop has had every chance to
 * finish a FIN exchange. */
static void test_close_mode_abort(void **state)
{
	struct cw_policy p;
	struct rig r;
	struct held h;
	struct reading rd = { 0 };
	struct cw_conn_stats st;
	uint16_t cport;

	(void)state;
	cw_policy_init(&p);
	p.close_mode = CW_CLOSE_GRACEFUL;
	rig_start(&r, "127.0.0.1", &p);
	hold_output(&r, &h, 8 * CHUNK);
	cport = sock_port(h.client, false);
	cw_conn_close_mode(h.c, CW_CLOSE_ABORT);
	assert_true(r.closed[0]);
	assert_int_equal(r.reason[0], CW_CLOSE_LOCAL);
	rd.body = h.written;
	read_client(&r, h.client, &rd);
	print_message("abort: written %zu, the client read %zu, then %s\n", h.written, rd.got,
		      rd.end_err ? strerror(rd.end_err) : "EOF");
	assert_int_equal(rd.end_err, ECONNRESET);
	assert_true(rd.got < h.written);
	assert_int_equal(rd.wrong, 0);
	close(h.client);
	for (int i = 0; i < 20; i++)
		assert_int_equal(cw_loop_run_once(r.loop, 5), 0);
	assert_int_equal(cwt_pair_state(r.port, cport, NULL), 0);
	assert_int_equal(cwt_pair_state(cport, r.port, NULL), 0);
	rig_stop(&r, &st);
	assert_int_equal(st.aborts, 1);
}

/* cw_conn_close_mode(GRACEFUL) under an abort policy: what was queued is
 * flushed, the last message arrives last, then EOF; input the peer sends
 * after that is discarded, not answered with an RST; the server's end, which
 * sent the first FIN, is left in TIME_WAIT. */
static void test_close_mode_graceful(void **state)
{
	struct cw_policy p;
	struct rig r;
	struct held h;
	struct reading rd = { 0 };
	struct cw_conn_stats st;
	struct pair_cond tw;

	(void)state;
	cw_policy_init(&p);
	p.close_mode = CW_CLOSE_ABORT;
	rig_start(&r, "127.0.0.1", &p);
	hold_output(&r, &h, 8 * CHUNK);
	assert_int_equal(cw_conn_write(h.c, FINAL, strlen(FINAL)), 0);
	rd.body = h.written;
	h.written += strlen(FINAL);
	cw_conn_close_mode(h.c, CW_CLOSE_GRACEFUL);
	assert_true(r.closed[0]);
	assert_int_equal(r.reason[0], CW_CLOSE_LOCAL);
	read_client(&r, h.client, &rd);
	print_message("graceful: written %zu, the client read %zu, then %s\n", h.written, rd.got,
		      rd.end_err ? strerror(rd.end_err) : "EOF");
	assert_int_equal(rd.end_err, 0);
	assert_int_equal(rd.got, h.written);
	assert_int_equal(rd.wrong, 0);
	assert_int_equal(write(h.client, "late", 4), 4);
	tw = (struct pair_cond){ r.port, sock_port(h.client, false), CW_TCP_TIME_WAIT };
	close(h.client);
	assert_true(spin(r.loop, pair_in_state, &tw, 2000));
	rig_stop(&r, &st);
	assert_int_equal(st.aborts, 0);
}

/* ---- The loop ---- */

struct io_rec {
	int calls;
	uint32_t events;
};

static void io_record(struct cw_io *io, uint32_t events, void *arg)
{
	struct io_rec *rec = arg;

	(void)io;
	rec->calls++;
	rec->events |= events;
}

static uint64_t epoll_ctls(struct cw_loop *l)
{
	struct cw_loop_stats ls;

	cw_loop_stats(l, &ls);
	return ls.epoll_ctl;
}

/* One iteration that does not wait; what the watcher was told. */
static struct io_rec poll_io(struct cw_loop *l, struct io_rec *rec)
{
	*rec = (struct io_rec){ 0 };
	assert_int_equal(cw_loop_run_once(l, 0), 0);
	return *rec;
}

/* cw_io_set: the new interest set takes effect at the next iteration; the
 * same set again costs no epoll_ctl; a refused change leaves the set the
 * kernel has. */
static void test_io_set(void **state)
{
	struct cw_loop *l;
	struct cw_io *io;
	struct io_rec rec;
	uint64_t ctl;
	int sp[2];
	char b;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(cw_loop_new(&l), 0);
	assert_int_equal(cw_io_new(l, sp[0], EPOLLIN, io_record, &rec, &io), 0);
	/* writable, nothing to read: EPOLLIN alone reports nothing */
	assert_int_equal(poll_io(l, &rec).calls, 0);

	ctl = epoll_ctls(l);
	assert_int_equal(cw_io_set(io, EPOLLOUT), 0);
	assert_int_equal(epoll_ctls(l), ctl + 1);
	assert_int_equal(poll_io(l, &rec).calls, 1);
	assert_int_equal(rec.events, EPOLLOUT);

	ctl = epoll_ctls(l);
	assert_int_equal(cw_io_set(io, EPOLLOUT), 0);
	assert_int_equal(epoll_ctls(l), ctl);
	assert_int_equal(poll_io(l, &rec).events, EPOLLOUT);

	assert_int_equal(cw_io_set(io, EPOLLIN), 0);
	assert_int_equal(epoll_ctls(l), ctl + 1);
	assert_int_equal(poll_io(l, &rec).calls, 0);
	assert_int_equal(write(sp[1], "x", 1), 1);
	assert_int_equal(poll_io(l, &rec).events, EPOLLIN);

	/* an empty set: readable or not, nothing is reported */
	assert_int_equal(cw_io_set(io, 0), 0);
	assert_int_equal(epoll_ctls(l), ctl + 2);
	assert_int_equal(poll_io(l, &rec).calls, 0);
	assert_int_equal(cw_io_set(io, 0), 0);
	assert_int_equal(epoll_ctls(l), ctl + 2);
	assert_int_equal(read(sp[0], &b, 1), 1);

	/* A change the kernel refuses (EPOLLEXCLUSIVE on a modify) is not
	 * taken for done: asked again, it is tried again and refused again,
	 * and the watcher keeps the set the kernel has. */
	assert_int_equal(cw_io_set(io, EPOLLOUT), 0);
	assert_int_equal(cw_io_set(io, EPOLLIN | EPOLLEXCLUSIVE), -EINVAL);
	ctl = epoll_ctls(l);
	assert_int_equal(cw_io_set(io, EPOLLIN | EPOLLEXCLUSIVE), -EINVAL);
	assert_int_equal(epoll_ctls(l), ctl + 1);
	assert_int_equal(poll_io(l, &rec).events, EPOLLOUT);
	assert_int_equal(cw_io_set(io, EPOLLOUT), 0);
	assert_int_equal(epoll_ctls(l), ctl + 1);

	cw_io_free(io);
	cw_loop_free(l);
	close(sp[0]);
	close(sp[1]);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct now_probe {
	struct cw_loop *l;
	uint64_t before, after;       /* cw_loop_now around a 30 ms sleep in one callback */
	bool fired;
};

static void now_in_callback(struct cw_timer *t, void *arg)
{
	struct now_probe *p = arg;

	(void)t;
	p->before = cw_loop_now(p->l);
	cwt_sleep_ms(30);
	p->after = cw_loop_now(p->l);
	p->fired = true;
}

/* cw_loop_now: CLOCK_MONOTONIC in ms, read once per iteration: it does not
 * move inside a callback, and the next iteration has moved on. */
static void test_loop_now(void **state)
{
	struct now_probe p = { 0 };
	struct cw_timer *t;
	uint64_t t0, t1, now;

	(void)state;
	t0 = mono_ms();
	assert_int_equal(cw_loop_new(&p.l), 0);
	t1 = mono_ms();
	now = cw_loop_now(p.l);
	assert_true(t0 <= now && now <= t1);
	t0 = mono_ms();
	assert_int_equal(cw_loop_run_once(p.l, 0), 0);
	t1 = mono_ms();
	now = cw_loop_now(p.l);
	assert_true(t0 <= now && now <= t1);

	assert_int_equal(cw_timer_new(p.l, now_in_callback, &p, &t), 0);
	cw_timer_start(t, 0);
	for (int i = 0; i < 100 && !p.fired; i++)
		assert_int_equal(cw_loop_run_once(p.l, 5), 0);
	assert_true(p.fired);
	assert_int_equal(p.after, p.before);
	assert_int_equal(cw_loop_run_once(p.l, 0), 0);
	assert_true(cw_loop_now(p.l) >= p.before + 30);
	cw_timer_free(t);
	cw_loop_free(p.l);
}

static void count_fire(struct cw_timer *t, void *arg)
{
	(void)t;
	(*(int *)arg)++;
}

static uint64_t loop_stat(struct cw_loop *l, size_t off)
{
	struct cw_loop_stats ls;

	cw_loop_stats(l, &ls);
	return *(uint64_t *)((char *)&ls + off);
}
#define STAT(l, field) loop_stat(l, offsetof(struct cw_loop_stats, field))

/* cw_timer_stop: a stopped timer does not fire, though a later one armed
 * with it does; stopping it again changes nothing; started again, it fires. */
static void test_timer_stop(void **state)
{
	struct cw_loop *l;
	struct cw_timer *stopped, *control;
	int fired_stopped = 0, fired_control = 0;
	uint64_t cancels;

	(void)state;
	assert_int_equal(cw_loop_new(&l), 0);
	assert_int_equal(cw_timer_new(l, count_fire, &fired_stopped, &stopped), 0);
	assert_int_equal(cw_timer_new(l, count_fire, &fired_control, &control), 0);
	cw_timer_start(stopped, 10);
	cw_timer_start(control, 40);
	cancels = STAT(l, timer_cancels);
	cw_timer_stop(stopped);
	assert_int_equal(STAT(l, timer_cancels), cancels + 1);
	assert_int_equal(STAT(l, timers_armed), 1);
	cw_timer_stop(stopped);
	assert_int_equal(STAT(l, timer_cancels), cancels + 1);
	/* The control is due 30 ms after the stopped one would have been. */
	for (int i = 0; i < 1000 && !fired_control; i++)
		assert_int_equal(cw_loop_run_once(l, -1), 0);
	assert_int_equal(fired_control, 1);
	assert_int_equal(fired_stopped, 0);
	assert_int_equal(STAT(l, timers_armed), 0);
	cw_timer_start(stopped, 0);
	for (int i = 0; i < 1000 && !fired_stopped; i++)
		assert_int_equal(cw_loop_run_once(l, -1), 0);
	assert_int_equal(fired_stopped, 1);
	cw_timer_free(stopped);
	cw_timer_free(control);
	cw_loop_free(l);
}

/* ---- The dialer ---- */

struct dial {
	struct cw_dialer *d;
	struct cw_conn *opened;       /* on_open's connection */
	struct cw_conn *conn_in_open; /* cw_dialer_conn(d) then */
	int opens, closes, retries;
	int retry_err;
	bool conn_null_in_retry;
	char peer_in_retry[64];
};

static void dial_open(struct cw_conn *c, void *arg)
{
	struct dial *x = arg;

	x->opened = c;
	x->conn_in_open = cw_dialer_conn(x->d);
	x->opens++;
}

static void dial_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	(void)c, (void)data, (void)len, (void)arg;
}

static void dial_close(struct cw_conn *c, enum cw_close_reason reason, int err, void *arg)
{
	(void)c, (void)reason, (void)err;
	((struct dial *)arg)->closes++;
}

static void dial_retry(struct cw_dialer *d, int err, uint64_t delay_ms, void *arg)
{
	struct dial *x = arg;

	(void)delay_ms;
	x->retries++;
	x->retry_err = err;
	x->conn_null_in_retry = cw_dialer_conn(d) == NULL;
	assert_int_equal(cw_dialer_peer_str(d, x->peer_in_retry, sizeof(x->peer_in_retry)), 0);
}

static void dial_new(struct cw_loop *l, struct dial *x, const char *host, uint16_t port)
{
	struct cw_dialer_config cfg;

	memset(x, 0, sizeof(*x));
	cw_dialer_config_init(&cfg);
	cfg.host = host;
	cfg.port = port;
	/* long enough that a test sees it waiting */
	cfg.backoff_min_ms = 10000;
	cfg.backoff_max_ms = 10000;
	cfg.ops.on_open = dial_open;
	cfg.ops.on_data = dial_data;
	cfg.ops.on_close = dial_close;
	cfg.on_retry = dial_retry;
	cfg.arg = x;
	assert_int_equal(cw_dialer_new(l, &cfg, &x->d), 0);
}

static bool dial_opened(void *arg) { return ((struct dial *)arg)->opens > 0; }
static bool dial_retried(void *arg) { return ((struct dial *)arg)->retries > 0; }

/* cw_dialer_conn: NULL until connected, the connection while it lasts,
 * NULL again while waiting to retry. cw_dialer_peer_str: "ADDR:PORT" of
 * the address it connects to, IPv6 in brackets. */
static void test_dialer_conn_and_peer(void **state)
{
	static const char *const addrs[] = { "127.0.0.1", "::1" };

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct rig r;
		struct dial x;
		struct open_wait w;
		char want[64], got[64], tiny[6];

		rig_start(&r, addrs[k], NULL);
		dial_new(r.loop, &x, addrs[k], r.port);
		snprintf(want, sizeof(want), k ? "[%s]:%u" : "%s:%u", addrs[k], r.port);
		assert_null(cw_dialer_conn(x.d));
		assert_int_equal(cw_dialer_start(x.d), 0);
		assert_null(cw_dialer_conn(x.d)); /* connecting */
		assert_true(spin(r.loop, dial_opened, &x, 2000));
		assert_non_null(x.opened);
		assert_ptr_equal(x.conn_in_open, x.opened);
		assert_ptr_equal(cw_dialer_conn(x.d), x.opened);
		assert_int_equal(cw_dialer_peer_str(x.d, got, sizeof(got)), 0);
		assert_string_equal(got, want);
		assert_int_equal(cw_dialer_peer_str(x.d, tiny, sizeof(tiny)), -ENOSPC);
		/* the server ends it: the dialer notices, and waits to retry */
		w = (struct open_wait){ &r, 1 };
		assert_true(spin(r.loop, opened_enough, &w, 2000));
		cw_conn_close(r.conn[0]);
		assert_true(spin(r.loop, dial_retried, &x, 2000));
		assert_int_equal(x.closes, 1);
		assert_int_equal(x.retry_err, 0);
		assert_true(x.conn_null_in_retry);
		assert_null(cw_dialer_conn(x.d));
		assert_string_equal(x.peer_in_retry, want);
		cw_dialer_free(x.d);
		rig_stop(&r, NULL);
	}
}

/* A refused attempt: no connection at any point, and the address it tried. */
static void test_dialer_refused(void **state)
{
	struct cw_loop *l;
	struct dial x;
	int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t al = sizeof(a);
	char want[64];

	(void)state;
	/* a port nobody listens on: bound, never listening */
	assert_int_equal(bind(probe, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(probe, (struct sockaddr *)&a, &al), 0);
	assert_int_equal(cw_loop_new(&l), 0);
	dial_new(l, &x, "::1", ntohs(a.sin6_port));
	assert_int_equal(cw_dialer_start(x.d), 0);
	assert_true(spin(l, dial_retried, &x, 2000));
	assert_int_equal(x.retry_err, ECONNREFUSED);
	assert_true(x.conn_null_in_retry);
	assert_int_equal(x.opens, 0);
	assert_null(cw_dialer_conn(x.d));
	snprintf(want, sizeof(want), "[::1]:%u", ntohs(a.sin6_port));
	assert_string_equal(x.peer_in_retry, want);
	cw_dialer_free(x.d);
	cw_loop_free(l);
	close(probe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		CWT_FD_TEST(test_conn_data),
		CWT_FD_TEST(test_conn_fd),
		CWT_FD_TEST(test_conn_peer_str),
		CWT_FD_TEST(test_conn_queued),
		CWT_FD_TEST(test_close_mode_abort),
		CWT_FD_TEST(test_close_mode_graceful),
		CWT_FD_TEST(test_io_set),
		CWT_FD_TEST(test_loop_now),
		CWT_FD_TEST(test_timer_stop),
		CWT_FD_TEST(test_dialer_conn_and_peer),
		CWT_FD_TEST(test_dialer_refused),
	};

	cwt_netns();
	pattern_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
