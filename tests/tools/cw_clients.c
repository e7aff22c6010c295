/* cw_clients ADDR PORT N [--send MSG] [--idle MS] [--half-close]
 * Opens N connections, optionally sends MSG on each and reads the reply,
 * sits idle MS, then closes them all (or, with --half-close, shutdown(SHUT_WR)
 * and keeps them until stdin closes). Prints "closed FIRST_MS LAST_MS": the
 * CLOCK_REALTIME milliseconds around the closing loop, the truth that age
 * tests compare with. Exits non-zero on any failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "cwtest.h"

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int main(int argc, char **argv)
{
	const char *msg = NULL;
	unsigned idle = 0;
	bool half = false;
	int n, *fds;
	uint64_t t0, t1;
	char buf[256];

	if (argc < 4) {
		fprintf(stderr, "usage: cw_clients ADDR PORT N [--send MSG] [--idle MS] [--half-close]\n");
		return 2;
	}
	n = atoi(argv[3]);
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--send") && i + 1 < argc)
			msg = argv[++i];
		else if (!strcmp(argv[i], "--idle") && i + 1 < argc)
			idle = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--half-close"))
			half = true;
	}
	fds = calloc((size_t)n, sizeof(*fds));
	if (!fds || cwt_connect_n("cw_clients", argv[1], (uint16_t)atoi(argv[2]), n, msg, fds))
		return 1;
	if (idle)
		cwt_sleep_ms(idle);
	t0 = real_ms();
	for (int i = 0; i < n; i++) {
		if (half)
			shutdown(fds[i], SHUT_WR);
		else
			close(fds[i]);
	}
	t1 = real_ms();
	printf("closed %llu %llu\n", (unsigned long long)t0, (unsigned long long)t1);
	fflush(stdout);
	if (half) {
		/* Hold the half-closed ends (FIN_WAIT_2, still ours) until told. */
		while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
			;
		for (int i = 0; i < n; i++)
			close(fds[i]);
	}
	free(fds);
	return 0;
}
