/* cwt-stall PORT MS: accepts one connection, reads nothing for MS, then
 * resets it (SO_LINGER {1,0}) and exits, freeing the port. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cwtest.h"

int main(int argc, char **argv)
{
	struct linger lg = { 1, 0 };
	int l, c;

	if (argc < 3)
		return 2;
	l = cwt_listen("0.0.0.0", (uint16_t)atoi(argv[1]), 4);
	if (l < 0) {
		fprintf(stderr, "cwt-stall: %s\n", strerror(-l));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	c = accept(l, NULL, NULL);
	close(l);
	cwt_sleep_ms((unsigned)atoi(argv[2]));
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c);
	return 0;
}
