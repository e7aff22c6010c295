#include "reap_view.h"

#include <errno.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "age_view.h"
#include "workload_view.h"

struct ctx {
	const struct reap_view *v;
};

/* 2: "remote" became "peer", as in scan (1 had no "version"). */
#define REAP_JSON_VERSION 2

#define ITEM(c, row) cw_reap_item((c)->v->r, row)

static const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	snprintf(buf, len, "uid %u (%s)", (unsigned)uid, pw ? pw->pw_name : "no name");
	return buf;
}

void reap_ptrace_text(const struct cw_ptrace_denial *d, pid_t pid, char *buf, size_t len)
{
	char a[96], b[96];

	switch (d->why) {
	case CW_PTRACE_OTHER_UID:
		snprintf(buf, len, "no ptrace rights over pid %d: it runs as %s, closewait as %s "
			 "without CAP_SYS_PTRACE (run it as the same user, or with CAP_SYS_PTRACE)",
			 (int)pid, user_name(d->owner_uid, a, sizeof(a)), user_name(d->our_uid, b, sizeof(b)));
		break;
	case CW_PTRACE_OTHER_GROUP:
		snprintf(buf, len, "no ptrace rights over pid %d: it runs as %s but with gid %u, closewait "
			 "with gid %u, without CAP_SYS_PTRACE (run it with the same group, or with "
			 "CAP_SYS_PTRACE)", (int)pid, user_name(d->owner_uid, a, sizeof(a)),
			 (unsigned)d->owner_gid, (unsigned)d->our_gid);
		break;
	case CW_PTRACE_NOT_DUMPABLE:
		snprintf(buf, len, "no ptrace rights over pid %d: same user, but it is not dumpable "
			 "(setuid, or PR_SET_DUMPABLE 0): needs CAP_SYS_PTRACE", (int)pid);
		break;
	case CW_PTRACE_YAMA:
		if (d->yama_scope == 1)
			snprintf(buf, len, "no ptrace rights over pid %d: kernel.yama.ptrace_scope=1 lets only "
				 "its ancestors reach it: needs CAP_SYS_PTRACE (or ptrace_scope 0)", (int)pid);
		else if (d->yama_scope == 2)
			snprintf(buf, len, "no ptrace rights over pid %d: kernel.yama.ptrace_scope=2: needs "
				 "CAP_SYS_PTRACE", (int)pid);
		else
			snprintf(buf, len, "no ptrace rights over pid %d: kernel.yama.ptrace_scope=%d forbids "
				 "it to everyone", (int)pid, d->yama_scope);
		break;
	default:
		snprintf(buf, len, "no ptrace rights over pid %d: refused by a security module although "
			 "the user%s allow%s it", (int)pid, d->cap_sys_ptrace ? " and CAP_SYS_PTRACE" : "",
			 d->cap_sys_ptrace ? "" : "s");
		break;
	}
}

static bool need_reset(int state)
{
	return state == CW_TCP_ESTABLISHED || state == CW_TCP_CLOSE_WAIT || state == CW_TCP_FIN_WAIT1 ||
	       state == CW_TCP_FIN_WAIT2 || state == CW_TCP_SYN_RECV;
}

