/* Socket owners from /proc/PID/fd (private). One pass over every process's
 * fd directory, one readlinkat() per fd and nothing more, keeping only the
 * socket inodes asked for; /proc/PID/comm and /proc/PID/cgroup read once
 * per owning process. */
#ifndef CW_CENSUS_PROCFD_H
#define CW_CENSUS_PROCFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"

struct procfd_hit {
	uint32_t idx;                 /* index into the inode array asked for */
	pid_t pid;
	int fd;
};

struct procfd_proc {
	pid_t pid;
	char comm[16];
	char *cgroup;                 /* its cgroup path (census_cgroup.h), or NULL */
};

struct procfd_result {
	struct procfd_hit *hits;      /* sorted by idx, then pid, then fd */
	size_t nhits;
	struct procfd_proc *procs;    /* processes with hits, sorted by pid */
	size_t nprocs;
	unsigned unreadable;          /* fd directories we may not read */
	bool partial;                 /* stopped before every process was read */
	uint64_t readlinks;           /* work done, for tests and benchmarks */
};

/* What to look for, and where. */
struct procfd_spec {
	const char *root;             /* "/proc", or a tree laid out like it */
	const uint32_t *inodes;       /* inodes[i]: the socket wanted at index i; 0: none */
	size_t n;
	unsigned threads;             /* walker threads, at least 1 (at most 8 are used) */
	bool stop_early;              /* end the pass once every wanted inode has one owner */
	const pid_t *only;            /* only these processes (nonly of them); NULL: all under root */
	size_t nonly;
};

/* One pass, waited for. 0 or -errno (-ENOMEM, or root itself unreadable);
 * r is then empty. */
int procfd_scan(const struct procfd_spec *spec, struct procfd_result *r);

/* The same pass run in the background, so that a caller can act on owners
 * while the walk goes on. hit is called from a walker thread for each owner
 * found, once the directory chunk (one getdents buffer, about 170
 * fds) it is in has been read: in fd order within a process, not in order
 * across walkers. done is called once, by the last walker to end (from
 * procfd_start itself when no thread could be started). */
struct procfd_sink {
	void (*hit)(const struct procfd_hit *h, void *arg);
	void (*done)(void *arg);
	void *arg;
};
struct procfd_walk;
/* As procfd_scan; sink may be NULL. spec, its inodes and only may be freed
 * once it returns; root must outlive the walk. 0 or -errno. */
int procfd_start(const struct procfd_spec *spec, const struct procfd_sink *sink,
		 struct procfd_walk **out);
/* Waits for the walkers, fills r as procfd_scan does, frees w. 0 or
 * -ENOMEM (r then empty). */
int procfd_finish(struct procfd_walk *w, struct procfd_result *r);
/* The same result from a table of socket files given by a source outside
 * the census (cw_census_opts.fd_sockets) instead of a walk: spec's inodes
 * and only apply, root is where comm and cgroup are read; threads and
 * stop_early are moot (the table is whole). sink (NULL: none) is told of
 * each owner, from this thread, before the comms are read; its done once
 * after. 0 or -ENOMEM (r then empty). */
int procfd_given(const struct procfd_spec *spec, const struct cw_fd_socket *v, size_t n,
		 const struct procfd_sink *sink, struct procfd_result *r);
void procfd_result_free(struct procfd_result *r);
/* The comm of pid in r, or NULL. */
const char *procfd_comm(const struct procfd_result *r, pid_t pid);

#endif
