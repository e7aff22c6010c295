/* scan's output from a fixture: the JSON document's shape (field names and
 * values, compared with a golden file) and the table's content. */
#include "cwtest.h"
#include "census_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"
#include "scan_view.h"

static const char *fixture =
	"listen 0.0.0.0:8000 0.0.0.0:0 10 0 20 none 0 0 0 0 6979 3 server\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40000 11 1 0 none 0 9000 9000 6000 6979 5 server\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40001 12 0 0 none 0 1500 4000 1500 6979 6 server\n"
	"fin-wait-2 127.0.0.1:40000 127.0.0.1:8000 0 0 0 timewait 54000 - - -\n"
	"fin-wait-2 127.0.0.1:40001 127.0.0.1:8000 13 0 0 none 0 1 1 1 7000 4 client\n"
	"close-wait [::1]:8001 [::1]:50000 15 1 0 keepalive 7190000 9000 9000 6000 6980 4 server6\n"
	"time-wait 127.0.0.1:40002 127.0.0.1:8000 0 0 0 timewait 58500 - - -\n"
	"established 127.0.0.1:40003 10.1.2.3:443 16 0 0 none 0 10 10 10\n";

static char *render(bool json, const struct cw_filter *f, enum cw_group_by by, bool state_given,
		    size_t *cw)
{
	struct cw_census *c = fixture_census(fixture, 1700000000123ull, 0);
	struct scan_result r;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct out *o = out_open(mem);

	assert_int_equal(scan_compute(c, f, by, state_given, &r), 0);
	if (json)
		scan_print_json(o, &r);
	else
		scan_print_table(o, &r);
	assert_int_equal(out_close(o), 0);
	fclose(mem);
	*cw = r.close_wait;
	scan_result_free(&r);
	cw_census_free(c);
	return text;
}

static void test_json_shape(void **state)
{
	struct cw_filter f;
	size_t cw;
	char *got, *want;

	(void)state;
	cw_filter_init(&f);
	got = render(true, &f, CW_BY_PROCESS, false, &cw);
	want = fixture_text("scan_default.json");
	if (strcmp(got, want))
		fprintf(stderr, "got:\n%s", got);
	assert_string_equal(got, want);
	assert_int_equal(cw, 3);
	free(got);
	free(want);
}

static void test_json_older_uncertain(void **state)
{
	struct cw_filter f;
	size_t cw;
	char *got;

	(void)state;
	cw_filter_init(&f);
	f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	f.older_ms = 2000;
	got = render(true, &f, CW_BY_PROCESS, true, &cw);
	assert_non_null(strstr(got, "\"sockets_total\":3,\"close_wait_total\":3,\"uncertain_total\":1,"));
	assert_non_null(strstr(got, "\"peer\":\"127.0.0.1:40001\",\"recv_q\":0,\"send_q\":0,"
				    "\"age_min\":1.500,\"age_max\":4.000,\"age_exact\":false"));
	assert_non_null(strstr(got, "\"uncertain\":true"));
	free(got);
}

static void test_table(void **state)
{
	struct cw_filter f;
	size_t cw;
	char *got;

	(void)state;
	cw_filter_init(&f);
	got = render(false, &f, CW_BY_PROCESS, false, &cw);
	fprintf(stderr, "%s", got);
	assert_non_null(strstr(got, "pid 6979 (server) has not closed 2 connections that their peers "
				    "on this host closed (1 orphaned; 1 half-closed, still held, e.g. "
				    "by pid 7000 (client))"));
	assert_non_null(strstr(got, "1.5s\u20134.0s"));  /* the range, en dash */
	assert_non_null(strstr(got, "server[6979]:5"));
	assert_non_null(strstr(got, "client[7000]"));
	assert_non_null(strstr(got, "(orphaned)"));
	assert_non_null(strstr(got, "(unknown)"));
	assert_null(strstr(got, "10.1.2.3:443")); /* default: only the stuck sockets listed */
	free(got);
	got = render(false, &f, CW_BY_PEER, true, &cw);
	assert_non_null(strstr(got, "10.1.2.3:443"));
	assert_non_null(strstr(got, "PEER "));
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_json_older_uncertain),
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
