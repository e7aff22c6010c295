/* peer_bare: the floor of the design. An uppercase echo server on a bare
 * epoll loop, no library: one static buffer, read then write, close on EOF or
 * error. Per message it makes exactly one read() and one write(), plus its
 * share of an epoll_wait; nothing is allocated, no timer exists, no interest
 * ever changes. It keeps no output buffer, so a write the socket only partly
 * takes cannot be finished: the connection is closed and the event reported on
 * stderr (a ping-pong client, one message in flight, never fills a socket).
 *
 * Usage: peer_bare PORT
 * TCP_NODELAY is set on the listener; accepted sockets inherit it (Linux
 * copies the listener's nonagle flag into each child), as closewait does.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 1024

static unsigned char buf[64 * 1024];

static int listen_on(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
		perror("peer_bare: listen");
		exit(1);
	}
	return fd;
}

static void accept_all(int ep, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0)
			return; /* EAGAIN, or out of fds: level-triggered, we come back */
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			close(fd);
	}
}

/* Its own function (the same loop in every server here), so a profile can
 * tell the application's work from the loop's. */
static __attribute__((noinline)) void upcase(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'a' && p[i] <= 'z')
			p[i] = (unsigned char)(p[i] - 'a' + 'A');
}

static void echo(int fd)
{
	ssize_t n = read(fd, buf, sizeof(buf)), w;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(fd); /* EOF or error; close() also leaves the epoll set */
		return;
	}
	upcase(buf, (size_t)n);
	w = write(fd, buf, (size_t)n);
	if (w != n) {
		fprintf(stderr, "peer_bare: fd %d took %zd of %zd bytes; closing it (no output buffer)\n",
			fd, w, n);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	struct epoll_event evs[MAX_EVENTS], ev = { .events = EPOLLIN };
	int lfd, ep;

	if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
		fprintf(stderr, "Usage: peer_bare PORT\n");
		return 2;
	}
	lfd = listen_on((unsigned)atoi(argv[1]));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = lfd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		perror("peer_bare: epoll");
		return 1;
	}
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				accept_all(ep, lfd);
			else
				echo(evs[i].data.fd);
		}
	}
}
