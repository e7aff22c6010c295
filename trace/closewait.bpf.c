// SPDX-License-Identifier: GPL-2.0
/* closewait trace, kernel side: records each TCP socket the selected
 * processes accept or connect (when, who, the user stack), then when it
 * enters and leaves CLOSE_WAIT and when its EOF is read; deletes the record
 * when the socket closes. Counts, per process, the sockets it made that
 * entered CLOSE_WAIT and that left it. Tracepoints only (no kprobes or fentry here):
 * tp_btf for the sock and tcp ones, classic ones for the two accept syscalls
 * (a raw sys_exit hook would run on every syscall of the host). connect()
 * needs no syscall hook: its socket leaves CLOSE for SYN_SENT in the caller's
 * context, and every syscall tracepoint slows every syscall of the host.
 * CO-RE: built against the running kernel's BTF, relocated at load. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "trace_rec.h"

char LICENSE[] SEC("license") = "GPL";

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define MSG_PEEK 2
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8

/* The selection, set by the loader before load: a process (tgid; 0 = any)
 * and a command name (the process's, its leader's comm; empty = any). */
const volatile __u32 cw_pid = 0;
const volatile char cw_comm[CW_TRACE_COMM_LEN] = {};
/* The inode of the pid namespace trace runs in, when it is not the
 * initial one: pids are then that namespace's, as trace's /proc shows them
 * (a process outside it is not seen); 0: the kernel's own. */
const volatile __u32 cw_pidns_ino = 0;

#define MAX_PID_NS_LEVEL 32

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_TRACE_MAX_SOCKS);
	__type(key, __u64);
	__type(value, struct cw_trace_rec);
} socks SEC(".maps");

/* Per traced process: its sockets that entered and left CLOSE_WAIT. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_TRACE_MAX_PROCS);
	__type(key, struct cw_trace_proc_key);
	__type(value, struct cw_trace_proc_count);
} procs SEC(".maps");

/* Each record's user stack, under the record's key, deleted with it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CW_TRACE_MAX_SOCKS);
	__type(key, __u64);
	__type(value, struct cw_trace_frames);
} frames SEC(".maps");

static const struct cw_trace_frames no_frames;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CW_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

/* Socket key's record goes, and its stack with it. */
static __always_inline void forget(__u64 key)
{
	bpf_map_delete_elem(&frames, &key);
	if (!bpf_map_delete_elem(&socks, &key))
		count(CW_STAT_DELETED);
}

/* One more socket of r's creating process entered (or left) CLOSE_WAIT.
 * A socket not seen created names no process: not counted. The entry is
 * made when the process's first socket is recorded, never here: a socket
 * its exit closes, or one a child still holds, would bring back the entry
 * of a process that exited. The state hooks run in softirq on any CPU: the
 * additions are atomic. */
static __always_inline void count_proc(const struct cw_trace_rec *r, bool entered)
{
	struct cw_trace_proc_key k = { .pid = r->pid, .start_ns = r->start_ns };
	struct cw_trace_proc_count *c;

	if (r->how == CW_HOW_NONE || !r->pid)
		return;
	/* the totals count a process that exited too */
	count(entered ? CW_STAT_ENTERED : CW_STAT_LEFT);
	c = bpf_map_lookup_elem(&procs, &k);
	if (!c)
		return;
	if (entered)
		__sync_fetch_and_add(&c->entered, 1);
	else
		__sync_fetch_and_add(&c->left, 1);
}

/* p's number in trace's pid namespace; 0 when p is not in it. Trace
 * cannot know its namespace's level (its /proc shows the levels from its
 * own down), so each of p's levels is compared. */
static __always_inline __u32 ns_nr(struct pid *p)
{
	unsigned int level;
	struct upid up;

	if (!p)
		return 0;
	level = BPF_CORE_READ(p, level);
	for (unsigned int i = 0; i < MAX_PID_NS_LEVEL; i++) {
		if (i > level)
			break;
		if (bpf_probe_read_kernel(&up, sizeof(up), &p->numbers[i]))
			return 0;
		if (BPF_CORE_READ(up.ns, ns.inum) == cw_pidns_ino)
			return (__u32)up.nr;
	}
	return 0;
}

/* The current process and thread as trace's /proc numbers them: tgid in
 * the high half. 0 for a task outside trace's pid namespace. */
