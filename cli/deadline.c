/* Time for the commands that wait with poll(): one clock, deadlines that
 * saturate, and one conversion to poll()'s int of milliseconds. */
#include <limits.h>
#include <time.h>

#include "cli.h"

uint64_t cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t cli_after(uint64_t t, uint64_t ms)
{
	return t > UINT64_MAX - ms ? UINT64_MAX : t + ms;
}

int cli_ms_until(uint64_t deadline)
{
	uint64_t now = cli_now_ms();

	if (now >= deadline)
		return 0;
	/* Cut to an int, a wait past 24.8 days would go negative: for ever. */
	return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}
