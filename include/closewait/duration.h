/* Durations: "an integer with a unit" (250ms, 5s, 2m, 1h), or "0" for off.
 * A bare number other than 0, a fraction, a sign or an unknown unit is an
 * error. The one parser every option uses.
 *
 *	uint64_t ms;
 *	char text[32];
 *
 *	if (cw_duration_parse("90s", &ms) == 0)                   // ms = 90000
 *		puts(cw_duration_format(ms, text, sizeof(text))); // "1m30s"
 */
#ifndef CLOSEWAIT_DURATION_H
#define CLOSEWAIT_DURATION_H

#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(default)

/* Parses a duration. 0 and *ms set; -EINVAL for bad syntax; -ERANGE past
 * UINT64_MAX ms. */
int cw_duration_parse(const char *s, uint64_t *ms);
/* Parses a rate "N/s" (N a positive number: "100/s", "2.5/s"): the one rate
 * parser. 0 and *per_s set; -EINVAL for anything else, 0, negative rates and
 * rates above 1e9/s included. */
int cw_rate_parse(const char *s, double *per_s);
/* Human form: "250ms", "1.5s", "2m30s", "1h", into buf (cut to len).
 * Returns buf. */
char *cw_duration_format(uint64_t ms, char *buf, size_t len);

#pragma GCC visibility pop
#endif
