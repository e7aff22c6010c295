/* The series of closewait export. Groups are stable identities (a unit, a
 * container, a command; a pid only when asked), never a socket's address,
 * and at most --top of them are named: the rest are summed into one series
 * labelled other="true", so the number of series stays bounded whatever
 * the host runs. A group is every process holding a TCP socket, so its
 * CLOSE_WAIT series reads 0 (rather than vanishing) once its leak is gone. */
#include "export_metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"

#define LABELS_MAX 1024

struct group {
	char labels[LABELS_MAX];      /* owner="process",command="nginx" */
	bool unaccepted;              /* never folded into other: the accept-queue alert needs each */
	size_t sockets, close_wait, recv_q;
	size_t why[4];                /* by enum cw_why */
	bool age_known;
	uint64_t oldest_min_ms;
	bool has_fds;                 /* fds: of the fullest process seen */
	struct export_fds fds;
	bool counted;                 /* a process of it has trace's counters: */
	uint64_t entered, left;       /* their sums */
};

/* An open-addressing index over a vector's entries (slot: 1 + the entry's
 * index, 0 empty), kept at most half full: a scrape looks a group and a
 * process up once per socket, and a host may have thousands of each. */
struct index {
	uint32_t *slot;
	size_t mask;
};

struct groups {
	struct group *v;
	size_t n, cap;
	struct index ix;
};

/* A process's fds, read once per render. */
struct proc_fds {
	pid_t pid;
	struct export_fds fds;
};

struct fd_cache {
	struct proc_fds *v;
	size_t n, cap;
	struct index ix;
};

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* Entry i's hash, for rebuilding an index (vec: the groups, the fd cache). */
static uint64_t group_hash(const void *vec, size_t i)
{
	const struct groups *g = vec;

	return hash_bytes(g->v[i].labels, strlen(g->v[i].labels));
}

static uint64_t pid_hash(const void *vec, size_t i)
{
	const struct fd_cache *fc = vec;

	return hash_bytes(&fc->v[i].pid, sizeof(fc->v[i].pid));
}

/* Room in ix for an n + 1st entry: rebuilt twice as large, from each
 * entry's hash, when it would be over half full. 0 or -ENOMEM. */
static int index_room(struct index *ix, size_t n, uint64_t (*hash)(const void *vec, size_t i),
		      const void *vec)
{
	size_t cap = ix->slot ? (ix->mask + 1) * 2 : 128;
	uint32_t *slot;

	if (ix->slot && (n + 1) * 2 <= ix->mask + 1)
		return 0;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t h = hash(vec, i) & (cap - 1);

		while (slot[h])
			h = (h + 1) & (cap - 1);
		slot[h] = (uint32_t)(i + 1);
	}
	free(ix->slot);
	ix->slot = slot;
	ix->mask = cap - 1;
	return 0;
}


static int label(char *buf, size_t len, size_t *at, const char *name, const char *value)
{
	char esc[LABELS_MAX];
	int n;

	if (!value)
		return 0;
	n = snprintf(buf + *at, len - *at, "%s%s=\"%s\"", *at ? "," : "", name,
		     out_label(value, esc, sizeof(esc)));
	if (n < 0 || (size_t)n >= len - *at)
		return -ENOSPC;
	*at += (size_t)n;
	return 0;
}

