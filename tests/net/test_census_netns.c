/* The census across network namespaces (S19), at the library level, on
 * namespaces this test makes. Each child ("agent") unshares a network
 * namespace of its own with loopback up (or joins another agent's), then
 * makes and acts on sockets there as the test asks over a socketpair: the
 * test process holds no TCP socket itself and runs in a private namespace
 * of its own (cwt_netns), "the caller's namespace" below. Shown: the
 * selections (all, one, pid, current) and what each socket says of its
 * namespace; a namespace that disappears between being found and being
 * read; loopback pairs that must not pair across namespaces; sockets in a
 * listener's accept queue; reap in both modes from the caller's
 * namespace; workloads from cgroup2; watch grouped by namespace; ports per
 * namespace. Root. */
#include "cwtest.h"
#include "cwtest_main.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "closewait/census.h"
#include "closewait/census_filter.h"
#include "closewait/census_group.h"
#include "closewait/census_ports.h"
#include "closewait/census_watch.h"
#include "closewait/reap.h"
#include "census/census_cgroup.h"
#include "cwt_cgroup.h"
#include "census/census_lib.h"
#include "census/census_testing.h"
#include "reap/reap_diag.h"

/* ---- agents: children that act in a namespace for the test ---- */

enum op {
	OP_LO = 1,      /* a: 1 up, 0 down */
	OP_LISTEN,      /* s: address, a: port, b: backlog, c: SO_REUSEPORT -> fd, port, v: inode */
	OP_CONNECT,     /* s: address, a: port, b: local port (0: any) -> fd, port (local), v: inode */
	OP_ACCEPT,      /* a: listener -> fd, port, v: inode */
	OP_SEND,        /* a: fd, b: bytes */
	OP_SHUT_WR,     /* a: fd */
	OP_CLOSE,       /* a: fd */
	OP_ABORT,       /* a: fd, closed with SO_LINGER 0 (an RST, where one can be sent) */
	OP_RECV,        /* a: fd, b: ms to wait -> rc: bytes, 0 (end of file), -errno */
	OP_STATE,       /* a: fd -> rc: its TCP state */
	OP_DUMP,        /* a: local port (0: any), b: remote port (-1: any), c: state (0: any)
			 * -> rc: sockets of this namespace, v: the first one's Recv-Q */
	OP_CGROUP,      /* s: the cgroup directory to move into */
	OP_RANGE,       /* s: ip_local_port_range to set here */
	OP_THREAD_NS,   /* a thread moves to a namespace of its own and listens on
			 * 127.0.0.1 there -> fd, port, ino, v: inode */
	OP_LINGER2,     /* a: fd, b: TCP_LINGER2 seconds */
};

struct req {
	int op, a, b, c;
	char s[512];
};

struct rep {
	int rc, fd;
	uint16_t port;
	uint32_t v;
	uint64_t ino;
};

static uint64_t ns_ino(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
}

static int lo_set(bool up)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		err = -errno;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr))
		err = -errno;
	close(fd);
	return err;
}

static int sa_make(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *b = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &a->sin_addr) == 1) {
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, addr, &b->sin6_addr) == 1) {
		b->sin6_family = AF_INET6;
		b->sin6_port = htons((uint16_t)port);
		*len = sizeof(*b);
		return AF_INET6;
	}
	return -EINVAL;
}

static void sock_made(int fd, struct rep *r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct stat st;

	r->fd = fd;
	if (!getsockname(fd, (struct sockaddr *)&ss, &len))
		r->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
							 ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (!fstat(fd, &st))
		r->v = (uint32_t)st.st_ino;
}

static int fail_close(int fd)
{
	int err = -errno;

	close(fd);
	return err;
}

static int a_listen(const struct req *q, struct rep *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fam = sa_make(q->s, q->a, &ss, &len), one = 1, zero = 0, fd;

	if (fam < 0)
		return fam;
	fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (q->c && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		return fail_close(fd);
	/* a :: listener takes IPv4 too, whatever the sysctl says */
	if (fam == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)))
		return fail_close(fd);
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, q->b))
		return fail_close(fd);
	sock_made(fd, r);
	return 0;
}

static int a_connect(const struct req *q, struct rep *r)
{
	struct sockaddr_storage ss, me;
	socklen_t len, mlen;
	int fam = sa_make(q->s, q->a, &ss, &len), fd;

	if (fam < 0)
		return fam;
	fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (q->b) {
		sa_make(fam == AF_INET ? "127.0.0.1" : "::1", q->b, &me, &mlen);
		if (bind(fd, (struct sockaddr *)&me, mlen))
			return fail_close(fd);
	}
	if (connect(fd, (struct sockaddr *)&ss, len))
		return fail_close(fd);
	sock_made(fd, r);
	return 0;
}

static int wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, ms);

	return n < 0 ? -errno : n == 0 ? -ETIMEDOUT : 0;
}

static int a_accept(const struct req *q, struct rep *r)
{
	int err = wait_in(q->a, (int)cwt_slack_ms(2000)), fd;

	if (err)
		return err;
	fd = accept4(q->a, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	sock_made(fd, r);
	return 0;
}

static int a_recv(const struct req *q)
{
	char buf[4096];
	int err = wait_in(q->a, q->b);
	ssize_t n;

	if (err)
		return err;
	n = recv(q->a, buf, sizeof(buf), MSG_DONTWAIT);
	return n < 0 ? -errno : (int)n;
}

static int a_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ? -errno : ti.tcpi_state;
}

struct dumpq {
	int lport, rport, n;
	uint32_t rqueue;
};

static int dump_cb(const struct cw_sock *s, void *arg)
{
	struct dumpq *d = arg;

	if ((d->lport && s->local.port != d->lport) || (d->rport >= 0 && s->peer.port != d->rport))
		return 0;
	if (!d->n++)
		d->rqueue = s->rqueue;
	return 0;
}

/* A dump made here, inside the agent's namespace. */
static int a_dump(const struct req *q, struct rep *r)
{
	struct dumpq d = { q->a, q->b, 0, 0 };
	uint32_t states = q->c ? CW_STATE_BIT(q->c) : 0;
	int err = netlink_dump_tcp(AF_INET, states, NULL, dump_cb, &d);

	if (!err)
		err = netlink_dump_tcp(AF_INET6, states, NULL, dump_cb, &d);
	r->v = d.rqueue;
	return err ? err : d.n;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		err = -errno;
	close(fd);
	return err;
}

static int a_cgroup(const char *dir)
{
	char path[600], pid[24];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	return write_str(path, pid);
}

static void *thread_ns(void *arg)
{
	int *out = arg;
	struct req q = { .op = OP_LISTEN, .b = 8, .s = "127.0.0.1" };
	struct rep r = { .fd = -1 };

	if (unshare(CLONE_NEWNET))
		r.rc = -errno;
	else
		r.rc = lo_set(true);
	if (!r.rc)
		r.rc = a_listen(&q, &r);
	r.ino = ns_ino("/proc/thread-self/ns/net");
	if (write(*out, &r, sizeof(r)) != sizeof(r))
		return NULL;
	for (;;)
		pause();
	return NULL;
}

static int a_thread_ns(struct rep *r)
{
	static int p[2];
	pthread_t t;

	if (pipe2(p, O_CLOEXEC) || pthread_create(&t, NULL, thread_ns, &p[1]))
		return -EAGAIN;
	if (read(p[0], r, sizeof(*r)) != sizeof(*r))
		return -EIO;
	close(p[0]);
	close(p[1]);
	return r->rc;
}

static int agent_op(const struct req *q, struct rep *r)
{
	static const struct linger abort_now = { 1, 0 };
	char buf[4096];

	switch (q->op) {
	case OP_LO: return lo_set(q->a);
	case OP_LISTEN: return a_listen(q, r);
	case OP_CONNECT: return a_connect(q, r);
	case OP_ACCEPT: return a_accept(q, r);
	case OP_SEND:
		memset(buf, 'x', sizeof(buf));
		return send(q->a, buf, (size_t)q->b, 0) == q->b ? 0 : -EIO;
	case OP_SHUT_WR: return shutdown(q->a, SHUT_WR) ? -errno : 0;
	case OP_CLOSE: return close(q->a) ? -errno : 0;
	case OP_ABORT:
		if (setsockopt(q->a, SOL_SOCKET, SO_LINGER, &abort_now, sizeof(abort_now)))
			return -errno;
		return close(q->a) ? -errno : 0;
	case OP_RECV: return a_recv(q);
	case OP_STATE: return a_state(q->a);
	case OP_DUMP: return a_dump(q, r);
	case OP_CGROUP: return a_cgroup(q->s);
	case OP_RANGE: return write_str("/proc/sys/net/ipv4/ip_local_port_range", q->s);
	case OP_THREAD_NS: return a_thread_ns(r);
	case OP_LINGER2:
		return setsockopt(q->a, IPPROTO_TCP, TCP_LINGER2, &q->b, sizeof(q->b)) ? -errno : 0;
	}
	return -EINVAL;
}

