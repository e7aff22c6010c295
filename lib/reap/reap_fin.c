/* fin mode: duplicate the owner's socket with pidfd_getfd and shutdown() it.
 *
 * Why not inject close() into the owner: that frees the fd number under the
 * program's feet, and its next open() may land on a number it still uses.
 * A duplicate leaves the owner's fd valid; shutdown(SHUT_RDWR) on it acts on
 * the shared socket: tcp_shutdown() moves CLOSE_WAIT to LAST_ACK (ESTABLISHED
 * to FIN_WAIT_1) and sends our FIN. We keep the duplicate until the peer has
 * answered (LAST_ACK -> CLOSE on its ACK, or an RST) or the wait is over.
 *
 * How it ended is read without taking anything from the owner: SO_ERROR
 * would clear sk_err (sock_error() exchanges it with 0) and the owner's next
 * write would then fail with EPIPE instead of ECONNRESET; poll() reports the
 * same sk_err as POLLERR and leaves it (tcp_poll). tcp_reset() sets
 * ECONNRESET in LAST_ACK and FIN_WAIT_*, so POLLERR there means "reset". */
#include "reap_internal.h"
#include "reap_pidfd.h"
#include "clock.h"
#include "util.h"
#include "census/census_lib.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	return ti.tcpi_state;
}

/* Re-checks, on our duplicate, that it is the socket selected: same inode
 * (the fd number may have been closed and reused), same state. */
static bool same_socket(struct cw_reap_item *it, const struct reap_fin_taken *t)
{
	int state;

	if (t->inode != it->sock->inode) {
		it->status = CW_REAP_SKIP_REPLACED;
		it->new_inode = t->inode;
		return false;
	}
	state = tcp_state(t->d);
	if (state != it->sock->state) {
		it->status = CW_REAP_SKIP_CHANGED;
		it->end_state = state > 0 ? (uint8_t)state : 0;
		return false;
	}
	return true;
}

/* Why the last process refused us (explained once per process: it reads /proc). */
struct denied {
	pid_t pid;                    /* 0: none yet */
	struct cw_ptrace_denial denial;
};

/* Judges what reap_fin_take found and, if it is still the socket selected
 * in the state selected, shuts it down. Returns our duplicate, -EMFILE when
 * we hold too many already (status untouched), or -1 with the status set. */
static int fin_send(struct cw_reap_item *it, struct denied *dn, const struct reap_fin_taken *t)
{
	int d = t->d;

	if (d == -EMFILE)
		return d;
	if (d == -EPERM) {
		if (dn->pid != it->pid)
			cw_ptrace_explain(it->pid, (uid_t)-1, &dn->denial);
		dn->pid = it->pid;
		it->status = CW_REAP_FAIL_PTRACE;
		it->denial = dn->denial;
		return -1;
	}
	if (d == -EBADF || d == -ESRCH) { /* fd closed, or the process exited */
		it->status = CW_REAP_SKIP_GONE;
		it->err = d;
		return -1;
	}
	if (d < 0) {
		it->status = CW_REAP_FAIL_ERROR;
		it->err = d;
		return -1;
	}
	if (!same_socket(it, t)) {
		close(d);
		return -1;
	}
	if (shutdown(d, SHUT_RDWR) < 0) {
		it->status = CW_REAP_FAIL_ERROR;
		it->err = -errno;
		close(d);
		return -1;
	}
	return d;
}

/* Our FIN is answered once the socket left the states that wait for its ACK. */
static bool fin_pending(int state)
{
	return state == CW_TCP_LAST_ACK || state == CW_TCP_FIN_WAIT1 || state == CW_TCP_CLOSING;
}

/* The sockets still waiting for the answer to a FIN, from one sock_diag
 * dump (LAST_ACK, FIN_WAIT_1, CLOSING: few, once the peers have answered)
 * rather than a getsockopt per socket. Sorted inodes. */
struct waiting {
	struct waiting_sock {
		uint32_t ino;
		uint8_t state;
	} *v;
	size_t n, cap;
};

static int waiting_add(const struct cw_sock *s, void *arg)
{
	struct waiting *w = arg;
	struct waiting_sock *v = vec_room(w->v, w->n, &w->cap, sizeof(*v), 256);

	if (!v)
		return -ENOMEM;
	w->v = v;
	w->v[w->n++] = (struct waiting_sock){ s->inode, s->state };
	return 0;
}

static int waiting_order(const void *a, const void *b)
{
	uint32_t x = ((const struct waiting_sock *)a)->ino, y = ((const struct waiting_sock *)b)->ino;

	return (x > y) - (x < y);
}

/* Each dump walks the whole established table: only the families asked. */
static int waiting_dump(struct waiting *w, bool v4, bool v6)
{
	uint32_t states = CW_STATE_BIT(CW_TCP_LAST_ACK) | CW_STATE_BIT(CW_TCP_FIN_WAIT1) |
			  CW_STATE_BIT(CW_TCP_CLOSING);
	int err = v4 ? netlink_dump_tcp(AF_INET, states, NULL, waiting_add, w) : 0;

	if (!err && v6)
		err = netlink_dump_tcp(AF_INET6, states, NULL, waiting_add, w);
	if (!err && w->n)
		qsort(w->v, w->n, sizeof(*w->v), waiting_order);
	return err;
}

