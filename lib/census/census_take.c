/* Taking a census: the namespaces selected, one sock_diag dump per family
 * inside each (made by a thread that entered it: a sock_diag socket dumps
 * its creator's namespace), then, if asked, the owners in all of them with
 * one /proc walk (socket inodes are unique host-wide). */
#include "census_internal.h"
#include "census_lib.h"
#include "census_netns.h"
#include "census_testing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "clock.h"

/* The inode of the initial pid namespace (PROC_PID_INIT_INO): a process in
 * another one sees only part of the host's processes. */
#define PID_NS_INIT_INO 0xeffffffcu

/* One namespace's dumps. */
struct dump {
	struct cw_census *c;
	uint32_t states;              /* as asked (0: all) */
	const struct cw_filter *ports;
	bool listeners;               /* keep LISTEN sockets aside for unaccepted ones */
	uint64_t netns;
};

static int add_cb(const struct cw_sock *in, void *arg)
{
	const struct dump *d = arg;
	struct cw_sock s = *in;
	int err;

	s.netns = d->netns;
	if (s.state == CW_TCP_LISTEN && d->listeners) {
		err = census_add_listener(d->c, &s);
		if (err || (d->states && !(d->states & CW_STATE_BIT(CW_TCP_LISTEN))))
			return err;
	}
	return census_add(d->c, &s);
}

static int listener_cb(const struct cw_sock *in, void *arg)
{
	const struct dump *d = arg;
	struct cw_sock s = *in;

	s.netns = d->netns;
	return census_add_listener(d->c, &s);
}

static int dump_families(uint32_t states, const struct cw_filter *ports, netlink_sock_cb cb,
			 void *arg)
{
	int err = netlink_dump_tcp(AF_INET, states, ports, cb, arg);

	return err ? err : netlink_dump_tcp(AF_INET6, states, ports, cb, arg);
}

/* In the namespace to read (netns_call's thread, or ours). */
static int dump_here(void *arg)
{
	const struct dump *d = arg;
	struct dump main = *d;
	uint32_t states = d->states;
	int err;

	/* A port filter may drop the listener of a socket it keeps (--dport:
	 * a listener has no remote port): listeners then get a dump of their
	 * own; otherwise they come with the rest. */
	if (d->listeners && d->ports) {
		err = dump_families(CW_STATE_BIT(CW_TCP_LISTEN), NULL, listener_cb, &main);
		if (err)
			return err;
		main.listeners = false;
	} else if (d->listeners && states) {
		states |= CW_STATE_BIT(CW_TCP_LISTEN);
	}
	return dump_families(states, d->ports, add_cb, &main);
}

static int collect(const struct cw_census_opts *o, struct netns_set *set)
{
	switch (o->netns_sel) {
	case CW_NETNS_SEL_CURRENT: return netns_collect_current(set);
	case CW_NETNS_SEL_ONE:
		return o->netns ? netns_collect_one("/proc", "/run/netns", o->netns, set) : -EINVAL;
	case CW_NETNS_SEL_PID:
		return o->netns_pid > 0 ? netns_collect_pid("/proc", o->netns_pid, set) : -EINVAL;
	case CW_NETNS_SEL_ALL: return netns_collect_all("/proc", "/run/netns", set);
	}
	return -EINVAL;
}

static uint64_t own_ino(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
}

uint64_t census_own_netns(void)
{
	return own_ino("/proc/thread-self/ns/net");
}

int census_netns_fd(const struct cw_census *c, uint64_t ino)
{
	for (size_t j = 0; j < c->nns; j++)
		if (c->ns[j].pub.inode == ino)
			return c->ns[j].fd;
	return -1;
}

int census_netns_call(int nsfd, int (*fn)(void *arg), void *arg)
{
	return netns_call(nsfd, fn, arg);
}

int census_netns_socket(int nsfd, int domain, int type, int protocol)
{
	int fd;

	if (nsfd >= 0)
		return netns_socket(nsfd, domain, type, protocol);
	fd = socket(domain, type, protocol);
	return fd < 0 ? -errno : fd;
}

