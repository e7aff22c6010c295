/* Remediation: ending a running process's leaked TCP connections without
 * restarting it. Selection uses the census filter (census_filter.h); the
 * action is one of two:
 *  - fin: pidfd_open + pidfd_getfd duplicate the owner's socket into this
 *    process, which calls shutdown(SHUT_RDWR): the kernel sends our FIN; the
 *    owner's fd stays valid (read returns 0, write fails with EPIPE, or with
 *    ECONNRESET once the peer has reset). Needs ptrace rights over the owner.
 *  - rst: SOCK_DESTROY through sock_diag (what `ss -K` does): the socket is
 *    reset. Needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY; no owner needed.
 * Each socket's identity (inode and state) is checked again right before
 * acting, so one closed and replaced in between is left alone.
 *
 *	struct cw_filter f;
 *	struct cw_reap_opts o;
 *	struct cw_reap *r;
 *
 *	cw_filter_init(&f);
 *	f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
 *	f.pid = leaky_pid;
 *	cw_reap_opts_init(&o);
 *	if (cw_reap_now(&f, NULL, &o, &r) == 0) {
 *		for (size_t i = 0; i < cw_reap_count(r); i++)
 *			printf("fd %d: %s\n", cw_reap_item(r, i)->fd,
 *			       cw_reap_status_name(cw_reap_item(r, i)->status));
 *		cw_reap_free(r);
 *	}
 */
#ifndef CLOSEWAIT_REAP_H
#define CLOSEWAIT_REAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"
#include "closewait/census_filter.h"

#pragma GCC visibility push(default)

enum cw_reap_mode { CW_REAP_FIN, CW_REAP_RST };

/* What became of one selected socket. */
enum cw_reap_status {
	CW_REAP_TO_REAP,        /* selected, not acted on (yet, or not confirmed) */
	/* handled */
	CW_REAP_CLEAN,          /* fin: the peer acknowledged our FIN */
	CW_REAP_RESET,          /* fin: the peer answered our FIN with an RST */
	CW_REAP_FIN_SENT,       /* fin: no answer within the wait; the kernel retransmits */
	CW_REAP_DESTROYED,      /* rst: destroyed (an RST sent where the state calls for one) */
	/* skipped on purpose */
	CW_REAP_SKIP_LISTEN,    /* a listening socket: never touched */
	CW_REAP_SKIP_AGE,       /* its age range contains the filter's older_ms */
	CW_REAP_SKIP_MODE,      /* fin: a FIN cannot end this state (ours already sent) */
	CW_REAP_SKIP_GONE,      /* closed (fd closed, owner exited, socket gone) before acting */
	CW_REAP_SKIP_REPLACED,  /* its fd (rst: its address pair) now holds another socket */
	CW_REAP_SKIP_CHANGED,   /* the same socket, no longer in the state selected */
	/* failed */
	CW_REAP_FAIL_PTRACE,    /* fin: no ptrace rights over the owner (see denial) */
	CW_REAP_FAIL_NO_OWNER,  /* fin: no owner found (see denial: whose processes we cannot read) */
	CW_REAP_FAIL_CAP,       /* rst: CAP_NET_ADMIN missing */
	CW_REAP_FAIL_NOSUPPORT, /* rst: kernel built without CONFIG_INET_DIAG_DESTROY */
	CW_REAP_FAIL_ERROR,     /* another error: err */
	/* fin: a connection still in a listener's accept queue has no fd to
	 * shut down (rst resets it, but its entry stays in the queue until the
	 * program accepts it) */
	CW_REAP_FAIL_UNACCEPTED,
	CW_REAP_NSTATUS
};
/* What a status counts as. */
enum cw_reap_kind {
	CW_REAP_KIND_TO_REAP, CW_REAP_KIND_HANDLED, CW_REAP_KIND_SKIPPED, CW_REAP_KIND_FAILED
};
/* "to-reap", "clean", "reset", "fin-sent", "destroyed", "listening",
 * "age-uncertain"... (static); "?" for a number that is no status. */
const char *cw_reap_status_name(enum cw_reap_status s);
/* The kind of s; CW_REAP_KIND_FAILED for a number that is no status. */
enum cw_reap_kind cw_reap_status_kind(enum cw_reap_status s);
/* "to-reap", "handled", "skipped", "failed" (static); "?" for another number. */
const char *cw_reap_kind_name(enum cw_reap_kind k);

/* Why ptrace access (pidfd_getfd, /proc/PID/fd) is refused: the kernel's
 * __ptrace_may_access rules, then Yama, then anything else (an LSM). */
enum cw_ptrace_block {
	CW_PTRACE_OK,
	CW_PTRACE_OTHER_UID,     /* not the owner's user, and no CAP_SYS_PTRACE */
	CW_PTRACE_OTHER_GROUP,   /* the owner's user, not its group (its real, effective
				  * and saved gids must all be ours), no CAP_SYS_PTRACE */
	CW_PTRACE_NOT_DUMPABLE,  /* same user, but the owner is not dumpable (setuid,
				  * PR_SET_DUMPABLE 0): needs CAP_SYS_PTRACE */
	CW_PTRACE_YAMA,          /* kernel.yama.ptrace_scope forbids it */
	CW_PTRACE_OTHER,         /* refused for another reason (a security module) */
	CW_PTRACE_NO_LIST,       /* CAP_SYS_PTRACE held, but not CAP_DAC_READ_SEARCH:
				  * another user's /proc/PID/fd (mode 0500, its user's)
				  * cannot be listed, so its sockets' owner stays unknown */
};
struct cw_ptrace_denial {
	enum cw_ptrace_block why;
	uid_t owner_uid;          /* the owner's uid (socket uid when the owner is unknown) */
	uid_t our_uid;            /* our real uid (pidfd_getfd checks real credentials) */
	gid_t owner_gid;          /* OTHER_GROUP: the owner's gid that is not ours */
	gid_t our_gid;            /* our real gid */
	bool cap_sys_ptrace;      /* we hold CAP_SYS_PTRACE */
	int yama_scope;           /* kernel.yama.ptrace_scope; -1 without Yama */
};
/* Explains a refusal to reach pid (uid: the owner's uid, or -1 to read it
 * from /proc/PID/status) into *d. Reads /proc and our credentials; cannot
 * fail (what it cannot read it leaves out). */
