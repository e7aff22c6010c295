/* cwt-crowd PORT N PREFIX [--churn MS]
 *
 * N processes, each with a command name of its own (PREFIX followed by its
 * number, three digits: cwc-000, cwc-001...; the kernel keeps 15 bytes) and
 * one leaked connection in CLOSE_WAIT: the child connects to this program's
 * listener on 127.0.0.1:PORT, the parent accepts and closes its end, the
 * child never closes. Prints "ready" once all N hold their leak.
 *
 * With --churn MS, processes come and go: each child exits after a time
 * between MS/2 and MS milliseconds (its leak goes with it) and the parent
 * starts another in its place, with the next number modulo N, until killed.
 * "ready" comes once the first N are up.
 *
 * A fork costs a process a few hundred KiB, where N copies of a server would
 * cost megabytes each. The children die with the parent (PR_SET_PDEATHSIG).
 * Exit 1 on a failure (said on stderr), 2 on usage. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cwtest.h"

/* The child: named, connected, alive until its time is up (0: until the
 * parent dies). Never returns. */
static void child(const char *prefix, int i, uint16_t port, unsigned life_ms)
{
	char name[32];
	int fd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1)
		_exit(1);
	snprintf(name, sizeof(name), "%s%03d", prefix, i);
	prctl(PR_SET_NAME, name);
	fd = cwt_connect("127.0.0.1", port);
	if (fd < 0)
		_exit(1);
	if (!life_ms)
		for (;;)
			pause();
	cwt_sleep_ms(life_ms);
	_exit(0);
}

/* One more child, number I, and its connection accepted and closed: when this
 * returns 0, the child's socket has the FIN on its way. A child that could not
 * connect is waited for 5 s at most. */
static int spawn(int lfd, const char *prefix, int i, uint16_t port, unsigned churn_ms)
{
	unsigned life = churn_ms ? churn_ms / 2 + (unsigned)rand() % (churn_ms / 2 + 1) : 0;
	pid_t pid = fork();
	int afd;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(lfd);
		child(prefix, i, port, life);
	}
	if (poll(&(struct pollfd){ .fd = lfd, .events = POLLIN }, 1, 5000) != 1)
		return -ETIMEDOUT;
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		return -errno;
	close(afd);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned churn_ms = 0;
	uint16_t port;
	int n, lfd, err, next;

	if (argc != 4 && !(argc == 6 && !strcmp(argv[4], "--churn"))) {
		fprintf(stderr, "usage: cwt-crowd PORT N PREFIX [--churn MS]\n");
		return 2;
	}
	port = (uint16_t)atoi(argv[1]);
	n = atoi(argv[2]);
	if (argc == 6)
		churn_ms = (unsigned)atoi(argv[5]);
	if (n <= 0 || n > 1000 || strlen(argv[3]) > 12 || (argc == 6 && churn_ms < 2)) {
		fprintf(stderr, "cwt-crowd: N in 1..1000, PREFIX at most 12 bytes, MS at least 2\n");
		return 2;
	}
	srand((unsigned)time(NULL));
	lfd = cwt_listen("127.0.0.1", port, 1024);
	if (lfd < 0) {
		fprintf(stderr, "cwt-crowd: listen on %u: %s\n", port, strerror(-lfd));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		err = spawn(lfd, argv[3], i, port, churn_ms);
		if (err) {
			fprintf(stderr, "cwt-crowd: child %d: %s\n", i, strerror(-err));
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	if (!churn_ms)
		for (;;)
			pause();
	for (next = n;; next++) {
		int status;

		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "cwt-crowd: a child failed\n");
			return 1;
		}
		err = spawn(lfd, argv[3], next % n, port, churn_ms);
		if (err) {
			fprintf(stderr, "cwt-crowd: child %d: %s\n", next, strerror(-err));
			return 1;
		}
	}
}