/* Moves the set's entries into the census's namespace table. */
static int adopt(struct cw_census *c, struct netns_set *set)
{
	c->ns = calloc(set->n ? set->n : 1, sizeof(*c->ns));
	if (!c->ns)
		return -ENOMEM;
	for (size_t j = 0; j < set->n; j++) {
		struct netns_entry *e = &set->v[j];
		struct census_ns *ns = &c->ns[c->nns++];

		ns->fd = -1;
		ns->name = e->name;
		ns->path = e->path;
		e->name = e->path = NULL;
		ns->pub = (struct cw_netns){ e->ino, ns->name, e->how, e->pid, ns->path, 0 };
	}
	c->ns_unreadable = set->unreadable;
	return 0;
}

/* Reads each namespace; one that cannot be read is fatal only when it was
 * the one asked for. */
static int dump_all(struct cw_census *c, const struct netns_set *set, const struct cw_census_opts *o,
		    const struct cw_filter *ports)
{
	uint64_t here = census_own_netns();
	bool fatal = o->netns_sel == CW_NETNS_SEL_CURRENT || o->netns_sel == CW_NETNS_SEL_ONE;

	for (size_t j = 0; j < c->nns; j++) {
		struct census_ns *ns = &c->ns[j];
		/* Listeners are kept aside even without owners: a walk started
		 * later (census_walk_start) finds their owners for unaccepted
		 * sockets, as reap's does. */
		struct dump d = { c, o->states, ports, true, ns->pub.inode };
		int err;

		if (ns->pub.inode == here) {
			err = dump_here(&d);
		} else {
			ns->fd = netns_open(&set->v[j]);
			err = ns->fd < 0 ? ns->fd : netns_call(ns->fd, dump_here, &d);
		}
		if (err == -ENOMEM || (err && fatal))
			return err;
		ns->pub.err = err;
	}
	return 0;
}

struct want_sock {
	const struct cw_census *c;
	const struct cw_census_opts *o;
};

static bool want_sock(size_t i, void *arg)
{
	const struct want_sock *ws = arg;

	return ws->o->want(&ws->c->socks[i], ws->o->want_arg);
}

static int take_owners(struct cw_census *c, const struct cw_census_opts *o)
{
	struct want_sock ws = { c, o };
	struct census_walk_opts wo = { .want = o->want ? want_sock : NULL, .want_arg = &ws,
				       .threads = o->threads, .all_owners = o->all_owners,
				       .fd_sockets = o->fd_sockets, .fd_sockets_arg = o->fd_sockets_arg };
	struct census_walk *w;
	int err = census_walk_start(c, &wo, &w);

	return err ? err : census_walk_finish(c, w);
}

/* Sockets of other namespaces that have a file but no owner, while we run
 * in a pid namespace of our own: their processes are likely out of sight. */
static void note_hidden(struct cw_census *c)
{
	uint64_t here = census_own_netns();

	if (own_ino("/proc/self/ns/pid") == PID_NS_INIT_INO)
		return;
	for (size_t i = 0; i < c->n && !c->owners_hidden; i++)
		c->owners_hidden = c->socks[i].inode && c->socks[i].netns != here &&
				   !cw_census_owner_count(c, i);
}

int census_take_seam(const struct cw_census_opts *opts, const struct census_seam *seam,
		     struct cw_census **out)
{
	struct cw_census_opts o;
	struct cw_filter ports;
	struct netns_set set = { 0 };
	struct cw_census *c = NULL;
	int err = 0;

	cw_census_opts_init(&o);
	if (opts)
		err = census_opts_read(opts, &o);
	if (!err && o.ports)
		err = census_filter_read(o.ports, &ports);
	if (err)
		return err;
	err = collect(&o, &set);
	if (err)
		return err;
	if (seam && seam->after_collect)
		seam->after_collect(seam->arg);
	err = census_new(clock_ms(CLOCK_REALTIME), clock_ms(CLOCK_MONOTONIC), &c);
	if (!err)
		err = adopt(c, &set);
	if (!err)
		err = dump_all(c, &set, &o, o.ports ? &ports : NULL);
	if (!err)
		c->mono_end_ms = clock_ms(CLOCK_MONOTONIC);
	if (!err && o.entry_times)
		err = census_entry_ages(c, o.entry_times, o.entry_time_count);
	if (!err && o.owners) {
		err = take_owners(c, &o);
		if (!err)
			note_hidden(c);
	}
	netns_set_free(&set);
	if (err) {
		cw_census_free(c);
		return err;
	}
	*out = c;
	return 0;
}

int cw_census_take(const struct cw_census_opts *opts, struct cw_census **out)
{
	return census_take_seam(opts, NULL, out);
}
