/* cw_peer ADDR PORT N [--send MSG] [--half-close]
 * Opens N connections and keeps them: optionally sends MSG on each and reads
 * the reply, optionally half-closes each (shutdown(SHUT_WR): the peer's end
 * goes to CLOSE_WAIT, ours to FIN_WAIT_2, still owned). Prints "ready" with
 * the local ports, then obeys stdin, one command per line:
 *   read   reads each connection (waiting up to 2 s for something to happen):
 *          "read PORT eof|data|ERRNO-NAME" for each, then "done"
 * Closes everything and exits when stdin ends. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cwtest.h"
#include "cwt_fault.h"

static void read_all(const int *fds, int n)
{
	char buf[256];

	for (int i = 0; i < n; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };
		ssize_t r;

		poll(&p, 1, 2000);
		r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
		printf("read %u %s\n", cwt_local_port(fds[i]),
		       r == 0 ? "eof" : r > 0 ? "data" : strerrorname_np(errno));
	}
	printf("done\n");
}

int main(int argc, char **argv)
{
	const char *msg = NULL;
	bool half = false;
	char buf[256];
	int n, *fds;

	if (argc < 4) {
		fprintf(stderr, "usage: cw_peer ADDR PORT N [--send MSG] [--half-close]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = atoi(argv[3]);
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--send") && i + 1 < argc)
			msg = argv[++i];
		else if (!strcmp(argv[i], "--half-close"))
			half = true;
	}
	fds = calloc((size_t)n, sizeof(*fds));
	if (!fds || cwt_connect_n("cw_peer", argv[1], (uint16_t)atoi(argv[2]), n, msg, fds))
		return 1;
	for (int i = 0; half && i < n; i++)
		shutdown(fds[i], SHUT_WR);
	printf("ready");
	for (int i = 0; i < n; i++)
		printf(" %u", cwt_local_port(fds[i]));
	printf("\n");
	while (fgets(buf, sizeof(buf), stdin))
		if (!strcmp(buf, "read\n"))
			read_all(fds, n);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return 0;
}
