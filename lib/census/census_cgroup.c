#include "census_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The kernel writes each cgroup path of /proc/PID/cgroup into a PATH_MAX
 * buffer, one line per hierarchy (at most 16), so a real file is far below
 * this; a fake tree's bigger file is refused rather than read whole. */
#define CGROUP_FILE_MAX (1u << 20)
/* Hosts with tens of thousands of mounts have a mountinfo of a few MiB. */
#define MOUNTINFO_MAX (64u << 20)

/* Reads the file name to its end: into stack (stacklen bytes) while it
 * fits, else into a buffer it allocates (*buf != stack: the caller frees
 * it). 0, -EFBIG (over max bytes), -ENOMEM, or the -errno of open or read. */
static int slurp(const char *name, char *stack, size_t stacklen, size_t max, char **buf,
		 size_t *len)
{
	size_t cap = stacklen, n = 0;
	char *b = stack;
	int fd, ret = 0;

	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb = cap >= max ? NULL : (b == stack ? malloc(cap * 2) : realloc(b, cap * 2));

			if (!nb) {
				ret = cap >= max ? -EFBIG : -ENOMEM;
				goto fail;
			}
			if (b == stack)
				memcpy(nb, stack, n);
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;
fail:
	if (b != stack)
		free(b);
	close(fd);
	return ret;
}

/* [s, s + n) equals the string lit. */
static bool span_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* The comma-separated controller list [s, e) names the v1 hierarchy of
 * systemd ("name=systemd", alone or with others). */
static bool has_name_systemd(const char *s, const char *e)
{
	while (s < e) {
		const char *c = memchr(s, ',', (size_t)(e - s));
		const char *ce = c ? c : e;

		if (span_is(s, (size_t)(ce - s), "name=systemd"))
			return true;
		s = c ? c + 1 : e;
	}
	return false;
}

int cgroup_path_from_proc(const char *text, size_t len, char *path, size_t pathlen)
{
	const char *p = text, *end = text + len, *v2 = NULL, *sd = NULL, *use;
	size_t v2len = 0, sdlen = 0, n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(le - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;

		/* "ID:CONTROLLERS:PATH"; the path is the rest of the line (it may
		 * hold ':'); one with a NUL in it is no path. */
		if (c2 && c2 + 1 < le && c2[1] == '/' && !memchr(c2 + 1, '\0', (size_t)(le - c2 - 1))) {
			if (!v2 && span_is(p, (size_t)(c1 - p), "0") && c2 == c1 + 1) {
				v2 = c2 + 1;
				v2len = (size_t)(le - v2);
			} else if (!sd && has_name_systemd(c1 + 1, c2)) {
				sd = c2 + 1;
				sdlen = (size_t)(le - sd);
			}
		}
		p = nl ? nl + 1 : end;
	}
	/* On a hybrid host systemd keeps its tree in name=systemd and leaves
	 * every process at the v2 root. */
	if (v2 && (v2len > 1 || !sd)) {
		use = v2;
		n = v2len;
	} else if (sd) {
		use = sd;
		n = sdlen;
	} else {
		return -ENOENT;
	}
	if (n >= pathlen)
		return -ENOSPC;
	memcpy(path, use, n);
	path[n] = '\0';
	return 0;
}

int cgroup_path_of_pid(const char *proc, pid_t pid, char *path, size_t pathlen)
{
	char name[PATH_MAX], stack[4096], *buf;
	size_t len;
	int ret;

	if ((size_t)snprintf(name, sizeof(name), "%s/%d/cgroup", proc, (int)pid) >= sizeof(name))
		return -ENAMETOOLONG;
	ret = slurp(name, stack, sizeof(stack), CGROUP_FILE_MAX, &buf, &len);
	if (ret)
		return ret;
	ret = cgroup_path_from_proc(buf, len, path, pathlen);
	if (buf != stack)
		free(buf);
	return ret;
}

/* ---- What a path says ----
 * Read from the innermost component outwards:
 * - container: a runtime's scope, PREFIX-ID.scope (systemd driver; CRI-O
 *   and Podman also name cgroupfs directories PREFIX-ID), /docker/ID
 *   (Docker's cgroupfs driver) or /kubepods[/QOS]/podUID/ID (the kubelet's
 *   cgroupfs driver: the runtime is not named). An ID is 12 to 64 lowercase
 *   hex digits, so /docker/foo names no container. crio-conmon-ID and
 *   libpod-conmon-ID hold the runtime's monitor of container ID, not the
 *   container: they name none (a container around them still counts).
 * - pod: [...-]kubepods[-QOS]-podUID.slice, its UID with '_' for '-'
 *   (systemd driver; no QOS is guaranteed), or /kubepods[/QOS]/podUID.
 * - systemd unit: the innermost .service or .scope, unless a container or a
 *   runtime's scope comes first: a container's processes are not the unit
 *   whose subtree holds the container (user@1000.service around a rootless
 *   Podman container), while a container running systemd has units inside
 *   (/docker/ID/system.slice/nginx.service). */

