/* Telling an ETIMEDOUT apart from what survives in tcp_info. */
#include "cwtest.h"

#include <string.h>

#include "core/tcpinfo.h"

/* What tcp_info says after the timeout, and the reason it must give. */
struct timed_out {
	const char *what;
	uint8_t retransmits, probes;
	uint32_t snd_wnd;
	uint64_t sent, retrans, acked; /* tcpi_bytes_sent, _retrans, _acked */
	enum cw_close_reason reason;
};

static void test_timeout_reason(void **state)
{
	static const struct timed_out cases[] = {
		{ "keepalive", 0, 2, 65535, 100, 0, 100, CW_CLOSE_KEEPALIVE },
		{ "data in flight", 3, 0, 65535, 5000, 3000, 100, CW_CLOSE_USER_TIMEOUT },
		/* retransmits already reset, but original bytes were never acked */
		{ "data in flight, retransmits reset", 0, 1, 65535, 5000, 3000, 100, CW_CLOSE_USER_TIMEOUT },
		{ "closed window", 0, 4, 0, 1000, 0, 1000, CW_CLOSE_USER_TIMEOUT },
		/* An old loss, long recovered: bytes_sent > bytes_acked only by the
		 * retransmitted bytes, so nothing is in flight. */
		{ "retransmitted but acked", 0, 2, 1000, 1500, 500, 1000, CW_CLOSE_KEEPALIVE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct timed_out *c = &cases[i];
		struct tcp_info ti;

		memset(&ti, 0, sizeof(ti));
		ti.tcpi_retransmits = c->retransmits;
		ti.tcpi_probes = c->probes;
		ti.tcpi_snd_wnd = c->snd_wnd;
		ti.tcpi_bytes_sent = c->sent;
		ti.tcpi_bytes_retrans = c->retrans;
		ti.tcpi_bytes_acked = c->acked;
		print_message("%s\n", c->what);
		assert_int_equal(tcpinfo_timeout_reason(&ti), c->reason);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
