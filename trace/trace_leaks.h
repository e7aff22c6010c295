/* What trace knows about each CLOSE_WAIT socket it saw, and the groups by
 * creating site: built each interval from a census joined, by the socket
 * file's inode, to the eBPF records. */
#ifndef CW_TRACE_LEAKS_H
#define CW_TRACE_LEAKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"
#include "trace_stack.h"

struct trace_leak {
	char key[192];                /* "i:INODE", or for an unaccepted socket "u:NETNS:LOCAL>PEER" */
	uint64_t first_seen_ms;       /* CLOCK_MONOTONIC of the first census that had it */
	bool reported;                /* past --grace: printed once */
	bool live;                    /* in the latest census */
	/* its stack, named when the socket is first seen in CLOSE_WAIT (the
	 * creating process may exit, or its pid be reused, before --grace) */
	bool stack_tried;
	bool creator_gone;            /* the creating process had exited by then: no stack */
	/* filled when reported */
	pid_t pid;                    /* its owner; 0 when none is known */
	uint64_t owner_start;         /* the owner's start (trace_pid_start); 0: unknown */
	bool ended;                   /* no longer in CLOSE_WAIT, or its owner exited: said once */
	bool owner_exited;            /* ...because the owner (that pid with that start) exited */
	int fd;                       /* -1 when none */
	char command[16];
	char local[64], peer[64];
	uint64_t inode, netns;
	/* where it is, as the census attributes it (scan's JSON names); each
	 * malloc'd or NULL when not known */
	char *netns_name, *cgroup, *systemd_unit, *container_runtime, *container_id, *pod_uid,
		*pod_qos;
	enum cw_why why;
	bool exact;                   /* the CLOSE_WAIT entry was seen: since_ms is exact */
	uint64_t since_ms;            /* exact: CLOSE_WAIT entry, CLOCK_REALTIME ms */
	uint64_t age_min_ms, age_max_ms; /* the age when reported */
	bool has_eof;
	uint64_t eof_ms;              /* the EOF read, CLOCK_REALTIME ms */
	bool before_trace;            /* created before trace started: no stack */
	unsigned how;                 /* enum cw_trace_how */
	pid_t tid;
	char thread[16];
	uint64_t created_ms;          /* CLOCK_REALTIME ms */
	bool has_stack;
	struct trace_stack stack;
	char site[512];               /* "accept() in accept_loop (cwt_leaky.c:58) ← main" */
	size_t group;
};

/* The leaks of one creating site. */
struct trace_group {
	char site[512];
	size_t live[4];               /* in CLOSE_WAIT now, per enum cw_why */
	size_t total;                 /* reported since trace started */
	size_t owner_exited;          /* of those, leaks whose owner exited */
	bool changed;                 /* since the last report of the groups */
};

struct trace_leaks {
	struct trace_leak *v;
	size_t n, cap;
	struct trace_group *g;
	size_t ng, gcap;
};

/* The leak whose key is key, added (not reported, first seen at now_ms)
 * when absent; NULL when out of memory. */
struct trace_leak *trace_leaks_get(struct trace_leaks *t, const char *key, uint64_t now_ms);
/* Puts a leak just reported in its site's group (its site set). 0 or -ENOMEM. */
int trace_leaks_group(struct trace_leaks *t, struct trace_leak *l);
/* After a census: drops sockets never reported that are gone, and counts
 * each group's live leaks again (marking the groups that changed). */
void trace_leaks_sweep(struct trace_leaks *t);
/* "N sockets in CLOSE_WAIT, created by ..., M never read after the peer's FIN". */
char *trace_group_headline(const struct trace_group *g, char *buf, size_t len);
void trace_leaks_free(struct trace_leaks *t);

#endif