static __always_inline __u64 task_pid_tgid(struct task_struct *task)
{
	__u32 tgid, pid;

	if (!cw_pidns_ino)
		return bpf_get_current_pid_tgid();
	tgid = ns_nr(BPF_CORE_READ(task, group_leader, thread_pid));
	pid = ns_nr(BPF_CORE_READ(task, thread_pid));
	return (__u64)tgid << 32 | pid;
}

static __always_inline bool selected(struct task_struct *task, __u64 pid_tgid)
{
	char comm[CW_TRACE_COMM_LEN];

	if (!(pid_tgid >> 32))
		return false;
	if (cw_pid && (__u32)(pid_tgid >> 32) != cw_pid)
		return false;
	if (!cw_comm[0])
		return true;
	BPF_CORE_READ_STR_INTO(&comm, task, group_leader, comm);
	for (int i = 0; i < CW_TRACE_COMM_LEN; i++) {
		if (comm[i] != cw_comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

static __always_inline bool inet_tcp(const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	return (family == AF_INET || family == AF_INET6) && BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP;
}

/* fd's struct sock when it is a TCP socket (checked: a socket inode, then
 * the family and protocol), else NULL; *inode gets the file's inode. */
static __always_inline struct sock *tcp_sock_of_fd(struct task_struct *task, int fd, __u64 *inode)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f;
	struct socket *so;
	struct sock *sk;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(so, sk);
	if (!sk || !inet_tcp(sk))
		return NULL;
	*inode = BPF_CORE_READ(f, f_inode, i_ino);
	return sk;
}

/* The record of sk, a TCP socket just made by accept (fd its result) or
 * connect (fd -1: the census names it), in the creating process's context.
 * A record already there (the socket entered CLOSE_WAIT before accept took
 * it) keeps its state times. */
static __always_inline int record(void *ctx, struct task_struct *task, __u64 pid_tgid, struct sock *sk,
				  __u64 inode, int fd, __u32 how)
{
	struct cw_trace_rec rec = {};
	struct cw_trace_rec *old;
	struct cw_trace_frames *f;
	struct pt_regs *regs;
	__u64 key = (__u64)sk;
	bool late_entry;

	rec.created_ns = bpf_ktime_get_ns();
	rec.inode = inode;
	rec.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	rec.pid = pid_tgid >> 32;
	/* with the pid, names the creating process even once its pid is reused */
	rec.start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	rec.tid = (__u32)pid_tgid;
	rec.fd = fd;
	rec.how = how;
	bpf_get_current_comm(&rec.comm, sizeof(rec.comm));
	rec.stack_id = -1;
	if (!bpf_map_update_elem(&frames, &key, &no_frames, BPF_ANY) &&
	    (f = bpf_map_lookup_elem(&frames, &key)) &&
	    bpf_get_stack(ctx, f->ip, sizeof(f->ip), BPF_F_USER_STACK) > 0)
		rec.stack_id = 0;
	if (rec.stack_id < 0)
		count(CW_STAT_NO_STACK);
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	bpf_probe_read_user(&rec.fixup, sizeof(rec.fixup), (void *)PT_REGS_SP_CORE(regs));
	old = bpf_map_lookup_elem(&socks, &key);
	/* it entered CLOSE_WAIT in the accept queue, before its process was
	 * known: counted now, once (a record that names a process already
	 * counted it). Read before the update, which frees the old entry. */
	late_entry = old && old->how == CW_HOW_NONE && old->close_wait_ns && !old->left_close_wait_ns;
	if (old) {
		rec.close_wait_ns = old->close_wait_ns;
		rec.left_close_wait_ns = old->left_close_wait_ns;
		rec.left_state = old->left_state;
		rec.eof_ns = old->eof_ns;
	}
	/* the process's counters exist from its first socket, at 0: a
	 * counter series that appears at 1 hides its first increase */
	bpf_map_update_elem(&procs, &(struct cw_trace_proc_key){ .pid = rec.pid, .start_ns = rec.start_ns },
			    &(struct cw_trace_proc_count){}, BPF_NOEXIST);
	if (bpf_map_update_elem(&socks, &key, &rec, BPF_ANY))
		count(CW_STAT_UPDATE_FAILED);
	else if (!old)
		count(CW_STAT_INSERTED);
	else if (late_entry)
		count_proc(&rec, true);
	return 0;
}

static __always_inline int accepted(void *ctx, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = task_pid_tgid(task);
	__u64 inode = 0;
	struct sock *sk;

	if (ret < 0 || !selected(task, pid_tgid))
		return 0;
	sk = tcp_sock_of_fd(task, (int)ret, &inode);
	return sk ? record(ctx, task, pid_tgid, sk, inode, (int)ret, CW_HOW_ACCEPT) : 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int cw_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int cw_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx, ctx->ret);
}

/* connect() (or a Fast Open sendmsg) moves its socket from CLOSE to
 * SYN_SENT in the calling thread, before the SYN leaves: a blocking
 * connect may complete, and the socket even reach CLOSE_WAIT, before the
 * syscall returns. */
static __always_inline int connecting(void *ctx, struct sock *sk)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = task_pid_tgid(task);

	if (!selected(task, pid_tgid) || !inet_tcp(sk))
		return 0;
	return record(ctx, task, pid_tgid, sk, BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino), -1,
		      CW_HOW_CONNECT);
}

