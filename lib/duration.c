#include "closewait/duration.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *unit;
	uint64_t ms;
} units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
};

int cw_duration_parse(const char *s, uint64_t *ms)
{
	uint64_t v = 0;
	const char *p = s;

	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '\0') {
		if (v != 0)
			return -EINVAL; /* a bare number: the unit is not guessed */
		*ms = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].ms)
				return -ERANGE;
			*ms = v * units[i].ms;
			return 0;
		}
	}
	return -EINVAL;
}

int cw_rate_parse(const char *s, double *per_s)
{
	double v = 0, scale = 0.1;
	const char *p = s;

	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -EINVAL;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			v += (*p - '0') * scale;
	}
	if (strcmp(p, "/s") || v <= 0 || v > 1e9)
		return -EINVAL;
	*per_s = v;
	return 0;
}

char *cw_duration_format(uint64_t ms, char *buf, size_t len)
{
	if (ms < 1000)
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	else if (ms < 60000 && ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else if (ms < 60000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, len, ms % 60000 >= 1000 ? "%llum%llus" : "%llum",
			 (unsigned long long)(ms / 60000), (unsigned long long)(ms % 60000 / 1000));
	else
		snprintf(buf, len, ms % 3600000 >= 60000 ? "%lluh%llum" : "%lluh",
			 (unsigned long long)(ms / 3600000), (unsigned long long)(ms % 3600000 / 60000));
	return buf;
}
