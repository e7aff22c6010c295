/* Taking a census: the sock_diag dumps, then (if asked) the /proc owners. */
#include "census_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "clock.h"
#include "census_netlink.h"

static const char *const state_names[CW_TCP_MAX_STATE] = {
	[CW_TCP_ESTABLISHED] = "established", [CW_TCP_SYN_SENT] = "syn-sent",
	[CW_TCP_SYN_RECV] = "syn-recv",       [CW_TCP_FIN_WAIT1] = "fin-wait-1",
	[CW_TCP_FIN_WAIT2] = "fin-wait-2",    [CW_TCP_TIME_WAIT] = "time-wait",
	[CW_TCP_CLOSE] = "unconnected",       [CW_TCP_CLOSE_WAIT] = "close-wait",
	[CW_TCP_LAST_ACK] = "last-ack",       [CW_TCP_LISTEN] = "listen",
	[CW_TCP_CLOSING] = "closing",
};

const char *cw_tcp_state_name(int state)
{
	return state > 0 && state < CW_TCP_MAX_STATE ? state_names[state] : "?";
}

static int state_one(const char *name, size_t len, uint32_t *mask)
{
	if (len == 3 && !strncmp(name, "all", 3)) {
		*mask |= CW_STATES_ALL;
		return 0;
	}
	for (int s = 1; s < CW_TCP_MAX_STATE; s++) {
		if (s != CW_TCP_CLOSE && strlen(state_names[s]) == len &&
		    !strncmp(state_names[s], name, len)) {
			*mask |= CW_STATE_BIT(s);
			return 0;
		}
	}
	return -EINVAL;
}

int cw_tcp_states_parse(const char *names, uint32_t *mask)
{
	uint32_t m = 0;

	if (!names || !*names)
		return -EINVAL;
	for (const char *p = names;;) {
		size_t len = strcspn(p, ",");

		if (!len || state_one(p, len, &m))
			return -EINVAL;
		if (!p[len])
			break;
		p += len + 1;
	}
	*mask |= m;
	return 0;
}

const char *cw_timer_name(int timer)
{
	static const char *const names[] = { "none", "retrans", "keepalive", "timewait", "probe0" };

	return timer >= 0 && timer <= CW_TIMER_PROBE0 ? names[timer] : "?";
}

int census_new(uint64_t time_ms, uint64_t mono_ms, struct cw_census **out)
{
	struct cw_census *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->time_ms = time_ms;
	c->mono_ms = c->mono_end_ms = mono_ms;
	*out = c;
	return 0;
}

int census_add(struct cw_census *c, const struct cw_sock *s)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct cw_sock *v = realloc(c->socks, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->socks = v;
		c->cap = cap;
	}
	c->socks[c->n] = *s;
	c->socks[c->n].owner_first = 0;
	c->socks[c->n].nowners = 0;
	c->n++;
	return 0;
}

static int add_cb(const struct cw_sock *s, void *arg)
{
	return census_add(arg, s);
}

/* Owners arrive sorted by socket; comm[i] may repeat (it is copied per process). */
int census_set_owners(struct cw_census *c, const size_t *sock_idx, const pid_t *pid,
		      const int *fd, const char *const *comm, size_t n)
{
	c->has_owners = true;
	if (!n)
		return 0;
	c->owners = calloc(n, sizeof(*c->owners));
	c->comms = calloc(n, sizeof(*c->comms));
	if (!c->owners || !c->comms)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct cw_sock *s = &c->socks[sock_idx[i]];

		if (!c->ncomms || strcmp(c->comms[c->ncomms - 1], comm[i]))
			strncpy(c->comms[c->ncomms++], comm[i], sizeof(c->comms[0]) - 1);
		c->owners[i] = (struct cw_owner){ pid[i], fd[i], c->comms[c->ncomms - 1] };
		if (!s->nowners)
			s->owner_first = (uint32_t)i;
		if (s->nowners < UINT16_MAX)
			s->nowners++;
	}
	c->nowners = n;
	return 0;
}

