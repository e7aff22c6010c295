#include "reap_leak.h"

#include "cwtest.h"
#include "cwt_fault.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ? -errno : ti.tcpi_state;
}

uint32_t inode_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint32_t)st.st_ino;
}

bool state_is(void *arg)
{
	struct state_is *s = arg;

	return tcp_state(s->fd) == s->state;
}

int close_wait_one(struct leak *l)
{
	int c = cwt_connect("127.0.0.1", l->port), s;
	struct state_is cw;

	assert_true(c >= 0);
	s = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	close(c);
	cw = (struct state_is){ s, TCP_CLOSE_WAIT };
	assert_true(cwt_poll_until(state_is, &cw, (unsigned)cwt_slack_ms(2000)) >= 0);
	return s;
}

void leak_make(struct leak *l, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	assert_true(n <= (int)(sizeof(l->fd) / sizeof(l->fd[0])));
	l->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l->lfd >= 0);
	assert_int_equal(bind(l->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l->lfd, 16), 0);
	assert_int_equal(getsockname(l->lfd, (struct sockaddr *)&a, &len), 0);
	l->port = ntohs(a.sin_port);
	l->n = n;
	for (int i = 0; i < n; i++)
		l->fd[i] = close_wait_one(l);
}

void leak_free(struct leak *l)
{
	for (int i = 0; i < l->n; i++)
		if (l->fd[i] >= 0)
			close(l->fd[i]);
	close(l->lfd);
}

struct cw_reap *select_ours(const struct leak *l, enum cw_reap_mode mode)
{
	struct cw_census_opts co;
	struct cw_filter f;
	struct cw_census *c;
	struct cw_reap *r;

	cw_census_opts_init(&co);
	co.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	co.owners = true;
	cw_filter_init(&f);
	f.states = co.states;
	f.pid = getpid();
	f.sport = l->port;
	assert_int_equal(cw_census_take(&co, &c), 0);
	assert_int_equal(cw_reap_select(c, &f, mode, &r), 0);
	cw_census_free(c);
	assert_int_equal(cw_reap_count(r), (size_t)l->n);
	for (int i = 0; i < l->n; i++) {
		assert_int_equal(cw_reap_item(r, (size_t)i)->status, CW_REAP_TO_REAP);
		assert_int_equal(cw_reap_item(r, (size_t)i)->fd, l->fd[i]); /* sorted by fd */
	}
	return r;
}

struct cw_reap_opts reap_opts(uint64_t wait_ms)
{
	struct cw_reap_opts o;

	cw_reap_opts_init(&o);
	o.wait_ms = wait_ms;
	return o;
}

uint16_t peer_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getpeername(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

void *clear_later(void *arg)
{
	(void)arg;
	cwt_sleep_ms(300);
	cwt_nft_clear();
	return NULL;
}

struct cw_reap *leak_unanswered(struct leak *l)
{
	leak_make(l, 1);
	cwt_nft_drop_port(peer_port(l->fd[0]));
	return select_ours(l, CW_REAP_FIN);
}

uint64_t run_answered_late(struct cw_reap *r, const struct cw_reap_opts *o)
{
	pthread_t t;
	uint64_t t0, took;

	t0 = cwt_now_ms(); /* the clock starts before the FIN goes out */
	assert_int_equal(pthread_create(&t, NULL, clear_later, NULL), 0);
	assert_int_equal(cw_reap_run(r, o), 0);
	took = cwt_now_ms() - t0; /* before the join */
	pthread_join(t, NULL);
	return took;
}