struct comp {
	const char *s;
	size_t n;
};

/* The component before c in path (c->s == path + strlen(path) at first);
 * false when c is the first. Empty components ("//") are skipped. */
static bool comp_prev(const char *path, struct comp *c)
{
	const char *e = c->s;

	while (e > path && e[-1] == '/')
		e--;
	if (e == path)
		return false;
	c->s = e;
	while (c->s > path && c->s[-1] != '/')
		c->s--;
	c->n = (size_t)(e - c->s);
	return true;
}

/* Runtimes and the kubelet write ids and UIDs in lowercase hex. */
static bool is_xdigit_lower(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

static bool is_hex_id(const char *s, size_t n)
{
	if (n < 12 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_xdigit_lower(s[i]))
			return false;
	return true;
}

static bool ends_with(const char *s, size_t n, const char *suf)
{
	size_t k = strlen(suf);

	return n >= k && memcmp(s + n - k, suf, k) == 0;
}

/* A Kubernetes pod UID, 8-4-4-4-12 lowercase hex digits separated by sep. */
static bool is_uid(const char *s, size_t n, char sep)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != sep : !is_xdigit_lower(s[i]))
			return false;
	}
	return true;
}

static void copy_span(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static const struct {
	const char *prefix;
	const char *runtime;
} runtimes[] = {
	{ "docker-", "docker" },
	{ "cri-containerd-", "containerd" },
	{ "crio-", "cri-o" },
	{ "libpod-", "podman" },
};

/* A scope that a container runtime made (a container's or its monitor's). */
static bool is_runtime_scope(const struct comp *c)
{
	if (!ends_with(c->s, c->n, ".scope"))
		return false;
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		if (c->n > strlen(runtimes[i].prefix) &&
		    memcmp(c->s, runtimes[i].prefix, strlen(runtimes[i].prefix)) == 0)
			return true;
	return false;
}

/* QOS as a component of the cgroupfs layout: "burstable" or "besteffort". */
static const char *qos_dir(const struct comp *c)
{
	if (span_is(c->s, c->n, "burstable"))
		return "burstable";
	if (span_is(c->s, c->n, "besteffort"))
		return "besteffort";
	return NULL;
}

/* c is podUID in /kubepods[/QOS]/podUID: its QoS class, else NULL. */
static const char *cgroupfs_pod(const char *path, const struct comp *c)
{
	struct comp o = *c;
	const char *qos;

	if (c->n != 39 || memcmp(c->s, "pod", 3) != 0 || !is_uid(c->s + 3, 36, '-') ||
	    !comp_prev(path, &o))
		return NULL;
	if (span_is(o.s, o.n, "kubepods"))
		return "guaranteed";
	qos = qos_dir(&o);
	if (qos && comp_prev(path, &o) && span_is(o.s, o.n, "kubepods"))
		return qos;
	return NULL;
}

/* c names a container: its id and runtime into a. */
static bool container_at(const char *path, const struct comp *c, struct cgroup_attr *a)
{
	size_t n = c->n;
	struct comp o = *c;

	if (ends_with(c->s, n, ".scope"))
		n -= strlen(".scope");
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
		size_t k = strlen(runtimes[i].prefix);

		/* "crio-conmon-ID": "conmon-ID" is not hex, so no container. */
		if (n > k && memcmp(c->s, runtimes[i].prefix, k) == 0 && is_hex_id(c->s + k, n - k)) {
			copy_span(a->container_id, sizeof(a->container_id), c->s + k, n - k);
			copy_span(a->runtime, sizeof(a->runtime), runtimes[i].runtime,
				  strlen(runtimes[i].runtime));
			return true;
		}
	}
	if (!is_hex_id(c->s, c->n) || !comp_prev(path, &o))
		return false;
	if (span_is(o.s, o.n, "docker"))
		copy_span(a->runtime, sizeof(a->runtime), "docker", strlen("docker"));
	else if (!cgroupfs_pod(path, &o))
		return false;
	copy_span(a->container_id, sizeof(a->container_id), c->s, c->n);
	return true;
}

