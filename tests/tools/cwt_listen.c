/* cwt-listen PORT [--reuseport]: holds a listening socket on 0.0.0.0:PORT
 * until killed, so a test can take a port the way another program would.
 * Prints "listening" once it is. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (argc < 2)
		return 2;
	a.sin_port = htons((uint16_t)atoi(argv[1]));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (argc > 2 && !strcmp(argv[2], "--reuseport"))
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		perror("cwt-listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	pause();
	return 0;
}