static int ns_enter(pid_t join)
{
	char path[64];
	int fd, err = 0;

	if (!join) {
		if (unshare(CLONE_NEWNET))
			return -errno;
		return lo_set(true);
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)join);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

/* The child: keeps only its end of the socketpair (inherited fds of other
 * agents would keep their sockets alive), enters its namespace, reports,
 * then serves requests until the test closes its end (or dies). */
static _Noreturn void agent_main(int ctl, pid_t parent, pid_t join)
{
	struct rep r = { .fd = -1 };
	struct req q;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(90);
	if (ctl > 3)
		close_range(3, (unsigned)ctl - 1, 0);
	close_range((unsigned)ctl + 1, ~0u, 0);
	r.rc = ns_enter(join);
	r.ino = ns_ino("/proc/thread-self/ns/net");
	if (write(ctl, &r, sizeof(r)) != sizeof(r) || r.rc)
		_exit(91);
	while (read(ctl, &q, sizeof(q)) == sizeof(q)) {
		memset(&r, 0, sizeof(r));
		r.fd = -1;
		r.rc = agent_op(&q, &r);
		if (write(ctl, &r, sizeof(r)) != sizeof(r))
			_exit(92);
	}
	_exit(0);
}

struct agent {
	pid_t pid;                    /* 0: a free slot */
	int ctl;
	uint64_t ino;                 /* its network namespace */
};

#define MAX_AGENTS 8
static struct agent agents[MAX_AGENTS];

static void agent_reply(struct agent *a, struct rep *r)
{
	if (wait_in(a->ctl, (int)cwt_slack_ms(10000)))
		fail_msg("agent %d does not answer", (int)a->pid);
	if (read(a->ctl, r, sizeof(*r)) != sizeof(*r))
		fail_msg("agent %d ended", (int)a->pid);
}

/* A child in a new namespace (join NULL) or in join's. */
static struct agent *agent_start(const struct agent *join)
{
	struct agent *a = NULL;
	struct rep r;
	pid_t parent = getpid();
	int sv[2];

	for (int i = 0; i < MAX_AGENTS && !a; i++)
		if (!agents[i].pid)
			a = &agents[i];
	assert_non_null(a);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	a->pid = fork();
	assert_true(a->pid >= 0);
	if (a->pid == 0) {
		close(sv[0]);
		agent_main(sv[1], parent, join ? join->pid : 0);
	}
	close(sv[1]);
	a->ctl = sv[0];
	agent_reply(a, &r);
	if (r.rc)
		fail_msg("agent could not enter its namespace: %s", strerror(-r.rc));
	a->ino = r.ino;
	return a;
}

/* Kills and reaps it: a namespace it alone held is gone after. */
static void agent_end(struct agent *a)
{
	if (!a->pid)
		return;
	close(a->ctl);
	kill(a->pid, SIGKILL);
	waitpid(a->pid, NULL, 0);
	memset(a, 0, sizeof(*a));
}

static struct rep ag(struct agent *a, int op, int x, int y, int z, const char *s)
{
	struct req q = { op, x, y, z, { 0 } };
	struct rep r;

	if (s)
		snprintf(q.s, sizeof(q.s), "%s", s);
	assert_int_equal(write(a->ctl, &q, sizeof(q)), (ssize_t)sizeof(q));
	agent_reply(a, &r);
	return r;
}

static struct rep ag_ok(struct agent *a, int op, int x, int y, int z, const char *s)
{
	struct rep r = ag(a, op, x, y, z, s);

	if (r.rc < 0)
		fail_msg("agent %d: op %d: %s", (int)a->pid, op, strerror(-r.rc));
	return r;
}

struct until {
	struct agent *a;
	int op, x, y, z, want;
};

static bool until_cb(void *arg)
{
	struct until *u = arg;

	return ag(u->a, u->op, u->x, u->y, u->z, NULL).rc == u->want;
}

/* Polls the agent until op answers want (the kernel's state machine runs
 * in softirq: on loopback within microseconds, but not before we look). */
static void wait_for(struct agent *a, int op, int x, int y, int z, int want, const char *what)
{
	struct until u = { a, op, x, y, z, want };

	if (cwt_poll_until(until_cb, &u, (unsigned)cwt_slack_ms(3000)) < 0)
		fail_msg("%s: not %d after 3 s (is %d)", what, want, ag(a, op, x, y, z, NULL).rc);
}

static void wait_state(struct agent *a, int fd, int state)
{
	wait_for(a, OP_STATE, fd, 0, 0, state, cw_tcp_state_name(state));
}

static struct rep listen_on(struct agent *a, const char *addr, int port, bool reuseport)
{
	return ag_ok(a, OP_LISTEN, port, 16, reuseport, addr);
}

/* What the client of a leaked connection does. */
enum client_end {
	CLIENT_CLOSES,                /* an orphan in FIN_WAIT_2 (a timewait socket, see
				       * test_workload_unit) */
	CLIENT_SHUTS,                 /* shuts its side down, keeps its fd: it sees what the
				       * server end does */
	CLIENT_CLOSES_LONG,           /* closes with TCP_LINGER2 over 60 s: the orphan stays
				       * a full socket */
};

/* A leaked connection in a's namespace: a client connects to a's listener
 * l on 127.0.0.1, the server end is accepted and never closed (CLOSE_WAIT)
 * and the client's end is in FIN_WAIT_2. */
struct leak {
	int srv, cli;                 /* fds in the agent (cli -1: closed) */
	uint16_t sport, cport;
	uint32_t srv_ino;
};

static struct leak leak_make(struct agent *a, const struct rep *l, enum client_end how)
{
	struct rep c = ag_ok(a, OP_CONNECT, l->port, 0, 0, "127.0.0.1");
	struct rep s = ag_ok(a, OP_ACCEPT, l->fd, 0, 0, NULL);
	struct leak k = { s.fd, how == CLIENT_SHUTS ? c.fd : -1, l->port, c.port, s.v };

	if (how == CLIENT_CLOSES_LONG)
		ag_ok(a, OP_LINGER2, c.fd, 120, 0, NULL);
	ag_ok(a, how == CLIENT_SHUTS ? OP_SHUT_WR : OP_CLOSE, c.fd, 0, 0, NULL);
	wait_state(a, s.fd, CW_TCP_CLOSE_WAIT);
	/* The server's ACK of the FIN is a delayed one (CLOSE_WAIT enters
	 * pingpong mode): the client is in FIN_WAIT_1 until it comes. */
	wait_for(a, OP_DUMP, k.cport, k.sport, CW_TCP_FIN_WAIT2, 1, "the client in FIN_WAIT_2");
	return k;
}

/* n clients that connect to 127.0.0.1:port, send 5 bytes and close (or,
 * keep, shut their side down and keep their fds in cli); then n of the
 * namespace's CLOSE_WAIT sockets are on that port. The client ports go to
 * cport (may be NULL). */
static void unaccepted_make(struct agent *a, uint16_t port, int n, uint16_t *cport, int *cli)
{
	for (int k = 0; k < n; k++) {
		struct rep c = ag_ok(a, OP_CONNECT, port, 0, 0, "127.0.0.1");

		ag_ok(a, OP_SEND, c.fd, 5, 0, NULL);
		ag_ok(a, cli ? OP_SHUT_WR : OP_CLOSE, c.fd, 0, 0, NULL);
		if (cport)
			cport[k] = c.port;
		if (cli)
			cli[k] = c.fd;
	}
	wait_for(a, OP_DUMP, port, -1, CW_TCP_CLOSE_WAIT, n, "unaccepted CLOSE_WAIT sockets");
}

/* ---- cgroups (test_workload) ---- */

