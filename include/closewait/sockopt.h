/* Socket options, one function each, with why the values are what they are.
 * All return 0 or -errno. */
#ifndef CLOSEWAIT_SOCKOPT_H
#define CLOSEWAIT_SOCKOPT_H

/* SO_KEEPALIVE on, and each of TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT
 * that is >= 0 (a negative value keeps the system's). */
int cw_sock_keepalive(int fd, int idle_s, int intvl_s, int cnt);
int cw_sock_keepalive_off(int fd);
/* TCP_USER_TIMEOUT: how long sent data may stay unacknowledged (or the peer's
 * window closed) before the kernel gives up with ETIMEDOUT. 0 = the kernel's
 * retransmission limit (tcp_retries2, about 15 minutes). */
int cw_sock_user_timeout(int fd, unsigned ms);
/* SO_LINGER {1, 0}: the next close() sends an RST and leaves no TIME_WAIT. */
int cw_sock_linger_abort(int fd);
/* SO_REUSEADDR: bind while old connections of the address sit in TIME_WAIT. */
int cw_sock_reuseaddr(int fd);
/* SO_REUSEPORT: several listeners (workers) share one port. */
int cw_sock_reuseport(int fd);
/* TCP_NODELAY: replies go out at once instead of waiting for an ACK (Nagle). */
int cw_sock_nodelay(int fd);
/* The pending socket error (SO_ERROR, which clears it), as a positive errno. */
int cw_sock_error(int fd);
/* The system's keepalive defaults (net.ipv4.tcp_keepalive_{time,intvl,probes}). */
int cw_sys_keepalive(int *idle_s, int *intvl_s, int *cnt);

#endif
