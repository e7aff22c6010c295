/* cwt-peer: one scripted client for the CLI tests.
 *
 *   cwt-peer --port P [--host A] [--send-bytes N] [--shutdown]
 *            [--read-rate BYTES_PER_S | --no-read MS] [--timeout MS]
 *
 * Sends N bytes of lowercase text (checks that what comes back is its
 * uppercase, byte for byte), optionally half-closes, then reads: as fast as
 * it can, at a limited rate, or not at all for MS then as fast as it can.
 * Prints "connected" once connected, then one line when the connection
 * ends: "end=eof|reset|timeout bytes=B ok=1|0 ms=T" (T from just before
 * connect(): the server may accept, and start its clocks, before connect()
 * returns here, so a clock started after it could read a deadline short).
 * Exit 0 whatever the end; 1 on a wrong byte; 2 on usage. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cwtest.h"

static char text(size_t i) { return (char)('a' + i % 26); }

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", required_argument, NULL, 'h' },      { "port", required_argument, NULL, 'p' },
		{ "send-bytes", required_argument, NULL, 'n' }, { "shutdown", no_argument, NULL, 's' },
		{ "read-rate", required_argument, NULL, 'r' },  { "no-read", required_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 't' },    { NULL, 0, NULL, 0 },
	};
	const char *host = "127.0.0.1", *end = "timeout";
	size_t to_send = 0, sent = 0, got = 0;
	long rate = 0, quiet_ms = 0, timeout = 30000;
	uint16_t port = 0;
	bool half = false, ok = true;
	uint64_t start;
	char buf[65536];
	int fd, opt;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = (uint16_t)atoi(optarg); break;
		case 'n': to_send = strtoul(optarg, NULL, 10); break;
		case 's': half = true; break;
		case 'r': rate = atol(optarg); break;
		case 'q': quiet_ms = atol(optarg); break;
		case 't': timeout = atol(optarg); break;
		default: return 2;
		}
	}
	if (!port)
		return 2;
	start = cwt_now_ms();
	fd = cwt_connect(host, port);
	if (fd < 0) {
		printf("end=refused bytes=0 ok=0 ms=0\n");
		return 0;
	}
	printf("connected\n");
	fflush(stdout);
	cwt_set_nonblock(fd, true);
	while (cwt_now_ms() - start < (uint64_t)timeout) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		bool may_read = cwt_now_ms() - start >= (uint64_t)quiet_ms &&
				(!rate || got < (size_t)((double)rate * (double)(cwt_now_ms() - start) / 1000.0));

		if (sent < to_send) {
			size_t n = to_send - sent < sizeof(buf) ? to_send - sent : sizeof(buf);
			ssize_t w;

			for (size_t i = 0; i < n; i++)
				buf[i] = text(sent + i);
			w = send(fd, buf, n, MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
			if (sent == to_send && half)
				shutdown(fd, SHUT_WR);
			p.events |= POLLOUT;
		}
		if (!may_read) {
			cwt_sleep_ms(2);
			continue;
		}
		poll(&p, 1, 5);
		for (;;) {
			ssize_t r = read(fd, buf, rate ? 4096 : sizeof(buf));

			if (r > 0) {
				for (ssize_t i = 0; i < r; i++)
					if (buf[i] != text(got + (size_t)i) - 32)
						ok = false;
				got += (size_t)r;
				if (rate)
					break;
				continue;
			}
			if (r == 0)
				end = "eof";
			else if (errno == ECONNRESET)
				end = "reset";
			else if (errno == EAGAIN)
				break;
			else
				end = strerror(errno);
			goto done;
		}
	}
done:
	printf("end=%s bytes=%zu ok=%d ms=%llu\n", end, got, ok ? 1 : 0,
	       (unsigned long long)(cwt_now_ms() - start));
	close(fd);
	return ok ? 0 : 1;
}
