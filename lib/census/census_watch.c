/* watch: CLOSE_WAIT trends across successive censuses. Pure: the caller
 * takes the censuses; their monotonic times are the only clock used here.
 *
 * Each CLOSE_WAIT socket (inode, ports) is tracked from the first census
 * that shows it. Its entry time lies in an interval that every census
 * narrows: [t_start - age_max, t_end - age_min] from the kernel's times, and,
 * for a socket absent from the previous census, after that census began.
 * Keepalive answers can reset lastack but never undo what was seen before. */
#include "closewait/census_watch.h"
#include "census_lib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAMPLES 512
/* The lower bound of an entry time no census has bounded yet (its socket's
 * state had no age rule): far below any clock, yet far enough above
 * INT64_MIN that differences with real times do not overflow. */
#define LO_UNKNOWN (INT64_MIN / 2)

struct entry {
	uint32_t inode;
	uint16_t lport, rport;
	uint64_t netns;
	uint64_t key;                 /* its group: a pid, an inode, a port or a name's hash */
	uint64_t first_seq, seen;
	int64_t lo, hi;               /* bounds of the entry time, monotonic ms */
	bool exact;
};

struct keycount {
	uint64_t key;
	size_t count;
};

struct sample {
	uint64_t seq;
	uint64_t t;                   /* census start, monotonic ms */
	struct keycount *pc;
	size_t npc;
};

struct cw_watch {
	uint64_t window_ms, stuck_ms, seq;
	enum cw_group_by by;
	bool filtered;
	struct cw_filter f;
	struct entry *e;              /* entries of the last census, hashed */
	size_t *slot, mask, ne;
	struct sample s[MAX_SAMPLES]; /* oldest first */
	size_t ns;
	struct cw_watch_row *rows;
	size_t nrows;
	uint64_t t0;                  /* last census start */
};

const char *cw_verdict_name(enum cw_verdict v)
{
	switch (v) {
	case CW_VERDICT_OK:
		return "ok";
	case CW_VERDICT_STUCK:
		return "stuck";
	case CW_VERDICT_LEAKING:
		return "leaking";
	}
	return "?"; /* like the other name functions: never "ok" for garbage */
}

int cw_watch_new(uint64_t window_ms, uint64_t stuck_ms, struct cw_watch **out)
{
	struct cw_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->window_ms = window_ms;
	w->stuck_ms = stuck_ms;
	*out = w;
	return 0;
}

void cw_watch_free(struct cw_watch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->ns; i++)
		free(w->s[i].pc);
	free(w->e);
	free(w->slot);
	free(w->rows);
	free(w);
}

static size_t ehash(uint32_t ino, uint16_t lp, uint16_t rp, uint64_t netns)
{
	uint64_t h = ((uint64_t)ino << 32 | (uint64_t)lp << 16 | rp) * 0x9e3779b97f4a7c15ull;

	h ^= netns * 0xc2b2ae3d27d4eb4full;
	return (size_t)(h >> 17);
}

/* An unaccepted socket has no inode: its namespace and ports tell it apart. */
static bool same_sock(const struct entry *e, const struct cw_sock *s)
{
	return e->inode == s->inode && e->lport == s->local.port && e->rport == s->peer.port &&
	       e->netns == s->netns;
}

static struct entry *find(const struct cw_watch *w, const struct cw_sock *s)
{
	if (!w->slot)
		return NULL;
	for (size_t h = ehash(s->inode, s->local.port, s->peer.port, s->netns) & w->mask; w->slot[h];
	     h = (h + 1) & w->mask) {
		struct entry *e = &w->e[w->slot[h] - 1];

		if (same_sock(e, s))
			return e;
	}
	return NULL;
}

