#include "wheel.h"

#include <string.h>

#define LVL_SHIFT(l) ((unsigned)(l) * WHEEL_CLK_SHIFT)
/* Smallest distance (in ticks) that goes to level l >= 1. */
#define LVL_START(l) ((uint64_t)(WHEEL_SLOTS - 1) << LVL_SHIFT((l) - 1))
/* Distances at or past this are parked at the horizon and re-inserted later. */
#define WHEEL_HORIZON LVL_START(WHEEL_LEVELS)
#define SLOT_WORDS (WHEEL_SLOTS / 64)

void wheel_init(struct wheel *w, uint64_t now)
{
	memset(w, 0, sizeof(*w));
	w->clk = now;
	w->next = UINT64_MAX;
	w->next_valid = true;
}

void wheel_entry_init(struct wheel_entry *e, wheel_cb cb)
{
	e->next = NULL;
	e->pprev = NULL;
	e->expires = 0;
	e->cb = cb;
}

static void set_pending(struct wheel *w, unsigned idx)
{
	w->pending[idx / WHEEL_SLOTS][(idx % WHEEL_SLOTS) / 64] |= 1ull << (idx % 64);
}

static void clear_pending(struct wheel *w, unsigned idx)
{
	w->pending[idx / WHEEL_SLOTS][(idx % WHEEL_SLOTS) / 64] &= ~(1ull << (idx % 64));
}

static void link_head(struct wheel_entry **head, struct wheel_entry *e)
{
	e->next = *head;
	if (e->next)
		e->next->pprev = &e->next;
	*head = e;
	e->pprev = head;
}

/* Unlinks e from a slot or from a list being expired; keeps the slot bitmap true. */
static void unlink_entry(struct wheel *w, struct wheel_entry *e)
{
	struct wheel_entry **pp = e->pprev;

	*pp = e->next;
	if (e->next)
		e->next->pprev = pp;
	e->next = NULL;
	e->pprev = NULL;
	if (pp >= &w->slot[0] && pp < &w->slot[WHEEL_LEVELS * WHEEL_SLOTS] && *pp == NULL)
		clear_pending(w, (unsigned)(pp - &w->slot[0]));
}

/* The slot of an entry due at expires, and (in *due) the tick it fires on. */
static unsigned slot_index(uint64_t clk, uint64_t expires, uint64_t *due)
{
	uint64_t delta, bucket;
	unsigned lvl = 0;

	if (expires < clk)
		expires = clk;
	delta = expires - clk;
	if (delta >= WHEEL_HORIZON)
		delta = WHEEL_HORIZON - 1, expires = clk + delta;
	while (lvl + 1 < WHEEL_LEVELS && delta >= LVL_START(lvl + 1))
		lvl++;
	/* Round up to the level's granule, so an entry never fires early. */
	bucket = (expires + (1ull << LVL_SHIFT(lvl)) - 1) >> LVL_SHIFT(lvl);
	*due = bucket << LVL_SHIFT(lvl);
	return lvl * WHEEL_SLOTS + (unsigned)(bucket % WHEEL_SLOTS);
}

static void place(struct wheel *w, struct wheel_entry *e)
{
	uint64_t due;
	unsigned idx = slot_index(w->clk, e->expires, &due);

	link_head(&w->slot[idx], e);
	set_pending(w, idx);
	/* The cache may only be early (a wake-up that finds nothing), never late. */
	if (w->next_valid && due < w->next)
		w->next = due;
}

void wheel_arm(struct wheel *w, struct wheel_entry *e, uint64_t expires)
{
	if (wheel_armed(e))
		unlink_entry(w, e);
	else
		w->stats.armed++;
	e->expires = expires;
	place(w, e);
	w->stats.arms++;
}

void wheel_cancel(struct wheel *w, struct wheel_entry *e)
{
	if (!wheel_armed(e))
		return;
	unlink_entry(w, e);
	w->stats.armed--;
	w->stats.cancels++;
}

