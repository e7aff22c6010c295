#include "cwtest.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/loop_internal.h"

void cwt_netns(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "cwtest: unshare(CLONE_NEWNET): %s (network tests need root)\n",
			strerror(errno));
		exit(1);
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		fprintf(stderr, "cwtest: cannot bring lo up: %s\n", strerror(errno));
		exit(1);
	}
	close(fd);
}

int cwt_fd_count(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/fd");
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return pid ? n : n - 1; /* not the directory fd we read it through */
}

static int fd_baseline;

int cwt_fd_setup(void **state)
{
	(void)state;
	fd_baseline = cwt_fd_count(0);
	return 0;
}

int cwt_fd_teardown(void **state)
{
	(void)state;
	assert_int_equal(cwt_fd_count(0), fd_baseline); /* every socket closed */
	return 0;
}

uint64_t cwt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

unsigned cwt_slack(void)
{
	const char *v = getenv("CW_TEST_SLACK");
	char *end;
	unsigned long n;

	if (!v || !*v)
		return 1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < 1 || n > 100) {
		fprintf(stderr, "cwtest: CW_TEST_SLACK=%s: want a whole number from 1 to 100\n", v);
		exit(1);
	}
	return (unsigned)n;
}

uint64_t cwt_slack_ms(uint64_t ms)
{
	return ms * cwt_slack();
}

void cwt_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* addr:port (numeric IPv4 or IPv6) into ss; returns its length. */
static socklen_t sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	*ss = (struct sockaddr_storage){ 0 };
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		return sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		return sizeof(*s4);
	}
}

int cwt_listen(const char *addr, uint16_t port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(addr, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, err;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == 0 && listen(fd, backlog) == 0)
		return fd;
	err = -errno;
	close(fd);
	return err;
}

int cwt_connect(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(addr, port, &ss);
	int fd;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int cwt_connect_n(const char *who, const char *addr, uint16_t port, int n, const char *msg, int *fds)
{
	char buf[256];

	for (int i = 0; i < n; i++) {
		fds[i] = cwt_connect(addr, port);
		if (fds[i] < 0) {
			fprintf(stderr, "%s: connect %d: %s\n", who, i, strerror(-fds[i]));
			return -1;
		}
		if (msg && (cwt_write_all(fds[i], msg, strlen(msg)) || read(fds[i], buf, sizeof(buf)) <= 0)) {
			fprintf(stderr, "%s: exchange %d failed\n", who, i);
			return -1;
		}
	}
	return 0;
}

void cwt_set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

int cwt_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t cwt_read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int count_file(const char *path, enum cw_tcp_state state, uint16_t lport, uint16_t rport)
{
	FILE *f = fopen(path, "re");
	char line[512];
	int n = 0;

	if (!f)
		return 0; /* no IPv6 in this kernel: nothing to count */
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char local[64], remote[64];
		unsigned st;
		char *lp, *rp;

		if (sscanf(line, "%*d: %63s %63s %x", local, remote, &st) != 3)
			continue;
		lp = strrchr(local, ':');
		rp = strrchr(remote, ':');
		if (!lp || !rp || st != (unsigned)state)
			continue;
		if (lport && strtoul(lp + 1, NULL, 16) != lport)
			continue;
		if (rport && strtoul(rp + 1, NULL, 16) != rport)
			continue;
		n++;
	}
	fclose(f);
	return n;
}

int cwt_count_state(enum cw_tcp_state state, uint16_t local_port, uint16_t remote_port)
{
	return count_file("/proc/net/tcp", state, local_port, remote_port) +
	       count_file("/proc/net/tcp6", state, local_port, remote_port);
}

static int pair_file(const char *path, uint16_t lport, uint16_t rport, unsigned *send_q)
{
	FILE *f = fopen(path, "re");
	char line[512];
	int found = 0;

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		char local[64], remote[64];
		unsigned st, txq;
		char *lp, *rp;

		if (sscanf(line, "%*d: %63s %63s %x %x", local, remote, &st, &txq) != 4)
			continue;
		lp = strrchr(local, ':');
		rp = strrchr(remote, ':');
		if (lp && rp && strtoul(lp + 1, NULL, 16) == lport && strtoul(rp + 1, NULL, 16) == rport) {
			found = (int)st;
			if (send_q)
				*send_q = txq;
		}
	}
	fclose(f);
	return found;
}

int cwt_pair_state(uint16_t local_port, uint16_t remote_port, unsigned *send_q)
{
	int st = pair_file("/proc/net/tcp", local_port, remote_port, send_q);

	return st ? st : pair_file("/proc/net/tcp6", local_port, remote_port, send_q);
}

