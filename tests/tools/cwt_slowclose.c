/* cwt-slowclose PORT MS
 *
 * A healthy server that is slow to close: listens on 127.0.0.1:PORT,
 * accepts everything, reads and discards, and closes each connection MS
 * after its peer's EOF, so each of its CLOSE_WAIT sockets lives about MS and
 * goes away. Prints "listening" once it is; runs until killed. Exit 1 on a
 * setup failure, 2 on usage. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cwtest.h"

#define MAXC 512

int main(int argc, char **argv)
{
	struct pollfd p[MAXC + 1];
	uint64_t eof_at[MAXC + 1];    /* 0 while the peer has not closed */
	int n = 1;
	unsigned ms;

	if (argc < 3) {
		fprintf(stderr, "usage: cwt-slowclose PORT MS\n");
		return 2;
	}
	ms = (unsigned)atoi(argv[2]);
	p[0] = (struct pollfd){ .fd = cwt_listen("127.0.0.1", (uint16_t)atoi(argv[1]), 64), .events = POLLIN };
	if (p[0].fd < 0) {
		fprintf(stderr, "cwt-slowclose: %s\n", strerror(-p[0].fd));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		uint64_t now;

		poll(p, (nfds_t)n, 10);
		now = cwt_now_ms();
		if ((p[0].revents & POLLIN) && n <= MAXC) {
			int fd = accept4(p[0].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (fd >= 0) {
				p[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
				eof_at[n++] = 0;
			}
		}
		for (int i = 1; i < n; i++) {
			char buf[512];

			if (!eof_at[i] && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
				ssize_t r = read(p[i].fd, buf, sizeof(buf));

				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					eof_at[i] = now;
					p[i].events = 0;
				}
			}
			if (eof_at[i] && now - eof_at[i] >= ms) {
				close(p[i].fd);
				p[i] = p[--n];
				eof_at[i] = eof_at[n];
				i--;
			}
		}
	}
}
