/* Age rules of CLOSE_WAIT and TIME_WAIT sockets (lib/census_age.c). */
#include "cwtest.h"
#include "census_fixture.h"

/* A socket's line and the age it must get; ANY: that part is not checked. */
#define ANY (-1)
struct age_case {
	const char *why, *line;
	int known, exact;
	long long min_ms, max_ms;
};

static void test_ages(void **state)
{
	static const struct age_case cases[] = {
		{ "the peer's data came with its FIN: lastrcv = lastack",
		  "close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 none 0 12000 12000 12000", 1, 1, 12000, ANY },
		{ "under a second apart: exact, the range kept",
		  "close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 keepalive 500 300 12900 12000", ANY, 1, 12000, 12900 },
		{ "client idle 3 s after our reply, then FIN: no ACK can have followed",
		  "close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 none 0 8000 8000 5000", 1, 1, 5000, 5000 },
		{ "we wrote 1.5 s ago (after the FIN) and the peer acknowledged it: a range",
		  "close-wait 127.0.0.1:80 127.0.0.1:4000 1 0 0 none 0 1500 3000 1499", 1, 0, 1499, 3000 },
		/* keepalive 1:1:2: the timer is due within a second, the last ACK (a
		 * probe's answer) 0.4 s ago, data 4 s ago */
		{ "a keepalive probe can have gone out: a range",
		  "close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 keepalive 600 4000 4000 400", 1, 0, 400, 4000 },
		{ "SO_KEEPALIVE at 7200 s: the timer is due in ~2 h, far beyond lastrcv: exact",
		  "close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 keepalive 7195000 8000 8000 5000", ANY, 1, 5000, ANY },
		{ "...but not once the socket is older than the idle time allows",
		  "close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 keepalive 70000 7300000 7300000 5000", ANY, 0, ANY, ANY },
		{ "retransmitting: a range",
		  "close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 retrans 200 8000 8000 5000", ANY, 0, ANY, ANY },
		{ "time-wait: what is left of its 60 s",
		  "time-wait 127.0.0.1:4000 127.0.0.1:80 0 0 0 timewait 57200 - - -", 1, 1, 2800, ANY },
		{ "no rule for other states",
		  "established 127.0.0.1:4000 127.0.0.1:80 7 0 0 none 0 10 10 10", 0, ANY, ANY, ANY },
		{ "no tcp_info times: not known",
		  "close-wait 127.0.0.1:80 127.0.0.1:4000 1 1 0 none 0 - - -", 0, ANY, ANY, ANY },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct age_case *c = &cases[i];
		struct cw_sock s = fixture_sock(c->line);
		struct cw_age a;

		print_message("%s\n", c->why);
		cw_sock_age(&s, &a);
		if (c->known != ANY)
			assert_int_equal(a.known, c->known);
		if (c->exact != ANY)
			assert_int_equal(a.exact, c->exact);
		if (c->min_ms != ANY)
			assert_int_equal(a.min_ms, c->min_ms);
		if (c->max_ms != ANY)
			assert_int_equal(a.max_ms, c->max_ms);
	}
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

/* Entry times from outside the census (closewait trace's pins): a
 * CLOSE_WAIT socket listed gets its exact age at the dump's start, in place
 * of its range; other sockets and states keep theirs. */
static void test_entry_times(void **state)
{
	struct cw_census *c = fixture_census(
		"close-wait 127.0.0.1:80 127.0.0.1:4000 1001 1 0 keepalive 600 4000 4000 400\n"
		"close-wait 127.0.0.1:80 127.0.0.1:4001 1002 1 0 keepalive 600 4000 4000 400\n"
		"established 127.0.0.1:4002 127.0.0.1:80 1003 0 0 none 0 10 10 10\n"
		"close-wait 127.0.0.1:80 127.0.0.1:4003 1004 1 0 keepalive 600 4000 4000 400\n",
		0, 100000);
	const struct cw_entry_time t[] = {
		{ 1004, 100050ull * 1000000u }, /* after the dump began: 0 */
		{ 1003, 90000ull * 1000000u },
		{ 9999, 1 },
		{ 1001, 96500ull * 1000000u },
	};
	struct cw_age a;

	(void)state;
	assert_int_equal(census_entry_ages(c, t, 4), 0);
	cw_sock_age(cw_census_sock(c, 0), &a);
	assert_true(a.known && a.exact);
	assert_int_equal(a.min_ms, 3500);
	assert_int_equal(a.max_ms, 3500);
	assert_true(cw_census_sock(c, 0)->has_entry_age);
	cw_sock_age(cw_census_sock(c, 1), &a);
	assert_false(cw_census_sock(c, 1)->has_entry_age);
	assert_true(a.known && !a.exact);
	assert_int_equal(a.min_ms, 400);
	assert_int_equal(a.max_ms, 4000);
	assert_false(cw_census_sock(c, 2)->has_entry_age);
	cw_sock_age(cw_census_sock(c, 2), &a);
	assert_false(a.known);
	cw_sock_age(cw_census_sock(c, 3), &a);
	assert_true(a.known && a.exact);
	assert_int_equal(a.max_ms, 0);
	cw_census_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ages),
		cmocka_unit_test(test_recorded_fixture),
		cmocka_unit_test(test_entry_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