/* The labels of socket i's group. */
static int group_labels(const struct cw_census *c, size_t i, const struct export_opts *o, char *buf,
			size_t len)
{
	enum cw_owner_kind kind = cw_census_owner_kind(c, i);
	const struct cw_owner *ow = cw_census_owner_count(c, i) ? cw_census_owner(c, i, 0) : NULL;
	const struct cw_workload *w = cw_census_sock_workload(c, i);
	const char *unit = w ? w->systemd_unit : NULL, *cid = w ? w->container_id : NULL;
	char num[32];
	size_t at = 0;
	int err;

	buf[0] = 0;
	err = label(buf, len, &at, "owner", kind == CW_OWNED ? "process"
					    : kind == CW_UNACCEPTED ? "unaccepted" : "unknown");
	if (o->by == CW_BY_AUTO && unit)
		cid = NULL;
	else if (o->by == CW_BY_AUTO && !cid)
		unit = NULL;
	if (!err && (o->by == CW_BY_UNIT || o->by == CW_BY_AUTO))
		err = label(buf, len, &at, "systemd_unit", unit);
	if (!err && (o->by == CW_BY_CONTAINER || o->by == CW_BY_AUTO) && cid) {
		err = label(buf, len, &at, "container_id", cid);
		if (!err)
			err = label(buf, len, &at, "container_runtime", w->container_runtime);
		if (!err)
			err = label(buf, len, &at, "pod_uid", w->pod_uid);
	}
	if (!err && o->by == CW_BY_POD)
		err = label(buf, len, &at, "pod_uid", w ? w->pod_uid : NULL);
	if (!err && ow && (o->by == CW_BY_PROCESS || (o->by == CW_BY_AUTO && !unit && !cid)))
		err = label(buf, len, &at, "command", ow->comm);
	if (!err && ow && o->by == CW_BY_PROCESS) {
		snprintf(num, sizeof(num), "%d", (int)ow->pid);
		err = label(buf, len, &at, "pid", num);
	}
	if (!err && kind == CW_UNACCEPTED) {
		snprintf(num, sizeof(num), "%u", cw_census_sock(c, i)->local.port);
		err = label(buf, len, &at, "local_port", num);
	}
	return err;
}

static struct group *group_get(struct groups *g, const char *labels)
{
	uint64_t hash = hash_bytes(labels, strlen(labels));
	struct group *v;
	size_t h;

	if (index_room(&g->ix, g->n, group_hash, g))
		return NULL;
	for (h = hash & g->ix.mask; g->ix.slot[h]; h = (h + 1) & g->ix.mask)
		if (!strcmp(g->v[g->ix.slot[h] - 1].labels, labels))
			return &g->v[g->ix.slot[h] - 1];
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;

		v = realloc(g->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		g->v = v;
		g->cap = cap;
	}
	v = &g->v[g->n++];
	memset(v, 0, sizeof(*v));
	snprintf(v->labels, sizeof(v->labels), "%s", labels);
	g->ix.slot[h] = (uint32_t)g->n;
	return v;
}

static const struct export_fds *fds_of(struct fd_cache *fc, const struct export_opts *o, pid_t pid)
{
	uint64_t hash = hash_bytes(&pid, sizeof(pid));
	struct proc_fds *e;
	size_t h;

	if (index_room(&fc->ix, fc->n, pid_hash, fc))
		return NULL;
	for (h = hash & fc->ix.mask; fc->ix.slot[h]; h = (h + 1) & fc->ix.mask)
		if (fc->v[fc->ix.slot[h] - 1].pid == pid)
			return &fc->v[fc->ix.slot[h] - 1].fds;
	if (fc->n == fc->cap) {
		size_t cap = fc->cap ? fc->cap * 2 : 64;

		e = realloc(fc->v, cap * sizeof(*e));
		if (!e)
			return NULL;
		fc->v = e;
		fc->cap = cap;
	}
	e = &fc->v[fc->n++];
	*e = (struct proc_fds){ pid, { -1, -1 } };
	if (o->fds)
		o->fds(pid, &e->fds, o->fds_arg);
	fc->ix.slot[h] = (uint32_t)fc->n;
	return &e->fds;
}

static double ratio(const struct export_fds *f)
{
	return f->max > 0 ? (double)f->open / (double)f->max : 0;
}

/* The fullest process of a group: highest open/limit, as process-exporter's
 * worst_fd_ratio, so that predict_linear against its limit means what the
 * alert says. */
