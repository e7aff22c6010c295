/* How long a socket has been in its state, from what the kernel reports.
 * Pure: no I/O. The rules, checked on Linux 6.18 (see docs/scan.md):
 * - tcp_info lastrcv (tcpi_last_data_recv) is refreshed only by segments
 *   carrying data (tcp_event_data_recv); a bare FIN is not data, so lastrcv
 *   is an upper bound of the time since the FIN.
 * - lastack (tcpi_last_ack_recv, tp->rcv_tstamp) is refreshed by every ACK
 *   that is not older than snd_una (tcp_ack). The FIN carries one, so
 *   lastack <= age, with equality unless an ACK followed: one for data we
 *   wrote after the FIN, or an answer to a keepalive probe.
 * - Neither a pure ACK nor a keepalive probe of ours refreshes lastsnd
 *   (tcpi_last_data_sent, tp->lsndtime is set only by data segments). */
#include "closewait/census_types.h"
#include "census_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Our last data must predate the last ACK by this much for that ACK not to
 * be the answer to it: a delayed ACK comes within 200 ms (TCP_DELACK_MAX),
 * plus a few RTTs for the segment to travel. */
#define DATA_ACK_MARGIN_MS 1000u

/* Could an ACK have followed the FIN? See the rules above. */
static bool ack_after_fin_possible(const struct cw_sock *s)
{
	uint64_t margin = DATA_ACK_MARGIN_MS + (uint64_t)s->rtt_us * 4 / 1000;

	/* Data written after the FIN (to a half-closed peer) is acknowledged. */
	if (s->lastsnd_ms == CW_MS_UNKNOWN || (uint64_t)s->lastsnd_ms < s->lastack_ms + margin)
		return true;
	switch (s->timer) {
	case CW_SOCK_TIMER_NONE:
		return false; /* no SO_KEEPALIVE: no probe, hence no answer */
	case CW_SOCK_TIMER_KEEPALIVE:
		/* tcp_keepalive_timer probes only once nothing was received for
		 * keepidle; until a probe is answered the timer is due at most
		 * keepidle after the last ACK, so keepidle >= timer + lastack.
		 * If even the upper bound of the age is below that, no probe can
		 * have gone out since the FIN. (This assumes keepintvl <= keepidle,
		 * as the defaults 75 s and 7200 s are: the kernel does not report
		 * either to sock_diag.) */
		return (uint64_t)s->lastrcv_ms >= (uint64_t)s->timer_ms + s->lastack_ms;
	default:
		return true; /* retransmitting or probing a zero window: ACKs come back */
	}
}

void cw_sock_age(const struct cw_sock *s, struct cw_age *a)
{
	memset(a, 0, sizeof(*a));
	if (s->state == CW_TCP_CLOSE_WAIT && s->has_entry_age) {
		a->known = a->exact = true;
		a->min_ms = a->max_ms = s->entry_age_ms;
		return;
	}
	if (s->state == CW_TCP_TIME_WAIT && s->timer == CW_SOCK_TIMER_TIMEWAIT) {
		/* inet_twsk_schedule(tw, TCP_TIMEWAIT_LEN): the timer started at entry. */
		uint32_t left = s->timer_ms < CW_TIME_WAIT_MS ? s->timer_ms : CW_TIME_WAIT_MS;

		a->known = a->exact = true;
		a->min_ms = a->max_ms = CW_TIME_WAIT_MS - left;
		return;
	}
	if (s->state != CW_TCP_CLOSE_WAIT || !s->has_info || s->lastack_ms == CW_MS_UNKNOWN)
		return;
	a->known = true;
	a->min_ms = s->lastack_ms;
	a->max_ms = s->lastrcv_ms > s->lastack_ms ? s->lastrcv_ms : s->lastack_ms;
	if (a->max_ms - a->min_ms < CW_AGE_EXACT_MS) {
		a->exact = true;
	} else if (!ack_after_fin_possible(s)) {
		a->exact = true; /* the last ACK is the FIN's own */
		a->max_ms = a->min_ms;
	}
}

static int by_inode(const void *a, const void *b)
{
	const struct cw_entry_time *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

int census_entry_ages(struct cw_census *c, const struct cw_entry_time *t, size_t n)
{
	const uint64_t dump_ns = c->mono_ms * 1000000u;
	struct cw_entry_time *v, key = { 0 };

	if (!n)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memcpy(v, t, n * sizeof(*v));
	qsort(v, n, sizeof(*v), by_inode);
	for (size_t i = 0; i < c->n; i++) {
		struct cw_sock *s = &c->socks[i];
		const struct cw_entry_time *e;

		if (s->state != CW_TCP_CLOSE_WAIT || !s->inode)
			continue;
		key.inode = s->inode;
		e = bsearch(&key, v, n, sizeof(*v), by_inode);
		if (!e)
			continue;
		/* an entry after the dump began (the caller read its source late):
		 * the socket was dumped in CLOSE_WAIT, so it is new */
		s->entry_age_ms = e->mono_ns < dump_ns ? (dump_ns - e->mono_ns) / 1000000u : 0;
		s->has_entry_age = true;
	}
	free(v);
	return 0;
}
