/* reap's private parts: the plan object and the two ways of acting on it. */
#ifndef CW_REAP_INTERNAL_H
#define CW_REAP_INTERNAL_H

#include "closewait/reap.h"

#include <stdint.h>

struct cw_reap {
	enum cw_reap_mode mode;
	struct cw_reap_item *items;
	size_t n;
};

/* fin mode (lib/reap_fin.c) and rst mode (lib/reap_rst.c): act on the TODO items. */
int reap_fin_run(struct cw_reap *r, const struct cw_reap_opts *o);
int reap_rst_run(struct cw_reap *r, const struct cw_reap_opts *o);

/* Sets it's owner from socket i of c: --pid's process if it holds it, else
 * the first (lowest pid); leaves it ownerless when c has none. */
void reap_item_owner(struct cw_reap_item *it, const struct cw_census *c, size_t i,
		     const struct cw_filter *f);
/* cw_reap_select's loop. pending (cw_reap_now): owners are not known yet, so
 * fin items without one stay TODO, --pid is left to the walk, items are not
 * sorted, and src (if not NULL) gets, per item, its socket's census index. */
int reap_select(const struct cw_census *c, const struct cw_filter *f, enum cw_reap_mode mode,
		bool pending, struct cw_reap **out, size_t **src);
/* After the walk (c has owners, and the TODO items were acted on): fills the
 * owners in, drops what --pid does not hold, fails the fin items no owner
 * was found for, sorts as cw_reap_select does. */
void reap_select_finish(struct cw_reap *r, const struct cw_census *c, const struct cw_filter *f,
			const size_t *src);

/* fin mode one socket at a time: reap_fin_run is begin, act on each item,
 * end; cw_reap_now acts on each item as the /proc walk finds its owner.
 * Items must not move between begin and end. */
struct reap_fin;
int reap_fin_begin(struct cw_reap *r, struct reap_fin **out);
void reap_fin_act(struct reap_fin *f, size_t i, const struct cw_reap_opts *o); /* TODO items only */
void reap_fin_end(struct reap_fin *f, const struct cw_reap_opts *o); /* waits, closes, frees */
/* The first half of acting, which another thread may do ahead (cw_reap_now's
 * walkers): pidfd_getfd of fd through pidfd (or pidfd itself when it is an
 * -errno) and the duplicate's inode (0: not a socket). Touches no item. */
struct reap_fin_taken {
	int d;                        /* our duplicate, or -errno */
	uint32_t inode;
};
void reap_fin_take(int pidfd, int fd, struct reap_fin_taken *t);
/* The second half, for a TODO item whose pid and fd t was taken from:
 * judges t, re-checks the state and shuts the socket down. */
void reap_fin_act_taken(struct reap_fin *f, size_t i, const struct cw_reap_opts *o,
			const struct reap_fin_taken *t);

#endif
