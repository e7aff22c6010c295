#include <errno.h>
#include <stdint.h>

#include "closewait/conn.h"
#include "closewait/sockopt.h"

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
