/* cw_policy: the rules that end a connection, their defaults, the
 * socket-level part, and the words for each reason. */
#include <stdint.h>

#include "closewait/conn.h"
#include "closewait/sockopt.h"
#include "conn_internal.h"

static const char *const reason_names[CW_CLOSE_REASON_MAX] = {
	[CW_CLOSE_EOF] = "eof",
	[CW_CLOSE_RESET] = "reset",
	[CW_CLOSE_ERROR] = "error",
	[CW_CLOSE_IDLE] = "idle",
	[CW_CLOSE_READ_IDLE] = "read-idle",
	[CW_CLOSE_WRITE_STALL] = "write-stall",
	[CW_CLOSE_KEEPALIVE] = "keepalive",
	[CW_CLOSE_USER_TIMEOUT] = "user-timeout",
	[CW_CLOSE_HALF_CLOSE_TIMEOUT] = "half-close-timeout",
	[CW_CLOSE_DRAIN] = "drain",
	[CW_CLOSE_LIMIT] = "limit",
	[CW_CLOSE_LOCAL] = "local",
};

const char *cw_close_reason_name(enum cw_close_reason r)
{
	return (unsigned)r < CW_CLOSE_REASON_MAX ? reason_names[r] : "unknown";
}

void cw_policy_init(struct cw_policy *p)
{
	*p = (struct cw_policy){
		.heartbeat = "\n",
		.heartbeat_len = 1,
		.keepidle_s = CW_KEEPALIVE_SYSTEM,
		.keepintvl_s = CW_KEEPALIVE_SYSTEM,
		.keepcnt = CW_KEEPALIVE_SYSTEM,
		.user_timeout_ms = CW_USER_TIMEOUT_AUTO,
		.close_mode = CW_CLOSE_GRACEFUL,
		.linger_ms = 5000,
		.half_close_ms = 5000,
		.out_cap = 256 * 1024,
		.nodelay = true,
	};
}

int64_t cw_policy_user_timeout(const struct cw_policy *p)
{
	int idle = p->keepidle_s, intvl = p->keepintvl_s, cnt = p->keepcnt;
	int sidle, sintvl, scnt;

	if (p->user_timeout_ms >= 0)
		return p->user_timeout_ms;
	if (!p->keepalive)
		return 0;
	/* A peer that vanishes while we have data in flight is never probed by
	 * keepalive; a user timeout of the same length finds it as fast. */
	cw_sockopt_sys_keepalive(&sidle, &sintvl, &scnt); /* unreadable: Linux's defaults */
	if (idle < 0)
		idle = sidle;
	if (intvl < 0)
		intvl = sintvl;
	if (cnt < 0)
		cnt = scnt;
	return ((int64_t)idle + (int64_t)intvl * cnt) * 1000;
}

int cw_policy_apply(const struct cw_policy *p, int fd)
{
	int64_t ut = cw_policy_user_timeout(p);
	int err = 0;

	if (p->nodelay)
		err = cw_sockopt_nodelay(fd);
	if (!err && p->keepalive)
		err = cw_sockopt_keepalive(fd, p->keepidle_s, p->keepintvl_s, p->keepcnt);
	if (!err && ut > 0)
		err = cw_sockopt_user_timeout(fd, ut > (int64_t)INT32_MAX ? (unsigned)INT32_MAX : (unsigned)ut);
	return err;
}

static bool is_timeout(enum cw_close_reason r)
{
	return r == CW_CLOSE_IDLE || r == CW_CLOSE_READ_IDLE || r == CW_CLOSE_WRITE_STALL ||
	       r == CW_CLOSE_HALF_CLOSE_TIMEOUT;
}

/* Ends where the peer has finished sending, the socket is dead, or we never
 * read anything: a plain close(), nothing to linger for and no reason to
 * reset. The policy's close mode is for ends we choose. */
static bool ends_plainly(enum cw_close_reason r)
{
	switch (r) {
	case CW_CLOSE_EOF:
	case CW_CLOSE_RESET:
	case CW_CLOSE_ERROR:
	case CW_CLOSE_KEEPALIVE:
	case CW_CLOSE_USER_TIMEOUT:
	case CW_CLOSE_LIMIT:
		return true;
	default:
		return false;
	}
}

enum end_how policy_end_how(const struct cw_policy *p, enum cw_close_reason r)
{
	if (p->reset_timedout && is_timeout(r))
		return END_ABORT; /* nginx's reset_timedout_connection */
	if (ends_plainly(r))
		return END_PLAIN;
	return p->close_mode == CW_CLOSE_ABORT ? END_ABORT : END_GRACEFUL;
}