static void fullest(struct group *g, const struct export_fds *f)
{
	if (!f || f->open < 0 || f->max <= 0)
		return;
	if (!g->has_fds || ratio(f) > ratio(&g->fds))
		g->fds = *f;
	g->has_fds = true;
}

static void account(struct group *g, const struct cw_census *c, size_t i)
{
	const struct cw_sock *s = cw_census_sock(c, i);
	struct cw_age a;

	g->sockets++;
	if (s->state != CW_TCP_CLOSE_WAIT)
		return;
	g->close_wait++;
	g->recv_q += s->rqueue;
	g->why[cw_census_why(c, i)]++;
	cw_sock_age(s, &a);
	if (a.known && (!g->age_known || a.min_ms > g->oldest_min_ms))
		g->oldest_min_ms = a.min_ms;
	g->age_known |= a.known;
}

static int count_cmp(const void *a, const void *b)
{
	const struct pin_count *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* trace's counters, sorted by pid, each added to its process's group once. */
struct counts {
	struct pin_count *v;
	bool *added;
	size_t n;
};

static int counts_init(struct counts *k, const struct export_opts *o)
{
	k->n = o->has_counts ? o->ncounts : 0;
	if (!k->n)
		return 0;
	k->v = malloc(k->n * sizeof(*k->v));
	k->added = calloc(k->n, sizeof(*k->added));
	if (!k->v || !k->added)
		return -ENOMEM;
	memcpy(k->v, o->counts, k->n * sizeof(*k->v));
	qsort(k->v, k->n, sizeof(*k->v), count_cmp);
	return 0;
}

/* A process's counters into its group, the first time one of its sockets
 * is met. */
static void add_counts(struct counts *k, struct group *g, pid_t pid)
{
	struct pin_count key = { .pid = pid }, *e;
	size_t at;

	if (!k->n || !(e = bsearch(&key, k->v, k->n, sizeof(*k->v), count_cmp)))
		return;
	at = (size_t)(e - k->v);
	if (k->added[at])
		return;
	k->added[at] = true;
	g->counted = true;
	g->entered += e->entered;
	g->left += e->left;
}

/* Every process holding a socket the filter keeps, and every CLOSE_WAIT
 * socket no process holds. */
static int collect(const struct cw_census *c, const struct export_opts *o, struct groups *g,
		   struct fd_cache *fc, struct counts *k)
{
	char labels[LABELS_MAX];
	struct cw_filter f;

	if (o->f)
		f = *o->f;
	else
		cw_filter_init(&f);
	f.states = 0;
	for (size_t i = 0; i < cw_census_count(c); i++) {
		const struct cw_sock *s = cw_census_sock(c, i);
		struct group *gr;

		if (cw_filter_match(&f, c, i, NULL) == CW_MATCH_NO)
			continue;
		/* Sockets no process holds count only in CLOSE_WAIT (a connection
		 * waiting to be accepted is fine until its peer leaves). */
		if ((!cw_census_owner_count(c, i) || cw_census_owner_kind(c, i) == CW_UNACCEPTED) &&
		    s->state != CW_TCP_CLOSE_WAIT)
			continue;
		if (group_labels(c, i, o, labels, sizeof(labels)))
			continue; /* labels past LABELS_MAX: none of ours is that long */
		gr = group_get(g, labels);
		if (!gr)
			return -ENOMEM;
		gr->unaccepted = cw_census_owner_kind(c, i) == CW_UNACCEPTED;
		account(gr, c, i);
		if (cw_census_owner_kind(c, i) == CW_OWNED) {
			fullest(gr, fds_of(fc, o, cw_census_owner(c, i, 0)->pid));
			add_counts(k, gr, cw_census_owner(c, i, 0)->pid);
		}
	}
	return 0;
}

static int group_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	if (x->unaccepted != y->unaccepted)
		return x->unaccepted ? -1 : 1;
	if (x->close_wait != y->close_wait)
		return x->close_wait > y->close_wait ? -1 : 1;
	if (x->sockets != y->sockets)
		return x->sockets > y->sockets ? -1 : 1;
	return strcmp(x->labels, y->labels);
}

