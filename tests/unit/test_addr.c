/* The one address parser and formatter. */
#include "cwtest.h"

#include <errno.h>
#include <netinet/in.h>

#include "closewait/addr.h"

static void expect(const char *in, int family, const char *addr_port, bool port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool has_port;
	char buf[CW_ADDRSTRLEN];

	assert_int_equal(cw_addr_parse(in, &ss, &len, &has_port), 0);
	assert_int_equal(ss.ss_family, family);
	assert_int_equal(has_port, port);
	assert_int_equal(cw_addr_port_str(&ss, buf, sizeof(buf)), 0);
	assert_string_equal(buf, addr_port);
}

static void test_good(void **state)
{
	(void)state;
	expect("127.0.0.1", AF_INET, "127.0.0.1:0", false);
	expect("10.1.2.3:8000", AF_INET, "10.1.2.3:8000", true);
	expect("::1", AF_INET6, "[::1]:0", false);
	expect("[::1]:80", AF_INET6, "[::1]:80", true);
	expect("[fe80::1]", AF_INET6, "[fe80::1]:0", false);
	expect("::ffff:10.0.0.1", AF_INET6, "10.0.0.1:0", false); /* v4-mapped shown as v4 */
	expect("0.0.0.0", AF_INET, "0.0.0.0:0", false);
	expect("::", AF_INET6, "[::]:0", false);
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"", "999.1.1.1", "1.2.3", "localhost", "[::1", "::1]:80", "[::1]x", "1.2.3.4:",
		"1.2.3.4:70000", "1.2.3.4:abc", "[::1]:-1", "1.2.3.4:80:90", "::g",
	};
	struct sockaddr_storage ss;
	socklen_t len;
	bool has_port;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cw_addr_parse(bad[i], &ss, &len, &has_port), -EINVAL);
	/* A port where none is wanted is an error. */
	assert_int_equal(cw_addr_parse("1.2.3.4:80", &ss, &len, NULL), -EINVAL);
}

static void test_port(void **state)
{
	uint16_t p;

	(void)state;
	assert_int_equal(cw_port_parse("8000", false, &p), 0);
	assert_int_equal(p, 8000);
	assert_int_equal(cw_port_parse("65535", false, &p), 0);
	assert_int_equal(cw_port_parse("0", true, &p), 0);
	assert_int_not_equal(cw_port_parse("0", false, &p), 0);
	assert_int_not_equal(cw_port_parse("70000", false, &p), 0);
	assert_int_not_equal(cw_port_parse("abc", false, &p), 0);
	assert_int_not_equal(cw_port_parse("-1", false, &p), 0);
	assert_int_not_equal(cw_port_parse("80x", false, &p), 0);
	assert_int_not_equal(cw_port_parse("", false, &p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
