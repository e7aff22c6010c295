/* Two network namespaces joined by a veth pair, and TCP segments made by
 * hand. The lab's own namespace ("home", 10.77.0.1) keeps the server whose
 * states and counters the steps show; a second one ("peer", 10.77.0.2)
 * sends the crafted segments through a raw socket and captures what comes
 * back with a packet socket on its end of the veth. Loopback would not do:
 * there one stack would answer itself. The peer's own kernel would answer
 * the replies to crafted segments with resets of its own; an nft table in
 * the peer drops what its kernel sends from the crafted ports, never what
 * the raw socket sends (marked). The peer namespace, the veth and the
 * table are named by no path: they go with the lab's process. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../cli.h"
#include "closewait/census.h"
#include "lab.h"

#define HOME_IF "cwlab0"
#define PEER_IF "cwlab1"
/* The raw socket's mark: the nft rule lets these through. */
#define RAW_MARK 0xc105e

/* ---- the veth pair, by rtnetlink ---- */

struct nlreq {
	struct nlmsghdr h;
	struct ifinfomsg i;
	char attrs[256];
};

static struct rtattr *attr(struct nlreq *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

/* Closes a nested attribute opened by attr(r, type, NULL, 0). */
static void nest_end(struct nlreq *r, struct rtattr *a)
{
	a->rta_len = (unsigned short)((char *)r + r->h.nlmsg_len - (char *)a);
}

/* HOME_IF here, PEER_IF in the namespace peer_ns. */
static int veth_add(int peer_ns)
{
	struct nlreq r = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
				  .nlmsg_type = RTM_NEWLINK,
				  .nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL |
						 NLM_F_ACK },
			   .i = { .ifi_family = AF_UNSPEC } };
	struct rtattr *info, *data, *peer;
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	char buf[512];
	uint32_t fd = (uint32_t)peer_ns;
	int err = 0, s;
	ssize_t n;

	attr(&r, IFLA_IFNAME, HOME_IF, sizeof(HOME_IF));
	info = attr(&r, IFLA_LINKINFO, NULL, 0);
	attr(&r, IFLA_INFO_KIND, "veth", 5);
	data = attr(&r, IFLA_INFO_DATA, NULL, 0);
	peer = attr(&r, VETH_INFO_PEER, &pi, sizeof(pi));
	attr(&r, IFLA_IFNAME, PEER_IF, sizeof(PEER_IF));
	attr(&r, IFLA_NET_NS_FD, &fd, sizeof(fd));
	nest_end(&r, peer);
	nest_end(&r, data);
	nest_end(&r, info);
	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	if (sendto(s, &r, r.h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		err = -errno;
	else if ((n = recv(s, buf, sizeof(buf), 0)) < (ssize_t)NLMSG_LENGTH(sizeof(int)))
		err = n < 0 ? -errno : -EPROTO;
	else if (((struct nlmsghdr *)buf)->nlmsg_type == NLMSG_ERROR)
		err = ((struct nlmsgerr *)NLMSG_DATA(buf))->error;
	close(s);
	return err;
}

/* Brings ifname up with ip/24, in this namespace. */
static int link_up(const char *ifname, const char *ip)
{
	struct ifreq r = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&r.ifr_addr;
	int err = 0, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", ifname);
	a->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin_addr);
	if (ioctl(fd, SIOCSIFADDR, &r))
		err = -errno;
	inet_pton(AF_INET, "255.255.255.0", &a->sin_addr);
	if (!err && ioctl(fd, SIOCSIFNETMASK, &r))
		err = -errno;
	if (!err && ioctl(fd, SIOCGIFFLAGS, &r))
		err = -errno;
	r.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &r))
		err = -errno;
	close(fd);
	return err;
}

/* The sockets of the peer: made while in it, they stay there. */
static int peer_sockets(struct lab_net *n)
{
	/* ETH_P_ALL: a socket of one protocol sees what arrives, not what leaves. */
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int mark = RAW_MARK;

	n->raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (n->raw < 0 || setsockopt(n->raw, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)))
		return -errno;
	n->cap = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (n->cap < 0)
		return -errno;
	ll.sll_ifindex = (int)if_nametoindex(PEER_IF);
	if (!ll.sll_ifindex || bind(n->cap, (struct sockaddr *)&ll, sizeof(ll)))
		return -errno;
	return 0;
}

static int peer_nft(uint16_t lo, uint16_t hi)
{
	char cmd[160];
	int err = lab_nft("add table inet cwlab");

	if (err == -ENOENT)
		cli_warn("lab", "the crafting side silences its own kernel with nft: install nftables");
	if (!err)
		err = lab_nft("add chain inet cwlab out { type filter hook output priority 0; }");
	snprintf(cmd, sizeof(cmd), "add rule inet cwlab out tcp sport %u-%u meta mark != %#x drop",
		 lo, hi, RAW_MARK);
	if (!err && hi)
		err = lab_nft(cmd);
	return err;
}

