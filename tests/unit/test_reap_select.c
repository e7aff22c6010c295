/* reap's selection on a recorded census (no sockets): scan's filter, then
 * reap's own rules: LISTEN never, uncertain ages skipped, what fin cannot
 * end, ownerless sockets in fin mode, the owner acted through, the order. */
#include "cwtest.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "census/census_internal.h"
#include "closewait/reap.h"

static void ep(struct cw_endpoint *e, uint8_t last, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	e->addr.s6_addr[10] = e->addr.s6_addr[11] = 0xff;
	e->addr.s6_addr[12] = 10;
	e->addr.s6_addr[15] = last;
	e->port = port;
}

static void add(struct cw_census *c, int state, uint16_t lport, uint16_t rport, uint32_t inode,
		uint32_t lastack, uint32_t lastrcv, uint32_t lastsnd)
{
	struct cw_sock s;

	memset(&s, 0, sizeof(s));
	s.family = AF_INET;
	s.state = (uint8_t)state;
	ep(&s.local, 1, lport);
	ep(&s.peer, 2, rport);
	s.inode = inode;
	s.has_info = true;
	s.lastack_ms = lastack;
	s.lastrcv_ms = lastrcv;
	s.lastsnd_ms = lastsnd;
	assert_int_equal(census_add(c, &s), 0);
}

/* 0 close-wait :80, 5 s, pid 20 fd 7
 * 1 close-wait :80, [1 s, 5 s] (we wrote after the FIN), pid 10 fd 9
 * 2 listen :80, pid 10 fd 3
 * 3 close-wait :80, owner unknown
 * 4 fin-wait-2 :80, pid 10 fd 4
 * 5 close-wait :81, pid 10 fd 8
 * 6 close-wait :80, 9 s, shared by pid 30 fd 5 and pid 40 fd 6 */
static struct cw_census *fixture(void)
{
	static const size_t idx[] = { 0, 1, 2, 4, 5, 6, 6 };
	static const pid_t pid[] = { 20, 10, 10, 10, 10, 30, 40 };
	static const int fd[] = { 7, 9, 3, 4, 8, 5, 6 };
	static const char *const comm[] = { "b", "a", "a", "a", "a", "c", "d" };
	struct cw_census *c;

	assert_int_equal(census_new(0, 0, &c), 0);
	add(c, CW_TCP_CLOSE_WAIT, 80, 1000, 100, 5000, 5000, 90000);
	add(c, CW_TCP_CLOSE_WAIT, 80, 1001, 101, 1000, 5000, 1200);
	add(c, CW_TCP_LISTEN, 80, 0, 102, CW_MS_UNKNOWN, CW_MS_UNKNOWN, CW_MS_UNKNOWN);
	add(c, CW_TCP_CLOSE_WAIT, 80, 1003, 103, 3000, 3000, 90000);
	add(c, CW_TCP_FIN_WAIT2, 80, 1004, 104, 3000, 3000, 90000);
	add(c, CW_TCP_CLOSE_WAIT, 81, 1005, 105, 3000, 3000, 90000);
	add(c, CW_TCP_CLOSE_WAIT, 80, 1006, 106, 9000, 9000, 90000);
	assert_int_equal(census_set_owners(c, idx, pid, fd, comm, 7), 0);
	return c;
}

static const struct cw_reap_item *by_inode(const struct cw_reap *r, uint32_t inode)
{
	for (size_t i = 0; i < cw_reap_count(r); i++)
		if (cw_reap_item(r, i)->sock->inode == inode)
			return cw_reap_item(r, i);
	fail_msg("inode %u not selected", inode);
	return NULL;
}

/* The fixture's selection by f in mode. The census is freed at once: the
 * items keep what they need. */
static struct cw_reap *select_fixture(const struct cw_filter *f, enum cw_reap_mode mode)
{
	struct cw_census *c = fixture();
	struct cw_reap *r;

	assert_int_equal(cw_reap_select(c, f, mode, &r), 0);
	cw_census_free(c);
	return r;
}