/* Distance from bit `start` to the next set bit, cyclically; -1 if none. */
static int next_bit(const uint64_t *words, unsigned start)
{
	unsigned w0 = start / 64, b0 = start % 64;
	uint64_t word = words[w0] & (~0ull << b0);

	for (unsigned i = 0; i <= SLOT_WORDS; i++) {
		unsigned wi = (w0 + i) % SLOT_WORDS;

		if (i > 0)
			word = words[wi];
		if (i == SLOT_WORDS)
			word &= b0 ? (1ull << b0) - 1 : 0;
		if (word) {
			unsigned pos = wi * 64 + (unsigned)__builtin_ctzll(word);
			return (int)((pos - start) % WHEEL_SLOTS);
		}
	}
	return -1;
}

static uint64_t scan_next(const struct wheel *w)
{
	uint64_t best = UINT64_MAX;

	for (unsigned lvl = 0; lvl < WHEEL_LEVELS; lvl++) {
		unsigned shift = LVL_SHIFT(lvl);
		uint64_t bucket = (w->clk + (1ull << shift) - 1) >> shift;
		int d = next_bit(w->pending[lvl], (unsigned)(bucket % WHEEL_SLOTS));

		if (d >= 0 && ((bucket + (uint64_t)d) << shift) < best)
			best = (bucket + (uint64_t)d) << shift;
	}
	return best;
}

/* The loop asks twice per iteration; most of the time nothing changed, so
 * the answer is cached (and nothing armed needs no scan at all). */
uint64_t wheel_next(struct wheel *w)
{
	if (!w->stats.armed)
		return UINT64_MAX;
	if (!w->next_valid) {
		w->next = scan_next(w);
		w->next_valid = true;
	}
	return w->next;
}

/* Fires the entries of one due slot; returns {examined, fired} through args. */
static void expire_slot(struct wheel *w, unsigned idx, uint64_t tick,
			uint64_t *examined, uint64_t *fired)
{
	struct wheel_entry *list = w->slot[idx];

	/* Move the whole slot to a local list first: callbacks may arm and
	 * cancel anything, including entries still on this list. */
	w->slot[idx] = NULL;
	clear_pending(w, idx);
	list->pprev = &list;
	while (list) {
		struct wheel_entry *e = list;

		unlink_entry(w, e);
		(*examined)++;
		if (e->expires > tick) { /* parked beyond the horizon */
			place(w, e);
			w->stats.reinserted++;
			continue;
		}
		w->stats.armed--;
		(*fired)++;
		e->cb(e);
	}
}

uint64_t wheel_advance(struct wheel *w, uint64_t now)
{
	uint64_t total = 0;

	while (w->clk <= now) {
		uint64_t tick = wheel_next(w), examined = 0, fired = 0, slots = 0;

		if (tick > now) {
			w->clk = now + 1;
			break;
		}
		/* Later arms are placed from tick + 1 on, never into a slot due now. */
		w->clk = tick + 1;
		w->next_valid = false; /* this tick's slots empty out */
		for (unsigned lvl = 0; lvl < WHEEL_LEVELS; lvl++) {
			unsigned shift = LVL_SHIFT(lvl);
			unsigned idx;

			if (tick & ((1ull << shift) - 1))
				break; /* higher levels are aligned only on coarser ticks */
			idx = lvl * WHEEL_SLOTS + (unsigned)((tick >> shift) % WHEEL_SLOTS);
			if (!w->slot[idx])
				continue;
			slots++;
			expire_slot(w, idx, tick, &examined, &fired);
		}
		w->stats.ticks++;
		w->stats.slots += slots;
		w->stats.examined += examined;
		w->stats.fires += fired;
		if (slots > w->stats.max_tick_slots)
			w->stats.max_tick_slots = slots;
		if (examined - fired > w->stats.max_tick_extra)
			w->stats.max_tick_extra = examined - fired;
		total += fired;
	}
	return total;
}