long cwt_tcpext(const char *name)
{
	char names[8192], values[8192];
	long found = -1;
	FILE *f = fopen("/proc/net/netstat", "re");

	if (!f)
		return -1;
	/* Pairs of lines: "TcpExt: Name1 Name2 ..." then "TcpExt: v1 v2 ...". */
	while (found < 0 && fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		char *ns, *vs, *n, *v;

		if (strncmp(names, "TcpExt:", 7))
			continue;
		n = strtok_r(names + 7, " \n", &ns);
		v = strtok_r(values + 7, " \n", &vs);
		for (; n && v; n = strtok_r(NULL, " \n", &ns), v = strtok_r(NULL, " \n", &vs))
			if (!strcmp(n, name)) {
				found = strtol(v, NULL, 10);
				break;
			}
	}
	fclose(f);
	return found;
}

long cwt_poll_until(bool (*cond)(void *arg), void *arg, unsigned deadline_ms)
{
	uint64_t start = cwt_now_ms();

	for (;;) {
		uint64_t now;

		if (cond(arg))
			return (long)(cwt_now_ms() - start);
		now = cwt_now_ms();
		if (now - start >= deadline_ms)
			return -1;
		cwt_sleep_ms(2);
	}
}

struct cwt_server {
	struct cw_loop *loop;
	struct cw_server *srv;
	struct cw_io *wake;
	int efd;
	uint64_t drain_ms;
	pthread_t thread;
	uint16_t port;
};

void cwt_echo_on_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < len; i++)
		if (data[i] >= 'a' && data[i] <= 'z')
			data[i] = (uint8_t)(data[i] - 32);
	cw_conn_write(c, data, len);
}

static void on_drained(struct cw_server *srv, void *arg)
{
	(void)srv;
	cw_loop_stop(((struct cwt_server *)arg)->loop);
}

static void on_wake(struct cw_io *io, uint32_t events, void *arg)
{
	struct cwt_server *s = arg;
	uint64_t v;

	(void)io;
	(void)events;
	if (read(s->efd, &v, sizeof(v)) == sizeof(v))
		cw_server_shutdown(s->srv, s->drain_ms, on_drained, s);
}

static void *server_thread(void *arg)
{
	struct cwt_server *s = arg;

	cw_loop_run(s->loop);
	return NULL;
}

struct cwt_server *cwt_server_start(const struct cw_server_config *cfg)
{
	struct cwt_server *s = calloc(1, sizeof(*s));
	struct cw_server_config def;
	int p;

	assert_non_null(s);
	if (!cfg) {
		cw_server_config_init(&def);
		def.ops.on_data = cwt_echo_on_data;
		cfg = &def;
	}
	assert_int_equal(cw_loop_new(&s->loop), 0);
	assert_int_equal(cw_server_new(s->loop, cfg, &s->srv), 0);
	assert_int_equal(cw_server_listen(s->srv, "127.0.0.1", 0), 0);
	p = cw_server_port(s->srv);
	assert_true(p > 0);
	s->port = (uint16_t)p;
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(s->efd >= 0);
	assert_int_equal(cw_io_new(s->loop, s->efd, EPOLLIN, on_wake, s, &s->wake), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, server_thread, s), 0);
	return s;
}

uint16_t cwt_server_port(const struct cwt_server *s) { return s->port; }
struct cw_loop *cwt_server_loop(const struct cwt_server *s) { return s->loop; }

void cwt_server_stop(struct cwt_server *s, uint64_t drain_ms, struct cw_conn_stats *st,
		     struct cw_loop_stats *ls)
{
	cwt_server_stop_wheel(s, drain_ms, st, ls, NULL);
}

void cwt_server_stop_wheel(struct cwt_server *s, uint64_t drain_ms, struct cw_conn_stats *st,
			   struct cw_loop_stats *ls, struct wheel_stats *ws)
{
	uint64_t one = 1;

	s->drain_ms = drain_ms;
	assert_int_equal(write(s->efd, &one, sizeof(one)), sizeof(one));
	pthread_join(s->thread, NULL);
	if (st)
		cw_server_stats(s->srv, st);
	if (ls)
		cw_loop_stats(s->loop, ls);
	if (ws)
		loop_wheel_stats(s->loop, ws);
	cw_io_free(s->wake);
	close(s->efd);
	cw_server_free(s->srv);
	cw_loop_free(s->loop);
	free(s);
}
