/* The census's owners in one read: owners_iter.bpf.c's task_file iterator,
 * loaded once and read for each census (cw_census_opts.fd_sockets), instead
 * of a readlink per fd over /proc. */
#ifndef CW_OWNERS_ITER_H
#define CW_OWNERS_ITER_H

#include <stddef.h>

#include "closewait/census.h"

struct owners_iter;

/* Loads and attaches the iterator. 0, or -errno with why in msg (a phrase
 * for "cannot list socket owners with eBPF: WHY"): no CAP_BPF and
 * CAP_PERFMON, a kernel without task_file iterators or BTF, or a /proc
 * that is not this process's pid namespace's (the iterator's pids would not
 * be its). */
int owners_iter_open(struct owners_iter **out, char *msg, size_t len);
/* Every socket file of every process this process's /proc lists, read now:
 * *v (n entries) stays valid until the next read or the close. 0 or
 * -errno. */
int owners_iter_read(struct owners_iter *it, const struct cw_fd_socket **v, size_t *n);
/* Detaches and unloads (NULL: nothing). */
void owners_iter_close(struct owners_iter *it);

#endif
