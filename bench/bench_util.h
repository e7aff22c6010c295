/* Helpers shared by the benchmark clients (loadgen, c100k, closelat,
 * writecost): clocks, a latency histogram, the message pattern, a shared
 * progress counter and bulk connecting. Benchmark programs, unlike the
 * library, print and exit: every failure here ends the process loudly. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Monotonic nanoseconds (vDSO: no syscall). CLOCK_MONOTONIC is system-wide,
 * so processes can agree on a start time through it. */
uint64_t bu_now_ns(void);
void bu_sleep_ns(uint64_t ns);
/* Prints "PROG: message" (and strerror(errno) when with_errno) and exits 1. */
_Noreturn void bu_die(bool with_errno, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void bu_set_prog(const char *name);
/* Parses a non-negative decimal (or fails with the option's name). */
unsigned long bu_ulong(const char *opt, const char *s, unsigned long min, unsigned long max);
/* Parses seconds with a fraction ("2", "0.3"), into nanoseconds. */
uint64_t bu_secs_ns(const char *opt, const char *s);
/* Open fds of this process. */
int bu_fd_count(void);

/* Latency histogram, log-linear: exact below 128 ns, then 64 sub-buckets
 * per power of two (1.6 % precision) up to 2^40 ns. */
#define BU_HIST_BUCKETS ((40 - 6) * 64 + 128)
struct bu_hist {
	uint64_t n;
	uint64_t max;
	uint64_t b[BU_HIST_BUCKETS];
};
void bu_hist_add(struct bu_hist *h, uint64_t ns);
void bu_hist_merge(struct bu_hist *into, const struct bu_hist *h);
/* The value below which a fraction q of the samples lie (upper edge of the bucket). */
uint64_t bu_hist_quantile(const struct bu_hist *h, double q);

/* The message pattern: BU_PAT_LEN pseudo-random lowercase letters, followed
 * by enough repeated bytes that any offset below BU_PAT_LEN can start a
 * message of up to max_msg bytes; upper[] is what a correct server returns. */
#define BU_PAT_LEN 65536u
struct bu_pattern {
	uint8_t *lower;
	uint8_t *upper;
	size_t max_msg;
};
void bu_pattern_init(struct bu_pattern *p, size_t max_msg, uint64_t seed);
void bu_pattern_free(struct bu_pattern *p);
/* Offset of message seq of connection conn: consecutive messages differ. */
static inline size_t bu_pattern_off(uint64_t conn, uint64_t seq)
{
	return (size_t)((conn * 7919u + seq * 104729u) % BU_PAT_LEN);
}
/* Checks got[0..n) against the expected reply bytes; on the first wrong byte
 * prints where it is and what came, and exits 1. */
void bu_check_reply(const uint8_t *expect, const uint8_t *got, size_t n, uint64_t conn,
		    uint64_t seq, size_t at);

/* A file of one uint64_t counter per slot, mapped shared, so a script can
 * read progress (messages or bytes) while the benchmark runs. */
enum bu_map { BU_MAP_READ, BU_MAP_WRITE, BU_MAP_CREATE /* zeroed */ };
uint64_t *bu_counter_map(const char *path, unsigned slots, enum bu_map mode);
static inline void bu_counter_add(uint64_t *slot, uint64_t n)
{
	__atomic_store_n(slot, *slot + n, __ATOMIC_RELAXED); /* one writer per slot */
}
uint64_t bu_counter_sum(const char *path);

/* Opens n non-blocking TCP_NODELAY connections to dst, from src when src is
 * not NULL (with IP_BIND_ADDRESS_NO_PORT, so the port is picked at connect()
 * for the 4-tuple: 28 232 ports per source and destination), in batches of
 * window: a batch connects, then each of its connections exchanges one
 * checked message of msg bytes (connection numbers conn_base + i, seq 0), so
 * the server has accepted a batch before the next one starts and its accept
 * queue never overflows (an overflow costs a 1 s SYN-ACK retransmission). */
void bu_open_pinged(const struct sockaddr_in *dst, const struct in_addr *src, int *fds, size_t n,
		    unsigned window, const struct bu_pattern *pat, size_t msg, uint64_t conn_base);
/* One non-blocking TCP_NODELAY connect to dst (from src when not NULL, as
 * bu_open_pinged does); returns the fd, the connection still in progress. */
int bu_connect_start(const struct sockaddr_in *dst, const struct in_addr *src);
/* Once the fd is writable: exits if the connect to port failed. */
void bu_connect_check(int fd, uint16_t port);
/* "127.0.0.1" + port into a sockaddr_in (exits on a bad address). */
void bu_addr(struct sockaddr_in *sa, const char *addr, uint16_t port);
/* Sends all of buf on a non-blocking socket, waiting for POLLOUT if needed. */
void bu_send_all(int fd, const void *buf, size_t len);
/* Reads exactly len bytes (waiting with poll), checking them against expect;
 * exits on EOF, error, a wrong byte, or after timeout_ms. */
void bu_recv_check(int fd, const uint8_t *expect, size_t len, uint64_t conn, uint64_t seq,
		   int timeout_ms);

#endif
