#include "heap.h"

#include <errno.h>
#include <stdlib.h>

int heap_init(struct heap *h, uint32_t cap)
{
	h->a = malloc((size_t)cap * sizeof(*h->a));
	h->n = 0;
	h->cap = cap;
	return h->a ? 0 : -ENOMEM;
}

void heap_destroy(struct heap *h)
{
	free(h->a);
	h->a = NULL;
}

void heap_entry_init(struct heap_entry *e, heap_cb cb)
{
	e->expires = 0;
	e->idx = HEAP_NONE;
	e->cb = cb;
}

static void put(struct heap *h, uint32_t i, struct heap_entry *e)
{
	h->a[i] = e;
	e->idx = i;
}

static void sift_up(struct heap *h, uint32_t i)
{
	struct heap_entry *e = h->a[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (h->a[parent]->expires <= e->expires)
			break;
		put(h, i, h->a[parent]);
		i = parent;
	}
	put(h, i, e);
}

static void sift_down(struct heap *h, uint32_t i)
{
	struct heap_entry *e = h->a[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->a[c + 1]->expires < h->a[c]->expires)
			c++;
		if (e->expires <= h->a[c]->expires)
			break;
		put(h, i, h->a[c]);
		i = c;
	}
	put(h, i, e);
}

void heap_arm(struct heap *h, struct heap_entry *e, uint64_t expires)
{
	if (heap_armed(e)) {
		uint64_t old = e->expires;

		e->expires = expires;
		if (expires < old)
			sift_up(h, e->idx);
		else
			sift_down(h, e->idx);
		return;
	}
	if (h->n == h->cap)
		abort(); /* the benchmark sizes the heap; overflowing it is a bug */
	e->expires = expires;
	put(h, h->n++, e);
	sift_up(h, e->idx);
}

void heap_cancel(struct heap *h, struct heap_entry *e)
{
	uint32_t i = e->idx;
	struct heap_entry *last;

	if (!heap_armed(e))
		return;
	e->idx = HEAP_NONE;
	last = h->a[--h->n];
	if (last == e)
		return;
	/* The last entry fills the hole and moves whichever way it must. */
	put(h, i, last);
	if (i > 0 && h->a[(i - 1) / 2]->expires > last->expires)
		sift_up(h, i);
	else
		sift_down(h, i);
}

uint64_t heap_advance(struct heap *h, uint64_t now)
{
	uint64_t fired = 0;

	while (h->n && h->a[0]->expires <= now) {
		struct heap_entry *e = h->a[0];

		heap_cancel(h, e);
		fired++;
		e->cb(e);
	}
	return fired;
}
