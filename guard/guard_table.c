/* The fd table: which fds of the program refer to which tracked socket.
 * Slots live in pages that are allocated once and never freed, so the read
 * path (a read that returned 0) finds out without a lock whether the fd is
 * tracked at all; everything that changes a slot or the list holds
 * guard.lock. */
#include <errno.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guard.h"

struct gslot *guard_slot(int fd, bool create)
{
	unsigned page = (unsigned)fd / GUARD_PAGE_FDS;
	struct gslot *p, *fresh;

	if (fd < 0 || page >= GUARD_PAGES)
		return NULL;
	p = atomic_load_explicit(&guard.pages[page], memory_order_acquire);
	if (p || !create)
		return p ? &p[(unsigned)fd % GUARD_PAGE_FDS] : NULL;
	fresh = calloc(GUARD_PAGE_FDS, sizeof(*fresh));
	if (!fresh)
		return NULL;
	/* two threads may race here: one page wins, the other is freed */
	if (!atomic_compare_exchange_strong(&guard.pages[page], &p, fresh)) {
		free(fresh);
		return &p[(unsigned)fd % GUARD_PAGE_FDS];
	}
	return &fresh[(unsigned)fd % GUARD_PAGE_FDS];
}

static bool sanitizer_runtime(const char *module)
{
	const char *base = module ? strrchr(module, '/') : NULL;

	base = base ? base + 1 : module;
	return base && (!strncmp(base, "libasan.", 8) || !strncmp(base, "libtsan.", 8) ||
			!strncmp(base, "libubsan.", 9) || !strncmp(base, "liblsan.", 8));
}

/* The return addresses of the caller's stack, without the guard's own
 * frames (the hook and what it called): the first frame kept is the
 * program's call to accept, connect or read. */
void guard_stack(void **frames, uint8_t *n)
{
	void *all[GUARD_FRAMES + 8];
	int got = backtrace(all, GUARD_FRAMES + 8), i = 0, k = 0;
	Dl_info di;
	bool seen_self = false;

	/* the guard's frames, and a sanitizer runtime's around them: in an
	 * instrumented program its interceptors call backtrace() above the
	 * guard and the program's read() below it */
	for (; i < got; i++) {
		bool known = dladdr(all[i], &di) != 0;

		if (known && di.dli_fbase == guard.self_base)
			seen_self = true;
		else if (!(known && sanitizer_runtime(di.dli_fname)) && seen_self)
			break;
	}
	if (!seen_self)
		i = 0;
	for (; i < got && k < GUARD_FRAMES; i++)
		frames[k++] = all[i];
	*n = (uint8_t)k;
}

static void unlink_sock(struct gsock *s)
{
	s->prev->next = s->next;
	s->next->prev = s->prev;
	guard.live--;
	free(s);
}

/* Another fd that refers to s (its checks went through the one closed). */
static int other_fd(const struct gsock *s)
{
	for (unsigned pg = 0; pg < GUARD_PAGES; pg++) {
		struct gslot *p = atomic_load(&guard.pages[pg]);

		for (unsigned i = 0; p && i < GUARD_PAGE_FDS; i++)
			if (p[i].s == s)
				return (int)(pg * GUARD_PAGE_FDS + i);
	}
	return -1;
}

/* Drops fd's reference to its socket; the lock is held. */
static void drop(struct gslot *sl, int fd)
{
	struct gsock *s = sl->s;

	__atomic_store_n(&sl->s, NULL, __ATOMIC_RELAXED);
	sl->ka = GUARD_KA_NONE;
	if (!s)
		return;
	if (--s->refs == 0)
		unlink_sock(s);
	else if (s->fd == fd)
		s->fd = other_fd(s);
}

void guard_track(int fd)
{
	int saved = errno;
	struct gsock *s = calloc(1, sizeof(*s));
	struct gslot *sl;
	struct stat st;

	if (!s)
		goto out;
	guard_stack(s->create, &s->ncreate);
	s->created_ms = guard_now_ms();
	s->fd = fd;
	s->refs = 1;
	s->inode = fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
	pthread_mutex_lock(&guard.lock);
	sl = guard_slot(fd, true);
	if (!sl || sl->s) {
		/* already tracked (connect after a failed connect), or no room */
		pthread_mutex_unlock(&guard.lock);
		free(s);
		goto out;
	}
	sl->s = s;
	s->next = &guard.head;
	s->prev = guard.head.prev;
	guard.head.prev->next = s;
	guard.head.prev = s;
	guard.live++;
	guard.tracked++;
	pthread_mutex_unlock(&guard.lock);
	guard_start_checker();
out:
	errno = saved;
}

void guard_eof(int fd)
{
	int saved = errno;
	struct gslot *sl = guard_slot(fd, false);
	void *frames[GUARD_FRAMES];
	uint8_t n;

	/* the common case, a read at the end of a file: no lock */
	if (!sl || !__atomic_load_n(&sl->s, __ATOMIC_RELAXED))
		return;
	guard_stack(frames, &n);
	pthread_mutex_lock(&guard.lock);
	if (sl->s && !sl->s->eof_ms) {
		sl->s->eof_ms = guard_now_ms();
		memcpy(sl->s->eof, frames, n * sizeof(*frames));
		sl->s->neof = n;
	}
	pthread_mutex_unlock(&guard.lock);
	errno = saved;
}

void guard_forget(int fd)
{
	struct gslot *sl = guard_slot(fd, false);

	if (!sl)
		return;
	pthread_mutex_lock(&guard.lock);
	drop(sl, fd);
	pthread_mutex_unlock(&guard.lock);
}

void guard_forget_range(unsigned first, unsigned last)
{
	/* page by page: a page never allocated holds no tracked fd */
	pthread_mutex_lock(&guard.lock);
	for (unsigned pg = first / GUARD_PAGE_FDS; pg < GUARD_PAGES && pg * GUARD_PAGE_FDS <= last; pg++) {
		struct gslot *p = atomic_load(&guard.pages[pg]);
		unsigned lo = pg * GUARD_PAGE_FDS, hi = lo + GUARD_PAGE_FDS - 1;

		for (unsigned fd = lo < first ? first : lo; p && fd <= hi && fd <= last; fd++)
			drop(&p[fd - lo], (int)fd);
	}
	pthread_mutex_unlock(&guard.lock);
}

void guard_alias(int oldfd, int newfd)
{
	struct gslot *from = guard_slot(oldfd, false), *to;

	if (!from || (!__atomic_load_n(&from->s, __ATOMIC_RELAXED) && from->ka == GUARD_KA_NONE))
		return;
	pthread_mutex_lock(&guard.lock);
	to = guard_slot(newfd, true);
	if (to && to != from) {
		drop(to, newfd);
		to->ka = from->ka;
		to->s = from->s;
		if (to->s)
			to->s->refs++;
	}
	pthread_mutex_unlock(&guard.lock);
}
