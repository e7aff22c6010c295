/* Parsing sock_diag replies (netlink.c) from messages laid out as the kernel
 * sends them, without a socket. */
#include "cwtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>

#include "census/census_netlink.h"

struct got {
	struct cw_sock s[8];
	int n;
};

static int collect(const struct cw_sock *s, void *arg)
{
	struct got *g = arg;

	g->s[g->n++] = *s;
	return 0;
}

/* Appends one SOCK_DIAG_BY_FAMILY message; info_len 0: no INET_DIAG_INFO. */
static size_t put_msg(char *buf, int family, const char *src, uint16_t sport, const char *dst,
		      uint16_t dport, uint8_t state, uint32_t ino, size_t info_len)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_msg *m;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_MULTI;
	m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
	m->idiag_family = (uint8_t)family;
	m->idiag_state = state;
	m->idiag_timer = 2;
	m->idiag_expires = 7000;
	m->idiag_rqueue = 1;
	m->idiag_wqueue = 2;
	m->idiag_uid = 1000;
	m->idiag_inode = ino;
	m->id.idiag_sport = htons(sport);
	m->id.idiag_dport = htons(dport);
	inet_pton(family, src, m->id.idiag_src);
	inet_pton(family, dst, m->id.idiag_dst);
	if (info_len) {
		struct tcp_info ti;

		memset(&ti, 0, sizeof(ti));
		ti.tcpi_last_data_sent = 8000;
		ti.tcpi_last_data_recv = 9000;
		ti.tcpi_last_ack_recv = 5000;
		ti.tcpi_rtt = 50;
		mnl_attr_put(nlh, INET_DIAG_INFO, info_len, &ti);
	}
	return nlh->nlmsg_len;
}

static void test_parse_v4_v6(void **state)
{
	char buf[4096];
	size_t len = 0;
	struct got g = { 0 };
	char a[64];

	(void)state;
	len += put_msg(buf + len, AF_INET, "127.0.0.1", 8000, "127.0.0.2", 40000, 8, 77, sizeof(struct tcp_info));
	len += put_msg(buf + len, AF_INET6, "::1", 8001, "fe80::1", 50000, 1, 78, 0);
	/* a kernel with a shorter tcp_info: times up to tcpi_rtt still there */
	len += put_msg(buf + len, AF_INET, "10.0.0.1", 1, "10.0.0.2", 2, 8, 79,
		       offsetof(struct tcp_info, tcpi_rtt) + 4);
	assert_int_equal(netlink_parse(buf, len, collect, &g), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.s[0].family, AF_INET);
	assert_int_equal(g.s[0].state, CW_TCP_CLOSE_WAIT);
	assert_true(IN6_IS_ADDR_V4MAPPED(&g.s[0].local.addr));
	inet_ntop(AF_INET, g.s[0].peer.addr.s6_addr + 12, a, sizeof(a));
	assert_string_equal(a, "127.0.0.2");
	assert_int_equal(g.s[0].local.port, 8000);
	assert_int_equal(g.s[0].peer.port, 40000);
	assert_int_equal(g.s[0].inode, 77);
	assert_int_equal(g.s[0].uid, 1000);
	assert_int_equal(g.s[0].rqueue, 1);
	assert_int_equal(g.s[0].timer, CW_SOCK_TIMER_KEEPALIVE);
	assert_int_equal(g.s[0].timer_ms, 7000);
	assert_true(g.s[0].has_info);
	assert_int_equal(g.s[0].lastsnd_ms, 8000);
	assert_int_equal(g.s[0].lastrcv_ms, 9000);
	assert_int_equal(g.s[0].lastack_ms, 5000);
	assert_int_equal(g.s[0].rtt_us, 50);
	assert_int_equal(g.s[1].family, AF_INET6);
	inet_ntop(AF_INET6, &g.s[1].peer.addr, a, sizeof(a));
	assert_string_equal(a, "fe80::1");
	assert_false(g.s[1].has_info);
	assert_int_equal(g.s[1].lastack_ms, CW_MS_UNKNOWN);
	assert_true(g.s[2].has_info);
	assert_int_equal(g.s[2].lastack_ms, 5000);
}

static void test_done_and_error(void **state)
{
	char buf[1024];
	size_t len;
	struct got g = { 0 };
	struct nlmsghdr *nlh;
	struct nlmsgerr *e;

	(void)state;
	len = put_msg(buf, AF_INET, "127.0.0.1", 1, "127.0.0.1", 2, 1, 1, 0);
	nlh = mnl_nlmsg_put_header(buf + len);
	nlh->nlmsg_type = NLMSG_DONE;
	mnl_nlmsg_put_extra_header(nlh, 4);
	len += nlh->nlmsg_len;
	assert_int_equal(netlink_parse(buf, len, collect, &g), 1);
	assert_int_equal(g.n, 1);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -EPERM;
	assert_int_equal(netlink_parse(buf, nlh->nlmsg_len, collect, &g), -EPERM);
}