void cw_ptrace_explain(pid_t pid, uid_t uid, struct cw_ptrace_denial *d);
/* May we read pid's fds (to find its sockets; PTRACE_MODE_READ) and, if
 * attach, duplicate them (pidfd_getfd; PTRACE_MODE_ATTACH, which Yama may
 * refuse where reading is allowed)? 0 yes; -ESRCH no such process; -EINVAL
 * not a process (a thread id); -EPERM (d filled) no. */
int cw_reap_check_pid(pid_t pid, bool attach, struct cw_ptrace_denial *d);

/* One selected socket. The library allocates it; it may gain fields at
 * the end; do not allocate, copy or index it. */
struct cw_reap_item {
	const struct cw_sock *sock;   /* as the census saw it (a copy the reap object holds) */
	struct cw_age age;
	pid_t pid;                    /* the owner acted through; 0: none known */
	int fd;                       /* its fd there */
	char comm[16];                /* its command name */
	size_t nowners;               /* processes holding it */
	enum cw_reap_status status;
	int err;                      /* FAIL_ERROR: -errno; SKIP_*: the errno that told us, or 0 */
	uint8_t end_state;            /* state seen last (after acting, or at the re-check); 0: none */
	uint32_t new_inode;           /* SKIP_REPLACED: the inode found instead (0: not a socket) */
	struct cw_ptrace_denial denial; /* FAIL_PTRACE, FAIL_NO_OWNER */
	/* What holds it: CW_UNACCEPTED items were in an accept queue, and pid
	 * and fd above are then its listener's. */
	enum cw_owner_kind owner_kind;
};

struct cw_reap;

/* Selects the sockets of census c (with owners) that f matches, for mode:
 * LISTEN ones as SKIP_LISTEN, those whose age range contains f's older_ms as
 * SKIP_AGE, in fin mode states a FIN cannot end as SKIP_MODE and ownerless
 * ones as FAIL_NO_OWNER; the rest TO_REAP. Items are sorted by pid, fd, then
 * local port, and copy what they need: the census may be freed. 0, -EINVAL
 * (f not from cw_filter_init) or -ENOMEM. */
int cw_reap_select(const struct cw_census *c, const struct cw_filter *f, enum cw_reap_mode mode,
		   struct cw_reap **out);
/* Frees it with its items (NULL: nothing). */
void cw_reap_free(struct cw_reap *r);
/* The mode selected for. */
enum cw_reap_mode cw_reap_mode(const struct cw_reap *r);
/* The number of items, and item i (i from 0 to count - 1). */
size_t cw_reap_count(const struct cw_reap *r);
const struct cw_reap_item *cw_reap_item(const struct cw_reap *r, size_t i);

/* Items per kind and per status. */
struct cw_reap_counts {
	size_t total, to_reap, handled, skipped, failed;
	size_t acted;                 /* outcomes of acting (not of selection): after
				       * cw_reap_run, the TO_REAP count before it */
	size_t status[CW_REAP_NSTATUS];
};
/* Fills *n. Cannot fail. */
void cw_reap_counts(const struct cw_reap *r, struct cw_reap_counts *n);

/* How to act. The application allocates it and calls cw_reap_opts_init()
 * first: that sets size and the defaults; the library reads only the fields
 * that lie within size, taking the defaults for the rest (it may gain fields
 * at the end). */
struct cw_reap_opts {
	size_t size;                  /* set by cw_reap_opts_init() */
	uint64_t wait_ms;             /* fin: how long to wait for answers to our FINs */
};
#define CW_REAP_WAIT_MS 1000u     /* wait_ms's default */
/* The defaults. Cannot fail. */
void cw_reap_opts_init(struct cw_reap_opts *o);

/* Acts on every TO_REAP item and sets its status (o NULL: the defaults). 0,
 * or -errno when nothing could be attempted (-EINVAL: o not from
 * cw_reap_opts_init; -ENOMEM; no sock_diag socket); per-socket failures are
 * in the items. fin: our duplicates are closed before it returns; out of
 * fds (EMFILE) with none of its duplicates left to close, it stops: that
 * item fails (FAIL_ERROR, err -EMFILE) and the items after it stay
 * TO_REAP, not acted on. */
int cw_reap_run(struct cw_reap *r, const struct cw_reap_opts *o);

/* Selects and acts at once, fin mode: one sock_diag dump, then the /proc
 * walk for owners runs in the background and each selected socket is acted
 * on as soon as its owner is found, so the walk and the FINs overlap. Gives
 * what cw_census_take (co, NULL for the defaults: its threads and
 * all_owners; the states come from f) + cw_reap_select + cw_reap_run (o, NULL
 * for the defaults) give. With f->pid only that process is read. 0 or
 * -errno (-EINVAL: a struct not from its _init; the dump failed; -ENOMEM;
 * -EMFILE: out of fds for the walk); per-socket outcomes are in the items,
 * and out of fds while acting it stops as cw_reap_run does. */
int cw_reap_now(const struct cw_filter *f, const struct cw_census_opts *co,
		const struct cw_reap_opts *o, struct cw_reap **out);

#pragma GCC visibility pop
#endif
