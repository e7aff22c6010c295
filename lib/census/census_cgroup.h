/* The workload behind a cgroup path (private): which cgroup a process is in
 * (/proc/PID/cgroup), what that path says about its systemd unit, container
 * and Kubernetes pod (pure functions), and the map from a socket's cgroup id
 * (INET_DIAG_CGROUP_ID) to its path, made by one walk of the cgroup2 mount. */
#ifndef CW_CENSUS_CGROUP_H
#define CW_CENSUS_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a cgroup path says; "" where it does not say. */
struct cgroup_attr {
	char unit[256];               /* systemd unit: "nginx.service", "session-3.scope" */
	char runtime[16];             /* "docker", "containerd", "cri-o", "podman" ("" with an id:
				       * a pod's container whose runtime the path does not name) */
	char container_id[65];        /* lowercase hex, 12 to 64 digits */
	char pod_uid[40];             /* "0f5d1c1e-6b3a-4c6e-9a0e-4b1d2c3e4f50" (with dashes) */
	char pod_qos[16];             /* "guaranteed", "burstable", "besteffort" */
};

/* The path to report from the text of a /proc/PID/cgroup file (len bytes,
 * need not end in a newline or a NUL): the cgroup v2 line ("0::PATH")
 * unless it is "/" and a cgroup v1 name=systemd line says more, else the
 * name=systemd line. 0, -ENOENT (no usable line: a path must start with
 * '/'), -ENOSPC (it does not fit in pathlen bytes with its NUL). */
int cgroup_path_from_proc(const char *text, size_t len, char *path, size_t pathlen);
/* The same from proc/PID/cgroup (proc: "/proc" or a tree laid out like
 * it), opened once and read to its end. 0, -ENOENT (no such process, or no
 * usable line), -ENOSPC, -EFBIG (over 1 MiB: no kernel writes that), or
 * the -errno of open or read. */
int cgroup_path_of_pid(const char *proc, pid_t pid, char *path, size_t pathlen);
/* What path says (rules in census_cgroup.c). Patterns count wherever they
 * are in the path (nested hosts add prefixes; inside a cgroup namespace
 * paths start with "/.."); the innermost container and pod win. Never
 * fails: a layout it does not know leaves fields empty. */
void cgroup_attr_parse(const char *path, struct cgroup_attr *a);

/* The cgroup2 mount point in the text of a /proc/PID/mountinfo file (len
 * bytes), with its octal escapes ("\040") undone: the first cgroup2 mount
 * of the whole hierarchy (root "/"), else the first cgroup2 mount. 0,
 * -ENOENT (none), -ENOSPC (does not fit in mntlen bytes). */
int cgroup2_mount_parse(const char *mountinfo, size_t len, char *mnt, size_t mntlen);
/* The same from /proc/self/mountinfo. 0, -ENOENT, -ENOSPC, -ENOMEM, or the
 * -errno of reading it. */
int cgroup2_mount_find(char *mnt, size_t mntlen);

/* The cgroups under a cgroup2 mount by id, the id the kernel gives sockets
 * and BPF (the directory's 8-byte file handle; its inode number on 64-bit
 * kernels). Paths are relative to the mount ("/" for its root,
 * "/system.slice/nginx.service"), as /proc/PID/cgroup writes them when the
 * mount is of the whole hierarchy. */
struct cgroup_ids;
/* One walk of the tree under mnt. A cgroup removed while it is walked is
 * left out, not an error. 0, -ENOMEM, or the -errno of opening mnt or of a
 * directory read that failed for another reason. */
int cgroup_ids_load(const char *mnt, struct cgroup_ids **out);
/* The path of cgroup id, valid while t lives; NULL when the walk did not see
 * it (made after the walk, removed, or outside the mount). */
const char *cgroup_ids_path(const struct cgroup_ids *t, uint64_t id);
size_t cgroup_ids_count(const struct cgroup_ids *t);   /* the cgroups seen */
void cgroup_ids_free(struct cgroup_ids *t);            /* NULL: nothing */
/* The id of the cgroup directory at path (in a cgroup2 mount), as the walk
 * gives it. 0, or -errno. */
int cgroup_id_of_path(const char *path, uint64_t *id);

#endif
