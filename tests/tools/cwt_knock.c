/* cwt-knock PORT N [ADDR]
 *
 * N clients of a server that never answers: each connects to ADDR:PORT
 * (default 127.0.0.1), sends "hello" and closes, without waiting for a reply
 * (a listener that never accepts still completes the handshake while its
 * accept queue has room). Exit 0 once all N closed, 1 on a failure (said on
 * stderr), 2 on usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cwtest.h"

int main(int argc, char **argv)
{
	const char *addr = argc > 3 ? argv[3] : "127.0.0.1";
	int n;

	if (argc < 3) {
		fprintf(stderr, "usage: cwt-knock PORT N [ADDR]\n");
		return 2;
	}
	n = atoi(argv[2]);
	for (int i = 0; i < n; i++) {
		int fd = cwt_connect(addr, (uint16_t)atoi(argv[1]));

		if (fd < 0) {
			fprintf(stderr, "cwt-knock: connect %d: %s\n", i, strerror(-fd));
			return 1;
		}
		if (cwt_write_all(fd, "hello", 5)) {
			fprintf(stderr, "cwt-knock: write %d failed\n", i);
			return 1;
		}
		close(fd);
	}
	return 0;
}