static char cg_parent[PATH_MAX];       /* ---- setup: every test ends with its agents reaped, its cgroups gone
 * and the fds it started with ---- */

static int teardown(void **state)
{
	struct stat st;
	int ret;

	for (int i = 0; i < MAX_AGENTS; i++)
		agent_end(&agents[i]);
	ret = cwt_fd_teardown(state);
	if (cg_parent[0]) {
		cwt_cgroup_rm_tree(cg_parent);
		if (!stat(cg_parent, &st)) {
			fprintf(stderr, "test_census_netns: could not remove %s\n", cg_parent);
			ret = -1;
		}
		cg_parent[0] = 0;
	}
	return ret;
}

#define NS_TEST(f) cmocka_unit_test_setup_teardown(f, cwt_fd_setup, teardown)

/* ---- census helpers ---- */

static struct cw_census *take(enum cw_netns_sel sel, const char *one, pid_t pid, uint32_t states,
			      bool owners)
{
	struct cw_census_opts o;
	struct cw_census *c;
	int err;

	cw_census_opts_init(&o);
	o.netns_sel = sel;
	o.netns = one;
	o.netns_pid = pid;
	o.states = states;
	o.owners = o.all_owners = owners;
	err = cw_census_take(&o, &c);
	if (err)
		fail_msg("cw_census_take: %s", strerror(-err));
	return c;
}

static bool sock_is(const struct cw_sock *s, uint64_t ns, int state, int lport, int rport)
{
	return s->netns == ns && (!state || s->state == state) && (lport < 0 || s->local.port == lport) &&
	       (rport < 0 || s->peer.port == rport);
}

static size_t count_of(const struct cw_census *c, uint64_t ns, int state, int lport, int rport)
{
	size_t n = 0;

	for (size_t i = 0; i < cw_census_count(c); i++)
		n += sock_is(cw_census_sock(c, i), ns, state, lport, rport);
	return n;
}

/* The one socket of c that is (ns, state, lport, rport); fails unless one. */
static size_t find1(const struct cw_census *c, uint64_t ns, int state, int lport, int rport)
{
	size_t at = 0, n = 0;

	for (size_t i = 0; i < cw_census_count(c); i++)
		if (sock_is(cw_census_sock(c, i), ns, state, lport, rport)) {
			at = i;
			n++;
		}
	if (n == 1)
		return at;
	for (size_t i = 0; i < cw_census_count(c); i++) {
		const struct cw_sock *s = cw_census_sock(c, i);

		if (s->netns == ns)
			print_message("census has %s :%u -> :%u inode %u\n", cw_tcp_state_name(s->state),
				      s->local.port, s->peer.port, s->inode);
	}
	fail_msg("%zu sockets %s :%d -> :%d in namespace %llu, not 1", n, cw_tcp_state_name(state),
		 lport, rport, (unsigned long long)ns);
	return 0;
}

/* The census's entry for namespace ino, and its index; fails unless once. */
static const struct cw_netns *ns_in(const struct cw_census *c, uint64_t ino, size_t *j)
{
	const struct cw_netns *e = NULL;
	int n = 0;

	for (size_t k = 0; k < cw_census_netns_count(c); k++)
		if (cw_census_netns(c, k)->inode == ino) {
			e = cw_census_netns(c, k);
			if (j)
				*j = k;
			n++;
		}
	if (n != 1)
		fail_msg("namespace %llu listed %d times", (unsigned long long)ino, n);
	return e;
}

static void owner_is(const struct cw_census *c, size_t i, size_t k, pid_t pid, int fd)
{
	const struct cw_owner *o;

	if (k >= cw_census_owner_count(c, i))
		fail_msg("socket %zu has %zu owners: no owner %zu (pid %d)", i,
			 cw_census_owner_count(c, i), k, (int)pid);
	o = cw_census_owner(c, i, k);
	assert_int_equal(o->pid, pid);
	assert_int_equal(o->fd, fd);
}

static uint64_t proc_ns_ino(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	return ns_ino(path);
}

#define CW CW_TCP_CLOSE_WAIT
#define FW2 CW_TCP_FIN_WAIT2

/* ---- 1. the selections ---- */

/* CW_NETNS_SEL_ALL finds a leak in a child's namespace: the socket carries
 * that namespace's inode (stat -L /proc/PID/ns/net), its owner is the
 * child (pid, fd); the namespace was found through the process. */
static void test_all_finds_leak(void **state)
{
	struct agent *a = agent_start(NULL);
	struct rep l = listen_on(a, "127.0.0.1", 0, false);
	struct leak k = leak_make(a, &l, CLIENT_CLOSES);
	struct cw_census *c;
	const struct cw_netns *ns;
	size_t i, o;

	(void)state;
	assert_true(a->ino == proc_ns_ino(a->pid));
	assert_true(a->ino != ns_ino("/proc/self/ns/net"));
	c = take(CW_NETNS_SEL_ALL, NULL, 0, CW_STATE_BIT(CW) | CW_STATE_BIT(FW2), true);
	i = find1(c, a->ino, CW, k.sport, k.cport);
	assert_int_equal(cw_census_sock(c, i)->inode, k.srv_ino);
	assert_int_equal(cw_census_owner_kind(c, i), CW_OWNED);
	assert_int_equal(cw_census_owner_count(c, i), 1);
	owner_is(c, i, 0, a->pid, k.srv);
	assert_int_equal(cw_census_why(c, i), CW_WHY_NEVER_READ);
	ns = cw_census_sock_netns(c, i);
	assert_true(ns == ns_in(c, a->ino, NULL));
	assert_true(ns->inode == a->ino);
	assert_int_equal(ns->how, CW_NETNS_PROCESS);
	assert_int_equal(ns->pid, a->pid);
	assert_null(ns->path);
	assert_null(ns->name);
	assert_int_equal(ns->err, 0);
	/* the client's end, closed: an orphan of the same namespace */
	o = find1(c, a->ino, FW2, k.cport, k.sport);
	assert_int_equal(cw_census_owner_kind(c, o), CW_ORPHAN);
	assert_true(cw_census_sock_netns(c, o) == ns);
	/* and the caller's own namespace is read too */
	assert_int_equal(ns_in(c, ns_ino("/proc/thread-self/ns/net"), NULL)->err, 0);
	cw_census_free(c);
}

/* CW_NETNS_SEL_ONE: "pid:PID" and a path name that one namespace only. */
static void test_one_pid_and_path(void **state)
{
	struct agent *a = agent_start(NULL);
	struct rep l = listen_on(a, "127.0.0.1", 0, false);
	struct leak k = leak_make(a, &l, CLIENT_CLOSES);
	char spec[2][64];

	(void)state;
	snprintf(spec[0], sizeof(spec[0]), "pid:%d", (int)a->pid);
	snprintf(spec[1], sizeof(spec[1]), "/proc/%d/ns/net", (int)a->pid);
	for (int s = 0; s < 2; s++) {
		struct cw_census *c = take(CW_NETNS_SEL_ONE, spec[s], 0, CW_STATE_BIT(CW), true);
		const struct cw_netns *ns = cw_census_netns(c, 0);
		size_t i;

		assert_int_equal(cw_census_netns_count(c), 1);
		assert_true(ns->inode == a->ino);
		assert_int_equal(ns->how, CW_NETNS_GIVEN);
		assert_string_equal(ns->path, spec[s]);
		assert_int_equal(ns->err, 0);
		assert_int_equal(count_of(c, a->ino, 0, -1, -1), cw_census_count(c));
		i = find1(c, a->ino, CW, k.sport, k.cport);
		owner_is(c, i, 0, a->pid, k.srv);
		assert_true(cw_census_sock_netns(c, i) == ns);
		cw_census_free(c);
	}
}

/* CW_NETNS_SEL_PID: a process whose leader is in one namespace and one of
 * whose threads is in another: both are read, each socket in its own. */