static int setup(struct lab_net *n, uint16_t lo, uint16_t hi)
{
	int err;

	/* In the peer, where unshare() left us: its loopback, its nft table. */
	if ((err = lab_lo_up()) || (err = peer_nft(lo, hi)))
		return err;
	/* The pair, made at home with its other end in the peer. */
	if ((err = lab_net_enter(n, false)) || (err = veth_add(n->peer))) {
		if (err == -EOPNOTSUPP)
			cli_warn("lab", "this kernel makes no veth pair (its veth driver is missing)");
		return err;
	}
	if ((err = link_up(HOME_IF, LAB_NET_HOME)) || (err = lab_net_enter(n, true)) ||
	    (err = link_up(PEER_IF, LAB_NET_PEER)))
		return err;
	return peer_sockets(n);
}

int lab_net_open(struct lab_net *n, uint16_t lo, uint16_t hi)
{
	int err;

	*n = (struct lab_net){ .home = -1, .peer = -1, .raw = -1, .cap = -1 };
	n->home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (n->home < 0)
		return -errno;
	if (unshare(CLONE_NEWNET))
		return -errno;
	n->peer = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	err = n->peer < 0 ? -errno : setup(n, lo, hi);
	/* Home again, whatever happened. */
	if (setns(n->home, CLONE_NEWNET) && !err)
		err = -errno;
	return err;
}

