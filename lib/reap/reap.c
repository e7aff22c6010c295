/* reap: selecting what to act on (the census filter scan uses, plus reap's
 * own rules), the names of the outcomes, and dispatch to fin or rst. */
#include "reap_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "census/census_lib.h"
#include "util.h"

/* acted: an outcome of acting on the socket, not of selecting it. */
static const struct {
	const char *name;
	enum cw_reap_kind kind;
	bool acted;
} statuses[CW_REAP_NSTATUS] = {
	[CW_REAP_TO_REAP] = { "to-reap", CW_REAP_KIND_TO_REAP, false },
	[CW_REAP_CLEAN] = { "clean", CW_REAP_KIND_HANDLED, true },
	[CW_REAP_RESET] = { "reset", CW_REAP_KIND_HANDLED, true },
	[CW_REAP_FIN_SENT] = { "fin-sent", CW_REAP_KIND_HANDLED, true },
	[CW_REAP_DESTROYED] = { "destroyed", CW_REAP_KIND_HANDLED, true },
	[CW_REAP_SKIP_LISTEN] = { "listening", CW_REAP_KIND_SKIPPED, false },
	[CW_REAP_SKIP_AGE] = { "age-uncertain", CW_REAP_KIND_SKIPPED, false },
	[CW_REAP_SKIP_MODE] = { "fin-not-possible", CW_REAP_KIND_SKIPPED, false },
	[CW_REAP_SKIP_GONE] = { "gone", CW_REAP_KIND_SKIPPED, true },
	[CW_REAP_SKIP_REPLACED] = { "replaced", CW_REAP_KIND_SKIPPED, true },
	[CW_REAP_SKIP_CHANGED] = { "state-changed", CW_REAP_KIND_SKIPPED, true },
	[CW_REAP_FAIL_PTRACE] = { "no-ptrace-rights", CW_REAP_KIND_FAILED, true },
	[CW_REAP_FAIL_NO_OWNER] = { "owner-unknown", CW_REAP_KIND_FAILED, false },
	[CW_REAP_FAIL_CAP] = { "no-cap-net-admin", CW_REAP_KIND_FAILED, true },
	[CW_REAP_FAIL_NOSUPPORT] = { "destroy-unsupported", CW_REAP_KIND_FAILED, true },
	[CW_REAP_FAIL_ERROR] = { "error", CW_REAP_KIND_FAILED, true },
	[CW_REAP_FAIL_UNACCEPTED] = { "unaccepted", CW_REAP_KIND_FAILED, false },
};

const char *cw_reap_status_name(enum cw_reap_status s)
{
	return (unsigned)s < CW_REAP_NSTATUS ? statuses[s].name : "?";
}

enum cw_reap_kind cw_reap_status_kind(enum cw_reap_status s)
{
	return (unsigned)s < CW_REAP_NSTATUS ? statuses[s].kind : CW_REAP_KIND_FAILED;
}

const char *cw_reap_kind_name(enum cw_reap_kind k)
{
	static const char *const names[] = { "to-reap", "handled", "skipped", "failed" };

	return (unsigned)k <= CW_REAP_KIND_FAILED ? names[k] : "?";
}

/* A FIN ends only a connection that has not sent its own yet: ESTABLISHED
 * (-> FIN_WAIT_1) and CLOSE_WAIT (-> LAST_ACK), the states tcp_shutdown()
 * acts on that an fd can hold (SYN_SENT would just be dropped). */
static bool fin_can_end(int state)
{
	return state == CW_TCP_ESTABLISHED || state == CW_TCP_CLOSE_WAIT;
}

void reap_item_owner(struct cw_reap_item *it, const struct cw_census *c, size_t i,
		     const struct cw_filter *f)
{
	size_t n = cw_census_owner_count(c, i), pick = 0;
	const struct cw_owner *o;

	it->nowners = n;
	if (!n)
		return;
	/* Given a pid, act through that process even if others share the socket. */
	for (size_t k = 0; f->pid && k < n; k++)
		if (cw_census_owner(c, i, k)->pid == f->pid) {
			pick = k;
			break;
		}
	o = cw_census_owner(c, i, pick);
	it->pid = o->pid;
	it->fd = o->fd;
	strncpy(it->comm, o->comm ? o->comm : "?", sizeof(it->comm) - 1);
}

/* The explanation of the last ownerless socket: they usually share a uid. */
struct no_owner {
	bool known;
	uid_t uid;
	struct cw_ptrace_denial d;
};

static void no_owner(struct cw_reap_item *it, struct no_owner *last)
{
	it->status = CW_REAP_FAIL_NO_OWNER;
	if (!last->known || last->uid != it->sock->uid)
		cw_ptrace_explain(0, it->sock->uid, &last->d);
	last->known = true;
	last->uid = it->sock->uid;
	it->denial = last->d;
}

