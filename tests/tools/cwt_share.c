/* cwt-share PORT [FILL]
 *
 * One TCP socket held by two processes, as after a fork() that follows an
 * accept(): listens on 127.0.0.1:PORT, connects to itself, accepts, and
 * forks. The parent keeps the accepted socket on its low fd; the child first
 * fills its fd table with FILL copies of /dev/null (default 4000), then moves
 * the socket above them, so a reader of /proc that stops at the first owner
 * it finds reaches the child's copy last. Prints, once both hold it:
 *   "shared PARENT_PID PARENT_FD CHILD_PID CHILD_FD"
 * and keeps everything until stdin ends; then the child is killed and waited
 * for, and everything is closed. Exit 2 on setup errors. */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cwtest.h"

/* In the child: FILL fds of /dev/null below the socket, moved to the top. */
static void child(int sock, int fill, int ready)
{
	struct rlimit rl;
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC), top;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the parent */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (nul < 0)
		_exit(2);
	for (int i = 0; i < fill; i++)
		if (dup(nul) < 0)
			_exit(2);
	top = dup(sock);
	if (top < 0 || close(sock) < 0 || write(ready, &top, sizeof(top)) != sizeof(top))
		_exit(2);
	close(ready);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	int lfd, cfd, sfd, fill = 4000, p[2], child_fd, st;
	char b;
	pid_t pid;

	if (argc < 2)
		return 2;
	if (argc > 2)
		fill = atoi(argv[2]);
	lfd = cwt_listen("127.0.0.1", (uint16_t)atoi(argv[1]), 4);
	if (lfd < 0) {
		fprintf(stderr, "cwt-share: listen: %s\n", strerror(-lfd));
		return 2;
	}
	cfd = cwt_connect("127.0.0.1", (uint16_t)atoi(argv[1]));
	sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0 || sfd < 0 || pipe2(p, O_CLOEXEC) < 0) {
		perror("cwt-share: connect/accept");
		return 2;
	}
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		close(p[0]);
		close(lfd);
		close(cfd);
		child(sfd, fill, p[1]);
	}
	close(p[1]);
	if (read(p[0], &child_fd, sizeof(child_fd)) != sizeof(child_fd)) {
		fprintf(stderr, "cwt-share: the child failed\n");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 2;
	}
	close(p[0]);
	printf("shared %d %d %d %d\n", (int)getpid(), sfd, (int)pid, child_fd);
	fflush(stdout);
	while (read(0, &b, 1) > 0)
		;
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(sfd);
	close(cfd);
	close(lfd);
	return 0;
}
