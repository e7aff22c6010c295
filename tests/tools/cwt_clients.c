/* cwt-clients: many seed-style clients at once, for the CLI tests.
 *
 *   cwt-clients --port P [--host A] [-n N] [--sequential] [--message M]
 *               [--no-close-wait-within MS]
 *
 * Default: connect all N, send MESSAGE on each, read each full uppercase
 * reply (checked byte by byte), then close all. --sequential does one
 * client at a time (the seed's blocking server handles one at a time and
 * has a backlog of 20). --no-close-wait-within MS: after the last close(),
 * polls the kernel's socket table until no socket with local port P is in
 * CLOSE_WAIT, prints how long that took, and fails past MS. The clock starts
 * right after the last close() returns. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cwtest.h"

struct opts {
	const char *host;
	uint16_t port;
	int n;
	bool sequential;
	const char *msg;
	long within_ms;
};

static int exchange(int fd, const char *msg, size_t len)
{
	char *reply = malloc(len);
	ssize_t n;
	int ok;

	if (!reply)
		return -ENOMEM;
	if (cwt_write_all(fd, msg, len) < 0) {
		free(reply);
		return -EIO;
	}
	n = cwt_read_full(fd, reply, len);
	ok = n == (ssize_t)len;
	for (size_t i = 0; ok && i < len; i++) {
		char want = (msg[i] >= 'a' && msg[i] <= 'z') ? (char)(msg[i] - 32) : msg[i];

		ok = reply[i] == want;
	}
	free(reply);
	return ok ? 0 : -EPROTO;
}

static bool no_close_wait(void *arg)
{
	return cwt_count_state(CW_TCP_CLOSE_WAIT, *(uint16_t *)arg, 0) == 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .host = "127.0.0.1", .n = 1, .msg = "hello, closewait", .within_ms = -1 };
	static const struct option lo[] = {
		{ "host", required_argument, NULL, 'h' }, { "port", required_argument, NULL, 'p' },
		{ "sequential", no_argument, NULL, 's' }, { "message", required_argument, NULL, 'm' },
		{ "no-close-wait-within", required_argument, NULL, 'w' }, { NULL, 0, NULL, 0 },
	};
	size_t len;
	int *fds, opt;

	while ((opt = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (opt) {
		case 'h': o.host = optarg; break;
		case 'p': o.port = (uint16_t)atoi(optarg); break;
		case 'n': o.n = atoi(optarg); break;
		case 's': o.sequential = true; break;
		case 'm': o.msg = optarg; break;
		case 'w': o.within_ms = atol(optarg); break;
		default: return 2;
		}
	}
	len = strlen(o.msg);
	if (!o.port || o.n <= 0 || !len) {
		fprintf(stderr, "usage: cwt-clients --port P [-n N] [--sequential] [--message M] [--no-close-wait-within MS]\n");
		return 2;
	}
	fds = calloc((size_t)o.n, sizeof(*fds));
	for (int i = 0; i < o.n; i++) {
		fds[i] = cwt_connect(o.host, o.port);
		if (fds[i] < 0) {
			fprintf(stderr, "cwt-clients: connect #%d: %s\n", i, strerror(-fds[i]));
			return 1;
		}
		if (o.sequential) {
			if (exchange(fds[i], o.msg, len)) {
				fprintf(stderr, "cwt-clients: client #%d: bad or no reply\n", i);
				return 1;
			}
			close(fds[i]);
		}
	}
	if (!o.sequential) {
		for (int i = 0; i < o.n; i++) {
			if (exchange(fds[i], o.msg, len)) {
				fprintf(stderr, "cwt-clients: client #%d: bad or no reply\n", i);
				return 1;
			}
		}
		for (int i = 0; i < o.n; i++)
			close(fds[i]);
	}
	free(fds);
	if (o.within_ms >= 0) {
		long took = cwt_poll_until(no_close_wait, &o.port, (unsigned)o.within_ms);

		if (took < 0) {
			fprintf(stderr, "cwt-clients: %d sockets still in CLOSE_WAIT %ld ms after the last close\n",
				cwt_count_state(CW_TCP_CLOSE_WAIT, o.port, 0), o.within_ms);
			return 1;
		}
		printf("%d clients closed; no CLOSE_WAIT left on port %u %ld ms after the last close()\n",
		       o.n, o.port, took);
	} else {
		printf("%d clients done\n", o.n);
	}
	return 0;
}
