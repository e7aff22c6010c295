/* The checker: every interval, the state of each tracked socket. A socket in
 * CLOSE_WAIT for the grace period is reported once (and shut down with
 * --cure fin); one that left CLOSE_WAIT starts over. The states come from one
 * getsockopt(TCP_INFO) per socket, or, when the process tracks so many that
 * this costs more, from one sock_diag dump per family that the kernel filters
 * to CLOSE_WAIT (guard_diag.c), matched by inode. The lock is taken per batch
 * of sockets, so the program's accept and close wait for one batch at most. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "closewait/addr.h"
#include "closewait/census.h"
#include "guard.h"

#define TCP_CLOSE_WAIT_STATE 8 /* tcpi_state, as the kernel numbers it */

/* What a report needs, copied under the lock: the report itself is written
 * (and its frames named) outside it. */
struct finding {
	struct gsock s;
	int fd;
	char local[CW_ADDRSTRLEN], peer[CW_ADDRSTRLEN];
};

/* How the states are read, and what each way has cost. The checker's alone;
 * a forked child starts over (guard_check_forked). */
enum { CG_UNKNOWN, CG_NONE, CG_FILTER, CG_OFF };

static struct {
	/* this round, when it dumped: the inodes tracked when it began, sorted,
	 * and which of them the dump found in CLOSE_WAIT */
	uint64_t *inos;
	uint8_t *cw;
	size_t n, cap;
	bool dumped;
	/* costs (ns of the checker's CPU, which counts the kernel's work in its
	 * system calls and not the time it waited for a CPU), moving averages:
	 * a TCP_INFO round per socket, a dump round */
	uint64_t info_ns, dump_ns;
	unsigned since_other; /* rounds since the way not chosen was last measured */
	unsigned other_every; /* ...and how many it waits: 1, 2, 4... REMEASURE */
	bool broken;          /* dumps failed: TCP_INFO from now on */
	/* the cgroup filter: the process's cgroup id, used once a dump without
	 * it has shown every tracked socket in that cgroup */
	int cg;
	uint64_t cgroup;
	unsigned dumps;
} ways;

/* Below this many sockets a dump never pays: it walks the host's whole
 * socket table (milliseconds) where TCP_INFO takes about 2 us a socket. */
#define DUMP_FLOOR 256
/* The way not chosen is measured again after 1, 2, 4... rounds, then every
 * REMEASURE rounds: one early sample does not decide for long. Every so many
 * dumps one goes without the cgroup filter to check it still holds. */
#define REMEASURE 64
#define CG_RECHECK 8
#define INFO_NS_PRIOR 2000

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

static int cmp_ino(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The slot of an inode in this round's snapshot, or -1 when it was
 * tracked after the snapshot was taken. */
static ptrdiff_t snapshot_find(uint64_t inode)
{
	const uint64_t *hit = bsearch(&inode, ways.inos, ways.n, sizeof(*ways.inos), cmp_ino);

	return hit ? hit - ways.inos : -1;
}

/* 1 in CLOSE_WAIT, 0 not, -1 not known this round (lock held). */
static int in_close_wait(const struct gsock *s)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	ptrdiff_t i;

	if (!ways.dumped)
		return !getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) &&
		       ti.tcpi_state == TCP_CLOSE_WAIT_STATE;
	/* a socket tracked after the round began waits for the next one */
	i = snapshot_find(s->inode);
	return i < 0 ? -1 : ways.cw[i];
}

