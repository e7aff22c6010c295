/* The timing wheel: order, cancel, re-arm, wrap-around, scale, and that a
 * tick examines only what expires (no sweep). */
#include "cwtest.h"

#include <stdlib.h>
#include <string.h>

#include "core/wheel.h"

struct probe {
	struct wheel_entry e;
	uint64_t fired_at; /* tick it fired on, 0 if not */
	int fires;
};

static uint64_t g_now;                /* the tick being processed */
static struct wheel *g_wheel;
static struct probe *g_cancel_target; /* cancelled by the first callback that runs */
static uint64_t g_last_fire;
static bool g_order_ok;

static void on_fire(struct wheel_entry *e)
{
	struct probe *p = (struct probe *)e;

	p->fired_at = g_now;
	p->fires++;
	if (g_now < g_last_fire)
		g_order_ok = false;
	g_last_fire = g_now;
	if (g_cancel_target) {
		/* g_cancel_target[0..1] is a pair: cancel the one that did not fire. */
		struct probe *other = p == &g_cancel_target[0] ? &g_cancel_target[1] : &g_cancel_target[0];

		wheel_cancel(g_wheel, &other->e);
		g_cancel_target = NULL;
	}
}

static void advance_each_tick(struct wheel *w, uint64_t from, uint64_t to)
{
	for (g_now = from; g_now <= to; g_now++)
		wheel_advance(w, g_now);
}

/* Allowed lateness for a deadline d ticks away: one granule of its level. */
static uint64_t slack(uint64_t d)
{
	uint64_t g = 1;

	while (d >= 255 * g && g < (1ull << 21))
		g <<= 3;
	return g == 1 ? 0 : g;
}

static void test_expiry_order_and_bounds(void **state)
{
	enum { N = 20000 };
	struct wheel *w = malloc(sizeof(*w));
	struct probe *p = calloc(N, sizeof(*p));
	uint64_t start = 1000;

	(void)state;
	srand(42);
	wheel_init(w, start);
	g_wheel = w;
	g_last_fire = 0;
	g_order_ok = true;
	for (int i = 0; i < N; i++) {
		wheel_entry_init(&p[i].e, on_fire);
		wheel_arm(w, &p[i].e, start + (uint64_t)(rand() % 70000));
	}
	advance_each_tick(w, start, start + 80000);
	assert_true(g_order_ok);
	for (int i = 0; i < N; i++) {
		uint64_t d = p[i].e.expires - start;

		assert_int_equal(p[i].fires, 1);
		assert_true(p[i].fired_at >= p[i].e.expires);               /* never early */
		assert_true(p[i].fired_at <= p[i].e.expires + slack(d));    /* late by a granule at most */
	}
	assert_int_equal(w->stats.armed, 0);
	assert_int_equal(wheel_next(w), UINT64_MAX);
	free(p);
	free(w);
}

static void test_exact_at_level_zero(void **state)
{
	struct wheel *w = malloc(sizeof(*w));
	struct probe p[3];

	(void)state;
	wheel_init(w, 0);
	for (int i = 0; i < 3; i++)
		wheel_entry_init(&p[i].e, on_fire), p[i].fires = 0;
	wheel_arm(w, &p[0].e, 5);
	wheel_arm(w, &p[1].e, 200);
	wheel_arm(w, &p[2].e, 0); /* already due */
	assert_int_equal(wheel_next(w), 0);
	advance_each_tick(w, 0, 300);
	assert_int_equal(p[0].fired_at, 5);
	assert_int_equal(p[1].fired_at, 200);
	assert_int_equal(p[2].fired_at, 0);
	free(w);
}

static void test_cancel(void **state)
{
	struct wheel *w = malloc(sizeof(*w));
	struct probe pair[2], c;
	struct probe *a = &pair[0], *b = &pair[1];

	(void)state;
	memset(pair, 0, sizeof(pair));
	memset(&c, 0, sizeof(c));
	wheel_init(w, 0);
	g_wheel = w;
	wheel_entry_init(&a->e, on_fire);
	wheel_entry_init(&b->e, on_fire);
	wheel_entry_init(&c.e, on_fire);
	wheel_arm(w, &a->e, 100);
	wheel_arm(w, &b->e, 100);
	wheel_arm(w, &c.e, 5000);
	wheel_cancel(w, &c.e);
	wheel_cancel(w, &c.e); /* twice is harmless */
	assert_false(wheel_armed(&c.e));
	/* a and b share a slot: whichever fires first cancels the other,
	 * which is then already off the slot, on the list being expired. */
	g_cancel_target = pair;
	advance_each_tick(w, 0, 200);
	g_cancel_target = NULL;
	assert_int_equal(a->fires + b->fires, 1);
	advance_each_tick(w, 201, 10000);
	assert_int_equal(c.fires, 0);
	assert_int_equal(a->fires + b->fires, 1);
	assert_int_equal(w->stats.armed, 0);
	free(w);
}

static void test_rearm(void **state)
{
	struct wheel *w = malloc(sizeof(*w));
	struct probe a = { 0 };

	(void)state;
	wheel_init(w, 0);
	wheel_entry_init(&a.e, on_fire);
	wheel_arm(w, &a.e, 50000);
	wheel_arm(w, &a.e, 10);   /* earlier */
	advance_each_tick(w, 0, 20);
	assert_int_equal(a.fires, 1);
	assert_int_equal(a.fired_at, 10);
	wheel_arm(w, &a.e, 30);
	wheel_arm(w, &a.e, 3000); /* later */
	advance_each_tick(w, 21, 4000);
	assert_int_equal(a.fires, 2);
	assert_true(a.fired_at >= 3000 && a.fired_at <= 3000 + slack(3000 - 21));
	assert_int_equal(w->stats.armed, 0);
	free(w);
}

