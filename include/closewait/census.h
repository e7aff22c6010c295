/* The socket census: every TCP socket of the selected network namespaces
 * (this one by default, one named, or every one on the host) with its
 * state, addresses, tcp_info times and, when asked, the processes that hold
 * it and where they live (systemd unit, container, pod). Taking a census talks to the kernel (sock_diag, /proc); reading one
 * does not. What to do with a census: census_filter.h (selection),
 * census_group.h (grouping, pairing), census_watch.h (trends),
 * census_ports.h (port exhaustion), reap.h (ending leaked connections).
 *
 *	struct cw_census_opts o;
 *	struct cw_census *c;
 *
 *	cw_census_opts_init(&o);
 *	o.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
 *	o.owners = true;
 *	if (cw_census_take(&o, &c) == 0) {
 *		for (size_t i = 0; i < cw_census_count(c); i++)
 *			for (size_t k = 0; k < cw_census_owner_count(c, i); k++)
 *				printf("%s[%d] fd %d\n", cw_census_owner(c, i, k)->comm,
 *				       (int)cw_census_owner(c, i, k)->pid, cw_census_owner(c, i, k)->fd);
 *		cw_census_free(c);
 *	}
 */
#ifndef CLOSEWAIT_CENSUS_H
#define CLOSEWAIT_CENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "closewait/census_types.h"

#pragma GCC visibility push(default)

struct cw_filter;
struct cw_fd_socket;
/* Which network namespaces a census reads. */
enum cw_netns_sel {
	CW_NETNS_SEL_CURRENT,         /* the caller's (the default) */
	CW_NETNS_SEL_ONE,             /* one, named by cw_census_opts.netns */
	CW_NETNS_SEL_PID,             /* those cw_census_opts.netns_pid's threads are in */
	CW_NETNS_SEL_ALL              /* every one reachable: from a process or thread, a bind
				       * mount in any mount namespace, or an open fd */
};
/* How a namespace of a census was found. */
enum cw_netns_how {
	CW_NETNS_CURRENT,             /* the caller's own */
	CW_NETNS_GIVEN,               /* named by the caller (cw_census_opts.netns) */
	CW_NETNS_PROCESS,             /* a process is in it */
	CW_NETNS_THREAD,              /* only a thread is in it, not its process's leader */
	CW_NETNS_MOUNT,               /* a bind mount holds it (as /run/netns/NAME does) */
	CW_NETNS_FD                   /* an open fd holds it */
};
/* "current", "given", "process", "thread", "mount", "fd" (static); "?" for
 * a number that is none. */
const char *cw_netns_how_name(enum cw_netns_how how);


/* What to take. The application allocates it and calls cw_census_opts_init()
 * first: that sets size, and the library reads only the fields that lie
 * within size, taking the defaults for the rest (it may gain fields at the
 * end). */
