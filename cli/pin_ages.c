/* closewait trace --pin's records, read for scan (see pin_ages.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pin_ages.h"
#ifdef CW_HAVE_TRACE
#include "trace_pin.h"
#endif

void pin_ages(const char *cmd, struct cw_census_opts *co, struct cw_entry_time **table)
{
	pin_ages_once(cmd, co, table, NULL);
}

void pin_ages_once(const char *cmd, struct cw_census_opts *co, struct cw_entry_time **table,
		   bool *said)
{
	*table = NULL;
#ifdef CW_HAVE_TRACE
	size_t n;
	int err = trace_pins_read(CW_PIN_ROOT, table, &n);

	if (err) {
		if (said && *said)
			return;
		if (said)
			*said = true;
		fprintf(stderr, "closewait %s: the pins of closewait trace in %s are not readable%s: "
				"CLOSE_WAIT ages are the kernel's ranges\n", cmd, CW_PIN_ROOT,
			err == -EPERM || err == -EACCES ? " without CAP_BPF" : "");
		return;
	}
	co->entry_times = *table;
	co->entry_time_count = n;
#else
	(void)cmd, (void)co, (void)said;
#endif
}

int pin_counts(struct pin_count **out, size_t *n)
{
	*out = NULL;
	*n = 0;
#ifdef CW_HAVE_TRACE
	struct trace_pin_count *v;
	size_t len, instances;
	int err = trace_pins_counts(CW_PIN_ROOT, &v, &len, &instances);

	if (err)
		return err;
	if (!instances) {
		free(v);
		return -ENOENT;
	}
	*out = len ? malloc(len * sizeof(**out)) : NULL;
	if (len && !*out) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < len; i++)
		(*out)[i] = (struct pin_count){ v[i].pid, v[i].entered, v[i].left };
	*n = len;
	free(v);
	return 0;
#else
	return -ENOENT;
#endif
}