static void skip_text(const struct reap_view *v, const struct cw_reap_item *it, char *buf, size_t len)
{
	char a[48], b[48];
	bool fin = cw_reap_mode(v->r) == CW_REAP_FIN;

	switch (it->status) {
	case CW_REAP_SKIP_LISTEN: snprintf(buf, len, "listening socket: never touched"); break;
	case CW_REAP_SKIP_AGE:
		snprintf(buf, len, "age %s may be under %s (uncertain): not touched",
			 age_str(&it->age, a, sizeof(a)), out_ms_str(v->older_ms, b, sizeof(b)));
		break;
	case CW_REAP_SKIP_MODE:
		snprintf(buf, len, "a FIN cannot end a %s socket (ours was sent already); --mode rst can",
			 cw_tcp_state_name(it->sock->state));
		break;
	case CW_REAP_SKIP_GONE:
		if (it->err == -EBADF)
			snprintf(buf, len, "fd %d was closed before we acted: not touched", it->fd);
		else if (it->err == -ESRCH)
			snprintf(buf, len, "pid %d exited before we acted", (int)it->pid);
		else
			snprintf(buf, len, "socket gone before we acted");
		break;
	case CW_REAP_SKIP_REPLACED:
		if (fin)
			snprintf(buf, len, "fd %d now holds another %s (inode %u), not the one selected "
				 "(inode %u): not touched", it->fd, it->new_inode ? "socket" : "file",
				 it->new_inode, it->sock->inode);
		else
			snprintf(buf, len, "another socket (inode %u) now has this address pair: not touched",
				 it->new_inode);
		break;
	default: /* CW_REAP_SKIP_CHANGED */
		snprintf(buf, len, "now %s, no longer %s: not touched",
			 it->end_state ? cw_tcp_state_name(it->end_state) : "closed",
			 cw_tcp_state_name(it->sock->state));
		break;
	}
}

static void fail_text(const struct cw_reap_item *it, char *buf, size_t len)
{
	char a[96], b[96];

	switch (it->status) {
	case CW_REAP_FAIL_PTRACE: reap_ptrace_text(&it->denial, it->pid, buf, len); break;
	case CW_REAP_FAIL_NO_OWNER:
		if (it->denial.why == CW_PTRACE_OTHER_UID)
			snprintf(buf, len, "owner unknown: the socket belongs to %s, whose processes "
				 "closewait, running as %s without CAP_SYS_PTRACE, may not read; --mode rst "
				 "needs no owner",
				 user_name(it->denial.owner_uid, a, sizeof(a)),
				 user_name(it->denial.our_uid, b, sizeof(b)));
		else if (it->denial.why == CW_PTRACE_NO_LIST)
			snprintf(buf, len, "owner unknown: the socket belongs to %s, whose fd tables "
				 "closewait, running as %s without CAP_DAC_READ_SEARCH, may not list; "
				 "--mode rst needs no owner",
				 user_name(it->denial.owner_uid, a, sizeof(a)),
				 user_name(it->denial.our_uid, b, sizeof(b)));
		else
			snprintf(buf, len, "owner unknown: no process we can read holds it (another pid "
				 "namespace?); --mode rst needs no owner");
		break;
	case CW_REAP_FAIL_CAP:
		snprintf(buf, len, "SOCK_DESTROY needs CAP_NET_ADMIN, which closewait, running as %s, lacks",
			 user_name(getuid(), a, sizeof(a)));
		break;
	case CW_REAP_FAIL_NOSUPPORT:
		snprintf(buf, len, "this kernel cannot destroy sockets: built without CONFIG_INET_DIAG_DESTROY");
		break;
	case CW_REAP_FAIL_UNACCEPTED:
		snprintf(buf, len, "never accepted: it waits in a listener's accept queue with no fd to "
			 "shut down; --mode rst resets it (the peer gets an RST; the entry stays in the "
			 "queue until the program accepts it)");
		break;
	default: snprintf(buf, len, "%s", strerror(-it->err)); break;
	}
}

