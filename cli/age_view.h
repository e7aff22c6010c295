/* A census age (struct cw_age) in the output layer's terms: out.h knows a
 * time span, exact or a range, and nothing of the census. */
#ifndef CW_AGE_VIEW_H
#define CW_AGE_VIEW_H

#include "closewait/census_types.h"
#include "out.h"

static inline struct out_span age_span(const struct cw_age *a)
{
	return (struct out_span){ a->known, a->exact, a->min_ms, a->max_ms };
}

/* A column's value: JSON KEY_min, KEY_max, KEY_exact; table "12s", "12s–42s", "-". */
static inline void age_val(struct out_val *v, const struct cw_age *a)
{
	v->type = OUT_SPAN;
	v->span = age_span(a);
}

static inline char *age_str(const struct cw_age *a, char *buf, size_t len)
{
	struct out_span s = age_span(a);

	return out_span_str(&s, buf, len);
}

#endif
