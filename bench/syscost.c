/* syscost: what one system call costs this process, in nanoseconds, for the
 * trace benchmark (bench/suites/58-trace.sh): read() on a TCP socket this
 * process connected (and accepted: both ends are its own, made after it
 * started, so a tracer running then tracks them), read() on a pipe, and
 * getppid(). The reads find nothing to read (non-blocking: EAGAIN), so each
 * call is the same work every time, and a socket read still passes the
 * kernel's receive path and its tracepoints.
 *
 * Each figure is the minimum, over --rounds rounds of --calls calls, of a
 * round's time per call: the least the machine's other work added.
 *
 *   syscost [--calls N] [--rounds K]
 *
 * Prints one line: sock_read_ns= pipe_read_ns= getppid_ns= calls= rounds= */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench_util.h"

typedef void (*call_fn)(int fd);

static void read_one(int fd)
{
	char c;

	if (read(fd, &c, 1) != -1 || errno != EAGAIN)
		bu_die(true, "read: expected EAGAIN");
}

static void getppid_one(int fd)
{
	(void)fd;
	syscall(SYS_getppid); /* the system call itself, whatever the C library caches */
}

static double per_call(call_fn f, int fd, unsigned long calls, unsigned long rounds)
{
	double best = 0;

	for (unsigned long r = 0; r < rounds; r++) {
		uint64_t t0 = bu_now_ns();

		for (unsigned long i = 0; i < calls; i++)
			f(fd);
		double ns = (double)(bu_now_ns() - t0) / (double)calls;

		if (!r || ns < best)
			best = ns;
	}
	return best;
}

/* A connected pair of TCP sockets on 127.0.0.1, both non-blocking. */
static void tcp_pair(int *client, int *server)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		bu_die(true, "listener");
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*client < 0 || connect(*client, (struct sockaddr *)&a, sizeof(a)))
		bu_die(true, "connect");
	*server = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (*server < 0)
		bu_die(true, "accept4");
	if (fcntl(*client, F_SETFL, O_NONBLOCK))
		bu_die(true, "fcntl");
	close(l);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: syscost [--calls N] [--rounds K]\n"
		   "The cost of one read() on a TCP socket, one read() on a pipe and one\n"
		   "getppid(), in ns: the least over K rounds of N calls (default 7 x 100000).\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "calls", required_argument, NULL, 'n' }, { "rounds", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long calls = 100000, rounds = 7;
	int opt, c, s, p[2];

	bu_set_prog(argv[0]);
	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'n': calls = bu_ulong("--calls", optarg, 1, 100000000); break;
		case 'r': rounds = bu_ulong("--rounds", optarg, 1, 1000); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	tcp_pair(&c, &s);
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		bu_die(true, "pipe");
	double sock = per_call(read_one, s, calls, rounds);
	double pipe_ns = per_call(read_one, p[0], calls, rounds);
	double ppid = per_call(getppid_one, -1, calls, rounds);

	printf("sock_read_ns=%.1f pipe_read_ns=%.1f getppid_ns=%.1f calls=%lu rounds=%lu\n", sock,
	       pipe_ns, ppid, calls, rounds);
	close(c), close(s), close(p[0]), close(p[1]);
	return 0;
}
