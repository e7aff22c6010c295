/* cwt-probe MODE --port P [--bytes N] [--pid PID --fds N] [--timeout MS]
 *
 * One client on 127.0.0.1 that drives `closewait serve` into one of its timed
 * ends and reports when the end came, from the peer's side and from the
 * kernel's socket table (the server's end of this one connection). Times are
 * milliseconds since the connect on CLOCK_MONOTONIC, in whole ms as the
 * server's loop counts them, so "end - sent >= D" is exact for a deadline D
 * the server measured from a read of what we sent. Prints "port=LOCAL" once
 * connected, then one result line:
 *
 *   read-idle    sends "ping", reads "PING", waits for the server's end:
 *                "sent=S replied=R end=E how=eof|reset"
 *   linger       the same, then waits until the server (--pid) is back to
 *                --fds open fds: "sent=S replied=R end=E released=L how=eof"
 *   write-stall  sends up to 64 MiB and never reads; C is the last look at
 *                the queues before our receive queue and the server's send
 *                queue last changed (the server's output stopped moving);
 *                the end is the server's end leaving ESTABLISHED:
 *                "stalled=C end=E how=STATE"
 *   half-close   sends --bytes, then its FIN at F0, never reads; F is when the
 *                server's end was seen in CLOSE_WAIT (our FIN arrived); M the
 *                last look that saw the queues (ours, the server's send
 *                queue) move after that; the end is that end leaving
 *                CLOSE_WAIT (another state, or gone):
 *                "fin_sent=F0 fin_seen=F moved=M end=E how=STATE|gone"
 *   user-timeout one exchange, then an nft rule (input hook, table cwt_probe)
 *                drops every packet to our port, then "data" goes out at S:
 *                the echo stays unacknowledged; the end is the server's end
 *                gone from the table: "sent=S end=E how=gone|STATE"
 *
 * how=timeout and exit 1 if no end came within --timeout (default 10 s), or
 * for half-close if our FIN never reached the server (the request did not fit
 * its receive buffer); exit 2 on usage or setup errors. The socket is closed
 * (reset, when it holds unread data) before exiting, the nft table removed. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include "cwtest.h"
#include "cwt_fault.h"

struct probe {
	int fd;
	uint16_t sport, cport; /* the server's port, ours */
	uint64_t t0, timeout;
	pid_t pid;
	int fds;
	size_t bytes;
};

static uint64_t since(const struct probe *p) { return cwt_now_ms() - p->t0; }

static bool timed_out(const struct probe *p) { return since(p) > p->timeout; }

static const char *state_name(int st)
{
	static const char *const n[] = {
		[0] = "gone",
		[CW_TCP_ESTABLISHED] = "established", [CW_TCP_SYN_SENT] = "syn-sent",
		[CW_TCP_SYN_RECV] = "syn-recv",       [CW_TCP_FIN_WAIT1] = "fin-wait-1",
		[CW_TCP_FIN_WAIT2] = "fin-wait-2",    [CW_TCP_TIME_WAIT] = "time-wait",
		[CW_TCP_CLOSE] = "close",             [CW_TCP_CLOSE_WAIT] = "close-wait",
		[CW_TCP_LAST_ACK] = "last-ack",       [CW_TCP_LISTEN] = "listen",
		[CW_TCP_CLOSING] = "closing",
	};

	return st >= 0 && st <= CW_TCP_CLOSING ? n[st] : "?";
}

/* The state of the server's end of our connection (0: not in the table). */
static int server_end(const struct probe *p) { return cwt_pair_state(p->sport, p->cport, NULL); }

/* Sends "ping" and reads "PING"; S and R in *sent and *replied. */
static int ping(struct probe *p, uint64_t *sent, uint64_t *replied)
{
	char b[4];

	*sent = since(p);
	if (cwt_write_all(p->fd, "ping", 4) || cwt_read_full(p->fd, b, 4) != 4 || memcmp(b, "PING", 4)) {
		fprintf(stderr, "cwt-probe: no echo of ping\n");
		return -1;
	}
	*replied = since(p);
	return 0;
}

