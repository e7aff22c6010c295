#include "reap_diag.h"
#include "clock.h"
#include "census/census_lib.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Replies are one inet_diag_msg (no extensions asked for) or an error with
 * the request echoed: a few hundred bytes. */
#define DIAG_BUF 8192

struct reap_diag {
	struct mnl_socket *nl;
	uint32_t seq;
	char buf[DIAG_BUF];
};

int reap_diag_open(int nsfd, struct reap_diag **out)
{
	struct reap_diag *d = calloc(1, sizeof(*d));
	int fd, err;

	if (!d)
		return -ENOMEM;
	fd = census_netns_socket(nsfd, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	d->nl = mnl_socket_fdopen(fd);
	if (!d->nl) {
		err = -errno;
		close(fd);
		goto fail;
	}
	if (mnl_socket_bind(d->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto fail_sock;
	}
	d->seq = (uint32_t)time(NULL);
	*out = d;
	return 0;
fail_sock:
	mnl_socket_close(d->nl);
fail:
	free(d);
	return err;
}

void reap_diag_close(struct reap_diag *d)
{
	if (!d)
		return;
	mnl_socket_close(d->nl);
	free(d);
}

/* The census keeps IPv4 addresses IPv4-mapped; the kernel wants them in
 * the first word for AF_INET, and as they are for AF_INET6. */
static void put_addr(__be32 *dst, int family, const struct in6_addr *a)
{
	if (family == AF_INET)
		memcpy(dst, &a->s6_addr[12], 4);
	else
		memcpy(dst, a, 16);
}

size_t reap_diag_request(void *buf, uint16_t type, const struct cw_sock *s, const uint32_t cookie[2],
			 uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;

	nlh->nlmsg_type = type;
	/* No NLM_F_DUMP: an exact lookup (inet_diag_cmd_exact). Destroy is
	 * acknowledged so that success is seen too; a lookup answers with the
	 * socket, or with an error. */
	nlh->nlmsg_flags = NLM_F_REQUEST | (type == SOCK_DESTROY ? NLM_F_ACK : 0);
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = s->family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0u;
	req->id.idiag_sport = htons(s->local.port);
	req->id.idiag_dport = htons(s->peer.port);
	put_addr(req->id.idiag_src, s->family, &s->local.addr);
	put_addr(req->id.idiag_dst, s->family, &s->peer.addr);
	req->id.idiag_cookie[0] = cookie ? cookie[0] : INET_DIAG_NOCOOKIE;
	req->id.idiag_cookie[1] = cookie ? cookie[1] : INET_DIAG_NOCOOKIE;
	return nlh->nlmsg_len;
}

/* One datagram from the kernel without blocking: the answer is normally
 * queued already, so the wait (poll) is paid only when it is not. What
 * other processes send to our port id is dropped (netlink_recv), so it can
 * neither answer for the kernel nor keep the wait from ending. */
static ssize_t recv_by(int fd, void *buf, size_t len, uint64_t deadline)
{
	for (;;) {
		/* MSG_TRUNC: the datagram's real length, to refuse a cut one. */
		ssize_t n = netlink_recv(fd, buf, len, MSG_DONTWAIT | MSG_TRUNC);
		uint64_t now;
		int left;

		if (n > (ssize_t)len)
			return -ENOSPC;
		if (n >= 0)
			return n;
		if (n == -EINTR)
			continue;
		if (n != -EAGAIN)
			return n;
		now = clock_ms(CLOCK_MONOTONIC);
		if (now >= deadline)
			return -ETIMEDOUT;
		left = deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
		if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, left) < 0 && errno != EINTR)
			return -errno;
	}
}

int reap_diag_recv(int fd, void *buf, size_t len, uint32_t seq, uint64_t wait_ms,
		   struct reap_diag_found *f)
{
	uint64_t start = clock_ms(CLOCK_MONOTONIC);
	/* In all, not per datagram: messages that are not the answer must not
	 * keep it waiting. */
	uint64_t deadline = clock_after(start, wait_ms);

	for (;;) {
		ssize_t n = recv_by(fd, buf, len, deadline);
		const struct nlmsghdr *nlh = buf;
		int left = (int)n;

		if (n <= 0)
			return n < 0 ? (int)n : -EBADMSG;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_seq != seq)
				continue; /* a late answer to an earlier request */
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EBADMSG;
				return e->error;
			}
			if (nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY && f) {
				const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
					return -EBADMSG;
				f->inode = m->idiag_inode;
				f->state = m->idiag_state;
				f->cookie[0] = m->id.idiag_cookie[0];
				f->cookie[1] = m->id.idiag_cookie[1];
				return 0;
			}
		}
	}
}

/* Sends one request and reads until its answer: the socket (f), or the
 * error / acknowledgement. */
static int transact(struct reap_diag *d, uint16_t type, const struct cw_sock *s,
		    const uint32_t cookie[2], struct reap_diag_found *f)
{
	char req[256];
	uint32_t seq = ++d->seq;
	size_t len = reap_diag_request(req, type, s, cookie, seq);

	if (mnl_socket_sendto(d->nl, req, len) < 0)
		return -errno;
	return reap_diag_recv(mnl_socket_get_fd(d->nl), d->buf, sizeof(d->buf), seq,
			      REAP_DIAG_WAIT_MS, f);
}

int reap_diag_get(struct reap_diag *d, const struct cw_sock *s, struct reap_diag_found *f)
{
	memset(f, 0, sizeof(*f));
	return transact(d, SOCK_DIAG_BY_FAMILY, s, NULL, f);
}

int reap_diag_destroy(struct reap_diag *d, const struct cw_sock *s, const uint32_t cookie[2])
{
	return transact(d, SOCK_DESTROY, s, cookie, NULL);
}
