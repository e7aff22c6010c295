/* pidfds: the system calls, and one pidfd per owner process. */
#include "reap_pidfd.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "util.h"

int reap_pidfd_open(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

int reap_pidfd_getfd(int pidfd, int fd)
{
	long d = syscall(SYS_pidfd_getfd, pidfd, fd, 0);

	return d < 0 ? -errno : (int)d;
}

void reap_pidfds_init(struct reap_pidfds *pf)
{
	pthread_mutex_init(&pf->lock, NULL);
	pf->v = NULL;
	pf->n = pf->cap = 0;
}

/* The entry of pid: the last one first, as fin mode asks in pid order. */
static struct reap_pidfd *find(struct reap_pidfds *pf, pid_t pid)
{
	for (size_t k = pf->n; k-- > 0;)
		if (pf->v[k].pid == pid)
			return &pf->v[k];
	return NULL;
}

int reap_pidfds_get(struct reap_pidfds *pf, pid_t pid)
{
	struct reap_pidfd *e, *v;
	int fd;

	pthread_mutex_lock(&pf->lock);
	e = find(pf, pid);
	if (!e) {
		v = vec_room(pf->v, pf->n, &pf->cap, sizeof(*v), 16);
		if (!v) {
			pthread_mutex_unlock(&pf->lock);
			return -ENOMEM;
		}
		pf->v = v;
		e = &pf->v[pf->n++];
		*e = (struct reap_pidfd){ pid, reap_pidfd_open(pid) };
	} else if (e->fd == -EMFILE) {
		/* Out of fds last time: the caller may have closed some since. */
		e->fd = reap_pidfd_open(pid);
	}
	fd = e->fd;
	pthread_mutex_unlock(&pf->lock);
	return fd;
}

void reap_pidfds_close(struct reap_pidfds *pf)
{
	for (size_t k = 0; k < pf->n; k++)
		if (pf->v[k].fd >= 0)
			close(pf->v[k].fd);
	free(pf->v);
	pf->v = NULL;
	pf->n = pf->cap = 0;
	pthread_mutex_destroy(&pf->lock);
}
