/* cwt-prefork PORT N [--close-range]
 * A well-behaved prefork server for the guard's tests: listens on
 * 127.0.0.1:PORT, forks N children that each accept, answer every line in
 * uppercase until the peer's EOF, and close. With --close-range it first
 * closes every fd above 2 (close_range(3, ~0U, 0)), as daemons do at start.
 * Prints "ready" once the children run; exits when killed (the children die
 * with it). */
#include <ctype.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cwtest.h"

static void serve(int lfd)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		char buf[4096];
		ssize_t n;

		if (fd < 0)
			continue;
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				buf[i] = (char)toupper((unsigned char)buf[i]);
			if (write(fd, buf, (size_t)n) != n)
				break;
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	int lfd, n;

	if (argc < 3) {
		fprintf(stderr, "usage: cwt-prefork PORT N [--close-range]\n");
		return 2;
	}
	if (argc > 3 && !strcmp(argv[3], "--close-range") && close_range(3, ~0U, 0)) {
		perror("cwt-prefork: close_range");
		return 1;
	}
	n = atoi(argv[2]);
	lfd = cwt_listen("127.0.0.1", (uint16_t)atoi(argv[1]), 128);
	if (lfd < 0) {
		fprintf(stderr, "cwt-prefork: listen: %s\n", strerror(-lfd));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("cwt-prefork: fork");
			return 1;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			serve(lfd);
		}
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
