/* closewait client --stream --leak: the classic leaky long-lived client, on
 * purpose. A blocking loop that, when its connection breaks, makes a new
 * socket and reconnects without closing the old one: every server restart
 * leaves one more socket of ours in CLOSE_WAIT, until the fd limit is hit. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "stream.h"

static volatile sig_atomic_t leak_stop;

static void on_stop(int signo)
{
	(void)signo;
	leak_stop = 1;
}

static void pause_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL); /* a signal cuts it short, and the loop sees leak_stop */
}

/* Waits for input on fd until deadline: > 0 there is some, 0 the deadline
 * passed, < 0 a signal (the loop then sees leak_stop). */
static int wait_input(int fd, uint64_t deadline)
{
	for (;;) {
		int ms = cli_ms_until(deadline), n;

		if (ms == 0)
			return 0;
		n = poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, ms);
		if (n != 0) /* 0 before the deadline: a wait cut at INT_MAX */
			return n;
	}
}

/* One reply line; its length, or 0 when the connection broke. */
static ssize_t read_line(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len - 1) {
		ssize_t n = read(fd, buf + got, 1);

		if (n <= 0)
			return 0;
		if (buf[got++] == '\n')
			break;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/* A status line, unless --quiet. */
static void __attribute__((format(printf, 3, 4))) status(const struct stream_opts *o, uint64_t start,
							   const char *fmt, ...)
{
	va_list ap;

	if (o->quiet)
		return;
	stream_stamp(start);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* The n-th retry delay, drawn as the dialer draws it: uniform in
 * [MIN, min(MAX, MIN * 2^n)]; n starts again at 0 after an exchange. */
static uint64_t next_delay(const struct stream_opts *o, unsigned *n, uint64_t *rng)
{
	uint64_t min = o->backoff_min_ms, max = o->backoff_max_ms, ceil = min;

	for (unsigned i = 0; i < *n && ceil < max; i++)
		ceil = ceil > max / 2 ? max : ceil * 2;
	if (*n < 64)
		(*n)++;
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	return min + (ceil > min ? *rng % (ceil - min + 1) : 0);
}

int stream_leak(const struct stream_opts *o)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
	uint64_t start = cli_now_ms(), seq = 0, acked = 0, reconnects = 0, connected = 0;
	uint64_t rng = start << 20 ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15u, delay;
	unsigned failures = 0;
	char port[8], line[64], reply[64];
	int gai;

	snprintf(port, sizeof(port), "%u", o->port);
	gai = getaddrinfo(o->host, port, &hints, &ai);
	if (gai)
		cli_fail_exit1("client", "cannot resolve \"%s\": %s", o->host, gai_strerror(gai));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!leak_stop) {
		int fd = socket(ai->ai_family, SOCK_STREAM, 0);

		if (fd < 0) {
			delay = next_delay(o, &failures, &rng);
			status(o, start, "socket: %s (the leak has used up the fds); retrying in %" PRIu64 " ms",
			       strerror(errno), delay);
			pause_ms(delay);
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			delay = next_delay(o, &failures, &rng);
			status(o, start, "connect failed: %s; retrying in %" PRIu64 " ms", strerror(errno), delay);
			pause_ms(delay); /* and fd is never closed */
			continue;
		}
		if (connected++)
			reconnects++;
		status(o, start, "connected (fd %d)", fd);
		while (!leak_stop) {
			int n = snprintf(line, sizeof(line), "line %" PRIu64 "\n", seq);

			if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n || read_line(fd, reply, sizeof(reply)) == 0) {
				status(o, start, "connection lost; reconnecting WITHOUT closing fd %d (the bug)", fd);
				break;
			}
			seq++;
			acked++;
			failures = 0; /* an exchange: the backoff starts again at MIN */
			/* Between lines it waits on its socket, as a reader does: the
			 * server's FIN shows up as read() == 0 and the loop moves on to
			 * a new socket, leaving this one in CLOSE_WAIT. */
			if (wait_input(fd, cli_after(cli_now_ms(), o->interval_ms)) > 0 &&
			    read(fd, reply, sizeof(reply)) <= 0) {
				status(o, start, "connection lost; reconnecting WITHOUT closing fd %d (the bug)", fd);
				break;
			}
		}
	}
	freeaddrinfo(ai);
	printf("sent %" PRIu64 " lines, acknowledged %" PRIu64 ", reconnects %" PRIu64
	       " (every old socket was left open)\n", seq, acked, reconnects);
	return 0;
}
