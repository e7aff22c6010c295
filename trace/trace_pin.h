/* closewait trace --pin: its records pinned on a bpffs while it runs, so
 * that scan reads exact CLOSE_WAIT entry times; and scan's side, reading
 * every instance's pins. A directory per trace instance holds three maps:
 * "socks" (the records, struct cw_trace_rec), "procs" (per process, its
 * sockets that entered and left CLOSE_WAIT: struct cw_trace_proc_count)
 * and "owner" (one struct trace_pin_owner: which process pinned them, to
 * tell a live instance from one that was killed and left its pins
 * behind). */
#ifndef CW_TRACE_PIN_H
#define CW_TRACE_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "closewait/census.h"
#include "trace_load.h"

/* Where scan looks: every directory under it is one instance's. */
#define CW_PIN_ROOT "/sys/fs/bpf/closewait"

/* pid's start time (/proc/PID/stat's starttime, clock ticks since boot),
 * 0 when it is gone (or unreadable): with the pid, names one process even
 * once its pid is reused. */
uint64_t trace_pid_start(pid_t pid);

/* Pins socks_fd and procs_fd under dir (made if absent; its parent must be
 * on a bpffs), with the owner map naming this process. A directory left by
 * an instance whose process is gone (stale) is emptied and reused; one
 * whose process lives is refused (-EBUSY). 0 or -errno with e filled. */
int trace_pin(int socks_fd, int procs_fd, const char *dir, struct trace_err *e);
/* Removes what trace_pin made (the maps go once nothing else holds them). */
void trace_unpin(const char *dir);

/* The entry times of the sockets in CLOSE_WAIT now recorded by the live
 * instances under root, in a malloc'd array the caller frees (*n may be 0).
 * 0 (none when root is absent or cannot be listed), -EPERM or -EACCES when
 * an instance's pins are there but not readable (no CAP_BPF), or -errno. Stale instances are skipped:
 * nothing deletes their records any more. */
int trace_pins_read(const char *root, struct cw_entry_time **out, size_t *n);

/* A traced process's counters: its sockets that entered CLOSE_WAIT and
 * left it while an instance traced it (struct cw_trace_proc_count). */
struct trace_pin_count {
	pid_t pid;
	uint64_t entered, left;
};

/* The counters of the processes that still run, from the live instances
 * under root, in a malloc'd array the caller frees (*n may be 0); pids are
 * trace's, checked against this process's /proc with their start time, so
 * a reader in another pid namespace sees none. A process two instances
 * count gets the counters of the one that counted more (the one that has
 * traced it longer). *instances: the live instances read that keep
 * counters. Returns as trace_pins_read. */
int trace_pins_counts(const char *root, struct trace_pin_count **out, size_t *n, size_t *instances);

#endif
