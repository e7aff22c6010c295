/* closewait client --stream --leak: the seed's long-lived client, bug and
 * all (S9). A blocking loop that, when its connection breaks, makes a new
 * socket and reconnects without closing the old one: every server restart
 * leaves one more socket of ours in CLOSE_WAIT, until the fd limit is hit. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
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

int stream_leak(const struct stream_opts *o)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai;
	uint64_t start = cli_now_ms(), seq = 0, acked = 0, reconnects = 0, connected = 0;
	char port[8], line[64], reply[64];
	int gai;

	snprintf(port, sizeof(port), "%u", o->port);
	gai = getaddrinfo(o->host, port, &hints, &ai);
	if (gai)
		cli_fatal("client", "cannot resolve \"%s\": %s", o->host, gai_strerror(gai));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!leak_stop) {
		int fd = socket(ai->ai_family, SOCK_STREAM, 0);

		if (fd < 0) {
			stream_stamp(start);
			printf("socket: %s (the leak has used up the fds)\n", strerror(errno));
			pause_ms(o->backoff_min_ms);
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			stream_stamp(start);
			printf("connect failed: %s; retrying in %" PRIu64 " ms\n", strerror(errno), o->backoff_min_ms);
			pause_ms(o->backoff_min_ms); /* and fd is never closed */
			continue;
		}
		if (connected++)
			reconnects++;
		stream_stamp(start);
		printf("connected (fd %d)\n", fd);
		while (!leak_stop) {
			int n = snprintf(line, sizeof(line), "line %" PRIu64 "\n", seq);

			if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n || read_line(fd, reply, sizeof(reply)) == 0) {
				stream_stamp(start);
				printf("connection lost; reconnecting WITHOUT closing fd %d (the bug)\n", fd);
				break;
			}
			seq++;
			acked++;
			/* Between lines it waits on its socket, as a reader does: the
			 * server's FIN shows up as read() == 0 and the loop moves on to
			 * a new socket, leaving this one in CLOSE_WAIT. */
			if (wait_input(fd, cli_after(cli_now_ms(), o->interval_ms)) > 0 &&
			    read(fd, reply, sizeof(reply)) <= 0) {
				stream_stamp(start);
				printf("connection lost; reconnecting WITHOUT closing fd %d (the bug)\n", fd);
				break;
			}
		}
	}
	freeaddrinfo(ai);
	printf("sent %" PRIu64 " lines, acknowledged %" PRIu64 ", reconnects %" PRIu64
	       " (every old socket was left open)\n", seq, acked, reconnects);
	return 0;
}
