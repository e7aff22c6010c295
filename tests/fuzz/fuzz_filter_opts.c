/* The selection options of scan, watch, ports and reap (cli/filter_opts.c:
 * --state --pid --port --sport --dport --peer --older --comm --unit
 * --container --pod --net --all-netns) and the census options beside them
 * (cli/census_opts.c: --by, rates, ADDR:PORT endpoints), through the
 * handlers the commands call; a bad value exits 2 (caught: fuzz_exit.h).
 * The filter made is then matched against a small census with owners.
 * Input: records of one byte choosing the option, then its value up to a
 * NUL; the options apply in order to one selection, as on a command line. */
#include "fuzz.h"

#include "census/census_internal.h"
#include "cli.h"
#include "closewait/census_filter.h"
#include "filter_opts.h"
#include "fuzz_exit.h"

enum { EXTRA_BY = OPT_F_LAST, EXTRA_RATE, EXTRA_ENDPOINT, EXTRA_END };

struct call {
	struct selection *s;
	int opt;
	const char *arg;
};

static void apply(void *arg)
{
	struct call *c = arg;
	struct cw_endpoint e;

	switch (c->opt) {
	case EXTRA_BY: opt_group_by("scan", c->arg); break;
	case EXTRA_RATE: FUZZ_CHECK(opt_rate("ports", "--rate", c->arg) > 0); break;
	case EXTRA_ENDPOINT: opt_endpoint("ports", "--to", c->arg, &e); break;
	default: FUZZ_CHECK(selection_opt("scan", c->s, c->opt, c->arg));
	}
}

static struct cw_census *census(void)
{
	static struct cw_census *c;
	static const char *comm[] = { "nginx", "a b) (c\nd" };
	static const size_t idx[] = { 0, 1 };
	static const pid_t pid[] = { 100, 200 };
	static const int fd[] = { 3, 4 };
	struct cw_sock s = { .family = AF_INET6, .lastsnd_ms = CW_MS_UNKNOWN,
			     .lastrcv_ms = CW_MS_UNKNOWN, .lastack_ms = CW_MS_UNKNOWN };

	if (c)
		return c;
	FUZZ_CHECK(census_new(1000000, 1000000, &c) == 0);
	for (int i = 0; i < 4; i++) {
		s.state = i == 3 ? CW_TCP_TIME_WAIT : CW_TCP_CLOSE_WAIT - i;
		s.local.addr.s6_addr[15] = 1;
		s.local.port = (uint16_t)(8000 + i);
		s.peer.addr.s6_addr[10] = s.peer.addr.s6_addr[11] = 0xff;
		s.peer.addr.s6_addr[12] = 127;
		s.peer.port = (uint16_t)(40000 + i);
		s.inode = i == 3 ? 0 : (uint32_t)(500 + i);
		s.timer = i == 3 ? CW_SOCK_TIMER_TIMEWAIT : 0;
		s.timer_ms = 30000;
		FUZZ_CHECK(census_add(c, &s) == 0);
	}
	FUZZ_CHECK(census_set_owners(c, idx, pid, fd, comm, 2) == 0);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_census *c = census();
	char *s = fuzz_cstr(data, size), *p = s, *end = s + size;
	struct selection sel;
	struct cw_census_opts co;
	struct call call = { .s = &sel };
	bool ok = true;

	selection_init(&sel);
	while (ok && p < end) {
		call.opt = OPT_F_STATE + (uint8_t)*p % (EXTRA_END - OPT_F_STATE);
		call.arg = ++p;
		p += strlen(p) + 1;
		ok = fuzz_try(apply, &call) == 0;
	}
	cw_census_opts_init(&co);
	selection_census(&sel, &co);
	for (size_t i = 0; ok && i < cw_census_count(c); i++) {
		enum cw_match m = cw_filter_match(&sel.f, c, i, NULL);

		FUZZ_CHECK(m == CW_MATCH_NO || m == CW_MATCH_YES || m == CW_MATCH_UNCERTAIN);
	}
	free(s);
	return 0;
}
