/* syn-fin: can a segment with both SYN and FIN make a CLOSE_WAIT? Segments
 * made by hand, from a second namespace over a veth pair, to a listening
 * port and to an established connection; each reply is the one captured,
 * each state the one the census shows. What does make a CLOSE_WAIT is
 * shown last: a FIN in sequence on a connection that exists. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>

#include "../cli.h"
#include "closewait/census_types.h"
#include "lab.h"

#define PORT 8060
#define CRAFT_LO 20000                /* the crafted flows' ports */
#define CRAFT_HI 20099
#define QUIET_MS 300                  /* a reply on a veth takes microseconds */

/* Sends s and records what came back: the reply's flags ("none"), and
 * for a reset or an ACK its numbers. The first reply in *r (flags 0: none). */
static int send_and_see(struct lab *lab, struct lab_net *n, const struct lab_seg *s,
			const char *data, struct lab_seg *r)
{
	char f[32];
	int k, err;

	lab_seg_flush(n);
	*r = (struct lab_seg){ 0 };
	if ((err = lab_seg_send(n, s, data, data ? strlen(data) : 0)))
		return err;
	k = lab_seg_replies(n, s->sport, r, QUIET_MS);
	if (k < 0)
		return k;
	lab_fact_str(lab, "sent", "sent", lab_seg_flags(s->flags, f, sizeof(f)));
	lab_fact_str(lab, "reply", "the reply", k ? lab_seg_flags(r->flags, f, sizeof(f)) : "none");
	lab_fact_int(lab, "replies", "segments back", k);
	return 0;
}

static int to_listener(struct lab *lab, struct lab_net *n, const char *id, const char *action,
		       uint16_t sport, uint8_t flags, const char *data, const char *explain)
{
	struct lab_seg s = { .sport = sport, .dport = PORT, .seq = 1000000, .flags = flags,
			     .ack = (flags & TH_ACK) ? 5000 : 0 }, r;
	int err;

	lab_step(lab, id, action);
	if ((err = send_and_see(lab, n, &s, data, &r)))
		return err;
	lab_fact_int(lab, "sockets_made", "sockets made for it", lab_count_state(PORT, 0));
	return lab_show(lab, PORT, explain);
}

static int listener_steps(struct lab *lab, struct lab_net *n)
{
	int err;

	if ((err = to_listener(lab, n, "syn-fin-listener", "A SYN+FIN segment from "
			       "10.77.0.2:20001 to the listening port 10.77.0.1:8060.",
			       20001, TH_SYN | TH_FIN, NULL,
			       "No reply and no socket: Linux drops a SYN that carries a FIN "
			       "before it would make a half-open connection, and counts nothing. "
			       "No handshake, so nothing that could become a CLOSE_WAIT.")) ||
	    (err = to_listener(lab, n, "syn-fin-data", "The same with five bytes of data, "
			       "from port 20002.", 20002, TH_SYN | TH_FIN, "hello",
			       "Data does not change it: dropped, no reply, no socket.")) ||
	    (err = to_listener(lab, n, "syn-fin-psh-urg", "SYN+FIN with PSH and URG too, from "
			       "port 20003.", 20003, TH_SYN | TH_FIN | TH_PUSH | TH_URG, NULL,
			       "More flags, the same: dropped.")) ||
	    (err = to_listener(lab, n, "syn-fin-ack", "SYN+FIN+ACK from port 20004.", 20004,
			       TH_SYN | TH_FIN | TH_ACK, NULL,
			       "A reset: a listening socket answers any segment with ACK set "
			       "with a reset (the ACK cannot acknowledge anything it sent), "
			       "before it looks at SYN or FIN (TcpOutRsts).")) ||
	    (err = to_listener(lab, n, "fin-listener", "A bare FIN, from port 20005, where no "
			       "connection exists.", 20005, TH_FIN, NULL,
			       "Dropped without a word: a listener takes only SYNs, and a "
			       "segment without ACK draws no reset.")))
		return err;
	return to_listener(lab, n, "fin-ack-listener", "FIN+ACK from port 20006, where no "
			   "connection exists.", 20006, TH_FIN | TH_ACK, NULL,
			   "A reset, as for any ACK to a listener: a FIN with no connection "
			   "behind it makes no CLOSE_WAIT either.");
}

/* A real client in the peer, connected and past a "hello" both ways; its
 * numbers, as captured, in *f. */
static int connection(struct lab *lab, struct lab_net *n, int lfd, int *cfd, int *sfd,
		      uint16_t *cport, struct lab_flow *f)
{
	char buf[16];
	int err;

	lab_step(lab, "established", "A real client in the second namespace connects to "
				     "10.77.0.1:8060; the server accepts; they exchange \"hello\" "
				     "and \"HELLO\".");
	lab_seg_flush(n);
	*cfd = lab_net_connect(n, PORT, cport);
	if (*cfd < 0)
		return *cfd;
	*sfd = lab_accept(lfd);
	if (*sfd < 0)
		return *sfd;
	if ((err = lab_write(*cfd, "hello", 5)) || lab_read(*sfd, buf, sizeof(buf), 2000) != 5 ||
	    (err = lab_write(*sfd, "HELLO", 5)) || lab_read(*cfd, buf, sizeof(buf), 2000) != 5)
		return err ? err : -EPROTO;
	*f = (struct lab_flow){ 0 };
	if ((err = lab_flow_read(n, *cport, f, 100)))
		return err;
	if (!f->out_seen || !f->in_seen)
		return -EPROTO;
	lab_fact_int(lab, "client_port", "the client's port", *cport);
	lab_fact_str(lab, "client_state", "the client's state",
		     cw_tcp_state_heading(lab_net_state(n, PORT)));
	lab_fact_int(lab, "client_next_seq", "the client's next sequence number (captured)",
		     f->out_nxt);
	return lab_show(lab, PORT, "Both ends ESTABLISHED. The captured segments give the "
				   "numbers a segment in sequence must carry.");
}