/* Checks one socket (the lock is held); true when it is to be reported now. */
static bool check(struct gsock *s, uint64_t now, struct finding *f)
{
	int cw;

	if (s->reported || s->fd < 0)
		return false;
	cw = in_close_wait(s);
	if (cw < 0)
		return false;
	if (!cw) {
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

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void average(uint64_t *avg, uint64_t sample)
{
	*avg = *avg ? (*avg * 3 + sample) / 4 : sample;
}

/* Whether this round dumps: as set (dump_above), else the cheaper way by
 * what each has cost, measuring a dump the first time it could pay. */
static bool want_dump(size_t live)
{
	bool cheaper;

	if (ways.broken)
		return false;
	if (guard.cfg.dump_above >= 0)
		return live > (size_t)guard.cfg.dump_above;
	if (live < DUMP_FLOOR)
		return false;
	if (!ways.dump_ns)
		return true;
	cheaper = live * (ways.info_ns ? ways.info_ns : INFO_NS_PRIOR) > ways.dump_ns;
	if (++ways.since_other >= ways.other_every) {
		ways.since_other = 0;
		if (ways.other_every < REMEASURE)
			ways.other_every = ways.other_every ? ways.other_every * 2 : 1;
		return !cheaper;
	}
	return cheaper;
}

static int mark(const struct cw_sock *cs, void *arg)
{
	ptrdiff_t i = snapshot_find(cs->inode);

	(void)arg;
	if (i < 0)
		return 0;
	if (cs->state == CW_TCP_CLOSE_WAIT)
		ways.cw[i] = 1;
	/* one of ours in another cgroup (accepted from a listener an other
	 * process made, as with socket activation): the filter would miss it */
	if (ways.cg == CG_UNKNOWN || ways.cg == CG_FILTER)
		if (cs->cgroup_id != ways.cgroup)
			ways.cg = CG_OFF;
	return 0;
}

/* Takes the tracked inodes and dumps (the lock is not held). false when this
 * round must ask each socket instead. */
static bool dump_round(void)
{
	size_t want = __atomic_load_n(&guard.live, __ATOMIC_RELAXED) + 64;
	bool filter, check;
	int err;

	if (want > ways.cap) {
		uint64_t *inos = realloc(ways.inos, want * sizeof(*inos));
		uint8_t *cw = inos ? realloc(ways.cw, want) : NULL;

		if (inos)
			ways.inos = inos;
		if (!cw)
			return false;
		ways.cw = cw;
		ways.cap = want;
	}
	ways.n = 0;
	pthread_mutex_lock(&guard.lock);
	for (struct gsock *s = guard.head.next; s != &guard.head && ways.n < ways.cap; s = s->next)
		if (!s->reported && s->fd >= 0)
			ways.inos[ways.n++] = s->inode;
	pthread_mutex_unlock(&guard.lock);
	qsort(ways.inos, ways.n, sizeof(*ways.inos), cmp_ino);
	memset(ways.cw, 0, ways.n);
	if (ways.cg == CG_UNKNOWN) {
		ways.cgroup = guard_own_cgroup();
		if (!ways.cgroup)
			ways.cg = CG_NONE;
	}
	/* The first dump and every CG_RECHECK-th read the sockets in every
	 * state without the filter, to see that all the tracked ones are in the
	 * process's cgroup; the others read CLOSE_WAIT of that cgroup only. */
	filter = ways.cg == CG_FILTER && ways.dumps % CG_RECHECK;
	check = (ways.cg == CG_UNKNOWN || ways.cg == CG_FILTER) && !filter;
	ways.dumps++;
	err = guard_diag_dump(check ? 0 : CW_STATE_BIT(CW_TCP_CLOSE_WAIT), filter ? ways.cgroup : 0,
			      mark, NULL);
	if (err == -EINVAL && filter) {
		/* a kernel without socket cgroup data refuses the condition */
		ways.cg = CG_OFF;
		memset(ways.cw, 0, ways.n);
		filter = false;
		err = guard_diag_dump(CW_STATE_BIT(CW_TCP_CLOSE_WAIT), 0, mark, NULL);
	}
	if (err) {
		ways.broken = true;
		return false;
	}
	if (check && ways.cg == CG_UNKNOWN)
		ways.cg = CG_FILTER;
	if (filter)
		__atomic_add_fetch(&guard.filtered_checks, 1, __ATOMIC_RELAXED);
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

static void drop_marker(void)
{
	if (marker_linked) {
		marker.prev->next = marker.next;
		marker.next->prev = marker.prev;
		marker_linked = false;
	}
}

/* In a forked child (the lock held): the child's copy of the list has the
 * marker if the fork came between two batches, and the child measures its
 * own costs and cgroup. */
void guard_check_forked(void)
{
	drop_marker();
	ways.since_other = ways.other_every = 0;
	ways.broken = false;
	ways.cg = CG_UNKNOWN;
	ways.dumps = 0;
}

void guard_check_once(void)
{
	uint64_t now = guard_now_ms(), t0 = cpu_ns(), spent = 0, t;
	size_t live = __atomic_load_n(&guard.live, __ATOMIC_RELAXED), walked = 0;
	bool done = false;

	ways.dumped = want_dump(live) && dump_round();
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
			walked++;
			if (check(s, now, &found[nfound]))
				nfound++;
		}
		if (done)
			drop_marker();
		pthread_mutex_unlock(&guard.lock);
		t = cpu_ns();
		spent += t - t0;
		for (size_t i = 0; i < nfound; i++)
			guard_report_socket(&found[i].s, found[i].fd, found[i].local, found[i].peer, now);
		if (nfound)
			guard_symbols_release();
		t0 = cpu_ns();
		if (!done)
			pthread_mutex_lock(&guard.lock);
	}
	/* the cost of reading states, reports left out */
	if (ways.dumped)
		average(&ways.dump_ns, spent);
	else if (walked)
		average(&ways.info_ns, spent / walked);
	__atomic_add_fetch(&guard.checks, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&guard.check_us, spent / 1000, __ATOMIC_RELAXED);
	if (ways.dumped)
		__atomic_add_fetch(&guard.dump_checks, 1, __ATOMIC_RELAXED);
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
