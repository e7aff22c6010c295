/* closewait export's series from fixture censuses: the groups and their
 * labels (auto, process), a group at 0 while its process holds other
 * sockets, --top folding the rest into other="true" with the sums kept,
 * unaccepted sockets under their listener's owner, label values escaped,
 * sockets per state and namespace, OpenMetrics' counters and # EOF. */
#include <stdlib.h>
#include <string.h>

#include "census_fixture.h"
#include "cwtest_main.h"
#include "export_fixture.h"

/* Every process has 10 fds open of a limit of 1000, but pid 7 is fuller. */
static void fake_fds(pid_t pid, struct export_fds *out, void *arg)
{
	(void)arg;
	out->open = pid == 7 ? 900 : 10;
	out->max = 1000;
}

static char *render(const struct cw_census *c, enum cw_group_by by, size_t top, bool om)
{
	struct export_opts o = { .by = by, .top = top, .fds = fake_fds, .openmetrics = om };
	struct export_self self = { .up = true, .scrape_s = 0.25, .errors_census = 2 };

	return fixture_scrape(c, &o, &self);
}

static const char *two_procs =
	"close-wait 127.0.0.1:8000 127.0.0.1:40000 1001 1 0 none 0 9000 9000 4000 6 5 srv\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40001 1002 2 0 none 0 9000 9000 9000 6 6 srv\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40002 1003 0 0 none 0 3000 3000 3000 6 7 srv\n"
	"listen 127.0.0.1:8000 0.0.0.0:0 1000 0 20 none 0 - - - 6 3 srv\n"
	"established 127.0.0.1:40100 127.0.0.1:9000 1010 0 0 none 0 - - - 7 4 cli\n"
	"time-wait 127.0.0.1:40200 127.0.0.1:9000 0 0 0 timewait 30000 - - - \n";

static void test_groups_by_command(void **state)
{
	struct cw_census *c = fixture_census(two_procs, 0, 0);
	char *t = render(c, CW_BY_AUTO, 50, false);

	(void)state;
	assert_true(fixture_value(t, "closewait_close_wait_sockets{owner=\"process\",command=\"srv\"}") == 3);
	/* cli holds no CLOSE_WAIT: its series is there, at 0 */
	assert_true(fixture_value(t, "closewait_close_wait_sockets{owner=\"process\",command=\"cli\"}") == 0);
	assert_true(fixture_value(t, "closewait_close_wait_recv_queue_bytes{owner=\"process\",command=\"srv\"}") == 3);
	/* the oldest's lower bound: lastack 9000 ms */
	assert_true(fixture_value(t, "closewait_close_wait_oldest_min_age_seconds{owner=\"process\",command=\"srv\"}") == 9);
	assert_true(fixture_value(t, "closewait_close_wait_why_sockets{owner=\"process\",command=\"srv\",why=\"never-read\"}") == 2);
	assert_true(fixture_value(t, "closewait_close_wait_why_sockets{owner=\"process\",command=\"srv\",why=\"eof-read\"}") == 1);
	assert_true(fixture_value(t, "closewait_process_open_fds{owner=\"process\",command=\"cli\"}") == 900);
	assert_true(fixture_value(t, "closewait_process_max_fds{owner=\"process\",command=\"cli\"}") == 1000);
	assert_true(fixture_value(t, "closewait_sockets{state=\"close_wait\"}") == 3);
	assert_true(fixture_value(t, "closewait_sockets{state=\"time_wait\"}") == 1);
	assert_true(fixture_value(t, "closewait_up") == 1);
	assert_true(fixture_value(t, "closewait_census_errors_total{kind=\"census\"}") == 2);
	assert_null(strstr(t, "# EOF"));
	free(t);
	t = render(c, CW_BY_PROCESS, 50, false);
	assert_true(fixture_value(t, "closewait_close_wait_sockets{owner=\"process\",command=\"srv\",pid=\"6\"}") == 3);
	free(t);
	cw_census_free(c);
}

