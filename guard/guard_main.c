/* Start and end of the guard in a process: the real functions, the
 * settings, the checker thread, fork. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "guard.h"

struct guard guard = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.report_lock = PTHREAD_MUTEX_INITIALIZER,
	.report_fd = -1,
	.diag_fd = -1,
};

/* Inodes reported, in memory shared with forked children so that a socket
 * parent and child both hold is reported once: 1 MiB, touched as used. */
#define SEEN_SLOTS (1u << 17)

uint64_t guard_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define RESOLVE(field, name)                                                       \
	do {                                                                       \
		if (!guard.real.field)                                             \
			*(void **)&guard.real.field = dlsym(RTLD_NEXT, name);      \
	} while (0)

/* Before the constructor too: another library's constructor may make a
 * socket before ours runs. */
void guard_resolve(void)
{
	RESOLVE(socket, "socket");
	RESOLVE(accept, "accept");
	RESOLVE(accept4, "accept4");
	RESOLVE(connect, "connect");
	RESOLVE(read, "read");
	RESOLVE(read_chk, "__read_chk");
	RESOLVE(recv, "recv");
	RESOLVE(recv_chk, "__recv_chk");
	RESOLVE(recvfrom, "recvfrom");
	RESOLVE(recvmsg, "recvmsg");
	RESOLVE(readv, "readv");
	RESOLVE(close, "close");
	RESOLVE(close_range, "close_range");
	RESOLVE(dup, "dup");
	RESOLVE(dup2, "dup2");
	RESOLVE(dup3, "dup3");
	RESOLVE(fcntl, "fcntl");
	RESOLVE(setsockopt, "setsockopt");
}

/* IPPROTO_TCP exists in AF_INET and AF_INET6 only: the protocol says both. */
bool guard_is_tcp(int fd)
{
	int proto = 0;
	socklen_t len = sizeof(proto);

	return !getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) && proto == IPPROTO_TCP;
}

void guard_start_checker(void)
{
	sigset_t all, old;

	if (__atomic_load_n(&guard.checker_running, __ATOMIC_ACQUIRE) || !guard.on)
		return;
	pthread_mutex_lock(&guard.lock);
	if (!guard.checker_running) {
		/* the checker takes no signal: the program's handlers run in its
		 * own threads, as they would without the guard */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&guard.checker, NULL, guard_checker, NULL) == 0) {
			pthread_detach(guard.checker);
			__atomic_store_n(&guard.checker_running, true, __ATOMIC_RELEASE);
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_mutex_unlock(&guard.lock);
}

/* No guard lock is held across fork: the child gets a consistent table,
 * its own checker (threads do not survive fork) and its own counters. */
static void before_fork(void)
{
	pthread_mutex_lock(&guard.lock);
	pthread_mutex_lock(&guard.report_lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&guard.report_lock);
	pthread_mutex_unlock(&guard.lock);
}

static void after_fork_child(void)
{
	pthread_mutex_unlock(&guard.report_lock);
	guard_check_forked();
	pthread_mutex_unlock(&guard.lock);
	guard_diag_forked();
	guard.checker_running = false;
	guard.tracked = guard.live;
	guard.reported = guard.cured = 0;
	guard.checks = guard.check_us = guard.dump_checks = guard.filtered_checks = 0;
	if (guard.live)
		guard_start_checker();
}

/* --no-inherit: a program this one execs runs without the guard. */
static void leave_environment(void)
{
	const char *pre = getenv("LD_PRELOAD");
	char *copy, *keep, *tok, *save = NULL;

	unsetenv(GUARD_ENV);
	if (!pre)
		return;
	copy = strdup(pre);
	keep = calloc(1, strlen(pre) + 1);
	if (!copy || !keep)
		goto out;
	for (char *p = copy; (tok = strtok_r(p, " :", &save)); p = NULL) {
		const char *base = strrchr(tok, '/');

		if (!strcmp(base ? base + 1 : tok, "libclosewait-guard.so"))
			continue;
		if (*keep)
			strcat(keep, " ");
		strcat(keep, tok);
	}
	if (*keep)
		setenv("LD_PRELOAD", keep, 1);
	else
		unsetenv("LD_PRELOAD");
out:
	free(keep);
	free(copy);
}

__attribute__((constructor)) static void guard_init(void)
{
	const char *bad = NULL, *env = getenv(GUARD_ENV);
	Dl_info di;
	void *warm[4];
	void *seen;

	guard_resolve();
	guard.head.next = guard.head.prev = &guard.head;
	if (guard_cfg_parse(env, &guard.cfg, &bad)) {
		/* the program runs as if the guard were not there, and says why */
		dprintf(2, "closewait guard: %s: invalid setting at \"%s\"; the guard is off\n",
			GUARD_ENV, bad);
		return;
	}
	if (dladdr((void *)guard_init, &di))
		guard.self_base = di.dli_fbase;
	/* the first backtrace loads libgcc_s (milliseconds): here, not in the
	 * program's first accept */
	backtrace(warm, 4);
	seen = mmap(NULL, SEEN_SLOTS * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (seen != MAP_FAILED) {
		guard.seen = seen;
		guard.seen_slots = SEEN_SLOTS;
	}
	if (!guard.cfg.inherit)
		leave_environment();
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	guard.on = true;
}

__attribute__((destructor)) static void guard_fini(void)
{
	if (guard.on)
		guard_report_summary();
}
