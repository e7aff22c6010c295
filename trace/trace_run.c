/* closewait trace's loop: loads the eBPF side, then every interval takes a
 * census of CLOSE_WAIT sockets, joins it to the records by the socket
 * file's inode, reports each socket past --grace once, and the groups by
 * creating site; a summary at the end (--duration, SIGINT, SIGTERM). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "closewait/census_filter.h"
#include "trace.h"
#include "trace_leaks.h"
#include "trace_load.h"
#include "trace_out.h"
#include "trace_pin.h"

static volatile sig_atomic_t trace_stop;

static void on_signal(int signo)
{
	(void)signo;
	trace_stop = 1;
}

static uint64_t ns_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The two clocks read together: the eBPF side stamps CLOCK_MONOTONIC
 * (bpf_ktime_get_ns), the report shows CLOCK_REALTIME. */
struct clocks {
	uint64_t mono_ns, real_ns;
};

static void clocks_now(struct clocks *c)
{
	uint64_t m0 = ns_of(CLOCK_MONOTONIC);

	c->real_ns = ns_of(CLOCK_REALTIME);
	c->mono_ns = m0 + (ns_of(CLOCK_MONOTONIC) - m0) / 2;
}

/* A monotonic stamp as wall-clock milliseconds. */
static uint64_t wall_ms(const struct clocks *c, uint64_t mono_ns)
{
	return (c->real_ns - (c->mono_ns - mono_ns)) / 1000000u;
}

static int by_inode(const void *a, const void *b)
{
	const struct trace_entry *x = a, *y = b;

	return x->rec.inode < y->rec.inode ? -1 : x->rec.inode > y->rec.inode;
}

static const struct trace_entry *find_rec(const struct trace_entry *v, size_t n, uint64_t inode)
{
	struct trace_entry k = { .rec.inode = inode };

	if (!inode || !n)
		return NULL;
	return bsearch(&k, v, n, sizeof(*v), by_inode);
}

static const char *how_name(unsigned how)
{
	return how == CW_HOW_ACCEPT ? "accept" : how == CW_HOW_CONNECT ? "connect" : NULL;
}

/* "accept() in accept_loop (cwt_leaky.c:58) ← main": the headline frame and
 * its caller; the group key. */
static void make_site(struct trace_leak *l)
{
	char a[300], b[300];
	const struct trace_stack *s = &l->stack;
	size_t h = s->headline;

	if (l->before_trace) {
		snprintf(l->site, sizeof(l->site), "created before trace started");
		return;
	}
	if (l->has_stack && s->interpreter[0]) {
		snprintf(l->site, sizeof(l->site), "created by %s() in %s (%s)", how_name(l->how),
			 s->interpreter, TRACE_NOTE_INTERPRETER);
		return;
	}
	if (!l->has_stack || h >= s->n) {
		snprintf(l->site, sizeof(l->site), "created by %s(), stack unavailable%s", how_name(l->how),
			 l->creator_gone ? ": the creating process exited before it was seen" : "");
		return;
	}
	trace_frame_str(&s->frames[h], a, sizeof(a));
	if (h + 1 < s->n)
		snprintf(l->site, sizeof(l->site), "created by %s() in %s ← %s", how_name(l->how), a,
			 trace_frame_str(&s->frames[h + 1], b, sizeof(b)));
	else
		snprintf(l->site, sizeof(l->site), "created by %s() in %s", how_name(l->how), a);
	if (s->truncated) {
		size_t off = strlen(l->site);

		snprintf(l->site + off, sizeof(l->site) - off, " (%s)", TRACE_NOTE_TRUNCATED);
	}
}

/* Whether the record's creating process is still the one that has its
 * pid: the same start time (the record's in nanoseconds, /proc's in clock
 * ticks). A pid reused by another process would name the wrong code. */
static bool creator_alive(const struct cw_trace_rec *r)
{
	static long hz;
	uint64_t start = trace_pid_start((pid_t)r->pid);

	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	return start && hz > 0 && start == r->start_ns / (1000000000u / (uint64_t)hz);
}

/* Names the creating stack of the leak l from its record, once: when the
 * socket is first seen in CLOSE_WAIT, while the process that made it most
 * likely still runs, and only if it is still that process. */
