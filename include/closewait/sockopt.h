/* Socket options on an fd, one function each, with why the values are what
 * they are. A server or dialer sets them from its policy (conn.h); these are
 * for sockets the application makes itself.
 *
 *	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
 *	int err = cw_sockopt_reuseaddr(fd);
 *	if (!err)
 *		err = cw_sockopt_keepalive(fd, 30, 5, 3); // dead peer found in 45 s
 *	if (!err)
 *		err = cw_sockopt_user_timeout(fd, 45000);
 *	...
 *	err = cw_sockopt_error(fd); // after a non-blocking connect: 0 or -ECONNREFUSED...
 *
 * Every function returns 0 or -errno (-EBADF, -ENOTSOCK... from setsockopt
 * or getsockopt).
 */
#ifndef CLOSEWAIT_SOCKOPT_H
#define CLOSEWAIT_SOCKOPT_H

#pragma GCC visibility push(default)

/* Linux's built-in keepalive values (net.ipv4.tcp_keepalive_time, _intvl,
 * _probes as the kernel ships them): a dead idle peer is found after 2 h 11
 * min. cw_sockopt_sys_keepalive gives them for a sysctl it cannot read. */
#define CW_KEEPALIVE_DEFAULT_IDLE_S 7200
#define CW_KEEPALIVE_DEFAULT_INTVL_S 75
#define CW_KEEPALIVE_DEFAULT_CNT 9

/* SO_KEEPALIVE on, and each of TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT
 * that is >= 0 (a negative value keeps the system's). 0 or -errno; on an
 * error the options before it stay set. */
int cw_sockopt_keepalive(int fd, int idle_s, int intvl_s, int cnt);
/* SO_KEEPALIVE off. 0 or -errno. */
int cw_sockopt_keepalive_off(int fd);
/* TCP_USER_TIMEOUT: how long sent data may stay unacknowledged (or the peer's
 * window closed) before the kernel gives up with ETIMEDOUT. 0 = the kernel's
 * retransmission limit (tcp_retries2, about 15 minutes). 0 or -errno. */
int cw_sockopt_user_timeout(int fd, unsigned ms);
/* SO_LINGER {1, 0}: the next close() sends an RST and leaves no TIME_WAIT.
 * 0 or -errno. */
int cw_sockopt_linger_abort(int fd);
/* SO_REUSEADDR: bind while old connections of the address sit in TIME_WAIT.
 * 0 or -errno. */
int cw_sockopt_reuseaddr(int fd);
/* SO_REUSEPORT: several listeners (workers) share one port. 0 or -errno. */
int cw_sockopt_reuseport(int fd);
/* TCP_NODELAY: replies go out at once instead of waiting for an ACK (Nagle).
 * 0 or -errno. */
int cw_sockopt_nodelay(int fd);
/* The socket's pending error (SO_ERROR), which reading clears: 0 if there is
 * none, else that error as -errno (-ECONNREFUSED after a refused connect);
 * -errno of getsockopt itself (-ENOTSOCK, -EBADF) if it fails. */
int cw_sockopt_error(int fd);
/* This system's keepalive values (net.ipv4.tcp_keepalive_{time,intvl,probes},
 * of the caller's network namespace). 0 when all three were read; else the
 * -errno of the first that was not, each unread one set to its
 * CW_KEEPALIVE_DEFAULT_*: the outputs are always usable. */
int cw_sockopt_sys_keepalive(int *idle_s, int *intvl_s, int *cnt);

#pragma GCC visibility pop
#endif
