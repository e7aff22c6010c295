/* Selecting and acting in one pass, fin mode (cw_reap_now). The /proc walk
 * that finds owners takes about as long as the FINs themselves (a readlinkat
 * per fd of every process read, a few µs each), so it runs in the background
 * and each selected socket is acted on as soon as its owner is found: the
 * walk and the FINs overlap on two cores instead of following each other.
 *
 * The split: the walker that finds a socket's first owner claims the item,
 * calls the test seam, duplicates the socket through the owner's pidfd and
 * reads its inode (the first half of acting, reap_fin_take); the calling
 * thread judges that, re-checks the state and sends the FIN
 * (reap_fin_act_taken). Each item is claimed once, so the queue between them
 * never holds more than the items: it is allocated whole before the walk.
 * Every owner found reaches the sink, so a socket no walker claimed has none:
 * reap_select_finish() fails it (or, when a pid was given, drops it: that
 * process does not hold it). */
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

struct taken {
	size_t item;
	struct reap_fin_taken t;
};

struct hitq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct taken *v;              /* one slot per item */
	size_t n;
	bool done;
	/* read-only during the walk, but for the claims */
	struct cw_reap *r;
	struct reap_fin *fin;
	const size_t *item_of;        /* census index -> item index, or SIZE_MAX */
	_Atomic uint8_t *claimed;     /* per item: a walker took it */
	struct reap_seam seam;
};

/* A walker found an owner: the first one found for a selected socket still
 * to act on claims it and takes the socket. */
static void q_hit(size_t idx, pid_t pid, int fd, void *arg)
{
	struct hitq *q = arg;
	size_t i = q->item_of[idx];
	struct cw_reap_item *it;
	struct taken e = { .item = i };

	/* Items not to act on were claimed before the walk began. */
	if (i == SIZE_MAX || atomic_exchange(&q->claimed[i], 1))
		return;
	it = &q->r->items[i];
	it->pid = pid;
	it->fd = fd;
	if (q->seam.before_act)
		q->seam.before_act(it, q->seam.arg);
	reap_fin_take(q->fin, pid, fd, &e.t);
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
static void pipeline(struct hitq *q)
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
			reap_fin_act_taken(q->fin, q->v[k].item, &q->v[k].t);
	}
}

/* The selection, made before any owner is known. */
struct plan {
	struct cw_census *c;          /* without owners until the walk attaches them */
	struct cw_reap *r;
	size_t *src;                  /* item index -> census index */
	size_t *item_of;              /* census index -> item index, or SIZE_MAX */
};

/* One dump of the states f selects, on the ports it names; the selection. */
static int plan_make(struct plan *p, const struct cw_filter *f, const struct cw_census_opts *cr)
{
	struct cw_census_opts co;
	size_t n;
	int err;

	cw_census_opts_init(&co);
	co.netns_sel = cr->netns_sel;
	co.netns = cr->netns;
	co.netns_pid = cr->netns_pid;
	co.states = f->states;
	co.ports = f;
	err = cw_census_take(&co, &p->c);
	if (!err)
		err = reap_select(p->c, f, CW_REAP_FIN, true, &p->r, &p->src);
	if (err)
		return err;
	n = cw_census_count(p->c);
	p->item_of = malloc((n ? n : 1) * sizeof(*p->item_of));
	if (!p->item_of)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		p->item_of[i] = SIZE_MAX;
	for (size_t i = 0; i < p->r->n; i++)
		p->item_of[p->src[i]] = i;
	return 0;
}

static void plan_free(struct plan *p)
{
	cw_reap_free(p->r);
	cw_census_free(p->c);
	free(p->src);
	free(p->item_of);
}

/* The queue has a slot per item; the items not to act on are claimed already. */
static int queue_init(struct hitq *q, const struct plan *p, const struct reap_seam *seam)
{
	size_t n = p->r->n;

	q->v = malloc((n ? n : 1) * sizeof(*q->v));
	q->claimed = calloc(n ? n : 1, sizeof(*q->claimed));
	if (!q->v || !q->claimed)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (p->r->items[i].status != CW_REAP_TO_REAP)
			atomic_init(&q->claimed[i], 1);
	q->r = p->r;
	q->item_of = p->item_of;
	q->seam = *seam;
	return 0;
}

