/* Records sock_diag dumps for the netlink corpus: makes TCP sockets in most
 * states on loopback (run it in a private network namespace:
 * tests/fuzz/record-netlink), asks the kernel for them with the census's own
 * request (netlink_request), and writes each reply buffer as it came to
 * OUTDIR/ipv4-N and OUTDIR/ipv6-N.
 *   record_netlink OUTDIR */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "census/census_netlink.h"

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "record_netlink: %s: %s\n", #c,      \
				strerror(errno));                            \
			exit(1);                                             \
		}                                                            \
	} while (0)

static socklen_t addr_of(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(port);
	a6->sin6_addr = in6addr_loopback;
	return sizeof(*a6);
}

static int listener(int family, uint16_t port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(family, port, &ss);
	int fd = socket(family, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	CHECK(bind(fd, (struct sockaddr *)&ss, len) == 0);
	CHECK(listen(fd, backlog) == 0);
	return fd;
}

static int dial(int family, uint16_t port, bool wait)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(family, port, &ss);
	int fd = socket(family, SOCK_STREAM | (wait ? 0 : SOCK_NONBLOCK), 0);

	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&ss, len) == 0 || (!wait && errno == EINPROGRESS));
	return fd;
}

/* Sockets of one family: LISTEN, ESTABLISHED (and one not yet accepted),
 * CLOSE_WAIT and FIN_WAIT2, TIME_WAIT, data queued, SYN_SENT (backlog full). */
static void make_sockets(int family, uint16_t base)
{
	int l = listener(family, base, 16), full = listener(family, base + 1, 0);
	int a, b, c, d, e;

	a = dial(family, base, true);
	b = dial(family, base, true);
	c = dial(family, base, true);
	d = accept(l, NULL, NULL);
	e = accept(l, NULL, NULL);
	CHECK(d >= 0 && e >= 0 && accept(l, NULL, NULL) >= 0);
	CHECK(write(a, "queued", 6) == 6); /* a's peer d never reads: rqueue */
	close(b);                          /* e: CLOSE_WAIT, b: FIN_WAIT2 */
	shutdown(c, SHUT_WR);              /* c: FIN_WAIT2, its peer CLOSE_WAIT */
	(void)e;
	/* TIME_WAIT: the side that closes first, once the other closes too */
	int t = dial(family, base, true), u = accept(l, NULL, NULL);

	CHECK(u >= 0);
	close(t);
	usleep(20000);
	close(u);
	dial(family, base, true); /* left in the accept queue */
	/* SYN_SENT: a listener whose queue is full drops the SYNs */
	for (int i = 0; i < 4; i++)
		dial(family, base + 1, i < 1);
	(void)full;
}

static int dump(int family, const char *dir, const char *name)
{
	char req[NETLINK_REQ_MAX], buf[32768], path[512];
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), n = 0;
	size_t len;

	CHECK(fd >= 0);
	len = netlink_request(req, family, 0, NULL, 0, 1);
	CHECK(sendto(fd, req, len, 0, (struct sockaddr *)&nl, sizeof(nl)) == (ssize_t)len);
	for (;;) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		int out, done;

		CHECK(got > 0);
		snprintf(path, sizeof(path), "%s/%s-%d", dir, name, n++);
		out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		CHECK(out >= 0 && write(out, buf, (size_t)got) == got);
		close(out);
		done = ((struct nlmsghdr *)buf)->nlmsg_type == NLMSG_DONE;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, got);
		     h = NLMSG_NEXT(h, got))
			done |= h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR;
		if (done)
			break;
	}
	close(fd);
	return n;
}

int main(int argc, char **argv)
{
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: record_netlink OUTDIR\n");
		return 2;
	}
	make_sockets(AF_INET, 8000);
	make_sockets(AF_INET6, 8100);
	usleep(200000); /* the SYNs sent, retransmitted once */
	n = dump(AF_INET, argv[1], "ipv4");
	n += dump(AF_INET6, argv[1], "ipv6");
	printf("record_netlink: %d buffers in %s\n", n, argv[1]);
	return 0;
}
