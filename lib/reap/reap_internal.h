/* reap's private parts: the plan object and the two ways of acting on it. */
#ifndef CW_REAP_INTERNAL_H
#define CW_REAP_INTERNAL_H

#include "closewait/reap.h"
#include "reap_testing.h"

#include <stdint.h>

/* A network namespace some item's socket is in. */
struct reap_ns {
	uint64_t ino;
	int fd;                       /* ours (a duplicate); -1: the caller's namespace */
};

struct cw_reap {
	enum cw_reap_mode mode;
	struct cw_reap_item *items;
	struct cw_sock *socks;        /* the items' sockets: items[k].sock points into it */
	size_t n;
	struct reap_ns *ns;
	size_t nns;
};

/* The fd of namespace ino for r's items (-1: the caller's). */
int reap_ns_fd(const struct cw_reap *r, uint64_t ino);

/* How to act: the caller's options as read (reap_how_init), and the seam. */
struct reap_how {
	uint64_t wait_ms;             /* fin: how long to wait for answers to our FINs */
	struct reap_seam seam;
};
/* Reads o (NULL: the defaults) within its size; seam NULL: none. 0 or -EINVAL. */
int reap_how_init(struct reap_how *h, const struct cw_reap_opts *o, const struct reap_seam *seam);

/* fin mode and rst mode: act on the TO_REAP items. 0 or -errno (nothing attempted). */
int reap_fin_run(struct cw_reap *r, const struct reap_how *how);
int reap_rst_run(struct cw_reap *r, const struct reap_how *how);

/* Sets it's owner from socket i of c: f->pid's process if it holds it, else
 * the first (lowest pid); leaves it ownerless when c has none. */
void reap_item_owner(struct cw_reap_item *it, const struct cw_census *c, size_t i,
		     const struct cw_filter *f);
/* cw_reap_select's loop, f read already. pending (cw_reap_now): owners are
 * not known yet, so fin items without one stay TO_REAP, f->pid is left to
 * the walk, items are not sorted, and src (if not NULL) gets, per item, its
 * socket's census index. 0 or -ENOMEM. */
int reap_select(const struct cw_census *c, const struct cw_filter *f, enum cw_reap_mode mode,
		bool pending, struct cw_reap **out, size_t **src);
/* After the walk (c has owners, and the TO_REAP items were acted on): fills
 * the owners in, drops what f->pid does not hold, fails the fin items no
 * owner was found for, sorts as cw_reap_select does. */
void reap_select_finish(struct cw_reap *r, const struct cw_census *c, const struct cw_filter *f,
			const size_t *src);
/* After a walk that failed for want of fds: only sorts (owners stay as the
 * walk's hits set them; the rest stays TO_REAP). */
void reap_select_cut(struct cw_reap *r);

/* fin mode one socket at a time: reap_fin_run is begin, act on each item,
 * end; cw_reap_now acts on each item as the /proc walk finds its owner.
 * Items must not move between begin and end. */
struct reap_fin;
/* 0 or -ENOMEM. */
int reap_fin_begin(struct cw_reap *r, const struct reap_how *how, struct reap_fin **out);
/* The seam, then both halves below; TO_REAP items only. */
void reap_fin_act(struct reap_fin *f, size_t i);
/* Waits for the answers, closes our duplicates, frees f. */
void reap_fin_end(struct reap_fin *f);
/* The first half of acting, which other threads may do ahead (cw_reap_now's
 * walkers): pidfd_getfd of fd of process pid, and the duplicate's inode (0:
 * not a socket). Touches no item. */
struct reap_fin_taken {
	int d;                        /* our duplicate, or -errno */
	uint32_t inode;
};
void reap_fin_take(struct reap_fin *f, pid_t pid, int fd, struct reap_fin_taken *t);
/* The second half, for a TO_REAP item whose pid and fd t was taken from:
 * judges t, re-checks the state and shuts the socket down. */
void reap_fin_act_taken(struct reap_fin *f, size_t i, const struct reap_fin_taken *t);

#endif
