#include "census_procfd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "census_cgroup.h"
#include "util.h"

/* getdents64 buffer: about 170 fds a call. Hits go to the sink a buffer at
 * a time, so a small one lets the caller start acting sooner; the extra
 * calls cost nothing next to a readlinkat per fd. */
#define DENTS_BUF 4096

/* Open-addressing table inode -> index of the wanted socket. */
struct ino_table {
	uint32_t *keys;               /* 0 = empty (inode 0 is never wanted) */
	uint32_t *vals;
	size_t mask;
};

struct hitvec {
	struct procfd_hit *v;
	size_t n, cap;
};

#define MAX_WALKERS 8

struct worker {
	struct procfd_walk *w;
	struct hitvec hv;
	pthread_t thread;
	int err;
};

struct procfd_walk {
	const char *root;
	struct ino_table t;
	_Atomic uint8_t *found;       /* per index: an owner was seen */
	atomic_size_t remaining;      /* wanted inodes with no owner yet */
	atomic_size_t next;           /* next pid to take */
	atomic_bool stop;
	atomic_uint unreadable;
	atomic_uint_fast64_t readlinks;
	atomic_uint live;             /* walkers still running */
	bool stop_early;
	size_t distinct;
	pid_t *pids;
	size_t npids;
	struct procfd_sink sink;
	struct worker k[MAX_WALKERS];
	unsigned started;             /* threads started (0: walked in procfd_start) */
};

static uint32_t ino_hash(uint32_t k)
{
	k ^= k >> 16;
	k *= 0x7feb352du;
	k ^= k >> 15;
	return k;
}

static int table_build(struct ino_table *t, const uint32_t *inodes, size_t n, size_t *distinct)
{
	size_t cap = 16;

	while (cap < n * 2)
		cap <<= 1;
	t->keys = calloc(cap, sizeof(*t->keys));
	t->vals = calloc(cap, sizeof(*t->vals));
	if (!t->keys || !t->vals)
		return -ENOMEM;
	t->mask = cap - 1;
	*distinct = 0;
	for (size_t i = 0; i < n; i++) {
		size_t h;

		if (!inodes[i])
			continue;
		for (h = ino_hash(inodes[i]) & t->mask; t->keys[h] && t->keys[h] != inodes[i];
		     h = (h + 1) & t->mask)
			;
		if (t->keys[h])
			continue; /* the same inode twice: keep the first */
		t->keys[h] = inodes[i];
		t->vals[h] = (uint32_t)i;
		(*distinct)++;
	}
	return 0;
}

static long table_find(const struct ino_table *t, uint32_t ino)
{
	for (size_t h = ino_hash(ino) & t->mask; t->keys[h]; h = (h + 1) & t->mask)
		if (t->keys[h] == ino)
			return t->vals[h];
	return -1;
}

static int hit_push(struct hitvec *hv, uint32_t idx, pid_t pid, int fd)
{
	struct procfd_hit *v = vec_room(hv->v, hv->n, &hv->cap, sizeof(*v), 256);

	if (!v)
		return -ENOMEM;
	hv->v = v;
	hv->v[hv->n++] = (struct procfd_hit){ idx, pid, fd };
	return 0;
}

/* "socket:[12345]" -> 12345; 0 for anything else. */
static uint32_t socket_inode(const char *l, ssize_t len)
{
	uint32_t ino = 0;

	if (len < 10 || memcmp(l, "socket:[", 8) || l[len - 1] != ']')
		return 0;
	for (ssize_t i = 8; i < len - 1; i++) {
		if (l[i] < '0' || l[i] > '9')
			return 0;
		ino = ino * 10 + (uint32_t)(l[i] - '0');
	}
	return ino;
}

static void found_one(struct procfd_walk *w, uint32_t idx)
{
	if (atomic_exchange(&w->found[idx], 1) == 0 && atomic_fetch_sub(&w->remaining, 1) == 1 &&
	    w->stop_early)
		atomic_store(&w->stop, true);
}

/* Tells the sink of the hits from told on. A directory chunk (one getdents
 * buffer) is read whole first, so a sink that acts on a hit knows every
 * other hit of that chunk by then: an fd closed meanwhile was seen owned. */