/* Groups past top summed into the last one, labelled other="true".
 * Unaccepted groups (sorted first) are never folded: there is one per
 * listener with CLOSE_WAIT in its queue, and each needs its alert. */
static void fold(struct groups *g, size_t top)
{
	struct group other;
	size_t keep = 0;

	while (keep < g->n && g->v[keep].unaccepted)
		keep++;
	top += keep;
	if (g->n <= top + 1)
		return;
	memset(&other, 0, sizeof(other));
	snprintf(other.labels, sizeof(other.labels), "other=\"true\"");
	for (size_t k = top; k < g->n; k++) {
		const struct group *r = &g->v[k];

		other.sockets += r->sockets;
		other.close_wait += r->close_wait;
		other.recv_q += r->recv_q;
		for (size_t w = 0; w < 4; w++)
			other.why[w] += r->why[w];
		if (r->age_known && (!other.age_known || r->oldest_min_ms > other.oldest_min_ms))
			other.oldest_min_ms = r->oldest_min_ms;
		other.age_known |= r->age_known;
		if (r->has_fds)
			fullest(&other, &r->fds);
		other.counted |= r->counted;
		other.entered += r->entered;
		other.left += r->left;
	}
	g->v[top] = other;
	g->n = top + 1;
}

/* In OpenMetrics a counter's family is named without the _total its
 * samples carry. */
static void family_of(FILE *out, const char *name, const char *type, const char *help, bool om)
{
	size_t n = strlen(name);

	if (om && !strcmp(type, "counter") && n > 6 && !strcmp(name + n - 6, "_total"))
		n -= 6;
	fprintf(out, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)n, name, help, (int)n, name, type);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	family_of(out, name, type, help, false);
}

static void sample(FILE *out, const char *name, const char *labels, double v)
{
	fprintf(out, "%s%s%s%s %.15g\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", v);
}

/* trace's counters, for the groups with a traced process. */
static void print_counts(FILE *out, const struct groups *g, bool om)
{
	family_of(out, "closewait_close_wait_entered_total", "counter",
		  "Sockets of the group's processes that entered CLOSE_WAIT while closewait trace "
		  "--pin traced them (the sum over its live processes: drops when one exits).", om);
	for (size_t k = 0; k < g->n; k++)
		if (g->v[k].counted)
			sample(out, "closewait_close_wait_entered_total", g->v[k].labels,
			       (double)g->v[k].entered);
	family_of(out, "closewait_close_wait_left_total", "counter",
		  "Of those, the sockets that left CLOSE_WAIT: closed by the program, reset or "
		  "aborted.", om);
	for (size_t k = 0; k < g->n; k++)
		if (g->v[k].counted)
			sample(out, "closewait_close_wait_left_total", g->v[k].labels, (double)g->v[k].left);
}

