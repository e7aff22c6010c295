/* Loads closewait.bpf.c's skeleton: checks the capabilities first so a
 * refusal names the missing one, mounts tracefs for the syscall
 * tracepoints when it is absent, and switches off sock_recv_length where the
 * kernel lacks it (a program whose tracepoint is missing fails the whole
 * object's load). */
#include <errno.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "closewait.skel.h"
#include "trace_load.h"

#define TRACEFS "/sys/kernel/tracing"

struct trace_bpf {
	struct closewait_bpf *skel;
	bool recv_length;
	const char *recv_length_off;  /* why it is off */
	int ncpus;
};

static int fail(struct trace_err *e, int err, bool privilege, const char *fmt, ...)
{
	va_list ap;

	e->err = err;
	e->privilege = privilege;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return err;
}

static bool has_cap(const struct __user_cap_data_struct *d, unsigned cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

/* CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON (kernels before 5.8
 * know only it). */
static int check_caps(struct trace_err *e)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	bool admin;

	if (syscall(SYS_capget, &h, d))
		return fail(e, -errno, false, "reading its capabilities: %s", strerror(errno));
	admin = has_cap(d, CAP_SYS_ADMIN);
	if (!admin && !has_cap(d, CAP_BPF) && !has_cap(d, CAP_PERFMON))
		return fail(e, -EPERM, true, "needs CAP_BPF and CAP_PERFMON (or root) to load and attach its eBPF programs");
	if (!admin && !has_cap(d, CAP_BPF))
		return fail(e, -EPERM, true, "needs CAP_BPF (or root) to load its eBPF programs");
	if (!admin && !has_cap(d, CAP_PERFMON))
		return fail(e, -EPERM, true, "needs CAP_PERFMON (or root) to attach its eBPF programs");
	return 0;
}

/* The syscall tracepoints attach through tracefs (their ids are there). */
static int ensure_tracefs(struct trace_err *e)
{
	if (access(TRACEFS "/events", F_OK) == 0 || access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return 0;
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) == 0)
		return 0;
	if (errno == EPERM)
		return fail(e, -EPERM, true, "needs CAP_SYS_ADMIN to mount tracefs at " TRACEFS " (absent)");
	return fail(e, -errno, false, "mounting tracefs at " TRACEFS ": %s", strerror(errno));
}

/* Whether the kernel has sock:sock_recv_length (Linux 6.3 and later): its
 * BTF then has the type tp_btf attaches through. */
static bool kernel_has_recv_length(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool has;

	if (!btf)
		return false;
	has = btf__find_by_name_kind(btf, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) > 0;
	btf__free(btf);
	return has;
}

/* The inode of this process's pid namespace when it is not the initial
 * one (whose inode is fixed: PROC_PID_INIT_INO); else 0. */
static __u32 own_pidns(void)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st) || st.st_ino == 0xEFFFFFFCu)
		return 0;
	return (__u32)st.st_ino;
}

/* Whether we may read a syscall tracepoint's id in tracefs (attaching reads
 * it): files of root's, mode 0440, unless tracefs was mounted otherwise.
 * AT_EACCESS: with our effective credentials, capabilities included. */
