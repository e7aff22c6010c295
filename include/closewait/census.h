/* The socket census: every TCP socket of this network namespace with its
 * state, addresses, tcp_info times and, when asked, the processes that hold
 * it. Taking a census talks to the kernel (sock_diag, /proc); reading one
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
	CW_UNKNOWN                    /* has a file, but no owner was found (not asked, or not readable) */
};
/* Socket i's kind: CW_OWNED, CW_ORPHAN or CW_UNKNOWN (above). */
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

#pragma GCC visibility pop
#endif
