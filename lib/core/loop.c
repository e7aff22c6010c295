#include "loop_internal.h"
#include "clock.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 1024
/* One read per readable event: large enough that a 64 KiB burst is one read. */
#define LOOP_RBUF_SIZE (64 * 1024)

struct signal_slot {
	cw_signal_cb cb;
	void *arg;
};

struct cw_loop {
	int epfd;
	bool stop;
	uint64_t now;               /* ms, refreshed once per iteration */
	struct wheel wheel;
	struct loop_defer *deferred;
	struct loop_io sigio;       /* signalfd, created on the first cw_loop_signal */
	sigset_t sigmask;           /* the signals the signalfd reads */
	sigset_t blocked;           /* of those, the ones we blocked (cw_loop_free unblocks them) */
	struct signal_slot sig[NSIG];
	struct cw_loop_stats stats; /* the loop's own counters; wheel's are merged on read */
	struct epoll_event events[LOOP_MAX_EVENTS];
	uint8_t rbuf[LOOP_RBUF_SIZE];
};

struct cw_timer {
	struct wheel_entry entry; /* first: the wheel hands us back this pointer */
	struct cw_loop *loop;
	cw_timer_cb cb;
	void *arg;
};

struct cw_io {
	struct loop_io io; /* first: epoll hands us back this pointer */
	struct cw_loop *loop;
	cw_io_cb cb;
	void *arg;
	struct loop_defer defer; /* freed after the batch: an event for it may be pending */
};

int cw_loop_new(struct cw_loop **out)
{
	struct cw_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	l->sigio.fd = -1;
	sigemptyset(&l->sigmask);
	sigemptyset(&l->blocked);
	l->now = clock_ms(CLOCK_MONOTONIC);
	wheel_init(&l->wheel, l->now);
	*out = l;
	return 0;
}

static void run_deferred(struct cw_loop *l);

void cw_loop_free(struct cw_loop *l)
{
	if (!l)
		return;
	run_deferred(l);
	if (l->sigio.fd >= 0) {
		close(l->sigio.fd);
		/* Only what we blocked: a signal the thread had blocked already
		 * (by the application, or by a loop still running) stays so. */
		sigprocmask(SIG_UNBLOCK, &l->blocked, NULL);
	}
	close(l->epfd);
	free(l);
}

uint64_t cw_loop_now(const struct cw_loop *l) { return l->now; }
void cw_loop_stop(struct cw_loop *l) { l->stop = true; }
struct wheel *loop_wheel(struct cw_loop *l) { return &l->wheel; }

uint8_t *loop_rbuf(struct cw_loop *l, size_t *len)
{
	*len = sizeof(l->rbuf);
	return l->rbuf;
}

void loop_defer(struct cw_loop *l, struct loop_defer *d)
{
	d->next = l->deferred;
	l->deferred = d;
}

void loop_defer_cancel(struct cw_loop *l, struct loop_defer *d)
{
	for (struct loop_defer **p = &l->deferred; *p; p = &(*p)->next) {
		if (*p == d) {
			*p = d->next;
			return;
		}
	}
}

static void run_deferred(struct cw_loop *l)
{
	while (l->deferred) {
		struct loop_defer *d = l->deferred;

		l->deferred = d->next;
		d->fn(d);
	}
}

int loop_io_add(struct cw_loop *l, struct loop_io *io, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	l->stats.epoll_ctl++;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	/* Only once registered: on failure the caller closes fd, and io must
	 * not keep a number that is about to be reused. */
	io->fd = fd;
	io->events = events;
	return 0;
}

int loop_io_mod(struct cw_loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (io->events == events)
		return 0;
	l->stats.epoll_ctl++;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno; /* the kernel keeps the old set, and so do we */
	io->events = events;
	return 0;
}

void loop_io_del(struct cw_loop *l, struct loop_io *io)
{
	/* Explicit even though close() would do it: another process may hold a
	 * duplicate of the fd (closewait reap does), and then the registration
	 * would outlive our object. */
	l->stats.epoll_ctl++;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->events = 0;
}

static void on_signalfd(struct loop_io *io, uint32_t events)
{
	struct cw_loop *l = container_of(io, struct cw_loop, sigio);
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int signo = (int)si.ssi_signo;

		if (signo > 0 && signo < NSIG && l->sig[signo].cb)
			l->sig[signo].cb(l, signo, l->sig[signo].arg);
	}
}

