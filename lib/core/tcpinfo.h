/* Reading tcp_info and telling timeouts apart (private). */
#ifndef CW_TCPINFO_H
#define CW_TCPINFO_H

#include <linux/tcp.h>

#include "closewait/conn.h"

int tcpinfo_read(int fd, struct tcp_info *ti);
/* Which timeout ended a connection that failed with ETIMEDOUT. By then the
 * kernel has purged the write queue (tcpi_unacked reads 0), so the answer
 * comes from what survives: data that went unacknowledged (retransmits, or
 * more original bytes sent than acked) or a closed window (probes with
 * snd_wnd 0) mean the user timeout; probes with an open window and nothing
 * in flight mean keepalive. */
enum cw_close_reason tcpinfo_timeout_reason(const struct tcp_info *ti);

#endif