static void name_stack(struct trace_bpf *b, const struct trace_entry *e, struct trace_leak *l)
{
	const struct cw_trace_rec *r = e ? &e->rec : NULL;
	uint64_t ips[CW_TRACE_STACK_DEPTH], fixup[CW_TRACE_FIXUP_WORDS];
	size_t n;

	if (l->stack_tried || !r || r->how == CW_HOW_NONE)
		return;
	l->stack_tried = true;
	if (!creator_alive(r)) {
		l->creator_gone = true;
		return;
	}
	for (size_t k = 0; k < CW_TRACE_FIXUP_WORDS; k++)
		fixup[k] = r->fixup[k];
	n = r->stack_id < 0 ? 0 : trace_bpf_stack(b, e->sk, ips, CW_TRACE_STACK_DEPTH);
	l->has_stack = n && !trace_stack_resolve((pid_t)r->pid, ips, n, fixup, CW_TRACE_FIXUP_WORDS,
						 &l->stack);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Fills a leak just past --grace from socket i of c and its record. */
static void fill(struct trace_bpf *b, const struct cw_census *c, size_t i, const struct trace_entry *e,
		 const struct clocks *now, struct trace_leak *l)
{
	const struct cw_trace_rec *r = e ? &e->rec : NULL;
	const struct cw_sock *s = cw_census_sock(c, i);
	const struct cw_workload *w;
	struct cw_age age;

	if (cw_census_owner_count(c, i)) {
		const struct cw_owner *o = cw_census_owner(c, i, 0);

		l->pid = o->pid;
		l->owner_start = trace_pid_start(o->pid);
		l->fd = o->fd;
		snprintf(l->command, sizeof(l->command), "%s", o->comm);
	}
	cw_endpoint_str(&s->local, true, l->local, sizeof(l->local));
	cw_endpoint_str(&s->peer, true, l->peer, sizeof(l->peer));
	l->inode = s->inode;
	l->netns = s->netns;
	/* a copy: the census goes at the end of the tick. A failed strdup only
	 * leaves a name out (null in JSON). */
	l->netns_name = dup_or_null(cw_census_sock_netns(c, i)->name);
	if ((w = cw_census_sock_workload(c, i))) {
		l->cgroup = dup_or_null(w->cgroup);
		l->systemd_unit = dup_or_null(w->systemd_unit);
		l->container_runtime = dup_or_null(w->container_runtime);
		l->container_id = dup_or_null(w->container_id);
		l->pod_uid = dup_or_null(w->pod_uid);
		l->pod_qos = dup_or_null(w->pod_qos);
	}
	l->why = cw_census_why(c, i);
	l->exact = r && r->close_wait_ns;
	if (l->exact) {
		l->since_ms = wall_ms(now, r->close_wait_ns);
		l->age_min_ms = l->age_max_ms = (now->mono_ns - r->close_wait_ns) / 1000000u;
	} else {
		cw_sock_age(s, &age);
		l->age_min_ms = age.known ? age.min_ms : 0;
		l->age_max_ms = age.known ? age.max_ms : 0;
	}
	if (r && r->eof_ns) {
		l->has_eof = true;
		l->eof_ms = wall_ms(now, r->eof_ns);
	}
	l->before_trace = !r || r->how == CW_HOW_NONE;
	if (!l->before_trace) {
		l->how = r->how;
		l->tid = (pid_t)r->tid;
		memcpy(l->thread, r->comm, sizeof(l->thread) - 1);
		l->created_ms = wall_ms(now, r->created_ns);
		name_stack(b, e, l);
	}
	make_site(l);
}

/* The key of socket i: its inode, or for a socket without one (unaccepted)
 * its namespace and endpoints. */
static void sock_key(const struct cw_sock *s, char *buf, size_t len)
{
	char a[64], p[64];

	if (s->inode) {
		snprintf(buf, len, "i:%u", s->inode);
		return;
	}
	cw_endpoint_str(&s->local, true, a, sizeof(a));
	cw_endpoint_str(&s->peer, true, p, sizeof(p));
	snprintf(buf, len, "u:%llu:%s>%s", (unsigned long long)s->netns, a, p);
}

struct tracer {
	const struct trace_opts *o;
	struct trace_bpf *bpf;
	struct trace_leaks leaks;
	struct trace_out *out;
	const char *census_err;       /* the last census failure in words */
	bool unreadable_said;         /* on_unreadable called */
	uint64_t pid_start;           /* --pid: its process's start time (trace_pid_start) */
	bool pid_gone;                /* --pid: that process exited (its pid may be another's now) */
};

/* A reported leak whose socket left CLOSE_WAIT or changed hands: said
 * once, with whether its owner exited. The owner is the process with its
 * pid and its start time: a process that reused the pid is not it. */
static void owner_check(struct tracer *t, struct trace_leak *l, const struct clocks *now)
{
	if (l->ended || !l->pid)
		return;
	l->owner_exited = !l->owner_start || trace_pid_start(l->pid) != l->owner_start;
	/* a live socket that changed hands while its owner runs: not over */
	if (l->live && !l->owner_exited)
		return;
	l->ended = true;
	if (l->owner_exited)
		t->leaks.g[l->group].owner_exited++;
	trace_out_leak_end(t->out, l, now->real_ns / 1000000u);
}

/* The --pid process exited: its leaks end with it, and trace with them
 * (a process that gets its pid later is not the one selected). */
static void pid_gone(struct tracer *t)
{
	struct clocks now;

	clocks_now(&now);
	for (size_t i = 0; i < t->leaks.n; i++) {
		t->leaks.v[i].live = false;
		if (t->leaks.v[i].reported)
			owner_check(t, &t->leaks.v[i], &now);
	}
	trace_leaks_sweep(&t->leaks);
	trace_out_groups(t->out, &t->leaks);
	t->pid_gone = true;
}

/* One census, joined and reported. 0 or -errno. */
static int tick(struct tracer *t)
{
	struct cw_census_opts co;
	struct cw_census *c;
	struct trace_entry *recs;
	struct clocks now;
	size_t nrecs;
	char key[192];
	int err;

	cw_census_opts_init(&co);
	co.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	co.owners = true;
	co.netns_sel = t->o->netns_sel;
	co.netns = t->o->netns;
	co.netns_pid = t->o->netns_pid;
	if (t->pid_start && trace_pid_start(t->o->filter->pid) != t->pid_start) {
		pid_gone(t);
		return 0;
	}
	if ((err = cw_census_take(&co, &c))) {
		if (err == -ESRCH && t->pid_start) {
			pid_gone(t);
			return 0;
		}
		t->census_err = census_strerror(&co, err);
		return err;
	}
	if (t->o->on_unreadable && !t->unreadable_said && cw_census_unreadable(c)) {
		t->unreadable_said = true;
		t->o->on_unreadable(c);
	}
	if ((err = trace_bpf_records(t->bpf, &recs, &nrecs))) {
		cw_census_free(c);
		return err;
	}
	if (nrecs) /* qsort and bsearch want an array, even an empty one */
		qsort(recs, nrecs, sizeof(*recs), by_inode);
	clocks_now(&now);
	for (size_t i = 0; i < t->leaks.n; i++)
		t->leaks.v[i].live = false;
	for (size_t i = 0; i < cw_census_count(c); i++) {
		const struct cw_sock *s = cw_census_sock(c, i);
		const struct trace_entry *e = find_rec(recs, nrecs, s->inode);
		const struct cw_trace_rec *r = e ? &e->rec : NULL;
		struct trace_leak *l;
		uint64_t age_ms, now_ms = now.mono_ns / 1000000u;
		struct cw_age age;

		if (s->state != CW_TCP_CLOSE_WAIT || cw_filter_match(t->o->filter, c, i, NULL) == CW_MATCH_NO)
			continue;
		sock_key(s, key, sizeof(key));
		l = trace_leaks_get(&t->leaks, key, now_ms);
		if (!l) {
			err = -ENOMEM;
			break;
		}
		l->live = true;
		if (l->reported) {
			const struct cw_owner *o = cw_census_owner_count(c, i) ? cw_census_owner(c, i, 0) : NULL;

			/* still open, but another process holds it now (its
			 * owner exited after passing it on, or a fork) */
			if (!o || o->pid != l->pid)
				owner_check(t, l, &now);
			continue;
		}
		name_stack(t->bpf, e, l);
		/* at least since the first census that saw it, or since the
		 * entry the eBPF side saw, or the census's lower bound */
		age_ms = now_ms - l->first_seen_ms;
		if (r && r->close_wait_ns)
			age_ms = (now.mono_ns - r->close_wait_ns) / 1000000u;
		else if (cw_sock_age(s, &age), age.known && age.min_ms > age_ms)
			age_ms = age.min_ms;
		if (age_ms < t->o->grace_ms)
			continue;
		fill(t->bpf, c, i, e, &now, l);
		l->reported = true;
		if ((err = trace_leaks_group(&t->leaks, l)))
			break;
		trace_out_leak(t->out, l);
	}
	/* reported leaks that left CLOSE_WAIT: closed, or their owner exited */
	for (size_t i = 0; !err && i < t->leaks.n; i++)
		if (t->leaks.v[i].reported && !t->leaks.v[i].live)
			owner_check(t, &t->leaks.v[i], &now);
	trace_leaks_sweep(&t->leaks);
	trace_out_groups(t->out, &t->leaks);
	free(recs);
	cw_census_free(c);
	return err;
}

static void summary(struct tracer *t)
{
	struct trace_counts k = {
		.inserted = trace_bpf_stat(t->bpf, CW_STAT_INSERTED),
		.deleted = trace_bpf_stat(t->bpf, CW_STAT_DELETED),
		.no_stack = trace_bpf_stat(t->bpf, CW_STAT_NO_STACK),
		.refused = trace_bpf_stat(t->bpf, CW_STAT_UPDATE_FAILED),
		.entered = trace_bpf_stat(t->bpf, CW_STAT_ENTERED),
		.left = trace_bpf_stat(t->bpf, CW_STAT_LEFT),
		.eof_times = trace_bpf_recv_length(t->bpf, NULL),
	};
	struct trace_entry *recs;
	size_t n;

	if (trace_bpf_records(t->bpf, &recs, &n) == 0) {
		k.live = n;
		free(recs);
	}
	trace_out_summary(t->out, &t->leaks, &k);
}

/* Sleeps until deadline (CLOCK_MONOTONIC ms); false once told to stop. */
static bool wait_until(uint64_t deadline_ms)
{
	for (;;) {
		uint64_t now = ns_of(CLOCK_MONOTONIC) / 1000000u;

		if (trace_stop)
			return false;
		if (now >= deadline_ms)
			return true;
		poll(NULL, 0, (int)(deadline_ms - now > 1000 ? 1000 : deadline_ms - now));
	}
}

int trace_run(const struct trace_opts *o)
{
	struct trace_bpf_opts bo = {
		.pid = o->filter->pid,
		.comm = o->filter->comm,
		.no_recv_length = o->no_recv_length,
	};
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: poll() returns */
	struct tracer t = { .o = o };
	struct trace_err e = { 0 };
	const char *why_not;
	uint64_t start, next, end;
	int err, status = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (o->filter->pid && !(t.pid_start = trace_pid_start(o->filter->pid))) {
		fprintf(stderr, "closewait trace: --pid %d: no such process\n", (int)o->filter->pid);
		return 2;
	}
	err = trace_bpf_open(&bo, &t.bpf, &e);
	if (err) {
		fprintf(stderr, "closewait trace: %s\n", e.msg);
		return e.privilege ? 2 : 1;
	}
	if (o->pin && trace_pin(trace_bpf_socks_fd(t.bpf), trace_bpf_procs_fd(t.bpf), o->pin, &e)) {
		fprintf(stderr, "closewait trace: %s\n", e.msg);
		trace_bpf_close(t.bpf);
		return e.privilege ? 2 : 1;
	}
	if (!trace_bpf_recv_length(t.bpf, &why_not))
		fprintf(stderr, "closewait trace: no EOF read times: %s; why comes from Recv-Q alone\n",
			why_not);
	t.out = trace_out_open(o);
	start = ns_of(CLOCK_MONOTONIC) / 1000000u;
	end = o->duration_ms ? start + o->duration_ms : UINT64_MAX;
	trace_out_started(t.out, trace_bpf_recv_length(t.bpf, NULL));
	for (next = start;;) {
		if ((err = tick(&t))) {
			fprintf(stderr, "closewait trace: %s\n",
				t.census_err ? t.census_err : strerror(-err));
			/* a selection that names nothing (--net, --pid) is a usage error */
			status = next == start && t.census_err ? 2 : 1;
			break;
		}
		if (t.pid_gone) {
			fprintf(stderr, "closewait trace: pid %d exited\n", (int)o->filter->pid);
			break;
		}
		next += o->interval_ms;
		if (next > end)
			next = end;
		if (!wait_until(next) || next >= end)
			break;
	}
	summary(&t);
	if (trace_out_close(t.out) && !status) {
		fprintf(stderr, "closewait trace: writing output failed\n");
		status = 1;
	}
	trace_leaks_free(&t.leaks);
	if (o->pin)
		trace_unpin(o->pin);
	trace_bpf_close(t.bpf);
	return status;
}
