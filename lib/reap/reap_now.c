/* reap --yes in fin mode: select and act in one pass. The /proc walk that
 * finds owners takes about as long as the FINs themselves (a readlinkat per
 * fd of every process read, a few µs each), so it runs in the background
 * and each selected socket is acted on as soon as its owner is found: the
 * walk and the FINs overlap on two cores instead of following each other.
 *
 * The split: the walker that finds a socket's first owner claims the item,
 * calls the test seam, duplicates the socket and reads its inode (the first
 * half of acting, reap_fin_take); the calling thread judges that, re-checks
 * the state and sends the FIN (reap_fin_act_taken). Each item is claimed
 * once, so the queue between them never holds more than the items: it is
 * allocated whole before the walk. Every owner found reaches the sink, so a
 * socket no walker claimed has none: reap_select_finish() fails it (or, under
 * --pid, drops it: that process does not hold it). */
#include "reap_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "census/census_lib.h"
#include "reap_pidfd.h"

struct taken {
	size_t item;
	struct reap_fin_taken t;
};

/* The owners' pidfds, shared by the walkers (under the queue's lock). */
struct pidfds {
	struct pidfd_of {
		pid_t pid;
		int fd;               /* -errno when pidfd_open failed */
	} *v;
	size_t n, cap;
};

struct hitq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct taken *v;              /* one slot per item */
	size_t n;
	bool done;
	struct pidfds pf;
	/* read-only during the walk, but for the claims */
	struct cw_reap *r;
	const size_t *item_of;        /* census index -> item index, or SIZE_MAX */
	_Atomic uint8_t *claimed;     /* per item: a walker took it */
	const struct cw_reap_opts *o;
};

/* pid's pidfd (or -errno); *ours: not kept in the table (no memory), so
 * the caller closes it. */
static int pidfd_of(struct pidfds *pf, pid_t pid, bool *ours)
{
	int fd;

	*ours = false;
	for (size_t k = pf->n; k-- > 0;)
		if (pf->v[k].pid == pid)
			return pf->v[k].fd;
	fd = reap_pidfd_open(pid);
	if (pf->n == pf->cap) {
		size_t cap = pf->cap ? pf->cap * 2 : 16;
		struct pidfd_of *v = realloc(pf->v, cap * sizeof(*v));

		if (!v) {
			*ours = true;
			return fd;
		}
		pf->v = v;
		pf->cap = cap;
	}
	pf->v[pf->n++] = (struct pidfd_of){ pid, fd };
	return fd;
}

static void pidfds_close(struct pidfds *pf)
{
	for (size_t k = 0; k < pf->n; k++)
		if (pf->v[k].fd >= 0)
			close(pf->v[k].fd);
	free(pf->v);
}

/* A walker found an owner: the first one found for a selected socket still
 * to act on claims it and takes the socket. */
static void q_hit(const struct procfd_hit *h, void *arg)
{
	struct hitq *q = arg;
	size_t i = q->item_of[h->idx];
	struct cw_reap_item *it;
	struct taken e;
	int pidfd;
	bool ours;

	/* Items not to act on were claimed before the walk began. */
	if (i == SIZE_MAX || atomic_exchange(&q->claimed[i], 1))
		return;
	it = &q->r->items[i];
	it->pid = h->pid;
	it->fd = h->fd;
	if (q->o->before_act)
		q->o->before_act(it, q->o->arg);
	pthread_mutex_lock(&q->lock);
	pidfd = pidfd_of(&q->pf, h->pid, &ours);
	pthread_mutex_unlock(&q->lock);
	e.item = i;
	reap_fin_take(pidfd, h->fd, &e.t);
	if (ours && pidfd >= 0)
		close(pidfd);
	pthread_mutex_lock(&q->lock);
	q->v[q->n++] = e;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

static void q_done(void *arg)
{
	struct hitq *q = arg;

	pthread_mutex_lock(&q->lock);
	q->done = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* Acts on what the walkers took, as it comes, until the walk has ended.
 * Slots below n are written once and never move: acted on unlocked. */
static void pipeline(struct hitq *q, struct reap_fin *fin)
{
	for (size_t taken = 0, end;; taken = end) {
		pthread_mutex_lock(&q->lock);
		while (taken == q->n && !q->done)
			pthread_cond_wait(&q->cond, &q->lock);
		end = q->n;
		pthread_mutex_unlock(&q->lock);
		if (taken == end)
			return; /* done, and all taken */
		for (size_t k = taken; k < end; k++)
			reap_fin_act_taken(fin, q->v[k].item, q->o, &q->v[k].t);
	}
}

/* Only the selected sockets are looked for. */
struct wanted {
	const struct cw_census *c;
	const size_t *item_of;        /* census index -> item index, or SIZE_MAX */
};

static bool want_selected(const struct cw_sock *s, void *arg)
{
	const struct wanted *w = arg;

	return w->item_of[s - cw_census_sock(w->c, 0)] != SIZE_MAX;
}

/* Our fd table grows as pidfd_getfd fills it; in a process with more than
 * one thread each doubling waits for an RCU grace period (expand_fdtable),
 * which stalled the FINs by tens of ms here. Grown once, now, before the
 * walkers start: room for n more fds (the table never shrinks). */
static void fd_table_grow(size_t n)
{
	struct rlimit rl;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), hi;
	size_t want = (size_t)fd + n + 16;

	if (fd < 0)
		return;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && want >= rl.rlim_cur)
		want = rl.rlim_cur - 1;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)want);
	if (hi >= 0)
		close(hi);
	close(fd);
}

