/* closelat: how fast a server answers a client's close with its own.
 *
 * One connection at a time: connect, exchange one checked 64-byte message
 * (so the server has accepted it and is watching it), then the clock starts,
 * the client calls shutdown(SHUT_WR) (its FIN goes out) and waits until
 * read() returns 0: the server saw EOF, closed, and its FIN arrived. Run it
 * while c100k holds thousands of idle connections to the same server, so the
 * server's poller is as full as in production.
 *
 * With several --port, samples alternate between the servers, so a slow
 * moment of a shared machine falls on all of them alike. Prints one line per
 * round and server, "round=R port=P samples=N p50_us= p99_us= p999_us=", then
 * per server "port=P median_p99_us=": the median of its rounds' p99.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

#define MSG 64

static uint64_t one_close(const struct sockaddr_in *dst, const struct bu_pattern *pat, uint64_t id)
{
	struct pollfd pfd = { .events = POLLIN };
	uint8_t b;
	uint64_t t0, t1;
	ssize_t n;
	int fd;

	bu_open_pinged(dst, NULL, &fd, 1, 1, pat, MSG, id);
	pfd.fd = fd;
	t0 = bu_now_ns();
	if (shutdown(fd, SHUT_WR) < 0)
		bu_die(true, "shutdown");
	for (;;) {
		int k = poll(&pfd, 1, 10000);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			bu_die(k < 0, "connection %llu: no FIN from the server within 10 s",
			       (unsigned long long)id);
		n = read(fd, &b, 1);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		break;
	}
	t1 = bu_now_ns();
	if (n != 0)
		bu_die(n < 0, "connection %llu: expected the server's FIN, got %s",
		       (unsigned long long)id, n > 0 ? "a byte" : "an error");
	close(fd);
	return t1 - t0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define MAX_PORTS 8

/* Runs the rounds; samples go to the servers in turn (sample k to server
 * k mod n), so every server sees the same moments of a shared machine. */
static void measure(const struct sockaddr_in *dst, unsigned n, unsigned samples, unsigned rounds)
{
	struct bu_pattern pat;
	struct bu_hist *h = calloc(n, sizeof(*h));
	uint64_t *p99 = calloc((size_t)n * rounds, sizeof(*p99)), id = 0;

	if (!h || !p99)
		bu_die(false, "out of memory");
	bu_pattern_init(&pat, MSG, 0x3c6ef372fe94f82bull);
	for (unsigned r = 0; r < rounds; r++) {
		memset(h, 0, n * sizeof(*h));
		for (unsigned i = 0; i < samples * n; i++)
			bu_hist_add(&h[i % n], one_close(&dst[i % n], &pat, id++));
		for (unsigned k = 0; k < n; k++) {
			p99[k * rounds + r] = bu_hist_quantile(&h[k], 0.99);
			printf("round=%u port=%u samples=%u p50_us=%.1f p99_us=%.1f p999_us=%.1f\n", r + 1,
			       ntohs(dst[k].sin_port), samples, (double)bu_hist_quantile(&h[k], 0.5) / 1e3,
			       (double)p99[k * rounds + r] / 1e3,
			       (double)bu_hist_quantile(&h[k], 0.999) / 1e3);
		}
	}
	for (unsigned k = 0; k < n; k++) {
		qsort(p99 + k * rounds, rounds, sizeof(*p99), cmp_u64);
		printf("port=%u median_p99_us=%.1f\n", ntohs(dst[k].sin_port),
		       (double)p99[k * rounds + rounds / 2] / 1e3);
	}
	bu_pattern_free(&pat);
	free(h), free(p99);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "addr", required_argument, NULL, 'a' },    { "port", required_argument, NULL, 'p' },
		{ "samples", required_argument, NULL, 'n' }, { "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
	};
	const char *addr = "127.0.0.1";
	unsigned ports[MAX_PORTS], n = 0, samples = 1000, rounds = 3;
	struct sockaddr_in dst[MAX_PORTS];
	int opt;

	bu_set_prog(argv[0]);
	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p':
			if (n == MAX_PORTS)
				bu_die(false, "at most %d --port", MAX_PORTS);
			ports[n++] = (unsigned)bu_ulong("--port", optarg, 1, 65535);
			break;
		case 'n': samples = (unsigned)bu_ulong("--samples", optarg, 10, 1000000); break;
		case 'r': rounds = (unsigned)bu_ulong("--rounds", optarg, 1, 99); break;
		case 'h':
			printf("Usage: closelat --port P [--port P2 ...] [--addr A] [--samples N] [--rounds R]\n"
			       "N samples per server and round; with several servers, samples alternate.\n");
			return 0;
		default: return 2;
		}
	}
	if (!n)
		bu_die(false, "--port is required");
	for (unsigned k = 0; k < n; k++)
		bu_addr(&dst[k], addr, (uint16_t)ports[k]);
	measure(dst, n, samples, rounds);
	return 0;
}
