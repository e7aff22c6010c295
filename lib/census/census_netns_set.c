/* A collection of namespaces under way: each one found is recorded once,
 * by its identity, keeping the best way it was found. */
#include "census_netns_walk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A path built into buf; -ENAMETOOLONG rather than a cut one, which would
 * lead somewhere else. */
int path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* A namespace found several ways keeps the way a user recognises best:
 * their own, one a process is in, a thread's, a mount, an fd. */
static unsigned rank(enum cw_netns_how how)
{
	switch (how) {
	case CW_NETNS_CURRENT: return 0;
	case CW_NETNS_GIVEN: return 1;
	case CW_NETNS_PROCESS: return 2;
	case CW_NETNS_THREAD: return 3;
	case CW_NETNS_MOUNT: return 4;
	case CW_NETNS_FD: return 5;
	}
	return 6;
}

static size_t ident_hash(uint64_t dev, uint64_t ino)
{
	uint64_t k = ino * 0x9e3779b97f4a7c15ull ^ dev;

	return (size_t)(k ^ k >> 29);
}

static size_t slot_of(const struct collect *c, uint64_t dev, uint64_t ino)
{
	size_t h = ident_hash(dev, ino) & c->mask;

	for (; c->slot[h]; h = (h + 1) & c->mask) {
		const struct netns_entry *e = &c->s->v[c->slot[h] - 1];

		if (e->dev == dev && e->ino == ino)
			break;
	}
	return h;
}

/* Keeps the index at most half full: rebuilt twice as large when needed. */
int index_room(struct collect *c)
{
	size_t cap = c->mask + 1;
	uint32_t *old = c->slot;

	if (c->slot && (c->s->n + 1) * 2 <= cap)
		return 0;
	cap = c->slot ? cap * 2 : 64;
	c->slot = calloc(cap, sizeof(*c->slot));
	if (!c->slot) {
		c->slot = old;
		return -ENOMEM;
	}
	c->mask = cap - 1;
	for (size_t i = 0; i < c->s->n; i++)
		c->slot[slot_of(c, c->s->v[i].dev, c->s->v[i].ino)] = (uint32_t)(i + 1);
	free(old);
	return 0;
}

static void entry_free(struct netns_entry *e)
{
	free(e->open_path);
	free(e->path);
	free(e->name);
}

/* Records namespace (dev, ino), found how: a new entry, or a better way of
 * finding one already there. 0 or -ENOMEM. */
int note(struct collect *c, uint64_t dev, uint64_t ino, enum cw_netns_how how, pid_t pid,
	 const char *open_path, const char *path)
{
	struct netns_set *s = c->s;
	struct netns_entry e = { .dev = dev, .ino = ino, .how = how, .pid = pid };
	size_t h;
	int err = index_room(c);

	if (err)
		return err;
	h = slot_of(c, dev, ino);
	if (c->slot[h] && rank(how) >= rank(s->v[c->slot[h] - 1].how))
		return 0;
	e.open_path = strdup(open_path);
	e.path = path ? strdup(path) : NULL;
	if (!e.open_path || (path && !e.path))
		goto nomem;
	if (c->slot[h]) {
		entry_free(&s->v[c->slot[h] - 1]);
		s->v[c->slot[h] - 1] = e;
		return 0;
	}
	struct netns_entry *v = vec_room(s->v, s->n, &s->cap, sizeof(*v), 16);

	if (!v)
		goto nomem;
	s->v = v;
	s->v[s->n++] = e;
	c->slot[h] = (uint32_t)s->n;
	return 0;
nomem:
	entry_free(&e);
	return -ENOMEM;
}

bool known(const struct collect *c, uint64_t dev, uint64_t ino, enum cw_netns_how how)
{
	size_t h = slot_of(c, dev, ino);

	return c->slot[h] && rank(c->s->v[c->slot[h] - 1].how) <= rank(how);
}

/* What a failed look at a process means: it exited meanwhile (nothing to
 * count), we may not look (counted: what it holds may be missing), or this
 * run cannot go on (out of memory or fds). */
int refused(struct collect *c, int err)
{
	switch (err) {
	case ENOENT:
	case ESRCH:
		return 0;
	case ENOMEM:
	case EMFILE:
	case ENFILE:
		return -err;
	default:
		c->s->unreadable++;
		return 0;
	}
}

/* "net:[4026532283]" -> 4026532283; 0 for anything else. */
uint64_t net_inode(const char *l, size_t len)
{
	uint64_t ino = 0;

	if (len < 7 || memcmp(l, "net:[", 5) || l[len - 1] != ']')
		return 0;
	for (size_t i = 5; i < len - 1; i++) {
		if (l[i] < '0' || l[i] > '9')
			return 0;
		ino = ino * 10 + (uint64_t)(l[i] - '0');
	}
	return ino;
}

void netns_set_free(struct netns_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		entry_free(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