static void test_pid_thread_elsewhere(void **state)
{
	struct agent *t = agent_start(NULL);
	struct rep l1 = listen_on(t, "127.0.0.1", 0, false);
	struct rep l2 = ag_ok(t, OP_THREAD_NS, 0, 0, 0, NULL);
	struct cw_census *c;
	const struct cw_netns *n1, *n2;
	size_t i1, i2;

	(void)state;
	assert_true(l2.ino != t->ino);
	c = take(CW_NETNS_SEL_PID, NULL, t->pid, CW_STATE_BIT(CW_TCP_LISTEN), true);
	assert_int_equal(cw_census_netns_count(c), 2);
	n1 = ns_in(c, t->ino, NULL);
	n2 = ns_in(c, l2.ino, NULL);
	assert_int_equal(n1->how, CW_NETNS_PROCESS);
	assert_int_equal(n2->how, CW_NETNS_THREAD);
	assert_int_equal(n1->pid, t->pid);
	assert_int_equal(n2->pid, t->pid);
	assert_int_equal(n1->err, 0);
	assert_int_equal(n2->err, 0);
	assert_int_equal(cw_census_count(c), 2);
	i1 = find1(c, t->ino, CW_TCP_LISTEN, l1.port, 0);
	i2 = find1(c, l2.ino, CW_TCP_LISTEN, l2.port, 0);
	owner_is(c, i1, 0, t->pid, l1.fd);
	owner_is(c, i2, 0, t->pid, l2.fd);
	assert_true(cw_census_sock_netns(c, i2) == n2);
	cw_census_free(c);
}

/* CW_NETNS_SEL_CURRENT (the default): the caller's namespace only. */
static void test_current_sees_only_ours(void **state)
{
	struct agent *a = agent_start(NULL);
	struct rep l = listen_on(a, "127.0.0.1", 0, false);
	struct leak k = leak_make(a, &l, CLIENT_CLOSES);
	struct cw_census *c = take(CW_NETNS_SEL_CURRENT, NULL, 0, 0, true);

	(void)state;
	assert_int_equal(cw_census_netns_count(c), 1);
	assert_true(cw_census_netns(c, 0)->inode == ns_ino("/proc/thread-self/ns/net"));
	assert_int_equal(cw_census_netns(c, 0)->how, CW_NETNS_CURRENT);
	assert_int_equal(count_of(c, a->ino, 0, -1, -1), 0);
	for (size_t i = 0; i < cw_census_count(c); i++)
		assert_true(cw_census_sock(c, i)->inode != k.srv_ino);
	cw_census_free(c);
}

/* ---- 2. a namespace that disappears mid-scan ---- */

struct vanish {
	struct agent *a;
	bool ran;
};

/* Between finding the namespaces and reading them: the only process of
 * one is killed and reaped. */
static void vanish_hook(void *arg)
{
	struct vanish *v = arg;

	agent_end(v->a);
	v->ran = true;
}

static void test_namespace_vanishes(void **state)
{
	struct agent *gone = agent_start(NULL), *stay = agent_start(NULL);
	struct rep lg = listen_on(gone, "127.0.0.1", 0, false);
	struct rep ls = listen_on(stay, "127.0.0.1", 0, false);
	struct leak kg = leak_make(gone, &lg, CLIENT_CLOSES), ks = leak_make(stay, &ls, CLIENT_CLOSES);
	uint64_t gone_ino = gone->ino;
	struct vanish v = { gone, false };
	struct census_seam seam = { vanish_hook, &v };
	struct cw_census_opts o;
	struct cw_census *c;
	const struct cw_netns *ns;
	char spec[64];
	size_t i;

	(void)state;
	(void)kg;
	cw_census_opts_init(&o);
	o.netns_sel = CW_NETNS_SEL_ALL;
	o.states = CW_STATE_BIT(CW);
	o.owners = true;
	assert_int_equal(census_take_seam(&o, &seam, &c), 0);
	assert_true(v.ran);
	ns = ns_in(c, gone_ino, NULL);
	assert_int_equal(ns->err, -ENOENT);
	assert_int_equal(ns->how, CW_NETNS_PROCESS);
	assert_int_equal(count_of(c, gone_ino, 0, -1, -1), 0);
	assert_int_equal(ns_in(c, stay->ino, NULL)->err, 0);
	i = find1(c, stay->ino, CW, ks.sport, ks.cport);
	owner_is(c, i, 0, stay->pid, ks.srv);
	cw_census_free(c);

	/* The one namespace asked for, gone: that is the census's error. */
	snprintf(spec, sizeof(spec), "pid:%d", (int)stay->pid);
	o.netns_sel = CW_NETNS_SEL_ONE;
	o.netns = spec;
	v = (struct vanish){ stay, false };
	c = NULL;
	assert_int_equal(census_take_seam(&o, &seam, &c), -ENOENT);
	assert_true(v.ran);
	assert_null(c);
}

/* ---- 3. loopback pairs in two namespaces ---- */

/* In a's namespace, a connection 127.0.0.1:cport -> 127.0.0.1:sport whose
 * client shut its side down: the client in FIN_WAIT_2, the server in
 * CLOSE_WAIT, both held. keep: which end stays ('c' client, 's' server,
 * 'b' both); the other is aborted while loopback is down, so that its RST
 * never arrives and the end kept stays as it is, alone. */
static void half_pair(struct agent *a, int sport, int cport, char keep)
{
	struct rep l = listen_on(a, "127.0.0.1", sport, false);
	struct rep c = ag_ok(a, OP_CONNECT, sport, cport, 0, "127.0.0.1");
	struct rep s = ag_ok(a, OP_ACCEPT, l.fd, 0, 0, NULL);

	ag_ok(a, OP_CLOSE, l.fd, 0, 0, NULL);
	ag_ok(a, OP_SHUT_WR, c.fd, 0, 0, NULL);
	wait_state(a, s.fd, CW);
	wait_state(a, c.fd, FW2);
	if (keep == 'b')
		return;
	ag_ok(a, OP_LO, 0, 0, 0, NULL);
	ag_ok(a, OP_ABORT, keep == 'c' ? s.fd : c.fd, 0, 0, NULL);
	ag_ok(a, OP_LO, 1, 0, 0, NULL);
	wait_state(a, keep == 'c' ? c.fd : s.fd, keep == 'c' ? FW2 : CW);
}

/* A FIN_WAIT_2 in namespace A and a CLOSE_WAIT in namespace B with the
 * same 127.0.0.1 address pair, not connected to each other, are not
 * paired; the same pair inside namespace C, connected, is. */
static void test_pair_not_across(void **state)
{
	enum { SPORT = 8600, CPORT = 45000 };
	struct agent *a = agent_start(NULL), *b = agent_start(NULL), *cc = agent_start(NULL);
	struct cw_census *c;
	size_t *peer, fa, cb, fc, ccw;

	(void)state;
	half_pair(a, SPORT, CPORT, 'c');
	half_pair(b, SPORT, CPORT, 's');
	half_pair(cc, SPORT, CPORT, 'b');
	c = take(CW_NETNS_SEL_ALL, NULL, 0, CW_STATE_BIT(CW) | CW_STATE_BIT(FW2), false);
	assert_int_equal(count_of(c, a->ino, CW, -1, -1), 0);
	assert_int_equal(count_of(c, b->ino, FW2, -1, -1), 0);
	fa = find1(c, a->ino, FW2, CPORT, SPORT);
	cb = find1(c, b->ino, CW, SPORT, CPORT);
	fc = find1(c, cc->ino, FW2, CPORT, SPORT);
	ccw = find1(c, cc->ino, CW, SPORT, CPORT);
	peer = malloc(cw_census_count(c) * sizeof(*peer));
	assert_non_null(peer);
	assert_int_equal(cw_census_pair(c, peer), 0);
	assert_true(peer[fa] == CW_NO_PEER);
	assert_true(peer[cb] == CW_NO_PEER);
	assert_true(peer[ccw] == fc);
	assert_true(peer[fc] == ccw);
	free(peer);
	cw_census_free(c);
}

/* ---- 4. unaccepted sockets ---- */

/* Socket i is unaccepted, in CLOSE_WAIT, its one listener l (queued
 * Recv-Q), its owners the listener's. */
static void unaccepted_is(const struct cw_census *c, size_t i, const struct rep *l, pid_t pid,
			  uint32_t queued)
{
	const struct cw_sock *s = cw_census_sock(c, i), *ls;

	assert_int_equal(s->state, CW);
	assert_int_equal(s->inode, 0);
	assert_true(s->rqueue >= 1);
	assert_int_equal(cw_census_owner_kind(c, i), CW_UNACCEPTED);
	assert_int_equal(cw_census_why(c, i), CW_WHY_UNACCEPTED);
	assert_int_equal(cw_census_owner_count(c, i), 1);
	owner_is(c, i, 0, pid, l->fd);
	assert_int_equal(cw_census_listener_count(c, i), 1);
	ls = cw_census_listener(c, i, 0);
	assert_int_equal(ls->state, CW_TCP_LISTEN);
	assert_int_equal(ls->inode, l->v);
	assert_true(ls->netns == s->netns);
	assert_int_equal(ls->local.port, s->local.port);
	assert_int_equal(ls->rqueue, queued);
}

