/* The guard's settings (guard/guard_env.c guard_cfg_parse): the
 * CLOSEWAIT_GUARD variable a program under the guard may see set by hand to
 * anything. What parses is within the limits the guard relies on; what does
 * not names where it went wrong (bad points into the input). */
#include "fuzz.h"

#include <errno.h>

#include "guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct guard_cfg cfg;
	const char *bad = NULL;
	int err = guard_cfg_parse(s, &cfg, &bad);

	FUZZ_CHECK(err == 0 || err == -EINVAL);
	if (err) {
		FUZZ_CHECK(bad >= s && bad <= s + strlen(s));
	} else {
		FUZZ_CHECK(cfg.interval_ms >= 1 && cfg.interval_ms <= 86400000u);
		FUZZ_CHECK(cfg.grace_ms >= 1 && cfg.grace_ms <= 86400000u);
		FUZZ_CHECK(memchr(cfg.report, '\0', sizeof(cfg.report)));
		FUZZ_CHECK(cfg.dump_above >= -1 && cfg.dump_above <= 1000000000L);
		if (cfg.keepalive)
			FUZZ_CHECK(cfg.ka_idle >= 1 && cfg.ka_idle <= 32767 && cfg.ka_intvl >= 1 &&
				   cfg.ka_intvl <= 32767 && cfg.ka_cnt >= 1 && cfg.ka_cnt <= 127);
	}
	free(s);
	return 0;
}
