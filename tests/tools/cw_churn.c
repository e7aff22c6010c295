/* cw_churn ADDR PORT RATE SECONDS [--keepalive]
 * New connections at RATE per second (an absolute schedule from the first
 * attempt), each: connect, one request "x\n", its reply, close (we close
 * first, so the TIME_WAIT is ours and holds our port). With --keepalive,
 * the same requests over one connection (S17). Prints
 *   "eaddrnotavail AT_MS" at the first EADDRNOTAVAIL (ms since the start)
 *   and stops there, or "ok N" after SECONDS without one. Other errors: exit 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cwtest.h"

static int request(int fd)
{
	char b[16];

	if (cwt_write_all(fd, "x\n", 2))
		return -1;
	return cwt_read_full(fd, b, 2) == 2 ? 0 : -1;
}

int main(int argc, char **argv)
{
	double rate;
	unsigned secs;
	bool keep;
	uint16_t port;
	uint64_t start;
	long n = 0;
	int kfd = -1;

	if (argc < 5) {
		fprintf(stderr, "usage: cw_churn ADDR PORT RATE SECONDS [--keepalive]\n");
		return 2;
	}
	port = (uint16_t)atoi(argv[2]);
	rate = atof(argv[3]);
	secs = (unsigned)atoi(argv[4]);
	keep = argc > 5 && !strcmp(argv[5], "--keepalive");
	start = cwt_now_ms();
	for (;; n++) {
		uint64_t due = start + (uint64_t)((double)n * 1000.0 / rate), now = cwt_now_ms();
		int fd;

		if (due >= start + secs * 1000u)
			break;
		if (due > now)
			cwt_sleep_ms((unsigned)(due - now));
		if (keep) {
			if (kfd < 0 && (kfd = cwt_connect(argv[1], port)) < 0)
				goto fail;
			if (request(kfd))
				goto fail;
			continue;
		}
		fd = cwt_connect(argv[1], port);
		if (fd == -EADDRNOTAVAIL) {
			printf("eaddrnotavail %llu\n", (unsigned long long)(cwt_now_ms() - start));
			return 0;
		}
		if (fd < 0 || request(fd)) {
			fprintf(stderr, "cw_churn: connection %ld: %s\n", n, fd < 0 ? strerror(-fd) : "request failed");
			return 1;
		}
		close(fd);
	}
	if (kfd >= 0)
		close(kfd);
	printf("ok %ld\n", n);
	return 0;
fail:
	fprintf(stderr, "cw_churn: keep-alive connection failed at %ld\n", n);
	return 1;
}
