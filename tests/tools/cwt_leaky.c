/* cwt-leaky PORT eof|never
 * The classic leaky server, as the write-up shows it, for the guard's tests:
 * a blocking loop that accepts (accept_loop), then
 *   eof    reads and answers in uppercase until the peer's EOF (serve_until_eof)
 *          and goes back to accept without closing: CLOSE_WAIT, EOF read;
 *   never  answers the first message only (serve_first) and never reads the
 *          connection again: CLOSE_WAIT once the peer closes, EOF never read.
 * Listens on 127.0.0.1:PORT, prints "ready", serves until killed; SIGTERM
 * ends it with a normal exit, so that the guard writes its summary. Built
 * with debug information, so a backtrace names these functions and lines. */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cwtest.h"

static void answer(int fd, char *buf, ssize_t n)
{
	for (ssize_t i = 0; i < n; i++)
		buf[i] = (char)toupper((unsigned char)buf[i]);
	if (write(fd, buf, (size_t)n) != n)
		perror("cwt-leaky: write");
}

__attribute__((noinline)) static void serve_until_eof(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		answer(fd, buf, n);
	/* the bug: no close(fd) */
}

__attribute__((noinline)) static void serve_first(int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n > 0)
		answer(fd, buf, n);
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

__attribute__((noinline)) static void accept_loop(int lfd, int never)
{
	while (!stop) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (!stop)
				perror("cwt-leaky: accept");
			continue;
		}
		if (never)
			serve_first(fd);
		else
			serve_until_eof(fd);
	}
}

int main(int argc, char **argv)
{
	int lfd;

	if (argc != 3 || (strcmp(argv[2], "eof") && strcmp(argv[2], "never"))) {
		fprintf(stderr, "usage: cwt-leaky PORT eof|never\n");
		return 2;
	}
	lfd = cwt_listen("127.0.0.1", (uint16_t)atoi(argv[1]), 128);
	if (lfd < 0) {
		fprintf(stderr, "cwt-leaky: listen: %s\n", strerror(-lfd));
		return 1;
	}
	/* no SA_RESTART: the blocked accept or read returns EINTR */
	sigaction(SIGTERM, &(struct sigaction){ .sa_handler = on_term }, NULL);
	printf("ready\n");
	fflush(stdout);
	accept_loop(lfd, !strcmp(argv[2], "never"));
	return 0;
}