static int on_connection(struct lab *lab, struct lab_net *n, uint16_t cport,
			 const struct lab_flow *f)
{
	struct lab_seg s = { .sport = cport, .dport = PORT, .seq = f->out_nxt,
			     .flags = TH_SYN | TH_FIN }, r;
	int err;

	lab_step(lab, "syn-fin-established", "A SYN+FIN made by hand, with the client's "
					     "addresses, ports and next sequence number.");
	if ((err = send_and_see(lab, n, &s, NULL, &r)))
		return err;
	lab_fact_bool(lab, "reply_acks_old", "the reply acknowledges the connection's numbers",
		      r.flags == TH_ACK && r.ack == f->out_nxt && r.seq == f->in_nxt);
	lab_fact_str(lab, "client_state", "the client's state",
		     cw_tcp_state_heading(lab_net_state(n, PORT)));
	if ((err = lab_show(lab, PORT,
			    "A challenge ACK (RFC 5961): a SYN on an established connection "
			    "may be a peer that restarted, or an attacker guessing numbers, so "
			    "the server answers with an ACK of what it has and lets a real "
			    "peer reset if it lost the connection. The FIN in it is ignored, "
			    "the segment dropped: both ends are still ESTABLISHED.")))
		return err;

	/* From here on only crafted segments speak for the client. */
	if ((err = lab_net_quiet(n, cport)))
		return err;
	lab_step(lab, "fin-ahead", "The client's own kernel is silenced on its port (an nft "
				   "rule). A FIN made by hand, 1000 bytes ahead of the client's "
				   "next sequence number, with a valid ACK.");
	s = (struct lab_seg){ .sport = cport, .dport = PORT, .seq = f->out_nxt + 1000,
			      .ack = f->in_nxt, .flags = TH_FIN | TH_ACK };
	if ((err = send_and_see(lab, n, &s, NULL, &r)))
		return err;
	lab_fact_bool(lab, "reply_acks_old", "the reply acknowledges the connection's numbers",
		      r.flags == TH_ACK && r.ack == f->out_nxt);
	if ((err = lab_show(lab, PORT,
			    "The server still ESTABLISHED: a FIN ahead of the bytes it has is "
			    "kept for later (it acknowledges what it has, asking for the rest); "
			    "a FIN counts only once everything before it has arrived.")))
		return err;

	lab_step(lab, "fin-in-sequence", "A FIN made by hand at the client's next sequence "
					 "number, with a valid ACK.");
	s.seq = f->out_nxt;
	if ((err = send_and_see(lab, n, &s, NULL, &r)))
		return err;
	lab_wait_state_quick(PORT, true, CW_TCP_CLOSE_WAIT, 1000);
	lab_fact_bool(lab, "reply_acks_fin", "the reply acknowledges the FIN",
		      (r.flags & TH_ACK) && r.ack == f->out_nxt + 1);
	return lab_show(lab, PORT,
			"CLOSE_WAIT: a FIN in sequence on a connection that exists is what "
			"makes one, here as always. The server's program has not read the end "
			"of file yet, nor closed. So a SYN+FIN makes no CLOSE_WAIT on Linux: to "
			"a listener it is dropped, to a connection it draws a challenge ACK.");
}

int sc_syn_fin(struct lab *lab)
{
	struct lab_net n;
	struct lab_flow f;
	uint16_t cport = 0;
	int lfd = -1, cfd = -1, sfd = -1, err;

	err = lab_net_open(&n, CRAFT_LO, CRAFT_HI);
	if (!err) {
		lfd = lab_listen_at(LAB_NET_HOME, PORT);
		err = lfd < 0 ? lfd : 0;
	}
	if (err)
		goto out;
	lab_begin(lab, "Two private network namespaces joined by a veth pair: the server "
		       "listens on 10.77.0.1:8060 in one; the other, 10.77.0.2, sends "
		       "segments made by hand and captures the replies. Its own kernel is "
		       "kept from answering for the crafted ports (an nft rule).");
	if ((err = listener_steps(lab, &n)) ||
	    (err = connection(lab, &n, lfd, &cfd, &sfd, &cport, &f)))
		goto out;
	err = on_connection(lab, &n, cport, &f);
out:
	if (cfd >= 0)
		close(cfd);
	if (sfd >= 0)
		close(sfd);
	if (lfd >= 0)
		close(lfd);
	lab_net_close(&n);
	return err;
}