/* Runs, but for connect, in whatever context the segment arrived in
 * (softirq): not the owner's, so no selection here; a socket not seen created gets a record
 * of its CLOSE_WAIT entry alone. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(cw_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u64 key = (__u64)sk;
	struct cw_trace_rec *r;

	if (newstate == TCP_SYN_SENT && oldstate == TCP_CLOSE)
		return connecting(ctx, (struct sock *)sk);
	r = bpf_map_lookup_elem(&socks, &key);
	/* closed (LAST_ACK), or reset or aborted (CLOSE); counted only where
	 * its entry was: the record names a process and saw the entry */
	if (r && oldstate == TCP_CLOSE_WAIT && newstate != TCP_CLOSE_WAIT && r->close_wait_ns)
		count_proc(r, false);
	if (newstate == TCP_CLOSE) {
		forget(key);
		return 0;
	}
	if (newstate == TCP_CLOSE_WAIT) {
		if (r) {
			r->close_wait_ns = bpf_ktime_get_ns();
			count_proc(r, true);
			return 0;
		}
		struct cw_trace_rec rec = {};

		if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
			return 0;
		rec.close_wait_ns = bpf_ktime_get_ns();
		rec.stack_id = -1;
		rec.fd = -1;
		rec.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
		/* 0 for a socket still in its listener's accept queue (no file yet) */
		rec.inode = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
		if (bpf_map_update_elem(&socks, &key, &rec, BPF_NOEXIST))
			count(CW_STAT_UPDATE_FAILED);
		else
			count(CW_STAT_INSERTED);
		return 0;
	}
	if (r && oldstate == TCP_CLOSE_WAIT) {
		r->left_close_wait_ns = bpf_ktime_get_ns();
		r->left_state = newstate;
	}
	return 0;
}

/* A socket can be destroyed without passing through a CLOSE transition the
 * hook above sees (a connect that never left CLOSE). */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(cw_destroy, struct sock *sk)
{
	forget((__u64)sk);
	return 0;
}

/* A process's counters go with it: when its last thread exits (a pid
 * reused later is another key anyway; this keeps the map to live
 * processes). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(cw_exit, struct task_struct *task)
{
	struct cw_trace_proc_key k = {};

	if (BPF_CORE_READ(task, signal, live.counter))
		return 0;
	k.pid = (__u32)(task_pid_tgid(task) >> 32);
	k.start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	if (k.pid)
		bpf_map_delete_elem(&procs, &k);
	return 0;
}

/* A read that returned 0 in CLOSE_WAIT and consumed the FIN: copied_seq
 * then counts the FIN and equals rcv_nxt. A zero-length recv returns 0 too,
 * before any FIN (the state tells), and one in CLOSE_WAIT consumes the FIN
 * (an EOF read, as Recv-Q then says); read(fd, buf, 0) returns before the
 * socket layer. Absent from Linux 6.1: the loader then switches this
 * program off. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(cw_recv_length, struct sock *sk, int ret, int flags)
{
	__u64 key = (__u64)sk;
	struct cw_trace_rec *r;
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	if (ret != 0 || (flags & MSG_PEEK))
		return 0;
	r = bpf_map_lookup_elem(&socks, &key);
	if (!r || r->eof_ns)
		return 0;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE_WAIT)
		return 0;
	if (BPF_CORE_READ(tp, copied_seq) != BPF_CORE_READ(tp, rcv_nxt))
		return 0;
	r->eof_ns = bpf_ktime_get_ns();
	return 0;
}