static void test_fin_rules(void **state)
{
	struct cw_filter f;
	struct cw_reap *r;
	struct cw_reap_counts n;

	(void)state;
	cw_filter_init(&f);
	f.port = 80;
	f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT) | CW_STATE_BIT(CW_TCP_LISTEN) |
		   CW_STATE_BIT(CW_TCP_FIN_WAIT2);
	r = select_fixture(&f, CW_REAP_FIN);
	assert_int_equal(cw_reap_count(r), 6);
	assert_int_equal(by_inode(r, 100)->status, CW_REAP_TO_REAP);
	assert_int_equal(by_inode(r, 101)->status, CW_REAP_TO_REAP);
	assert_int_equal(by_inode(r, 102)->status, CW_REAP_SKIP_LISTEN);
	assert_int_equal(by_inode(r, 103)->status, CW_REAP_FAIL_NO_OWNER);
	assert_int_equal(by_inode(r, 103)->pid, 0);
	assert_int_equal(by_inode(r, 104)->status, CW_REAP_SKIP_MODE);
	assert_int_equal(by_inode(r, 106)->pid, 30); /* the first owner */
	assert_string_equal(by_inode(r, 106)->comm, "c");
	/* sorted by pid, then fd: unknown owner first */
	assert_int_equal(cw_reap_item(r, 0)->sock->inode, 103);
	assert_int_equal(cw_reap_item(r, 1)->fd, 3);
	assert_int_equal(cw_reap_item(r, 2)->fd, 4);
	assert_int_equal(cw_reap_item(r, 3)->fd, 9);
	assert_int_equal(cw_reap_item(r, 4)->pid, 20);
	cw_reap_counts(r, &n);
	assert_int_equal(n.to_reap, 3);
	assert_int_equal(n.skipped, 2);
	assert_int_equal(n.failed, 1);
	assert_int_equal(n.status[CW_REAP_SKIP_LISTEN], 1);
	assert_int_equal(n.acted, 0); /* selection decides nothing by acting, the ownerless one included */
	cw_reap_free(r);
}

static void test_rst_needs_no_owner(void **state)
{
	struct cw_filter f;
	struct cw_reap *r;

	(void)state;
	cw_filter_init(&f);
	f.port = 80;
	f.states = CW_STATES_ALL;
	r = select_fixture(&f, CW_REAP_RST);
	assert_int_equal(cw_reap_mode(r), CW_REAP_RST);
	assert_int_equal(by_inode(r, 103)->status, CW_REAP_TO_REAP);
	assert_int_equal(by_inode(r, 104)->status, CW_REAP_TO_REAP);
	assert_int_equal(by_inode(r, 102)->status, CW_REAP_SKIP_LISTEN); /* never, in any mode */
	cw_reap_free(r);
}

static void test_older_uses_age_min(void **state)
{
	struct cw_filter f;
	struct cw_reap *r;

	(void)state;
	cw_filter_init(&f);
	f.port = 80;
	f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT) | CW_STATE_BIT(CW_TCP_LISTEN);
	f.older_ms = 2000;
	r = select_fixture(&f, CW_REAP_FIN);
	/* 100 (5 s) and 106 (9 s) and 103 (3 s, no owner); 101's range [1 s, 5 s]
	 * holds 2 s: skipped; LISTEN has no age: not selected by --older */
	assert_int_equal(cw_reap_count(r), 4);
	assert_int_equal(by_inode(r, 100)->status, CW_REAP_TO_REAP);
	assert_int_equal(by_inode(r, 106)->status, CW_REAP_TO_REAP);
	assert_int_equal(by_inode(r, 101)->status, CW_REAP_SKIP_AGE);
	assert_false(by_inode(r, 101)->age.exact);
	assert_int_equal(by_inode(r, 101)->age.min_ms, 1000);
	assert_int_equal(by_inode(r, 101)->age.max_ms, 5000);
	cw_reap_free(r);
}