void lab_net_close(struct lab_net *n)
{
	int *fds[] = { &n->home, &n->peer, &n->raw, &n->cap };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

int lab_net_enter(struct lab_net *n, bool peer)
{
	return setns(peer ? n->peer : n->home, CLONE_NEWNET) ? -errno : 0;
}

int lab_net_quiet(struct lab_net *n, uint16_t port)
{
	char cmd[128];
	int err = lab_net_enter(n, true), back;

	snprintf(cmd, sizeof(cmd), "add rule inet cwlab out tcp sport %u meta mark != %#x drop",
		 port, RAW_MARK);
	if (!err)
		err = lab_nft(cmd);
	back = lab_net_enter(n, false);
	return err ? err : back;
}

int lab_net_connect(struct lab_net *n, uint16_t port, uint16_t *local)
{
	int err = lab_net_enter(n, true), fd, back;

	fd = err ? err : lab_connect_at(LAB_NET_PEER, false, LAB_NET_HOME, port);
	back = lab_net_enter(n, false);
	if (fd >= 0 && back) {
		close(fd);
		return back;
	}
	if (fd >= 0)
		*local = (uint16_t)lab_local_port(fd);
	return fd;
}

int lab_net_state(struct lab_net *n, uint16_t port)
{
	int err = lab_net_enter(n, true), state;

	state = err ? err : lab_state_quick(port, false);
	err = lab_net_enter(n, false);
	return err ? err : state;
}

/* ---- segments ---- */

static uint32_t sum16(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

/* The one's complement of the folded sum, in host order (put16 orders it). */
static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Network byte order, at any alignment. */
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

int lab_seg_send(struct lab_net *n, const struct lab_seg *s, const void *data, size_t len)
{
	uint8_t pkt[128] = { 0 }, *tcp = pkt + sizeof(struct iphdr);
	struct iphdr ip = { .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_TCP };
	size_t hl = s->ts ? 32 : 20, total = sizeof(ip) + hl + len;
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint32_t pseudo;

	if (total > sizeof(pkt))
		return -EMSGSIZE;
	ip.tot_len = htons((uint16_t)total);
	inet_pton(AF_INET, LAB_NET_PEER, &ip.saddr);
	inet_pton(AF_INET, LAB_NET_HOME, &ip.daddr);
	memcpy(pkt, &ip, sizeof(ip));
	put16(tcp, s->sport);
	put16(tcp + 2, s->dport);
	put32(tcp + 4, s->seq);
	put32(tcp + 8, s->ack);
	tcp[12] = (uint8_t)(hl / 4 << 4);
	tcp[13] = s->flags;
	put16(tcp + 14, s->win ? s->win : 64240);
	if (s->ts) {
		/* NOP, NOP, then kind 8 length 10: the RFC 7323 layout. */
		tcp[20] = 1, tcp[21] = 1, tcp[22] = 8, tcp[23] = 10;
		put32(tcp + 24, s->tsval);
		put32(tcp + 28, s->tsecr);
	}
	if (len)
		memcpy(tcp + hl, data, len);
	/* The pseudo-header: addresses, protocol, TCP length. The IP
	 * header's checksum is the kernel's (IP_HDRINCL fills it in). */
	pseudo = sum16(&ip.saddr, 8, IPPROTO_TCP + (uint32_t)(hl + len));
	put16(tcp + 16, fold(sum16(tcp, hl + len, pseudo)));
	to.sin_addr.s_addr = ip.daddr;
	if (sendto(n->raw, pkt, total, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)total)
		return -errno;
	return 0;
}

static bool parse(const uint8_t *p, size_t len, struct lab_seg *s)
{
	struct iphdr ip;
	const uint8_t *t;
	size_t ihl, hl, tot;

	if (len < sizeof(ip))
		return false;
	memcpy(&ip, p, sizeof(ip));
	if (ip.version != 4 || ip.protocol != IPPROTO_TCP)
		return false;
	ihl = ip.ihl * 4u;
	tot = ntohs(ip.tot_len);
	if (tot > len || ihl + 20 > tot)
		return false;
	t = p + ihl;
	hl = (t[12] >> 4) * 4u;
	if (hl < 20 || ihl + hl > tot)
		return false;
	*s = (struct lab_seg){ .sport = get16(t), .dport = get16(t + 2), .seq = get32(t + 4),
			       .ack = get32(t + 8), .flags = t[13], .win = get16(t + 14),
			       .len = (uint16_t)(tot - ihl - hl) };
	for (size_t i = 20; i < hl;) {
		uint8_t kind = t[i];

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hl || t[i + 1] < 2 || i + t[i + 1] > hl)
			break;
		if (kind == 8 && t[i + 1] == 10) {
			s->ts = true;
			s->tsval = get32(t + i + 2);
			s->tsecr = get32(t + i + 6);
		}
		i += t[i + 1];
	}
	return true;
}

int lab_seg_recv(struct lab_net *n, uint16_t port, struct lab_seg *s, unsigned ms)
{
	uint64_t end = cli_now_ms() + ms;

	for (;;) {
		uint8_t buf[2048];
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(n->cap, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		uint64_t now;

		if (len >= 0) {
			if (from.sll_protocol != htons(ETH_P_IP) || !parse(buf, (size_t)len, s))
				continue;
			s->out = from.sll_pkttype == PACKET_OUTGOING;
			if ((s->out ? s->sport : s->dport) == port)
				return 0;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		now = cli_now_ms();
		if (now >= end)
			return -ETIMEDOUT;
		poll(&(struct pollfd){ .fd = n->cap, .events = POLLIN }, 1, (int)(end - now));
	}
}

void lab_seg_flush(struct lab_net *n)
{
	uint8_t buf[2048];

	while (recv(n->cap, buf, sizeof(buf), 0) >= 0)
		;
}

const char *lab_seg_flags(uint8_t flags, char *buf, size_t len)
{
	/* In the order people say them: SYN+ACK, SYN+FIN. */
	static const struct { uint8_t bit; const char *name; } names[] = {
		{ TH_SYN, "SYN" }, { TH_FIN, "FIN" }, { TH_RST, "RST" }, { TH_PUSH, "PSH" },
		{ TH_ACK, "ACK" }, { TH_URG, "URG" },
	};
	size_t k = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((flags & names[i].bit) && k < len)
			k += (size_t)snprintf(buf + k, len - k, "%s%s", k ? "+" : "", names[i].name);
	return buf;
}

int lab_seg_replies(struct lab_net *n, uint16_t port, struct lab_seg *first, unsigned ms)
{
	uint64_t end = cli_now_ms() + ms;
	int k = 0;

	for (;;) {
		uint64_t now = cli_now_ms();
		struct lab_seg s;
		int err;

		if (now >= end)
			return k;
		err = lab_seg_recv(n, port, &s, (unsigned)(end - now));
		if (err == -ETIMEDOUT)
			return k;
		if (err)
			return err;
		if (!s.out && !k++)
			*first = s;
	}
}

/* Sequence space used by s: its data, and one each for SYN and FIN. */
static uint32_t seg_end(const struct lab_seg *s)
{
	return s->seq + s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN);
}

static void later(uint32_t *v, uint32_t x, bool *seen)
{
	if (!*seen || (int32_t)(x - *v) > 0)
		*v = x;
	*seen = true;
}

int lab_flow_read(struct lab_net *n, uint16_t port, struct lab_flow *f, unsigned ms)
{
	struct lab_seg s;
	int err;

	while (!(err = lab_seg_recv(n, port, &s, ms))) {
		bool any = f->tsval_seen;

		if (s.out) {
			later(&f->out_nxt, seg_end(&s), &f->out_seen);
			if (s.ts)
				later(&f->tsval, s.tsval, &any);
			f->tsval_seen = any;
		} else {
			later(&f->in_nxt, seg_end(&s), &f->in_seen);
			/* A client offers timestamps in its SYN; the connection has
			 * them if the server's segments carry them too. */
			f->ts |= s.ts;
		}
	}
	return err == -ETIMEDOUT ? 0 : err;
}

long long lab_counter_moved(struct lab *lab, const char *name)
{
	struct lab_counters *now = lab_counters_read();
	long long d = 0;

	for (size_t i = 0; i < lab_counters_count(now); i++)
		if (!strcmp(lab_counters_name(now, i), name))
			d = lab_counters_delta(now, lab->seen, i);
	lab_counters_free(now);
	return d;
}
