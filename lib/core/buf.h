/* Output buffers (private): taken only when a write is partial, given back
 * once drained, so an idle connection holds none and the ping-pong path
 * allocates nothing. Freed buffers are kept per size class for reuse. */
#ifndef CW_BUF_H
#define CW_BUF_H

#include <stddef.h>
#include <stdint.h>

#define BUF_CLASSES 9        /* 4 KiB << 0..8: 4 KiB to 1 MiB */
#define BUF_POOL_KEEP 32     /* most free buffers kept per class */

struct outbuf {
	uint32_t size; /* capacity of data[] */
	uint32_t head; /* first unsent byte */
	uint32_t tail; /* one past the last queued byte */
	uint8_t data[];
};

struct bufpool {
	struct outbuf *free[BUF_CLASSES][BUF_POOL_KEEP];
	unsigned nfree[BUF_CLASSES];
	uint64_t held; /* buffers handed out and not given back */
};

static inline size_t outbuf_len(const struct outbuf *b) { return b ? b->tail - b->head : 0; }
static inline const uint8_t *outbuf_data(const struct outbuf *b) { return b->data + b->head; }

/* Appends len bytes to *bp (taking a buffer if *bp is NULL, growing it if
 * needed). -ENOBUFS if the total would pass cap, -ENOMEM; nothing queued then. */
int outbuf_append(struct bufpool *p, struct outbuf **bp, const void *data, size_t len, size_t cap);
/* Drops n sent bytes; gives the buffer back when it is empty. */
void outbuf_consume(struct bufpool *p, struct outbuf **bp, size_t n);
/* Gives the buffer back whatever it holds. */
void outbuf_release(struct bufpool *p, struct outbuf **bp);
void bufpool_destroy(struct bufpool *p);

#endif