/* pending: owners are not known yet (cw_reap_now): a fin item without one
 * stays TO_REAP until the walk has ended. */
static void item_classify(struct cw_reap_item *it, enum cw_match m, enum cw_reap_mode mode,
			  bool pending, struct no_owner *last)
{
	if (it->sock->state == CW_TCP_LISTEN)
		it->status = CW_REAP_SKIP_LISTEN;
	else if (m == CW_MATCH_UNCERTAIN)
		it->status = CW_REAP_SKIP_AGE;
	else if (mode == CW_REAP_FIN && !fin_can_end(it->sock->state))
		it->status = CW_REAP_SKIP_MODE;
	else if (mode == CW_REAP_FIN && it->owner_kind == CW_UNACCEPTED)
		it->status = CW_REAP_FAIL_UNACCEPTED;
	else if (mode == CW_REAP_FIN && !it->pid && !pending)
		no_owner(it, last);
	else
		it->status = CW_REAP_TO_REAP;
}

static int item_cmp(const void *a, const void *b)
{
	const struct cw_reap_item *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->fd != y->fd)
		return x->fd < y->fd ? -1 : 1;
	if (x->sock->local.port != y->sock->local.port)
		return x->sock->local.port < y->sock->local.port ? -1 : 1;
	return x->sock->peer.port < y->sock->peer.port ? -1 : x->sock->peer.port > y->sock->peer.port;
}

static void items_sort(struct cw_reap *r)
{
	if (r->n)
		qsort(r->items, r->n, sizeof(*r->items), item_cmp);
}

/* rst acts in each socket's own namespace: keep a descriptor of it beyond
 * the census (which may be freed). -1: the caller's namespace. */
