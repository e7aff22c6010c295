/* The table of CLOSE_WAIT sockets trace has seen and the groups by
 * creating site. Pure: no I/O. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_leaks.h"

struct trace_leak *trace_leaks_get(struct trace_leaks *t, const char *key, uint64_t now_ms)
{
	struct trace_leak *l;

	/* a linear search: trace follows the leaks of a few programs */
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].key, key))
			return &t->v[i];
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct trace_leak *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	l = &t->v[t->n++];
	memset(l, 0, sizeof(*l));
	snprintf(l->key, sizeof(l->key), "%s", key);
	l->first_seen_ms = now_ms;
	l->fd = -1;
	return l;
}

int trace_leaks_group(struct trace_leaks *t, struct trace_leak *l)
{
	size_t j;

	for (j = 0; j < t->ng; j++)
		if (!strcmp(t->g[j].site, l->site))
			break;
	if (j == t->ng) {
		if (t->ng == t->gcap) {
			size_t cap = t->gcap ? 2 * t->gcap : 16;
			struct trace_group *g = realloc(t->g, cap * sizeof(*g));

			if (!g)
				return -ENOMEM;
			t->g = g;
			t->gcap = cap;
		}
		memset(&t->g[j], 0, sizeof(t->g[j]));
		snprintf(t->g[j].site, sizeof(t->g[j].site), "%s", l->site);
		t->ng++;
	}
	l->group = j;
	t->g[j].total++;
	t->g[j].changed = true;
	return 0;
}

void trace_leaks_sweep(struct trace_leaks *t)
{
	size_t kept = 0;
	size_t live[4];

	for (size_t i = 0; i < t->n; i++) {
		if (!t->v[i].live && !t->v[i].reported) {
			trace_stack_free(&t->v[i].stack);
			continue;
		}
		if (kept != i)
			t->v[kept] = t->v[i];
		kept++;
	}
	t->n = kept;
	for (size_t j = 0; j < t->ng; j++) {
		memset(live, 0, sizeof(live));
		for (size_t i = 0; i < t->n; i++)
			if (t->v[i].reported && t->v[i].live && t->v[i].group == j)
				live[t->v[i].why & 3]++;
		if (memcmp(live, t->g[j].live, sizeof(live)))
			t->g[j].changed = true;
		memcpy(t->g[j].live, live, sizeof(live));
	}
}

char *trace_group_headline(const struct trace_group *g, char *buf, size_t len)
{
	size_t n = g->live[CW_WHY_EOF_READ] + g->live[CW_WHY_NEVER_READ] + g->live[CW_WHY_UNACCEPTED];
	size_t off;

	off = (size_t)snprintf(buf, len, "%zu socket%s in CLOSE_WAIT, %s", n, n == 1 ? "" : "s", g->site);
	if (off < len && g->live[CW_WHY_NEVER_READ])
		off += (size_t)snprintf(buf + off, len - off, ", %zu never read after the peer's FIN",
					g->live[CW_WHY_NEVER_READ]);
	if (off < len && g->live[CW_WHY_EOF_READ])
		off += (size_t)snprintf(buf + off, len - off, ", %zu read the EOF and not closed",
					g->live[CW_WHY_EOF_READ]);
	if (off < len && g->live[CW_WHY_UNACCEPTED])
		snprintf(buf + off, len - off, ", %zu never accepted", g->live[CW_WHY_UNACCEPTED]);
	return buf;
}

void trace_leaks_free(struct trace_leaks *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct trace_leak *l = &t->v[i];

		trace_stack_free(&l->stack);
		free(l->netns_name), free(l->cgroup), free(l->systemd_unit), free(l->container_runtime);
		free(l->container_id), free(l->pod_uid), free(l->pod_qos);
	}
	free(t->v);
	free(t->g);
	memset(t, 0, sizeof(*t));
}
