/* One `closewait serve` process: the loop, the echo, the logs, the signals. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "closewait/addr.h"
#include "closewait/duration.h"
#include "serve.h"

/* The peer as this server's log has always named it: "ADDR at PORT N". */
static void peer_words(const struct cw_conn *c, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char a[CW_ADDRSTRLEN];

	cw_conn_peer(c, &ss, &sl);
	if (!sl || cw_addr_str(&ss, a, sizeof(a)))
		snprintf(a, sizeof(a), "unknown");
	snprintf(buf, len, "%s at PORT %u", a, cw_addr_port(&ss));
}

static void on_data(struct cw_conn *c, uint8_t *data, size_t len, void *arg)
{
	struct serve *s = arg;

	/* Only ASCII a-z change; NUL and bytes >= 0x80 go back as they came. */
	for (size_t i = 0; i < len; i++)
		if (data[i] >= 'a' && data[i] <= 'z')
			data[i] = (uint8_t)(data[i] - 'a' + 'A');
	if (!s->quiet) {
		char peer[96];

		peer_words(c, peer, sizeof(peer));
		printf("received from %s\n", peer);
	}
	if (cw_conn_write(c, data, len) == -ENOBUFS)
		cw_conn_close(c); /* cannot happen (reads are bounded by out_cap); never drop bytes silently */
}

static void on_close(struct cw_conn *c, enum cw_close_reason reason, int err, void *arg)
{
	struct serve *s = arg;
	char peer[96];

	if (s->quiet)
		return;
	peer_words(c, peer, sizeof(peer));
	if (reason == CW_CLOSE_EOF)
		printf("the other side has been closed. (%s)\n", peer);
	else if (err)
		printf("closed %s: %s (%s)\n", peer, cw_close_reason_name(reason), strerror(err));
	else
		printf("closed %s: %s\n", peer, cw_close_reason_name(reason));
}

/* Out of fds, the library retries every 100 ms; one line a second at most
 * says so, whatever --quiet (it is no per-connection line), and one more
 * when the pause that was logged is over. */
static void on_pause(struct cw_server *srv, const struct cw_accept_pause *p, void *arg)
{
	struct serve *s = arg;
	uint64_t now = cw_loop_now(s->loop);
	char d[32];

	(void)srv;
	if (!p->err) {
		if (s->pause_said)
			cli_warn("serve", "accepting again after %s, no connection waiting",
				 cw_duration_format(p->paused_ms, d, sizeof(d)));
		s->pause_said = false;
		return;
	}
	if (s->pause_logged && now - s->pause_logged < 1000)
		return;
	s->pause_logged = now;
	s->pause_said = true;
	cli_warn("serve", "cannot accept: %s; accepting paused for %s, %llu connections waiting "
		 "(not accepted)", strerror(p->err), cw_duration_format(p->paused_ms, d, sizeof(d)),
		 (unsigned long long)p->waiting);
}

static void on_drained(struct cw_server *srv, void *arg)
{
	struct serve *s = arg;

	(void)srv;
	cw_loop_stop(s->loop);
}

static void on_signal(struct cw_loop *loop, int signo, void *arg)
{
	struct serve *s = arg;
	struct cw_conn_stats st;
	char d[32];

	(void)loop;
	cw_server_stats(s->srv, &st);
	if (s->signals++ == 0) {
		if (!s->quiet)
			printf("%s: shutting down, draining %llu connections for at most %s\n",
			       strsignal(signo), (unsigned long long)st.active,
			       cw_duration_format(s->drain_ms, d, sizeof(d)));
	} else if (!s->quiet) {
		printf("%s again: aborting %llu connections\n", strsignal(signo),
		       (unsigned long long)st.active);
	}
	cw_server_shutdown(s->srv, s->drain_ms, on_drained, s);
}