/* What census c says of socket s's entry time, intersected with what we knew. */
static void observe(const struct cw_watch *w, const struct cw_census *c, const struct cw_sock *s,
		    const struct entry *old, uint64_t prev_t0, struct entry *e)
{
	int64_t t0 = (int64_t)cw_census_mono_ms(c), t1 = (int64_t)cw_census_mono_end_ms(c);
	struct cw_age a;

	cw_sock_age(s, &a);
	e->lo = a.known ? t0 - (int64_t)a.max_ms : LO_UNKNOWN;
	e->hi = a.known ? t1 - (int64_t)a.min_ms : t1;
	e->exact = a.known && a.exact;
	if (!old) {
		e->first_seq = w->seq;
		e->seen = 1;
		/* Absent from the previous census (which began at prev_t0): it
		 * entered CLOSE_WAIT after that began. */
		if (w->seq > 1 && e->lo < (int64_t)prev_t0)
			e->lo = (int64_t)prev_t0;
		return;
	}
	e->first_seq = old->first_seq;
	e->seen = old->seen + 1;
	if (old->lo > e->lo)
		e->lo = old->lo;
	if (old->hi < e->hi)
		e->hi = old->hi;
	if (e->lo > e->hi) { /* rounding made them disagree: trust the newest */
		e->lo = old->lo > t0 ? t0 : old->lo;
		e->hi = e->lo > e->hi ? e->lo : e->hi;
	}
	e->exact = e->exact || old->exact || e->hi - e->lo < CW_AGE_EXACT_MS;
}

/* The age at t0 of the socket of e, whose entry time lies in [lo, hi]. */
static void entry_age(const struct entry *e, int64_t t0, struct cw_age *a)
{
	memset(a, 0, sizeof(*a));
	if (e->lo == LO_UNKNOWN)
		return;
	a->known = true;
	a->min_ms = t0 > e->hi ? (uint64_t)(t0 - e->hi) : 0;
	a->max_ms = t0 > e->lo ? (uint64_t)(t0 - e->lo) : 0;
	a->exact = e->exact || a->max_ms - a->min_ms < CW_AGE_EXACT_MS;
}

void cw_watch_age(const struct cw_watch *w, const struct cw_census *c, size_t i, struct cw_age *a)
{
	const struct entry *e = find(w, cw_census_sock(c, i));

	if (e)
		entry_age(e, (int64_t)w->t0, a);
	else
		memset(a, 0, sizeof(*a));
}

