/* sock_diag requests about one socket (private): the exact lookup reap uses
 * to re-check a socket's identity, and SOCK_DESTROY (what `ss -K` sends). */
#ifndef CW_REAP_DIAG_H
#define CW_REAP_DIAG_H

#include <stdint.h>

#include "closewait/census_types.h"

struct reap_diag;

/* A NETLINK_SOCK_DIAG socket of the network namespace nsfd (-1: ours): it
 * finds and destroys sockets of that namespace only. 0 or -errno. */
int reap_diag_open(int nsfd, struct reap_diag **out);
void reap_diag_close(struct reap_diag *d);

struct reap_diag_found {
	uint32_t inode;               /* 0: no file (orphan, TIME_WAIT) */
	uint8_t state;
	uint32_t cookie[2];           /* the kernel's socket cookie, for destroy */
};
/* Looks up the socket of s's family with s's address pair (the kernel's
 * established / listening hash lookup, as for a packet). 0, -ENOENT when no
 * socket has them, or -errno. */
int reap_diag_get(struct reap_diag *d, const struct cw_sock *s, struct reap_diag_found *f);
/* Destroys that socket if its cookie still matches (so a new connection
 * that took the address pair is not touched): 0, -ESTALE (another socket
 * now), -ENOENT (gone), -EPERM (no CAP_NET_ADMIN), -EOPNOTSUPP (kernel
 * without CONFIG_INET_DIAG_DESTROY), or -errno. */
int reap_diag_destroy(struct reap_diag *d, const struct cw_sock *s, const uint32_t cookie[2]);

/* How long a request waits for its answer. The kernel answers before the
 * send returns; this only bounds an answer that never comes. */
#define REAP_DIAG_WAIT_MS 1000
/* The receive half of a request: reads the NETLINK_SOCK_DIAG socket fd
 * (into buf) until the answer to request seq, for at most wait_ms in all.
 * 0 with f filled (f NULL: a destroy, answered by an acknowledgement), the
 * kernel's -errno, -ETIMEDOUT when no answer came in time, or -errno. */
int reap_diag_recv(int fd, void *buf, size_t len, uint32_t seq, uint64_t wait_ms,
		   struct reap_diag_found *f);

/* Builds either request into buf (at least 128 bytes); returns its length. */
size_t reap_diag_request(void *buf, uint16_t type, const struct cw_sock *s, const uint32_t cookie[2],
			 uint32_t seq);

#endif