static void queue_free(struct hitq *q)
{
	free(q->v);
	free((void *)q->claimed);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
}

/* Only the selected sockets are looked for. */
static bool want_selected(size_t i, void *arg)
{
	const size_t *item_of = arg;

	return item_of[i] != SIZE_MAX;
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

/* Starts the walk for the owners of the selected sockets; each owner found
 * goes to the queue. */
static int walk_start(struct plan *p, struct hitq *q, const struct cw_filter *f,
		      const struct cw_census_opts *co, struct census_walk **walk)
{
	struct census_walk_opts wo = {
		.want = want_selected, .want_arg = p->item_of, .only = f->pid,
		.threads = co->threads, .all_owners = co->all_owners,
		.sink = { q_hit, q_done, q },
		.fd_sockets = co->fd_sockets, .fd_sockets_arg = co->fd_sockets_arg,
	};

	/* This thread acts on one core; the walk gets the others (one on a
	 * two-core host: a second walker there only slows the FINs down). */
	if (!wo.threads)
		wo.threads = sysconf(_SC_NPROCESSORS_ONLN) >= 3 ? 2 : 1;
	fd_table_grow(p->r->n);
	return census_walk_start(p->c, &wo, walk);
}

/* Selecting by who holds a socket (its command, unit, container, pod)
 * needs every owner before anything is acted on: no overlap then. */
static int select_then_run(const struct cw_filter *f, const struct cw_census_opts *cr,
			   const struct reap_how *how, struct cw_reap **out)
{
	struct cw_census_opts co = *cr;
	struct cw_census *c;
	struct cw_reap *r;
	int err;

	co.states = f->states;
	co.ports = f;
	co.owners = true;
	err = cw_census_take(&co, &c);
	if (err)
		return err;
	err = reap_select(c, f, CW_REAP_FIN, false, &r, NULL);
	cw_census_free(c);
	if (err)
		return err;
	err = reap_fin_run(r, how);
	if (err) {
		cw_reap_free(r);
		return err;
	}
	*out = r;
	return 0;
}

int reap_now_seam(const struct cw_filter *f, const struct cw_census_opts *co,
		  const struct cw_reap_opts *o, const struct reap_seam *seam, struct cw_reap **out)
{
	struct hitq q = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct plan p = { 0 };
	struct reap_how how;
	struct cw_filter fr;
	struct cw_census_opts cr;
	struct census_walk *walk;
	int err = reap_how_init(&how, o, seam);

	cw_census_opts_init(&cr);
	if (!err)
		err = census_filter_read(f, &fr);
	if (!err && co)
		err = census_opts_read(co, &cr);
	if (!err && (fr.comm || fr.unit || fr.container || fr.pod))
		return select_then_run(&fr, &cr, &how, out);
	if (!err)
		err = plan_make(&p, &fr, &cr);
	if (!err)
		err = queue_init(&q, &p, &how.seam);
	if (!err)
		err = reap_fin_begin(p.r, &how, &q.fin);
	if (!err)
		err = walk_start(&p, &q, &fr, &cr, &walk);
	if (err)
		goto out;
	pipeline(&q);
	/* Our duplicates closed first: the walk's end reads /proc files too,
	 * and must not run out of fds for them. */
	reap_fin_end(q.fin);
	q.fin = NULL;
	err = census_walk_finish(p.c, walk);
	if (err == -EMFILE || err == -ENFILE) {
		/* The walk ran out of fds: what was acted on is reported, the
		 * rest stays TO_REAP, not acted on (owners unknown). */
		reap_select_cut(p.r);
		err = 0;
	} else if (err) {
		goto out;
	} else {
		reap_select_finish(p.r, p.c, &fr, p.src);
	}
	*out = p.r;
	p.r = NULL;
out:
	if (q.fin)
		reap_fin_end(q.fin);
	plan_free(&p);
	queue_free(&q);
	return err;
}

int cw_reap_now(const struct cw_filter *f, const struct cw_census_opts *co,
		const struct cw_reap_opts *o, struct cw_reap **out)
{
	return reap_now_seam(f, co, o, NULL, out);
}
