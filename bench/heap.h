/* A binary min-heap of timers, the structure most event loops use (libuv,
 * libevent): the baseline the timing wheel is measured against. Each entry
 * remembers its index, so cancel and re-arm are O(log n) without a search. */
#ifndef BENCH_HEAP_H
#define BENCH_HEAP_H

#include <stdbool.h>
#include <stdint.h>

struct heap_entry;
typedef void (*heap_cb)(struct heap_entry *e);

#define HEAP_NONE UINT32_MAX

struct heap_entry {
	uint64_t expires; /* deadline, in ticks */
	uint32_t idx;     /* position in the heap array; HEAP_NONE when not armed */
	heap_cb cb;       /* run when the entry fires */
};

struct heap {
	struct heap_entry **a; /* a[0] has the earliest deadline */
	uint32_t n, cap;
};

/* cap: most entries that will ever be armed at once (the array never grows). */
int heap_init(struct heap *h, uint32_t cap);
void heap_destroy(struct heap *h);
void heap_entry_init(struct heap_entry *e, heap_cb cb);
static inline bool heap_armed(const struct heap_entry *e) { return e->idx != HEAP_NONE; }
/* Arms e for expires, or moves it there if it is armed. */
void heap_arm(struct heap *h, struct heap_entry *e, uint64_t expires);
void heap_cancel(struct heap *h, struct heap_entry *e);
/* Runs every entry with expires <= now, earliest first; returns how many. */
uint64_t heap_advance(struct heap *h, uint64_t now);

#endif
