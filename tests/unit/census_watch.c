/* watch's trends and verdicts over sequences of fixture censuses, at chosen
 * monotonic times (census_watch.c). */
#include "cwtest.h"
#include "census_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* n CLOSE_WAIT sockets of pid, inodes first..first+n-1, each with lastack ack_ms
 * and lastrcv rcv_ms (a range when they differ by a second or more). */
static char *cw_lines(char *p, int pid, unsigned first, unsigned n, unsigned ack_ms, unsigned rcv_ms)
{
	for (unsigned i = 0; i < n; i++)
		p += sprintf(p, "close-wait 127.0.0.1:8000 127.0.0.1:%u %u 1 0 none 0 %u %u %u %d %u srv\n",
			     30000 + first + i, first + i, rcv_ms, rcv_ms, ack_ms, pid, 10 + first + i);
	return p;
}

static const struct cw_watch_row *row_of(struct cw_watch *w, pid_t pid)
{
	for (size_t i = 0; i < cw_watch_count(w); i++)
		if (cw_watch_row(w, i)->pid == pid)
			return cw_watch_row(w, i);
	return NULL;
}

/* A watch over 60 s intervals, leaking after 60 s. */
static struct cw_watch *watch_new(void)
{
	struct cw_watch *w;

	assert_int_equal(cw_watch_new(60000, 60000, &w), 0);
	return w;
}

/* Updates w with the census of text taken at mono; age (may be NULL) gets
 * the age w gives its first socket. */
static void feed(struct cw_watch *w, const char *text, uint64_t mono, struct cw_age *age)
{
	struct cw_census *c = fixture_census(text, 0, mono);

	assert_int_equal(cw_watch_update(w, c), 0);
	if (age)
		cw_watch_age(w, c, 0, age);
	cw_census_free(c);
}

static void test_growing_is_leaking_by_the_third(void **state)
{
	static char text[65536];
	struct cw_watch *w = watch_new();
	const struct cw_watch_row *r;

	(void)state;
	for (unsigned k = 1; k <= 3; k++) {
		char *p = text;

		/* 5 more every second; the older ones keep their ages */
		for (unsigned b = 0; b < k; b++)
			p = cw_lines(p, 100, b * 5 + 1, 5, (k - 1 - b) * 1000 + 100, (k - 1 - b) * 1000 + 100);
		*p = 0;
		feed(w, text, 10000 + (k - 1) * 1000, NULL);
		r = row_of(w, 100);
		assert_non_null(r);
		assert_int_equal(r->close_wait, 5 * k);
		assert_string_equal(r->comm, "srv");
		if (k < 3) /* the newest have not outlived an interval yet */
			assert_int_not_equal(r->verdict, CW_VERDICT_LEAKING);
	}
	assert_int_equal(r->verdict, CW_VERDICT_LEAKING);
	assert_true(r->growth_per_min > 299 && r->growth_per_min < 301); /* 10 in 2 s */
	cw_watch_free(w);
}

static void test_flat_and_old_is_stuck(void **state)
{
	static char text[65536];
	struct cw_watch *w = watch_new();
	const struct cw_watch_row *r;

	(void)state;
	for (unsigned k = 0; k < 3; k++) {
		*cw_lines(text, 200, 1, 20, 70000 + k * 1000, 70000 + k * 1000) = 0;
		feed(w, text, 5000 + k * 1000, NULL);
		r = row_of(w, 200);
		assert_int_equal(r->verdict, CW_VERDICT_STUCK);
		assert_true(r->growth_per_min == 0);
		assert_true(r->oldest.min_ms >= 70000);
	}
	cw_watch_free(w);
}

static void test_churn_is_ok(void **state)
{
	static char text[65536];
	struct cw_watch *w = watch_new();
	size_t n;

	(void)state;
	for (unsigned k = 0; k < 6; k++) {
		/* a few young ones, different each time: closed before the next census */
		*cw_lines(text, 300, 100 * k + 1, k % 3, 5, 5) = 0;
		feed(w, text, 1000 + k * 1000, NULL);
		n = cw_watch_count(w);

		/* the young ones are there (none every third census), and judged */
		assert_int_equal(n, k % 3 ? 1 : 0);
		for (size_t i = 0; i < n; i++) {
			const struct cw_watch_row *r = cw_watch_row(w, i);

			assert_int_equal(r->pid, 300);
			assert_int_equal(r->close_wait, k % 3);
			assert_int_equal(r->verdict, CW_VERDICT_OK);
		}
	}
	cw_watch_free(w);
}

static void test_watch_narrows_ages(void **state)
{
	struct cw_watch *w = watch_new();
	struct cw_age a;

	(void)state;
	feed(w, "", 1000, NULL);
	/* first seen at t=2000, absent at t=1000; keepalive answers keep
	 * lastack low and the kernel's own range is [0.2 s, 50 s] */
	feed(w, "close-wait 127.0.0.1:8000 127.0.0.1:30001 1 0 0 none 0 150 50000 200 400 11 srv\n", 2000, &a);
	assert_true(a.known);
	assert_int_equal(a.min_ms, 200);
	assert_int_equal(a.max_ms, 1000); /* it entered after the previous census */
	feed(w, "close-wait 127.0.0.1:8000 127.0.0.1:30001 1 0 0 none 0 250 51000 300 400 11 srv\n", 3000, &a);
	assert_int_equal(a.min_ms, 1200); /* what the first sight proved, a second on */
	assert_int_equal(a.max_ms, 2000);
	assert_true(a.exact);
	cw_watch_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growing_is_leaking_by_the_third),
		cmocka_unit_test(test_flat_and_old_is_stuck),
		cmocka_unit_test(test_churn_is_ok),
		cmocka_unit_test(test_watch_narrows_ages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