/* A listener that never accepts, 3 clients that connect, send and close:
 * 3 unaccepted CLOSE_WAIT sockets attributed to the listener's process and
 * fd; with a --dport filter (which the listener, with no remote port,
 * fails) the listener is still found. */
static void test_unaccepted_listener(void **state)
{
	struct agent *u = agent_start(NULL);
	struct rep l = listen_on(u, "127.0.0.1", 0, false);
	struct cw_census_opts o;
	struct cw_filter f;
	struct cw_census *c;
	uint16_t cport[3];
	char spec[64];
	size_t n = 0;

	(void)state;
	unaccepted_make(u, l.port, 3, cport, NULL);
	snprintf(spec, sizeof(spec), "pid:%d", (int)u->pid);
	c = take(CW_NETNS_SEL_ONE, spec, 0, CW_STATE_BIT(CW), true);
	for (size_t i = 0; i < cw_census_count(c); i++)
		if (sock_is(cw_census_sock(c, i), u->ino, CW, l.port, -1)) {
			unaccepted_is(c, i, &l, u->pid, 3);
			n++;
		}
	assert_int_equal(n, 3);
	cw_census_free(c);

	cw_filter_init(&f);
	f.dport = cport[1];
	cw_census_opts_init(&o);
	o.netns_sel = CW_NETNS_SEL_ONE;
	o.netns = spec;
	o.states = CW_STATE_BIT(CW);
	o.ports = &f;
	o.owners = true;
	assert_int_equal(cw_census_take(&o, &c), 0);
	assert_int_equal(cw_census_count(c), 1);
	unaccepted_is(c, find1(c, u->ino, CW, l.port, cport[1]), &l, u->pid, 3);
	cw_census_free(c);
}

/* Two SO_REUSEPORT listeners on one address and port, held by two
 * processes: each unaccepted socket names both listeners and both owners
 * (the count is not split between them). */
static void test_unaccepted_reuseport(void **state)
{
	struct agent *r1 = agent_start(NULL), *r2 = agent_start(r1);
	struct rep l1 = listen_on(r1, "127.0.0.1", 0, true);
	struct rep l2 = listen_on(r2, "127.0.0.1", l1.port, true);
	struct cw_census *c;
	char spec[64];
	size_t n = 0;

	(void)state;
	assert_true(r1->ino == r2->ino);
	unaccepted_make(r1, l1.port, 4, NULL, NULL);
	snprintf(spec, sizeof(spec), "pid:%d", (int)r2->pid);
	c = take(CW_NETNS_SEL_ONE, spec, 0, CW_STATE_BIT(CW), true);
	for (size_t i = 0; i < cw_census_count(c); i++) {
		const struct cw_sock *a, *b;
		size_t first;

		if (!sock_is(cw_census_sock(c, i), r1->ino, CW, l1.port, -1))
			continue;
		n++;
		assert_int_equal(cw_census_owner_kind(c, i), CW_UNACCEPTED);
		assert_int_equal(cw_census_listener_count(c, i), 2);
		a = cw_census_listener(c, i, 0);
		b = cw_census_listener(c, i, 1);
		assert_true((a->inode == l1.v && b->inode == l2.v) || (a->inode == l2.v && b->inode == l1.v));
		assert_int_equal(a->rqueue + b->rqueue, 4);
		assert_int_equal(cw_census_owner_count(c, i), 2);
		first = r1->pid < r2->pid ? 0 : 1; /* owners come lowest pid first */
		owner_is(c, i, first, r1->pid, l1.fd);
		owner_is(c, i, 1 - first, r2->pid, l2.fd);
	}
	assert_int_equal(n, 4);
	cw_census_free(c);
}

/* Listeners on 0.0.0.0:P and 127.0.0.1:P: connections to 127.0.0.1 wait
 * in the exact one's queue, and the census names that one. */
static void test_unaccepted_exact_first(void **state)
{
	struct agent *w = agent_start(NULL);
	struct rep any = listen_on(w, "0.0.0.0", 0, true);
	struct rep exact = listen_on(w, "127.0.0.1", any.port, true);
	struct cw_census *c;
	char spec[64], addr[CW_ENDPOINT_STRLEN];
	size_t n = 0;

	(void)state;
	unaccepted_make(w, any.port, 2, NULL, NULL);
	snprintf(spec, sizeof(spec), "pid:%d", (int)w->pid);
	c = take(CW_NETNS_SEL_ONE, spec, 0, CW_STATE_BIT(CW), true);
	for (size_t i = 0; i < cw_census_count(c); i++) {
		if (!sock_is(cw_census_sock(c, i), w->ino, CW, any.port, -1))
			continue;
		n++;
		unaccepted_is(c, i, &exact, w->pid, 2);
		assert_int_equal(cw_endpoint_str(&cw_census_listener(c, i, 0)->local, false, addr,
						 sizeof(addr)), 0);
		assert_string_equal(addr, "127.0.0.1");
	}
	assert_int_equal(n, 2);
	cw_census_free(c);
}

/* An IPv6 :: listener takes IPv4 connections (IPv4-mapped): their
 * unaccepted sockets are IPv6 ones, attributed to it. */
static void test_unaccepted_v6_mapped(void **state)
{
	struct agent *v = agent_start(NULL);
	struct rep l6 = listen_on(v, "::", 0, false);
	struct cw_census *c;
	char spec[64];
	size_t n = 0;

	(void)state;
	unaccepted_make(v, l6.port, 2, NULL, NULL);
	snprintf(spec, sizeof(spec), "pid:%d", (int)v->pid);
	c = take(CW_NETNS_SEL_ONE, spec, 0, CW_STATE_BIT(CW), true);
	for (size_t i = 0; i < cw_census_count(c); i++) {
		const struct cw_sock *s = cw_census_sock(c, i);

		if (!sock_is(s, v->ino, CW, l6.port, -1))
			continue;
		n++;
		assert_int_equal(s->family, AF_INET6);
		assert_true(IN6_IS_ADDR_V4MAPPED(&s->local.addr));
		unaccepted_is(c, i, &l6, v->pid, 2);
		assert_int_equal(cw_census_listener(c, i, 0)->family, AF_INET6);
	}
	assert_int_equal(n, 2);
	cw_census_free(c);
}

/* ---- 5. reap across namespaces, from the caller's ---- */

static const struct cw_reap_item *only_item(const struct cw_reap *r)
{
	assert_int_equal(cw_reap_count(r), 1);
	return cw_reap_item(r, 0);
}

/* rst on a CLOSE_WAIT socket of a child's namespace. First the fact: a
 * sock_diag socket of the caller's namespace finds nothing there, and its
 * SOCK_DESTROY answers ENOENT though the socket lives; one made inside
 * finds it. Then reap destroys it (not "gone"): the peer sees
 * ECONNRESET, and a dump inside that namespace no longer shows it. */
