/* Milliseconds on a clock (private): the loop's cached time, census stamps,
 * reap's deadlines; and deadlines that saturate instead of wrapping. */
#ifndef CW_CLOCK_H
#define CW_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* t + d, or UINT64_MAX where that would wrap: a huge duration means "as late
 * as can be", not a deadline in the past. */
static inline uint64_t clock_after(uint64_t t, uint64_t d)
{
	return t > UINT64_MAX - d ? UINT64_MAX : t + d;
}

#endif
