/* The time stamp before each status line of client --stream, in both its
 * clients (cmd_stream.c, stream_leak.c): apart, so neither calls the other. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "stream.h"

void stream_stamp(uint64_t start_ms)
{
	uint64_t t = cli_now_ms() - start_ms;

	printf("[%4" PRIu64 ".%03" PRIu64 "] ", t / 1000, t % 1000);
}
