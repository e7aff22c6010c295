/* Runs a scenario where it can harm nothing and leave nothing behind: a
 * child process in a network namespace of its own (and a user namespace
 * when we are not root), which no path names. The namespace, its sockets,
 * links and nft tables end with the last process in it; the processes end
 * with the lab: this process kills the child on SIGINT, SIGHUP and
 * SIGTERM, the child dies of SIGPIPE at a closed stdout, and every child's
 * child has PR_SET_PDEATHSIG, so even SIGKILL to this process leaves
 * nothing running. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cli.h"
#include "../out.h"
#include "lab.h"

static int write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

/* A network namespace of our own; as root of a new user namespace when
 * root's is not ours to use. *userns says which. */
static int isolate(bool *userns)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int err;

	*userns = false;
	if (unshare(CLONE_NEWNET) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return -errno;
	*userns = true;
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	err = write_file("/proc/self/uid_map", map);
	if (!err)
		err = write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	if (!err)
		err = write_file("/proc/self/gid_map", map);
	return err;
}

static _Noreturn void child(const struct lab_scenario *sc, bool json, FILE *svg, pid_t parent)
{
	struct lab lab = { .sc = sc, .json = json };
	int err;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(1);
	/* Defaults: a closed stdout ends the scenario, a terminal's Ctrl-C too. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	err = isolate(&lab.userns);
	if (err) {
		cli_warn("lab", "cannot make a private network namespace: %s (run as root, or allow "
			 "user namespaces: sysctl kernel.unprivileged_userns_clone=1)",
			 strerror(-err));
		_exit(1);
	}
	err = lab_lo_up();
	if (err) {
		cli_warn("lab", "cannot bring up loopback in the lab's namespace: %s", strerror(-err));
		_exit(1);
	}
	if (svg) {
		err = lab_svg_open(&lab.svg);
		if (err) {
			cli_warn("lab", "cannot capture the segments to draw: %s%s", strerror(-err),
				 err == -EPERM ? " (a packet socket needs CAP_NET_RAW)" : "");
			_exit(1);
		}
	}
	lab.out = out_open(stdout);
	out_json_one_line(lab.out, true);
	err = sc->run(&lab);
	lab_counters_free(lab.seen);
	/* a scenario that failed midway is drawn as far as it went */
	if (svg && (lab_svg_write(lab.svg, svg, sc->name) || fflush(svg))) {
		cli_warn("lab", "cannot write the picture: %s", strerror(errno));
		err = err ? err : -EIO;
	}
	lab_svg_free(lab.svg);
	if (out_close(lab.out) && !err)
		err = -EIO;
	if (err && err != -EIO)
		cli_warn("lab", "%s: %s", sc->name, strerror(-err));
	fflush(stderr);
	_exit(err ? 1 : 0);
}

int lab_run(const struct lab_scenario *sc, bool json, FILE *svg)
{
	sigset_t wait_for, old;
	int status = 0, sig = 0;
	pid_t parent = getpid(), pid;

	fflush(stdout);
	/* Taken by sigwaitinfo below, never by a handler: no signal can slip
	 * in between a check and a wait. */
	sigemptyset(&wait_for);
	sigaddset(&wait_for, SIGINT);
	sigaddset(&wait_for, SIGHUP);
	sigaddset(&wait_for, SIGTERM);
	sigaddset(&wait_for, SIGCHLD);
	sigprocmask(SIG_BLOCK, &wait_for, &old);
	/* A shell starts a background job with SIGINT ignored; the lab still
	 * ends (and cleans up) when sent one. SIGCHLD ignored would reap the
	 * child before we could. */
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	pid = fork();
	if (pid < 0)
		cli_fail_exit1("lab", "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		child(sc, json, svg, parent);
	}
	for (;;) {
		siginfo_t si;
		int s = sigwaitinfo(&wait_for, &si);

		if (s == SIGCHLD) {
			if (waitpid(pid, &status, WNOHANG) == pid)
				break;
		} else if (s > 0) {
			sig = sig ? sig : s;
			kill(pid, SIGKILL);
		}
	}
	if (sig) {
		/* Die of the signal, as the shell expects of an interrupted command. */
		signal(sig, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		raise(sig);
		return 128 + sig;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
