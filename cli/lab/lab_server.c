/* A server built on the library, in a child process of the lab: the
 * uppercase echo with the policy a scenario gives, reporting each end of a
 * connection (when, and the library's reason) on a pipe. The child dies
 * with the lab (PR_SET_PDEATHSIG): an interrupted lab leaves no server. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cli.h"
#include "closewait/loop.h"
#include "closewait/server.h"
#include "lab.h"

static void on_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < len; i++)
		if (data[i] >= 'a' && data[i] <= 'z')
			data[i] = (uint8_t)(data[i] - 'a' + 'A');
	if (cw_conn_write(c, data, len) == -ENOBUFS)
		cw_conn_close(c);
}

static void on_close(struct cw_conn *c, enum cw_close_reason reason, int err, void *arg)
{
	int fd = *(int *)arg;

	(void)c;
	dprintf(fd, "%llu %s %d\n", (unsigned long long)cli_now_ms(), cw_close_reason_name(reason),
		err);
}

static _Noreturn void child(const struct cw_policy *p, uint16_t port, int fd, pid_t lab)
{
	struct cw_server_config cfg;
	struct cw_server *srv = NULL;
	struct cw_loop *loop = NULL;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != lab)
		_exit(1);
	/* A report the lab is no longer there to read is not this server's
	 * death: the lab's own (PR_SET_PDEATHSIG) is. */
	signal(SIGPIPE, SIG_IGN);
	cw_server_config_init(&cfg);
	cfg.policy = *p;
	cfg.ops.on_data = on_data;
	cfg.ops.on_close = on_close;
	cfg.arg = &fd;
	if (cw_loop_new(&loop) || cw_server_new(loop, &cfg, &srv) ||
	    cw_server_listen(srv, "127.0.0.1", port) || dprintf(fd, "ready\n") < 0)
		_exit(1);
	cw_loop_run(loop); /* until killed */
	_exit(1);
}

int lab_server_start(struct lab_server *s, const struct cw_policy *p, uint16_t port)
{
	char reason[32];
	uint64_t at;
	int fds[2], err;
	pid_t lab = getpid();

	memset(s, 0, sizeof(*s));
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	s->pid = fork();
	if (s->pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (s->pid == 0) {
		close(fds[0]);
		child(p, port, fds[1], lab);
	}
	close(fds[1]);
	s->fd = fds[0];
	s->port = port;
	err = lab_server_closed(s, 5000, reason, sizeof(reason), &at);
	if (!err && strcmp(reason, "ready"))
		err = -EPROTO;
	if (err)
		lab_server_stop(s);
	return err;
}

int lab_server_exec(struct lab_server *s, char *const argv[], uint16_t port)
{
	char line[64];
	int err;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if ((err = lab_spawn(argv, &s->fd, &s->pid)))
		return err;
	s->port = port;
	err = lab_server_line(s, 5000, line, sizeof(line));
	if (!err && strcmp(line, "ready"))
		err = -EPROTO;
	if (err)
		lab_server_stop(s);
	return err;
}

/* The next line of the child's reports, within ms. */
static int next_line(struct lab_server *s, unsigned ms, char *line, size_t len)
{
	uint64_t end = cli_after(cli_now_ms(), ms);

	for (;;) {
		char *nl = memchr(s->buf, '\n', s->len);
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - s->buf);

			snprintf(line, len, "%.*s", (int)l, s->buf);
			memmove(s->buf, nl + 1, s->len - l - 1);
			s->len -= l + 1;
			return 0;
		}
		if (poll(&p, 1, cli_ms_until(end)) == 0)
			return -ETIMEDOUT;
		n = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
		if (n == 0)
			return -EPIPE; /* the server died */
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0)
			s->len += (size_t)n;
	}
}

int lab_server_line(struct lab_server *s, unsigned ms, char *line, size_t len)
{
	return next_line(s, ms, line, len);
}

int lab_server_closed(struct lab_server *s, unsigned ms, char *reason, size_t len, uint64_t *at)
{
	char line[128], word[32];
	unsigned long long t = 0;
	int err = next_line(s, ms, line, sizeof(line));

	if (err)
		return err;
	if (!strcmp(line, "ready")) {
		snprintf(reason, len, "ready");
		*at = cli_now_ms();
		return 0;
	}
	if (sscanf(line, "%llu %31s", &t, word) != 2)
		return -EPROTO;
	snprintf(reason, len, "%s", word);
	*at = t;
	return 0;
}

void lab_server_stop(struct lab_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	if (s->fd > 0)
		close(s->fd);
	s->pid = 0;
	s->fd = -1;
}
