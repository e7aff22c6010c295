/* closewait serve --leak: the classic leaky echo server, on purpose.
 *
 * Deliberately naive, and deliberately here in the CLI rather than in the
 * library (which has no way to leak): a blocking accept, one read of up to
 * 80 bytes, the reply, and no close(). Every client that disconnects leaves
 * its server socket in CLOSE_WAIT with the FIN unread (Recv-Q 1) until this
 * process exits. */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "closewait/addr.h"
#include "closewait/sockopt.h"

#define MAXLINE 80     /* the classic server's buffer */
#define LEAK_BACKLOG 20 /* and its listen(listenfd, 20) */

static volatile sig_atomic_t leak_stop;

static void on_stop(int signo)
{
	(void)signo;
	leak_stop = 1;
}

static int leak_listen(const struct leak_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	if (cw_addr_parse(o->bind ? o->bind : "0.0.0.0", &ss, &sl, NULL))
		cli_usage_exit2("serve", "--bind: invalid address \"%s\"", o->bind);
	cw_addr_set_port(&ss, o->port);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		cli_fail_exit1("serve", "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Set on the listener: accepted sockets inherit keepalive and its timers. */
	if (o->keepalive && cw_sockopt_keepalive(fd, o->keepidle_s, o->keepintvl_s, o->keepcnt))
		cli_fail_exit1("serve", "keepalive: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		char a[CW_ADDRSTRLEN];

		cw_addr_port_str(&ss, a, sizeof(a));
		cli_fail_exit1("serve", "cannot listen on %s: %s", a, strerror(errno));
	}
	if (listen(fd, LEAK_BACKLOG) < 0)
		cli_fail_exit1("serve", "listen: %s", strerror(errno));
	return fd;
}

int serve_leak(const struct leak_opts *o)
{
	struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART: accept() returns EINTR */
	int listenfd = leak_listen(o);
	char buf[MAXLINE];

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("Accepting connections ...\n");
	while (!leak_stop) {
		struct sockaddr_storage cli;
		socklen_t clilen = sizeof(cli);
		char a[CW_ADDRSTRLEN];
		ssize_t n;
		int connfd = accept(listenfd, (struct sockaddr *)&cli, &clilen);

		if (connfd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* The leak has used up every fd: where never closing leads. */
				struct timespec ts = { 0, 100 * 1000 * 1000 };

				cli_warn("serve", "accept: %s", strerror(errno));
				nanosleep(&ts, NULL);
			}
			continue;
		}
		n = read(connfd, buf, MAXLINE);
		if (n == 0) {
			if (!o->quiet)
				printf("the other side has been closed.\n");
			continue; /* and still no close(): the leak */
		}
		if (n < 0)
			continue;
		if (!o->quiet) {
			cw_addr_str(&cli, a, sizeof(a));
			printf("received from %s at PORT %u\n", a, cw_addr_port(&cli));
		}
		for (ssize_t i = 0; i < n; i++)
			buf[i] = (char)toupper((unsigned char)buf[i]);
		if (write(connfd, buf, (size_t)n) < 0 && !o->quiet)
			printf("write: %s\n", strerror(errno));
		/* Deliberately no close(connfd): this is the bug being demonstrated. */
	}
	return 0;
}
