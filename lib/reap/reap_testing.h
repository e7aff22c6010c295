/* reap's test seam (private: tests, and the test build of the CLI, include
 * it; the shipped library's users never see it). A hook runs between
 * selection and action, so a test can change the world there (close the fd,
 * replace the socket, exit the owner) and check that the re-check catches it. */
#ifndef CW_REAP_TESTING_H
#define CW_REAP_TESTING_H

#include "closewait/reap.h"

struct reap_seam {
	/* Called for each TO_REAP item after selection, right before its
	 * identity is checked again and it is acted on (NULL: none). In
	 * reap_now_seam it runs on a /proc walker thread: all items of one
	 * process are found by the same walker, in fd order. */
	void (*before_act)(const struct cw_reap_item *it, void *arg);
	void *arg;
};

/* cw_reap_run and cw_reap_now with the seam (NULL: none); the same returns. */
int reap_run_seam(struct cw_reap *r, const struct cw_reap_opts *o, const struct reap_seam *seam);
int reap_now_seam(const struct cw_filter *f, const struct cw_census_opts *co,
		  const struct cw_reap_opts *o, const struct reap_seam *seam, struct cw_reap **out);

#endif
