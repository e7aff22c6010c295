/* The census's names and endpoints (census_types.h): the three spellings of
 * every TCP state, the kernel's socket timers, endpoints to text and from
 * sockaddrs. */
#include "cwtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "closewait/census_types.h"
#include "census_fixture.h"

/* Every state, in its three spellings, and the states parse back from ss's. */
static void test_state_names(void **state)
{
	static const struct {
		int state;
		const char *name, *key, *heading;
	} all[] = {
		{ CW_TCP_ESTABLISHED, "established", "established", "ESTABLISHED" },
		{ CW_TCP_SYN_SENT, "syn-sent", "syn_sent", "SYN-SENT" },
		{ CW_TCP_SYN_RECV, "syn-recv", "syn_recv", "SYN-RECV" },
		{ CW_TCP_FIN_WAIT1, "fin-wait-1", "fin_wait_1", "FIN-WAIT-1" },
		{ CW_TCP_FIN_WAIT2, "fin-wait-2", "fin_wait_2", "FIN-WAIT-2" },
		{ CW_TCP_TIME_WAIT, "time-wait", "time_wait", "TIME-WAIT" },
		{ CW_TCP_CLOSE, "unconnected", "unconnected", "UNCONNECTED" },
		{ CW_TCP_CLOSE_WAIT, "close-wait", "close_wait", "CLOSE-WAIT" },
		{ CW_TCP_LAST_ACK, "last-ack", "last_ack", "LAST-ACK" },
		{ CW_TCP_LISTEN, "listen", "listen", "LISTEN" },
		{ CW_TCP_CLOSING, "closing", "closing", "CLOSING" },
	};
	uint32_t mask;

	(void)state;
	assert_int_equal(sizeof(all) / sizeof(all[0]), CW_TCP_MAX_STATE - 1);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_string_equal(cw_tcp_state_name(all[i].state), all[i].name);
		assert_string_equal(cw_tcp_state_key(all[i].state), all[i].key);
		assert_string_equal(cw_tcp_state_heading(all[i].state), all[i].heading);
		mask = 0;
		/* CLOSE is never dumped, so it is no state to select */
		assert_int_equal(cw_tcp_states_parse(all[i].name, &mask),
				 all[i].state == CW_TCP_CLOSE ? -EINVAL : 0);
		assert_int_equal(mask, all[i].state == CW_TCP_CLOSE ? 0 : CW_STATE_BIT(all[i].state));
	}
	for (int bad = -1; bad <= 0; bad++) {
		assert_string_equal(cw_tcp_state_name(bad), "?");
		assert_string_equal(cw_tcp_state_key(bad), "?");
		assert_string_equal(cw_tcp_state_heading(bad), "?");
	}
	assert_string_equal(cw_tcp_state_name(CW_TCP_MAX_STATE), "?");
	assert_string_equal(cw_tcp_state_key(CW_TCP_MAX_STATE), "?");
	assert_string_equal(cw_tcp_state_heading(CW_TCP_MAX_STATE), "?");
	mask = 0;
	assert_int_equal(cw_tcp_states_parse("close-wait,time-wait", &mask), 0);
	assert_int_equal(mask, CW_STATE_BIT(CW_TCP_CLOSE_WAIT) | CW_STATE_BIT(CW_TCP_TIME_WAIT));
	mask = 0;
	assert_int_equal(cw_tcp_states_parse("all", &mask), 0);
	assert_int_equal(mask, CW_STATES_ALL);
	mask = 0;
	assert_int_equal(cw_tcp_states_parse("close_wait", &mask), -EINVAL); /* a key, not a name */
	assert_int_equal(cw_tcp_states_parse("close-wait,", &mask), -EINVAL);
	assert_int_equal(mask, 0);
}

static void test_sock_timer_names(void **state)
{
	(void)state;
	assert_string_equal(cw_sock_timer_name(CW_SOCK_TIMER_NONE), "none");
	assert_string_equal(cw_sock_timer_name(CW_SOCK_TIMER_RETRANS), "retrans");
	assert_string_equal(cw_sock_timer_name(CW_SOCK_TIMER_KEEPALIVE), "keepalive");
	assert_string_equal(cw_sock_timer_name(CW_SOCK_TIMER_TIMEWAIT), "timewait");
	assert_string_equal(cw_sock_timer_name(CW_SOCK_TIMER_PROBE0), "probe0");
	assert_string_equal(cw_sock_timer_name(CW_SOCK_TIMER_PROBE0 + 1), "?");
	assert_string_equal(cw_sock_timer_name(-1), "?");
}

