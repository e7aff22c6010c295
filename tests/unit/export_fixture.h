/* closewait export's unit tests read what it renders: the text of one
 * scrape, and the samples in it. */
#ifndef EXPORT_FIXTURE_H
#define EXPORT_FIXTURE_H

#include <stddef.h>

#include "export_metrics.h"

/* What export_render writes for c (NULL: the census failed) with o and
 * self, as a string to free(); a render that fails fails the test. */
char *fixture_scrape(const struct cw_census *c, const struct export_opts *o,
		     const struct export_self *self);
/* The value of the sample whose line starts with series (name{labels}), or
 * -1 when there is none. */
double fixture_value(const char *text, const char *series);
/* How many samples of the family name text holds. */
size_t fixture_samples(const char *text, const char *name);

#endif
