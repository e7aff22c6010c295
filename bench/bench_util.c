#include "bench_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "bench";

void bu_set_prog(const char *name)
{
	const char *slash = strrchr(name, '/');

	prog = slash ? slash + 1 : name;
}

void bu_die(bool with_errno, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(e));
	fputc('\n', stderr);
	exit(1);
}

uint64_t bu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bu_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_nsec = (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

unsigned long bu_ulong(const char *opt, const char *s, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		bu_die(false, "%s: \"%s\" is not a number in %lu..%lu", opt, s, min, max);
	return v;
}

uint64_t bu_secs_ns(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 86400)
		bu_die(false, "%s: \"%s\" is not a number of seconds", opt, s);
	return (uint64_t)(v * 1e9);
}

int bu_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		bu_die(true, "/proc/self/fd");
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static unsigned hist_index(uint64_t ns)
{
	unsigned e;

	if (ns < 128)
		return (unsigned)ns;
	if (ns >= (1ull << 40))
		return BU_HIST_BUCKETS - 1;
	e = 63u - (unsigned)__builtin_clzll(ns); /* 7..39 */
	return (e - 6) * 64 + (unsigned)(ns >> (e - 6));
}

/* The largest value that maps to bucket i. */
static uint64_t hist_upper(unsigned i)
{
	unsigned e;

	if (i < 128)
		return i;
	e = i / 64 + 5;          /* inverse of (e - 6) * 64 + [64, 128) */
	return (((uint64_t)(i % 64 + 64) + 1) << (e - 6)) - 1;
}

void bu_hist_add(struct bu_hist *h, uint64_t ns)
{
	h->b[hist_index(ns)]++;
	h->n++;
	if (ns > h->max)
		h->max = ns;
}

void bu_hist_merge(struct bu_hist *into, const struct bu_hist *h)
{
	for (unsigned i = 0; i < BU_HIST_BUCKETS; i++)
		into->b[i] += h->b[i];
	into->n += h->n;
	if (h->max > into->max)
		into->max = h->max;
}

uint64_t bu_hist_quantile(const struct bu_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (unsigned i = 0; i < BU_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > want) {
			uint64_t up = hist_upper(i);

			return up < h->max ? up : h->max;
		}
	}
	return h->max;
}

void bu_pattern_init(struct bu_pattern *p, size_t max_msg, uint64_t seed)
{
	size_t len = BU_PAT_LEN + max_msg;
	uint64_t x = seed | 1;

	p->lower = malloc(len);
	p->upper = malloc(len);
	if (!p->lower || !p->upper)
		bu_die(false, "out of memory for the message pattern");
	p->max_msg = max_msg;
	for (size_t i = 0; i < len; i++) {
		if (i < BU_PAT_LEN) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
			p->lower[i] = (uint8_t)('a' + (x >> 32) % 26);
		} else {
			p->lower[i] = p->lower[i - BU_PAT_LEN];
		}
		p->upper[i] = (uint8_t)(p->lower[i] - 'a' + 'A');
	}
}

void bu_pattern_free(struct bu_pattern *p)
{
	free(p->lower);
	free(p->upper);
	p->lower = p->upper = NULL;
}

