/* The workloads of a census: for each owner process, and for each cgroup id
 * of a socket no process holds, what its cgroup path says (census_cgroup.c),
 * in the public shape (struct cw_workload: NULL where the path is silent). */
#include "census_internal.h"
#include "census_workload.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "census_cgroup.h"

/* Copies path and what it says into one buffer the workload points into. */
static int wl_make(uint64_t key, const char *path, struct census_wl *out)
{
	struct cgroup_attr a;
	const char *src[] = { path, a.unit, a.runtime, a.container_id, a.pod_uid, a.pod_qos };
	const char **dst[] = { &out->pub.cgroup, &out->pub.systemd_unit, &out->pub.container_runtime,
			       &out->pub.container_id, &out->pub.pod_uid, &out->pub.pod_qos };
	size_t len = 0;
	char *p;

	cgroup_attr_parse(path, &a);
	for (size_t k = 0; k < 6; k++)
		len += strlen(src[k]) + 1;
	memset(out, 0, sizeof(*out));
	out->key = key;
	out->buf = p = malloc(len);
	if (!p)
		return -ENOMEM;
	for (size_t k = 0; k < 6; k++) {
		size_t n = strlen(src[k]);

		if (!n)
			continue;
		memcpy(p, src[k], n + 1);
		*dst[k] = p;
		p += n + 1;
	}
	return 0;
}

int census_workloads_owners(struct cw_census *c, const struct procfd_proc *procs, size_t n)
{
	c->procs = calloc(n ? n : 1, sizeof(*c->procs));
	if (!c->procs)
		return -ENOMEM;
	/* procs come sorted by pid: the lookup's order. */
	for (size_t i = 0; i < n; i++) {
		int err;

		if (!procs[i].cgroup)
			continue;
		err = wl_make((uint64_t)procs[i].pid, procs[i].cgroup, &c->procs[c->nprocs]);
		if (err)
			return err;
		c->nprocs++;
	}
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int census_workloads_sockets(struct cw_census *c)
{
	char mnt[PATH_MAX];
	struct cgroup_ids *ids = NULL;
	uint64_t *want = malloc((c->n ? c->n : 1) * sizeof(*want));
	size_t nwant = 0;
	int err = 0;

	if (!want)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++)
		if (c->socks[i].cgroup_id && !cw_census_owner_count(c, i))
			want[nwant++] = c->socks[i].cgroup_id;
	/* No cgroup2 (or no sockets that need it) is no workload, not an error. */
	if (!nwant || cgroup2_mount_find(mnt, sizeof(mnt)) || cgroup_ids_load(mnt, &ids))
		goto out;
	qsort(want, nwant, sizeof(*want), id_cmp);
	c->cgroups = calloc(nwant, sizeof(*c->cgroups));
	if (!c->cgroups) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < nwant; k++) {
		const char *path;

		if (k && want[k] == want[k - 1])
			continue;
		path = cgroup_ids_path(ids, want[k]);
		if (!path)
			continue;
		err = wl_make(want[k], path, &c->cgroups[c->ncgroups]);
		if (err)
			goto out;
		c->ncgroups++;
	}
out:
	cgroup_ids_free(ids);
	free(want);
	return err;
}