static void sink_chunk(struct procfd_walk *w, const struct hitvec *hv, size_t told)
{
	for (size_t k = told; w->sink.hit && k < hv->n; k++)
		w->sink.hit(&hv->v[k], w->sink.arg);
}

/* Reads one process's fd directory; hits go to hv. */
static int walk_pid(struct procfd_walk *w, pid_t pid, char *dents, struct hitvec *hv)
{
	char path[64];
	uint64_t links = 0;
	size_t told = hv->n;
	bool denied = false;
	int dfd, err = 0;

	snprintf(path, sizeof(path), "%s/%d/fd", w->root, (int)pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		/* Out of fds, every later process would go unread too: owners
		 * reported unknown would be a lie, so the walk fails. */
		if (errno == EMFILE || errno == ENFILE)
			return -errno;
		if (errno == EACCES || errno == EPERM)
			atomic_fetch_add(&w->unreadable, 1);
		return 0; /* gone, or not ours to read: its sockets stay unknown */
	}
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, dents, DENTS_BUF);

		if (n <= 0) {
			if (n < 0 && (errno == EACCES || errno == EPERM))
				atomic_fetch_add(&w->unreadable, 1);
			break;
		}
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(dents + off);
			char l[64];
			ssize_t len;
			uint32_t ino;
			long idx;

			off += d->d_reclen;
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			/* Relative to the directory fd: one path component to resolve, not five. */
			len = readlinkat(dfd, d->d_name, l, sizeof(l));
			links++;
			/* CAP_DAC_READ_SEARCH lists another user's fds; reading
			 * the links still needs ptrace rights (CAP_SYS_PTRACE). */
			if (len < 0 && (errno == EACCES || errno == EPERM))
				denied = true;
			ino = len > 0 ? socket_inode(l, len) : 0;
			if (!ino || (idx = table_find(&w->t, ino)) < 0)
				continue;
			err = hit_push(hv, (uint32_t)idx, pid, atoi(d->d_name));
			if (err)
				goto out;
			found_one(w, (uint32_t)idx);
			if (atomic_load_explicit(&w->stop, memory_order_relaxed))
				break;
		}
		sink_chunk(w, hv, told);
		told = hv->n;
		if (atomic_load_explicit(&w->stop, memory_order_relaxed))
			goto out;
	}
out:
	sink_chunk(w, hv, told);
	if (denied)
		atomic_fetch_add(&w->unreadable, 1);
	atomic_fetch_add(&w->readlinks, links);
	close(dfd);
	return err;
}

static void *worker_run(void *arg)
{
	struct worker *k = arg;
	struct procfd_walk *w = k->w;
	char *dents = malloc(DENTS_BUF);

	if (!dents)
		k->err = -ENOMEM;
	while (!k->err && !atomic_load(&w->stop)) {
		size_t i = atomic_fetch_add(&w->next, 1);

		if (i >= w->npids)
			break;
		k->err = walk_pid(w, w->pids[i], dents, &k->hv);
	}
	free(dents);
	if (atomic_fetch_sub(&w->live, 1) == 1 && w->sink.done)
		w->sink.done(w->sink.arg);
	return NULL;
}

