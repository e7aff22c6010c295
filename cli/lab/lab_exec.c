/* Other programs in the lab's namespace: a server written in another
 * language, or closewait itself (`closewait scan`). Each dies with the lab
 * (PR_SET_PDEATHSIG), so an interrupted lab leaves none running. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cli.h"
#include "lab.h"

int lab_spawn(char *const argv[], int *out, pid_t *pid)
{
	pid_t lab = getpid();
	int fds[2] = { -1, -1 }, err;

	if (out && pipe2(fds, O_CLOEXEC))
		return -errno;
	*pid = fork();
	if (*pid < 0) {
		err = -errno;
		if (out) {
			close(fds[0]);
			close(fds[1]);
		}
		return err;
	}
	if (*pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != lab || null < 0 ||
		    dup2(null, 0) < 0 || dup2(out ? fds[1] : null, 1) < 0 || dup2(null, 2) < 0)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (out) {
		close(fds[1]);
		*out = fds[0];
	}
	return 0;
}

int lab_run_cmd(char *const argv[], char *buf, size_t len, unsigned ms)
{
	uint64_t end = cli_after(cli_now_ms(), ms);
	size_t used = 0;
	int fd, status, err;
	pid_t pid;

	if ((err = lab_spawn(argv, &fd, &pid)))
		return err;
	buf[0] = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char drop[512];
		ssize_t n;

		int ready = poll(&p, 1, cli_ms_until(end));

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready == 0) {
			kill(pid, SIGKILL);
			err = -ETIMEDOUT;
			break;
		}
		/* What does not fit is read and dropped: the program must not block. */
		n = used + 1 < len ? read(fd, buf + used, len - 1 - used) : read(fd, drop, sizeof(drop));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < len) {
			used += (size_t)n;
			buf[used] = 0;
		}
	}
	close(fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (err)
		return err;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
