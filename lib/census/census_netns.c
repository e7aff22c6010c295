/* TEMPORARY stand-in until the netns helper's branch lands. */
#include "census_netns.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

static int add(struct netns_set *s, const char *open_path, enum cw_netns_how how, pid_t pid, const char *path)
{
	struct stat st;
	if (stat(open_path, &st))
		return -errno;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].ino == st.st_ino && s->v[i].dev == st.st_dev)
			return 0;
	s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = (struct netns_entry){ st.st_dev, st.st_ino, how, pid, strdup(open_path), path ? strdup(path) : NULL, NULL };
	return 0;
}
int netns_collect_current(struct netns_set *s) { return add(s, "/proc/thread-self/ns/net", CW_NETNS_CURRENT, 0, NULL); }
int netns_collect_one(const char *proc, const char *dir, const char *spec, struct netns_set *s)
{
	char p[512];
	if (!strncmp(spec, "pid:", 4)) snprintf(p, sizeof(p), "%s/%s/ns/net", proc, spec + 4);
	else if (strchr(spec, '/')) snprintf(p, sizeof(p), "%s", spec);
	else snprintf(p, sizeof(p), "%s/%s", dir, spec);
	return add(s, p, CW_NETNS_GIVEN, 0, spec);
}
int netns_collect_pid(const char *proc, pid_t pid, struct netns_set *s)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%d/ns/net", proc, (int)pid);
	return add(s, p, CW_NETNS_PROCESS, pid, NULL) == -ENOENT ? -ESRCH : 0;
}
int netns_collect_all(const char *proc, const char *dir, struct netns_set *s)
{
	(void)dir;
	char p[512];
	FILE *f = popen("ls /proc | grep '^[0-9]'", "r");
	int pid;
	while (fscanf(f, "%d", &pid) == 1) {
		snprintf(p, sizeof(p), "%s/%d/ns/net", proc, pid);
		add(s, p, CW_NETNS_PROCESS, pid, NULL);
	}
	pclose(f);
	return 0;
}
void netns_set_free(struct netns_set *s)
{
	for (size_t i = 0; i < s->n; i++) { free(s->v[i].open_path); free(s->v[i].path); free(s->v[i].name); }
	free(s->v);
	memset(s, 0, sizeof(*s));
}
int netns_open(const struct netns_entry *e)
{
	int fd = open(e->open_path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
struct call { int fd; int (*fn)(void *); void *arg; int ret; };
static void *run(void *a)
{
	struct call *c = a;
	c->ret = setns(c->fd, CLONE_NEWNET) ? -errno : c->fn(c->arg);
	return NULL;
}
int netns_call(int nsfd, int (*fn)(void *arg), void *arg)
{
	struct call c = { nsfd, fn, arg, 0 };
	pthread_t t;
	if (pthread_create(&t, NULL, run, &c)) return -EAGAIN;
	pthread_join(t, NULL);
	return c.ret;
}
struct sockargs { int d, t, p; };
static int mk(void *a) { struct sockargs *s = a; int fd = socket(s->d, s->t, s->p); return fd < 0 ? -errno : fd; }
int netns_socket(int nsfd, int domain, int type, int protocol)
{
	struct sockargs s = { domain, type, protocol };
	return netns_call(nsfd, mk, &s);
}
