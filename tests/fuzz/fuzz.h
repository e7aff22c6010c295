/* What every harness shares: the libFuzzer entry point's prototype and a
 * NUL-terminated copy of the input, since the parsers take C strings. */
#ifndef CW_FUZZ_H
#define CW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data as a C string (cut at its first NUL, as argv and getenv would);
 * free it. Aborts when out of memory: the fuzzer's limit, not a finding. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A check the parser's contract promises; a failure is a crash to keep. */
#define FUZZ_CHECK(cond)        \
	do {                    \
		if (!(cond))    \
			abort(); \
	} while (0)

#endif
