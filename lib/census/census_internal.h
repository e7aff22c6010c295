/* The census object (private to the census, and to tests that build one
 * from a fixture). */
#ifndef CW_CENSUS_INTERNAL_H
#define CW_CENSUS_INTERNAL_H

#include "closewait/census.h"

/* Socket i's owners: owners[first .. first + n). */
struct owner_span {
	uint32_t first, n;
};

/* A namespace read, or tried. */
struct census_ns {
	struct cw_netns pub;          /* name and path point into the strings below */
	int fd;                       /* open while the census lives (reap acts in it); -1: none */
	char *name, *path;
};

/* A workload and the storage its strings point into. */
struct census_wl {
	uint64_t key;                 /* a pid (owners) or a cgroup id (sockets no one holds) */
	struct cw_workload pub;
	char *buf;
};

struct cw_census {
	struct cw_sock *socks;
	size_t n, cap;
	/* Listening sockets dumped to find the listener of unaccepted sockets
	 * (not among socks unless LISTEN was asked for). Owner spans and the
	 * /proc walk index them after the sockets: n + j. */
	struct cw_sock *listeners;
	size_t nl, lcap;
	struct owner_span *spans;     /* per socket then listener; NULL until owners are attached */
	struct cw_owner *owners;      /* sorted by socket */
	size_t nowners;
	/* Unaccepted socket i's listeners: lidx[lspan[i].first ..][lspan[i].n] */
	struct owner_span *lspan;
	uint32_t *lidx;
	char (*comms)[16];            /* storage the owners' comm point into */
	size_t ncomms;
	struct census_ns *ns;         /* sorted by inode */
	size_t nns;
	unsigned ns_unreadable;
	struct census_wl *procs;      /* owner processes' workloads, sorted by pid */
	size_t nprocs;
	struct census_wl *cgroups;    /* socket cgroup ids' workloads, sorted by id */
	size_t ncgroups;
	uint64_t time_ms, mono_ms, mono_end_ms;
	bool has_owners, partial, owners_hidden;
	unsigned unreadable;
};

/* An empty census stamped with these times. 0 or -ENOMEM. */
int census_new(uint64_t time_ms, uint64_t mono_ms, struct cw_census **out);
/* Gives each CLOSE_WAIT socket of c whose inode t lists (n entries, any
 * order) its exact age at the dump's start (cw_census_opts.entry_times).
 * 0 or -ENOMEM. */
int census_entry_ages(struct cw_census *c, const struct cw_entry_time *t, size_t n);
/* Appends a socket. 0 or -ENOMEM. */
int census_add(struct cw_census *c, const struct cw_sock *s);
/* Appends a listener (index n + j for owners). Call before owners. 0 or -ENOMEM. */
int census_add_listener(struct cw_census *c, const struct cw_sock *s);
/* Attaches owners: owner i holds socket sock_idx[i] (a listener: n + j);
 * comm copied. Call once, with sock_idx sorted. Then links unaccepted
 * sockets to their listeners and those listeners' owners. 0 or -ENOMEM. */
int census_set_owners(struct cw_census *c, const size_t *sock_idx, const pid_t *pid,
		      const int *fd, const char *const *comm, size_t n);
/* Links each unaccepted socket to its listeners and their owners
 * (census_unaccepted.c; census_set_owners calls it). 0 or -ENOMEM. */
int census_link_unaccepted(struct cw_census *c);
/* Whether a socket with no file in this state waits in an accept queue. */
bool census_state_unaccepted(int state);

#endif
