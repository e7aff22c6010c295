#include "census_netlink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The kernel sizes each dump message to the largest read it has seen, capped
 * at 32 KiB (netlink_dump, max_recvmsg_len): a bigger buffer gains nothing. */
#define NL_BUF 32768

/* inet_diag bytecode for the ports of f (NULL: none) and a cgroup (0: any):
 * an AND of clauses, each a port comparison, a cgroup comparison or, for
 * port (either end), sport OR dport. A clause that fails jumps 4 bytes past
 * the end (reject); reaching the end exactly accepts. The kernel's audit
 * follows the "yes" jumps, so every op lies on that chain: an OR reaches its
 * second comparison by "no", and its first one's success jumps over it with
 * a JMP (which always takes "no"), as ss does. */
static size_t request_bytecode(struct inet_diag_bc_op *op, const struct cw_filter *f,
			       uint64_t cgroup)
{
	size_t len = (cgroup ? 12 : 0);
	size_t at = 0; /* bytes */

	if (f)
		len += (f->port >= 0 ? 20 : 0) + (f->sport >= 0 ? 8 : 0) + (f->dport >= 0 ? 8 : 0);
#define OP(c, y, n) (op[at / 4] = (struct inet_diag_bc_op){ (c), (y), (uint16_t)(n) }, at += 4)
#define PORT(p) (op[at / 4] = (struct inet_diag_bc_op){ 0, 0, (uint16_t)(p) }, at += 4)
	if (f && f->port >= 0) {
		OP(INET_DIAG_BC_S_EQ, 8, 12);
		PORT(f->port);
		OP(INET_DIAG_BC_JMP, 4, 12);
		OP(INET_DIAG_BC_D_EQ, 8, len - at + 4);
		PORT(f->port);
	}
	if (f && f->sport >= 0) {
		OP(INET_DIAG_BC_S_EQ, 8, len - at + 4);
		PORT(f->sport);
	}
	if (f && f->dport >= 0) {
		OP(INET_DIAG_BC_D_EQ, 8, len - at + 4);
		PORT(f->dport);
	}
	if (cgroup) {
		/* the id follows the op, unaligned to 8 */
		OP(INET_DIAG_BC_CGROUP_COND, 12, len - at + 4);
		memcpy(&op[at / 4], &cgroup, sizeof(cgroup));
		at += sizeof(cgroup);
	}
#undef OP
#undef PORT
	return at;
}

size_t netlink_request(void *buf, int family, uint32_t states, const struct cw_filter *ports,
		       uint64_t cgroup, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = IPPROTO_TCP;
	/* Asking for SYN_RECV makes the kernel add request sockets
	 * (TCP_NEW_SYN_RECV), reported as SYN_RECV: what ss shows. An orphaned
	 * FIN_WAIT_2 end is a timewait socket (tcp_time_wait(sk, TCP_FIN_WAIT2,
	 * tmo)): the kernel filters it as TIME_WAIT and reports it as FIN_WAIT_2,
	 * so asking for FIN_WAIT_2 must ask for TIME_WAIT too (netlink_dump_tcp
	 * drops the TIME_WAIT ones nobody asked for). */
	states = states ? states : CW_STATES_ALL;
	if (states & CW_STATE_BIT(CW_TCP_FIN_WAIT2))
		states |= CW_STATE_BIT(CW_TCP_TIME_WAIT);
	req->idiag_states = states;
	req->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	{
		struct inet_diag_bc_op bc[16];
		size_t len = request_bytecode(bc, ports, cgroup);

		if (len)
			mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, len, bc);
	}
	return nlh->nlmsg_len;
}

static void endpoint_set(struct cw_endpoint *e, int family, const __be32 *a, __be16 port)
{
	memset(&e->addr, 0, sizeof(e->addr));
	if (family == AF_INET) {
		e->addr.s6_addr[10] = 0xff;
		e->addr.s6_addr[11] = 0xff;
		memcpy(&e->addr.s6_addr[12], a, 4);
	} else {
		memcpy(&e->addr, a, 16);
	}
	e->port = ntohs(port);
}

static void info_set(struct cw_sock *s, const struct nlattr *a)
{
	struct tcp_info ti;
	size_t len = mnl_attr_get_payload_len(a);

	/* Older kernels send a shorter struct; newer ones a longer one. */
	memset(&ti, 0, sizeof(ti));
	memcpy(&ti, mnl_attr_get_payload(a), len < sizeof(ti) ? len : sizeof(ti));
	if (len < offsetof(struct tcp_info, tcpi_rtt) + sizeof(ti.tcpi_rtt))
		return;
	s->lastsnd_ms = ti.tcpi_last_data_sent;
	s->lastrcv_ms = ti.tcpi_last_data_recv;
	s->lastack_ms = ti.tcpi_last_ack_recv;
	s->rtt_us = ti.tcpi_rtt;
	s->has_info = true;
}

