/* reap's private parts: the plan object and the two ways of acting on it. */
#ifndef CW_REAP_INTERNAL_H
#define CW_REAP_INTERNAL_H

#include "closewait/reap.h"

struct cw_reap {
	enum cw_reap_mode mode;
	struct cw_reap_item *items;
	size_t n;
};

/* fin mode (lib/reap_fin.c) and rst mode (lib/reap_rst.c): act on the TODO items. */
int reap_fin_run(struct cw_reap *r, const struct cw_reap_opts *o);
int reap_rst_run(struct cw_reap *r, const struct cw_reap_opts *o);

#endif
