/* Port arithmetic (census_ports.c). */
#include "cwtest.h"
#include "census_fixture.h"
#include "closewait/duration.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_rate_parse(void **state)
{
	double r;

	(void)state;
	assert_int_equal(cw_rate_parse("100/s", &r), 0);
	assert_true(r == 100);
	assert_int_equal(cw_rate_parse("2.5/s", &r), 0);
	assert_true(r == 2.5);
	assert_int_equal(cw_rate_parse("100", &r), -EINVAL);
	assert_int_equal(cw_rate_parse("100/m", &r), -EINVAL);
	assert_int_equal(cw_rate_parse("0/s", &r), -EINVAL);
	assert_int_equal(cw_rate_parse("-1/s", &r), -EINVAL);
	assert_int_equal(cw_rate_parse("1./s", &r), -EINVAL);
	assert_int_equal(cw_rate_parse("/s", &r), -EINVAL);
}

static void test_usable_range(void **state)
{
	struct cw_port_sys sys = { 0 };

	(void)state;
	assert_int_equal(cw_port_sys_set(&sys, 32768, 60999, ""), 0);
	assert_int_equal(sys.usable, 28232);
	assert_int_equal(cw_port_sys_set(&sys, 20000, 20999, "\n"), 0);
	assert_int_equal(sys.usable, 1000);
	/* an odd count is rounded down to even (two parity halves) */
	assert_int_equal(cw_port_sys_set(&sys, 20000, 21000, ""), 0);
	assert_int_equal(sys.usable, 1000);
	assert_int_equal(cw_port_sys_set(&sys, 20000, 20999, "80,20010-20019,20500,30000-30010\n"), 0);
	assert_int_equal(sys.reserved, 11);
	assert_int_equal(sys.usable, 989);
	assert_int_equal(cw_port_sys_set(&sys, 2000, 1000, ""), -EINVAL);
}

static void test_sys_read(void **state)
{
	char dir[] = "/tmp/cw-ports-XXXXXX", path[128];
	struct cw_port_sys sys;
	const char *files[][2] = { { "ip_local_port_range", "10000\t10999\n" },
				   { "ip_local_reserved_ports", "10000-10009\n" },
				   { "tcp_tw_reuse", "0\n" }, { "tcp_timestamps", "1\n" } };
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i][0]);
		f = fopen(path, "w");
		fputs(files[i][1], f);
		fclose(f);
	}
	assert_int_equal(cw_port_sys_read(dir, &sys), 0);
	assert_int_equal(sys.usable, 990);
	assert_int_equal(sys.tw_reuse, 0);
	assert_int_equal(sys.timestamps, 1);
	assert_int_equal(sys.tw_reuse_delay_ms, 1000); /* absent before 6.13 */
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i][0]);
		unlink(path);
	}
	rmdir(dir);
}

/* The arithmetic alone, on destinations made up here (an application gets
 * its cw_port_dest records from a report; a test of the same build may build
 * one). */
static void test_exhaustion(void **state)
{
	struct cw_port_sys sys = { .tw_reuse = 0, .timestamps = 1, .tw_reuse_delay_ms = 1000 };
	struct cw_port_dest d = { .sources = 1 };
	uint32_t left[500];

	(void)state;
	cw_port_sys_set(&sys, 20000, 20999, "");
	/* fresh: 1000 ports at 100/s last 10 s; 16/s is sustainable */
	assert_true(fabs(cw_ports_exhaust_s(&sys, &d, 100) - 10) < 1e-9);
	assert_true(cw_ports_exhaust_s(&sys, &d, 16) < 0);
	assert_true(cw_ports_exhaust_s(&sys, &d, 16.7) >= 0);
	/* 500 TIME_WAIT that expire in 55 s: 500 left, gone at 5 s */
	for (int i = 0; i < 500; i++)
		left[i] = 55000;
	d.time_wait = 500;
	d.tw_left_ms = left;
	assert_true(fabs(cw_ports_exhaust_s(&sys, &d, 100) - 5) < 1e-9);
	/* the same 500 expiring in 1 s: they free their ports first */
	for (int i = 0; i < 500; i++)
		left[i] = 1000;
	assert_true(fabs(cw_ports_exhaust_s(&sys, &d, 100) - 10) < 1e-9);
	/* full now */
	d.open = 500;
	for (int i = 0; i < 500; i++)
		left[i] = 30000;
	assert_true(cw_ports_exhaust_s(&sys, &d, 1) == 0);
	/* with reuse, a port comes back after 1 s: 100/s holds 100 */
	d = (struct cw_port_dest){ .sources = 1, .reuse = true };
	assert_true(cw_ports_exhaust_s(&sys, &d, 100) < 0);
	assert_true(fabs(cw_ports_exhaust_s(&sys, &d, 2000) - 0.5) < 1e-9);
	/* two source addresses double it */
	d = (struct cw_port_dest){ .sources = 2 };
	assert_true(fabs(cw_ports_exhaust_s(&sys, &d, 100) - 20) < 1e-9);
}

