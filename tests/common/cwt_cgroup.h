/* Cgroups for C tests: one parent per run under the cgroup2 mount, removed
 * with everything under it. No test writes to a v1 controller. */
#ifndef CWT_CGROUP_H
#define CWT_CGROUP_H

#include <stddef.h>

/* Makes <cgroup2 mount>/closewait-test-<pid> into out (len bytes); fails
 * the test naming why when there is no writable cgroup2. */
void cwt_cgroup_parent(char *out, size_t len);
/* Removes the cgroup directory path and every one under it. A cgroup whose
 * last process has just been reaped may count as busy for a moment. */
void cwt_cgroup_rm_tree(const char *path);

#endif