/* c is [...-]kubepods[-QOS]-podUID.slice (UID with '_'): the pod into a. */
static bool systemd_pod(const struct comp *c, struct cgroup_attr *a)
{
	static const char *const qos[][2] = {
		{ "kubepods-burstable-pod", "burstable" },
		{ "kubepods-besteffort-pod", "besteffort" },
		{ "kubepods-pod", "guaranteed" },
	};
	const size_t tail = 36 + strlen(".slice");

	if (!ends_with(c->s, c->n, ".slice") || c->n < tail)
		return false;
	for (size_t i = 0; i < sizeof(qos) / sizeof(qos[0]); i++) {
		size_t k = strlen(qos[i][0]);
		const char *at;

		if (c->n < tail + k)
			continue;
		at = c->s + c->n - tail - k;
		/* The kubelet's prefix, if any, ends in '-' (kind: "kubelet-"). */
		if (memcmp(at, qos[i][0], k) != 0 || (at > c->s && at[-1] != '-') ||
		    !is_uid(at + k, 36, '_'))
			continue;
		copy_span(a->pod_uid, sizeof(a->pod_uid), at + k, 36);
		for (char *u = a->pod_uid; *u; u++)
			if (*u == '_')
				*u = '-';
		copy_span(a->pod_qos, sizeof(a->pod_qos), qos[i][1], strlen(qos[i][1]));
		return true;
	}
	return false;
}

/* A systemd unit name: NAME.service or NAME.scope, in the characters
 * systemd allows, shorter than 256. */
static bool is_unit(const struct comp *c)
{
	size_t suf = ends_with(c->s, c->n, ".service") ? strlen(".service")
		   : ends_with(c->s, c->n, ".scope")  ? strlen(".scope")
						     : 0;

	if (!suf || c->n == suf || c->n > 255)
		return false;
	for (size_t i = 0; i < c->n; i++)
		if (c->s[i] == '\0' ||
		    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@", c->s[i]))
			return false;
	return true;
}

void cgroup_attr_parse(const char *path, struct cgroup_attr *a)
{
	struct comp c = { path + strlen(path), 0 };
	bool container = false, pod = false, unit_done = false;

	memset(a, 0, sizeof(*a));
	while (comp_prev(path, &c) && !(container && pod && unit_done)) {
		const char *qos;

		if (!container)
			container = container_at(path, &c, a);
		if (!pod) {
			if (systemd_pod(&c, a)) {
				pod = true;
			} else if ((qos = cgroupfs_pod(path, &c))) {
				copy_span(a->pod_uid, sizeof(a->pod_uid), c.s + 3, 36);
				copy_span(a->pod_qos, sizeof(a->pod_qos), qos, strlen(qos));
				pod = true;
			}
		}
		if (!unit_done && (container || is_runtime_scope(&c))) {
			unit_done = true;
		} else if (!unit_done && is_unit(&c)) {
			copy_span(a->unit, sizeof(a->unit), c.s, c.n);
			unit_done = true;
		}
	}
}

/* ---- The cgroup2 mount ---- */

/* Field [s, s + n) of a mountinfo line with its octal escapes ("\040" for
 * ' ') undone, into dst. 0 or -ENOSPC. */
static int unescape(const char *s, size_t n, char *dst, size_t dstlen)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		/* The kernel escapes ' ', '\t', '\n' and '\\' so; "\000" would
		 * end the name early and stays as it is. */
		if (ch == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
		    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');

			if (v) {
				ch = (char)v;
				i += 3;
			}
		}
		if (k + 1 >= dstlen)
			return -ENOSPC;
		dst[k++] = ch;
	}
	if (k >= dstlen)
		return -ENOSPC;
	dst[k] = '\0';
	return 0;
}

int cgroup2_mount_parse(const char *mountinfo, size_t len, char *mnt, size_t mntlen)
{
	const char *p = mountinfo, *end = mountinfo + len, *first = NULL;
	size_t firstlen = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct comp f[6] = { 0 };
		const char *q = p;
		unsigned nf = 0;
		bool sep = false;

		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ... */
		while (q < le) {
			const char *sp = memchr(q, ' ', (size_t)(le - q));
			struct comp w = { q, (size_t)((sp ? sp : le) - q) };

			q = sp ? sp + 1 : le;
			if (sep) {
				f[5] = w;
				nf = 6;
				break;
			}
			if (nf >= 6 && span_is(w.s, w.n, "-"))
				sep = true;
			else if (nf < 6)
				f[nf++] = w;
		}
		p = nl ? nl + 1 : end;
		if (nf < 6 || !sep || !span_is(f[5].s, f[5].n, "cgroup2"))
			continue;
		if (span_is(f[3].s, f[3].n, "/"))
			return unescape(f[4].s, f[4].n, mnt, mntlen);
		if (!first) {
			first = f[4].s;
			firstlen = f[4].n;
		}
	}
	return first ? unescape(first, firstlen, mnt, mntlen) : -ENOENT;
}

int cgroup2_mount_find(char *mnt, size_t mntlen)
{
	char stack[16384], *buf;
	size_t len;
	int ret;

	ret = slurp("/proc/self/mountinfo", stack, sizeof(stack), MOUNTINFO_MAX, &buf, &len);
	if (ret)
		return ret;
	ret = cgroup2_mount_parse(buf, len, mnt, mntlen);
	if (buf != stack)
		free(buf);
	return ret;
}
