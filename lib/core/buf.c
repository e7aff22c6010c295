#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_SHIFT 12 /* 4 KiB: the smallest class */

/* Size class for n bytes; BUF_CLASSES for sizes past the largest class. */
static unsigned size_class(size_t n)
{
	unsigned c = 0;

	while (c < BUF_CLASSES && ((size_t)1 << (BUF_MIN_SHIFT + c)) < n)
		c++;
	return c;
}

static struct outbuf *take(struct bufpool *p, size_t need)
{
	unsigned c = size_class(need);
	size_t size = c < BUF_CLASSES ? (size_t)1 << (BUF_MIN_SHIFT + c) : need;
	struct outbuf *b;

	if (c < BUF_CLASSES && p->nfree[c])
		b = p->free[c][--p->nfree[c]];
	else if (!(b = malloc(sizeof(*b) + size)))
		return NULL;
	b->size = (uint32_t)size;
	b->head = b->tail = 0;
	p->held++;
	return b;
}

static void give(struct bufpool *p, struct outbuf *b)
{
	unsigned c = size_class(b->size);

	p->held--;
	if (c < BUF_CLASSES && ((size_t)1 << (BUF_MIN_SHIFT + c)) == b->size &&
	    p->nfree[c] < BUF_POOL_KEEP) {
		p->free[c][p->nfree[c]++] = b;
		return;
	}
	free(b);
}

int outbuf_append(struct bufpool *p, struct outbuf **bp, const void *data, size_t len, size_t cap)
{
	struct outbuf *b = *bp;
	size_t queued = outbuf_len(b);

	if (len > cap || queued > cap - len || queued + len > UINT32_MAX)
		return -ENOBUFS;
	if (!b) {
		if (!(b = take(p, len)))
			return -ENOMEM;
		*bp = b;
	} else if (b->size - b->tail < len) {
		if (b->size - queued >= len) {
			/* Room enough once the sent part is dropped. */
			memmove(b->data, b->data + b->head, queued);
		} else {
			struct outbuf *nb = take(p, queued + len);

			if (!nb)
				return -ENOMEM;
			memcpy(nb->data, b->data + b->head, queued);
			give(p, b);
			b = *bp = nb;
		}
		b->head = 0;
		b->tail = (uint32_t)queued;
	}
	memcpy(b->data + b->tail, data, len);
	b->tail += (uint32_t)len;
	return 0;
}

void outbuf_consume(struct bufpool *p, struct outbuf **bp, size_t n)
{
	struct outbuf *b = *bp;

	b->head += (uint32_t)n;
	if (b->head == b->tail)
		outbuf_release(p, bp);
}

void outbuf_release(struct bufpool *p, struct outbuf **bp)
{
	if (*bp)
		give(p, *bp);
	*bp = NULL;
}

void bufpool_destroy(struct bufpool *p)
{
	for (unsigned c = 0; c < BUF_CLASSES; c++)
		while (p->nfree[c])
			free(p->free[c][--p->nfree[c]]);
}