static int pid_order(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Every pid under root, ascending (the order /proc lists them in anyway). */
static int list_pids(struct procfd_walk *w)
{
	DIR *d = opendir(w->root);
	struct dirent *e;
	size_t cap = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		pid_t *p = vec_room(w->pids, w->npids, &cap, sizeof(*p), 512);

		if (!p) {
			closedir(d);
			return -ENOMEM;
		}
		w->pids = p;
		w->pids[w->npids++] = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	if (w->npids)
		qsort(w->pids, w->npids, sizeof(*w->pids), pid_order);
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct procfd_hit *x = a, *y = b;

	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* Joins the walkers and merges their hits into r. */
static int join_workers(struct procfd_walk *w, struct procfd_result *r)
{
	unsigned n = w->started ? w->started : 1;
	size_t total = 0;
	int err = 0;

	for (unsigned i = 0; i < w->started; i++)
		pthread_join(w->k[i].thread, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (w->k[i].err && !err)
			err = w->k[i].err;
		total += w->k[i].hv.n;
	}
	if (!err && total && !(r->hits = malloc(total * sizeof(*r->hits))))
		err = -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		if (!err && w->k[i].hv.n)
			memcpy(r->hits + r->nhits, w->k[i].hv.v, w->k[i].hv.n * sizeof(*r->hits));
		r->nhits += err ? 0 : w->k[i].hv.n;
		free(w->k[i].hv.v);
		w->k[i].hv.v = NULL;
	}
	return err;
}

static int pid_cmp(const void *a, const void *b)
{
	const struct procfd_proc *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* A process names itself anything (prctl PR_SET_NAME takes any bytes but
 * NUL), newlines included: read the whole file and drop only the newline
 * the kernel appends. "?" when it cannot be read (the process exited);
 * -EMFILE or -ENFILE when we are out of fds, which no "?" may hide. */
static int read_comm(const char *path, char *comm, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, comm, len - 1) : -1;

	if (fd < 0 && (errno == EMFILE || errno == ENFILE))
		return -errno;
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		snprintf(comm, len, "?");
		return 0;
	}
	if (comm[n - 1] == '\n')
		n--;
	comm[n] = 0;
	return 0;
}

static int read_comms(const char *root, struct procfd_result *r)
{
	size_t n = 0;

	r->procs = calloc(r->nhits ? r->nhits : 1, sizeof(*r->procs));
	if (!r->procs)
		return -ENOMEM;
	for (size_t i = 0; i < r->nhits; i++) {
		bool seen = false;

		/* hits are sorted by socket, so pids repeat: dedupe via the last few */
		for (size_t j = n; j-- > 0 && j + 8 >= n;)
			if (r->procs[j].pid == r->hits[i].pid)
				seen = true;
		if (!seen)
			r->procs[n++].pid = r->hits[i].pid;
	}
	qsort(r->procs, n, sizeof(*r->procs), pid_cmp);
	r->nprocs = 0;
	for (size_t i = 0; i < n; i++) {
		char path[64], cg[PATH_MAX];
		int err;

		if (r->nprocs && r->procs[r->nprocs - 1].pid == r->procs[i].pid)
			continue;
		r->procs[r->nprocs] = r->procs[i];
		snprintf(path, sizeof(path), "%s/%d/comm", root, (int)r->procs[i].pid);
		err = read_comm(path, r->procs[r->nprocs].comm, sizeof(r->procs[0].comm));
		if (err)
			return err;
		if (cgroup_path_of_pid(root, r->procs[i].pid, cg, sizeof(cg)) == 0 &&
		    !(r->procs[r->nprocs].cgroup = strdup(cg)))
			return -ENOMEM;
		r->nprocs++;
	}
	return 0;
}

static void walk_free(struct procfd_walk *w)
{
	free(w->pids);
	free((void *)w->found);
	free(w->t.keys);
	free(w->t.vals);
	free(w);
}

static int pids_copy(struct procfd_walk *w, const pid_t *only, size_t n)
{
	w->pids = malloc((n ? n : 1) * sizeof(*w->pids));
	if (!w->pids)
		return -ENOMEM;
	memcpy(w->pids, only, n * sizeof(*only));
	w->npids = n;
	return 0;
}

int procfd_start(const struct procfd_spec *spec, const struct procfd_sink *sink,
		 struct procfd_walk **out)
{
	struct procfd_walk *w = calloc(1, sizeof(*w));
	unsigned threads;
	int err;

