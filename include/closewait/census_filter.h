/* Selecting sockets of a census: the filter vocabulary (ss's names) that
 * scan and reap share. Pure: no I/O.
 *
 *	struct cw_filter f;
 *
 *	cw_filter_init(&f);
 *	f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
 *	f.sport = 8000;
 *	f.older_ms = 60000;
 *	cw_why_parse("eof-read", &f.whys);
 *	for (size_t i = 0; i < cw_census_count(c); i++)
 *		if (cw_filter_match(&f, c, i, NULL) == CW_MATCH_YES)
 *			...;
 */
#ifndef CLOSEWAIT_CENSUS_FILTER_H
#define CLOSEWAIT_CENSUS_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"

#pragma GCC visibility push(default)

/* Which sockets; every criterion set must hold. The application allocates
 * it and calls cw_filter_init() first: that sets size and turns every
 * criterion off; the library reads only the fields that lie within size,
 * taking the defaults for the rest (it may gain fields at the end). */
struct cw_filter {
	size_t size;                  /* set by cw_filter_init() */
	uint32_t states;              /* CW_STATE_BIT mask; 0 = any */
	pid_t pid;                    /* held by this process; 0 = any */
	int port, sport, dport;       /* -1 = any; port matches either end, sport the local one */
	bool has_peer;
	struct cw_endpoint peer;      /* the remote end; port 0 = any port of that address */
	uint64_t older_ms;            /* at least this old (cw_sock_age); 0 = any age */
	/* Who holds it (any of its owners; a socket no process holds: its own
	 * cgroup). NULL = any. The strings must outlive the filter's use. */
	const char *comm;             /* this command name, exactly */
	const char *unit;             /* this systemd unit ("nginx.service") */
	const char *container;        /* a container whose id starts with this (cw_container_prefix_ok) */
	const char *pod;              /* this Kubernetes pod uid */
	/* CW_WHY_BIT mask of why a CLOSE_WAIT socket is open (cw_sock_why);
	 * 0 = any. Set, it keeps CLOSE_WAIT sockets only. */
	uint32_t whys;
};
/* Whether s is a usable container id prefix: at least 12 hex digits (a
 * shorter one would select containers by accident). true or false. */
bool cw_container_prefix_ok(const char *s);
/* Every criterion off. Cannot fail. */
void cw_filter_init(struct cw_filter *f);

enum cw_match {
	CW_MATCH_NO,
	CW_MATCH_YES,
	CW_MATCH_UNCERTAIN            /* all holds but the age: its range contains older_ms */
};
/* Whether matching needs the census's owners (pid, comm, unit, container or
 * pod is set): true or false. */
bool cw_filter_needs_owners(const struct cw_filter *f);
/* Whether socket s passes the criteria a socket alone answers (all but who
 * holds it and older_ms; whys included), so a caller can drop sockets
 * before their owners are looked up (cw_census_opts.want): true or false. */
bool cw_filter_match_addr(const struct cw_filter *f, const struct cw_sock *s);
/* Whether socket i of c matches f. age may be NULL (then it is computed from
 * the socket). A socket in a state with no age rule never matches older_ms. */
enum cw_match cw_filter_match(const struct cw_filter *f, const struct cw_census *c, size_t i,
			      const struct cw_age *age);

#pragma GCC visibility pop
#endif