static void print_groups(FILE *out, const struct groups *g)
{
	char l[LABELS_MAX + 64];

	family(out, "closewait_close_wait_sockets", "gauge",
	       "CLOSE_WAIT sockets of a group (0 while it holds other sockets).");
	for (size_t k = 0; k < g->n; k++)
		sample(out, "closewait_close_wait_sockets", g->v[k].labels, (double)g->v[k].close_wait);
	family(out, "closewait_close_wait_oldest_min_age_seconds", "gauge",
	       "Age of the group's oldest CLOSE_WAIT socket, the lower bound of its range.");
	for (size_t k = 0; k < g->n; k++)
		if (g->v[k].age_known)
			sample(out, "closewait_close_wait_oldest_min_age_seconds", g->v[k].labels,
			       (double)g->v[k].oldest_min_ms / 1000.0);
	family(out, "closewait_close_wait_recv_queue_bytes", "gauge",
	       "Bytes received and never read on the group's CLOSE_WAIT sockets (the FIN counts one).");
	for (size_t k = 0; k < g->n; k++)
		sample(out, "closewait_close_wait_recv_queue_bytes", g->v[k].labels,
		       (double)g->v[k].recv_q);
	family(out, "closewait_close_wait_why_sockets", "gauge",
	       "CLOSE_WAIT sockets of a group by why they are open: eof-read (the program read the "
	       "end of file and did not close), never-read, unaccepted.");
	for (size_t k = 0; k < g->n; k++)
		for (size_t w = CW_WHY_EOF_READ; w <= CW_WHY_UNACCEPTED; w++)
			if (g->v[k].why[w]) {
				/* scan's words (cw_why_name): three values, so at most
				 * three series per group */
				snprintf(l, sizeof(l), "%s,why=\"%s\"", g->v[k].labels,
					 cw_why_name((enum cw_why)w));
				sample(out, "closewait_close_wait_why_sockets", l, (double)g->v[k].why[w]);
			}
	family(out, "closewait_process_open_fds", "gauge",
	       "Open fds of the group's fullest process (highest open fds / soft limit).");
	for (size_t k = 0; k < g->n; k++)
		if (g->v[k].has_fds)
			sample(out, "closewait_process_open_fds", g->v[k].labels, (double)g->v[k].fds.open);
	family(out, "closewait_process_max_fds", "gauge",
	       "Soft fd limit (RLIMIT_NOFILE) of the group's fullest process.");
	for (size_t k = 0; k < g->n; k++)
		if (g->v[k].has_fds)
			sample(out, "closewait_process_max_fds", g->v[k].labels, (double)g->v[k].fds.max);
}

static void print_states(FILE *out, const struct cw_census *c, bool per_netns)
{
	char l[128];

	family(out, "closewait_sockets", "gauge", "TCP sockets per state.");
	for (size_t j = 0; j < (per_netns ? cw_census_netns_count(c) : 1); j++) {
		size_t count[CW_TCP_MAX_STATE] = { 0 };
		uint64_t ns = per_netns ? cw_census_netns(c, j)->inode : 0;

		for (size_t i = 0; i < cw_census_count(c); i++) {
			const struct cw_sock *s = cw_census_sock(c, i);

			if ((!per_netns || s->netns == ns) && s->state < CW_TCP_MAX_STATE)
				count[s->state]++;
		}
		for (int st = CW_TCP_ESTABLISHED; st < CW_TCP_MAX_STATE; st++) {
			if (st == CW_TCP_CLOSE)
				continue;
			if (per_netns)
				snprintf(l, sizeof(l), "netns=\"%llu\",state=\"%s\"", (unsigned long long)ns,
					 cw_tcp_state_key(st));
			else
				snprintf(l, sizeof(l), "state=\"%s\"", cw_tcp_state_key(st));
			sample(out, "closewait_sockets", l, (double)count[st]);
		}
	}
}

static int dest_cmp(const void *a, const void *b)
{
	const struct cw_port_dest *x = *(const struct cw_port_dest *const *)a;
	const struct cw_port_dest *y = *(const struct cw_port_dest *const *)b;
	size_t nx = x->time_wait + x->open, ny = y->time_wait + y->open;

	return (nx < ny) - (nx > ny);
}

static const struct {
	const char *name, *help;
} dest_families[] = {
	{ "closewait_destination_time_wait_sockets", "Outgoing TIME_WAIT sockets toward a destination." },
	{ "closewait_destination_open_connections", "Open outgoing connections toward a destination." },
	{ "closewait_destination_usable_ports", "Ephemeral ports usable toward a destination (per source address, times the sources)." },
	{ "closewait_destination_max_rate_per_second", "Sustainable new connections per second toward a destination." },
	{ "closewait_destination_rate_per_second", "New connections per second toward a destination (from the TIME_WAIT of the last 10 s)." },
};