struct cw_census_opts {
	size_t size;                  /* set by cw_census_opts_init() */
	uint32_t states;              /* CW_STATE_BIT mask the kernel filters on; 0 = all */
	/* NULL, or a filter whose port, sport and dport the kernel applies
	 * (inet_diag bytecode): sockets on other ports are not even dumped. */
	const struct cw_filter *ports;
	bool owners;                  /* find the processes holding each socket (/proc/PID/fd) */
	/* Keep looking for owners once every socket has one: a socket shared by
	 * several processes then lists them all. */
	bool all_owners;
	unsigned threads;             /* threads reading /proc; 0 = one per online CPU, at most 2 */
	/* Only sockets for which want(sock, arg) is true get an owner looked up
	 * (NULL: all). Lets a caller skip the /proc work for sockets it will drop. */
	bool (*want)(const struct cw_sock *s, void *arg);
	void *want_arg;
	/* Which network namespaces (DESIGN: the selection). A socket carries its
	 * namespace's inode (cw_sock.netns); cw_census_netns lists them. */
	enum cw_netns_sel netns_sel;
	const char *netns;            /* CW_NETNS_SEL_ONE: NAME (in /run/netns), a PATH, or "pid:PID" */
	pid_t netns_pid;              /* CW_NETNS_SEL_PID: the process whose threads' namespaces to read */
	/* NULL, or entry_time_count times when sockets entered CLOSE_WAIT, as a
	 * source outside the census saw them (closewait trace's records, which
	 * the CLI reads: the library never talks to eBPF). A CLOSE_WAIT socket
	 * whose inode is listed gets its exact age (cw_sock.has_entry_age). Any
	 * order; an inode listed twice takes either. Read during the take only. */
	const struct cw_entry_time *entry_times;
	size_t entry_time_count;
	/* NULL, or a source of owners outside the census, used instead of the
	 * /proc/PID/fd walk (closewait's command: an eBPF iterator, which lists
	 * every process's socket files in one read; the library never talks to
	 * eBPF). Called once per take that looks for owners, after the dump: it
	 * sets *v to the socket files of every process the caller's /proc lists
	 * (n entries, any order; a process's fds as /proc/PID/fd shows them),
	 * memory that stays the source's and is read before the take returns,
	 * and returns 0. A source that returns -errno leaves the owners to the
	 * /proc walk. Owners from a source are complete: every holder of every
	 * socket, cw_census_owners_partial false, cw_census_unreadable 0. */
	int (*fd_sockets)(void *arg, const struct cw_fd_socket **v, size_t *n);
	void *fd_sockets_arg;
};
/* A socket file a process holds (cw_census_opts.fd_sockets). */
struct cw_fd_socket {
	uint64_t inode;               /* the socket's inode (cw_sock.inode) */
	pid_t pid;                    /* the process, as the caller's /proc names it */
	int fd;
};
/* When a socket entered CLOSE_WAIT, seen by a source outside the census. */
struct cw_entry_time {
	uint64_t inode;               /* the socket's inode (cw_sock.inode) */
	uint64_t mono_ns;             /* CLOCK_MONOTONIC (the eBPF side's bpf_ktime_get_ns) */
};
/* Everything off: all states, no owners. Cannot fail. */
void cw_census_opts_init(struct cw_census_opts *o);

struct cw_census;

/* One sock_diag dump per family (IPv4 then IPv6) and, if asked, one pass
 * over /proc/PID/fd. opts NULL: the defaults. 0, -EINVAL (opts not from
 * cw_census_opts_init), -ENOMEM, or the -errno of a failing dump; processes
 * we may not read are not errors: their sockets just have no owner. */
int cw_census_take(const struct cw_census_opts *opts, struct cw_census **out);
/* Frees the census (NULL: nothing): the sockets, owners and command names
 * read from it go with it. */
void cw_census_free(struct cw_census *c);
/* The number of sockets, and socket i (i from 0 to count - 1), valid while
 * c lives. */
size_t cw_census_count(const struct cw_census *c);
const struct cw_sock *cw_census_sock(const struct cw_census *c, size_t i);
/* The number of owners of socket i (0 when none is known), and owner k of
 * it (k from 0 to owner_count - 1, lowest pid first), valid while c lives. */
size_t cw_census_owner_count(const struct cw_census *c, size_t i);
const struct cw_owner *cw_census_owner(const struct cw_census *c, size_t i, size_t k);
/* Why socket i has owners or not. */
enum cw_owner_kind {
	CW_OWNED,                     /* held by the process(es) found */
	CW_ORPHAN,                    /* inode 0: no file left, no process can hold it */
	CW_UNKNOWN,                   /* has a file, but no owner was found (not asked, or not readable) */
	/* No file yet: a connection waiting in a listener's accept queue. Its
	 * owners are the owners of that listener (cw_census_listener). */
	CW_UNACCEPTED
};
/* Socket i's kind (above). A socket with no file is CW_UNACCEPTED in the
 * states a connection has before accept() (SYN-RECV, ESTABLISHED,
 * CLOSE-WAIT), CW_ORPHAN in those after close(). */
