/* closewait client MESSAGE: the classic one-shot echo client, with exit codes a script
 * can rely on: 0 reply printed, 1 could not connect or no reply, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "closewait/addr.h"
#include "closewait/duration.h"

enum { OPT_HOST = 0x100, OPT_PORT, OPT_TIMEOUT, OPT_HELP };

static const struct option client_options[] = {
	{ "host", required_argument, NULL, OPT_HOST },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: closewait client [--host H] [--port N] [--timeout D] MESSAGE\n"
		"       closewait client --stream [OPTIONS]   (see closewait client --stream --help)\n"
		"\n"
		"The one-shot echo client: connect, send MESSAGE, read the reply, print\n"
		"\"Response from server:\" and the reply, close.\n"
		"\n"
		"  --host H      server address or name (default 127.0.0.1)\n"
		"  --port N      server port (default 8000)\n"
		"  --timeout D   for connecting and for the reply (default 5s)\n"
		"  --help        this text\n"
		"\n"
		"Exit status: 0 reply printed; 1 refused, unreachable, timed out, no reply\n"
		"(with the reason on stderr); 2 usage error.\n");
}

/* Waits for events on fd until deadline; 0 on timeout. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int ms = cli_ms_until(deadline), n;

		if (ms == 0)
			return 0;
		n = poll(&p, 1, ms);
		/* 0 before the deadline: a wait cut at INT_MAX; go on. */
		if (n > 0 || (n < 0 && errno != EINTR))
			return n;
	}
}

/* Non-blocking connect bounded by the deadline; returns fd or -errno. */
static int connect_one(const struct addrinfo *ai, uint64_t deadline)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto fail;
		}
		if (wait_fd(fd, POLLOUT, deadline) == 0) {
			err = -ETIMEDOUT;
			goto fail;
		}
		err = 0;
		{
			socklen_t len = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		}
		if (err) {
			err = -err;
			goto fail;
		}
	}
	return fd;
fail:
	close(fd);
	return err;
}

static int send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			if (wait_fd(fd, POLLOUT, deadline) == 0)
				return -ETIMEDOUT;
		} else if (n < 0 && errno != EINTR) {
			return -errno;
		}
	}
	return 0;
}

/* Reads until want bytes, EOF or the deadline; returns bytes read or -errno. */
static ssize_t recv_reply(int fd, char *buf, size_t want, uint64_t deadline)
{
	size_t got = 0;

	while (got < want) {
		ssize_t n = recv(fd, buf + got, want - got, 0);

		if (n > 0) {
			got += (size_t)n;
		} else if (n == 0) {
			break;
		} else if (errno == EAGAIN) {
			if (wait_fd(fd, POLLIN, deadline) == 0)
				return got ? (ssize_t)got : -ETIMEDOUT;
		} else if (errno != EINTR) {
			return got ? (ssize_t)got : -errno;
		}
	}
	return (ssize_t)got;
}

/* Connects to the first address of host that answers; the fd, or exits 1. */
static int dial(const char *host, const char *port, uint64_t deadline, char *where, size_t wlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	int fd = -ECONNREFUSED, gai = getaddrinfo(host, port, &hints, &res);

	if (gai)
		cli_fail_exit1("client", "cannot resolve \"%s\": %s", host, gai_strerror(gai));
	for (ai = res; ai; ai = ai->ai_next) {
		struct sockaddr_storage ss;

		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		cw_addr_port_str(&ss, where, wlen);
		fd = connect_one(ai, deadline);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		cli_fail_exit1("client", "connect to %s: %s", where, fd == -ETIMEDOUT ? "timed out" : strerror(-fd));
	return fd;
}

/* Send, read the reply, print it, close. */
static int exchange(const char *host, const char *port, const char *msg, uint64_t timeout)
{
	char where[CW_ADDRSTRLEN + 8], *reply;
	size_t len = strlen(msg);
	uint64_t deadline = cli_after(cli_now_ms(), timeout);
	int fd = dial(host, port, deadline, where, sizeof(where)), err;
	ssize_t n;

	err = send_all(fd, msg, len, deadline);
	if (err)
		cli_fail_exit1("client", "send to %s: %s", where, strerror(-err));
	reply = malloc(len);
	if (!reply)
		cli_fail_exit1("client", "out of memory");
	/* The reply to an echo is as long as the message; stop there or at EOF. */
	n = recv_reply(fd, reply, len, cli_after(cli_now_ms(), timeout));
	close(fd);
	if (n <= 0) {
		free(reply);
		cli_fail_exit1("client", "no reply from %s: %s", where,
			  n == 0 ? "connection closed" : n == -ETIMEDOUT ? "timed out" : strerror((int)-n));
	}
	printf("Response from server:\n");
	fwrite(reply, 1, (size_t)n, stdout);
	printf("\n");
	free(reply);
	return 0;
}

int cmd_client(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port = "8000";
	uint64_t timeout = 5000;
	int opt;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--stream"))
			return cmd_stream(argc, argv);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", client_options, NULL)) != -1) {
		switch (opt) {
		case OPT_HOST:
			if (!*optarg)
				cli_usage_exit2("client", "--host: empty host");
			host = optarg;
			break;
		case OPT_PORT:
			opt_port("client", "--port", optarg, false);
			port = optarg;
			break;
		case OPT_TIMEOUT:
			timeout = opt_duration("client", "--timeout", optarg, false);
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			cli_bad_option("client", opt, argv);
		}
	}
	if (optind >= argc)
		cli_usage_exit2("client", "missing MESSAGE");
	if (optind + 1 < argc)
		cli_usage_exit2("client", "one MESSAGE only (quote it): unexpected \"%s\"", argv[optind + 1]);
	if (!*argv[optind])
		cli_usage_exit2("client", "MESSAGE is empty");
	signal(SIGPIPE, SIG_IGN);
	return exchange(host, port, argv[optind], timeout);
}
