/* cures: the four ways a program ends connections that would otherwise
 * stay forever, each shown ending one: close on end of file, an idle
 * timeout, a heartbeat and TCP keepalive. The first three are policies of
 * a server built on the library (a cw_policy, as `closewait serve` sets
 * with --idle, --heartbeat, --keepalive); the last is also shown on a
 * leaking server, where the kernel's keepalive ends a CLOSE_WAIT the
 * program never closes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "closewait/census_types.h"
#include "../cli.h"
#include "lab.h"

#define EOF_PORT 8011
#define IDLE_PORT 8012
#define HEARTBEAT_PORT 8013
#define KEEPALIVE_PORT 8014
#define LEAK_PORT 8015
#define UNREACHABLE_PORT 8016
#define FIN_TIMEOUT_S 3

/* A client of the server on port: connects, says hello, reads the reply.
 * The fd, or -errno. */
static int hello(uint16_t port)
{
	char buf[64];
	int fd = lab_connect(port, 0), err;

	if (fd < 0)
		return fd;
	err = lab_write(fd, "hello", 5);
	if (!err && lab_read(fd, buf, sizeof(buf), 2000) != 5)
		err = -EPROTO;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* Waits for the server's close and says when, after since, and why. */
static int server_closed(struct lab *lab, struct lab_server *s, uint64_t since, unsigned ms)
{
	char reason[32];
	uint64_t at;
	int err = lab_server_closed(s, ms, reason, sizeof(reason), &at);

	if (err)
		return err;
	lab_fact_str(lab, "close_reason", "the server's reason (cw_close_reason)", reason);
	lab_fact_int(lab, "closed_after_ms", "it closed after (ms)", (long long)(at - since));
	return 0;
}

static int on_eof(struct lab *lab)
{
	struct lab_server s;
	struct cw_policy p;
	uint64_t t;
	int fd, err;

	cw_policy_init(&p); /* close on end of file is not an option: it is always on */
	if ((err = lab_server_start(&s, &p, EOF_PORT)))
		return err;
	lab_step(lab, "eof", "Close on end of file. A client says hello to a server built on "
			     "the library (closewait serve), reads the answer and closes.");
	fd = hello(EOF_PORT);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	t = cli_now_ms();
	close(fd);
	err = server_closed(lab, &s, t, 2000);
	lab_wait_state(EOF_PORT, false, CW_TCP_TIME_WAIT, 2000);
	if (!err)
		err = lab_show(lab, EOF_PORT,
			       "The server's read() returned 0 and it closed at once: its CLOSE_WAIT "
			       "lasted about as long as one turn of its event loop. The client, "
			       "which closed first, holds the TIME_WAIT; no CLOSE_WAIT is left.");
out:
	lab_server_stop(&s);
	return err;
}

static int on_idle(struct lab *lab)
{
	struct lab_server s;
	struct cw_policy p;
	uint64_t t;
	int fd, err;

	cw_policy_init(&p);
	p.idle_ms = 1000; /* closewait serve --idle 1s */
	if ((err = lab_server_start(&s, &p, IDLE_PORT)))
		return err;
	lab_step(lab, "idle", "Idle timeout (--idle 1s). A client says hello, then neither "
			      "writes nor closes: a program that hung.");
	fd = hello(IDLE_PORT);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	t = cli_now_ms();
	err = server_closed(lab, &s, t, 3000);
	lab_wait_state(IDLE_PORT, false, CW_TCP_CLOSE_WAIT, 2000);
	/* The client's kernel delays its ACK of a FIN (it expects the program to
	 * answer soon): until then the server's end is in FIN_WAIT_1. */
	lab_wait_state(IDLE_PORT, true, CW_TCP_FIN_WAIT2, 2000);
	if (!err)
		err = lab_show(lab, IDLE_PORT,
			       "After 1 s without a byte either way the server closed. Its end waits "
			       "in FIN_WAIT_2; now the client holds a CLOSE_WAIT, until it notices "
			       "the end of file and closes (a client built on the library would).");
	close(fd);
out:
	lab_server_stop(&s);
	return err;
}

/* A client that says hello and then vanishes without a FIN or reset, as
 * when its host loses power; the server's end stays ESTABLISHED. */
static int vanished(struct lab *lab, struct lab_server *s, uint16_t port, const char *why,
		    const char *end_id)
{
	uint64_t t;
	int fd = hello(port), err;

	if (fd < 0)
		return fd;
	t = cli_now_ms();
	err = lab_vanish(fd);
	if (!err)
		err = lab_show(lab, port, why);
	if (!err) {
		lab_step(lab, end_id, "Wait for the server.");
		err = server_closed(lab, s, t, 5000);
	}
	lab_wait_state(port, true, 0, 2000);
	return err;
}

static int on_heartbeat(struct lab *lab)
{
	struct lab_server s;
	struct cw_policy p;
	int err;

	cw_policy_init(&p);
	p.heartbeat_ms = 1000; /* closewait serve --heartbeat 1s */
	if ((err = lab_server_start(&s, &p, HEARTBEAT_PORT)))
		return err;
	lab_step(lab, "heartbeat", "Heartbeat (--heartbeat 1s). A client says hello and "
				   "vanishes without a word (the lab closes its socket in repair "
				   "mode: no FIN, no reset), as when its host loses power.");
	err = vanished(lab, &s, HEARTBEAT_PORT,
		       "The server's end is still ESTABLISHED: nothing told it (no reset was "
		       "sent: TcpOutRsts did not move; TcpEstabResets counts the client's socket "
		       "dropped). Nothing ever will, unless the server sends something.",
		       "heartbeat-ends");
	if (!err)
		err = lab_show(lab, HEARTBEAT_PORT,
			       "After 1 s without sending, the server wrote its heartbeat; the "
			       "client's kernel had no such connection and answered with a reset "
			       "(TcpOutRsts), and the server closed (reason reset, TcpEstabResets).");
	lab_server_stop(&s);
	return err;
}

static int on_keepalive(struct lab *lab)
{
	struct lab_server s;
	struct cw_policy p;
	int err;

	cw_policy_init(&p);
	p.keepalive = true; /* closewait serve --keepalive 1:1:3 */
	p.keepidle_s = 1;
	p.keepintvl_s = 1;
	p.keepcnt = 3;
	if ((err = lab_server_start(&s, &p, KEEPALIVE_PORT)))
		return err;
	lab_step(lab, "keepalive", "TCP keepalive (--keepalive 1:1:3: the first probe after 1 s "
				   "of silence, then one a second, three unanswered end it). The "
				   "same vanishing client.");
	err = vanished(lab, &s, KEEPALIVE_PORT,
		       "ESTABLISHED, and this time with a keepalive timer: the kernel itself "
		       "will ask, with no data, whether the peer is still there.",
		       "keepalive-ends");
	if (!err)
		err = lab_show(lab, KEEPALIVE_PORT,
			       "The first probe, after 1 s of silence, drew a reset from the "
			       "client's kernel (TcpExtTCPKeepAlive counts the probes) and the "
			       "server closed. A host that is down answers nothing: see below.");
	lab_server_stop(&s);
	return err;
}

/* Polls until the server's end on port shows at least n unanswered
 * keepalive probes (the census's retrans), for at most ms. */
static long probes_out(uint16_t port, unsigned n, unsigned ms)
{
	uint64_t start = cli_now_ms();

	for (;;) {
		struct lab_sockview v[8];
		long k = lab_sockets(port, v, 8);

		for (long i = 0; i < k; i++)
			if (!strcmp(v[i].role, "server") && v[i].timer == CW_SOCK_TIMER_KEEPALIVE &&
			    v[i].retrans >= n)
				return (long)(cli_now_ms() - start);
		if (cli_now_ms() - start >= ms)
			return -ETIMEDOUT;
		usleep(20000);
	}
}

/* Keepalive against a host that is down: its probes go unanswered. */
static int on_unreachable(struct lab *lab)
{
	struct lab_server s;
	struct cw_policy p;
	uint64_t t;
	long ms;
	int fd, err;

	err = lab_nft("add table inet lab");
	if (err == -ENOENT) {
		lab_say(lab, "\n(Without nft, keepalive against a host that is down is not shown: "
			     "install nftables.)");
		return 0;
	}
	/* On input: lost on the way, as on a network, not refused on the way out. */
	if (!err)
		err = lab_nft("add chain inet lab in { type filter hook input priority 0; }");
	if (err)
		return err;
	cw_policy_init(&p);
	p.keepalive = true; /* closewait serve --keepalive 1:1:3 --user-timeout 0 */
	p.keepidle_s = 1;
	p.keepintvl_s = 1;
	p.keepcnt = 3;
	p.user_timeout_ms = 0;
	if ((err = lab_server_start(&s, &p, UNREACHABLE_PORT)))
		return err;
	lab_step(lab, "keepalive-unreachable", "TCP keepalive against a host that is down "
					       "(--keepalive 1:1:3 --user-timeout 0). A client "
					       "says hello; then a firewall rule drops everything "
					       "the server sends it.");
	fd = hello(UNREACHABLE_PORT);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	t = cli_now_ms();
	err = lab_nft("add rule inet lab in tcp sport 8016 drop");
	if (!err)
		err = lab_show(lab, UNREACHABLE_PORT,
			       "Both ends ESTABLISHED, and nothing will answer the server any more: "
			       "no reset, no ACK.");
	if (err)
		goto out_fd;

	lab_step(lab, "keepalive-probing", "Wait until two probes are unanswered.");
	ms = probes_out(UNREACHABLE_PORT, 2, 5000);
	if (ms < 0) {
		err = (int)ms;
		goto out_fd;
	}
	if ((err = lab_show(lab, UNREACHABLE_PORT,
			    "The socket counts its unanswered probes (retrans in the census; "
			    "TcpExtTCPKeepAlive counts each probe sent). One a second after the "
			    "first second of silence.")))
		goto out_fd;

	lab_step(lab, "keepalive-gives-up", "Wait for the server.");
	err = server_closed(lab, &s, t, 8000);
	if (!err)
		err = lab_show(lab, UNREACHABLE_PORT,
			       "The third probe went unanswered too: the kernel gave up, reporting "
			       "ETIMEDOUT, and the server closed (reason keepalive) 1 + 3 x 1 s after "
			       "the last word from the client. The client's end is still "
			       "ESTABLISHED: the reset the server's kernel sent was dropped as well, "
			       "and it will learn only when it next sends. With the system's "
			       "defaults (7200 s, 75 s, 9 probes) this takes 2 h 11 min.");
out_fd:
	lab_nft("flush chain inet lab in");
	close(fd);
out:
	lab_server_stop(&s);
	return err;
}

/* The leaking server of `lab leak`, with keepalive on its socket. */
static int on_leak_keepalive(struct lab *lab)
{
	struct cw_policy p;
	char buf[64];
	uint64_t t;
	long ms;
	int lfd, cfd = -1, sfd = -1, err;

	cw_policy_init(&p);
	p.keepalive = true;
	p.keepidle_s = 1;
	p.keepintvl_s = 1;
	p.keepcnt = 3;
	p.user_timeout_ms = 0;
	lfd = lab_listen(LEAK_PORT);
	if (lfd < 0)
		return lfd;
	lab_step(lab, "leak-keepalive", "Keepalive against the leak itself: a server that "
					"never closes, with keepalive 1:1:3 on its sockets. A client "
					"connects and closes.");
	cfd = lab_connect(LEAK_PORT, 0);
	sfd = cfd < 0 ? cfd : lab_accept(lfd);
	err = sfd < 0 ? sfd : cw_policy_apply(&p, sfd);
	if (err)
		goto out;
	t = cli_now_ms();
	close(cfd);
	cfd = -1;
	lab_read(sfd, buf, sizeof(buf), 2000); /* the end of file, read and ignored */
	lab_wait_state(LEAK_PORT, false, CW_TCP_FIN_WAIT2, 2000);
	if ((err = lab_show(lab, LEAK_PORT,
			    "The leak's signature again: CLOSE_WAIT against FIN_WAIT_2, but the "
			    "CLOSE_WAIT has a keepalive timer. While the client's FIN_WAIT_2 "
			    "lives, it answers each probe, and the CLOSE_WAIT stays.")))
		goto out;

	lab_step(lab, "leak-keepalive-ends", "Wait until the CLOSE_WAIT is gone.");
	ms = lab_wait_state(LEAK_PORT, false, 0, (FIN_TIMEOUT_S + 3) * 1000);
	lab_fact_int(lab, "fin_wait_2_gone_after_ms", "the client's FIN_WAIT_2 was gone after (ms)",
		     ms < 0 ? ms : (long long)(cli_now_ms() - t));
	ms = lab_wait_state(LEAK_PORT, true, 0, 4000);
	if (ms < 0) {
		err = (int)ms;
		goto out;
	}
	lab_fact_int(lab, "close_wait_gone_after_ms", "the CLOSE_WAIT was gone after (ms)",
		     (long long)(cli_now_ms() - t));
	err = lab_show(lab, LEAK_PORT,
		       "After tcp_fin_timeout (3 s here) the client's FIN_WAIT_2 was dropped; "
		       "the next probe found no connection and drew a reset, and the kernel "
		       "closed the CLOSE_WAIT, though the program never called close() (its "
		       "file descriptor stays open, and reads now fail). Keepalive ends a "
		       "leaked CLOSE_WAIT a little after the peer forgot it.");
out:
	if (cfd >= 0)
		close(cfd);
	if (sfd >= 0)
		close(sfd);
	close(lfd);
	return err;
}

int sc_cures(struct lab *lab)
{
	int (*const cures[])(struct lab *) = { on_eof, on_idle, on_heartbeat, on_keepalive,
					       on_unreachable, on_leak_keepalive };
	int err;

	err = lab_sysctl_int("net/ipv4/tcp_fin_timeout", FIN_TIMEOUT_S);
	if (err)
		return err;
	lab_begin(lab, "A private network namespace with loopback only; tcp_fin_timeout is 3 s "
		       "in it. Each cure has a port of its own; the servers built on the library "
		       "run in child processes, the clients and the leaking server in this one.");
	for (size_t i = 0; i < sizeof(cures) / sizeof(cures[0]) && !err; i++)
		err = cures[i](lab);
	return err;
}
