/* states: the state diagram of RFC 9293, walked on a real connection. A
 * connection passes most states in microseconds; the lab holds back chosen
 * segments with an nft rule so that each state lasts until it has been
 * seen, then lets them through. Every transition printed is one observed
 * in the census, from one step to the next, never one assumed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "../cli.h"
#include "closewait/census_types.h"
#include "lab.h"

#define OPEN_PORT 8020
#define SIMUL_PORT 8021

/* What was seen last of each end, and every state seen. */
struct walk {
	int listener, server, client;
	uint32_t seen;                /* CW_STATE_BIT of each state observed */
};

static const char *name(int state)
{
	return state ? cw_tcp_state_heading(state) : "CLOSED";
}

static size_t change(char *buf, size_t n, size_t len, const char *role, int *was, int now)
{
	if (*was == now || n >= len)
		return n;
	n += (size_t)snprintf(buf + n, len - n, "%s%s %s -> %s", n ? ", " : "", role, name(*was),
			      name(now));
	*was = now;
	return n;
}

/* Records the transitions since the last step, as the census shows them. */
static void transitions(struct lab *lab, uint16_t port, struct walk *w)
{
	struct lab_sockview v[16];
	long k = lab_sockets(port, v, 16);
	int now[3] = { 0, 0, 0 };     /* listener, server, client */
	char buf[LAB_FACT_LEN] = "";
	size_t n = 0;

	for (long i = 0; i < k; i++) {
		int r = !strcmp(v[i].role, "listener") ? 0 : !strcmp(v[i].role, "server") ? 1 : 2;

		now[r] = v[i].state;
		w->seen |= CW_STATE_BIT(v[i].state);
	}
	n = change(buf, n, sizeof(buf), "listener", &w->listener, now[0]);
	n = change(buf, n, sizeof(buf), "server", &w->server, now[1]);
	change(buf, n, sizeof(buf), "client", &w->client, now[2]);
	lab_fact_str(lab, "transitions", "transitions seen", buf[0] ? buf : "none");
}

/* Waits for the server and client states (-1: any, 0: none), then shows
 * the step. A state that does not come is shown as it is, and ends the
 * scenario. */
static int reach(struct lab *lab, struct walk *w, uint16_t port, int server, int client,
		 unsigned ms, const char *explain)
{
	long took = lab_wait_states(port, server, client, ms);
	int err;

	transitions(lab, port, w);
	if (took >= 100) /* a retransmission, worth its time */
		lab_fact_int(lab, "waited_ms", "it took (ms)", took);
	err = lab_show(lab, port, explain);
	return err ? err : took < 0 ? (int)took : 0;
}

static int rule(const char *what)
{
	char cmd[160];

	if (!what)
		return lab_nft("flush chain inet lab in");
	snprintf(cmd, sizeof(cmd), "add rule inet lab in %s drop", what);
	return lab_nft(cmd);
}