/* The state of a socket selected in CLOSE_WAIT and shut down by us: LAST_ACK
 * (or whatever the dump saw) while listed, else CLOSE, the only way out of
 * LAST_ACK (ACK, RST or timeout all end in tcp_done()). */
static int waiting_state(const struct waiting *w, uint32_t ino)
{
	struct waiting_sock key = { .ino = ino };
	const struct waiting_sock *hit =
		w->n ? bsearch(&key, w->v, w->n, sizeof(*w->v), waiting_order) : NULL;

	return hit ? hit->state : CW_TCP_CLOSE;
}

/* Answered: reset if the kernel left an error (POLLERR), clean if not.
 * err: poll() failed, so revents says nothing (its 0 would read "clean"). */
static void fin_answered(struct cw_reap_item *it, const struct pollfd *p, int err)
{
	if (err) {
		it->status = CW_REAP_FAIL_ERROR;
		it->err = err;
		return;
	}
	it->status = p->revents & POLLERR ? CW_REAP_RESET : CW_REAP_CLEAN;
}

static int poll_now(struct pollfd *p, size_t n)
{
	int r;

	while ((r = poll(p, n, 0)) < 0 && errno == EINTR)
		;
	return r < 0 ? -errno : 0;
}

/* One pass over the sockets still waiting; returns how many still wait.
 * bulk (the first pass, right after the FINs): one dump gives the state of
 * every socket selected in CLOSE_WAIT, where a getsockopt each would cost
 * more; later passes ask the few still waiting one by one, as a dump walks
 * the whole table however few remain. The answered ones are polled
 * together: one poll() for all of them. */
static size_t fin_check(struct cw_reap *r, const int *dup, bool bulk)
{
	struct waiting w = { 0 };
	uint64_t here = census_own_netns();
	bool v4 = false, v6 = false, dumped = false;
	struct pollfd *p;
	size_t *at, waiting = 0, n = 0, todo = 0;
	int batch_err;

	for (size_t i = 0; i < r->n; i++)
		if (dup[i] >= 0 && r->items[i].status == CW_REAP_TO_REAP) {
			todo++;
			/* The dump sees our namespace only; others are asked one by one. */
			if (r->items[i].sock->netns != here)
				continue;
			v4 |= r->items[i].sock->family == AF_INET;
			v6 |= r->items[i].sock->family == AF_INET6;
		}
	if (bulk && (v4 || v6))
		dumped = !waiting_dump(&w, v4, v6);
	p = malloc((todo ? todo : 1) * sizeof(*p));
	at = malloc((todo ? todo : 1) * sizeof(*at));
	for (size_t i = 0; i < r->n; i++) {
		struct cw_reap_item *it = &r->items[i];
		int state;

		if (dup[i] < 0 || it->status != CW_REAP_TO_REAP)
			continue;
		/* Other states (ESTABLISHED: FIN_WAIT_2 next, or more) are asked. */
		if (dumped && it->sock->state == CW_TCP_CLOSE_WAIT && it->sock->netns == here)
			state = waiting_state(&w, it->sock->inode);
		else
			state = tcp_state(dup[i]);
		if (state < 0) {
			it->status = CW_REAP_FAIL_ERROR;
			it->err = state;
			continue;
		}
		it->end_state = (uint8_t)state;
		if (fin_pending(state)) {
			waiting++;
			continue;
		}
		/* State first, then POLLERR: tcp_reset() sets sk_err before tcp_done(). */
		if (!p || !at) { /* no memory for the batch: this one alone */
			struct pollfd one = { .fd = dup[i], .events = 0 };

			fin_answered(it, &one, poll_now(&one, 1));
			continue;
		}
		p[n] = (struct pollfd){ .fd = dup[i], .events = 0 };
		at[n++] = i;
	}
	/* EINVAL past RLIMIT_NOFILE: one by one. */
	batch_err = n ? poll_now(p, n) : 0;
	for (size_t k = 0; k < n; k++)
		fin_answered(&r->items[at[k]], &p[k], batch_err ? poll_now(&p[k], 1) : 0);
	free(p);
	free(at);
	free(w.v);
	return waiting;
}

static void fin_wait(struct cw_reap *r, const int *dup, uint64_t wait_ms)
{
	uint64_t start = clock_ms(CLOCK_MONOTONIC);
	/* Saturated: a wait of "forever" must not wrap into the past. */
	uint64_t deadline = clock_after(start, wait_ms);
	long pause_us = 200;

	for (bool first = true;; first = false) {
		uint64_t now;
		struct timespec ts;

		if (!fin_check(r, dup, first))
			return;
		now = clock_ms(CLOCK_MONOTONIC);
		if (now >= deadline)
			break;
		/* On a LAN the ACKs come within an RTT: start short, back off. */
		if ((uint64_t)pause_us / 1000 > deadline - now)
			pause_us = (long)(deadline - now) * 1000;
		ts.tv_sec = pause_us / 1000000;
		ts.tv_nsec = pause_us % 1000000 * 1000;
		nanosleep(&ts, NULL);
		pause_us = pause_us * 2 > 50000 ? 50000 : pause_us * 2;
	}
	for (size_t i = 0; i < r->n; i++)
		if (dup[i] >= 0 && r->items[i].status == CW_REAP_TO_REAP)
			r->items[i].status = CW_REAP_FIN_SENT;
}

