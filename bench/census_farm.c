/* census_farm MODE N LISTEN_PORT SRC_ADDR
 * Holds sockets for the scan benchmark (bench/suites/30-scan.sh):
 *   estab  N established loopback connections, both ends held here (2N fds)
 *   leak   N CLOSE_WAIT sockets: N connections whose client end is closed
 *          while the accepted end is kept and never read or closed (N fds)
 * Listens on 127.0.0.1:LISTEN_PORT, connects from SRC_ADDR (several
 * 127.0.0.x sources give each process its own port space). Prints "ready N"
 * once all are in place, then waits for SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int listener(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
		perror("census_farm: listen");
		exit(1);
	}
	return fd;
}

static int connect_from(const char *src, uint16_t port)
{
	struct sockaddr_in s = { .sin_family = AF_INET }, d = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	inet_pton(AF_INET, src, &s.sin_addr);
	d.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d.sin_port = htons(port);
	/* the port is picked at connect(), per destination, not at bind() */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&s, sizeof(s)) || connect(fd, (struct sockaddr *)&d, sizeof(d))) {
		fprintf(stderr, "census_farm: connect from %s: %s\n", src, strerror(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	int n, lfd, leak;
	uint16_t port;

	if (argc != 5) {
		fprintf(stderr, "usage: census_farm estab|leak N LISTEN_PORT SRC_ADDR\n");
		return 2;
	}
	leak = !strcmp(argv[1], "leak");
	n = atoi(argv[2]);
	port = (uint16_t)atoi(argv[3]);
	lfd = listener(port);
	/* in batches below the backlog: connect, then accept what arrived */
	for (int done = 0; done < n;) {
		int batch = n - done < 1000 ? n - done : 1000, c[1000];

		for (int i = 0; i < batch; i++)
			c[i] = connect_from(argv[4], port);
		for (int i = 0; i < batch; i++) {
			if (accept(lfd, NULL, NULL) < 0) {
				perror("census_farm: accept");
				return 1;
			}
			if (leak)
				close(c[i]); /* the peer closes; the accepted end is never closed */
		}
		done += batch;
	}
	printf("ready %d\n", n);
	fflush(stdout);
	signal(SIGTERM, SIG_DFL);
	for (;;)
		pause();
}
