/* Hierarchical hashed timing wheel (private to libclosewait).
 *
 * Non-cascading, in the manner of the Linux timer wheel since 4.8: an entry
 * is placed once, in the level whose range holds its distance, at that level's
 * granularity rounded up, and fires from there. It never moves between levels,
 * so a tick touches only the slots that are due (one per level at most) and
 * every entry it takes out of them fires: examined == fired. The price is
 * lateness: at most one granule of the level, under 1/32 of the distance
 * (256 slots per level, granularity x8 per level). Entries beyond the last
 * level (about 6.2 days at 1 ms ticks) are parked at the horizon and
 * re-inserted when they get there; the stats count those re-insertions.
 */
#ifndef CW_WHEEL_H
#define CW_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WHEEL_LEVELS 8
#define WHEEL_SLOT_BITS 8
#define WHEEL_SLOTS (1u << WHEEL_SLOT_BITS)
#define WHEEL_CLK_SHIFT 3 /* each level is 8x coarser than the one below */

struct wheel_entry;
typedef void (*wheel_cb)(struct wheel_entry *e);

struct wheel_entry {
	struct wheel_entry *next;   /* next in the slot or in the expired list */
	struct wheel_entry **pprev; /* where we are linked from; NULL when not armed */
	uint64_t expires;           /* requested deadline, in ticks */
	wheel_cb cb;                /* run when the entry fires */
};

struct wheel_stats {
	uint64_t arms;          /* wheel_arm calls (arm or re-arm) */
	uint64_t cancels;       /* wheel_cancel calls that unlinked an entry */
	uint64_t fires;         /* callbacks run */
	uint64_t examined;      /* entries taken out of due slots */
	uint64_t reinserted;    /* of those, parked beyond the horizon and put back */
	uint64_t ticks;         /* ticks that had at least one due slot */
	uint64_t slots;         /* due slots visited */
	uint64_t max_tick_slots;  /* most slots visited in one tick (<= WHEEL_LEVELS) */
	uint64_t max_tick_extra;  /* most entries examined but not fired in one tick */
	uint64_t armed;         /* currently armed */
};

struct wheel {
	uint64_t clk; /* next tick to process; everything before it has fired */
	uint64_t next; /* cached wheel_next(): never later than the truth (UINT64_MAX: none) */
	bool next_valid;
	struct wheel_entry *slot[WHEEL_LEVELS * WHEEL_SLOTS];
	uint64_t pending[WHEEL_LEVELS][WHEEL_SLOTS / 64]; /* non-empty slots */
	struct wheel_stats stats;
};

void wheel_init(struct wheel *w, uint64_t now);
void wheel_entry_init(struct wheel_entry *e, wheel_cb cb);
static inline bool wheel_armed(const struct wheel_entry *e) { return e->pprev != NULL; }
/* Arms e to fire at the first processed tick >= expires; re-arms if armed. */
void wheel_arm(struct wheel *w, struct wheel_entry *e, uint64_t expires);
void wheel_cancel(struct wheel *w, struct wheel_entry *e);
/* Earliest tick at which some slot is due, UINT64_MAX when nothing is armed.
 * Cached: it may be early after cancels (a wake-up finds nothing), never late. */
uint64_t wheel_next(struct wheel *w);
/* Runs every entry due at or before now; returns how many fired. */
uint64_t wheel_advance(struct wheel *w, uint64_t now);

#endif
