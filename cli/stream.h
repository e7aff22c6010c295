/* closewait client --stream: a long-lived client that streams lines. */
#ifndef CW_CLI_STREAM_H
#define CW_CLI_STREAM_H

#include <stdbool.h>
#include <stdint.h>

struct stream_opts {
	const char *host;
	uint16_t port;
	uint64_t interval_ms;  /* between lines (--interval, or 1000/--rate) */
	double rate;           /* lines per second with --rate, else 0 */
	const char *bind;      /* --bind ADDR[:PORT] */
	uint64_t backoff_min_ms, backoff_max_ms;
	uint64_t connect_timeout_ms;
	bool quiet;            /* no status lines, only the summary */
};

/* The classic leaky client, on purpose: reconnects without closing the old socket. */
int stream_leak(const struct stream_opts *o);
/* "[  12.345] " before each status line: seconds since the start. */
void stream_stamp(uint64_t start_ms);

#endif
