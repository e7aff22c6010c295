/* Where the census finds the owners of sockets: in one read, from the
 * eBPF iterator of closewait trace (trace/owners_iter.h), when closewait
 * was built with trace and may load it (CAP_BPF and CAP_PERFMON, or root;
 * a kernel with task_file iterators); from the /proc walk otherwise.
 * CLOSEWAIT_OWNERS (a troubleshooting switch, docs/scan.md): auto (the
 * default), proc (always the walk), ebpf (the iterator or fail, status 2). */
#ifndef CW_OWNERS_SRC_H
#define CW_OWNERS_SRC_H

#include <stdbool.h>

#include "closewait/census.h"

/* fs.file-nr's open files from which a single census loads the iterator:
 * the walk reads /proc at 2.5 to 5 us a file here (two threads), the
 * iterator takes 20 to 50 ms to load (libbpf parses the kernel's BTF). */
#define OWNERS_SRC_MIN_FILES 10000

/* Sets co->fd_sockets to the iterator when it is to be used and loads;
 * else leaves co alone (the walk), silently unless CLOSEWAIT_TRACE_DEBUG
 * is set. Exits 2 ("closewait CMD: ...") when CLOSEWAIT_OWNERS is not a
 * value above, or is ebpf and the iterator cannot be loaded. repeated: a
 * census follows another (watch, export), so loading it pays off
 * anyway; for one census (scan, reap) auto loads it only on a host with
 * OWNERS_SRC_MIN_FILES open files or more, where the walk would take
 * longer than the load. */
void owners_src_open(const char *cmd, struct cw_census_opts *co, bool repeated);
/* Unloads the iterator co got from owners_src_open, if any. */
void owners_src_close(struct cw_census_opts *co);

#endif