static void test_top_folds_the_rest(void **state)
{
	char text[4096] = "";
	struct cw_census *c;
	char *t;
	size_t at = 0;

	(void)state;
	/* process p<k> (pid 10 + k) holds k + 1 CLOSE_WAIT sockets */
	for (int k = 0; k < 6; k++)
		for (int j = 0; j <= k; j++)
			at += (size_t)snprintf(text + at, sizeof(text) - at,
					       "close-wait 127.0.0.1:%d 127.0.0.1:%d %d 1 0 none 0 5000 5000 5000 %d %d p%d\n",
					       8000 + k, 40000 + j, 2000 + k * 10 + j, 10 + k, 4 + j, k);
	c = fixture_census(text, 0, 0);
	t = render(c, CW_BY_AUTO, 2, false);
	assert_int_equal(fixture_samples(t, "closewait_close_wait_sockets"), 3);
	assert_true(fixture_value(t, "closewait_close_wait_sockets{owner=\"process\",command=\"p5\"}") == 6);
	assert_true(fixture_value(t, "closewait_close_wait_sockets{owner=\"process\",command=\"p4\"}") == 5);
	/* the other four: 1 + 2 + 3 + 4 */
	assert_true(fixture_value(t, "closewait_close_wait_sockets{other=\"true\"}") == 10);
	assert_true(fixture_value(t, "closewait_close_wait_recv_queue_bytes{other=\"true\"}") == 10);
	free(t);
	cw_census_free(c);
}

static void test_unaccepted_under_listener_owner(void **state)
{
	struct cw_census *c;
	struct cw_sock s = fixture_sock("close-wait 127.0.0.1:8500 127.0.0.1:41000 0 3 0 none 0 2000 2000 2000");
	struct cw_sock l = fixture_sock("listen 127.0.0.1:8500 0.0.0.0:0 77 5 16 none 0 - - -");
	size_t idx[] = { 1 };
	pid_t pid[] = { 42 };
	int fd[] = { 3 };
	const char *comm[] = { "python3" };
	char *t;

	(void)state;
	assert_int_equal(census_new(0, 0, &c), 0);
	assert_int_equal(census_add(c, &s), 0);
	assert_int_equal(census_add_listener(c, &l), 0);
	assert_int_equal(census_set_owners(c, idx, pid, fd, comm, 1), 0);
	t = render(c, CW_BY_AUTO, 50, false);
	assert_true(fixture_value(t, "closewait_close_wait_sockets{owner=\"unaccepted\",command=\"python3\",local_port=\"8500\"}") == 1);
	assert_true(fixture_value(t, "closewait_close_wait_why_sockets{owner=\"unaccepted\",command=\"python3\",local_port=\"8500\",why=\"unaccepted\"}") == 1);
	free(t);
	cw_census_free(c);
}

static void test_labels_escaped(void **state)
{
	struct cw_census *c = fixture_census(
		"close-wait 127.0.0.1:8000 127.0.0.1:40000 1001 1 0 none 0 9000 9000 4000 6 5 x\n", 0, 0);
	char *t;

	(void)state;
	/* a command named a"b\<newline><0xff> */
	strcpy(c->comms[0], "a\"b\\\n\xff");
	t = render(c, CW_BY_AUTO, 50, false);
	assert_true(fixture_value(t, "closewait_close_wait_sockets{owner=\"process\",command=\"a\\\"b\\\\\\n\xef\xbf\xbd\"}") == 1);
	free(t);
	cw_census_free(c);
}

static void test_openmetrics(void **state)
{
	struct cw_census *c = fixture_census(two_procs, 0, 0);
	char *t = render(c, CW_BY_AUTO, 50, true);
	size_t n = strlen(t);

	(void)state;
	assert_non_null(strstr(t, "# TYPE closewait_census_errors counter\n"));
	assert_true(fixture_value(t, "closewait_census_errors_total{kind=\"census\"}") == 2);
	assert_true(n > 6);
	assert_string_equal(t + n - 6, "# EOF\n");
	free(t);
	cw_census_free(c);
}

static void test_census_failed(void **state)
{
	struct export_opts o = { .by = CW_BY_AUTO, .top = 50 };
	struct export_self self = { .up = false, .errors_census = 1 };
	char *t = fixture_scrape(NULL, &o, &self);

	(void)state;
	assert_true(fixture_value(t, "closewait_up") == 0);
	assert_int_equal(fixture_samples(t, "closewait_close_wait_sockets"), 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups_by_command),
		cmocka_unit_test(test_top_folds_the_rest),
		cmocka_unit_test(test_unaccepted_under_listener_owner),
		cmocka_unit_test(test_labels_escaped),
		cmocka_unit_test(test_openmetrics),
		cmocka_unit_test(test_census_failed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
