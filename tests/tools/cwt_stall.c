/* cwt-stall PORT MS: accepts one connection, reads nothing for MS, then
 * resets it (SO_LINGER {1,0}) and exits, freeing the port. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cwtest.h"

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct linger lg = { 1, 0 };
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1, c;

	if (argc < 3)
		return 2;
	a.sin_port = htons((uint16_t)atoi(argv[1]));
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0) {
		perror("cwt-stall");
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
