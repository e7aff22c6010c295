/* The guard's settings: one environment variable, CLOSEWAIT_GUARD, a
 * comma-separated list of key=value items written by `closewait guard` (or by
 * hand):
 *   interval=MS  grace=MS  keepalive=IDLE:INTVL:CNT  user_timeout=MS
 *   cure=fin  inherit=0  dump_above=N  report=PATH
 * report comes last and its value runs to the end of the string, so a path
 * may hold commas. An empty or absent variable means the defaults: report
 * to stderr, enforce nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

/* A whole number in [min, max] from s up to end: 0, or -EINVAL. */
static int number(const char *s, const char *end, long min, long max, long *out)
{
	long v = 0;

	if (s == end)
		return -EINVAL;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > max / 10)
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int keepalive(const char *v, const char *end, struct guard_cfg *cfg)
{
	const char *c1 = memchr(v, ':', (size_t)(end - v));
	const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
	long idle, intvl, cnt;

	if (!c2 || number(v, c1, 1, 32767, &idle) || number(c1 + 1, c2, 1, 32767, &intvl) ||
	    number(c2 + 1, end, 1, 127, &cnt))
		return -EINVAL;
	cfg->keepalive = true;
	cfg->ka_idle = (int)idle;
	cfg->ka_intvl = (int)intvl;
	cfg->ka_cnt = (int)cnt;
	return 0;
}

static int item(const char *k, size_t klen, const char *v, const char *end, struct guard_cfg *cfg)
{
	long n;

#define IS(name) (klen == sizeof(name) - 1 && !memcmp(k, name, klen))
	if (IS("interval") || IS("grace") || IS("user_timeout")) {
		if (number(v, end, IS("user_timeout") ? 0 : 1, 86400000L, &n))
			return -EINVAL;
		if (IS("interval"))
			cfg->interval_ms = (unsigned)n;
		else if (IS("grace"))
			cfg->grace_ms = (unsigned)n;
		else {
			cfg->user_timeout_ms = (unsigned)n;
			cfg->user_timeout_set = true;
		}
		return 0;
	}
	if (IS("keepalive"))
		return keepalive(v, end, cfg);
	if (IS("dump_above")) {
		if (number(v, end, 0, 1000000000L, &n))
			return -EINVAL;
		cfg->dump_above = n;
		return 0;
	}
	if (IS("cure")) {
		if ((size_t)(end - v) != 3 || memcmp(v, "fin", 3))
			return -EINVAL;
		cfg->cure_fin = true;
		return 0;
	}
	if (IS("inherit")) {
		if (end - v != 1 || (*v != '0' && *v != '1'))
			return -EINVAL;
		cfg->inherit = *v == '1';
		return 0;
	}
#undef IS
	return -EINVAL;
}

int guard_cfg_parse(const char *s, struct guard_cfg *cfg, const char **bad)
{
	*cfg = (struct guard_cfg){ .interval_ms = 1000, .grace_ms = 5000, .inherit = true,
				   .dump_above = -1 };
	while (s && *s) {
		const char *eq = strchr(s, '='), *end;

		*bad = s;
		if (!eq)
			return -EINVAL;
		if (eq - s == 6 && !memcmp(s, "report", 6)) {
			if (strlen(eq + 1) >= sizeof(cfg->report) || !eq[1])
				return -EINVAL;
			strcpy(cfg->report, eq + 1);
			return 0;
		}
		end = strchr(eq, ',');
		if (!end)
			end = eq + strlen(eq);
		if (item(s, (size_t)(eq - s), eq + 1, end, cfg))
			return -EINVAL;
		s = *end ? end + 1 : end;
	}
	/* keepalive alone: the kernel gives up after IDLE + INTVL x CNT, and so
	 * does the user timeout, as `closewait serve` derives it */
	if (cfg->keepalive && !cfg->user_timeout_set)
		cfg->user_timeout_ms =
			(unsigned)(cfg->ka_idle + cfg->ka_intvl * cfg->ka_cnt) * 1000u;
	return 0;
}
