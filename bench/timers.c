/* timers: closewait's timing wheel (lib/wheel.h) against libuv's timers and
 * a binary heap (bench/heap.c), with many timers armed.
 *
 *   arm+cancel  B timers are armed (random deadline, 1 s..300 s) and then
 *               cancelled in a shuffled order, over and over, while ARMED
 *               others stay armed: ns per pair.
 *   re-arm      a random armed timer gets a new random deadline: ns each.
 *   expire      K timers due within 50 ms among TOTAL armed (the rest due in
 *               10 s..300 s); one pass runs the K that are due: the time of
 *               that pass, for TOTAL = K, 10 000 and 100 000, shows whether
 *               it grows with what expires or with what is armed.
 *   empty pass  the pass a loop makes each iteration when nothing is due.
 *
 * Wheel and heap run on a virtual millisecond clock. libuv reads the real
 * one, so its expire pass is uv_run(UV_RUN_NOWAIT) after sleeping until the
 * K are due; that pass includes one epoll_wait(0) syscall, which is measured
 * alone (an empty uv_run) and reported beside it. Every figure is the median
 * of --reps repetitions; each pass checks that exactly the due timers fired.
 *
 * Prints key=value lines, one per implementation and figure.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench_util.h"
#include "heap.h"
#include "core/wheel.h"

#define RND 65536u  /* size of the precomputed random tables */
#define BATCH 1000u /* timers armed then cancelled per round */
#define DUE_MS 50u  /* the K expiring timers are due within this */

struct opts {
	unsigned armed;   /* timers armed during arm+cancel and re-arm */
	unsigned expire;  /* K */
	unsigned reps;
	uint64_t ops;     /* arm+cancel pairs (and re-arms) per repetition */
};

static uint64_t g_fired;
static uint64_t g_examined; /* entries the wheel took out of due slots in the last pass */
static uint32_t rnd_after[RND], rnd_idx[RND], shuffle[BATCH];

