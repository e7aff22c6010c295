/* The policy options of serve, client --stream and guard (cli/policy_opts.c):
 * keepalive_parse (nginx's so_keepalive syntax) called directly, then the
 * whole option through policy_opt, whose bad values exit 2 (caught: see
 * fuzz_exit.h). Input: one byte choosing the option, then its value. */
#include "fuzz.h"

#include <errno.h>

#include "cli.h"
#include "closewait/conn.h"
#include "fuzz_exit.h"

static const int opts[] = {
	OPT_KEEPALIVE, OPT_HEARTBEAT_PAYLOAD, OPT_USER_TIMEOUT, OPT_CLOSE, OPT_IDLE,
	OPT_READ_IDLE, OPT_WRITE_STALL, OPT_HEARTBEAT, OPT_LINGER, OPT_HALF_CLOSE,
};

struct call {
	struct policy_args a;
	int opt;
	const char *arg;
};

static void apply(void *arg)
{
	struct call *c = arg;

	FUZZ_CHECK(policy_opt(&c->a, c->opt, c->arg));
}

/* A field is the system's value or within the kernel's limits. */
static bool field_ok(int v, int max)
{
	return v == CW_KEEPALIVE_SYSTEM || (v >= 1 && v <= max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct call c; /* 1 KiB of payload: off the stack */
	struct cw_policy p;
	char *s;
	bool on;
	int idle, intvl, cnt;

	if (size < 1)
		return 0;
	s = fuzz_cstr(data + 1, size - 1);
	if (keepalive_parse(s, &on, &idle, &intvl, &cnt) == 0 && on)
		FUZZ_CHECK(field_ok(idle, 32767) && field_ok(intvl, 32767) && field_ok(cnt, 127));
	cw_policy_init(&p);
	c.a = (struct policy_args){ .cmd = "serve", .read_idle_name = "read-idle", .p = &p };
	c.opt = opts[data[0] % (sizeof(opts) / sizeof(opts[0]))];
	c.arg = s;
	if (fuzz_try(apply, &c) == 0 && c.opt == OPT_HEARTBEAT_PAYLOAD)
		FUZZ_CHECK(p.heartbeat_len >= 1 && p.heartbeat_len <= POLICY_PAYLOAD_MAX);
	free(s);
	return 0;
}