static struct cw_endpoint ep(const char *addr, uint16_t port)
{
	struct cw_endpoint e = { .port = port };
	struct in_addr a4;

	if (inet_pton(AF_INET, addr, &a4) == 1) {
		e.addr.s6_addr[10] = e.addr.s6_addr[11] = 0xff;
		memcpy(&e.addr.s6_addr[12], &a4, 4);
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, &e.addr), 1);
	}
	return e;
}

/* "ADDR:PORT", "[v6]:PORT"; IPv4-mapped written as IPv4; without the port
 * the address alone; a buffer too small is -ENOSPC and an empty string. */
static void test_endpoint_str(void **state)
{
	static const struct {
		const char *addr;
		uint16_t port;
		const char *with, *without;
	} cases[] = {
		{ "127.0.0.1", 8000, "127.0.0.1:8000", "127.0.0.1" },
		{ "0.0.0.0", 0, "0.0.0.0:0", "0.0.0.0" },
		{ "::1", 8000, "[::1]:8000", "::1" },
		{ "2001:db8::7", 443, "[2001:db8::7]:443", "2001:db8::7" },
		{ "::ffff:192.0.2.9", 65535, "192.0.2.9:65535", "192.0.2.9" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
		  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	};
	char buf[CW_ENDPOINT_STRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cw_endpoint e = ep(cases[i].addr, cases[i].port);

		assert_int_equal(cw_endpoint_str(&e, true, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].with);
		assert_int_equal(cw_endpoint_str(&e, false, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].without);
		/* exactly long enough, then one byte short */
		assert_int_equal(cw_endpoint_str(&e, true, buf, strlen(cases[i].with) + 1), 0);
		assert_string_equal(buf, cases[i].with);
		assert_int_equal(cw_endpoint_str(&e, true, buf, strlen(cases[i].with)), -ENOSPC);
		assert_string_equal(buf, "");
	}
	{
		struct cw_endpoint e = ep("10.0.0.1", 80);

		assert_int_equal(cw_endpoint_str(&e, false, NULL, 0), -ENOSPC);
	}
}

/* AF_INET stored IPv4-mapped, AF_INET6 as is, ports to host order; another
 * family or too short an address is refused. */
static void test_endpoint_from_sockaddr(void **state)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(8000) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct cw_endpoint e, want;

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.9", &s4.sin_addr), 1);
	assert_int_equal(cw_endpoint_from_sockaddr((struct sockaddr *)&s4, sizeof(s4), &e), 0);
	want = ep("::ffff:192.0.2.9", 8000);
	assert_memory_equal(&e.addr, &want.addr, sizeof(e.addr));
	assert_int_equal(e.port, 8000);

	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &s6.sin6_addr), 1);
	assert_int_equal(cw_endpoint_from_sockaddr((struct sockaddr *)&s6, sizeof(s6), &e), 0);
	want = ep("2001:db8::7", 443);
	assert_memory_equal(&e.addr, &want.addr, sizeof(e.addr));
	assert_int_equal(e.port, 443);
	/* a v4 socket and a v6 socket on a mapped address compare equal */
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.9", &s6.sin6_addr), 1);
	assert_int_equal(cw_endpoint_from_sockaddr((struct sockaddr *)&s6, sizeof(s6), &e), 0);
	want = ep("192.0.2.9", 443);
	assert_memory_equal(&e.addr, &want.addr, sizeof(e.addr));

	memset(&e, 0x5a, sizeof(e));
	assert_int_equal(cw_endpoint_from_sockaddr((struct sockaddr *)&su, sizeof(su), &e),
			 -EAFNOSUPPORT);
	assert_int_equal(cw_endpoint_from_sockaddr((struct sockaddr *)&s4, sizeof(s4) - 1, &e), -EINVAL);
	assert_int_equal(cw_endpoint_from_sockaddr((struct sockaddr *)&s6, sizeof(s6) - 1, &e), -EINVAL);
	assert_int_equal(e.port, 0x5a5a); /* untouched when refused */
}

/* Why a CLOSE_WAIT socket is open, from the socket alone: Recv-Q 0 is the
 * EOF read (the FIN counted one byte until then), 1 or more is not; a
 * socket with no file is in an accept queue, whatever its Recv-Q; other
 * states have no why. */
