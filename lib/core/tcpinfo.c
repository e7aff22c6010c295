#include "tcpinfo.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

int tcpinfo_read(int fd, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) < 0 ? -errno : 0;
}

enum cw_close_reason tcpinfo_timeout_reason(const struct tcp_info *ti)
{
	/* bytes_sent counts retransmissions too; take them out to compare
	 * original data with what was acknowledged. */
	__u64 original = ti->tcpi_bytes_sent - ti->tcpi_bytes_retrans;
	int in_flight = ti->tcpi_retransmits > 0 || original > ti->tcpi_bytes_acked;

	if (in_flight)
		return CW_CLOSE_USER_TIMEOUT;
	if (ti->tcpi_probes > 0 && ti->tcpi_snd_wnd > 0)
		return CW_CLOSE_KEEPALIVE;
	return CW_CLOSE_USER_TIMEOUT; /* zero-window probes, or no probe at all */
}
