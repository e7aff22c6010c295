/* netlink_parse (lib/census/census_netlink.c), the sock_diag reply parser,
 * on recorded dumps (corpus/netlink: tests/fuzz/record-netlink) and their
 * mutations. Each socket it hands out is used as the census uses one: its
 * state as a mask bit and a name, its filter match, its age. */
#include "fuzz.h"

#include <errno.h>

#include "census/census_netlink.h"
#include "closewait/census_filter.h"

static int use(const struct cw_sock *s, void *arg)
{
	const struct cw_filter *f = arg;
	struct cw_age age;
	char text[64];

	FUZZ_CHECK(s->family == AF_INET || s->family == AF_INET6);
	/* what netlink_dump_tcp's state filter does with every socket */
	if (!(CW_STATES_ALL & CW_STATE_BIT(s->state)))
		return 0;
	FUZZ_CHECK(strcmp(cw_tcp_state_name(s->state), "?"));
	cw_filter_match_addr(f, s);
	cw_sock_age(s, &age);
	FUZZ_CHECK(!age.known || age.min_ms <= age.max_ms);
	FUZZ_CHECK(cw_endpoint_str(&s->local, true, text, sizeof(text)) == 0);
	FUZZ_CHECK(cw_endpoint_str(&s->peer, true, text, sizeof(text)) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of its own size, so ASan sees a read past the end */
	void *buf = malloc(size ? size : 1);
	struct cw_filter f;
	int ret;

	FUZZ_CHECK(buf);
	memcpy(buf, data, size);
	cw_filter_init(&f);
	f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT) | CW_STATE_BIT(CW_TCP_LISTEN);
	f.sport = 8000;
	ret = netlink_parse(buf, size, use, &f);
	FUZZ_CHECK(ret == 0 || ret == 1 || (ret < 0 && ret > -4096));
	free(buf);
	return 0;
}
