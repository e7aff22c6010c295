/* The tracer's eBPF side from user space: privileges, tracefs, loading and
 * attaching the programs, and reading their maps. */
#ifndef CW_TRACE_LOAD_H
#define CW_TRACE_LOAD_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "trace_rec.h"

struct trace_bpf;

struct trace_bpf_opts {
	pid_t pid;                    /* only this process's creations; 0: all */
	const char *comm;             /* only this command name's; NULL: all */
	bool no_recv_length;          /* leave sock:sock_recv_length off (as on Linux 6.1) */
};

/* A refusal or failure in words, for "closewait trace: WHY". */
struct trace_err {
	int err;                      /* -errno */
	bool privilege;               /* a missing capability: exit 2 */
	char msg[256];
};

/* Checks the capabilities, mounts tracefs when absent, opens, loads and
 * attaches. 0 or -errno with e filled. */
int trace_bpf_open(const struct trace_bpf_opts *o, struct trace_bpf **out, struct trace_err *e);
/* Detaches and unloads (NULL: nothing). */
void trace_bpf_close(struct trace_bpf *t);
/* Whether the EOF-read hook (sock:sock_recv_length) runs, and if not, why
 * in words (static). */
bool trace_bpf_recv_length(const struct trace_bpf *t, const char **why_not);

/* A record with its key (the struct sock address). */
struct trace_entry {
	__u64 sk;
	struct cw_trace_rec rec;
};
/* The records map's fd (for pinning it), valid while t lives. */
int trace_bpf_socks_fd(struct trace_bpf *t);
/* The per-process counters map's fd (struct cw_trace_proc_key to struct
 * cw_trace_proc_count; for pinning it), valid while t lives. */
int trace_bpf_procs_fd(struct trace_bpf *t);
/* Every record, in a malloc'd array the caller frees. 0 or -errno. */
int trace_bpf_records(struct trace_bpf *t, struct trace_entry **out, size_t *n);
/* The user stack of the record with key sk (user addresses, innermost
 * first) into ips; the number of frames, 0 when it is gone. */
size_t trace_bpf_stack(struct trace_bpf *t, __u64 sk, uint64_t *ips, size_t max);
/* Counter which (enum cw_trace_stat), summed over the CPUs. */
uint64_t trace_bpf_stat(struct trace_bpf *t, unsigned which);

#endif
