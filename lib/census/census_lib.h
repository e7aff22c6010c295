/* What the census offers the rest of the library (reap), and the only census
 * header another part includes: a dump of the sockets in given states, the
 * receive that keeps datagrams not from the kernel out, and the /proc owner
 * walk of a census run in the background, telling a sink of each owner as
 * it is found. */
#ifndef CW_CENSUS_LIB_H
#define CW_CENSUS_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"
#include "closewait/census_filter.h"

/* Called once per socket; a non-zero return stops the dump with that value. */
typedef int (*netlink_sock_cb)(const struct cw_sock *s, void *arg);
/* Dumps the TCP sockets of one family (AF_INET, AF_INET6) whose state is in
 * states (a CW_STATE_BIT mask; 0 = all), with tcp_info; ports (NULL: none)
 * has its port, sport and dport (-1: any) applied by the kernel. 0, the
 * callback's value, or -errno. */
int netlink_dump_tcp(int family, uint32_t states, const struct cw_filter *ports, netlink_sock_cb cb,
		     void *arg);
/* recv() of the next datagram the kernel sent (nl_pid 0) on a netlink
 * socket: any local process may send to a socket's port id, and what it
 * sends must neither pass for the kernel's answer nor be read as sockets, so
 * other datagrams are dropped. With MSG_TRUNC in flags the length returned
 * is the datagram's own, which may exceed len. -errno on failure. */
ssize_t netlink_recv(int fd, void *buf, size_t len, int flags);

/* The fd of the network namespace ino that census c read (valid while c
 * lives), or -1 when c read it from the caller's own namespace (or does not
 * know it). */
int census_netns_fd(const struct cw_census *c, uint64_t ino);
/* socket() made inside the namespace nsfd (-1: the caller's own): the fd,
 * or -errno. A sock_diag socket sees its creator's namespace only. */
int census_netns_socket(int nsfd, int domain, int type, int protocol);
/* fn(arg) run by a thread inside the namespace nsfd: fn's return, or the
 * -errno of entering it. */
int census_netns_call(int nsfd, int (*fn)(void *arg), void *arg);
/* The inode of the caller's network namespace (its thread's), 0 if unknown. */
uint64_t census_own_netns(void);

/* The caller's filter as this library reads it (census_filter.h: only the
 * fields within its size, defaults for the rest). 0 or -EINVAL. */
int census_filter_read(const struct cw_filter *in, struct cw_filter *out);
/* The same for census options. 0 or -EINVAL. */
int census_opts_read(const struct cw_census_opts *in, struct cw_census_opts *out);

/* The /proc walk of cw_census_take, for a census taken without owners, in
 * two halves: start walks in the background, finish waits for it and
 * attaches the owners found to the census (as cw_census_take would have). */
struct census_walk_sink {
	/* A walker found owner (pid, fd) of socket i of the census: called from
	 * that walker's thread once the directory chunk (about 170 fds) it is in
	 * has been read, in fd order within a process, in no order across
	 * walkers. Every owner found is told. NULL: none. */
	void (*hit)(size_t i, pid_t pid, int fd, void *arg);
	/* Called once, by the last walker to end (from census_walk_start itself
	 * when no thread could be started). NULL: none. */
	void (*done)(void *arg);
	void *arg;
};
struct census_walk_opts {
	bool (*want)(size_t i, void *arg); /* look socket i's owners up (NULL: every socket's) */
	void *want_arg;
	pid_t only;                   /* read this process only; 0: every process */
	unsigned threads;             /* walker threads; 0: one per online CPU, at most 2 */
	bool all_owners;              /* go on once every wanted socket has an owner */
	struct census_walk_sink sink;
	/* A source of owners to use instead of the walk (cw_census_opts.fd_sockets;
	 * NULL: none). Its owners go to the sink from census_walk_start itself. */
	int (*fd_sockets)(void *arg, const struct cw_fd_socket **v, size_t *n);
	void *fd_sockets_arg;
};
struct census_walk;
/* 0, or -ENOMEM, or the -errno of listing /proc. A source that fails
 * leaves the owners to the walk. */
int census_walk_start(struct cw_census *c, const struct census_walk_opts *o,
		      struct census_walk **out);
/* Waits for the walkers, attaches the owners to c, frees w. 0 or -ENOMEM. */
int census_walk_finish(struct cw_census *c, struct census_walk *w);

#endif