void bu_check_reply(const uint8_t *expect, const uint8_t *got, size_t n, uint64_t conn,
		    uint64_t seq, size_t at)
{
	if (memcmp(expect, got, n) == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (expect[i] != got[i])
			bu_die(false, "WRONG BYTE: connection %llu, message %llu, byte %zu: expected "
				      "0x%02x '%c', got 0x%02x",
			       (unsigned long long)conn, (unsigned long long)seq, at + i, expect[i],
			       expect[i], got[i]);
}

uint64_t *bu_counter_map(const char *path, unsigned slots, enum bu_map mode)
{
	static const int flags[] = { O_RDONLY, O_RDWR, O_RDWR | O_CREAT | O_TRUNC };
	size_t len = (size_t)slots * sizeof(uint64_t);
	int fd = open(path, flags[mode] | O_CLOEXEC, 0644);
	void *m;

	if (fd < 0)
		bu_die(true, "%s", path);
	if (mode == BU_MAP_CREATE && ftruncate(fd, (off_t)len) < 0)
		bu_die(true, "%s: ftruncate", path);
	m = mmap(NULL, len, mode == BU_MAP_READ ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	if (m == MAP_FAILED)
		bu_die(true, "%s: mmap", path);
	close(fd);
	return m;
}

uint64_t bu_counter_sum(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t *m, sum = 0;
	size_t slots;

	if (fd < 0 || fstat(fd, &st) < 0)
		bu_die(true, "%s", path);
	slots = (size_t)st.st_size / sizeof(uint64_t);
	close(fd);
	if (!slots)
		return 0;
	m = bu_counter_map(path, (unsigned)slots, BU_MAP_READ);
	for (size_t i = 0; i < slots; i++)
		sum += __atomic_load_n(&m[i], __ATOMIC_RELAXED);
	munmap(m, slots * sizeof(uint64_t));
	return sum;
}

void bu_addr(struct sockaddr_in *sa, const char *addr, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
		bu_die(false, "\"%s\" is not an IPv4 address", addr);
}

static void wait_fd(int fd, short events, int timeout_ms, const char *what)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		bu_die(true, "poll");
	if (n == 0)
		bu_die(false, "timed out after %d ms waiting to %s", timeout_ms, what);
}

void bu_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			wait_fd(fd, POLLOUT, 10000, "send");
			continue;
		}
		if (n < 0)
			bu_die(true, "send");
		p += n;
		len -= (size_t)n;
	}
}

void bu_recv_check(int fd, const uint8_t *expect, size_t len, uint64_t conn, uint64_t seq,
		   int timeout_ms)
{
	uint8_t buf[4096];
	size_t got = 0;

	while (got < len) {
		size_t want = len - got < sizeof(buf) ? len - got : sizeof(buf);
		ssize_t n = recv(fd, buf, want, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			wait_fd(fd, POLLIN, timeout_ms, "read a reply");
			continue;
		}
		if (n < 0)
			bu_die(true, "connection %llu: read", (unsigned long long)conn);
		if (n == 0)
			bu_die(false, "connection %llu: the server closed it after %zu of %zu reply bytes",
			       (unsigned long long)conn, got, len);
		bu_check_reply(expect + got, buf, (size_t)n, conn, seq, got);
		got += (size_t)n;
	}
}

int bu_connect_start(const struct sockaddr_in *dst, const struct in_addr *src)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		bu_die(true, "socket (open fds: %d)", bu_fd_count());
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		bu_die(true, "TCP_NODELAY");
	if (src) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = *src };

		if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0)
			bu_die(true, "IP_BIND_ADDRESS_NO_PORT");
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			bu_die(true, "bind %s", inet_ntoa(*src));
	}
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 && errno != EINPROGRESS)
		bu_die(true, "connect to port %u", ntohs(dst->sin_port));
	return fd;
}

void bu_connect_check(int fd, uint16_t port)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		bu_die(true, "SO_ERROR");
	if (err) {
		errno = err;
		bu_die(true, "connect to port %u", port);
	}
}

void bu_open_pinged(const struct sockaddr_in *dst, const struct in_addr *src, int *fds, size_t n,
		    unsigned window, const struct bu_pattern *pat, size_t msg, uint64_t conn_base)
{
	if (msg > pat->max_msg)
		bu_die(false, "message of %zu bytes is longer than the pattern allows", msg);
	for (size_t b = 0; b < n; b += window) {
		size_t e = b + window < n ? b + window : n;

		for (size_t i = b; i < e; i++)
			fds[i] = bu_connect_start(dst, src);
		for (size_t i = b; i < e; i++) {
			wait_fd(fds[i], POLLOUT, 10000, "connect");
			bu_connect_check(fds[i], ntohs(dst->sin_port));
		}
		for (size_t i = b; i < e; i++)
			bu_send_all(fds[i], pat->lower + bu_pattern_off(conn_base + i, 0), msg);
		for (size_t i = b; i < e; i++)
			bu_recv_check(fds[i], pat->upper + bu_pattern_off(conn_base + i, 0), msg,
				      conn_base + i, 0, 10000);
	}
}