void serve_print_stats(const struct cw_conn_stats *st)
{
	uint64_t total = 0;

	printf("connections accepted: %llu\n", (unsigned long long)st->opened);
	printf("closed by reason:\n");
	for (int r = 0; r < CW_CLOSE_REASON_MAX; r++) {
		printf("  %-20s %llu\n", cw_close_reason_name((enum cw_close_reason)r),
		       (unsigned long long)st->closed[r]);
		total += st->closed[r];
	}
	printf("  %-20s %llu\n", "total", (unsigned long long)total);
	printf("bytes in: %llu, out: %llu, most queued on one connection: %llu\n",
	       (unsigned long long)st->bytes_in, (unsigned long long)st->bytes_out,
	       (unsigned long long)st->bytes_queued_peak);
}

size_t serve_addrs(const struct serve *s, const char *const **addrs)
{
	static const char *const all[] = { "0.0.0.0", "::" };

	*addrs = s->nbinds ? s->binds : all;
	return s->nbinds ? s->nbinds : 2;
}

bool serve_skip_v6(const struct serve *s, size_t i, int err)
{
	/* A host without IPv6 still serves IPv4 on the default bind. */
	return !s->nbinds && i == 1 && (err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL);
}

static int listen_all(struct serve *s)
{
	const char *const *addrs;
	size_t n = serve_addrs(s, &addrs);

	for (size_t i = 0; i < n; i++) {
		int err = cw_server_listen(s->srv, addrs[i], s->port);
		bool v6 = strchr(addrs[i], ':') != NULL;

		if (err && !serve_skip_v6(s, i, err)) {
			cli_warn("serve", "cannot listen on %s%s%s:%u: %s", v6 ? "[" : "", addrs[i],
				 v6 ? "]" : "", s->port, strerror(-err));
			return 1;
		}
	}
	return 0;
}

int serve_run(struct serve *s, int ready_fd, int stats_fd)
{
	struct cw_conn_stats st;
	int rc = 1, err;

	s->cfg.ops.on_data = on_data;
	s->cfg.ops.on_close = on_close;
	s->cfg.arg = s;
	err = cw_loop_new(&s->loop);
	if (err)
		cli_fail_exit1("serve", "cannot create the event loop: %s", strerror(-err));
	err = cw_server_new(s->loop, &s->cfg, &s->srv);
	if (err) {
		cli_warn("serve", "cannot create the server: %s", strerror(-err));
		goto out_loop;
	}
	cw_server_on_pause(s->srv, on_pause, s);
	if (listen_all(s))
		goto out_srv;
	/* A worker takes only the supervisor's SIGTERM: a terminal's Ctrl-C
	 * reaches the whole process group, and the forwarded SIGTERM would then
	 * count as a second signal ("abort now"). */
	err = s->is_worker ? 0 : cw_loop_signal(s->loop, SIGINT, on_signal, s);
	if (!err)
		err = cw_loop_signal(s->loop, SIGTERM, on_signal, s);
	if (err) {
		cli_warn("serve", "cannot take SIGINT/SIGTERM: %s", strerror(-err));
		goto out_srv;
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, "r", 1) != 1)
			goto out_srv;
		close(ready_fd);
	} else if (stats_fd < 0) {
		printf("Accepting connections ...\n"); /* a worker's parent says it for all */
		fflush(stdout);
	}
	err = cw_loop_run(s->loop);
	if (err) {
		cli_warn("serve", "event loop failed: %s", strerror(-err));
		goto out_srv;
	}
	cw_server_stats(s->srv, &st);
	if (stats_fd >= 0) {
		if (write(stats_fd, &st, sizeof(st)) != (ssize_t)sizeof(st))
			cli_warn("serve", "cannot report statistics: %s", strerror(errno));
	} else if (s->stats) {
		serve_print_stats(&st);
	}
	rc = 0;
out_srv:
	cw_server_free(s->srv);
out_loop:
	cw_loop_free(s->loop);
	return rc;
}