static uint64_t xs(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

static void tables_init(unsigned armed)
{
	uint64_t x = 0x2545f4914f6cdd1dull;

	for (unsigned i = 0; i < RND; i++) {
		rnd_after[i] = 1000u + (uint32_t)(xs(&x) % 299001u); /* 1 s .. 300 s */
		rnd_idx[i] = (uint32_t)(xs(&x) % armed);
	}
	for (unsigned i = 0; i < BATCH; i++)
		shuffle[i] = i;
	for (unsigned i = BATCH - 1; i > 0; i--) {
		unsigned j = (unsigned)(xs(&x) % (i + 1)), t = shuffle[i];

		shuffle[i] = shuffle[j], shuffle[j] = t;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median(uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

/* An implementation: n timers, armed relative to its clock. */
struct impl {
	const char *name;
	void (*open)(unsigned n);
	void (*arm)(unsigned i, uint64_t after_ms);
	void (*cancel)(unsigned i);
	/* Runs what is due after the clock moved on by ms; returns how many fired. */
	uint64_t (*pass)(uint64_t ms);
	void (*close)(void);
};

/* ---- closewait's wheel ---- */
static struct wheel *w_wheel;
static struct wheel_entry *w_e;
static uint64_t w_now;

static void w_cb(struct wheel_entry *e) { (void)e; g_fired++; }
static void w_open(unsigned n)
{
	w_wheel = malloc(sizeof(*w_wheel));
	w_e = malloc((size_t)n * sizeof(*w_e));
	if (!w_wheel || !w_e)
		bu_die(false, "out of memory");
	w_now = 0;
	wheel_init(w_wheel, w_now);
	for (unsigned i = 0; i < n; i++)
		wheel_entry_init(&w_e[i], w_cb);
}
static void w_arm(unsigned i, uint64_t after) { wheel_arm(w_wheel, &w_e[i], w_now + after); }
static void w_cancel(unsigned i) { wheel_cancel(w_wheel, &w_e[i]); }
static uint64_t w_pass(uint64_t ms)
{
	w_now += ms;
	return wheel_advance(w_wheel, w_now);
}
static void w_close(void) { free(w_e), free(w_wheel); }

/* ---- binary heap ---- */
static struct heap h_heap;
static struct heap_entry *h_e;
static uint64_t h_now;

static void h_cb(struct heap_entry *e) { (void)e; g_fired++; }
static void h_open(unsigned n)
{
	h_e = malloc((size_t)n * sizeof(*h_e));
	if (!h_e || heap_init(&h_heap, n))
		bu_die(false, "out of memory");
	h_now = 0;
	for (unsigned i = 0; i < n; i++)
		heap_entry_init(&h_e[i], h_cb);
}
static void h_arm(unsigned i, uint64_t after) { heap_arm(&h_heap, &h_e[i], h_now + after); }
static void h_cancel(unsigned i) { heap_cancel(&h_heap, &h_e[i]); }
static uint64_t h_pass(uint64_t ms)
{
	h_now += ms;
	return heap_advance(&h_heap, h_now);
}
static void h_close(void) { heap_destroy(&h_heap), free(h_e); }

/* ---- libuv ---- */
static uv_loop_t u_loop;
static uv_timer_t *u_t;
static unsigned u_n;

static void u_cb(uv_timer_t *t) { (void)t; g_fired++; }
static void u_open(unsigned n)
{
	u_t = malloc((size_t)n * sizeof(*u_t));
	if (!u_t || uv_loop_init(&u_loop))
		bu_die(false, "cannot set up libuv");
	u_n = n;
	for (unsigned i = 0; i < n; i++)
		uv_timer_init(&u_loop, &u_t[i]);
	uv_update_time(&u_loop); /* uv_timer_start counts from the cached loop time */
}
static void u_arm(unsigned i, uint64_t after) { uv_timer_start(&u_t[i], u_cb, after, 0); }
static void u_cancel(unsigned i) { uv_timer_stop(&u_t[i]); }
static uint64_t u_pass(uint64_t ms)
{
	uint64_t before = g_fired;

	bu_sleep_ns(ms * 1000000u); /* libuv's clock is the real one */
	uv_run(&u_loop, UV_RUN_NOWAIT);
	return g_fired - before;
}
static void u_close(void)
{
	for (unsigned i = 0; i < u_n; i++)
		uv_close((uv_handle_t *)&u_t[i], NULL);
	uv_run(&u_loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&u_loop))
		bu_die(false, "libuv loop still busy");
	free(u_t);
}

static const struct impl impls[] = {
	{ "wheel", w_open, w_arm, w_cancel, w_pass, w_close },
	{ "heap", h_open, h_arm, h_cancel, h_pass, h_close },
	{ "libuv", u_open, u_arm, u_cancel, u_pass, u_close },
};

/* Entries [0, armed) stay armed; [armed, armed + BATCH) come and go. */
static uint64_t time_arm_cancel(const struct impl *im, unsigned armed, uint64_t ops)
{
	uint64_t rounds = ops / BATCH, t0, k = 0;

	t0 = bu_now_ns();
	for (uint64_t r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < BATCH; i++)
			im->arm(armed + i, rnd_after[k++ % RND]);
		for (unsigned i = 0; i < BATCH; i++)
			im->cancel(armed + shuffle[i]);
	}
	return bu_now_ns() - t0;
}

static uint64_t time_rearm(const struct impl *im, uint64_t ops)
{
	uint64_t t0 = bu_now_ns();

	for (uint64_t k = 0; k < ops; k++)
		im->arm(rnd_idx[k % RND], rnd_after[(k * 7) % RND]);
	return bu_now_ns() - t0;
}

static void bench_ops(const struct impl *im, const struct opts *o)
{
	uint64_t *ac = calloc(o->reps, sizeof(uint64_t)), *ra = calloc(o->reps, sizeof(uint64_t));

	if (!ac || !ra)
		bu_die(false, "out of memory");

	im->open(o->armed + BATCH);
	for (unsigned i = 0; i < o->armed; i++)
		im->arm(i, rnd_after[i % RND]);
	for (unsigned r = 0; r < o->reps; r++) {
		ac[r] = time_arm_cancel(im, o->armed, o->ops);
		ra[r] = time_rearm(im, o->ops);
	}
	printf("impl=%s armed=%u arm_cancel_ns=%.1f rearm_ns=%.1f\n", im->name, o->armed,
	       median(ac, o->reps) / (double)(o->ops / BATCH * BATCH),
	       median(ra, o->reps) / (double)o->ops);
	im->close();
	free(ac), free(ra);
}

/* One expire pass over k due timers among total armed; returns its ns. */
static uint64_t expire_once(const struct impl *im, unsigned total, unsigned k)
{
	uint64_t x = 0x9e3779b97f4a7c15ull ^ total, t0, ns, fired;

	im->open(total);
	for (unsigned i = 0; i < total; i++) {
		if (i < k)
			im->arm(i, 1 + xs(&x) % DUE_MS);
		else
			im->arm(i, 10000 + xs(&x) % 290001u);
	}
	if (im->pass == u_pass) {
		/* libuv runs what is due at its own clock: wait first, time the run only. */
		bu_sleep_ns((DUE_MS + 5) * 1000000ull);
		g_fired = 0;
		t0 = bu_now_ns();
		uv_run(&u_loop, UV_RUN_NOWAIT);
		ns = bu_now_ns() - t0;
		fired = g_fired;
	} else {
		g_fired = 0;
		t0 = bu_now_ns();
		fired = im->pass(DUE_MS + 5);
		ns = bu_now_ns() - t0;
	}
	if (fired != k || g_fired != k)
		bu_die(false, "%s: %llu of %u due timers fired", im->name, (unsigned long long)fired, k);
	if (im->pass == w_pass)
		g_examined = w_wheel->stats.examined; /* the wheel's own count: examined == fired? */
	im->close();
	return ns;
}

static void bench_expire(const struct impl *im, const struct opts *o, unsigned total, unsigned k)
{
	uint64_t *v = calloc(o->reps, sizeof(uint64_t));

	if (!v)
		bu_die(false, "out of memory");

	for (unsigned r = 0; r < o->reps; r++)
		v[r] = expire_once(im, total, k);
	printf("impl=%s armed=%u expiring=%u expire_us=%.1f per_expired_ns=%.1f", im->name, total, k,
	       median(v, o->reps) / 1e3, median(v, o->reps) / k);
	if (im->pass == w_pass)
		printf(" examined=%llu", (unsigned long long)g_examined);
	printf("\n");
	free(v);
}

/* The pass a loop makes when nothing is due, with o->armed armed. */
static void bench_empty(const struct impl *im, const struct opts *o)
{
	enum { PASSES = 10000 };
	uint64_t *v = calloc(o->reps, sizeof(uint64_t));

	if (!v)
		bu_die(false, "out of memory");

	im->open(o->armed);
	for (unsigned i = 0; i < o->armed; i++)
		im->arm(i, 400000 + rnd_after[i % RND]); /* nothing due during the passes */
	for (unsigned r = 0; r < o->reps; r++) {
		uint64_t t0 = bu_now_ns();

		for (unsigned p = 0; p < PASSES; p++)
			if (im->pass == u_pass)
				uv_run(&u_loop, UV_RUN_NOWAIT);
			else if (im->pass(1))
				bu_die(false, "%s: a timer fired early", im->name);
		v[r] = bu_now_ns() - t0;
	}
	printf("impl=%s armed=%u empty_pass_ns=%.1f%s\n", im->name, o->armed,
	       median(v, o->reps) / PASSES,
	       im->pass == u_pass ? " note=uv_run_nowait_includes_epoll_wait_syscall" : "");
	im->close();
	free(v);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "armed", required_argument, NULL, 'a' }, { "expire", required_argument, NULL, 'k' },
		{ "reps", required_argument, NULL, 'r' },  { "ops", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
	};
	struct opts o = { .armed = 100000, .expire = 1000, .reps = 5, .ops = 2000000 };
	int opt;

	bu_set_prog(argv[0]);
	while ((opt = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (opt) {
		case 'a': o.armed = (unsigned)bu_ulong("--armed", optarg, 10000, 10000000); break;
		case 'k': o.expire = (unsigned)bu_ulong("--expire", optarg, 1, 1000000); break;
		case 'r': o.reps = (unsigned)bu_ulong("--reps", optarg, 1, 101); break;
		case 'o': o.ops = bu_ulong("--ops", optarg, BATCH, 1000000000); break;
		case 'h':
			printf("Usage: timers [--armed N] [--expire K] [--reps R] [--ops N]\n"
			       "Defaults: 100000 armed, K 1000, 5 repetitions, 2000000 operations.\n");
			return 0;
		default: return 2;
		}
	}
	if (o.expire * 10 > o.armed)
		bu_die(false, "--expire must be at most a tenth of --armed");
	tables_init(o.armed);
	for (unsigned i = 0; i < 3; i++)
		bench_ops(&impls[i], &o);
	for (unsigned i = 0; i < 3; i++) {
		bench_expire(&impls[i], &o, o.expire, o.expire);
		if (o.expire * 10 < o.armed)
			bench_expire(&impls[i], &o, o.expire * 10, o.expire);
		bench_expire(&impls[i], &o, o.armed, o.expire);
		bench_expire(&impls[i], &o, o.armed, o.expire * 10);
	}
	for (unsigned i = 0; i < 3; i++)
		bench_empty(&impls[i], &o);
	return 0;
}