static void test_report(void **state)
{
	struct cw_port_sys sys = { .tw_reuse = 0, .timestamps = 1, .tw_reuse_delay_ms = 1000 };
	struct cw_census *c = fixture_census(
		"listen 0.0.0.0:20500 0.0.0.0:0 1 0 128 none 0 0 0 0 9 3 srv\n"
		"established 127.0.0.1:20500 127.0.0.1:20600 2 0 0 none 0 1 1 1 9 4 srv\n"
		"established 127.0.0.1:20600 127.0.0.1:20500 3 0 0 none 0 1 1 1 8 4 cli\n"
		"time-wait 10.0.0.1:20001 10.0.0.9:80 0 0 0 timewait 59000 - - -\n"
		"time-wait 10.0.0.1:20002 10.0.0.9:80 0 0 0 timewait 58000 - - -\n"
		"time-wait 10.0.0.2:20002 10.0.0.9:80 0 0 0 timewait 57000 - - -\n"
		"time-wait 10.0.0.1:20003 10.0.0.9:80 0 0 0 timewait 20000 - - -\n"
		"established 10.0.0.1:20004 10.0.0.9:80 4 0 0 none 0 1 1 1 8 5 cli\n"
		"time-wait 10.0.0.1:80 10.0.0.7:20001 0 0 0 timewait 59000 - - -\n", 0, 0);
	struct cw_ports_report *r;
	const struct cw_port_dest *d = NULL;

	(void)state;
	cw_port_sys_set(&sys, 20000, 20999, "");
	assert_int_equal(cw_ports_report(c, &sys, 100, NULL, &r), 0);
	/* 10.0.0.9:80 and 127.0.0.1:20500 (local port 20600 is ours); not the
	 * listener's side, not the server-side TIME_WAIT on port 80 */
	assert_int_equal(cw_ports_dest_count(r), 2);
	for (size_t i = 0; i < cw_ports_dest_count(r); i++)
		if (cw_ports_dest(r, i)->dest.port == 80)
			d = cw_ports_dest(r, i);
	assert_non_null(d);
	assert_int_equal(d->sources, 2);
	assert_int_equal(d->open, 1);
	assert_int_equal(d->time_wait, 4);
	assert_int_equal(d->time_wait_recent, 3); /* ages 1, 2, 3 s; not 40 s */
	assert_true(fabs(d->rate_now - 3 / 10.0) < 1e-9);
	assert_false(d->reuse);
	assert_true(fabs(d->rate_max - (2000 - 1) / 60.0) < 1e-9);
	assert_true(fabs(d->utilisation - 5 / 2000.0) < 1e-9);
	assert_true(d->exhaust_s < 0);
	assert_true(d->exhaust_what_if_s > 19.9 && d->exhaust_what_if_s < 20.0);
	assert_int_equal(cw_ports_local_count(r), 3);
	cw_ports_report_free(r);
	/* loopback reuse with tw_reuse 2; an extra destination is reported */
	sys.tw_reuse = 2;
	{
		struct cw_endpoint extra = { .port = 9000 };

		extra.addr.s6_addr[10] = extra.addr.s6_addr[11] = 0xff;
		extra.addr.s6_addr[12] = 127;
		extra.addr.s6_addr[15] = 1;
		assert_int_equal(cw_ports_report(c, &sys, 0, &extra, &r), 0);
	}
	assert_int_equal(cw_ports_dest_count(r), 3);
	for (size_t i = 0; i < cw_ports_dest_count(r); i++) {
		d = cw_ports_dest(r, i);
		assert_int_equal(d->reuse, d->dest.port != 80);
		assert_true(d->exhaust_what_if_s < 0);
	}
	cw_ports_report_free(r);
	cw_census_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_parse),
		cmocka_unit_test(test_usable_range),
		cmocka_unit_test(test_sys_read),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
