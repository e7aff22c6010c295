/* The one duration parser: "an integer with a unit", or 0 for off. */
#include "cwtest.h"

#include <errno.h>
#include <string.h>

#include "closewait/duration.h"

static void test_good(void **state)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} good[] = {
		{ "0", 0 },           { "0s", 0 },        { "250ms", 250 },  { "1ms", 1 },
		{ "5s", 5000 },       { "2m", 120000 },   { "1h", 3600000 }, { "300s", 300000 },
		{ "0010s", 10000 },   { "18446744073709551615ms", UINT64_MAX },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t ms = 42;

		assert_int_equal(cw_duration_parse(good[i].s, &ms), 0);
		assert_true(ms == good[i].ms);
	}
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"", "5", "-1s", "+1s", "1.5s", "5 s", " 5s", "5s ", "5sec", "s", "ms", "abc",
		"1m30s", "5S", "0x10s", "1d", "10us",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ms = 42;

		assert_int_equal(cw_duration_parse(bad[i], &ms), -EINVAL);
		assert_true(ms == 42); /* untouched on error */
	}
	assert_int_equal(cw_duration_parse(NULL, &(uint64_t){ 0 }), -EINVAL);
}

static void test_range(void **state)
{
	uint64_t ms;

	(void)state;
	assert_int_equal(cw_duration_parse("18446744073709551616ms", &ms), -ERANGE);
	assert_int_equal(cw_duration_parse("99999999999999999999s", &ms), -ERANGE);
	assert_int_equal(cw_duration_parse("18446744073709552s", &ms), -ERANGE);
}

static void test_format(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(cw_duration_format(250, b, sizeof(b)), "250ms");
	assert_string_equal(cw_duration_format(5000, b, sizeof(b)), "5s");
	assert_string_equal(cw_duration_format(1500, b, sizeof(b)), "1.5s");
	assert_string_equal(cw_duration_format(120000, b, sizeof(b)), "2m");
	assert_string_equal(cw_duration_format(150000, b, sizeof(b)), "2m30s");
	assert_string_equal(cw_duration_format(3600000, b, sizeof(b)), "1h");
	assert_string_equal(cw_duration_format(7860000, b, sizeof(b)), "2h11m");
}

static void test_rate(void **state)
{
	static const char *const bad[] = { "0/s", "0.0/s", "-1/s", "5", "5/m", "/s", "1./s", "1e3/s", "abc", "5/s ", "" };
	double r = 0;

	(void)state;
	assert_int_equal(cw_rate_parse("100/s", &r), 0);
	assert_true(r == 100.0);
	assert_int_equal(cw_rate_parse("2.5/s", &r), 0);
	assert_true(r == 2.5);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_rate_parse(bad[i], &r), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
