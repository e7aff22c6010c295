#include "export_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cwtest.h"

char *fixture_scrape(const struct cw_census *c, const struct export_opts *o,
		     const struct export_self *self)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(export_render(f, c, o, self), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

double fixture_value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, series, n) && l[n] == ' ')
			return strtod(l + n + 1, NULL);
	return -1;
}

size_t fixture_samples(const char *text, const char *name)
{
	size_t n = 0, len = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		n += !strncmp(l, name, len) && (l[len] == '{' || l[len] == ' ');
	return n;
}
