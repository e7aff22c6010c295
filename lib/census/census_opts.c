/* The structs applications allocate for the census (options, filters):
 * their defaults, and reading one through its size, so that a struct from
 * an application built against an older header is read as far as it goes. */
#include "closewait/census_filter.h"
#include "census_lib.h"

#include <string.h>

#include "util.h"

void cw_census_opts_init(struct cw_census_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
}

int census_opts_read(const struct cw_census_opts *in, struct cw_census_opts *out)
{
	cw_census_opts_init(out);
	return ext_read(out, sizeof(*out), in, EXT_SIZE(struct cw_census_opts, want_arg));
}

void cw_filter_init(struct cw_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->size = sizeof(*f);
	f->port = f->sport = f->dport = -1;
}

int census_filter_read(const struct cw_filter *in, struct cw_filter *out)
{
	cw_filter_init(out);
	return ext_read(out, sizeof(*out), in, EXT_SIZE(struct cw_filter, older_ms));
}