static double dest_value(size_t f, const struct cw_port_dest *d, const struct cw_port_sys *sys)
{
	switch (f) {
	case 0: return (double)d->time_wait;
	case 1: return (double)d->open;
	case 2: return (double)d->sources * sys->usable;
	case 3: return d->rate_max;
	default: return d->rate_now;
	}
}

/* Destinations, the --top busiest named per namespace, the rest summed. */
static int print_dests(FILE *out, const struct export_opts *o)
{
	char l[256], addr[CW_ENDPOINT_STRLEN];

	for (size_t f = 0; f < sizeof(dest_families) / sizeof(dest_families[0]); f++) {
		family(out, dest_families[f].name, "gauge", dest_families[f].help);
		for (size_t p = 0; p < o->nports; p++) {
			const struct cw_ports_report *r = o->ports[p].report;
			size_t n = r ? cw_ports_dest_count(r) : 0;
			const struct cw_port_dest **d = malloc((n ? n : 1) * sizeof(*d));
			double rest = 0;
			char ns[48] = "";

			if (!d)
				return -ENOMEM;
			for (size_t k = 0; k < n; k++)
				d[k] = cw_ports_dest(r, k);
			qsort(d, n, sizeof(*d), dest_cmp);
			if (o->per_netns)
				snprintf(ns, sizeof(ns), ",netns=\"%llu\"", (unsigned long long)o->ports[p].netns);
			for (size_t k = 0; k < n; k++) {
				if (k >= o->top) {
					rest += dest_value(f, d[k], o->ports[p].sys);
					continue;
				}
				cw_endpoint_str(&d[k]->dest, true, addr, sizeof(addr));
				snprintf(l, sizeof(l), "destination=\"%s\"%s", addr, ns);
				sample(out, dest_families[f].name, l, dest_value(f, d[k], o->ports[p].sys));
			}
			if (n > o->top) {
				snprintf(l, sizeof(l), "destination=\"other\"%s", ns);
				sample(out, dest_families[f].name, l, rest);
			}
			free(d);
		}
	}
	return 0;
}

static void print_self(FILE *out, const struct cw_census *c, const struct export_self *self,
		       bool om)
{
	family(out, "closewait_up", "gauge", "1 when the last census succeeded.");
	sample(out, "closewait_up", "", self->up ? 1 : 0);
	family(out, "closewait_scrape_duration_seconds", "gauge", "Time the last census took.");
	sample(out, "closewait_scrape_duration_seconds", "", self->scrape_s);
	family_of(out, "closewait_census_errors_total", "counter", "Censuses that failed, by what failed.",
		  om);
	sample(out, "closewait_census_errors_total", "kind=\"census\"", (double)self->errors_census);
	sample(out, "closewait_census_errors_total", "kind=\"ports\"", (double)self->errors_ports);
	family(out, "closewait_unreadable_processes", "gauge",
	       "Processes whose fds could not be read: their sockets count as owner unknown.");
	sample(out, "closewait_unreadable_processes", "", c ? cw_census_unreadable(c) : 0);
}

int export_render(FILE *out, const struct cw_census *c, const struct export_opts *o,
		  const struct export_self *self)
{
	struct groups g = { 0 };
	struct fd_cache fc = { 0 };
	struct counts k = { 0 };
	int err = 0;

	print_self(out, c, self, o->openmetrics);
	if (!c)
		goto end;
	print_states(out, c, o->per_netns);
	err = counts_init(&k, o);
	if (!err)
		err = collect(c, o, &g, &fc, &k);
	if (!err) {
		if (g.n)
			qsort(g.v, g.n, sizeof(*g.v), group_cmp);
		fold(&g, o->top);
		print_groups(out, &g);
		if (o->has_counts)
			print_counts(out, &g, o->openmetrics);
		err = print_dests(out, o);
	}
	free(k.v);
	free(k.added);
	free(g.v);
	free(g.ix.slot);
	free(fc.v);
	free(fc.ix.slot);
end:
	if (o->openmetrics && !err)
		fputs("# EOF\n", out);
	return err;
}