static void test_sock_why(void **state)
{
	static const struct {
		const char *line;
		enum cw_why why;
	} t[] = {
		{ "close-wait 127.0.0.1:8000 127.0.0.1:40000 11 0 0 none 0 900 900 600", CW_WHY_EOF_READ },
		{ "close-wait 127.0.0.1:8000 127.0.0.1:40001 12 1 0 none 0 900 900 600", CW_WHY_NEVER_READ },
		{ "close-wait 127.0.0.1:8000 127.0.0.1:40002 13 4097 0 none 0 900 900 600",
		  CW_WHY_NEVER_READ },
		/* written to after the FIN: Send-Q says nothing of the reading */
		{ "close-wait 127.0.0.1:8000 127.0.0.1:40003 14 0 50 none 0 900 900 600", CW_WHY_EOF_READ },
		{ "close-wait 127.0.0.1:8000 127.0.0.1:40004 0 1 0 none 0 900 900 600", CW_WHY_UNACCEPTED },
		{ "close-wait 127.0.0.1:8000 127.0.0.1:40005 0 0 0 none 0 900 900 600", CW_WHY_UNACCEPTED },
		{ "established 127.0.0.1:8000 127.0.0.1:40006 15 0 0 none 0 9 9 9", CW_WHY_NONE },
		{ "established 127.0.0.1:8000 127.0.0.1:40007 0 1 0 none 0 9 9 9", CW_WHY_NONE },
		{ "last-ack 127.0.0.1:8000 127.0.0.1:40008 0 1 0 retrans 200 9 9 9", CW_WHY_NONE },
		{ "fin-wait-2 127.0.0.1:40009 127.0.0.1:8000 16 0 0 none 0 9 9 9", CW_WHY_NONE },
		{ "listen 0.0.0.0:8000 0.0.0.0:0 17 0 128 none 0 0 0 0", CW_WHY_NONE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cw_sock s = fixture_sock(t[i].line);

		if (cw_sock_why(&s) != t[i].why)
			fprintf(stderr, "%s: got %d, want %d\n", t[i].line, (int)cw_sock_why(&s),
				(int)t[i].why);
		assert_int_equal(cw_sock_why(&s), t[i].why);
	}
}

/* The three names, back and forth; a list adds, a bad name adds nothing. */
static void test_why_names(void **state)
{
	uint32_t m = 0;

	(void)state;
	assert_string_equal(cw_why_name(CW_WHY_EOF_READ), "eof-read");
	assert_string_equal(cw_why_name(CW_WHY_NEVER_READ), "never-read");
	assert_string_equal(cw_why_name(CW_WHY_UNACCEPTED), "unaccepted");
	assert_null(cw_why_name(CW_WHY_NONE));
	assert_null(cw_why_name((enum cw_why)4));
	assert_null(cw_why_name((enum cw_why)-1));
	for (int w = CW_WHY_EOF_READ; w <= CW_WHY_UNACCEPTED; w++) {
		m = 0;
		assert_int_equal(cw_why_parse(cw_why_name((enum cw_why)w), &m), 0);
		assert_int_equal(m, CW_WHY_BIT(w));
	}
	m = CW_WHY_BIT(CW_WHY_UNACCEPTED);
	assert_int_equal(cw_why_parse("eof-read,never-read", &m), 0);
	assert_int_equal(m, CW_WHY_BIT(CW_WHY_EOF_READ) | CW_WHY_BIT(CW_WHY_NEVER_READ) |
				    CW_WHY_BIT(CW_WHY_UNACCEPTED));
	m = 0;
	assert_int_equal(cw_why_parse("eof-read,bogus", &m), -EINVAL);
	assert_int_equal(cw_why_parse("eof-read,", &m), -EINVAL);
	assert_int_equal(cw_why_parse(",eof-read", &m), -EINVAL);
	assert_int_equal(cw_why_parse("eof", &m), -EINVAL);
	assert_int_equal(cw_why_parse("eof-reads", &m), -EINVAL);
	assert_int_equal(cw_why_parse("eof_read", &m), -EINVAL);
	assert_int_equal(cw_why_parse("", &m), -EINVAL);
	assert_int_equal(cw_why_parse(NULL, &m), -EINVAL);
	assert_int_equal(m, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_sock_timer_names),
		cmocka_unit_test(test_endpoint_str),
		cmocka_unit_test(test_endpoint_from_sockaddr),
		cmocka_unit_test(test_sock_why),
		cmocka_unit_test(test_why_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
