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

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	return ti.tcpi_state;
}

/* Re-checks, on our duplicate d, that it is the socket selected: same inode
 * (the fd number may have been closed and reused), same state. */
static bool same_socket(struct cw_reap_item *it, int d)
{
	struct stat st;
	int state;

	if (fstat(d, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_ino != it->sock.inode) {
		it->status = CW_REAP_SKIP_REPLACED;
		it->new_inode = !fstat(d, &st) && S_ISSOCK(st.st_mode) ? (uint32_t)st.st_ino : 0;
		return false;
	}
	state = tcp_state(d);
	if (state != it->sock.state) {
		it->status = CW_REAP_SKIP_CHANGED;
		it->end_state = state > 0 ? (uint8_t)state : 0;
		return false;
	}
	return true;
}

/* The owner's process: one pidfd per owner, the items being sorted by pid. */
struct owner {
	pid_t pid;
	int pidfd;                    /* -errno when pidfd_open failed */
	bool denied;
	struct cw_ptrace_denial denial;
};

static void owner_set(struct owner *o, pid_t pid)
{
	if (o->pid == pid && o->pidfd != -EMFILE)
		return;
	if (o->pidfd >= 0)
		close(o->pidfd);
	o->pid = pid;
	o->pidfd = reap_pidfd_open(pid);
	o->denied = false;
}

/* Duplicates and shuts down one socket; returns our duplicate, -EMFILE when
 * we hold too many already (status untouched), or -1 with the status set. */
static int fin_one(struct cw_reap_item *it, struct owner *o, const struct cw_reap_opts *opts,
		   bool seam)
{
	int d;

	owner_set(o, it->pid);
	if (seam && opts->before_act)
		opts->before_act(it, opts->arg);
	d = o->pidfd >= 0 ? reap_pidfd_getfd(o->pidfd, it->fd) : o->pidfd;
	if (d == -EMFILE)
		return d;
	if (d == -EPERM) {
		if (!o->denied)
			cw_ptrace_explain(o->pid, (uid_t)-1, &o->denial);
		o->denied = true;
		it->status = CW_REAP_FAIL_PTRACE;
		it->denial = o->denial;
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
	if (!same_socket(it, d)) {
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

/* One pass over the sockets still waiting; returns how many still wait. */
static size_t fin_check(struct cw_reap *r, const int *dup)
{
	size_t waiting = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct cw_reap_item *it = &r->items[i];
		struct pollfd p = { .fd = dup[i], .events = 0 };
		int state;

		if (dup[i] < 0 || it->status != CW_REAP_TODO)
			continue;
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
		it->status = poll(&p, 1, 0) == 1 && (p.revents & POLLERR) ? CW_REAP_RESET : CW_REAP_CLEAN;
	}
	return waiting;
}

static void fin_wait(struct cw_reap *r, const int *dup, uint64_t wait_ms)
{
	uint64_t deadline = mono_ms() + wait_ms;
	long pause_us = 200;

	for (;;) {
		uint64_t now;
		struct timespec ts;

		if (!fin_check(r, dup))
			return;
		now = mono_ms();
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
		if (dup[i] >= 0 && r->items[i].status == CW_REAP_TODO)
			r->items[i].status = CW_REAP_FIN_SENT;
}

/* Waits for the answers to the FINs sent so far, then drops our duplicates. */
static void fin_flush(struct cw_reap *r, int *dup, uint64_t wait_ms)
{
	fin_wait(r, dup, wait_ms);
	for (size_t i = 0; i < r->n; i++)
		if (dup[i] >= 0) {
			close(dup[i]);
			dup[i] = -1;
		}
}

int reap_fin_run(struct cw_reap *r, const struct cw_reap_opts *opts)
{
	struct owner o = { .pid = 0, .pidfd = -1 };
	int *dup = malloc(r->n * sizeof(*dup));
	size_t held = 0;

	if (!dup)
		return -ENOMEM;
	for (size_t i = 0; i < r->n; i++)
		dup[i] = -1;
	for (size_t i = 0; i < r->n; i++) {
		struct cw_reap_item *it = &r->items[i];

		if (it->status != CW_REAP_TODO)
			continue;
		dup[i] = fin_one(it, &o, opts, true);
		/* Out of fds (RLIMIT_NOFILE): finish this batch, then go on. */
		if (dup[i] == -EMFILE && held) {
			fin_flush(r, dup, opts->wait_ms);
			held = 0;
			dup[i] = fin_one(it, &o, opts, false);
		}
		if (dup[i] == -EMFILE) {
			it->status = CW_REAP_FAIL_ERROR;
			it->err = -EMFILE;
		}
		if (dup[i] >= 0)
			held++;
		else
			dup[i] = -1;
	}
	if (o.pidfd >= 0)
		close(o.pidfd);
	fin_flush(r, dup, opts->wait_ms);
	free(dup);
	return 0;
}