	if (!w)
		return -ENOMEM;
	w->root = spec->root;
	w->stop_early = spec->stop_early;
	if (sink)
		w->sink = *sink;
	err = table_build(&w->t, spec->inodes, spec->n, &w->distinct);
	if (err)
		goto fail;
	w->found = calloc(spec->n ? spec->n : 1, sizeof(*w->found));
	if (!w->found) {
		err = -ENOMEM;
		goto fail;
	}
	atomic_init(&w->remaining, w->distinct);
	atomic_init(&w->stop, w->distinct == 0);
	err = spec->only ? pids_copy(w, spec->only, spec->nonly) : list_pids(w);
	if (err)
		goto fail;
	threads = spec->threads < 1 ? 1 : spec->threads > MAX_WALKERS ? MAX_WALKERS : spec->threads;
	atomic_init(&w->live, threads);
	for (unsigned i = 0; i < threads; i++)
		w->k[i].w = w;
	for (; w->started < threads; w->started++)
		if (pthread_create(&w->k[w->started].thread, NULL, worker_run, &w->k[w->started]))
			break;
	/* Threads that could not start will not end either; with none at all,
	 * walk here (the sink then sees every hit before we return). */
	if (w->started < threads && atomic_fetch_sub(&w->live, threads - w->started) ==
					    threads - w->started) {
		atomic_store(&w->live, 1);
		worker_run(&w->k[0]);
	}
	*out = w;
	return 0;
fail:
	walk_free(w);
	return err;
}

int procfd_finish(struct procfd_walk *w, struct procfd_result *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = join_workers(w, r);
	if (err)
		goto out;
	r->unreadable = atomic_load(&w->unreadable);
	r->readlinks = atomic_load(&w->readlinks);
	r->partial = w->distinct && atomic_load(&w->stop) && atomic_load(&w->next) < w->npids;
	if (r->nhits)
		qsort(r->hits, r->nhits, sizeof(*r->hits), hit_cmp);
	err = read_comms(w->root, r);
out:
	walk_free(w);
	if (err)
		procfd_result_free(r);
	return err;
}

int procfd_scan(const struct procfd_spec *spec, struct procfd_result *r)
{
	struct procfd_walk *w;
	int err = procfd_start(spec, NULL, &w);

	if (err) {
		memset(r, 0, sizeof(*r));
		return err;
	}
	return procfd_finish(w, r);
}

static bool pid_listed(const struct procfd_spec *spec, pid_t pid)
{
	for (size_t i = 0; i < spec->nonly; i++)
		if (spec->only[i] == pid)
			return true;
	return !spec->only;
}

/* The hits of a table, sorted, each (socket, pid, fd) once. */
static int given_hits(const struct procfd_spec *spec, const struct cw_fd_socket *v, size_t n,
		      struct procfd_result *r)
{
	struct ino_table t = { 0 };
	struct hitvec hv = { 0 };
	size_t distinct, k = 0;
	int err = table_build(&t, spec->inodes, spec->n, &distinct);

	for (size_t i = 0; !err && distinct && i < n; i++) {
		long idx = v[i].inode <= UINT32_MAX ? table_find(&t, (uint32_t)v[i].inode) : -1;

		if (idx >= 0 && v[i].pid > 0 && pid_listed(spec, v[i].pid))
			err = hit_push(&hv, (uint32_t)idx, v[i].pid, v[i].fd);
	}
	free(t.keys);
	free(t.vals);
	if (err) {
		free(hv.v);
		return err;
	}
	if (hv.n)
		qsort(hv.v, hv.n, sizeof(*hv.v), hit_cmp);
	for (size_t i = 0; i < hv.n; i++)
		if (!k || hit_cmp(&hv.v[k - 1], &hv.v[i]))
			hv.v[k++] = hv.v[i];
	r->hits = hv.v;
	r->nhits = k;
	return 0;
}

int procfd_given(const struct procfd_spec *spec, const struct cw_fd_socket *v, size_t n,
		 const struct procfd_sink *sink, struct procfd_result *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = given_hits(spec, v, n, r);
	for (size_t i = 0; !err && sink && sink->hit && i < r->nhits; i++)
		sink->hit(&r->hits[i], sink->arg);
	if (sink && sink->done)
		sink->done(sink->arg);
	if (!err)
		err = read_comms(spec->root, r);
	if (err)
		procfd_result_free(r);
	return err;
}

void procfd_result_free(struct procfd_result *r)
{
	free(r->hits);
	for (size_t i = 0; r->procs && i < r->nprocs; i++)
		free(r->procs[i].cgroup);
	free(r->procs);
	memset(r, 0, sizeof(*r));
}

const char *procfd_comm(const struct procfd_result *r, pid_t pid)
{
	size_t lo = 0, hi = r->nprocs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->procs[mid].pid == pid)
			return r->procs[mid].comm;
		if (r->procs[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
