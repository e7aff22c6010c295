/* Age rules of CLOSE_WAIT and TIME_WAIT sockets (lib/census_age.c). */
#include "cwtest.h"
#include "census_fixture.h"

static void age_of(const char *line, struct cw_age *a)
{
	struct cw_sock s = fixture_sock(line);

	cw_sock_age(&s, a);
}

static void test_narrow_range_is_exact(void **state)
{
	struct cw_age a;

	(void)state;
	/* the peer's data came with its FIN: lastrcv = lastack */
	age_of("close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 none 0 12000 12000 12000", &a);
	assert_true(a.known && a.exact);
	assert_int_equal(a.min_ms, 12000);
	/* under a second apart: exact, the range kept */
	age_of("close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 keepalive 500 300 12900 12000", &a);
	assert_true(a.exact);
	assert_int_equal(a.min_ms, 12000);
	assert_int_equal(a.max_ms, 12900);
}

static void test_idle_before_close_is_exact(void **state)
{
	struct cw_age a;

	(void)state;
	/* client idle 3 s after our reply, then FIN: no ACK can have followed */
	age_of("close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 none 0 8000 8000 5000", &a);
	assert_true(a.known && a.exact);
	assert_int_equal(a.min_ms, 5000);
	assert_int_equal(a.max_ms, 5000);
}

static void test_data_after_fin_is_a_range(void **state)
{
	struct cw_age a;

	(void)state;
	/* we wrote 1.5 s ago (after the FIN) and the peer acknowledged it */
	age_of("close-wait 127.0.0.1:80 127.0.0.1:4000 1 0 0 none 0 1500 3000 1499", &a);
	assert_true(a.known && !a.exact);
	assert_int_equal(a.min_ms, 1499);
	assert_int_equal(a.max_ms, 3000);
}

static void test_keepalive_probes_make_a_range(void **state)
{
	struct cw_age a;

	(void)state;
	/* keepalive 1:1:2: the timer is due within a second, the last ACK (a
	 * probe's answer) 0.4 s ago, data 4 s ago: a probe can have gone out */
	age_of("close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 keepalive 600 4000 4000 400", &a);
	assert_true(a.known && !a.exact);
	assert_int_equal(a.min_ms, 400);
	assert_int_equal(a.max_ms, 4000);
}

static void test_default_keepalive_is_exact(void **state)
{
	struct cw_age a;

	(void)state;
	/* SO_KEEPALIVE at 7200 s: the timer is due in ~2 h, far beyond lastrcv */
	age_of("close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 keepalive 7195000 8000 8000 5000", &a);
	assert_true(a.exact);
	assert_int_equal(a.min_ms, 5000);
	/* ...but not once the socket is older than the idle time allows */
	age_of("close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 keepalive 70000 7300000 7300000 5000", &a);
	assert_false(a.exact);
}

static void test_retransmitting_is_a_range(void **state)
{
	struct cw_age a;

	(void)state;
	age_of("close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 retrans 200 8000 8000 5000", &a);
	assert_false(a.exact);
}

static void test_time_wait_and_others(void **state)
{
	struct cw_age a;

	(void)state;
	age_of("time-wait 127.0.0.1:4000 127.0.0.1:80 0 0 0 timewait 57200 - - -", &a);
	assert_true(a.known && a.exact);
	assert_int_equal(a.min_ms, 2800);
	age_of("established 127.0.0.1:4000 127.0.0.1:80 7 0 0 none 0 10 10 10", &a);
	assert_false(a.known);
	age_of("close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 none 0 - - -", &a);
	assert_false(a.known);
}

static void test_recorded_fixture(void **state)
{
	struct cw_census *c = fixture_census_file("recorded.txt", 0, 0);
	size_t exact = 0, cw = 0;

	(void)state;
	for (size_t i = 0; i < cw_census_count(c); i++) {
		const struct cw_sock *s = cw_census_sock(c, i);
		struct cw_age a;

		cw_sock_age(s, &a);
		if (s->state != CW_TCP_CLOSE_WAIT)
			continue;
		cw++;
		exact += a.exact;
		/* the 10 clients idle 3 s: a 3 s range made exact by the rule */
		if (s->lastrcv_ms - s->lastack_ms > 2500)
			assert_true(a.exact && a.max_ms == s->lastack_ms);
	}
	assert_int_equal(cw, 25);
	assert_int_equal(exact, 25);
	cw_census_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_narrow_range_is_exact),
		cmocka_unit_test(test_idle_before_close_is_exact),
		cmocka_unit_test(test_data_after_fin_is_a_range),
		cmocka_unit_test(test_keepalive_probes_make_a_range),
		cmocka_unit_test(test_default_keepalive_is_exact),
		cmocka_unit_test(test_retransmitting_is_a_range),
		cmocka_unit_test(test_time_wait_and_others),
		cmocka_unit_test(test_recorded_fixture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