static void test_rst_other_namespace(void **state)
{
	struct agent *a = agent_start(NULL);
	struct rep l = listen_on(a, "127.0.0.1", 0, false);
	struct leak k = leak_make(a, &l, CLIENT_SHUTS);
	struct reap_diag *here, *there;
	struct reap_diag_found fh, ft;
	const struct cw_reap_item *it;
	struct cw_filter f;
	struct cw_census *c;
	struct cw_reap *r;
	char path[64];
	size_t i;
	int nsfd;

	(void)state;
	c = take(CW_NETNS_SEL_PID, NULL, a->pid, CW_STATE_BIT(CW), true);
	i = find1(c, a->ino, CW, k.sport, k.cport);

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)a->pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(nsfd >= 0);
	assert_int_equal(reap_diag_open(-1, &here), 0);
	assert_int_equal(reap_diag_open(nsfd, &there), 0);
	close(nsfd);
	assert_int_equal(reap_diag_get(here, cw_census_sock(c, i), &fh), -ENOENT);
	assert_int_equal(reap_diag_get(there, cw_census_sock(c, i), &ft), 0);
	assert_int_equal(ft.inode, k.srv_ino);
	assert_int_equal(ft.state, CW);
	assert_int_equal(reap_diag_destroy(here, cw_census_sock(c, i), ft.cookie), -ENOENT);
	reap_diag_close(here);
	reap_diag_close(there);
	assert_int_equal(ag(a, OP_STATE, k.srv, 0, 0, NULL).rc, CW);

	cw_filter_init(&f);
	f.states = CW_STATE_BIT(CW);
	f.pid = a->pid;
	assert_int_equal(cw_reap_select(c, &f, CW_REAP_RST, &r), 0);
	cw_census_free(c); /* reap keeps what it needs of the namespace */
	it = only_item(r);
	assert_int_equal(it->status, CW_REAP_TO_REAP);
	assert_true(it->sock->netns == a->ino);
	assert_int_equal(cw_reap_run(r, NULL), 0);
	if (it->status != CW_REAP_DESTROYED)
		fail_msg("rst in another namespace: %s (%s), not destroyed",
			 cw_reap_status_name(it->status), strerror(-it->err));
	assert_int_equal(it->err, 0);
	assert_int_equal(it->end_state, CW_TCP_CLOSE);
	cw_reap_free(r);

	assert_int_equal(ag(a, OP_RECV, k.cli, (int)cwt_slack_ms(2000), 0, NULL).rc, -ECONNRESET);
	assert_int_equal(ag(a, OP_DUMP, k.sport, k.cport, 0, NULL).rc, 0);
	assert_int_equal(ag(a, OP_STATE, k.srv, 0, 0, NULL).rc, CW_TCP_CLOSE);
}

/* fin through cw_reap_now with CW_NETNS_SEL_PID on a CLOSE_WAIT socket of
 * a child's namespace: the peer answers, CLEAN, and the socket is closed
 * there. Then with that namespace's loopback down (our FIN cannot leave):
 * FIN_SENT, the socket in LAST_ACK, as read from our duplicate and as a
 * dump inside shows; a dump of the caller's namespace, which does not
 * list it, would have called it closed. Timing: the second waits wait_ms. */
static void test_fin_other_namespace(void **state)
{
	struct agent *a = agent_start(NULL);
	struct rep l = listen_on(a, "127.0.0.1", 0, false);
	struct leak k1 = leak_make(a, &l, CLIENT_SHUTS), k2;
	const struct cw_reap_item *it;
	struct cw_census_opts co;
	struct cw_reap_opts ro;
	struct cw_filter f;
	struct cw_reap *r;

	(void)state;
	cw_filter_init(&f);
	f.states = CW_STATE_BIT(CW);
	f.pid = a->pid;
	cw_census_opts_init(&co);
	co.netns_sel = CW_NETNS_SEL_PID;
	co.netns_pid = a->pid;
	cw_reap_opts_init(&ro);
	assert_int_equal(cw_reap_now(&f, &co, &ro, &r), 0);
	it = only_item(r);
	assert_true(it->sock->netns == a->ino);
	assert_int_equal(it->pid, a->pid);
	assert_int_equal(it->fd, k1.srv);
	assert_int_equal(it->status, CW_REAP_CLEAN);
	assert_int_equal(it->end_state, CW_TCP_CLOSE);
	cw_reap_free(r);
	assert_int_equal(ag(a, OP_STATE, k1.srv, 0, 0, NULL).rc, CW_TCP_CLOSE);
	assert_int_equal(ag(a, OP_DUMP, k1.sport, k1.cport, 0, NULL).rc, 0);

	k2 = leak_make(a, &l, CLIENT_SHUTS);
	ag_ok(a, OP_LO, 0, 0, 0, NULL);
	ro.wait_ms = 300;
	assert_int_equal(cw_reap_now(&f, &co, &ro, &r), 0);
	it = only_item(r);
	assert_int_equal(it->fd, k2.srv);
	if (it->status != CW_REAP_FIN_SENT)
		fail_msg("fin, unanswered, in another namespace: %s (end state %s), not fin-sent",
			 cw_reap_status_name(it->status), cw_tcp_state_name(it->end_state));
	assert_int_equal(it->end_state, CW_TCP_LAST_ACK);
	cw_reap_free(r);
	assert_int_equal(ag(a, OP_STATE, k2.srv, 0, 0, NULL).rc, CW_TCP_LAST_ACK);
	assert_int_equal(ag(a, OP_DUMP, k2.sport, k2.cport, CW_TCP_LAST_ACK, NULL).rc, 1);
	ag_ok(a, OP_LO, 1, 0, 0, NULL);
}

/* The listener is as it was: listening, its queue of n, and it accepts a
 * connection with its 5 bytes of data. */
static void listener_untouched(struct agent *a, const struct rep *l, int n)
{
	struct rep d = ag_ok(a, OP_DUMP, l->port, 0, CW_TCP_LISTEN, NULL), s;

	assert_int_equal(d.rc, 1);
	assert_int_equal(d.v, n);
	assert_int_equal(ag(a, OP_STATE, l->fd, 0, 0, NULL).rc, CW_TCP_LISTEN);
	s = ag_ok(a, OP_ACCEPT, l->fd, 0, 0, NULL);
	assert_int_equal(ag(a, OP_RECV, s.fd, (int)cwt_slack_ms(2000), 0, NULL).rc, 5);
	ag_ok(a, OP_CLOSE, s.fd, 0, 0, NULL);
}

/* Each of r's n items is an unaccepted socket fin could not act on, pid
 * and fd its listener's (reap.h). */
static void all_unaccepted_fail(const char *how, struct cw_reap *r, size_t n, pid_t pid, int fd)
{
	char why[256] = "";

	if (cw_reap_count(r) != n)
		snprintf(why, sizeof(why), "%s: %zu items, not %zu", how, cw_reap_count(r), n);
	for (size_t i = 0; i < n && !why[0]; i++) {
		const struct cw_reap_item *it = cw_reap_item(r, i);

		if (it->status != CW_REAP_FAIL_UNACCEPTED || it->owner_kind != CW_UNACCEPTED ||
		    it->pid != pid || it->fd != fd)
			snprintf(why, sizeof(why),
				 "%s: item %zu: %s, owner kind %d, pid %d fd %d (listener: pid %d fd %d)",
				 how, i, cw_reap_status_name(it->status), (int)it->owner_kind, (int)it->pid,
				 it->fd, (int)pid, fd);
	}
	if (why[0]) {
		cw_reap_free(r); /* its namespace fds with it: teardown counts fds */
		fail_msg("%s", why);
	}
}

/* fin on unaccepted sockets of another namespace: each fails as
 * CW_REAP_FAIL_UNACCEPTED (no fd to shut down), with its listener's pid and
 * fd, and the listener is untouched. */
static void test_fin_unaccepted(void **state)
{
	struct agent *u = agent_start(NULL);
	struct rep l = listen_on(u, "127.0.0.1", 0, false);
	struct cw_filter f;
	struct cw_census *c;
	struct cw_reap *r;

	(void)state;
	unaccepted_make(u, l.port, 3, NULL, NULL);
	cw_filter_init(&f);
	f.states = CW_STATE_BIT(CW);
	f.sport = l.port;
	c = take(CW_NETNS_SEL_PID, NULL, u->pid, CW_STATE_BIT(CW), true);
	assert_int_equal(cw_reap_select(c, &f, CW_REAP_FIN, &r), 0);
	cw_census_free(c);
	all_unaccepted_fail("cw_reap_select", r, 3, u->pid, l.fd);
	assert_int_equal(cw_reap_run(r, NULL), 0);
	all_unaccepted_fail("cw_reap_run", r, 3, u->pid, l.fd);
	cw_reap_free(r);
	listener_untouched(u, &l, 3);
}

/* The same through cw_reap_now (what `reap --mode fin --yes` runs): its
 * census is taken without owners, and the walk that follows must still find
 * the listener of the unaccepted sockets (the census keeps listeners aside
 * always). Otherwise each item has pid 0 and fd -1 instead of its
 * listener's, and with a pid given (reap --pid P) the unaccepted sockets
 * are dropped (0 items): reap would never say why it cannot fin them. */