static void test_request(void **state)
{
	char buf[256];
	size_t len;
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	const struct inet_diag_req_v2 *r;

	(void)state;
	len = netlink_request(buf, AF_INET6, CW_STATE_BIT(CW_TCP_CLOSE_WAIT) | CW_STATE_BIT(CW_TCP_FIN_WAIT2), NULL, 0, 7);
	assert_int_equal(len, NLMSG_LENGTH(sizeof(*r)));
	r = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	assert_int_equal(r->sdiag_family, AF_INET6);
	assert_int_equal(r->sdiag_protocol, IPPROTO_TCP);
	assert_int_equal(r->idiag_ext, 1 << (INET_DIAG_INFO - 1));
	/* orphaned FIN_WAIT_2 ends are timewait sockets: TIME_WAIT asked too */
	assert_int_equal(r->idiag_states, CW_STATE_BIT(CW_TCP_CLOSE_WAIT) |
						  CW_STATE_BIT(CW_TCP_FIN_WAIT2) |
						  CW_STATE_BIT(CW_TCP_TIME_WAIT));
	netlink_request(buf, AF_INET, CW_STATE_BIT(CW_TCP_CLOSE_WAIT), NULL, 0, 7);
	assert_int_equal(r->idiag_states, CW_STATE_BIT(CW_TCP_CLOSE_WAIT));
}

/* The kernel's inet_diag_bc_run for the ops we emit: true if accepted. */
static bool bc_run(const uint8_t *bc, int len, uint16_t sport, uint16_t dport, uint64_t cgroup)
{
	while (len > 0) {
		const struct inet_diag_bc_op *op = (const void *)bc;
		bool yes = true;

		switch (op->code) {
		case INET_DIAG_BC_S_EQ: yes = sport == op[1].no; break;
		case INET_DIAG_BC_D_EQ: yes = dport == op[1].no; break;
		case INET_DIAG_BC_JMP: yes = false; break;
		case INET_DIAG_BC_CGROUP_COND: {
			uint64_t id;

			memcpy(&id, op + 1, sizeof(id));
			yes = cgroup == id;
			break;
		}
		default: fail_msg("unexpected op %d", op->code);
		}
		if (yes) {
			len -= op->yes;
			bc += op->yes;
		} else {
			len -= op->no;
			bc += op->no;
		}
	}
	return len == 0;
}

/* The kernel's inet_diag_bc_audit: every op on the chain of "yes" jumps,
 * each "no" within the program (or 4 past its end) and onto that chain. */
static bool bc_audit(const uint8_t *bc, int len)
{
	const uint8_t *start = bc;
	int total = len;

	while (len > 0) {
		const struct inet_diag_bc_op *op = (const void *)bc;
		int min = op->code == INET_DIAG_BC_JMP ? 4 : op->code == INET_DIAG_BC_CGROUP_COND ? 12 : 8;

		if (op->no < min || op->no > len + 4 || op->no & 3)
			return false;
		if (op->no < len) { /* must land on an op of the yes chain */
			int target = len - op->no, l = total;
			const uint8_t *b = start;

			while (l > target)
				l -= ((const struct inet_diag_bc_op *)b)->yes,
					b += ((const struct inet_diag_bc_op *)b)->yes;
			if (l != target)
				return false;
		}
		if (op->yes < min || op->yes > len + 4 || op->yes & 3)
			return false;
		bc += op->yes;
		len -= op->yes;
	}
	return len == 0;
}

/* The bytecode for --port/--sport/--dport and a cgroup id accepts exactly
 * what the filter does, and only sockets of that cgroup. */
static void test_request_ports(void **state)
{
	static const int vals[] = { -1, 80, 8000 };
	static const uint16_t ports[] = { 0, 80, 8000, 9 };
	static const uint64_t cgroups[] = { 0, 0x100000000000abcdULL };
	char buf[NETLINK_REQ_MAX];
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;

	(void)state;
	for (int g = 0; g < 2; g++)
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++)
			for (int c = 0; c < 3; c++) {
				struct cw_filter f;
				const struct nlattr *at = NULL, *x;
				size_t len;

				cw_filter_init(&f);
				f.port = vals[a];
				f.sport = vals[b];
				f.dport = vals[c];
				len = netlink_request(buf, AF_INET, 0, &f, cgroups[g], 1);
				assert_true(len <= sizeof(buf));
				mnl_attr_for_each(x, nlh, sizeof(struct inet_diag_req_v2))
					if (mnl_attr_get_type(x) == INET_DIAG_REQ_BYTECODE)
						at = x;
				if (g == 0 && a == 0 && b == 0 && c == 0) {
					assert_null(at);
					continue;
				}
				assert_non_null(at);
				assert_true(bc_audit(mnl_attr_get_payload(at), mnl_attr_get_payload_len(at)));
				for (int i = 0; i < 4; i++)
					for (int j = 0; j < 4; j++) {
						struct cw_sock s = { .state = CW_TCP_ESTABLISHED };

						s.local.port = ports[i];
						s.peer.port = ports[j];
						for (int k = 0; k < 2; k++)
							assert_int_equal(
								bc_run(mnl_attr_get_payload(at),
								       (int)mnl_attr_get_payload_len(at),
								       ports[i], ports[j], cgroups[1 - k]),
								cw_filter_match_addr(&f, &s) &&
									(!cgroups[g] || k == 0));
					}
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_v4_v6),
		cmocka_unit_test(test_done_and_error),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_request_ports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
