/* A connection's deadlines: one timer per connection, armed at the earliest
 * deadline of the policy and re-checked lazily when it fires (activity only
 * moves time stamps), plus heartbeats and write-stall checks. */
#include "conn_internal.h"
#include "clock.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "closewait/addr.h"
#include "closewait/sockopt.h"
#include "tcpinfo.h"

enum deadline_kind { DL_CLOSE, DL_HEARTBEAT, DL_STALL_CHECK, DL_FINAL };

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Deadlines saturate: a duration of "forever" must not wrap into the past. */

/* While output is queued, write stalls are checked four times per period,
 * so a drain of the kernel's queue is seen within a quarter of it. */
static uint64_t stall_step(const struct cw_policy *p)
{
	return p->write_stall_ms >= 4 ? p->write_stall_ms / 4 : 1;
}

/* The earliest deadline of the policy for c, what it means, UINT64_MAX if none.
 * Activity only moves stamps; this is re-evaluated when the timer fires. */
static uint64_t conn_deadline(const struct cw_conn *c, enum cw_close_reason *reason, int *kind)
{
	const struct cw_policy *p = c->owner->policy;
	uint64_t best = UINT64_MAX;

#define CONSIDER(t, r, k)                                                                          \
	do {                                                                                       \
		if ((t) < best) {                                                                  \
			best = (t);                                                                \
			*reason = (r);                                                             \
			*kind = (k);                                                               \
		}                                                                                  \
	} while (0)

	if (c->state == CONN_FLUSH || c->state == CONN_LINGER) {
		CONSIDER(clock_after(c->since, p->linger_ms), CW_CLOSE_LOCAL, DL_FINAL);
		return best;
	}
	if (c->state != CONN_OPEN)
		return best;
	if (p->idle_ms)
		CONSIDER(clock_after(max_u64(c->last_read, c->last_write), p->idle_ms), CW_CLOSE_IDLE, DL_CLOSE);
	if (p->read_idle_ms && !(c->flags & CONN_F_PEER_FIN))
		CONSIDER(clock_after(c->last_read, p->read_idle_ms), CW_CLOSE_READ_IDLE, DL_CLOSE);
	if (p->write_stall_ms && c->out)
		CONSIDER(clock_after(c->stall_check, stall_step(p)), CW_CLOSE_WRITE_STALL, DL_STALL_CHECK);
	if (p->heartbeat_ms && !c->out && !(c->flags & CONN_F_PEER_FIN))
		CONSIDER(clock_after(c->last_write, p->heartbeat_ms), CW_CLOSE_LOCAL, DL_HEARTBEAT);
	/* After the peer's FIN, CLOSE_WAIT is bounded. We read on to the EOF
	 * (and then close) whenever nothing is queued, so what can hold us is
	 * queued output the peer does not take: half_close_ms without progress
	 * ends it. A peer that half-closes and reads its reply slowly is
	 * served; one that never reads is cut off (HAProxy's client-fin). */
	if ((c->flags & CONN_F_PEER_FIN) && c->out)
		CONSIDER(clock_after(max_u64(c->since, c->last_write), p->half_close_ms),
			 CW_CLOSE_HALF_CLOSE_TIMEOUT, DL_CLOSE);
#undef CONSIDER
	return best;
}

/* Arms the timer only when a deadline came earlier than the armed one; a
 * later deadline is found lazily when the timer fires. */
void conn_schedule(struct cw_conn *c)
{
	enum cw_close_reason r;
	int k;
	uint64_t dl = conn_deadline(c, &r, &k);

	if (dl == UINT64_MAX)
		return;
	if (!wheel_armed(&c->timer) || dl < c->timer.expires)
		wheel_arm(loop_wheel(conn_loop(c)), &c->timer, dl);
}

static uint32_t kernel_outq(const struct cw_conn *c)
{
	int n = 0;

	return ioctl(c->io.fd, SIOCOUTQ, &n) == 0 && n > 0 ? (uint32_t)n : 0;
}

/* Output made progress (or began to queue): the write-stall clock restarts.
 * With a write-stall policy the kernel's send queue is noted too, so a
 * check can tell whether the kernel kept delivering to the peer while our
 * own queue waited: that is progress as well. Only under backpressure. */
void stamp_write(struct cw_conn *c)
{
	c->last_write = conn_now(c);
	if (c->owner->policy->write_stall_ms && c->out) {
		c->outq = kernel_outq(c);
		c->stall_check = c->last_write;
	}
}

/* A write-stall check: progress if the kernel's queue shrank since the last
 * one; the end once a whole period passed without any. So a connection ends
 * between 1 and 1.25 periods after its output stopped draining, never sooner. */
static void stall_check(struct cw_conn *c)
{
	uint64_t now = conn_now(c);
	uint32_t q = kernel_outq(c);

	if (q < c->outq)
		c->last_write = now;
	c->outq = q;
	c->stall_check = now;
	if (now - c->last_write >= c->owner->policy->write_stall_ms)
		conn_end(c, CW_CLOSE_WRITE_STALL, 0);
}

static void conn_heartbeat(struct cw_conn *c)
{
	const struct cw_policy *p = c->owner->policy;

	/* Stamp first: a beat that cannot even be queued must not spin. */
	c->last_write = conn_now(c);
	if (cw_conn_write(c, p->heartbeat, p->heartbeat_len) == 0)
		c->owner->stats.heartbeats++;
}

void conn_on_timer(struct wheel_entry *e)
{
	struct cw_conn *c = container_of(e, struct cw_conn, timer);
	uint64_t now = conn_now(c);

	while (c->state != CONN_DEAD) {
		enum cw_close_reason r = CW_CLOSE_LOCAL;
		int kind = DL_CLOSE;
		uint64_t dl = conn_deadline(c, &r, &kind);

		if (dl == UINT64_MAX)
			return;
		if (dl > now) {
			wheel_arm(loop_wheel(conn_loop(c)), &c->timer, dl);
			return;
		}
		if (kind == DL_FINAL)
			conn_release(c); /* linger or flush time is up */
		else if (kind == DL_HEARTBEAT)
			conn_heartbeat(c);
		else if (kind == DL_STALL_CHECK)
			stall_check(c);
		else
			conn_end(c, r, 0);
	}
}
