/* Direct tests of public functions with no socket behind them that the rest
 * of the suite reaches only through others: cw_addr_set_port, cw_addr_str,
 * cw_verdict_name. */
#include "cwtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "closewait/addr.h"
#include "closewait/census_watch.h"

static void parse(const char *s, struct sockaddr_storage *ss)
{
	socklen_t len;
	bool has_port;

	assert_int_equal(cw_addr_parse(s, ss, &len, &has_port), 0);
}

/* The port goes where the kernel reads it, in network byte order, and
 * nothing else of the address changes. */
static void test_addr_set_port(void **state)
{
	struct sockaddr_storage ss, before;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	const uint8_t *pb;
	struct in6_addr want6;

	(void)state;
	parse("10.1.2.3:80", &ss);
	cw_addr_set_port(&ss, 0x1f90); /* 8080 */
	pb = (const uint8_t *)&s4->sin_port;
	assert_int_equal(pb[0], 0x1f);
	assert_int_equal(pb[1], 0x90);
	assert_int_equal(cw_addr_port(&ss), 8080);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0x0a010203);
	assert_int_equal(ss.ss_family, AF_INET);

	parse("fe80::1%lo", &ss);
	before = ss;
	cw_addr_set_port(&ss, 65535);
	pb = (const uint8_t *)&s6->sin6_port;
	assert_int_equal(pb[0], 0xff);
	assert_int_equal(pb[1], 0xff);
	assert_int_equal(cw_addr_port(&ss), 65535);
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &want6), 1);
	assert_memory_equal(&s6->sin6_addr, &want6, sizeof(want6));
	assert_int_equal(s6->sin6_scope_id, ((struct sockaddr_in6 *)&before)->sin6_scope_id);
	assert_int_equal(s6->sin6_scope_id, if_nametoindex("lo"));
	cw_addr_set_port(&ss, 0);
	assert_int_equal(cw_addr_port(&ss), 0);
	assert_int_equal(s6->sin6_port, 0);

	/* a family without ports: nothing is written */
	memset(&ss, 0x5a, sizeof(ss));
	ss.ss_family = AF_UNIX;
	before = ss;
	cw_addr_set_port(&ss, 80);
	assert_memory_equal(&ss, &before, sizeof(ss));
}

/* "ADDR" (no port); IPv4-mapped IPv6 shown as IPv4; 0 or -errno. */
static void test_addr_str(void **state)
{
	static const char *const cases[][2] = {
		{ "10.0.0.1:80", "10.0.0.1" },
		{ "0.0.0.0", "0.0.0.0" },
		{ "[2001:db8::7]:443", "2001:db8::7" },
		{ "::1", "::1" },
		{ "::", "::" },
		{ "::ffff:192.0.2.9", "192.0.2.9" },
		{ "[::ffff:10.1.2.3]:8080", "10.1.2.3" },
	};
	struct sockaddr_storage ss;
	char buf[CW_ADDRSTRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse(cases[i][0], &ss);
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(cw_addr_str(&ss, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i][1]);
	}
	/* exactly the room it needs, and one byte less */
	parse("10.0.0.1", &ss);
	assert_int_equal(cw_addr_str(&ss, buf, strlen("10.0.0.1") + 1), 0);
	assert_string_equal(buf, "10.0.0.1");
	assert_int_equal(cw_addr_str(&ss, buf, strlen("10.0.0.1")), -ENOSPC);
	parse("::ffff:192.0.2.9", &ss);
	assert_int_equal(cw_addr_str(&ss, buf, strlen("192.0.2.9") + 1), 0);
	assert_string_equal(buf, "192.0.2.9");
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_int_equal(cw_addr_str(&ss, buf, sizeof(buf)), -EAFNOSUPPORT);
}

/* The words watch prints (README: ok, stuck, leaking). */
static void test_verdict_name(void **state)
{
	(void)state;
	assert_string_equal(cw_verdict_name(CW_VERDICT_OK), "ok");
	assert_string_equal(cw_verdict_name(CW_VERDICT_STUCK), "stuck");
	assert_string_equal(cw_verdict_name(CW_VERDICT_LEAKING), "leaking");
	assert_string_equal(cw_verdict_name((enum cw_verdict)7), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_set_port),
		cmocka_unit_test(test_addr_str),
		cmocka_unit_test(test_verdict_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
