/* State names and the selection shared by scan and reap (census_filter.c). */
#include "cwtest.h"
#include "census_fixture.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "closewait/addr.h"

static void test_state_names(void **state)
{
	uint32_t m = 0;

	(void)state;
	assert_int_equal(cw_tcp_states_parse("close-wait", &m), 0);
	assert_int_equal(m, CW_STATE_BIT(CW_TCP_CLOSE_WAIT));
	assert_int_equal(cw_tcp_states_parse("time-wait,fin-wait-2", &m), 0);
	assert_int_equal(m, CW_STATE_BIT(CW_TCP_CLOSE_WAIT) | CW_STATE_BIT(CW_TCP_TIME_WAIT) |
				    CW_STATE_BIT(CW_TCP_FIN_WAIT2));
	m = 0;
	assert_int_equal(cw_tcp_states_parse("all", &m), 0);
	assert_int_equal(m, CW_STATES_ALL);
	m = 0;
	assert_int_equal(cw_tcp_states_parse("close_wait", &m), -EINVAL);
	assert_int_equal(cw_tcp_states_parse("close-wait,", &m), -EINVAL);
	assert_int_equal(cw_tcp_states_parse("", &m), -EINVAL);
	assert_int_equal(cw_tcp_states_parse("unconnected", &m), -EINVAL);
	assert_int_equal(m, 0);
	for (int s = 1; s < CW_TCP_MAX_STATE; s++) {
		if (s == CW_TCP_CLOSE)
			continue;
		m = 0;
		assert_int_equal(cw_tcp_states_parse(cw_tcp_state_name(s), &m), 0);
		assert_int_equal(m, CW_STATE_BIT(s));
	}
}

static const char *fixture =
	"close-wait 127.0.0.1:8000 127.0.0.1:40000 11 1 0 none 0 9000 9000 6000 100 5 srv\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40001 12 0 0 none 0 1500 4000 1500 100 6 srv\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40002 13 1 0 none 0 500 500 400 100 7 srv\n"
	"fin-wait-2 127.0.0.1:40000 127.0.0.1:8000 0 0 0 timewait 30000 9000 9000 6000\n"
	"established 10.0.0.1:5000 10.0.0.2:443 14 0 0 none 0 10 10 10 200 3 cli\n"
	"close-wait [::1]:8001 [::1]:50000 15 1 0 none 0 9000 9000 6000 300 4 srv6\n"
	"established 127.0.0.1:40003 127.0.0.1:8000 16 0 0 none 0 10 10 10 200 4 cli\n";

static enum cw_match m_of(const struct cw_filter *f, struct cw_census *c, size_t i)
{
	return cw_filter_match(f, c, i, NULL);
}

static void test_filters(void **state)
{
	struct cw_census *c = fixture_census(fixture, 0, 0);
	struct cw_filter f;
	struct sockaddr_storage ss;
	socklen_t len;
	bool hp;

	(void)state;
	cw_filter_init(&f);
	for (size_t i = 0; i < cw_census_count(c); i++)
		assert_int_equal(m_of(&f, c, i), CW_MATCH_YES);
	f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	assert_int_equal(m_of(&f, c, 3), CW_MATCH_NO);
	assert_int_equal(m_of(&f, c, 5), CW_MATCH_YES);
	cw_filter_init(&f);
	f.port = 8000; /* either end */
	assert_int_equal(m_of(&f, c, 0), CW_MATCH_YES);
	assert_int_equal(m_of(&f, c, 6), CW_MATCH_YES);
	assert_int_equal(m_of(&f, c, 4), CW_MATCH_NO);
	f.port = -1;
	f.sport = 8000; /* local end only */
	assert_int_equal(m_of(&f, c, 0), CW_MATCH_YES);
	assert_int_equal(m_of(&f, c, 6), CW_MATCH_NO);
	f.sport = -1;
	f.dport = 443;
	assert_int_equal(m_of(&f, c, 4), CW_MATCH_YES);
	assert_int_equal(m_of(&f, c, 0), CW_MATCH_NO);
	cw_filter_init(&f);
	f.pid = 100;
	assert_true(cw_filter_needs_owners(&f));
	assert_int_equal(m_of(&f, c, 1), CW_MATCH_YES);
	assert_int_equal(m_of(&f, c, 3), CW_MATCH_NO); /* orphan: no owner */
	assert_int_equal(m_of(&f, c, 4), CW_MATCH_NO);
	cw_filter_init(&f);
	f.has_peer = true;
	memset(&f.peer, 0, sizeof(f.peer));
	assert_int_equal(cw_addr_parse("::1", &ss, &len, &hp), 0);
	f.peer.addr = ((struct sockaddr_in6 *)&ss)->sin6_addr;
	assert_int_equal(m_of(&f, c, 5), CW_MATCH_YES);
	assert_int_equal(m_of(&f, c, 0), CW_MATCH_NO);
	f.peer.port = 50001;
	assert_int_equal(m_of(&f, c, 5), CW_MATCH_NO);
	cw_census_free(c);
}

