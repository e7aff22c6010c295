/* nft in the lab's namespace: the rules that hold back chosen segments, so
 * that a state the kernel passes through in microseconds stays long enough
 * to be seen. The table lives and dies with the namespace. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab.h"

int lab_nft(const char *cmd)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
			_exit(126);
		/* nft joins its arguments into one command. Not every PATH has sbin. */
		execl("/usr/sbin/nft", "nft", cmd, (char *)NULL);
		execlp("nft", "nft", cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -EINVAL;
}
