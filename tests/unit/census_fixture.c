#include "census_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "closewait/addr.h"
#include "cwtest.h"

static void endpoint(const char *s, struct cw_endpoint *e, uint8_t *family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool has_port;

	assert_int_equal(cw_addr_parse(s, &ss, &len, &has_port), 0);
	memset(e, 0, sizeof(*e));
	if (ss.ss_family == AF_INET) {
		e->addr.s6_addr[10] = e->addr.s6_addr[11] = 0xff;
		memcpy(&e->addr.s6_addr[12], &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else {
		e->addr = ((struct sockaddr_in6 *)&ss)->sin6_addr;
	}
	e->port = has_port ? cw_addr_port(&ss) : 0;
	*family = (uint8_t)ss.ss_family;
}

static uint32_t ms_field(const char *s)
{
	return strcmp(s, "-") ? (uint32_t)strtoul(s, NULL, 10) : CW_MS_UNKNOWN;
}

static int parse_line(const char *line, struct cw_sock *s, int *pid, int *fd, char *comm)
{
	char st[32], lo[80], re[80], timer[16], snd[16], rcv[16], ack[16];
	unsigned ino, rq, wq, tms;
	uint32_t mask = 0;
	int n;

	n = sscanf(line, "%31s %79s %79s %u %u %u %15s %u %15s %15s %15s %d %d %15s", st, lo, re, &ino,
		   &rq, &wq, timer, &tms, snd, rcv, ack, pid, fd, comm);
	if (n < 11)
		return -1;
	memset(s, 0, sizeof(*s));
	assert_int_equal(cw_tcp_states_parse(st, &mask), 0);
	s->state = (uint8_t)__builtin_ctz(mask);
	endpoint(lo, &s->local, &s->family);
	endpoint(re, &s->peer, &s->family);
	s->inode = ino;
	s->rqueue = rq;
	s->wqueue = wq;
	for (int t = 0; t <= CW_SOCK_TIMER_PROBE0; t++)
		if (!strcmp(cw_sock_timer_name(t), timer))
			s->timer = (uint8_t)t;
	s->timer_ms = tms;
	s->lastsnd_ms = ms_field(snd);
	s->lastrcv_ms = ms_field(rcv);
	s->lastack_ms = ms_field(ack);
	s->has_info = s->lastack_ms != CW_MS_UNKNOWN;
	return n >= 14 ? 1 : 0;
}

struct cw_sock fixture_sock(const char *line)
{
	struct cw_sock s;
	int pid, fd;
	char comm[16];

	assert_true(parse_line(line, &s, &pid, &fd, comm) >= 0);
	return s;
}

struct cw_census *fixture_census(const char *text, uint64_t time_ms, uint64_t mono_ms)
{
	struct cw_census *c;
	size_t cap = 64, n = 0;
	size_t *idx = malloc(cap * sizeof(*idx));
	pid_t *pids = malloc(cap * sizeof(*pids));
	int *fds = malloc(cap * sizeof(*fds));
	char (*comms)[16] = malloc(cap * sizeof(*comms));
	const char **cp;
	const char *p = text;

	assert_int_equal(census_new(time_ms, mono_ms, &c), 0);
	while (*p) {
		char line[512];
		size_t len = strcspn(p, "\n");
		struct cw_sock s;
		int pid, fd, r;

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (p[len] == '\n');
		if (!line[strspn(line, " \t")] || line[strspn(line, " \t")] == '#')
			continue;
		if (n == cap) {
			cap *= 2;
			idx = realloc(idx, cap * sizeof(*idx));
			pids = realloc(pids, cap * sizeof(*pids));
			fds = realloc(fds, cap * sizeof(*fds));
			comms = realloc(comms, cap * sizeof(*comms));
		}
		r = parse_line(line, &s, &pid, &fd, comms[n]);
		assert_true(r >= 0);
		assert_int_equal(census_add(c, &s), 0);
		if (r == 1) {
			idx[n] = cw_census_count(c) - 1;
			pids[n] = pid;
			fds[n] = fd;
			n++;
		}
	}
	cp = malloc((n ? n : 1) * sizeof(*cp));
	for (size_t i = 0; i < n; i++)
		cp[i] = comms[i];
	assert_int_equal(census_set_owners(c, idx, pids, fds, cp, n), 0);
	free(cp);
	free(idx);
	free(pids);
	free(fds);
	free(comms);
	return c;
}

char *fixture_text(const char *name)
{
	char path[512], *text;
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/unit/fixtures/%s", CW_TESTS_DIR, name);
	f = fopen(path, "re");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

struct cw_census *fixture_census_file(const char *name, uint64_t time_ms, uint64_t mono_ms)
{
	char *text = fixture_text(name);
	struct cw_census *c = fixture_census(text, time_ms, mono_ms);

	free(text);
	return c;
}
