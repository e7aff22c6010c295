/* cw_duration_parse and cw_rate_parse (lib/duration.c): any string. A
 * duration that parses formats into a buffer of any size without overrun;
 * a rate that parses is in (0, 1e9]. */
#include "fuzz.h"

#include <errno.h>

#include "closewait/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	uint64_t ms;
	double r;
	int err = cw_duration_parse(s, &ms);

	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -ERANGE);
	if (!err) {
		char buf[32];
		size_t cut = size % sizeof(buf);

		cw_duration_format(ms, buf, sizeof(buf));
		FUZZ_CHECK(memchr(buf, '\0', sizeof(buf)));
		/* a short buffer is cut, never overrun (ASan sees the heap copy's end) */
		char *small = malloc(cut + 1);

		FUZZ_CHECK(small);
		cw_duration_format(ms, small, cut + 1);
		FUZZ_CHECK(strlen(small) <= cut);
		free(small);
	}
	err = cw_rate_parse(s, &r);
	FUZZ_CHECK(err == 0 || err == -EINVAL);
	if (!err)
		FUZZ_CHECK(r > 0 && r <= 1e9);
	free(s);
	return 0;
}