static int attach_owners(struct cw_census *c, const struct procfd_result *r)
{
	size_t n = r->nhits;
	size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	pid_t *pid = malloc((n ? n : 1) * sizeof(*pid));
	int *fd = malloc((n ? n : 1) * sizeof(*fd));
	const char **comm = malloc((n ? n : 1) * sizeof(*comm));
	int err = -ENOMEM;

	if (!idx || !pid || !fd || !comm)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *cm = procfd_comm(r, r->hits[i].pid);

		idx[i] = r->hits[i].idx;
		pid[i] = r->hits[i].pid;
		fd[i] = r->hits[i].fd;
		comm[i] = cm ? cm : "?";
	}
	err = census_set_owners(c, idx, pid, fd, comm, n);
out:
	free(idx);
	free(pid);
	free(fd);
	free(comm);
	return err;
}

int census_owners_start(struct cw_census *c, const struct cw_census_opts *o, const pid_t *only,
			size_t nonly, const struct procfd_sink *sink, struct procfd_walk **w)
{
	uint32_t *inodes = calloc(c->n ? c->n : 1, sizeof(*inodes));
	unsigned threads = o->threads;
	int err;

	if (!inodes)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++)
		if (!o->want || o->want(&c->socks[i], o->want_arg))
			inodes[i] = c->socks[i].inode;
	if (!threads) {
		/* Two readers keep both cores of a small host busy; /proc lookups of
		 * different processes do not contend. More gains little. */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		threads = cpus >= 2 ? 2 : 1;
	}
	err = procfd_start(o->proc_root ? o->proc_root : "/proc", inodes, c->n, threads,
			   !o->all_owners, only, nonly, sink, w);
	free(inodes);
	return err;
}

int census_owners_finish(struct cw_census *c, struct procfd_walk *w)
{
	struct procfd_result r;
	int err = procfd_finish(w, &r);

	if (err)
		return err;
	c->partial = r.partial;
	c->unreadable = r.unreadable;
	err = attach_owners(c, &r);
	procfd_result_free(&r);
	return err;
}

static int take_owners(struct cw_census *c, const struct cw_census_opts *o)
{
	struct procfd_walk *w;
	int err = census_owners_start(c, o, NULL, 0, NULL, &w);

	return err ? err : census_owners_finish(c, w);
}

int cw_census_take(const struct cw_census_opts *o, struct cw_census **out)
{
	static const struct cw_census_opts defaults = { 0 };
	struct cw_census *c;
	int err;

	if (!o)
		o = &defaults;
	err = census_new(clock_ms(CLOCK_REALTIME), clock_ms(CLOCK_MONOTONIC), &c);
	if (err)
		return err;
	err = netlink_dump_tcp(AF_INET, o->states, o->ports, add_cb, c);
	if (!err)
		err = netlink_dump_tcp(AF_INET6, o->states, o->ports, add_cb, c);
	c->mono_end_ms = clock_ms(CLOCK_MONOTONIC);
	if (!err && o->owners)
		err = take_owners(c, o);
	if (err) {
		cw_census_free(c);
		return err;
	}
	*out = c;
	return 0;
}

void cw_census_free(struct cw_census *c)
{
	if (!c)
		return;
	free(c->socks);
	free(c->owners);
	free(c->comms);
	free(c);
}

size_t cw_census_count(const struct cw_census *c) { return c->n; }
const struct cw_sock *cw_census_sock(const struct cw_census *c, size_t i) { return &c->socks[i]; }
uint64_t cw_census_time_ms(const struct cw_census *c) { return c->time_ms; }
uint64_t cw_census_mono_ms(const struct cw_census *c) { return c->mono_ms; }
uint64_t cw_census_mono_end_ms(const struct cw_census *c) { return c->mono_end_ms; }
bool cw_census_has_owners(const struct cw_census *c) { return c->has_owners; }
bool cw_census_owners_partial(const struct cw_census *c) { return c->partial; }
unsigned cw_census_unreadable(const struct cw_census *c) { return c->unreadable; }

const struct cw_owner *cw_census_owners(const struct cw_census *c, size_t i, size_t *n)
{
	*n = c->socks[i].nowners;
	return *n ? &c->owners[c->socks[i].owner_first] : NULL;
}

enum cw_owner_kind cw_census_owner_kind(const struct cw_census *c, size_t i)
{
	if (!c->socks[i].inode)
		return CW_ORPHAN;
	return c->socks[i].nowners ? CW_OWNED : CW_UNKNOWN;
}
