/* writecost: the kernel's own cost of a 1-byte write on an idle loopback TCP
 * connection, the floor under any heartbeat.
 *
 * Opens --pairs connected pairs over 127.0.0.1 within this process, then,
 * round after round, sends one byte on each pair's client end, timing each
 * send() (on loopback the send also runs the receive path: the segment is
 * delivered to the peer socket in the sender's softirq), and drains the
 * receiving ends between rounds, untimed. Prints the median over rounds of
 * the mean ns per send, and the process CPU time per send for the same rounds.
 *
 * Prints "pairs=N rounds=R write_ns= cpu_ns=".
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void open_pairs(int *cl, int *sv, unsigned pairs)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u) };
	socklen_t len = sizeof(sa);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		bu_die(true, "listen");
	for (unsigned i = 0; i < pairs; i++) {
		cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cl[i] < 0 || setsockopt(cl[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
		    connect(cl[i], (struct sockaddr *)&sa, sizeof(sa)) < 0)
			bu_die(true, "connect");
		sv[i] = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (sv[i] < 0)
			bu_die(true, "accept");
	}
	close(lfd);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "pairs", required_argument, NULL, 'n' }, { "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
	};
	unsigned pairs = 1000, rounds = 21;
	uint64_t *wall, *cpu;
	int *cl, *sv, opt, fd0;
	char buf[4096];

	bu_set_prog(argv[0]);
	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'n': pairs = (unsigned)bu_ulong("--pairs", optarg, 1, 9000); break;
		case 'r': rounds = (unsigned)bu_ulong("--rounds", optarg, 1, 1001); break;
		case 'h': printf("Usage: writecost [--pairs N] [--rounds R]\n"); return 0;
		default: return 2;
		}
	}
	fd0 = bu_fd_count();
	cl = calloc(pairs, sizeof(int)), sv = calloc(pairs, sizeof(int));
	wall = calloc(rounds, sizeof(uint64_t)), cpu = calloc(rounds, sizeof(uint64_t));
	if (!cl || !sv || !wall || !cpu)
		bu_die(false, "out of memory");
	open_pairs(cl, sv, pairs);
	for (unsigned r = 0; r < rounds; r++) {
		uint64_t c0 = cpu_ns(), sum = 0;

		for (unsigned i = 0; i < pairs; i++) {
			uint64_t t0 = bu_now_ns();

			if (send(cl[i], "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
				bu_die(true, "send");
			sum += bu_now_ns() - t0;
		}
		cpu[r] = (cpu_ns() - c0) / pairs;
		wall[r] = sum / pairs;
		for (unsigned i = 0; i < pairs; i++)
			while (read(sv[i], buf, sizeof(buf)) > 0)
				;
	}
	for (unsigned i = 0; i < pairs; i++)
		close(cl[i]), close(sv[i]);
	if (bu_fd_count() != fd0)
		bu_die(false, "%d fds open at the end, %d at the start", bu_fd_count(), fd0);
	qsort(wall, rounds, sizeof(*wall), cmp_u64);
	qsort(cpu, rounds, sizeof(*cpu), cmp_u64);
	printf("pairs=%u rounds=%u write_ns=%llu cpu_ns=%llu\n", pairs, rounds,
	       (unsigned long long)wall[rounds / 2], (unsigned long long)cpu[rounds / 2]);
	free(cl), free(sv), free(wall), free(cpu);
	return 0;
}