/* Waits for the server's end of the stream: EOF or reset; "timeout" if none. */
static const char *wait_end(struct probe *p, uint64_t *end)
{
	char b[256];

	while (!timed_out(p)) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 1) <= 0)
			continue;
		n = recv(p->fd, b, sizeof(b), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		*end = since(p);
		return n == 0 ? "eof" : errno == ECONNRESET ? "reset" : strerror(errno);
	}
	return "timeout";
}

static int read_idle(struct probe *p)
{
	uint64_t s, r, e = 0;
	const char *how;

	if (ping(p, &s, &r))
		return 2;
	how = wait_end(p, &e);
	printf("sent=%llu replied=%llu end=%llu how=%s\n", (unsigned long long)s,
	       (unsigned long long)r, (unsigned long long)e, how);
	return strcmp(how, "timeout") ? 0 : 1;
}

static int linger(struct probe *p)
{
	uint64_t s, r, e = 0, l = 0;
	bool released = false;
	const char *how;

	if (ping(p, &s, &r))
		return 2;
	how = wait_end(p, &e);
	while (strcmp(how, "timeout") && !timed_out(p)) {
		if (cwt_fd_count(p->pid) == p->fds) {
			l = since(p);
			released = true;
			break;
		}
		cwt_sleep_ms(1);
	}
	if (!released)
		how = "timeout";
	printf("sent=%llu replied=%llu end=%llu released=%llu how=%s\n", (unsigned long long)s,
	       (unsigned long long)r, (unsigned long long)e, (unsigned long long)l, how);
	return strcmp(how, "timeout") ? 0 : 1;
}

static int write_stall(struct probe *p)
{
	static char chunk[65536];
	size_t sent = 0;
	uint64_t before = 0, changed = 0;
	int rq = -1, st = CW_TCP_ESTABLISHED;
	unsigned sq = 0;

	memset(chunk, 'w', sizeof(chunk));
	cwt_set_nonblock(p->fd, true);
	while (!timed_out(p)) {
		uint64_t now = since(p);
		unsigned now_sq = 0;
		int now_rq = 0;

		if (sent < (64u << 20)) {
			ssize_t n = send(p->fd, chunk, sizeof(chunk), MSG_NOSIGNAL);

			if (n > 0)
				sent += (size_t)n;
		}
		/* Progress is either queue moving: ours filling, or the server's
		 * send queue (the server writing into it, our kernel acking). The
		 * change happened after the previous look: that look is the clock. */
		ioctl(p->fd, FIONREAD, &now_rq);
		st = cwt_pair_state(p->sport, p->cport, &now_sq);
		if (st != CW_TCP_ESTABLISHED)
			break;
		if (now_rq != rq || now_sq != sq) {
			rq = now_rq;
			sq = now_sq;
			changed = before;
		}
		before = now;
		cwt_sleep_ms(1);
	}
	if (st == CW_TCP_ESTABLISHED) {
		printf("stalled=%llu end=0 how=timeout\n", (unsigned long long)changed);
		return 1;
	}
	printf("stalled=%llu end=%llu how=%s\n", (unsigned long long)changed,
	       (unsigned long long)since(p), state_name(st));
	return 0;
}

static int half_close(struct probe *p)
{
	static char chunk[65536];
	size_t sent = 0;
	uint64_t fin_sent, fin_seen = 0, moved = 0, end = 0;
	bool seen = false, ended = false;
	int st = CW_TCP_ESTABLISHED, rq = -1;
	unsigned sq = 0;

	memset(chunk, 'h', sizeof(chunk));
	cwt_set_nonblock(p->fd, true);
	while (sent < p->bytes && !timed_out(p)) {
		size_t n = p->bytes - sent < sizeof(chunk) ? p->bytes - sent : sizeof(chunk);
		ssize_t w = send(p->fd, chunk, n, MSG_NOSIGNAL);

		if (w > 0)
			sent += (size_t)w;
		else
			cwt_sleep_ms(1);
	}
	fin_sent = since(p);
	if (sent < p->bytes || shutdown(p->fd, SHUT_WR) < 0) {
		fprintf(stderr, "cwt-probe: sent %zu of %zu bytes before the FIN\n", sent, p->bytes);
		return 1;
	}
	while (!timed_out(p)) {
		unsigned now_sq = 0;
		int now_rq = 0;

		ioctl(p->fd, FIONREAD, &now_rq);
		st = cwt_pair_state(p->sport, p->cport, &now_sq);
		if (st == CW_TCP_CLOSE_WAIT && (now_rq != rq || now_sq != sq)) {
			moved = since(p); /* the server's output still moving after our FIN */
			rq = now_rq;
			sq = now_sq;
		}
		if (!seen && st == CW_TCP_CLOSE_WAIT) {
			fin_seen = since(p);
			seen = true;
		}
		if (seen && st != CW_TCP_CLOSE_WAIT) {
			end = since(p);
			ended = true;
			break;
		}
		if (!seen && st != CW_TCP_ESTABLISHED)
			break; /* closed before our FIN arrived */
		cwt_sleep_ms(1);
	}
	printf("fin_sent=%llu fin_seen=%llu moved=%llu end=%llu how=%s\n", (unsigned long long)fin_sent,
	       (unsigned long long)fin_seen, (unsigned long long)moved, (unsigned long long)end,
	       !seen ? (st == CW_TCP_ESTABLISHED ? "no-fin" : state_name(st)) : ended ? state_name(st) : "timeout");
	return ended ? 0 : 1;
}

