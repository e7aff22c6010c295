/* The census's test seam (private: tests include it; the shipped library's
 * users never see it). A hook runs between finding the namespaces and
 * reading them, so a test can make one disappear there. */
#ifndef CW_CENSUS_TESTING_H
#define CW_CENSUS_TESTING_H

#include "closewait/census.h"

struct census_seam {
	void (*after_collect)(void *arg); /* NULL: none */
	void *arg;
};

/* cw_census_take with the seam (NULL: none); the same returns. */
int census_take_seam(const struct cw_census_opts *opts, const struct census_seam *seam,
		     struct cw_census **out);

#endif