static int reap_ns_keep(struct cw_reap *r, const struct cw_census *c, uint64_t ino)
{
	struct reap_ns *v;
	int fd;

	for (size_t j = 0; j < r->nns; j++)
		if (r->ns[j].ino == ino)
			return 0;
	v = realloc(r->ns, (r->nns + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->ns = v;
	fd = census_netns_fd(c, ino);
	if (fd >= 0 && (fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	r->ns[r->nns++] = (struct reap_ns){ ino, fd };
	return 0;
}

int reap_ns_fd(const struct cw_reap *r, uint64_t ino)
{
	for (size_t j = 0; j < r->nns; j++)
		if (r->ns[j].ino == ino)
			return r->ns[j].fd;
	return -1;
}

/* Capacities of the vectors reap_select fills. */
struct caps {
	size_t items, socks, src;
};

/* Room for one more item, its socket and (src not NULL) its census index. */
static int items_room(struct cw_reap *r, struct caps *cap, size_t **src)
{
	struct cw_reap_item *v = vec_room(r->items, r->n, &cap->items, sizeof(*v), 64);
	struct cw_sock *sv;
	size_t *iv;

	if (!v)
		return -ENOMEM;
	r->items = v;
	sv = vec_room(r->socks, r->n, &cap->socks, sizeof(*sv), 64);
	if (!sv)
		return -ENOMEM;
	r->socks = sv;
	if (!src)
		return 0;
	iv = vec_room(*src, r->n, &cap->src, sizeof(*iv), 64);
	if (!iv)
		return -ENOMEM;
	*src = iv;
	return 0;
}

int reap_select(const struct cw_census *c, const struct cw_filter *f, enum cw_reap_mode mode,
		bool pending, struct cw_reap **out, size_t **src)
{
	struct cw_reap *r = calloc(1, sizeof(*r));
	struct no_owner last = { 0 };
	struct cw_filter fm = *f;
	struct caps cap = { 0 };

	if (!r)
		return -ENOMEM;
	r->mode = mode;
	if (pending)
		fm.pid = 0; /* the walk looks at that process only */
	for (size_t i = 0; i < cw_census_count(c); i++) {
		const struct cw_sock *s = cw_census_sock(c, i);
		struct cw_reap_item *it;
		struct cw_age age;
		enum cw_match m;

		cw_sock_age(s, &age);
		m = cw_filter_match(&fm, c, i, &age);
		if (m == CW_MATCH_NO)
			continue;
		if (items_room(r, &cap, src))
			goto fail;
		if (src)
			(*src)[r->n] = i;
		r->socks[r->n] = *s;
		it = &r->items[r->n++];
		memset(it, 0, sizeof(*it));
		it->sock = s; /* the census's, until our copies stop moving */
		it->age = age;
		it->fd = -1;
		it->owner_kind = cw_census_owner_kind(c, i);
		if (!pending)
			reap_item_owner(it, c, i, f);
		if (reap_ns_keep(r, c, s->netns))
			goto fail;
		item_classify(it, m, mode, pending, &last);
	}
	for (size_t k = 0; k < r->n; k++)
		r->items[k].sock = &r->socks[k];
	if (!pending)
		items_sort(r);
	*out = r;
	return 0;
fail:
	cw_reap_free(r);
	if (src) {
		free(*src);
		*src = NULL;
	}
	return -ENOMEM;
}

int cw_reap_select(const struct cw_census *c, const struct cw_filter *f, enum cw_reap_mode mode,
		   struct cw_reap **out)
{
	struct cw_filter fr;
	int err = census_filter_read(f, &fr);

	return err ? err : reap_select(c, &fr, mode, false, out, NULL);
}

void reap_select_finish(struct cw_reap *r, const struct cw_census *c, const struct cw_filter *f,
			const size_t *src)
{
	struct no_owner last = { 0 };
	size_t kept = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct cw_reap_item *it = &r->items[i];
		size_t n = cw_census_owner_count(c, src[i]);

		if (!n && f->pid)
			continue; /* not held by the process asked for: never selected */
		/* Chosen before the walk, the kind said "unknown" for every socket
		 * with a file. */
		it->owner_kind = cw_census_owner_kind(c, src[i]);
		if (it->pid) { /* acted on through the owner the walk found first */
			it->nowners = n;
			for (size_t k = 0; k < n; k++) {
				const struct cw_owner *o = cw_census_owner(c, src[i], k);

				if (o->pid == it->pid) {
					strncpy(it->comm, o->comm ? o->comm : "?", sizeof(it->comm) - 1);
					break;
				}
			}
		} else {
			reap_item_owner(it, c, src[i], f);
			if (it->status == CW_REAP_TO_REAP && r->mode == CW_REAP_FIN && !it->pid)
				no_owner(it, &last);
		}
		r->items[kept++] = *it;
	}
	r->n = kept;
	items_sort(r);
}

void reap_select_cut(struct cw_reap *r)
{
	items_sort(r);
}

void cw_reap_free(struct cw_reap *r)
{
	if (!r)
		return;
	for (size_t j = 0; j < r->nns; j++)
		if (r->ns[j].fd >= 0)
			close(r->ns[j].fd);
	free(r->ns);
	free(r->items);
	free(r->socks);
	free(r);
}

enum cw_reap_mode cw_reap_mode(const struct cw_reap *r) { return r->mode; }
size_t cw_reap_count(const struct cw_reap *r) { return r->n; }
const struct cw_reap_item *cw_reap_item(const struct cw_reap *r, size_t i) { return &r->items[i]; }

void cw_reap_counts(const struct cw_reap *r, struct cw_reap_counts *n)
{
	memset(n, 0, sizeof(*n));
	n->total = r->n;
	for (size_t i = 0; i < r->n; i++) {
		enum cw_reap_status s = r->items[i].status;

		n->status[s]++;
		n->acted += statuses[s].acted;
		switch (cw_reap_status_kind(s)) {
		case CW_REAP_KIND_TO_REAP: n->to_reap++; break;
		case CW_REAP_KIND_HANDLED: n->handled++; break;
		case CW_REAP_KIND_SKIPPED: n->skipped++; break;
		case CW_REAP_KIND_FAILED: n->failed++; break;
		}
	}
}

void cw_reap_opts_init(struct cw_reap_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->wait_ms = CW_REAP_WAIT_MS;
}

int reap_how_init(struct reap_how *h, const struct cw_reap_opts *o, const struct reap_seam *seam)
{
	struct cw_reap_opts ro;
	int err;

	cw_reap_opts_init(&ro);
	err = o ? ext_read(&ro, sizeof(ro), o, EXT_SIZE(struct cw_reap_opts, wait_ms)) : 0;
	if (err)
		return err;
	memset(h, 0, sizeof(*h));
	h->wait_ms = ro.wait_ms;
	if (seam)
		h->seam = *seam;
	return 0;
}

int reap_run_seam(struct cw_reap *r, const struct cw_reap_opts *o, const struct reap_seam *seam)
{
	struct reap_how how;
	size_t to_reap = 0;
	int err = reap_how_init(&how, o, seam);

	if (err)
		return err;
	for (size_t i = 0; i < r->n; i++)
		to_reap += r->items[i].status == CW_REAP_TO_REAP;
	if (!to_reap)
		return 0;
	return r->mode == CW_REAP_FIN ? reap_fin_run(r, &how) : reap_rst_run(r, &how);
}

int cw_reap_run(struct cw_reap *r, const struct cw_reap_opts *o)
{
	return reap_run_seam(r, o, NULL);
}
