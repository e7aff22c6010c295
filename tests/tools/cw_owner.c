/* cw_owner PORT
 * A leaking server the reap tests can question: listens on 127.0.0.1:PORT,
 * prints "ready", accepts every connection and keeps it (never reads, never
 * closes), printing "accepted FD". Commands, one per line on stdin:
 *   write      writes one byte to each held fd (MSG_NOSIGNAL) and prints
 *              "write FD ok" or "write FD ERRNO-NAME" for each, then "done"
 *   read       reads each held fd without blocking: "read FD eof|data|ERRNO-NAME", "done"
 *   close FD   closes that fd ("closed FD"): its number is free for the next accept
 * Exits when stdin ends. Output is line-buffered (tests read it from a file). */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cwtest.h"
#include <netinet/in.h>
#include <sys/socket.h>

#define MAXFD 4096

static bool held[MAXFD];

static const char *err_name(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "?";
}

static void each_write(void)
{
	for (int fd = 0; fd < MAXFD; fd++)
		if (held[fd]) {
			ssize_t n = send(fd, "x", 1, MSG_NOSIGNAL);

			printf("write %d %s\n", fd, n == 1 ? "ok" : err_name(errno));
		}
	printf("done\n");
}

static void each_read(void)
{
	char buf[256];

	for (int fd = 0; fd < MAXFD; fd++)
		if (held[fd]) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			printf("read %d %s\n", fd, n == 0 ? "eof" : n > 0 ? "data" : err_name(errno));
		}
	printf("done\n");
}

static void command(const char *line)
{
	int fd;

	if (!strcmp(line, "write\n")) {
		each_write();
	} else if (!strcmp(line, "read\n")) {
		each_read();
	} else if (sscanf(line, "close %d", &fd) == 1 && fd >= 0 && fd < MAXFD && held[fd]) {
		close(fd);
		held[fd] = false;
		printf("closed %d\n", fd);
	} else {
		printf("bad command %s", line);
	}
}

int main(int argc, char **argv)
{
	struct pollfd p[2];
	char in[4096];
	size_t have = 0;
	int lfd;

	if (argc != 2) {
		fprintf(stderr, "usage: cw_owner PORT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	lfd = cwt_listen("127.0.0.1", (uint16_t)atoi(argv[1]), 1024);
	if (lfd < 0) {
		fprintf(stderr, "cw_owner: listen: %s\n", strerror(-lfd));
		return 1;
	}
	printf("ready\n");
	p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
	for (;;) {
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);

			if (fd >= 0 && fd < MAXFD) {
				held[fd] = true;
				printf("accepted %d\n", fd);
			} else if (fd >= 0) {
				close(fd);
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			/* read(), not stdio: commands written together must all run
			 * now, not wait in a buffer poll() cannot see. */
			ssize_t n = read(STDIN_FILENO, in + have, sizeof(in) - 1 - have);
			char *line = in, *nl;

			if (n <= 0)
				return 0;
			have += (size_t)n;
			in[have] = 0;
			while ((nl = strchr(line, '\n'))) {
				char c = nl[1];

				nl[1] = 0;
				command(line);
				nl[1] = c;
				line = nl + 1;
			}
			have -= (size_t)(line - in);
			memmove(in, line, have);
			if (have == sizeof(in) - 1)
				have = 0; /* a line longer than the buffer: dropped */
		}
	}
}