static int fd_order(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Closes our duplicates: pidfd_getfd hands out the lowest free numbers, so
 * they mostly form runs, each closed with one close_range(). */
static void dups_close(int *dup, size_t n)
{
	int *v = malloc((n ? n : 1) * sizeof(*v));
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (dup[i] >= 0) {
			if (v)
				v[k++] = dup[i];
			else
				close(dup[i]);
			dup[i] = -1;
		}
	if (!v)
		return;
	qsort(v, k, sizeof(*v), fd_order);
	for (size_t a = 0, b; a < k; a = b + 1) {
		for (b = a; b + 1 < k && v[b + 1] == v[b] + 1; b++)
			;
		if (b == a || close_range((unsigned)v[a], (unsigned)v[b], 0) < 0)
			for (size_t j = a; j <= b; j++)
				close(v[j]);
	}
	free(v);
}

/* Waits for the answers to the FINs sent so far, then drops our duplicates. */
static void fin_flush(struct cw_reap *r, int *dup, uint64_t wait_ms)
{
	fin_wait(r, dup, wait_ms);
	dups_close(dup, r->n);
}

struct reap_fin {
	struct cw_reap *r;
	struct reap_how how;
	struct reap_pidfds pidfds;
	struct denied denied;
	int *dup;                     /* per item: our duplicate, or -1 */
	size_t held;
	bool out_of_fds;              /* stopped: nothing more is acted on */
};

int reap_fin_begin(struct cw_reap *r, const struct reap_how *how, struct reap_fin **out)
{
	struct reap_fin *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->dup = malloc((r->n ? r->n : 1) * sizeof(*f->dup));
	if (!f->dup) {
		free(f);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n; i++)
		f->dup[i] = -1;
	f->r = r;
	f->how = *how;
	reap_pidfds_init(&f->pidfds);
	*out = f;
	return 0;
}

void reap_fin_take(struct reap_fin *f, pid_t pid, int fd, struct reap_fin_taken *t)
{
	int pidfd = reap_pidfds_get(&f->pidfds, pid);
	struct stat st;

	t->inode = 0;
	t->d = pidfd >= 0 ? reap_pidfd_getfd(pidfd, fd) : pidfd;
	if (t->d >= 0 && !fstat(t->d, &st) && S_ISSOCK(st.st_mode))
		t->inode = (uint32_t)st.st_ino;
}

/* Keeps the duplicate (or handles running out of fds: finish this batch,
 * then take the socket again). */
static void fin_keep(struct reap_fin *f, size_t i)
{
	struct cw_reap_item *it = &f->r->items[i];

	if (f->dup[i] == -EMFILE && f->held) {
		struct reap_fin_taken t;

		fin_flush(f->r, f->dup, f->how.wait_ms);
		f->held = 0;
		reap_fin_take(f, it->pid, it->fd, &t);
		f->dup[i] = fin_send(it, &f->denied, &t);
	}
	if (f->dup[i] == -EMFILE) {
		/* Out of fds with none of ours left to free: every later socket
		 * would fail the same way. Stop; they stay TO_REAP, not acted on. */
		it->status = CW_REAP_FAIL_ERROR;
		it->err = -EMFILE;
		f->out_of_fds = true;
	}
	if (f->dup[i] >= 0)
		f->held++;
	else
		f->dup[i] = -1;
}

void reap_fin_act_taken(struct reap_fin *f, size_t i, const struct reap_fin_taken *t)
{
	if (f->out_of_fds) {
		if (t->d >= 0)
			close(t->d); /* taken ahead by a walker: not acted on */
		return;
	}
	f->dup[i] = fin_send(&f->r->items[i], &f->denied, t);
	fin_keep(f, i);
}

void reap_fin_act(struct reap_fin *f, size_t i)
{
	struct cw_reap_item *it = &f->r->items[i];
	struct reap_fin_taken t;

	if (it->status != CW_REAP_TO_REAP || f->out_of_fds)
		return;
	if (f->how.seam.before_act)
		f->how.seam.before_act(it, f->how.seam.arg);
	reap_fin_take(f, it->pid, it->fd, &t);
	reap_fin_act_taken(f, i, &t);
}

void reap_fin_end(struct reap_fin *f)
{
	reap_pidfds_close(&f->pidfds);
	fin_flush(f->r, f->dup, f->how.wait_ms);
	free(f->dup);
	free(f);
}

int reap_fin_run(struct cw_reap *r, const struct reap_how *how)
{
	struct reap_fin *f;
	int err = reap_fin_begin(r, how, &f);

	if (err)
		return err;
	for (size_t i = 0; i < r->n; i++)
		reap_fin_act(f, i);
	reap_fin_end(f);
	return 0;
}