/* Jumps (advance to a far "now" at once) and clocks that wrap the slot
 * indices of every level many times over. */
static void test_wrap_around_and_jumps(void **state)
{
	enum { N = 5000 };
	struct wheel *w = malloc(sizeof(*w));
	struct probe *p = calloc(N, sizeof(*p));
	uint64_t start = (1ull << 40) - 37, now;

	(void)state;
	wheel_init(w, start);
	srand(7);
	now = start;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < N; i++) {
			if (!wheel_armed(&p[i].e)) {
				if (!p[i].e.cb)
					wheel_entry_init(&p[i].e, on_fire);
				wheel_arm(w, &p[i].e, now + 1 + (uint64_t)(rand() % 3000000));
			}
		}
		now += 1 + (uint64_t)(rand() % 500000);
		g_now = now;
		wheel_advance(w, now);
		for (int i = 0; i < N; i++) {
			if (wheel_armed(&p[i].e))
				assert_true(p[i].e.expires > now - slack(3000000)); /* not overdue past slack */
			else
				assert_true(p[i].e.expires <= now);                  /* fired only when due */
		}
	}
	g_now = now + 4000000;
	wheel_advance(w, g_now);
	assert_int_equal(w->stats.armed, 0);
	assert_int_equal(w->stats.examined, w->stats.fires + w->stats.reinserted);
	free(p);
	free(w);
}

static void test_beyond_horizon(void **state)
{
	struct wheel *w = malloc(sizeof(*w));
	struct probe a = { 0 };
	uint64_t far = 10ull * 24 * 3600 * 1000; /* 10 days: past the last level */

	(void)state;
	wheel_init(w, 0);
	wheel_entry_init(&a.e, on_fire);
	wheel_arm(w, &a.e, far);
	g_now = far - 1;
	wheel_advance(w, far - 1);
	assert_int_equal(a.fires, 0);
	assert_true(w->stats.reinserted >= 1);
	g_now = far + (far >> 5);
	wheel_advance(w, g_now);
	assert_int_equal(a.fires, 1);
	free(w);
}

static void noop(struct wheel_entry *e) { (void)e; }

static void test_million_arm_cancel(void **state)
{
	enum { N = 1000000 };
	struct wheel *w = malloc(sizeof(*w));
	struct wheel_entry *e = calloc(N, sizeof(*e));

	(void)state;
	wheel_init(w, 123);
	for (int i = 0; i < N; i++) {
		wheel_entry_init(&e[i], noop);
		wheel_arm(w, &e[i], 123 + (uint64_t)i * 7 % 400000);
	}
	assert_int_equal(w->stats.armed, N);
	for (int i = 0; i < N; i++)
		wheel_cancel(w, &e[i]);
	assert_int_equal(w->stats.armed, 0);
	assert_int_equal(wheel_next(w), UINT64_MAX);
	for (unsigned s = 0; s < WHEEL_LEVELS * WHEEL_SLOTS; s++)
		assert_null(w->slot[s]);
	free(e);
	free(w);
}

static uint64_t g_fired_this_tick;
static void count_fire(struct wheel_entry *e)
{
	(void)e;
	g_fired_this_tick++;
}

/* A tick examines the entries that expire and nothing else: with 1 000 000
 * armed up to 300 s out, every entry taken out of a slot fires (examined ==
 * fired in every tick) and a tick visits at most one slot per level
 * (WHEEL_LEVELS = 8): that is the constant, whatever the number armed. */
static void test_tick_examines_only_expiring(void **state)
{
	enum { N = 1000000 };
	struct wheel *w = malloc(sizeof(*w));
	struct wheel_entry *e = calloc(N, sizeof(*e));

	(void)state;
	srand(3);
	wheel_init(w, 0);
	for (int i = 0; i < N; i++) {
		wheel_entry_init(&e[i], count_fire);
		wheel_arm(w, &e[i], (uint64_t)(rand() % 300000));
	}
	for (uint64_t t = 0; t <= 310000; t++) {
		uint64_t ex0 = w->stats.examined, sl0 = w->stats.slots;

		g_fired_this_tick = 0;
		wheel_advance(w, t);
		assert_int_equal(w->stats.examined - ex0, g_fired_this_tick);
		assert_true(w->stats.slots - sl0 <= WHEEL_LEVELS);
	}
	print_message("ticks with work %llu, slots visited %llu, examined %llu, fired %llu, max slots/tick %llu, max extra/tick %llu\n",
		      (unsigned long long)w->stats.ticks, (unsigned long long)w->stats.slots,
		      (unsigned long long)w->stats.examined, (unsigned long long)w->stats.fires,
		      (unsigned long long)w->stats.max_tick_slots,
		      (unsigned long long)w->stats.max_tick_extra);
	assert_int_equal(w->stats.fires, N);
	assert_int_equal(w->stats.examined, N);
	assert_int_equal(w->stats.max_tick_extra, 0);
	assert_true(w->stats.max_tick_slots <= WHEEL_LEVELS);
	free(e);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry_order_and_bounds),
		cmocka_unit_test(test_exact_at_level_zero),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_rearm),
		cmocka_unit_test(test_wrap_around_and_jumps),
		cmocka_unit_test(test_beyond_horizon),
		cmocka_unit_test(test_million_arm_cancel),
		cmocka_unit_test(test_tick_examines_only_expiring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
