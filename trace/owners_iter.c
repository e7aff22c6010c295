/* owners_iter.bpf.c from user space (see owners_iter.h). */
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "owners_iter.h"
#include "owners_iter.skel.h"
#include "owners_rec.h"

/* The records read are the table the census takes. */
_Static_assert(sizeof(struct cw_owner_rec) == sizeof(struct cw_fd_socket), "record size");
_Static_assert(offsetof(struct cw_owner_rec, inode) == offsetof(struct cw_fd_socket, inode), "inode");
_Static_assert(offsetof(struct cw_owner_rec, pid) == offsetof(struct cw_fd_socket, pid), "pid");
_Static_assert(offsetof(struct cw_owner_rec, fd) == offsetof(struct cw_fd_socket, fd), "fd");

struct owners_iter {
	struct owners_iter_bpf *skel;
	struct bpf_link *link;
	char *buf;
	size_t len, cap;
};

static int fail(char *msg, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return err;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN || !getenv("CLOSEWAIT_TRACE_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* The iterator lists the tasks of this process's pid namespace and names
 * them as it does: right only when /proc is that namespace's (it may be
 * another's after unshare --pid without a /proc of its own). */
static bool proc_is_ours(void)
{
	char l[32];
	ssize_t n = readlink("/proc/self", l, sizeof(l) - 1);

	if (n <= 0)
		return false;
	l[n] = 0;
	return strtol(l, NULL, 10) == (long)getpid();
}

/* Whether this process may load and attach the iterator: asked first, so
 * that a process that may not pays no BTF parse, and makes no bpf() call,
 * for a refusal. CAP_BPF and CAP_PERFMON themselves: the kernels with the
 * task_file iterator (5.8) all have them, and a process given CAP_SYS_ADMIN
 * for other reasons (export's unit, to enter namespaces) must not start
 * loading eBPF programs its sandbox does not expect. */
static bool may_load(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	uint32_t e1;

	if (syscall(SYS_capget, &h, d))
		return true; /* the load will tell */
	e1 = d[1].effective;
	return (e1 & (1u << (CAP_BPF - 32))) && (e1 & (1u << (CAP_PERFMON - 32)));
}

int owners_iter_open(struct owners_iter **out, char *msg, size_t len)
{
	struct owners_iter *it;
	int err;

	*out = NULL;
	if (!may_load())
		return fail(msg, len, -EPERM, "needs CAP_BPF and CAP_PERFMON (or root)");
	if (!proc_is_ours())
		return fail(msg, len, -EXDEV, "/proc is not this process's pid namespace's");
	it = calloc(1, sizeof(*it));
	if (!it)
		return fail(msg, len, -ENOMEM, "out of memory");
	libbpf_set_print(quiet_print);
	it->skel = owners_iter_bpf__open_and_load();
	if (!it->skel) {
		err = -errno;
		fail(msg, len, err, "loading its eBPF iterator: %s%s", strerror(-err),
		     err == -EPERM ? " (needs CAP_BPF and CAP_PERFMON, or root)" : "");
		goto fail_free;
	}
	it->link = bpf_program__attach_iter(it->skel->progs.cw_owners, NULL);
	if (!it->link) {
		err = -errno;
		fail(msg, len, err, "attaching its eBPF iterator: %s", strerror(-err));
		goto fail_skel;
	}
	*out = it;
	return 0;
fail_skel:
	owners_iter_bpf__destroy(it->skel);
fail_free:
	free(it);
	return err;
}

int owners_iter_read(struct owners_iter *it, const struct cw_fd_socket **v, size_t *n)
{
	int fd = bpf_iter_create(bpf_link__fd(it->link));
	int err = 0;

	if (fd < 0)
		return fd;
	it->len = 0;
	for (;;) {
		ssize_t got;

		if (it->cap - it->len < 65536) {
			size_t cap = it->cap ? it->cap * 2 : 1 << 20;
			char *b = realloc(it->buf, cap);

			if (!b) {
				err = -ENOMEM;
				break;
			}
			it->buf = b;
			it->cap = cap;
		}
		got = read(fd, it->buf + it->len, it->cap - it->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			err = got < 0 ? -errno : 0;
			break;
		}
		it->len += (size_t)got;
	}
	close(fd);
	if (err)
		return err;
	/* The kernel writes whole records: a cut one would mean another layout. */
	if (it->len % sizeof(struct cw_fd_socket))
		return -EPROTO;
	*v = (const struct cw_fd_socket *)it->buf;
	*n = it->len / sizeof(struct cw_fd_socket);
	return 0;
}

void owners_iter_close(struct owners_iter *it)
{
	if (!it)
		return;
	bpf_link__destroy(it->link);
	owners_iter_bpf__destroy(it->skel);
	free(it->buf);
	free(it);
}
