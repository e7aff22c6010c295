/* cw_loop: the epoll reactor every closewait object runs on.
 *
 *	static void on_term(struct cw_loop *loop, int signo, void *arg) { cw_loop_stop(loop); }
 *	static void on_tick(struct cw_timer *t, void *arg) { cw_timer_start(t, 1000); }
 *
 *	struct cw_loop *loop;
 *	struct cw_timer *tick;
 *	int err = cw_loop_new(&loop);           // 0 or -errno, like every call here
 *
 *	if (err)
 *		return err;
 *	err = cw_loop_signal(loop, SIGTERM, on_term, NULL);
 *	if (!err)
 *		err = cw_timer_new(loop, on_tick, NULL, &tick);
 *	if (!err) {
 *		cw_timer_start(tick, 1000);      // on_tick in 1 s, and every second after
 *		err = cw_loop_run(loop);         // until SIGTERM
 *		cw_timer_free(tick);
 *	}
 *	cw_loop_free(loop);
 *
 * One loop per thread (or per worker process). It owns the epoll set, a
 * millisecond monotonic clock read once per iteration, the timing wheel that
 * drives every timeout, one read buffer that connections share (a connection
 * holds no input buffer of its own) and a signalfd for the signals asked for.
 * All functions that can fail return 0 or -errno; none prints, none exits.
 */
#ifndef CLOSEWAIT_LOOP_H
#define CLOSEWAIT_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h> /* EPOLLIN, EPOLLOUT for cw_io */

#pragma GCC visibility push(default)

struct cw_loop;
struct cw_timer;
struct cw_io;

typedef void (*cw_timer_cb)(struct cw_timer *timer, void *arg);
typedef void (*cw_signal_cb)(struct cw_loop *loop, int signo, void *arg);
typedef void (*cw_io_cb)(struct cw_io *io, uint32_t events, void *arg);

struct cw_loop_stats {
	uint64_t iterations;      /* epoll_wait calls */
	uint64_t events;          /* events epoll_wait returned */
	uint64_t epoll_ctl;       /* epoll_ctl calls (add, modify, delete) */
	uint64_t timer_arms;      /* timers armed or re-armed */
	uint64_t timer_cancels;   /* armed timers cancelled */
	uint64_t timer_fires;     /* timer callbacks run */
	uint64_t timers_armed;    /* armed right now */
};

/* Creates a loop. The clock starts at an arbitrary origin. 0; -ENOMEM, or
 * -errno of epoll_create1 (-EMFILE...). */
int cw_loop_new(struct cw_loop **out);
/* Frees the loop (NULL: nothing); every object created on it must be freed
 * first. Unblocks the signals its cw_loop_signal calls blocked (see there). */
void cw_loop_free(struct cw_loop *loop);
/* Runs until cw_loop_stop(). 0 once stopped; -errno if epoll_wait fails
 * (an interrupted wait, EINTR, is not a failure). */
int cw_loop_run(struct cw_loop *loop);
/* One iteration: waits at most timeout_ms (-1: until the next timer or
 * event), then runs what is ready. 0, or -errno if epoll_wait fails. */
int cw_loop_run_once(struct cw_loop *loop, int timeout_ms);
/* Makes cw_loop_run() return after the current iteration. */
void cw_loop_stop(struct cw_loop *loop);
/* Monotonic milliseconds, read once per iteration (no syscall: vDSO). */
uint64_t cw_loop_now(const struct cw_loop *loop);
/* Blocks signo for the calling thread and delivers it through the loop's
 * signalfd. The thread's signal mask afterwards:
 *  - signo was unblocked when this was called: the loop blocked it and
 *    cw_loop_free unblocks it. Blocking it yourself in between changes
 *    nothing (one bit cannot say who set it): block it again after
 *    cw_loop_free, or before this call, to keep it blocked.
 *  - signo was blocked already (by the application, or by another loop of
 *    this thread): it stays blocked after cw_loop_free. So loops sharing a
 *    signal on one thread must be freed in reverse order of their calls.
 *  - on failure the mask is as it was before the call.
 * Call cw_loop_free on the thread that called this: masks are per thread.
 * 0; -EINVAL for a signal number out of range or no cb; else -errno of
 * sigprocmask, signalfd or epoll_ctl. */
int cw_loop_signal(struct cw_loop *loop, int signo, cw_signal_cb cb, void *arg);
/* The loop's counters so far, into *out. */
void cw_loop_stats(const struct cw_loop *loop, struct cw_loop_stats *out);

/* A one-shot timer on the loop's wheel, not armed yet; re-start it from its
 * callback to repeat. 0 or -ENOMEM. */
int cw_timer_new(struct cw_loop *loop, cw_timer_cb cb, void *arg, struct cw_timer **out);
/* Stops and frees it (NULL: nothing); allowed from its own callback. */
void cw_timer_free(struct cw_timer *timer);
/* (Re)arms to fire after_ms from the loop's current time; never early. */
void cw_timer_start(struct cw_timer *timer, uint64_t after_ms);
/* Disarms it; nothing if it is not armed. */
void cw_timer_stop(struct cw_timer *timer);

/* Watches an fd the caller owns (EPOLLIN, EPOLLOUT... level-triggered).
 * 0; -ENOMEM, or -errno of epoll_ctl (-EEXIST: the fd is watched already;
 * -EPERM: a regular file, which epoll cannot watch). */
int cw_io_new(struct cw_loop *loop, int fd, uint32_t events, cw_io_cb cb, void *arg,
	      struct cw_io **out);
/* Changes the interest set; no syscall when it is unchanged. 0, or -errno
 * of epoll_ctl (the old set stays). */
int cw_io_set(struct cw_io *io, uint32_t events);
/* Stops watching and frees the watcher (NULL: nothing); the fd stays open.
 * Allowed from its own callback. */
void cw_io_free(struct cw_io *io);

#pragma GCC visibility pop
#endif