static void test_older(void **state)
{
	struct cw_census *c = fixture_census(fixture, 0, 0);
	struct cw_filter f;

	(void)state;
	cw_filter_init(&f);
	f.older_ms = 2000;
	assert_int_equal(m_of(&f, c, 0), CW_MATCH_YES);       /* exactly 6 s */
	assert_int_equal(m_of(&f, c, 1), CW_MATCH_UNCERTAIN); /* 1.5 s - 4 s */
	assert_int_equal(m_of(&f, c, 2), CW_MATCH_NO);        /* 0.4 s - 0.5 s */
	assert_int_equal(m_of(&f, c, 4), CW_MATCH_NO);        /* established: no age */
	f.older_ms = 4001;
	assert_int_equal(m_of(&f, c, 1), CW_MATCH_NO);
	f.older_ms = 1500; /* age_min >= D matches */
	assert_int_equal(m_of(&f, c, 1), CW_MATCH_YES);
	cw_census_free(c);
}

/* --why: CLOSE_WAIT sockets of those whys only; a filter from before the
 * field existed (a smaller size) is read without it. */
static void test_why(void **state)
{
	static const char *fix =
		"close-wait 127.0.0.1:8000 127.0.0.1:40000 11 1 0 none 0 900 900 600 100 5 srv\n"
		"close-wait 127.0.0.1:8000 127.0.0.1:40001 12 0 0 none 0 900 900 600 100 6 srv\n"
		"close-wait 127.0.0.1:8000 127.0.0.1:40002 0 1 0 none 0 900 900 600\n"
		"established 127.0.0.1:8000 127.0.0.1:40003 13 0 0 none 0 9 9 9 100 7 srv\n";
	struct cw_census *c = fixture_census(fix, 0, 0);
	struct cw_filter f;

	(void)state;
	assert_int_equal(cw_census_why(c, 0), CW_WHY_NEVER_READ);
	assert_int_equal(cw_census_why(c, 1), CW_WHY_EOF_READ);
	assert_int_equal(cw_census_why(c, 2), CW_WHY_UNACCEPTED);
	assert_int_equal(cw_census_why(c, 3), CW_WHY_NONE);
	cw_filter_init(&f);
	f.whys = CW_WHY_BIT(CW_WHY_EOF_READ);
	assert_false(cw_filter_needs_owners(&f));
	assert_int_equal(m_of(&f, c, 0), CW_MATCH_NO);
	assert_int_equal(m_of(&f, c, 1), CW_MATCH_YES);
	assert_int_equal(m_of(&f, c, 2), CW_MATCH_NO);
	assert_int_equal(m_of(&f, c, 3), CW_MATCH_NO); /* established: no why */
	assert_true(cw_filter_match_addr(&f, cw_census_sock(c, 1)));
	assert_false(cw_filter_match_addr(&f, cw_census_sock(c, 0)));
	f.whys = CW_WHY_BIT(CW_WHY_NEVER_READ) | CW_WHY_BIT(CW_WHY_UNACCEPTED);
	assert_int_equal(m_of(&f, c, 0), CW_MATCH_YES);
	assert_int_equal(m_of(&f, c, 1), CW_MATCH_NO);
	assert_int_equal(m_of(&f, c, 2), CW_MATCH_YES);
	assert_int_equal(m_of(&f, c, 3), CW_MATCH_NO);
	/* with the other criteria: all must hold */
	f.pid = 100;
	assert_int_equal(m_of(&f, c, 0), CW_MATCH_YES);
	assert_int_equal(m_of(&f, c, 2), CW_MATCH_NO);
	f.pid = 0;
	/* an application built before whys: its struct ends before it */
	f.size = offsetof(struct cw_filter, whys);
	for (size_t i = 0; i < cw_census_count(c); i++)
		assert_int_equal(m_of(&f, c, i), CW_MATCH_YES);
	cw_census_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_older),
		cmocka_unit_test(test_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