static int msg_to_sock(const struct nlmsghdr *nlh, struct cw_sock *s)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	const char *tail = (const char *)nlh + nlh->nlmsg_len;
	const struct nlattr *a;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EBADMSG;
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EBADMSG;
	/* Only the states asked for come back; a state past the census's
	 * names would also shift CW_STATE_BIT past its 32 bits. */
	if (m->idiag_state >= CW_TCP_MAX_STATE)
		return -EBADMSG;
	memset(s, 0, sizeof(*s));
	s->family = m->idiag_family;
	s->state = m->idiag_state;
	endpoint_set(&s->local, m->idiag_family, m->id.idiag_src, m->id.idiag_sport);
	endpoint_set(&s->peer, m->idiag_family, m->id.idiag_dst, m->id.idiag_dport);
	s->inode = m->idiag_inode;
	s->uid = m->idiag_uid;
	s->rqueue = m->idiag_rqueue;
	s->wqueue = m->idiag_wqueue;
	s->timer = m->idiag_timer <= CW_SOCK_TIMER_PROBE0 ? m->idiag_timer : CW_SOCK_TIMER_NONE;
	s->timer_ms = s->timer ? m->idiag_expires : 0;
	s->retrans = m->idiag_retrans;
	s->lastsnd_ms = s->lastrcv_ms = s->lastack_ms = CW_MS_UNKNOWN;
	/* Up to nlmsg_len, not to its aligned end (mnl_attr_for_each): the
	 * last message of a buffer need not be padded. */
	for (a = (const struct nlattr *)((const char *)nlh + NLMSG_SPACE(sizeof(*m)));
	     mnl_attr_ok(a, (int)(tail - (const char *)a)); a = mnl_attr_next(a)) {
		if (mnl_attr_get_type(a) == INET_DIAG_INFO)
			info_set(s, a);
		/* Sent for full sockets on kernels from 5.7 on, unasked. */
		else if (mnl_attr_get_type(a) == INET_DIAG_CGROUP_ID &&
			 mnl_attr_get_payload_len(a) == sizeof(uint64_t))
			s->cgroup_id = mnl_attr_get_u64(a);
	}
	return 0;
}

ssize_t netlink_recv(int fd, void *buf, size_t len, int flags)
{
	for (;;) {
		struct sockaddr_nl from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, len, flags, (struct sockaddr *)&from, &flen);

		if (n < 0)
			return -errno;
		if (flen == sizeof(from) && from.nl_pid == 0)
			return n;
	}
}

int netlink_parse(const void *buf, size_t len, netlink_sock_cb cb, void *arg)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	/* mnl_nlmsg_ok compares the length as an int: one of 2 GiB or more
	 * would pass and send mnl_nlmsg_next outside the buffer. */
	while (mnl_nlmsg_ok(nlh, left) && nlh->nlmsg_len <= (uint32_t)left) {
		struct cw_sock s;
		int err;

		if (nlh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			/* a -errno (MAX_ERRNO 4095), or the message is bad: a
			 * positive one would read as "done" or "more to come" */
			return e->error < 0 && e->error > -4096 ? e->error : -EBADMSG;
		}
		if (nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
			err = msg_to_sock(nlh, &s);
			if (!err)
				err = cb(&s, arg);
			if (err)
				return err;
		}
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	return 0;
}

struct state_filter {
	uint32_t states;
	netlink_sock_cb cb;
	void *arg;
};

static int filter_cb(const struct cw_sock *s, void *arg)
{
	const struct state_filter *f = arg;

	return f->states & CW_STATE_BIT(s->state) ? f->cb(s, f->arg) : 0;
}

int netlink_dump_tcp(int family, uint32_t states, const struct cw_filter *ports, netlink_sock_cb cb,
		     void *arg)
{
	struct state_filter sf = { states ? states : CW_STATES_ALL, cb, arg };
	const size_t bufsz = NL_BUF;
	char req[NETLINK_REQ_MAX];
	char *buf;
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	uint32_t seq = (uint32_t)time(NULL);
	size_t len;
	int err = 0;

	if (!nl)
		return -errno;
	buf = malloc(bufsz);
	if (!buf) {
		err = -ENOMEM;
		goto fail_buf;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto fail;
	}
	len = netlink_request(req, family, states, ports, 0, seq);
	if (mnl_socket_sendto(nl, req, len) < 0) {
		err = -errno;
		goto fail;
	}
	while (!err) {
		ssize_t n = netlink_recv(mnl_socket_get_fd(nl), buf, bufsz, MSG_TRUNC);

		if (n == -EINTR)
			continue;
		if (n < 0) {
			err = (int)n;
			break;
		}
		if ((size_t)n > bufsz) {
			err = -ENOSPC;
			break;
		}
		if (n == 0) {
			err = -EBADMSG;
			break;
		}
		err = netlink_parse(buf, (size_t)n, filter_cb, &sf);
	}
	if (err == 1)
		err = 0;
	/* A kernel built without IPv6 has no AF_INET6 handler: nothing to count. */
	if (family == AF_INET6 && (err == -ENOENT || err == -EAFNOSUPPORT))
		err = 0;
fail:
	free(buf);
fail_buf:
	mnl_socket_close(nl);
	return err;
}
