/* NETLINK_SOCK_DIAG dumps of TCP sockets (private). The parser is apart from
 * the socket so that tests feed it recorded dumps. */
#ifndef CW_CENSUS_NETLINK_H
#define CW_CENSUS_NETLINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"

/* Called once per socket; a non-zero return stops the dump with that value. */
typedef int (*netlink_sock_cb)(const struct cw_sock *s, void *arg);

/* Dumps the TCP sockets of one family (AF_INET, AF_INET6) whose state is in
 * states (a CW_STATE_BIT mask), with tcp_info; ports (NULL: none) has its
 * port, sport and dport (-1: any) applied by the kernel. 0 or -errno. */
int netlink_dump_tcp(int family, uint32_t states, const struct cw_filter *ports, netlink_sock_cb cb,
		     void *arg);
/* Parses one buffer of dump replies. Returns 1 when the dump is complete
 * (NLMSG_DONE), 0 when more is to come, or -errno (NLMSG_ERROR, a bad message,
 * or the callback's value). */
int netlink_parse(const void *buf, size_t len, netlink_sock_cb cb, void *arg);
/* recv() of the next datagram the kernel sent (nl_pid 0) on a netlink
 * socket: any local process may send to a socket's port id, and what it
 * sends must neither pass for the kernel's answer nor be read as sockets, so
 * other datagrams are dropped. With MSG_TRUNC in flags the length returned
 * is the datagram's own, which may exceed len. -errno on failure. */
ssize_t netlink_recv(int fd, void *buf, size_t len, int flags);
/* Builds the request: fills buf (at least NETLINK_REQ_MAX bytes), returns its length. */
#define NETLINK_REQ_MAX 256
size_t netlink_request(void *buf, int family, uint32_t states, const struct cw_filter *ports,
		       uint32_t seq);

#endif
