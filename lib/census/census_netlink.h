/* NETLINK_SOCK_DIAG dumps of TCP sockets (private). The dump and the receive
 * are part of what the census offers the rest of the library; here, what
 * the census alone uses: the parser, apart from the socket so that tests
 * feed it recorded dumps, and the request. */
#ifndef CW_CENSUS_NETLINK_H
#define CW_CENSUS_NETLINK_H

#include <stddef.h>
#include <stdint.h>

#include "census_lib.h"

/* Parses one buffer of dump replies. Returns 1 when the dump is complete
 * (NLMSG_DONE), 0 when more is to come, or -errno (NLMSG_ERROR, a bad message,
 * or the callback's value). */
int netlink_parse(const void *buf, size_t len, netlink_sock_cb cb, void *arg);
/* Builds the request: fills buf (at least NETLINK_REQ_MAX bytes), returns its
 * length. ports (NULL: any) and cgroup (a cgroup v2 id; 0: any) are applied
 * by the kernel; its audit refuses a cgroup condition (EINVAL) when it was
 * built without socket cgroup data. */
#define NETLINK_REQ_MAX 256
size_t netlink_request(void *buf, int family, uint32_t states, const struct cw_filter *ports,
		       uint64_t cgroup, uint32_t seq);

#endif