static bool tracefs_ids_readable(void)
{
	static const char *const ids[] = {
		TRACEFS "/events/syscalls/sys_exit_accept4/id",
		"/sys/kernel/debug/tracing/events/syscalls/sys_exit_accept4/id",
	};

	bool denied = false;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (faccessat(AT_FDCWD, ids[i], R_OK, AT_EACCESS) == 0)
			return true;
		denied |= errno == EACCES; /* ENOENT: not that tracefs */
	}
	return !denied;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN || !getenv("CLOSEWAIT_TRACE_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int trace_bpf_open(const struct trace_bpf_opts *o, struct trace_bpf **out, struct trace_err *e)
{
	struct trace_bpf *t;
	int err;

	*out = NULL;
	if ((err = check_caps(e)) || (err = ensure_tracefs(e)))
		return err;
	libbpf_set_print(quiet_print);
	t = calloc(1, sizeof(*t));
	if (!t)
		return fail(e, -ENOMEM, false, "out of memory");
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		err = fail(e, t->ncpus ? t->ncpus : -EINVAL, false, "counting the CPUs failed");
		goto fail_free;
	}
	t->skel = closewait_bpf__open();
	if (!t->skel) {
		err = fail(e, -errno, false, "opening its eBPF object: %s", strerror(errno));
		goto fail_free;
	}
	t->skel->rodata->cw_pid = (__u32)o->pid;
	t->skel->rodata->cw_pidns_ino = own_pidns();
	if (o->comm)
		strncpy((char *)t->skel->rodata->cw_comm, o->comm, CW_TRACE_COMM_LEN - 1);
	t->recv_length = true;
	if (o->no_recv_length) {
		t->recv_length = false;
		t->recv_length_off = "switched off (--no-eof-times)";
	} else if (!kernel_has_recv_length()) {
		t->recv_length = false;
		t->recv_length_off = "this kernel has no sock:sock_recv_length tracepoint (added after Linux 6.1)";
	}
	if (!t->recv_length)
		bpf_program__set_autoload(t->skel->progs.cw_recv_length, false);
	err = closewait_bpf__load(t->skel);
	if (err) {
		err = fail(e, err, err == -EPERM, "loading its eBPF programs: %s%s", strerror(-err),
			   err == -EPERM ? " (needs CAP_BPF and CAP_PERFMON, or root)" : "");
		goto fail_skel;
	}
	err = closewait_bpf__attach(t->skel);
	if (err && (err == -EACCES || err == -EPERM) && !tracefs_ids_readable()) {
		err = fail(e, err, true, "attaching its eBPF programs: %s (needs CAP_DAC_READ_SEARCH, or "
			   "root, to read the syscall tracepoints' ids in tracefs; or mount tracefs with "
			   "mode=755)", strerror(-err));
		goto fail_skel;
	}
	if (err) {
		err = fail(e, err, err == -EPERM, "attaching its eBPF programs: %s%s", strerror(-err),
			   err == -EPERM ? " (needs CAP_PERFMON, or root)" : "");
		goto fail_skel;
	}
	*out = t;
	return 0;
fail_skel:
	closewait_bpf__destroy(t->skel);
fail_free:
	free(t);
	return err;
}

void trace_bpf_close(struct trace_bpf *t)
{
	if (!t)
		return;
	closewait_bpf__destroy(t->skel);
	free(t);
}

bool trace_bpf_recv_length(const struct trace_bpf *t, const char **why_not)
{
	if (why_not)
		*why_not = t->recv_length_off;
	return t->recv_length;
}

int trace_bpf_socks_fd(struct trace_bpf *t)
{
	return bpf_map__fd(t->skel->maps.socks);
}

int trace_bpf_procs_fd(struct trace_bpf *t)
{
	return bpf_map__fd(t->skel->maps.procs);
}

int trace_bpf_records(struct trace_bpf *t, struct trace_entry **out, size_t *n)
{
	int fd = bpf_map__fd(t->skel->maps.socks);
	struct trace_entry *v = NULL, *nv;
	size_t len = 0, cap = 0;
	__u64 key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (len == cap) {
			cap = cap ? 2 * cap : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		/* a record deleted between the two calls is simply not listed */
		if (bpf_map_lookup_elem(fd, &next, &v[len].rec) == 0)
			v[len++].sk = next;
		key = next;
		prev = &key;
	}
	*out = v;
	*n = len;
	return 0;
}

size_t trace_bpf_stack(struct trace_bpf *t, __u64 sk, uint64_t *ips, size_t max)
{
	struct cw_trace_frames f;
	size_t n = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.frames), &sk, &f))
		return 0;
	while (n < CW_TRACE_STACK_DEPTH && n < max && f.ip[n]) {
		ips[n] = f.ip[n];
		n++;
	}
	return n;
}

uint64_t trace_bpf_stat(struct trace_bpf *t, unsigned which)
{
	__u64 vals[t->ncpus];
	__u32 key = which;
	uint64_t sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.stats), &key, vals))
		return 0;
	for (int i = 0; i < t->ncpus; i++)
		sum += vals[i];
	return sum;
}