int cw_reap_now(const struct cw_filter *f, const struct cw_census_opts *co,
		const struct cw_reap_opts *o, struct cw_reap **out)
{
	static const struct cw_reap_opts defaults = { .wait_ms = CW_REAP_WAIT_MS };
	struct hitq q = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct cw_census_opts copts = co ? *co : (struct cw_census_opts){ 0 };
	struct procfd_sink sink = { q_hit, q_done, &q };
	struct wanted w = { 0 };
	struct procfd_walk *walk;
	struct reap_fin *fin = NULL;
	struct cw_census *c = NULL;
	struct cw_reap *r = NULL;
	size_t *src = NULL, *item_of = NULL;
	int err;

	if (!o)
		o = &defaults;
	copts.states = f->states;
	copts.ports = f;
	copts.owners = false;
	err = cw_census_take(&copts, &c);
	if (err)
		goto out;
	err = reap_select(c, f, CW_REAP_FIN, true, &r, &src);
	if (err)
		goto out;
	item_of = malloc((cw_census_count(c) ? cw_census_count(c) : 1) * sizeof(*item_of));
	if (!item_of) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cw_census_count(c); i++)
		item_of[i] = SIZE_MAX;
	for (size_t i = 0; i < r->n; i++)
		item_of[src[i]] = i;
	q.v = malloc((r->n ? r->n : 1) * sizeof(*q.v));
	q.claimed = calloc(r->n ? r->n : 1, sizeof(*q.claimed));
	if (!q.v || !q.claimed) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].status != CW_REAP_TODO)
			atomic_init(&q.claimed[i], 1);
	q.r = r;
	q.item_of = item_of;
	q.o = o;
	err = reap_fin_begin(r, &fin);
	if (err)
		goto out;
	fd_table_grow(r->n);
	/* This thread acts on one core; the walk gets the others (one on a
	 * two-core host: a second walker there only slows the FINs down). */
	if (!copts.threads)
		copts.threads = sysconf(_SC_NPROCESSORS_ONLN) >= 3 ? 2 : 1;
	w = (struct wanted){ c, item_of };
	copts.want = want_selected;
	copts.want_arg = &w;
	err = census_owners_start(c, &copts, f->pid ? &f->pid : NULL, f->pid ? 1 : 0, &sink, &walk);
	if (err)
		goto out;
	pipeline(&q, fin);
	err = census_owners_finish(c, walk);
	if (err)
		goto out;
	reap_fin_end(fin, o);
	fin = NULL;
	reap_select_finish(r, c, f, src);
	*out = r;
	r = NULL;
out:
	if (fin)
		reap_fin_end(fin, o);
	cw_reap_free(r);
	cw_census_free(c);
	free(src);
	free(item_of);
	free(q.v);
	free((void *)q.claimed);
	pidfds_close(&q.pf);
	pthread_mutex_destroy(&q.lock);
	pthread_cond_destroy(&q.cond);
	return err;
}
