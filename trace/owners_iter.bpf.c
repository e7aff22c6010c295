// SPDX-License-Identifier: GPL-2.0
/* The census's owners in one read: a task_file iterator that writes one
 * record (pid, fd, inode) per socket file a process holds, for every
 * process the reader's pid namespace shows. Read by trace/owners_iter.c;
 * the census matches the inodes itself, as with its /proc walk. CO-RE. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "owners_rec.h"

char LICENSE[] SEC("license") = "GPL";

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define MAX_PID_NS_LEVEL 32

/* The reader's pid namespace and its level, found on the first record:
 * the kernel walks the tasks of the namespace of whoever reads, and a
 * process never changes its own. */
static struct pid_namespace *my_ns;
static unsigned int my_level;
/* The last task translated (its files come one after the other), known
 * by its address and id: an address alone may be a new task's by a later
 * read. */
static struct task_struct *last_task;
static __s32 last_tid;
static __u32 last_nr;

static __always_inline void find_my_ns(void)
{
	struct task_struct *me = bpf_get_current_task_btf();
	struct pid *p = BPF_CORE_READ(me, thread_pid);
	struct upid up;
	unsigned int level = BPF_CORE_READ(p, level);

	if (level >= MAX_PID_NS_LEVEL ||
	    bpf_probe_read_kernel(&up, sizeof(up), &p->numbers[level]))
		return;
	my_level = level;
	my_ns = up.ns;
}

/* The process's number in the reader's namespace (what its /proc calls
 * it); 0 when it has none there. */
static __always_inline __u32 tgid_here(struct task_struct *task)
{
	struct pid *p;
	struct upid up;

	if (!my_level)
		return (__u32)task->tgid;
	p = BPF_CORE_READ(task, group_leader, thread_pid);
	if (!p || BPF_CORE_READ(p, level) < my_level || my_level >= MAX_PID_NS_LEVEL)
		return 0;
	if (bpf_probe_read_kernel(&up, sizeof(up), &p->numbers[my_level]) || up.ns != my_ns)
		return 0;
	return (__u32)up.nr;
}

SEC("iter/task_file")
int cw_owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct cw_owner_rec r;
	struct inode *ino;

	if (!task || !file)
		return 0;
	/* /proc/PID/fd shows the leader's fd table: a thread that unshared
	 * its own (unshare(CLONE_FILES)) is not in it, and the kernel already
	 * skips the threads that share the leader's. */
	if (task->pid != task->tgid)
		return 0;
	ino = file->f_inode;
	if (!ino || (ino->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	if (!my_ns)
		find_my_ns();
	if (task != last_task || task->pid != last_tid || ctx->meta->seq_num == 0) {
		last_task = task;
		last_tid = task->pid;
		last_nr = tgid_here(task);
	}
	if (!last_nr)
		return 0;
	r.inode = ino->i_ino;
	r.pid = last_nr;
	r.fd = (__s32)ctx->fd;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