static int key_cmp(const void *a, const void *b)
{
	const struct keycount *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

static size_t count_of(const struct sample *s, uint64_t k)
{
	struct keycount key = { k, 0 };
	const struct keycount *p = bsearch(&key, s->pc, s->npc, sizeof(key), key_cmp);

	return p ? p->count : 0;
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	if (!s)
		return 0;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h | 1; /* never 0: that is "none" */
}

static void name_set(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

/* Socket i's group under by, as a number; row (if not NULL) gets its name. */
static uint64_t group_key(enum cw_group_by by, const struct cw_census *c, size_t i,
			  struct cw_watch_row *row)
{
	const struct cw_sock *s = cw_census_sock(c, i);
	const struct cw_owner *o = cw_census_owner_count(c, i) ? cw_census_owner(c, i, 0) : NULL;
	const struct cw_workload *wl = by == CW_BY_PROCESS ? NULL : cw_census_sock_workload(c, i);
	const char *name = NULL, *extra = NULL;
	char buf[CW_ENDPOINT_STRLEN];
	uint64_t key = 0;

	switch (by) {
	case CW_BY_PROCESS:
		if (row && o)
			name_set(row->comm, sizeof(row->comm), o->comm);
		return o ? (uint64_t)o->pid : 0;
	case CW_BY_NETNS:
		if (row) {
			row->netns = s->netns;
			snprintf(row->name, sizeof(row->name), "%s", cw_census_sock_netns(c, i)->name ?
				 cw_census_sock_netns(c, i)->name : "");
		}
		return s->netns;
	case CW_BY_LOCAL_PORT:
		if (row)
			snprintf(row->name, sizeof(row->name), "%u", s->local.port);
		return (uint64_t)s->local.port + 1;
	case CW_BY_PEER:
		cw_endpoint_str(&s->peer, false, buf, sizeof(buf));
		name = buf;
		break;
	case CW_BY_UNIT: name = wl ? wl->systemd_unit : NULL; break;
	case CW_BY_CONTAINER:
		name = wl ? wl->container_id : NULL;
		extra = wl && name ? wl->container_runtime : NULL;
		break;
	case CW_BY_POD:
		name = wl ? wl->pod_uid : NULL;
		extra = wl && name ? wl->pod_qos : NULL;
		break;
	case CW_BY_AUTO:
		if (wl && wl->systemd_unit) {
			name = wl->systemd_unit;
			key = CW_AUTO_UNIT;
		} else if (wl && wl->container_id) {
			name = wl->container_id;
			extra = wl->container_runtime;
			key = CW_AUTO_CONTAINER;
		} else if (o) {
			name = o->comm;
			key = CW_AUTO_COMMAND;
		}
		if (row)
			row->auto_key = (enum cw_group_auto)key;
		break;
	}
	if (row) {
		name_set(row->name, sizeof(row->name), name);
		name_set(row->extra, sizeof(row->extra), extra);
	}
	/* By auto, a unit and a command of the same name are two groups. */
	return name ? name_hash(name) ^ key : 0;
}

int cw_watch_set_filter(struct cw_watch *w, const struct cw_filter *f)
{
	int err = f ? census_filter_read(f, &w->f) : 0;

	if (err)
		return err;
	w->filtered = f != NULL;
	return 0;
}

size_t cw_watch_history(const struct cw_watch *w, size_t i, size_t *counts, size_t max)
{
	size_t from = w->ns > max ? w->ns - max : 0, n = 0;

	for (size_t k = from; k < w->ns; k++)
		counts[n++] = count_of(&w->s[k], w->rows[i].key);
	return n;
}

int cw_watch_set_by(struct cw_watch *w, enum cw_group_by by)
{
	if ((unsigned)by > CW_BY_NETNS)
		return -EINVAL;
	w->by = by;
	for (size_t k = 0; k < w->ns; k++)
		free(w->s[k].pc);
	w->ns = 0;
	return 0;
}

static int track(struct cw_watch *w, const struct cw_census *c, uint64_t prev_t0)
{
	size_t n = cw_census_count(c), cap = 16, ne = 0;
	struct entry *e = malloc((n ? n : 1) * sizeof(*e));
	size_t *slot;

	while (cap < n * 2)
		cap <<= 1;
	slot = calloc(cap, sizeof(*slot));
	if (!e || !slot) {
		free(e);
		free(slot);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct cw_sock *s = cw_census_sock(c, i);
		size_t h;

		if (s->state != CW_TCP_CLOSE_WAIT)
			continue;
		if (w->filtered && cw_filter_match(&w->f, c, i, NULL) == CW_MATCH_NO)
			continue;
		e[ne] = (struct entry){ .inode = s->inode, .lport = s->local.port,
					.rport = s->peer.port, .netns = s->netns,
					.key = group_key(w->by, c, i, NULL) };
		observe(w, c, s, find(w, s), prev_t0, &e[ne]);
		for (h = ehash(s->inode, s->local.port, s->peer.port, s->netns) & (cap - 1); slot[h];
		     h = (h + 1) & (cap - 1))
			;
		slot[h] = ++ne;
	}
	free(w->e);
	free(w->slot);
	w->e = e;
	w->slot = slot;
	w->mask = cap - 1;
	w->ne = ne;
	return 0;
}

/* Per-pid counts of the last census, appended to the history. */
static int push_sample(struct cw_watch *w, uint64_t t)
{
	struct keycount *pc = malloc((w->ne ? w->ne : 1) * sizeof(*pc));
	size_t n = 0;

	if (!pc)
		return -ENOMEM;
	for (size_t i = 0; i < w->ne; i++)
		pc[i] = (struct keycount){ w->e[i].key, 1 };
	qsort(pc, w->ne, sizeof(*pc), key_cmp);
	for (size_t i = 0; i < w->ne; i++) {
		if (n && pc[n - 1].key == pc[i].key)
			pc[n - 1].count++;
		else
			pc[n++] = pc[i];
	}
	/* Keep one sample at or before the window's start, to measure from. */
	while (w->ns >= 2 && w->s[1].t + w->window_ms <= t) {
		free(w->s[0].pc);
		memmove(&w->s[0], &w->s[1], (w->ns - 1) * sizeof(w->s[0]));
		w->ns--;
	}
	if (w->ns == MAX_SAMPLES) {
		free(w->s[0].pc);
		memmove(&w->s[0], &w->s[1], (w->ns - 1) * sizeof(w->s[0]));
		w->ns--;
	}
	w->s[w->ns++] = (struct sample){ w->seq, t, pc, n };
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct cw_watch_row *x = a, *y = b;

	if (x->verdict != y->verdict)
		return x->verdict > y->verdict ? -1 : 1;
	if (x->close_wait != y->close_wait)
		return x->close_wait > y->close_wait ? -1 : 1;
	if (x->pid != y->pid)
		return (x->pid > y->pid) - (x->pid < y->pid);
	return strcmp(x->name, y->name);
}

/* One row per process in the last census or in the window's first one. */
static void fill_row(struct cw_watch *w, const struct sample *first, const struct sample *last,
		     uint64_t key, struct cw_watch_row *r)
{
	size_t persisted_new = 0;

	r->close_wait = count_of(last, key);
	if (last->t > first->t)
		r->growth_per_min = ((double)r->close_wait - (double)count_of(first, key)) * 60000.0 /
				    (double)(last->t - first->t);
	for (size_t i = 0; i < w->ne; i++) {
		const struct entry *e = &w->e[i];
		struct cw_age a;

		if (e->key != key)
			continue;
		if (e->first_seq > first->seq && e->seen >= 2)
			persisted_new++;
		entry_age(e, (int64_t)w->t0, &a);
		if (a.known && (!r->oldest.known || a.min_ms > r->oldest.min_ms))
			r->oldest = a;
	}
	/* Leaking: more than at the window's start, and some of the new ones
	 * outlived an interval (sockets a healthy server closes come and go). */
	if (r->close_wait > count_of(first, key) && persisted_new)
		r->verdict = CW_VERDICT_LEAKING;
	else if (r->oldest.known && r->oldest.min_ms >= w->stuck_ms)
		r->verdict = CW_VERDICT_STUCK;
	else
		r->verdict = CW_VERDICT_OK;
}

static int build_rows(struct cw_watch *w, const struct cw_census *c)
{
	const struct sample *first = &w->s[0], *last = &w->s[w->ns - 1];
	size_t n = 0, cap = last->npc + first->npc;
	struct cw_watch_row *rows = calloc(cap ? cap : 1, sizeof(*rows));
	uint64_t *keys = calloc(cap ? cap : 1, sizeof(*keys));

	if (!rows || !keys) {
		free(rows);
		free(keys);
		return -ENOMEM;
	}
	for (size_t k = 0; k < 2; k++) {
		const struct sample *s = k ? first : last;

		for (size_t i = 0; i < s->npc; i++) {
			bool dup = false;

			for (size_t j = 0; j < n && !dup; j++)
				dup = keys[j] == s->pc[i].key;
			if (!dup)
				keys[n++] = s->pc[i].key;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (w->by == CW_BY_PROCESS) {
			rows[i].pid = (pid_t)keys[i];
			strcpy(rows[i].comm, rows[i].pid ? "?" : "(unknown)");
		}
		rows[i].key = keys[i];
		fill_row(w, first, last, keys[i], &rows[i]);
	}
	/* Names from the census: each row's first socket there. */
	for (size_t i = 0, cnt = cw_census_count(c); i < cnt; i++) {
		struct cw_watch_row named = { 0 };
		uint64_t k;

		if (cw_census_sock(c, i)->state != CW_TCP_CLOSE_WAIT)
			continue;
		k = group_key(w->by, c, i, &named);
		for (size_t j = 0; j < n; j++) {
			if (keys[j] != k)
				continue;
			if (w->by == CW_BY_PROCESS) {
				if (rows[j].pid && rows[j].comm[0] == '?')
					snprintf(rows[j].comm, sizeof(rows[j].comm), "%s", named.comm);
				break;
			}
			memcpy(rows[j].name, named.name, sizeof(named.name));
			memcpy(rows[j].extra, named.extra, sizeof(named.extra));
			rows[j].auto_key = named.auto_key;
			rows[j].netns = named.netns;
			break;
		}
	}
	free(keys);
	qsort(rows, n, sizeof(*rows), row_cmp);
	free(w->rows);
	w->rows = rows;
	w->nrows = n;
	return 0;
}

int cw_watch_update(struct cw_watch *w, const struct cw_census *c)
{
	uint64_t prev_t0 = w->t0;
	int err;

	w->seq++;
	err = track(w, c, prev_t0);
	if (err)
		return err;
	w->t0 = cw_census_mono_ms(c);
	err = push_sample(w, w->t0);
	return err ? err : build_rows(w, c);
}

size_t cw_watch_count(const struct cw_watch *w) { return w->nrows; }
const struct cw_watch_row *cw_watch_row(const struct cw_watch *w, size_t i) { return &w->rows[i]; }
