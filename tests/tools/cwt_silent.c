/* cwt-silent PORT: a server that accepts, reads and discards, never writes,
 * and closes a connection when its peer does (so the peer, having closed
 * first, keeps the TIME_WAIT). */
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cwtest.h"

#define MAXC 256

int main(int argc, char **argv)
{
	struct pollfd p[MAXC + 1];
	int l, n = 1;
	char buf[4096];

	if (argc < 2)
		return 2;
	l = cwt_listen("0.0.0.0", (uint16_t)atoi(argv[1]), 64);
	if (l < 0) {
		fprintf(stderr, "cwt-silent: %s\n", strerror(-l));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	p[0] = (struct pollfd){ .fd = l, .events = POLLIN };
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0)
			continue;
		if ((p[0].revents & POLLIN) && n <= MAXC) {
			int c = accept(l, NULL, NULL);

			if (c >= 0)
				p[n++] = (struct pollfd){ .fd = c, .events = POLLIN };
		}
		for (int i = 1; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (read(p[i].fd, buf, sizeof(buf)) <= 0) {
				close(p[i].fd);
				p[i--] = p[--n];
			}
		}
	}
}