static void detail_text(const struct reap_view *v, const struct cw_reap_item *it, char *buf, size_t len)
{
	char a[48];
	bool fin = cw_reap_mode(v->r) == CW_REAP_FIN;

	switch (cw_reap_status_kind(it->status)) {
	case CW_REAP_KIND_SKIPPED: skip_text(v, it, buf, len); return;
	case CW_REAP_KIND_FAILED: fail_text(it, buf, len); return;
	default: break;
	}
	switch (it->status) {
	case CW_REAP_TO_REAP:
		if (v->acted) /* reap stopped before it (out of file descriptors) */
			snprintf(buf, len, "not acted on: reap stopped before it");
		else
			snprintf(buf, len, fin ? "send our FIN (shutdown on a duplicate of the fd)"
					       : "destroy: the peer gets an RST");
		break;
	case CW_REAP_CLEAN:
		if (it->end_state == CW_TCP_CLOSE)
			snprintf(buf, len, "FIN acknowledged: closed gracefully");
		else
			snprintf(buf, len, "FIN acknowledged: now %s", cw_tcp_state_name(it->end_state));
		break;
	case CW_REAP_RESET:
		snprintf(buf, len, "the peer answered our FIN with an RST (its end was gone): closed; "
			 "the owner's next write fails with ECONNRESET");
		break;
	case CW_REAP_FIN_SENT:
		snprintf(buf, len, "FIN sent, unanswered after %s: still %s, the kernel retransmits it",
			 out_ms_str(v->wait_ms, a, sizeof(a)), cw_tcp_state_name(it->end_state));
		break;
	default: /* CW_REAP_DESTROYED */
		if (it->owner_kind == CW_UNACCEPTED)
			snprintf(buf, len, "destroyed: RST sent to the peer; the entry stays in the "
				 "listener's accept queue until the program accepts it (then its reads "
				 "and writes fail)");
		else
			snprintf(buf, len, need_reset(it->sock->state) ? "destroyed: RST sent to the peer"
									: "destroyed");
		break;
	}
}

static void g_family(void *c, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = ITEM((struct ctx *)c, row)->sock->family == AF_INET6 ? "ipv6" : "ipv4";
}

/* arg: offsetof(struct cw_sock, local or peer) */
static void g_endpoint(void *c, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	cw_endpoint_str(&OUT_FIELD(struct cw_endpoint, ITEM((struct ctx *)c, row)->sock, v->arg), true,
			v->buf, sizeof(v->buf));
	v->s = v->buf;
}

static void g_state(void *c, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = cw_tcp_state_name(ITEM((struct ctx *)c, row)->sock->state);
}

static void g_end_state(void *c, size_t row, struct out_val *v)
{
	const struct cw_reap_item *it = ITEM((struct ctx *)c, row);

	v->type = OUT_STR;
	v->null = !it->end_state;
	v->s = cw_tcp_state_name(it->end_state);
}

static void g_age(void *c, size_t row, struct out_val *v)
{
	age_val(v, &ITEM((struct ctx *)c, row)->age);
}

static void g_inode(void *c, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = ITEM((struct ctx *)c, row)->sock->inode;
}

static void g_netns(void *c, size_t row, struct out_val *v)
{
	v->type = OUT_INT;
	v->i = (long long)ITEM((struct ctx *)c, row)->sock->netns;
}

static void g_owner_kind(void *c, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = owner_kind_name(ITEM((struct ctx *)c, row)->owner_kind);
}

_Static_assert(sizeof(pid_t) == sizeof(int), "pid_t read as an int");

/* arg: offsetof(struct cw_reap_item, pid or fd); null without an owner */
static void g_owner_int(void *c, size_t row, struct out_val *v)
{
	const struct cw_reap_item *it = ITEM((struct ctx *)c, row);

	v->type = OUT_INT;
	/* An unaccepted socket's pid is its listener's owner's; it has no fd. */
	v->null = !it->pid || (it->owner_kind == CW_UNACCEPTED &&
			       v->arg == offsetof(struct cw_reap_item, fd));
	v->i = OUT_FIELD(int, it, v->arg);
}

static void g_comm(void *c, size_t row, struct out_val *v)
{
	const struct cw_reap_item *it = ITEM((struct ctx *)c, row);

	v->type = OUT_STR;
	v->null = !it->pid;
	v->s = it->comm;
}

static void g_result(void *c, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = cw_reap_status_name(ITEM((struct ctx *)c, row)->status);
}

static void g_outcome(void *c, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = cw_reap_kind_name(cw_reap_status_kind(ITEM((struct ctx *)c, row)->status));
}

