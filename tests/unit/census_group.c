/* Pairing and grouping on the recorded fixture (census_pair.c, census_group.c). */
#include "cwtest.h"
#include "census_fixture.h"

#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

static const struct cw_group *find_pid(const struct cw_grouping *gr, const char *comm,
				       uint16_t port, const struct cw_census *c)
{
	(void)c;
	(void)port;
	for (size_t i = 0; i < cw_grouping_count(gr); i++) {
		const struct cw_group *g = cw_grouping_at(gr, i);

		if (g->kind == CW_OWNED && g->comm && !strcmp(g->comm, comm))
			return g;
	}
	return NULL;
}

/* Group i of gr. */
#define G(gr, i) cw_grouping_at(gr, i)

static void test_pairing(void **state)
{
	struct cw_census *c = fixture_census_file("recorded.txt", 0, 0);
	size_t n = cw_census_count(c), *peer = malloc(n * sizeof(*peer)), paired = 0;

	(void)state;
	assert_int_equal(cw_census_pair(c, peer), 0);
	for (size_t i = 0; i < n; i++) {
		const struct cw_sock *s = cw_census_sock(c, i);

		if (s->state != CW_TCP_CLOSE_WAIT)
			continue;
		/* every CLOSE_WAIT of the recording has its FIN_WAIT_2 end on this host */
		assert_true(peer[i] != CW_NO_PEER);
		assert_int_equal(cw_census_sock(c, peer[i])->state, CW_TCP_FIN_WAIT2);
		assert_int_equal(peer[peer[i]], i);
		assert_int_equal(cw_census_sock(c, peer[i])->local.port, s->peer.port);
		paired++;
	}
	assert_int_equal(paired, 25);
	free(peer);
	cw_census_free(c);
}

static void test_no_false_pairs(void **state)
{
	struct cw_census *c = fixture_census(
		"close-wait 127.0.0.1:8000 127.0.0.1:40000 11 1 0 none 0 9 9 6 100 5 srv\n"
		"fin-wait-2 127.0.0.1:40001 127.0.0.1:8000 0 0 0 timewait 30000 - - -\n"
		"fin-wait-2 127.0.0.2:40000 127.0.0.1:8000 0 0 0 timewait 30000 - - -\n"
		"established 127.0.0.1:40000 127.0.0.1:8000 12 0 0 none 0 1 1 1 101 3 cli\n", 0, 0);
	size_t peer[4];

	(void)state;
	assert_int_equal(cw_census_pair(c, peer), 0);
	for (int i = 0; i < 4; i++)
		assert_true(peer[i] == CW_NO_PEER);
	cw_census_free(c);
}

static void test_group_by_process(void **state)
{
	struct cw_census *c = fixture_census_file("recorded.txt", 0, 0);
	size_t n = cw_census_count(c), *peer = malloc(n * sizeof(*peer));
	size_t orphans;
	struct cw_grouping *g;
	const struct cw_group *half;

	(void)state;
	assert_int_equal(cw_census_pair(c, peer), 0);
	assert_int_equal(cw_census_group(c, NULL, peer, CW_BY_PROCESS, &g), 0);
	/* sorted by CLOSE_WAIT count: the IPv4 leak (20) first */
	assert_int_equal(G(g, 0)->count[CW_TCP_CLOSE_WAIT], 20);
	assert_int_equal(G(g, 0)->peers_closed, 20);
	assert_int_equal(G(g, 0)->peers_orphaned, 20);
	assert_int_equal(G(g, 0)->peers_half_closed, 0);
	assert_int_equal(G(g, 0)->count[CW_TCP_LISTEN], 1);
	assert_int_equal(G(g, 0)->recv_q, 20); /* the unread FINs */
	/* ...so every one of them is never-read */
	assert_int_equal(G(g, 0)->why[CW_WHY_NEVER_READ], 20);
	assert_int_equal(G(g, 0)->why[CW_WHY_EOF_READ], 0);
	assert_int_equal(G(g, 0)->why[CW_WHY_UNACCEPTED], 0);
	assert_int_equal(G(g, 0)->why[CW_WHY_NONE], 0); /* its listener has no why */
	assert_true(G(g, 0)->cw_oldest.known && G(g, 0)->cw_oldest.exact);
	assert_true(G(g, 0)->cw_oldest.min_ms >= 2000);
	half = find_pid(g, "cw_halfpeer", 0, c);
	assert_non_null(half);
	assert_int_equal(half->peers_half_closed, 3);
	assert_string_equal(half->peer_comm, "cw_clients");
	/* it read its peers' EOFs (Recv-Q 0) and kept the sockets */
	assert_int_equal(half->why[CW_WHY_EOF_READ], 3);
	assert_int_equal(half->why[CW_WHY_NEVER_READ], 0);
	/* orphans (FIN_WAIT_2 after close, TIME_WAIT) form one group, and there is one */
	orphans = 0;
	for (size_t i = 0; i < cw_grouping_count(g); i++)
		if (G(g, i)->kind == CW_ORPHAN) {
			orphans++;
			assert_int_equal(G(g, i)->count[CW_TCP_FIN_WAIT2], 22);
			assert_int_equal(G(g, i)->count[CW_TCP_TIME_WAIT], 5);
			assert_int_equal(G(g, i)->why[CW_WHY_NEVER_READ], 0);
		}
	assert_int_equal(orphans, 1);
	cw_grouping_free(g);
	free(peer);
	cw_census_free(c);
}

static void test_group_by_peer_and_port(void **state)
{
	struct cw_census *c = fixture_census_file("recorded.txt", 0, 0);
	size_t n = cw_census_count(c);
	bool *sel = calloc(n, sizeof(*sel));
	struct cw_grouping *g;

	(void)state;
	for (size_t i = 0; i < n; i++)
		sel[i] = cw_census_sock(c, i)->state == CW_TCP_CLOSE_WAIT;
	assert_int_equal(cw_census_group(c, sel, NULL, CW_BY_PEER, &g), 0);
	assert_int_equal(cw_grouping_count(g), 2); /* 127.0.0.1 and ::1 */
	assert_int_equal(G(g, 0)->count[CW_TCP_CLOSE_WAIT], 23);
	assert_int_equal(G(g, 1)->count[CW_TCP_CLOSE_WAIT], 2);
	assert_true(IN6_IS_ADDR_LOOPBACK(&G(g, 1)->key.addr));
	cw_grouping_free(g);
	assert_int_equal(cw_census_group(c, sel, NULL, CW_BY_LOCAL_PORT, &g), 0);
	assert_int_equal(cw_grouping_count(g), 3);
	assert_int_equal(G(g, 0)->key.port, 8000);
	assert_int_equal(G(g, 1)->key.port, 8104);
	assert_int_equal(G(g, 2)->key.port, 8001);
	cw_grouping_free(g);
	free(sel);
	cw_census_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairing),
		cmocka_unit_test(test_no_false_pairs),
		cmocka_unit_test(test_group_by_process),
		cmocka_unit_test(test_group_by_peer_and_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
