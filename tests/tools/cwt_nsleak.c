/* cwt-nsleak MODE PORT N [PATH]
 *
 * N leaked connections (CLOSE_WAIT, held by this process) inside a network
 * namespace that no process of this program is in as a whole, so a test can
 * check each way closewait finds a namespace:
 *   enter PATH  the namespace at PATH (a /run/netns name, a bind mount, or
 *               /proc/PID/root/... for one in another mount namespace): a
 *               thread enters it, makes the leak there and exits
 *   thread      a new namespace that one thread stays in for good (the
 *               leader never leaves its own)
 *   fd          a new namespace that only an open fd of this process holds
 *               (the thread that made it exits)
 * The leak: loopback up, a listener on 127.0.0.1:PORT, N clients that connect
 * and send "hello", their connections accepted (the server ends are kept,
 * never read, never closed), then the clients close: the server ends are in
 * CLOSE_WAIT. The listener and the clients' fds are closed, and so is every
 * namespace fd but the one of mode fd: nothing else may lead to the namespace.
 * Prints "ready NETNS_INODE TID" (TID: the thread that stays in it, else 0)
 * once all N are in CLOSE_WAIT, then sleeps until killed. Exit 1 on failure
 * (said on stderr), 2 on usage. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cwtest.h"

#define MAXN 256

enum mode { ENTER, THREAD, FD };

struct job {
	enum mode mode;
	const char *path;
	uint16_t port;
	int n;
	int err;                      /* 0, or the step that failed said on stderr */
	unsigned long long ino;
	pid_t tid;
	int nsfd;                     /* mode fd: the one fd that keeps the namespace */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static int say_fail(const char *what)
{
	fprintf(stderr, "cwt-nsleak: %s: %s\n", what, strerror(errno));
	return 1;
}

/* A namespace made by unshare() or `ip netns add` has loopback down. */
static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (s < 0)
		return say_fail("socket");
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		r = say_fail("SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP;
	if (!r && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		r = say_fail("SIOCSIFFLAGS lo");
	close(s);
	return r;
}

static bool in_close_wait(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) && ti.tcpi_state == TCP_CLOSE_WAIT;
}

/* The leak itself, in the calling thread's namespace. */
static int leak(uint16_t port, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int lfd, one = 1, cfd[MAXN], sfd[MAXN];
	uint64_t deadline;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return say_fail("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, n) < 0)
		return say_fail("listen");
	for (int i = 0; i < n; i++) {
		cfd[i] = cwt_connect("127.0.0.1", port);
		if (cfd[i] < 0) {
			errno = -cfd[i];
			return say_fail("connect");
		}
		if (cwt_write_all(cfd[i], "hello", 5))
			return say_fail("write");
		sfd[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (sfd[i] < 0)
			return say_fail("accept");
	}
	for (int i = 0; i < n; i++)
		close(cfd[i]);
	close(lfd);
	deadline = cwt_now_ms() + cwt_slack_ms(5000);
	for (int i = 0; i < n; i++) {
		while (!in_close_wait(sfd[i])) {
			if (cwt_now_ms() > deadline) {
				fprintf(stderr, "cwt-nsleak: connection %d not in CLOSE_WAIT after 5 s\n", i);
				return 1;
			}
			cwt_sleep_ms(2);
		}
	}
	return 0;
}

static void *run(void *arg)
{
	struct job *j = arg;
	struct stat st;
	int fd;

	if (j->mode == ENTER) {
		fd = open(j->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			j->err = say_fail(j->path);
			goto out;
		}
		close(fd);
	} else if (unshare(CLONE_NEWNET) < 0) {
		j->err = say_fail("unshare(CLONE_NEWNET)");
		goto out;
	}
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		j->err = say_fail("/proc/thread-self/ns/net");
		goto out;
	}
	j->ino = (unsigned long long)st.st_ino;
	if (j->mode == FD)
		j->nsfd = fd;
	else
		close(fd);
	j->err = lo_up() || leak(j->port, j->n);
	if (j->mode == THREAD)
		j->tid = gettid();
out:
	pthread_mutex_lock(&j->mu);
	j->done = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (j->mode == THREAD && !j->err)
		for (;;)
			pause(); /* stays in the namespace, the leader elsewhere */
	return NULL;
}

int main(int argc, char **argv)
{
	struct job j = { .nsfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER,
			 .cv = PTHREAD_COND_INITIALIZER };
	pthread_t t;

	if (argc < 4 || (!strcmp(argv[1], "enter") && argc < 5)) {
		fprintf(stderr, "usage: cwt-nsleak enter|thread|fd PORT N [PATH]\n");
		return 2;
	}
	if (!strcmp(argv[1], "enter"))
		j.mode = ENTER, j.path = argv[4];
	else if (!strcmp(argv[1], "thread"))
		j.mode = THREAD;
	else if (!strcmp(argv[1], "fd"))
		j.mode = FD;
	else
		return 2;
	j.port = (uint16_t)atoi(argv[2]);
	j.n = atoi(argv[3]);
	if (j.n < 1 || j.n > MAXN)
		return 2;
	if (pthread_create(&t, NULL, run, &j)) {
		fprintf(stderr, "cwt-nsleak: pthread_create failed\n");
		return 1;
	}
	pthread_mutex_lock(&j.mu);
	while (!j.done)
		pthread_cond_wait(&j.cv, &j.mu);
	pthread_mutex_unlock(&j.mu);
	if (j.mode != THREAD || j.err)
		pthread_join(t, NULL);
	if (j.err)
		return 1;
	printf("ready %llu %d\n", j.ino, (int)j.tid);
	fflush(stdout);
	for (;;)
		pause();
}
