/* cw_pty EXPECT ANSWER CMD [ARGS...]
 * Runs CMD on a new pseudo-terminal (so that it sees a terminal on stdin and
 * stdout, as a person's shell would give it), copies everything it prints to
 * our stdout, and types ANSWER and Enter once EXPECT has appeared in its
 * output. Exits with CMD's exit status (124 if it ran over 30 s). */
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cwtest.h"

#define DEADLINE_MS 30000

int main(int argc, char **argv)
{
	char seen[8192];
	size_t used = 0;
	bool answered = false;
	uint64_t start = cwt_now_ms();
	int master, status;
	pid_t pid;

	if (argc < 4) {
		fprintf(stderr, "usage: cw_pty EXPECT ANSWER CMD [ARGS...]\n");
		return 2;
	}
	pid = forkpty(&master, NULL, NULL, NULL);
	if (pid < 0) {
		perror("cw_pty: forkpty");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		perror("cw_pty: exec");
		_exit(127);
	}
	for (;;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		char buf[1024];
		ssize_t n;

		if (cwt_now_ms() - start > DEADLINE_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fprintf(stderr, "cw_pty: %s ran over %d s\n", argv[3], DEADLINE_MS / 1000);
			return 124;
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(master, buf, sizeof(buf));
		if (n <= 0)
			break; /* EIO: the terminal's other end is closed, the command is done */
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
		if (used + (size_t)n >= sizeof(seen))
			used = 0; /* EXPECT is short: forgetting old output is enough */
		memcpy(seen + used, buf, (size_t)n);
		used += (size_t)n;
		seen[used] = 0;
		if (!answered && strstr(seen, argv[1])) {
			if (write(master, argv[2], strlen(argv[2])) < 0 || write(master, "\n", 1) < 0)
				perror("cw_pty: write");
			answered = true;
		}
	}
	close(master);
	if (waitpid(pid, &status, 0) < 0)
		return 2;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