static void test_fin_unaccepted_now(void **state)
{
	struct agent *u = agent_start(NULL);
	struct rep l = listen_on(u, "127.0.0.1", 0, false);
	struct cw_census_opts co;
	struct cw_filter f;
	struct cw_reap *r;

	(void)state;
	unaccepted_make(u, l.port, 3, NULL, NULL);
	cw_filter_init(&f);
	f.states = CW_STATE_BIT(CW);
	f.sport = l.port;
	cw_census_opts_init(&co);
	co.netns_sel = CW_NETNS_SEL_PID;
	co.netns_pid = u->pid;
	assert_int_equal(cw_reap_now(&f, &co, NULL, &r), 0);
	all_unaccepted_fail("cw_reap_now", r, 3, u->pid, l.fd);
	cw_reap_free(r);
	f.pid = u->pid;
	assert_int_equal(cw_reap_now(&f, &co, NULL, &r), 0);
	all_unaccepted_fail("cw_reap_now, pid given", r, 3, u->pid, l.fd);
	cw_reap_free(r);
	listener_untouched(u, &l, 3);
}

/* rst on unaccepted sockets of another namespace: destroyed, their peers
 * reset, gone from the table; but each stays in the listener's accept
 * queue (its Recv-Q does not drop) and accept() still returns it, data
 * included (the kernel's behaviour reap's report describes). */
static void test_rst_unaccepted(void **state)
{
	struct agent *u = agent_start(NULL);
	struct rep l = listen_on(u, "127.0.0.1", 0, false);
	struct cw_filter f;
	struct cw_census *c;
	struct cw_reap *r;
	int cli[3];

	(void)state;
	unaccepted_make(u, l.port, 3, NULL, cli);
	cw_filter_init(&f);
	f.states = CW_STATE_BIT(CW);
	f.sport = l.port;
	f.pid = u->pid; /* an unaccepted socket's owner is its listener's */
	c = take(CW_NETNS_SEL_PID, NULL, u->pid, CW_STATE_BIT(CW), true);
	assert_int_equal(cw_reap_select(c, &f, CW_REAP_RST, &r), 0);
	cw_census_free(c);
	assert_int_equal(cw_reap_run(r, NULL), 0);
	assert_int_equal(cw_reap_count(r), 3);
	for (size_t i = 0; i < 3; i++) {
		const struct cw_reap_item *it = cw_reap_item(r, i);

		assert_true(it->sock->netns == u->ino);
		assert_int_equal(it->owner_kind, CW_UNACCEPTED);
		assert_int_equal(it->status, CW_REAP_DESTROYED);
	}
	cw_reap_free(r);
	for (int k = 0; k < 3; k++)
		assert_int_equal(ag(u, OP_RECV, cli[k], (int)cwt_slack_ms(2000), 0, NULL).rc,
				 -ECONNRESET);
	assert_int_equal(ag(u, OP_DUMP, l.port, -1, CW, NULL).rc, 0);
	listener_untouched(u, &l, 3);
}

/* ---- 6. workloads from cgroup2 ---- */

static void mk(const char *rel)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s%s", cg_parent, rel);
	if (mkdir(p, 0755))
		fail_msg("mkdir %s: %s (the cgroup tests need a writable cgroup2)", p, strerror(errno));
}

static void unit_is(const struct cw_workload *w, const char *cgroup, const char *unit)
{
	assert_non_null(w);
	assert_string_equal(w->cgroup, cgroup);
	assert_string_equal(w->systemd_unit, unit);
	assert_null(w->container_runtime);
	assert_null(w->container_id);
	assert_null(w->pod_uid);
	assert_null(w->pod_qos);
}

/* A filter on unit selects exactly the sockets of c at the indices want. */
static void unit_selects(const struct cw_census *c, const char *unit, const size_t *want, size_t n)
{
	struct cw_filter f;

	cw_filter_init(&f);
	f.unit = unit;
	for (size_t i = 0; i < cw_census_count(c); i++) {
		bool wanted = false;

		for (size_t k = 0; k < n; k++)
			wanted |= want[k] == i;
		if ((cw_filter_match(&f, c, i, NULL) == CW_MATCH_YES) != wanted)
			fail_msg("--unit %s: socket %zu (%s :%u) %s", unit, i,
				 cw_tcp_state_name(cw_census_sock(c, i)->state),
				 cw_census_sock(c, i)->local.port, wanted ? "not selected" : "selected");
	}
}

/* A server that joined <mount>/closewait-test-<pid>/system.slice/
 * leaky.service before making its sockets: its owner's workload names the
 * cgroup and the unit; --unit leaky.service selects its sockets, --unit
 * other.service none. An orphan it left (no owner) gets its workload from
 * its own cgroup id, which stays when the server moves to other.service
 * (the owned sockets follow their owner). Fact: an orphan in FIN_WAIT_2
 * under the default tcp_fin_timeout (60 s, not over TCP_TIMEWAIT_LEN) is a
 * timewait socket, which sock_diag reports with no cgroup id: it has no
 * workload. One closed with TCP_LINGER2 over 60 s stays a full socket. */
static void test_workload_unit(void **state)
{
	char mnt[1024], rel[64], leaky[96], other[96], dir[1024 + 96];
	struct agent *a;
	struct rep l;
	struct leak k, t;
	struct cw_census *c;
	size_t i, it, o, ot;
	int err;

	(void)state;
	err = cgroup2_mount_find(mnt, sizeof(mnt));
	if (err)
		fail_msg("no cgroup2 mount in /proc/self/mountinfo (%s): the cgroup tests need a "
			 "writable cgroup2", strerror(-err));
	snprintf(rel, sizeof(rel), "/closewait-test-%d", (int)getpid());
	snprintf(cg_parent, sizeof(cg_parent), "%s%s", mnt, rel);
	mk("");
	mk("/system.slice");
	mk("/system.slice/leaky.service");
	mk("/system.slice/other.service");
	snprintf(leaky, sizeof(leaky), "%s/system.slice/leaky.service", rel);
	snprintf(other, sizeof(other), "%s/system.slice/other.service", rel);

	a = agent_start(NULL);
	snprintf(dir, sizeof(dir), "%s%s", mnt, leaky);
	ag_ok(a, OP_CGROUP, 0, 0, 0, dir);
	l = listen_on(a, "127.0.0.1", 0, false);
	k = leak_make(a, &l, CLIENT_CLOSES_LONG);
	t = leak_make(a, &l, CLIENT_CLOSES);

	c = take(CW_NETNS_SEL_PID, NULL, a->pid, CW_STATE_BIT(CW) | CW_STATE_BIT(FW2), true);
	i = find1(c, a->ino, CW, k.sport, k.cport);
	it = find1(c, a->ino, CW, t.sport, t.cport);
	o = find1(c, a->ino, FW2, k.cport, k.sport);
	ot = find1(c, a->ino, FW2, t.cport, t.sport);
	assert_int_equal(cw_census_owner_count(c, i), 1);
	unit_is(cw_census_owner_workload(c, i, 0), leaky, "leaky.service");
	unit_is(cw_census_sock_workload(c, i), leaky, "leaky.service");
	assert_int_equal(cw_census_owner_kind(c, o), CW_ORPHAN);
	assert_true(cw_census_sock(c, o)->cgroup_id != 0);
	unit_is(cw_census_sock_workload(c, o), leaky, "leaky.service");
	assert_int_equal(cw_census_owner_kind(c, ot), CW_ORPHAN);
	assert_true(cw_census_sock(c, ot)->cgroup_id == 0);
	assert_null(cw_census_sock_workload(c, ot));
	unit_selects(c, "leaky.service", (size_t[]){ i, it, o }, 3);
	unit_selects(c, "other.service", NULL, 0);
	cw_census_free(c);

	snprintf(dir, sizeof(dir), "%s%s", mnt, other);
	ag_ok(a, OP_CGROUP, 0, 0, 0, dir);
	c = take(CW_NETNS_SEL_PID, NULL, a->pid, CW_STATE_BIT(CW) | CW_STATE_BIT(FW2), true);
	i = find1(c, a->ino, CW, k.sport, k.cport);
	it = find1(c, a->ino, CW, t.sport, t.cport);
	o = find1(c, a->ino, FW2, k.cport, k.sport);
	unit_is(cw_census_owner_workload(c, i, 0), other, "other.service");
	unit_is(cw_census_sock_workload(c, o), leaky, "leaky.service");
	unit_selects(c, "leaky.service", (size_t[]){ o }, 1);
	unit_selects(c, "other.service", (size_t[]){ i, it }, 2);
	cw_census_free(c);
}

