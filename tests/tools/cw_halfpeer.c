/* cw_halfpeer PORT N DELAY_MS
 * A server that owns its sockets past the peer's FIN and writes after it:
 * listens on 127.0.0.1:PORT, prints "ready", accepts N connections, waits for
 * each peer's FIN (read() == 0), then DELAY_MS later writes to every one of
 * them (the peer, half-closed, acknowledges: that ACK resets tcp_info
 * lastack) and never closes them. Runs until killed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cwtest.h"

int main(int argc, char **argv)
{
	int lfd, n, *fds;
	char buf[256];

	if (argc != 4) {
		fprintf(stderr, "usage: cw_halfpeer PORT N DELAY_MS\n");
		return 2;
	}
	n = atoi(argv[2]);
	fds = calloc((size_t)n, sizeof(*fds));
	lfd = cwt_listen("127.0.0.1", (uint16_t)atoi(argv[1]), 128);
	if (lfd < 0) {
		fprintf(stderr, "cw_halfpeer: listen: %s\n", strerror(-lfd));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < n; i++)
		if ((fds[i] = accept(lfd, NULL, NULL)) < 0)
			return 1;
	for (int i = 0; i < n; i++)
		while (read(fds[i], buf, sizeof(buf)) > 0)
			;
	cwt_sleep_ms((unsigned)atoi(argv[3]));
	for (int i = 0; i < n; i++)
		if (write(fds[i], "late\n", 5) != 5)
			return 1;
	for (;;)
		pause();
}
