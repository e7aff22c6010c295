/* closewait export's counters from closewait trace --pin (S29): a group's
 * entered and left are the sums of its processes' counters, each process
 * once however many sockets it holds; a process that holds no socket the
 * census kept publishes nothing; unaccepted sockets add nothing; --top
 * folds them into other="true"; without readable pins the two families are
 * absent, with pins but no traced process they have no sample; OpenMetrics
 * names their families without _total. */
#include <stdlib.h>
#include <string.h>

#include "census_fixture.h"
#include "cwtest_main.h"
#include "export_fixture.h"

/* srv: pid 6 holds the listener and two CLOSE_WAIT sockets, pid 8 one;
 * cli: pid 7; one connection waits unaccepted in srv's queue. */
static const char *procs =
	"listen 127.0.0.1:8000 0.0.0.0:0 1000 0 20 none 0 - - - 6 3 srv\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40000 1001 1 0 none 0 9000 9000 4000 6 5 srv\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40001 1002 1 0 none 0 9000 9000 4000 6 6 srv\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40002 1003 1 0 none 0 9000 9000 4000 8 4 srv\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40003 0 1 0 none 0 9000 9000 4000\n"
	"established 127.0.0.1:40100 127.0.0.1:9000 1010 0 0 none 0 - - - 7 4 cli\n";

/* pid 9 runs, traced, but holds no socket of the census */
static const struct pin_count counts[] = {
	{ .pid = 6, .entered = 10, .left = 7 },
	{ .pid = 8, .entered = 5, .left = 1 },
	{ .pid = 7, .entered = 0, .left = 0 },
	{ .pid = 9, .entered = 100, .left = 100 },
};

static char *render(const struct cw_census *c, enum cw_group_by by, size_t top, bool om, bool has,
		    size_t n)
{
	struct export_opts o = { .by = by, .top = top, .openmetrics = om, .has_counts = has,
				 .counts = counts, .ncounts = n };
	struct export_self self = { .up = true };

	return fixture_scrape(c, &o, &self);
}

static void test_summed_per_group_once_per_process(void **state)
{
	struct cw_census *c = fixture_census(procs, 0, 0);
	char *t = render(c, CW_BY_AUTO, 50, false, true, 4);

	(void)state;
	assert_true(fixture_value(t, "closewait_close_wait_entered_total{owner=\"process\",command=\"srv\"}") == 15);
	assert_true(fixture_value(t, "closewait_close_wait_left_total{owner=\"process\",command=\"srv\"}") == 8);
	assert_true(fixture_value(t, "closewait_close_wait_entered_total{owner=\"process\",command=\"cli\"}") == 0);
	/* srv and cli; not the unaccepted group, not pid 9 */
	assert_int_equal(fixture_samples(t, "closewait_close_wait_entered_total"), 2);
	assert_int_equal(fixture_samples(t, "closewait_close_wait_left_total"), 2);
	assert_non_null(strstr(t, "# TYPE closewait_close_wait_entered_total counter\n"));
	assert_non_null(strstr(t, "# TYPE closewait_close_wait_left_total counter\n"));
	free(t);
	t = render(c, CW_BY_PROCESS, 50, false, true, 4);
	assert_true(fixture_value(t, "closewait_close_wait_entered_total{owner=\"process\",command=\"srv\",pid=\"6\"}") == 10);
	assert_true(fixture_value(t, "closewait_close_wait_left_total{owner=\"process\",command=\"srv\",pid=\"8\"}") == 1);
	assert_int_equal(fixture_samples(t, "closewait_close_wait_entered_total"), 3);
	free(t);
	cw_census_free(c);
}

static void test_folded_into_other(void **state)
{
	struct cw_census *c = fixture_census(procs, 0, 0);
	char *t;

	(void)state;
	/* by process, top 1: srv 6 (2 CLOSE_WAIT) named, srv 8 and cli summed */
	t = render(c, CW_BY_PROCESS, 1, false, true, 4);
	assert_true(fixture_value(t, "closewait_close_wait_entered_total{owner=\"process\",command=\"srv\",pid=\"6\"}") == 10);
	assert_true(fixture_value(t, "closewait_close_wait_entered_total{other=\"true\"}") == 5);
	assert_true(fixture_value(t, "closewait_close_wait_left_total{other=\"true\"}") == 1);
	free(t);
	cw_census_free(c);
}

static void test_absent_without_pins(void **state)
{
	struct cw_census *c = fixture_census(procs, 0, 0);
	char *t = render(c, CW_BY_AUTO, 50, false, false, 4);

	(void)state;
	assert_null(strstr(t, "closewait_close_wait_entered"));
	assert_null(strstr(t, "closewait_close_wait_left"));
	free(t);
	/* pins read, no process traced: the families, no sample */
	t = render(c, CW_BY_AUTO, 50, false, true, 0);
	assert_non_null(strstr(t, "# TYPE closewait_close_wait_entered_total counter\n"));
	assert_int_equal(fixture_samples(t, "closewait_close_wait_entered_total"), 0);
	free(t);
	cw_census_free(c);
}

static void test_openmetrics(void **state)
{
	struct cw_census *c = fixture_census(procs, 0, 0);
	char *t = render(c, CW_BY_AUTO, 50, true, true, 4);

	(void)state;
	assert_non_null(strstr(t, "# TYPE closewait_close_wait_entered counter\n"));
	assert_non_null(strstr(t, "# TYPE closewait_close_wait_left counter\n"));
	assert_true(fixture_value(t, "closewait_close_wait_entered_total{owner=\"process\",command=\"srv\"}") == 15);
	free(t);
	cw_census_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summed_per_group_once_per_process),
		cmocka_unit_test(test_folded_into_other),
		cmocka_unit_test(test_absent_without_pins),
		cmocka_unit_test(test_openmetrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
