/* Telling an ETIMEDOUT apart from what survives in tcp_info. */
#include "cwtest.h"

#include <string.h>

#include "core/tcpinfo.h"

static void test_keepalive(void **state)
{
	struct tcp_info ti;

	(void)state;
	memset(&ti, 0, sizeof(ti));
	ti.tcpi_probes = 2;
	ti.tcpi_snd_wnd = 65535;
	ti.tcpi_bytes_sent = 100;
	ti.tcpi_bytes_acked = 100;
	assert_int_equal(tcpinfo_timeout_reason(&ti), CW_CLOSE_KEEPALIVE);
}

static void test_data_in_flight(void **state)
{
	struct tcp_info ti;

	(void)state;
	memset(&ti, 0, sizeof(ti));
	ti.tcpi_retransmits = 3;
	ti.tcpi_snd_wnd = 65535;
	ti.tcpi_bytes_sent = 5000;
	ti.tcpi_bytes_retrans = 3000;
	ti.tcpi_bytes_acked = 100;
	assert_int_equal(tcpinfo_timeout_reason(&ti), CW_CLOSE_USER_TIMEOUT);
	/* retransmits already reset, but original bytes were never acked */
	ti.tcpi_retransmits = 0;
	ti.tcpi_probes = 1;
	assert_int_equal(tcpinfo_timeout_reason(&ti), CW_CLOSE_USER_TIMEOUT);
}

static void test_closed_window(void **state)
{
	struct tcp_info ti;

	(void)state;
	memset(&ti, 0, sizeof(ti));
	ti.tcpi_probes = 4;
	ti.tcpi_snd_wnd = 0;
	ti.tcpi_bytes_sent = 1000;
	ti.tcpi_bytes_acked = 1000;
	assert_int_equal(tcpinfo_timeout_reason(&ti), CW_CLOSE_USER_TIMEOUT);
}

static void test_retransmitted_but_acked_is_keepalive(void **state)
{
	struct tcp_info ti;

	(void)state;
	/* An old loss, long recovered: bytes_sent > bytes_acked only by the
	 * retransmitted bytes, so nothing is in flight. */
	memset(&ti, 0, sizeof(ti));
	ti.tcpi_probes = 2;
	ti.tcpi_snd_wnd = 1000;
	ti.tcpi_bytes_sent = 1500;
	ti.tcpi_bytes_retrans = 500;
	ti.tcpi_bytes_acked = 1000;
	assert_int_equal(tcpinfo_timeout_reason(&ti), CW_CLOSE_KEEPALIVE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_data_in_flight),
		cmocka_unit_test(test_closed_window),
		cmocka_unit_test(test_retransmitted_but_acked_is_keepalive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
