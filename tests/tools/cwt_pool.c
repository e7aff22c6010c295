/* cwt-pool PORT N [--zero-read]
 * A client whose pool keeps connections the server closed: opens N
 * connections to 127.0.0.1:PORT (pool_connect calls connect()), prints
 * "connected", waits until the server has closed each one (its FIN
 * arrived: POLLRDHUP), prints "fin" and keeps them all, never reading: each
 * stays in CLOSE_WAIT, its EOF never read. With --zero-read it first calls
 * recv(fd, buf, 0, 0) on each connection, which blocks until the FIN comes
 * and returns 0 leaving it unread (Recv-Q stays 1), then read(fd, buf, 0),
 * which returns 0 before reaching the socket layer: neither is an EOF
 * read. (A recv(fd, buf, 0, 0) issued once the FIN is there consumes it:
 * Recv-Q 0, an EOF read. Use one connection with --zero-read: the second
 * one's FIN may come while the first's recv blocks.) Prints "zero-read"
 * once done. SIGTERM ends it with a normal exit.
 * Built with frame pointers for closewait trace's tests. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

__attribute__((noinline)) static int pool_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct pollfd *p;
	int n, zero;
	char c;

	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--zero-read"))) {
		fprintf(stderr, "usage: cwt-pool PORT N [--zero-read]\n");
		return 2;
	}
	n = atoi(argv[2]);
	zero = argc == 4;
	p = calloc((size_t)n, sizeof(*p));
	if (n <= 0 || !p)
		return 2;
	sigaction(SIGTERM, &(struct sigaction){ .sa_handler = on_term }, NULL);
	for (int i = 0; i < n; i++) {
		p[i].fd = pool_connect((uint16_t)atoi(argv[1]));
		p[i].events = POLLRDHUP;
		if (p[i].fd < 0) {
			perror("cwt-pool: connect");
			return 1;
		}
	}
	printf("connected\n");
	fflush(stdout);
	for (int i = 0; zero && i < n; i++)
		if (recv(p[i].fd, &c, 0, 0) != 0 || read(p[i].fd, &c, 0) != 0)
			perror("cwt-pool: zero-length read");
	for (int i = 0; i < n && !stop; i++)
		while (!stop && (poll(&p[i], 1, -1) < 0 || !(p[i].revents & POLLRDHUP)))
			;
	printf("fin\n");
	fflush(stdout);
	if (zero) {
		printf("zero-read\n");
		fflush(stdout);
	}
	while (!stop)
		pause();
	for (int i = 0; i < n; i++)
		close(p[i].fd);
	free(p);
	return 0;
}