/* A census taken without owners has no workloads, so
 * cw_census_sock_workload must be NULL, and found without a bsearch() over
 * the table of cgroup ids such a census never made: bsearch(key, NULL, 0,
 * ...) is undefined (glibc declares the base nonnull), which the sanitizer
 * build catches. watch grouped by anything but process calls it for every
 * socket. */
static void test_workload_without_owners(void **state)
{
	struct agent *a = agent_start(NULL);
	struct rep l = listen_on(a, "127.0.0.1", 0, false);
	struct leak k = leak_make(a, &l, CLIENT_CLOSES_LONG);
	struct cw_census *c;
	size_t i, o;

	(void)state;
	c = take(CW_NETNS_SEL_PID, NULL, a->pid, CW_STATE_BIT(CW) | CW_STATE_BIT(FW2), false);
	i = find1(c, a->ino, CW, k.sport, k.cport);
	o = find1(c, a->ino, FW2, k.cport, k.sport);
	assert_true(cw_census_sock(c, o)->cgroup_id != 0);
	assert_null(cw_census_sock_workload(c, i));
	assert_null(cw_census_sock_workload(c, o));
	cw_census_free(c);
}

/* ---- 7. watch by namespace ---- */

static const struct cw_watch_row *row_of(const struct cw_watch *w, uint64_t ns, size_t *at)
{
	for (size_t i = 0; i < cw_watch_count(w); i++)
		if (cw_watch_row(w, i)->netns == ns) {
			*at = i;
			return cw_watch_row(w, i);
		}
	fail_msg("no row for namespace %llu", (unsigned long long)ns);
	return NULL;
}

/* Three censuses of every namespace: one namespace's leak grows (1, 2,
 * 3), another's stays at 2. By namespace, the first is leaking, the other
 * ok, and each row's history is its counts oldest first. */
static void test_watch_by_netns(void **state)
{
	struct agent *g = agent_start(NULL), *s = agent_start(NULL);
	struct rep lg = listen_on(g, "127.0.0.1", 0, false), ls = listen_on(s, "127.0.0.1", 0, false);
	const struct cw_watch_row *row;
	struct cw_watch *w;
	size_t hist[8], at;

	(void)state;
	leak_make(g, &lg, CLIENT_CLOSES);
	leak_make(s, &ls, CLIENT_CLOSES);
	leak_make(s, &ls, CLIENT_CLOSES);
	assert_int_equal(cw_watch_new(60000, 60000, &w), 0);
	assert_int_equal(cw_watch_set_by(w, CW_BY_NETNS), 0);
	for (int k = 0; k < 3; k++) {
		struct cw_census *c;

		if (k)
			leak_make(g, &lg, CLIENT_CLOSES);
		c = take(CW_NETNS_SEL_ALL, NULL, 0, CW_STATE_BIT(CW), true);
		assert_int_equal(cw_watch_update(w, c), 0);
		cw_census_free(c);
	}
	row = row_of(w, g->ino, &at);
	assert_int_equal(row->close_wait, 3);
	assert_int_equal(row->verdict, CW_VERDICT_LEAKING);
	assert_string_equal(row->name, "");
	assert_int_equal(cw_watch_history(w, at, hist, 8), 3);
	assert_int_equal(hist[0], 1);
	assert_int_equal(hist[1], 2);
	assert_int_equal(hist[2], 3);
	row = row_of(w, s->ino, &at);
	assert_int_equal(row->close_wait, 2);
	assert_int_equal(row->verdict, CW_VERDICT_OK);
	assert_int_equal(cw_watch_history(w, at, hist, 8), 3);
	for (int k = 0; k < 3; k++)
		assert_int_equal(hist[k], 2);
	cw_watch_free(w);
}

/* ---- 8. ports per namespace ---- */

/* n connections to a's listener l that end in TIME_WAIT on the client's
 * side (the client closes first). */
static void time_waits(struct agent *a, const struct rep *l, int n)
{
	for (int k = 0; k < n; k++) {
		struct rep c = ag_ok(a, OP_CONNECT, l->port, 0, 0, "127.0.0.1");
		struct rep s = ag_ok(a, OP_ACCEPT, l->fd, 0, 0, NULL);

		ag_ok(a, OP_CLOSE, c.fd, 0, 0, NULL);
		wait_state(a, s.fd, CW);
		ag_ok(a, OP_CLOSE, s.fd, 0, 0, NULL);
	}
	wait_for(a, OP_DUMP, 0, l->port, CW_TCP_TIME_WAIT, n, "TIME_WAIT");
}

/* Two namespaces with their own ip_local_port_range (40000-40099 and
 * 40000-40049), each with TIME_WAIT connections to 127.0.0.1:8500 (3 and
 * 2): cw_port_sys_read_netns reads each one's range, the caller's is its
 * own, and cw_ports_report_netns counts each one's TIME_WAIT only. */
static void test_ports_per_netns(void **state)
{
	enum { PORT = 8500 };
	struct agent *p1 = agent_start(NULL), *p2 = agent_start(NULL);
	struct rep l1, l2;
	struct cw_port_sys s1, s2, s0, here;
	struct cw_ports_report *r;
	struct cw_census *c;
	size_t j1, j2, j0;

	(void)state;
	ag_ok(p1, OP_RANGE, 0, 0, 0, "40000 40099");
	ag_ok(p2, OP_RANGE, 0, 0, 0, "40000 40049");
	l1 = listen_on(p1, "127.0.0.1", PORT, false);
	l2 = listen_on(p2, "127.0.0.1", PORT, false);
	time_waits(p1, &l1, 3);
	time_waits(p2, &l2, 2);
	c = take(CW_NETNS_SEL_ALL, NULL, 0, CW_STATE_BIT(CW_TCP_TIME_WAIT) | CW_STATE_BIT(CW_TCP_LISTEN), false);
	ns_in(c, p1->ino, &j1);
	ns_in(c, p2->ino, &j2);
	ns_in(c, ns_ino("/proc/thread-self/ns/net"), &j0);
	assert_int_equal(cw_port_sys_read_netns(c, j1, &s1), 0);
	assert_int_equal(cw_port_sys_read_netns(c, j2, &s2), 0);
	assert_int_equal(cw_port_sys_read_netns(c, j0, &s0), 0);
	assert_int_equal(cw_port_sys_read(NULL, &here), 0);
	assert_int_equal(s1.range_lo, 40000);
	assert_int_equal(s1.range_hi, 40099);
	assert_int_equal(s2.range_lo, 40000);
	assert_int_equal(s2.range_hi, 40049);
	assert_int_equal(s0.range_lo, here.range_lo);
	assert_int_equal(s0.range_hi, here.range_hi);
	assert_true(here.range_lo != 40000);

	assert_int_equal(cw_ports_report_netns(c, p1->ino, &s1, 0, NULL, &r), 0);
	assert_int_equal(cw_ports_dest_count(r), 1);
	assert_int_equal(cw_ports_dest(r, 0)->dest.port, PORT);
	assert_int_equal(cw_ports_dest(r, 0)->time_wait, 3);
	cw_ports_report_free(r);
	assert_int_equal(cw_ports_report_netns(c, p2->ino, &s2, 0, NULL, &r), 0);
	assert_int_equal(cw_ports_dest_count(r), 1);
	assert_int_equal(cw_ports_dest(r, 0)->time_wait, 2);
	cw_ports_report_free(r);
	cw_census_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		NS_TEST(test_all_finds_leak),
		NS_TEST(test_one_pid_and_path),
		NS_TEST(test_pid_thread_elsewhere),
		NS_TEST(test_current_sees_only_ours),
		NS_TEST(test_namespace_vanishes),
		NS_TEST(test_pair_not_across),
		NS_TEST(test_unaccepted_listener),
		NS_TEST(test_unaccepted_reuseport),
		NS_TEST(test_unaccepted_exact_first),
		NS_TEST(test_unaccepted_v6_mapped),
		NS_TEST(test_rst_other_namespace),
		NS_TEST(test_fin_other_namespace),
		NS_TEST(test_fin_unaccepted),
		NS_TEST(test_fin_unaccepted_now),
		NS_TEST(test_rst_unaccepted),
		NS_TEST(test_workload_unit),
		NS_TEST(test_watch_by_netns),
		NS_TEST(test_ports_per_netns),
		NS_TEST(test_workload_without_owners),
	};

	cwt_netns();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