static void g_detail(void *c, size_t row, struct out_val *v)
{
	struct ctx *x = c;

	v->type = OUT_STR;
	detail_text(x->v, ITEM(x, row), v->buf, sizeof(v->buf));
	v->s = v->buf;
}

static const struct out_col cols[] = {
	{ "family", NULL, false, g_family },
	{ "local", "LOCAL", true, g_endpoint, offsetof(struct cw_sock, local) },
	{ "peer", "PEER", true, g_endpoint, offsetof(struct cw_sock, peer) },
	{ "state", "STATE", true, g_state },
	{ "age", "AGE", false, g_age },
	{ "inode", NULL, false, g_inode },
	{ "netns", NULL, false, g_netns },
	{ "owner", NULL, false, g_owner_kind },
	{ "pid", "PID", false, g_owner_int, offsetof(struct cw_reap_item, pid) },
	{ "fd", "FD", false, g_owner_int, offsetof(struct cw_reap_item, fd) },
	{ "command", "COMMAND", true, g_comm },
	{ "result", "RESULT", true, g_result },
	{ "outcome", NULL, false, g_outcome },
	{ "end_state", NULL, false, g_end_state },
	{ "detail", "DETAIL", true, g_detail },
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

void reap_print_table(struct out *o, const struct reap_view *v)
{
	struct ctx c = { v };

	if (cw_reap_count(v->r))
		out_table(o, cols, NCOLS, &c, cw_reap_count(v->r));
}

/* ---- owners whose fds stay open, and the summary ---- */

/* A handled socket that leaves an fd open in its owner (an unaccepted one
 * has none yet). */
static bool handled(const struct cw_reap_item *it)
{
	return cw_reap_status_kind(it->status) == CW_REAP_KIND_HANDLED && it->pid &&
	       it->owner_kind != CW_UNACCEPTED;
}

/* Calls fn for each owner of handled sockets (items are sorted by pid). */
static size_t each_owner(const struct reap_view *v,
			 void (*fn)(const struct cw_reap_item *first, size_t fds, void *arg), void *arg)
{
	size_t n = cw_reap_count(v->r), owners = 0;

	for (size_t i = 0; i < n;) {
		const struct cw_reap_item *it = cw_reap_item(v->r, i);
		size_t fds = 0, j = i;

		for (; j < n && cw_reap_item(v->r, j)->pid == it->pid; j++)
			fds += handled(cw_reap_item(v->r, j));
		if (fds) {
			owners++;
			if (fn)
				fn(it, fds, arg);
		}
		i = j;
	}
	return owners;
}

struct owner_text {
	char *buf;
	size_t len, used, shown, total;
};

static void owner_text_one(const struct cw_reap_item *it, size_t fds, void *arg)
{
	struct owner_text *t = arg;
	char comm[OUT_NAME_LEN];

	if (t->shown == 4 && t->total > 5) {
		t->used += (size_t)snprintf(t->buf + t->used, t->len - t->used, " and %zu more processes",
					    t->total - 4);
		t->shown++;
		return;
	}
	if (t->shown > 4 || t->used >= t->len)
		return;
	t->used += (size_t)snprintf(t->buf + t->used, t->len - t->used, "%spid %d (%s, %zu fd%s)",
				    t->shown ? ", " : "", (int)it->pid, out_name(it->comm, comm, sizeof(comm)), fds, fds == 1 ? "" : "s");
	t->shown++;
	if (t->used >= t->len)
		t->used = t->len - 1;
}

static void summary_text(const struct reap_view *v, char *buf, size_t len)
{
	struct cw_reap_counts n;
	bool fin = cw_reap_mode(v->r) == CW_REAP_FIN;
	const char *mode = fin ? "fin" : "rst";
	char owners[512];
	struct owner_text t = { owners, sizeof(owners), 0, 0, 0 };
	size_t used;

	cw_reap_counts(v->r, &n);
	owners[0] = 0;
	if (!n.total) {
		snprintf(buf, len, "No socket matched: nothing to reap.");
		return;
	}
	if (!v->acted && !v->todo) {
		snprintf(buf, len, "Nothing to reap: %zu selected, %zu skipped, %zu cannot be reaped.",
			 n.total, n.skipped, n.failed);
		return;
	}
	if (!v->acted) {
		snprintf(buf, len, "%s: %zu socket%s to reap (mode %s), %zu skipped, %zu cannot be reaped. "
			 "Nothing was done.", v->dry_run ? "Dry run" : v->not_acted,
			 n.to_reap, n.to_reap == 1 ? "" : "s", mode, n.skipped, n.failed);
		return;
	}
	if (fin)
		used = (size_t)snprintf(buf, len, "Reaped (mode fin): %zu of %zu selected: %zu clean, %zu reset, "
					"%zu unanswered; %zu skipped; %zu failed.", n.handled, n.total,
					n.status[CW_REAP_CLEAN], n.status[CW_REAP_RESET],
					n.status[CW_REAP_FIN_SENT], n.skipped, n.failed);
	else
		used = (size_t)snprintf(buf, len, "Reaped (mode rst): %zu of %zu selected destroyed; "
					"%zu skipped; %zu failed.", n.handled, n.total, n.skipped, n.failed);
	if (n.to_reap && used < len)
		used += (size_t)snprintf(buf + used, len - used, " Stopped, out of file descriptors: "
					 "%zu not acted on (to-reap).", n.to_reap);
	t.total = each_owner(v, NULL, NULL);
	each_owner(v, owner_text_one, &t);
	if (t.total && used < len)
		snprintf(buf + used, len - used,
			 " The fds stay open in %s until it is fixed to close them (or restarted): %s",
			 owners, fin ? "it reads EOF on them, and its writes fail with EPIPE (ECONNRESET "
				       "once, where the peer reset)."
				     : "its writes on them fail (ECONNABORTED once, then EPIPE); a read returns "
				       "EOF where the peer's FIN had come, ECONNABORTED otherwise.");
}

void reap_print_summary(struct out *o, const struct reap_view *v)
{
	char msg[1024];

	summary_text(v, msg, sizeof(msg));
	out_printf(o, "%s\n", msg);
}

static void owner_json(const struct cw_reap_item *it, size_t fds, void *arg)
{
	struct out *o = arg;

	out_json_open(o, NULL, '{');
	out_json_int(o, "pid", it->pid);
	out_json_str(o, "command", it->comm);
	out_json_int(o, "fds_left_open", (long long)fds);
	out_json_close(o);
}

void reap_print_json(struct out *o, const struct reap_view *v)
{
	struct cw_reap_counts n;
	struct ctx c = { v };
	char msg[1024];

	cw_reap_counts(v->r, &n);
	summary_text(v, msg, sizeof(msg));
	out_json_open(o, NULL, '{');
	out_json_int(o, "version", REAP_JSON_VERSION);
	out_json_str(o, "mode", cw_reap_mode(v->r) == CW_REAP_FIN ? "fin" : "rst");
	out_json_bool(o, "dry_run", v->dry_run);
	out_json_bool(o, "acted", v->acted);
	out_json_int(o, "wait_ms", (long long)v->wait_ms);
	out_json_int(o, "selected", (long long)n.total);
	out_json_int(o, "to_reap", (long long)v->todo);
	out_json_int(o, "handled", (long long)n.handled);
	out_json_int(o, "skipped", (long long)n.skipped);
	out_json_int(o, "failed", (long long)n.failed);
	out_json_open(o, "results", '{');
	for (int s = 0; s < CW_REAP_NSTATUS; s++)
		if (n.status[s])
			out_json_int(o, cw_reap_status_name(s), (long long)n.status[s]);
	out_json_close(o);
	out_json_rows(o, "sockets", cols, NCOLS, &c, n.total);
	out_json_open(o, "owners_left_open", '[');
	each_owner(v, owner_json, o);
	out_json_close(o);
	out_json_str(o, "message", msg);
	out_json_end(o);
}
