/* Entering a network namespace: opening one found earlier (checked to be
 * the same namespace still), and running a function, or making a socket,
 * in a thread inside it (setns moves only the calling thread). */
#include "census_netns.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

int netns_open(const struct netns_entry *e)
{
	struct stat st;
	int fd;

	/* Looked at before it is opened: what now sits at a mount point a
	 * namespace has left may be a FIFO or a device, not to be opened. */
	if (stat(e->open_path, &st) < 0)
		return errno == ENOENT || errno == ESRCH || errno == ENOTDIR ? -ENOENT : -errno;
	if (st.st_dev != e->dev || st.st_ino != e->ino)
		return -ENOENT;
	fd = open(e->open_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH || errno == ENOTDIR ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0 || st.st_dev != e->dev || st.st_ino != e->ino) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

struct call {
	int nsfd;
	int (*fn)(void *arg);
	void *arg;
	int ret;
};

static void *call_run(void *arg)
{
	struct call *k = arg;

	k->ret = setns(k->nsfd, CLONE_NEWNET) < 0 ? -errno : k->fn(k->arg);
	return NULL;
}

int netns_call(int nsfd, int (*fn)(void *arg), void *arg)
{
	struct call k = { nsfd, fn, arg, 0 };
	pthread_t t;
	int err = pthread_create(&t, NULL, call_run, &k);

	if (err)
		return -err;
	pthread_join(t, NULL);
	return k.ret;
}

struct sock_args {
	int domain, type, protocol;
};

static int make_socket(void *arg)
{
	const struct sock_args *a = arg;
	int fd = socket(a->domain, a->type, a->protocol);

	return fd < 0 ? -errno : fd;
}

int netns_socket(int nsfd, int domain, int type, int protocol)
{
	struct sock_args a = { domain, type, protocol };

	return netns_call(nsfd, make_socket, &a);
}