static void test_pid_picks_that_owner(void **state)
{
	struct cw_filter f;
	struct cw_reap *r;

	(void)state;
	cw_filter_init(&f);
	f.pid = 40;
	f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	r = select_fixture(&f, CW_REAP_FIN);
	assert_int_equal(cw_reap_count(r), 1);
	assert_int_equal(cw_reap_item(r, 0)->pid, 40);
	assert_int_equal(cw_reap_item(r, 0)->fd, 6);
	assert_int_equal(cw_reap_item(r, 0)->nowners, 2);
	cw_reap_free(r);
}

/* Structs the application allocates are read through their size: one
 * whose _init() was not called (size 0), or whose size falls short of the
 * first version's fields, is refused; one from a newer build (larger, with a
 * field this library does not know) is read as far as the library knows. */
static void test_sizes(void **state)
{
	struct cw_census *c = fixture(), *none;
	struct {
		struct cw_filter f;
		uint64_t later;               /* a field of a newer header */
	} newer;
	struct cw_filter f;
	struct cw_reap_opts o;
	struct cw_census_opts co;
	struct cw_reap *r;

	(void)state;
	cw_filter_init(&f);
	f.port = 81;
	f.size = 0;
	assert_int_equal(cw_reap_select(c, &f, CW_REAP_FIN, &r), -EINVAL);
	f.size = offsetof(struct cw_filter, older_ms);
	assert_int_equal(cw_reap_select(c, &f, CW_REAP_FIN, &r), -EINVAL);
	cw_filter_init(&newer.f);
	newer.f.port = 81;
	newer.f.size = sizeof(newer);
	newer.later = UINT64_MAX;
	assert_int_equal(cw_reap_select(c, &newer.f, CW_REAP_FIN, &r), 0);
	assert_int_equal(cw_reap_count(r), 1);
	assert_int_equal(cw_reap_item(r, 0)->sock->inode, 105);
	cw_reap_opts_init(&o);
	assert_int_equal(o.wait_ms, CW_REAP_WAIT_MS);
	o.size = 0;
	assert_int_equal(cw_reap_run(r, &o), -EINVAL);
	assert_int_equal(cw_reap_item(r, 0)->status, CW_REAP_TO_REAP); /* nothing was done */
	cw_reap_free(r);
	cw_census_opts_init(&co);
	co.size = sizeof(size_t);
	assert_int_equal(cw_census_take(&co, &none), -EINVAL);
	cw_census_free(c);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(cw_reap_status_name(CW_REAP_CLEAN), "clean");
	assert_string_equal(cw_reap_status_name(CW_REAP_RESET), "reset");
	assert_string_equal(cw_reap_status_name(CW_REAP_SKIP_REPLACED), "replaced");
	for (int s = 0; s < CW_REAP_NSTATUS; s++)
		assert_string_not_equal(cw_reap_status_name(s), "?");
	assert_int_equal(cw_reap_status_kind(CW_REAP_FIN_SENT), CW_REAP_KIND_HANDLED);
	assert_int_equal(cw_reap_status_kind(CW_REAP_SKIP_AGE), CW_REAP_KIND_SKIPPED);
	assert_int_equal(cw_reap_status_kind(CW_REAP_FAIL_NOSUPPORT), CW_REAP_KIND_FAILED);
	assert_string_equal(cw_reap_kind_name(CW_REAP_KIND_FAILED), "failed");
	/* one notion, one name: selected and not acted on */
	assert_string_equal(cw_reap_status_name(CW_REAP_TO_REAP), "to-reap");
	assert_int_equal(cw_reap_status_kind(CW_REAP_TO_REAP), CW_REAP_KIND_TO_REAP);
	assert_string_equal(cw_reap_kind_name(CW_REAP_KIND_TO_REAP), "to-reap");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fin_rules),
		cmocka_unit_test(test_rst_needs_no_owner),
		cmocka_unit_test(test_older_uses_age_min),
		cmocka_unit_test(test_pid_picks_that_owner),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
