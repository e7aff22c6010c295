/* The checker: every interval, the state of each tracked socket through
 * TCP_INFO on one of its fds. A socket in CLOSE_WAIT for the grace period is
 * reported once (and shut down with --cure fin); one that left CLOSE_WAIT
 * starts over. The lock is taken per socket, so the program's accept and
 * close wait for one getsockopt at most. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "closewait/addr.h"
#include "guard.h"

#define TCP_CLOSE_WAIT_STATE 8 /* tcpi_state, as the kernel numbers it */

/* What a report needs, copied under the lock: the report itself is written
 * (and its frames named) outside it. */
struct finding {
	struct gsock s;
	int fd;
	char local[CW_ADDRSTRLEN], peer[CW_ADDRSTRLEN];
};

static void endpoints(int fd, struct finding *f)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);

	strcpy(f->local, "?");
	strcpy(f->peer, "?");
	if (getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		cw_addr_port_str(&a, f->local, sizeof(f->local));
	len = sizeof(a);
	if (getpeername(fd, (struct sockaddr *)&a, &len) == 0)
		cw_addr_port_str(&a, f->peer, sizeof(f->peer));
}

/* Checks one socket (the lock is held); true when it is to be reported now. */
static bool check(struct gsock *s, uint64_t now, struct finding *f)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (s->reported || s->fd < 0)
		return false;
	if (getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) || ti.tcpi_state != TCP_CLOSE_WAIT_STATE) {
		s->cw_since_ms = 0;
		return false;
	}
	if (!s->cw_since_ms)
		/* it entered CLOSE_WAIT when the FIN came: no later than the read
		 * that returned 0, if there was one */
		s->cw_since_ms = s->eof_ms ? s->eof_ms : now;
	if (now - s->cw_since_ms < guard.cfg.grace_ms)
		return false;
	s->reported = true;
	if (!guard_first_report(s->inode))
		return false; /* a parent or child holding it too said it already */
	f->s = *s;
	f->fd = s->fd;
	endpoints(s->fd, f);
	if (guard.cfg.cure_fin && shutdown(s->fd, SHUT_RDWR) == 0) {
		s->cured = true;
		f->s.cured = true;
		guard.cured++;
	}
	guard.reported++;
	return true;
}

#define BATCH 32 /* sockets checked per hold of the lock */

static void move_after(struct gsock *marker, struct gsock *s)
{
	marker->prev->next = marker->next;
	marker->next->prev = marker->prev;
	marker->prev = s;
	marker->next = s->next;
	s->next->prev = marker;
	s->next = marker;
}

/* The checker's alone (one checker per process). */
static struct finding found[BATCH];
static struct gsock marker = { .fd = -1, .reported = true };
static bool marker_linked;

/* Takes the marker out of the list: at the end of a round, and in a forked
 * child, whose copy of the list has it if the fork came between two batches. */
void guard_check_drop_marker(void)
{
	if (marker_linked) {
		marker.prev->next = marker.next;
		marker.next->prev = marker.prev;
		marker_linked = false;
	}
}

void guard_check_once(void)
{
	uint64_t now = guard_now_ms();
	bool done = false;

	/* A marker node keeps the place in the list while the lock is dropped
	 * between batches: sockets come and go around it meanwhile. It is never
	 * checked (reported, no fd) and only the checker walks the list. */
	pthread_mutex_lock(&guard.lock);
	marker.prev = &guard.head;
	marker.next = guard.head.next;
	guard.head.next->prev = &marker;
	guard.head.next = &marker;
	marker_linked = true;
	while (!done) {
		size_t nfound = 0;

		for (int k = 0; k < BATCH; k++) {
			struct gsock *s = marker.next;

			if (s == &guard.head) {
				done = true;
				break;
			}
			move_after(&marker, s);
			if (check(s, now, &found[nfound]))
				nfound++;
		}
		if (done)
			guard_check_drop_marker();
		pthread_mutex_unlock(&guard.lock);
		for (size_t i = 0; i < nfound; i++)
			guard_report_socket(&found[i].s, found[i].fd, found[i].local, found[i].peer, now);
		if (nfound)
			guard_symbols_release();
		if (!done)
			pthread_mutex_lock(&guard.lock);
	}
}

void *guard_checker(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = { guard.cfg.interval_ms / 1000,
				       (long)(guard.cfg.interval_ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		guard_check_once();
	}
	return NULL;
}