int cw_loop_signal(struct cw_loop *l, int signo, cw_signal_cb cb, void *arg)
{
	sigset_t one, before, want;
	bool ours;
	int fd, err;

	if (signo <= 0 || signo >= NSIG || !cb)
		return -EINVAL;
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_BLOCK, &one, &before) < 0)
		return -errno;
	/* Already blocked when we came: not ours to unblock, now or at free. */
	ours = !sigismember(&before, signo);
	want = l->sigmask;
	sigaddset(&want, signo);
	fd = signalfd(l->sigio.fd, &want, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	if (l->sigio.fd < 0) {
		l->sigio.cb = on_signalfd;
		err = loop_io_add(l, &l->sigio, fd, EPOLLIN);
		if (err) {
			close(fd);
			goto fail;
		}
	}
	l->sigmask = want;
	if (ours)
		sigaddset(&l->blocked, signo);
	l->sig[signo].cb = cb;
	l->sig[signo].arg = arg;
	return 0;
fail:
	if (ours)
		sigprocmask(SIG_UNBLOCK, &one, NULL);
	return err;
}

static int wait_timeout(struct cw_loop *l, int timeout_ms)
{
	uint64_t next = wheel_next(&l->wheel), now, wait;

	if (next == UINT64_MAX)
		return timeout_ms;
	now = clock_ms(CLOCK_MONOTONIC); /* callbacks may have taken a while since l->now */
	wait = next > now ? next - now : 0;
	if (wait > INT_MAX)
		wait = INT_MAX;
	if (timeout_ms >= 0 && (uint64_t)timeout_ms < wait)
		return timeout_ms;
	return (int)wait;
}

int cw_loop_run_once(struct cw_loop *l, int timeout_ms)
{
	int n;

	/* Work deferred from outside the loop must not wait for an event. */
	if (l->deferred)
		run_deferred(l);
	n = epoll_wait(l->epfd, l->events, LOOP_MAX_EVENTS, wait_timeout(l, timeout_ms));

	l->stats.iterations++;
	if (n < 0 && errno != EINTR)
		return -errno;
	l->now = clock_ms(CLOCK_MONOTONIC);
	for (int i = 0; i < n; i++) {
		struct loop_io *io = l->events[i].data.ptr;

		io->cb(io, l->events[i].events);
	}
	if (n > 0)
		l->stats.events += (uint64_t)n;
	run_deferred(l);
	wheel_advance(&l->wheel, l->now);
	run_deferred(l);
	return 0;
}

int cw_loop_run(struct cw_loop *l)
{
	l->stop = false;
	while (!l->stop) {
		int err = cw_loop_run_once(l, -1);

		if (err)
			return err;
	}
	return 0;
}

void cw_loop_stats(const struct cw_loop *l, struct cw_loop_stats *out)
{
	const struct wheel_stats *w = &l->wheel.stats;

	*out = l->stats;
	out->timer_arms = w->arms;
	out->timer_cancels = w->cancels;
	out->timer_fires = w->fires;
	out->timers_armed = w->armed;
}

void loop_wheel_stats(const struct cw_loop *l, struct wheel_stats *out)
{
	*out = l->wheel.stats;
}

static void timer_fire(struct wheel_entry *e)
{
	struct cw_timer *t = (struct cw_timer *)e;

	t->cb(t, t->arg);
}

int cw_timer_new(struct cw_loop *l, cw_timer_cb cb, void *arg, struct cw_timer **out)
{
	struct cw_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	wheel_entry_init(&t->entry, timer_fire);
	t->loop = l;
	t->cb = cb;
	t->arg = arg;
	*out = t;
	return 0;
}

void cw_timer_free(struct cw_timer *t)
{
	if (!t)
		return;
	cw_timer_stop(t);
	free(t);
}

void cw_timer_start(struct cw_timer *t, uint64_t after_ms)
{
	uint64_t now = t->loop->now;

	/* Saturate: "forever" must not wrap into the past. */
	wheel_arm(&t->loop->wheel, &t->entry, clock_after(now, after_ms));
}

void cw_timer_stop(struct cw_timer *t)
{
	wheel_cancel(&t->loop->wheel, &t->entry);
}

static void io_fire(struct loop_io *io, uint32_t events)
{
	struct cw_io *w = (struct cw_io *)io;

	if (w->cb)
		w->cb(w, events, w->arg);
}

static void io_free(struct loop_defer *d)
{
	free(container_of(d, struct cw_io, defer));
}

int cw_io_new(struct cw_loop *l, int fd, uint32_t events, cw_io_cb cb, void *arg,
	      struct cw_io **out)
{
	struct cw_io *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->io.cb = io_fire;
	w->loop = l;
	w->cb = cb;
	w->arg = arg;
	err = loop_io_add(l, &w->io, fd, events);
	if (err) {
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

int cw_io_set(struct cw_io *w, uint32_t events)
{
	return loop_io_mod(w->loop, &w->io, events);
}

void cw_io_free(struct cw_io *w)
{
	if (!w)
		return;
	loop_io_del(w->loop, &w->io);
	w->cb = NULL; /* an event of this batch may still name it */
	w->defer.fn = io_free;
	loop_defer(w->loop, &w->defer);
}