static int connect_nb(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int err, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* The client says hello, the server answers: data both ways. */
static int hello(int cfd, int sfd)
{
	char buf[16];
	int err = lab_write(cfd, "hello", 5);

	if (!err && lab_read(sfd, buf, sizeof(buf), 2000) != 5)
		err = -EPROTO;
	if (!err)
		err = lab_write(sfd, "HELLO", 5);
	if (!err && lab_read(cfd, buf, sizeof(buf), 2000) != 5)
		err = -EPROTO;
	return err;
}

/* Opening, then the active close (client) and the passive one (server). */
static int open_and_close(struct lab *lab, struct walk *w)
{
	int lfd = -1, cfd = -1, sfd = -1, err;

	lab_step(lab, "closed", "Nothing yet on port 8020.");
	if ((err = reach(lab, w, OPEN_PORT, 0, 0, 0,
			 "CLOSED is where every connection starts and ends. It is no state the "
			 "kernel lists: a socket that neither listens nor is connected is not in "
			 "its table.")))
		return err;

	lab_step(lab, "listen", "The server calls listen() on 127.0.0.1:8020.");
	lfd = lab_listen(OPEN_PORT);
	if (lfd < 0)
		return lfd;
	if ((err = reach(lab, w, OPEN_PORT, 0, 0, 0,
			 "The listening socket went from CLOSED to LISTEN: it only waits for "
			 "SYNs; each connection will get a socket of its own.")))
		goto out;

	lab_step(lab, "syn", "A firewall rule drops the server's SYN-ACKs; the client calls "
			     "connect().");
	if ((err = rule("tcp sport 8020 tcp flags & (syn | ack) == syn | ack")))
		goto out;
	cfd = connect_nb(OPEN_PORT);
	if (cfd < 0) {
		err = cfd;
		goto out;
	}
	if ((err = reach(lab, w, OPEN_PORT, CW_TCP_SYN_RECV, CW_TCP_SYN_SENT, 2000,
			 "The client sent its SYN: SYN-SENT. The server's kernel answered with a "
			 "SYN-ACK, which the rule drops. Linux keeps the listener in LISTEN and "
			 "makes a small socket for the half-open connection: SYN-RECV (the "
			 "diagram's SYN-RECEIVED).")))
		goto out;

	lab_step(lab, "established", "The rule is removed.");
	if ((err = rule(NULL)))
		goto out;
	if ((err = reach(lab, w, OPEN_PORT, CW_TCP_ESTABLISHED, CW_TCP_ESTABLISHED, 4000,
			 "A retransmission got through (a handshake first retries after 1 s); "
			 "the client's ACK completed the three-way handshake: both ends "
			 "ESTABLISHED. The server's end waits in the listener's queue for "
			 "accept().")))
		goto out;
	sfd = lab_accept(lfd);
	if (sfd < 0) {
		err = sfd;
		goto out;
	}
	/* A round trip with data: the retransmission timeout learns the
	 * loopback's time (0.2 s, its floor); after a handshake that needed a
	 * retransmission it is seconds (a lost FIN waited 2.4 s on 6.18). */
	if ((err = hello(cfd, sfd)))
		goto out;

	lab_step(lab, "active-close", "The two exchange \"hello\" and \"HELLO\". Then a rule "
				      "drops what the server sends, and the client calls close() "
				      "first.");
	if ((err = rule("tcp sport 8020")))
		goto out;
	close(cfd);
	cfd = -1;
	if ((err = reach(lab, w, OPEN_PORT, CW_TCP_CLOSE_WAIT, CW_TCP_FIN_WAIT1, 2000,
			 "The active close: the client's FIN reached the server, whose end is now "
			 "in CLOSE-WAIT (waiting for its program to close), but the server's ACK "
			 "is dropped, so the client's end stays in FIN-WAIT-1 and sends its FIN "
			 "again from time to time.")))
		goto out;

	lab_step(lab, "fin-wait-2", "The rule is removed.");
	if ((err = rule(NULL)))
		goto out;
	if ((err = reach(lab, w, OPEN_PORT, CW_TCP_CLOSE_WAIT, CW_TCP_FIN_WAIT2, 4000,
			 "The next FIN was acknowledged: the client's end is in FIN-WAIT-2. Half "
			 "of the connection is closed; the server could still send.")))
		goto out;

	lab_step(lab, "passive-close", "A rule drops what the client sends; the server calls "
				       "close().");
	if ((err = rule("tcp dport 8020")))
		goto out;
	close(sfd);
	sfd = -1;
	if ((err = reach(lab, w, OPEN_PORT, CW_TCP_LAST_ACK, CW_TCP_TIME_WAIT, 2000,
			 "The passive close: the server's FIN took its end to LAST-ACK. The client "
			 "acknowledged it and went to TIME-WAIT, but that ACK is dropped.")))
		goto out;

	lab_step(lab, "last-ack-done", "The rule is removed.");
	if ((err = rule(NULL)))
		goto out;
	err = reach(lab, w, OPEN_PORT, 0, CW_TCP_TIME_WAIT, 4000,
		    "The server sent its FIN again; the client's TIME-WAIT acknowledged it once "
		    "more (this is what TIME-WAIT is for), and the server's end went to CLOSED: "
		    "it is gone. The client's end stays in TIME-WAIT for 60 s (its timer), then "
		    "it is CLOSED too.");
out:
	if (cfd >= 0)
		close(cfd);
	if (sfd >= 0)
		close(sfd);
	if (lfd >= 0)
		close(lfd);
	return err;
}

/* Both ends close at once: CLOSING. */
static int simultaneous(struct lab *lab, struct walk *w)
{
	int lfd = lab_listen(SIMUL_PORT), cfd = -1, sfd = -1, err;

	if (lfd < 0)
		return lfd;
	w->listener = w->server = w->client = 0;
	lab_step(lab, "simultaneous-close", "A new connection on port 8021, \"hello\" and "
					    "\"HELLO\". A rule drops all of its segments; both ends "
					    "call close().");
	cfd = lab_connect(SIMUL_PORT, 0);
	sfd = cfd < 0 ? cfd : lab_accept(lfd);
	err = sfd < 0 ? sfd : hello(cfd, sfd);
	if (!err)
		err = rule("tcp sport 8021");
	if (!err)
		err = rule("tcp dport 8021");
	if (err)
		goto out;
	close(cfd);
	close(sfd);
	cfd = sfd = -1;
	if ((err = reach(lab, w, SIMUL_PORT, CW_TCP_FIN_WAIT1, CW_TCP_FIN_WAIT1, 2000,
			 "Each end sent a FIN the other has not received: both are in "
			 "FIN-WAIT-1.")))
		goto out;

	lab_step(lab, "closing", "The client's segments may pass now; the server's are still "
				 "dropped.");
	err = rule(NULL);
	if (!err)
		err = rule("tcp sport 8021");
	if (err || (err = reach(lab, w, SIMUL_PORT, CW_TCP_CLOSING, CW_TCP_FIN_WAIT1, 4000,
				 "The client's FIN, sent again, reached the server while the server "
				 "was still waiting for the ACK of its own FIN: CLOSING, the state of "
				 "a simultaneous close. The server's answer is dropped, so the client "
				 "is still in FIN-WAIT-1.")))
		goto out;

	lab_step(lab, "both-time-wait", "The rule is removed.");
	if ((err = rule(NULL)))
		goto out;
	err = reach(lab, w, SIMUL_PORT, CW_TCP_TIME_WAIT, CW_TCP_TIME_WAIT, 4000,
		    "The server's FIN, sent again, and the ACKs got through: both ends are in "
		    "TIME-WAIT. After a simultaneous close, both wait.");
out:
	if (cfd >= 0)
		close(cfd);
	if (sfd >= 0)
		close(sfd);
	close(lfd);
	return err;
}

/* The states seen, in the order of the diagram. */
static void seen_list(const struct walk *w, char *buf, size_t len)
{
	static const int order[] = {
		CW_TCP_LISTEN, CW_TCP_SYN_SENT, CW_TCP_SYN_RECV, CW_TCP_ESTABLISHED,
		CW_TCP_FIN_WAIT1, CW_TCP_FIN_WAIT2, CW_TCP_CLOSE_WAIT, CW_TCP_CLOSING,
		CW_TCP_LAST_ACK, CW_TCP_TIME_WAIT,
	};
	size_t n = (size_t)snprintf(buf, len, "CLOSED");

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && n < len; i++)
		if (w->seen & CW_STATE_BIT(order[i]))
			n += (size_t)snprintf(buf + n, len - n, ", %s", cw_tcp_state_heading(order[i]));
}

int sc_states(struct lab *lab)
{
	struct walk w = { 0 };
	char seen[LAB_FACT_LEN];
	int err;

	err = lab_nft("add table inet lab");
	if (err == -ENOENT)
		cli_warn("lab", "states holds segments back with nft: install nftables");
	/* On input, not output: a segment dropped on its way out is an error
	 * its sender's TCP sees; one lost on the way in is a loss, as on a
	 * network. */
	if (!err)
		err = lab_nft("add chain inet lab in { type filter hook input priority 0; }");
	if (err)
		return err;
	lab_begin(lab, "A private network namespace with loopback only, and an nft table in "
		       "it whose rules drop chosen segments for a while. The server and the "
		       "client are this process.");
	err = open_and_close(lab, &w);
	if (!err)
		err = simultaneous(lab, &w);
	if (err)
		return err;
	lab_step(lab, "summary", "Every state the census showed in this run, and what is "
				 "left.");
	seen_list(&w, seen, sizeof(seen));
	lab_fact_str(lab, "states_seen", "states seen", seen);
	return lab_show(lab, 0, "Eleven states, each seen, none assumed. The TIME-WAITs left "
				"end after 60 s, or with the namespace when the lab ends.");
}
