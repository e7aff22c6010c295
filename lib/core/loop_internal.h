/* What the loop shares with the rest of the library (not public). */
#ifndef CW_LOOP_INTERNAL_H
#define CW_LOOP_INTERNAL_H

#include <stdint.h>
#include <sys/epoll.h>

#include "closewait/loop.h"
#include "wheel.h"

/* Anything registered with epoll starts with this; epoll's data.ptr points to it. */
struct loop_io {
	void (*cb)(struct loop_io *io, uint32_t events);
	int fd;
	uint32_t events; /* interest set now, so unchanged sets cost no syscall */
};

/* Work run after the current batch of events or timers, once nothing refers
 * to the object any more (frees of closed connections). */
struct loop_defer {
	struct loop_defer *next;
	void (*fn)(struct loop_defer *d);
};

int loop_io_add(struct cw_loop *l, struct loop_io *io, int fd, uint32_t events);
int loop_io_mod(struct cw_loop *l, struct loop_io *io, uint32_t events);
void loop_io_del(struct cw_loop *l, struct loop_io *io);
void loop_defer(struct cw_loop *l, struct loop_defer *d);
/* Takes d back if it is still waiting (its owner goes first); else nothing. */
void loop_defer_cancel(struct cw_loop *l, struct loop_defer *d);
struct wheel *loop_wheel(struct cw_loop *l);
/* The wheel's own counters: how much work its ticks did (slots visited,
 * entries examined), which tests and benchmarks bound. */
void loop_wheel_stats(const struct cw_loop *l, struct wheel_stats *out);
/* The shared read buffer: valid until the caller returns to the loop. */
uint8_t *loop_rbuf(struct cw_loop *l, size_t *len);

#endif