enum cw_owner_kind cw_census_owner_kind(const struct cw_census *c, size_t i);
uint64_t cw_census_time_ms(const struct cw_census *c);  /* CLOCK_REALTIME when the dump began */
uint64_t cw_census_mono_ms(const struct cw_census *c);  /* CLOCK_MONOTONIC when it began */
uint64_t cw_census_mono_end_ms(const struct cw_census *c); /* ...and when it ended */
/* True when owners were looked for (cw_census_opts.owners). */
bool cw_census_has_owners(const struct cw_census *c);
/* True when the /proc walk stopped once every wanted socket had one owner:
 * sockets shared by several processes may then list only the first. */
bool cw_census_owners_partial(const struct cw_census *c);
/* How many processes' fds could not be read (permissions): their sockets
 * show no owner. */
unsigned cw_census_unreadable(const struct cw_census *c);

/* The network namespaces the census read or tried to, in inode order. */
struct cw_netns {
	uint64_t inode;               /* its nsfs inode, what `ip netns identify` compares */
	const char *name;             /* its /run/netns name, or NULL */
	enum cw_netns_how how;        /* how it was found */
	pid_t pid;                    /* PROCESS, THREAD, FD: a process that holds it; MOUNT: one
				       * in whose mount namespace the mount is; else 0 */
	const char *path;             /* MOUNT: the mount point; GIVEN: as given; else NULL */
	int err;                      /* 0: read; -ENOENT: gone before it could be read; else
				       * why it could not be (-EPERM: no CAP_SYS_ADMIN) */
};
/* The number of namespaces, and namespace j (j from 0 to count - 1),
 * valid while c lives. */
size_t cw_census_netns_count(const struct cw_census *c);
const struct cw_netns *cw_census_netns(const struct cw_census *c, size_t j);
/* The namespace socket i is in. Never NULL. */
const struct cw_netns *cw_census_sock_netns(const struct cw_census *c, size_t i);
/* Namespace links and mount tables that refused even to be looked at: the
 * namespaces behind them may be missing (CW_NETNS_SEL_ALL). */
unsigned cw_census_netns_unreadable(const struct cw_census *c);

/* Where in the cgroup tree a process or socket lives, and what the path
 * says: the systemd unit, the container and the Kubernetes pod. A field is
 * NULL where the path does not say (never a guess). Owned by the census. */
struct cw_workload {
	const char *cgroup;           /* "/system.slice/nginx.service" (cgroup v2, else v1 name=systemd) */
	const char *systemd_unit;     /* "nginx.service" */
	const char *container_runtime; /* "docker", "containerd", "cri-o", "podman" */
	const char *container_id;     /* the runtime's id (hex, as long as the path has it) */
	const char *pod_uid;          /* "0f5d1c1e-6b3a-4c6e-9a0e-4b1d2c3e4f50" */
	const char *pod_qos;          /* "guaranteed", "burstable", "besteffort" */
};
/* The workload of owner k of socket i (from /proc/PID/cgroup, read once per
 * process), or NULL when unknown. */
const struct cw_workload *cw_census_owner_workload(const struct cw_census *c, size_t i, size_t k);
/* Socket i's workload: its first owner's; for a socket no process holds,
 * the cgroup the socket was created in (the kernel keeps it with the
 * socket); NULL when neither is known. */
const struct cw_workload *cw_census_sock_workload(const struct cw_census *c, size_t i);

/* Socket i's why (cw_sock_why: the census knows no more than the socket
 * tells; CW_WHY_NONE for a socket not in CLOSE_WAIT). */
enum cw_why cw_census_why(const struct cw_census *c, size_t i);

/* The listeners an unaccepted socket i waits on (0 for other kinds): those
 * of its namespace and port with the most specific local address (an exact
 * address before the wildcard); several with SO_REUSEPORT. Listener k's
 * socket; its owners are socket i's owners. */
size_t cw_census_listener_count(const struct cw_census *c, size_t i);
const struct cw_sock *cw_census_listener(const struct cw_census *c, size_t i, size_t k);
/* True when sockets of other namespaces were found whose owners this
 * process cannot see (it runs in another pid namespace than theirs). */
bool cw_census_owners_hidden(const struct cw_census *c);

#pragma GCC visibility pop
#endif