static int user_timeout(struct probe *p)
{
	char cmd[256];
	uint64_t s, r, e = 0;
	bool ended = false;
	int st = CW_TCP_ESTABLISHED, rc;

	if (ping(p, &s, &r))
		return 2;
	snprintf(cmd, sizeof(cmd),
		 "nft add table inet cwt_probe && "
		 "nft add chain inet cwt_probe input '{ type filter hook input priority -100; }' && "
		 "nft add rule inet cwt_probe input tcp dport %u drop",
		 p->cport);
	if (system(cmd) != 0) {
		fprintf(stderr, "cwt-probe: nft failed: %s\n", cmd);
		return 2;
	}
	s = since(p);
	rc = cwt_write_all(p->fd, "data", 4);
	while (!rc && !timed_out(p)) {
		st = server_end(p);
		if (st != CW_TCP_ESTABLISHED) {
			e = since(p);
			ended = true;
			break;
		}
		cwt_sleep_ms(1);
	}
	rc = system("nft delete table inet cwt_probe");
	(void)rc;
	printf("sent=%llu end=%llu how=%s\n", (unsigned long long)s, (unsigned long long)e,
	       ended ? state_name(st) : "timeout");
	return ended ? 0 : 1;
}

/* Connects to 127.0.0.1:port. small: with the smallest receive buffer
 * (set before the connect, so the window is small from the start), so that
 * the server's reply stops draining after a few KiB. */
static int connect_small(uint16_t port, bool small)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	if ((small && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one)) < 0) ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },  { "bytes", required_argument, NULL, 'b' },
		{ "pid", required_argument, NULL, 'P' },   { "fds", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 },
	};
	struct probe p = { .timeout = 10000, .fds = -1 };
	const char *mode;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'p': p.sport = (uint16_t)atoi(optarg); break;
		case 'b': p.bytes = strtoul(optarg, NULL, 10); break;
		case 'P': p.pid = (pid_t)atoi(optarg); break;
		case 'f': p.fds = atoi(optarg); break;
		case 't': p.timeout = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || !p.sport) {
		fprintf(stderr, "usage: cwt-probe MODE --port P [--bytes N] [--pid PID --fds N] [--timeout MS]\n");
		return 2;
	}
	mode = argv[optind];
	if (!strcmp(mode, "linger") && (!p.pid || p.fds < 0))
		return 2;
	if (!strcmp(mode, "half-close") && !p.bytes)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	p.fd = connect_small(p.sport, !strcmp(mode, "half-close"));
	if (p.fd < 0) {
		fprintf(stderr, "cwt-probe: connect: %s\n", strerror(-p.fd));
		return 2;
	}
	p.t0 = cwt_now_ms();
	p.cport = cwt_local_port(p.fd);
	printf("port=%u\n", p.cport);
	if (!strcmp(mode, "read-idle"))
		rc = read_idle(&p);
	else if (!strcmp(mode, "linger"))
		rc = linger(&p);
	else if (!strcmp(mode, "write-stall"))
		rc = write_stall(&p);
	else if (!strcmp(mode, "half-close"))
		rc = half_close(&p);
	else if (!strcmp(mode, "user-timeout"))
		rc = user_timeout(&p);
	else
		rc = 2;
	close(p.fd);
	return rc;
}
