/* timewait-syn: a SYN arriving at a server's TIME_WAIT, from the old
 * connection's address and port. Each step makes a TIME_WAIT of its own (a
 * real client in a second namespace connects, the server closes first),
 * silences that client's kernel, then sends a SYN made by hand and shows
 * what came back (captured) and what the server's socket became (census).
 * Without timestamps the sequence number decides; with them, the timestamp.
 * A rejected SYN gets an ACK of the old connection's numbers, at most one
 * per tcp_invalid_ratelimit; a real client answers that ACK with a reset,
 * which ends the TIME_WAIT unless tcp_rfc1337 is set. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/tcp.h>

#include "../cli.h"
#include "closewait/census_types.h"
#include "lab.h"

#define PORT0 8070                    /* one server port per step */
#define PORTS 8
#define QUIET_MS 300
#define SYS "net/ipv4/"

/* The TIME_WAIT a step works on, as the captured segments tell. */
struct tw {
	uint16_t port, cport;         /* the server's, the client's */
	uint32_t rcv_nxt;             /* the client's FIN + 1: what the TIME_WAIT expects */
	uint32_t snd_nxt;             /* the server's FIN + 1 */
	bool ts, tsval_seen;          /* the connection used timestamps; tsval is known */
	uint32_t tsval;               /* the client's last timestamp */
};

static int lfds[PORTS];

static void sleep_ms(unsigned ms)
{
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L },
		  NULL);
}

/* A connection from a real client in the peer to port, the server closing
 * first; then the client's kernel is silenced unless loud. */
static int make_tw(struct lab_net *n, uint16_t port, bool loud, struct tw *t)
{
	struct lab_flow f = { 0 };
	char buf[8];
	int lfd = lfds[port - PORT0], cfd, sfd, err = 0;

	*t = (struct tw){ .port = port };
	lab_seg_flush(n);
	cfd = lab_net_connect(n, port, &t->cport);
	if (cfd < 0)
		return cfd;
	sfd = lab_accept(lfd);
	if (sfd < 0) {
		close(cfd);
		return sfd;
	}
	close(sfd);
	if (lab_read(cfd, buf, sizeof(buf), 2000) != 0)
		err = -EPROTO;
	close(cfd);
	if (!err && lab_wait_state_quick(port, true, CW_TCP_TIME_WAIT, 2000) < 0)
		err = -ETIMEDOUT;
	if (!err)
		err = lab_flow_read(n, t->cport, &f, 100);
	if (!err && (!f.out_seen || !f.in_seen))
		err = -EPROTO;
	if (!err && !loud)
		err = lab_net_quiet(n, t->cport);
	t->rcv_nxt = f.out_nxt;
	t->snd_nxt = f.in_nxt;
	t->ts = f.ts;
	t->tsval_seen = f.tsval_seen;
	t->tsval = f.tsval;
	return err;
}

/* A SYN from the old connection's port, with seq and (if ts) tsval; the
 * number of replies within QUIET_MS, the first in *r. */
static int syn(struct lab_net *n, const struct tw *t, uint32_t seq, bool ts, uint32_t tsval,
	       struct lab_seg *r)
{
	struct lab_seg s = { .sport = t->cport, .dport = t->port, .seq = seq, .flags = TH_SYN,
			     .ts = ts, .tsval = tsval };
	int err;

	lab_seg_flush(n);
	*r = (struct lab_seg){ 0 };
	if ((err = lab_seg_send(n, &s, NULL, 0)))
		return err;
	return lab_seg_replies(n, t->cport, r, QUIET_MS);
}

/* Facts of a reply: its flags; for an ACK whether it carries the old
 * connection's numbers; for a SYN-ACK its ISN against the TIME_WAIT's
 * snd_nxt. */
static void reply_facts(struct lab *lab, const struct tw *t, int k, const struct lab_seg *r)
{
	char f[32];

	lab_fact_str(lab, "reply", "the reply", k > 0 ? lab_seg_flags(r->flags, f, sizeof(f))
							 : "none");
	if (k > 0 && r->flags == TH_ACK)
		lab_fact_bool(lab, "reply_acks_old", "it carries the old connection's numbers",
			      r->seq == t->snd_nxt && r->ack == t->rcv_nxt);
	if (k > 0 && r->flags == (TH_SYN | TH_ACK))
		lab_fact_int(lab, "isn_minus_snd_nxt",
			     "its sequence number minus the TIME_WAIT's snd_nxt",
			     (long long)(uint32_t)(r->seq - t->snd_nxt));
	lab_fact_int(lab, "time_waits", "TIME_WAITs left on the port",
		     lab_count_state(t->port, CW_TCP_TIME_WAIT));
}

/* One step: a fresh TIME_WAIT on port, a SYN at rcv_nxt + dseq (with a
 * timestamp at the client's last + dts when ts). */
static int try_syn(struct lab *lab, struct lab_net *n, const char *id, const char *action,
		   uint16_t port, int dseq, bool ts, int dts, const char *explain)
{
	struct lab_seg r;
	struct tw t;
	int k, err;

	lab_step(lab, id, action);
	if ((err = make_tw(n, port, false, &t)))
		return err;
	if (ts && !t.tsval_seen)
		return -EPROTO; /* the old connection should have had them */
	k = syn(n, &t, t.rcv_nxt + (uint32_t)dseq, ts, t.tsval + (uint32_t)dts, &r);
	if (k < 0)
		return k;
	lab_fact_bool(lab, "old_timestamps", "the old connection used timestamps", t.ts);
	lab_fact_int(lab, "seq_minus_rcv_nxt",
		     "the SYN's sequence number minus the TIME_WAIT's rcv_nxt", dseq);
	if (ts)
		lab_fact_int(lab, "tsval_minus_last",
			     "its timestamp minus the client's last one", dts);
	reply_facts(lab, &t, k, &r);
	/* The counter the kernel counts a timestamp rejection in: its name
	 * changed in 2025. */
	if (lab_counter_moved(lab, "TcpExtPAWSTimewait"))
		lab_fact_str(lab, "paws_counter", "counted as", "TcpExtPAWSTimewait");
	else if (lab_counter_moved(lab, "TcpExtPAWSEstab"))
		lab_fact_str(lab, "paws_counter", "counted as", "TcpExtPAWSEstab");
	if ((err = lab_show(lab, port, explain)))
		return err;
	/* The half-open connection would send its SYN-ACK again, moving the
	 * next steps' counters: a reset ends it. */
	if (k > 0 && r.flags == (TH_SYN | TH_ACK))
		err = lab_seg_send(n, &(struct lab_seg){ .sport = t.cport, .dport = port,
							 .seq = r.ack, .flags = TH_RST }, NULL, 0);
	return err;
}

static int no_timestamps(struct lab *lab, struct lab_net *n)
{
	int err = lab_sysctl_int(SYS "tcp_timestamps", 0);

	if (err)
		return err;
	lab_say(lab, "\nThe server's namespace has tcp_timestamps 0: its connections "
		     "carry no timestamps.");
	if ((err = try_syn(lab, n, "seq-equal", "A client connects to port 8070 and the "
			   "server closes first: the server's end is in TIME_WAIT. Then a SYN "
			   "from the client's address and port, with the sequence number the "
			   "TIME_WAIT expects next (its rcv_nxt).", PORT0, 0, false, 0,
			   "Rejected: the TIME_WAIT answered with an ACK of the old "
			   "connection's numbers, not a reset, and is still there. A SYN not "
			   "above rcv_nxt may be an old duplicate of the last connection.")) ||
	    (err = try_syn(lab, n, "seq-below", "The same on port 8071, the SYN 1000 below "
			   "rcv_nxt.", PORT0 + 1, -1000, false, 0,
			   "Rejected the same way: an ACK of the old numbers.")))
		return err;
	return try_syn(lab, n, "seq-above", "The same on port 8072, the SYN 1000 above "
		       "rcv_nxt.", PORT0 + 2, 1000, false, 0,
		       "Accepted: a SYN-ACK, and the TIME_WAIT is replaced by a new "
		       "half-open connection (SYN-RECV). The new connection's first sequence "
		       "number is the old one's snd_nxt + 65537, above anything the old "
		       "connection sent, so no late segment of it can be taken for the new "
		       "one's. The reset the client's kernel would send is dropped.");
}

static int timestamps(struct lab *lab, struct lab_net *n)
{
	int err = lab_sysctl_int(SYS "tcp_timestamps", 1);

	if (err)
		return err;
	lab_say(lab, "\ntcp_timestamps is 1 again (the default): the old connections carry "
		     "timestamps, and so do the SYNs.");
	if ((err = try_syn(lab, n, "ts-newer-seq-below", "A TIME_WAIT on port 8073; a SYN "
			   "1000 below rcv_nxt, with a timestamp 1000 above the client's last.",
			   PORT0 + 3, -1000, true, 1000,
			   "Accepted in spite of the lower sequence number: a newer timestamp "
			   "proves the SYN is not an old duplicate (RFC 7323's PAWS).")))
		return err;
	return try_syn(lab, n, "ts-older-seq-above", "A TIME_WAIT on port 8074; a SYN 1000 "
		       "above rcv_nxt, with a timestamp 1000 below the client's last.",
		       PORT0 + 4, 1000, true, -1000,
		       "Rejected in spite of the higher sequence number: an older timestamp "
		       "marks an old duplicate. The TIME_WAIT answers with an ACK of the old "
		       "numbers, and the kernel counts the rejection: as PAWSTimewait on "
		       "recent kernels, as PAWSEstab on older ones (6.1, for one).");
}

static int rate_limit(struct lab *lab, struct lab_net *n)
{
	struct lab_seg r;
	struct tw t;
	long limit = 0;
	int k = 0, err;

	lab_step(lab, "ack-rate-limit", "A TIME_WAIT on port 8075; three rejected SYNs (at "
					"rcv_nxt, no timestamp) at once, then another after "
					"tcp_invalid_ratelimit.");
	if ((err = lab_sysctl_read(SYS "tcp_invalid_ratelimit", &limit)) ||
	    (err = make_tw(n, PORT0 + 5, false, &t)))
		return err;
	lab_seg_flush(n);
	for (int i = 0; i < 3 && !err; i++)
		err = lab_seg_send(n, &(struct lab_seg){ .sport = t.cport, .dport = t.port,
							 .seq = t.rcv_nxt, .flags = TH_SYN },
				   NULL, 0);
	if (!err)
		k = lab_seg_replies(n, t.cport, &r, QUIET_MS);
	if (err || k < 0)
		return err ? err : k;
	lab_fact_int(lab, "invalid_ratelimit_ms", "tcp_invalid_ratelimit (ms)", limit);
	lab_fact_int(lab, "acks_for_three", "ACKs for the three SYNs", k);
	lab_fact_int(lab, "skipped", "TcpExtTCPACKSkippedTimeWait",
		     lab_counter_moved(lab, "TcpExtTCPACKSkippedTimeWait"));
	sleep_ms((unsigned)limit > QUIET_MS ? (unsigned)limit - QUIET_MS + 50 : 50);
	k = syn(n, &t, t.rcv_nxt, false, 0, &r);
	if (k < 0)
		return k;
	lab_fact_int(lab, "acks_after_limit", "ACKs for the SYN after it", k);
	reply_facts(lab, &t, k, &r);
	return lab_show(lab, t.port,
			"One ACK for three SYNs: a TIME_WAIT answers at most one out-of-window "
			"segment per tcp_invalid_ratelimit, and counts the others it leaves "
			"unanswered. Once that time has passed, it answers again.");
}

/* A rejected SYN whose ACK reaches a real client's kernel, which has no
 * such connection any more: the reset it sends, and what it does to the
 * TIME_WAIT. */
static int rfc1337(struct lab *lab, struct lab_net *n, const char *id, const char *action,
		   uint16_t port, int value, const char *explain)
{
	struct lab_seg s = { .flags = TH_SYN }, r = { 0 }, c;
	struct tw t;
	char f[32] = "none", g[32];
	uint64_t end;
	int err;

	lab_step(lab, id, action);
	if ((err = lab_sysctl_int(SYS "tcp_rfc1337", value)) || (err = make_tw(n, port, true, &t)))
		return err;
	s.sport = t.cport;
	s.dport = port;
	s.seq = t.rcv_nxt;
	lab_seg_flush(n);
	if ((err = lab_seg_send(n, &s, NULL, 0)))
		return err;
	/* Both ways: the server's reply, and the client's kernel's answer to it. */
	end = cli_now_ms() + QUIET_MS;
	lab_fact_int(lab, "tcp_rfc1337", "tcp_rfc1337", value);
	while (cli_now_ms() < end && !lab_seg_recv(n, t.cport, &c, (unsigned)(end - cli_now_ms())))
		if (!c.out && !r.flags)
			r = c;
		else if (c.out && !(c.flags & TH_SYN) && !strcmp(f, "none"))
			lab_seg_flags(c.flags, f, sizeof(f));
	lab_fact_str(lab, "reply", "the server's reply",
		     r.flags ? lab_seg_flags(r.flags, g, sizeof(g)) : "none");
	lab_fact_str(lab, "client_answer", "the client's kernel answered it with", f);
	/* Gone, or still there a moment later. */
	lab_wait_state_quick(port, true, 0, QUIET_MS);
	lab_fact_int(lab, "time_waits", "TIME_WAITs left on the port",
		     lab_count_state(port, CW_TCP_TIME_WAIT));
	err = syn(n, &t, t.rcv_nxt, false, 0, &r);
	if (err < 0)
		return err;
	lab_fact_str(lab, "syn_again", "the same SYN again draws",
		     err ? lab_seg_flags(r.flags, g, sizeof(g)) : "none");
	return lab_show(lab, port, explain);
}

int sc_timewait_syn(struct lab *lab)
{
	struct lab_net n;
	int err;

	for (int i = 0; i < PORTS; i++)
		lfds[i] = -1;
	err = lab_net_open(&n, 0, 0);
	for (int i = 0; i < PORTS && !err; i++)
		if ((lfds[i] = lab_listen_at(LAB_NET_HOME, (uint16_t)(PORT0 + i))) < 0)
			err = lfds[i];
	if (err)
		goto out;
	lab_begin(lab, "Two private network namespaces joined by a veth pair: the server "
		       "listens on 10.77.0.1, ports 8070 to 8077, in one; in the other, "
		       "10.77.0.2, a real client makes the old connections, then its kernel is "
		       "kept quiet on its port (an nft rule) while segments made by hand "
		       "speak for it, and the replies are captured.");
	if ((err = no_timestamps(lab, &n)) || (err = timestamps(lab, &n)) ||
	    (err = rate_limit(lab, &n)))
		goto out;
	lab_say(lab, "\nLast, the client's kernel is not kept quiet: it answers what the "
		     "TIME_WAIT sends.");
	if ((err = rfc1337(lab, &n, "rfc1337-0", "tcp_rfc1337 0 (the default): a TIME_WAIT on "
			   "port 8076, and a SYN at its rcv_nxt.", PORT0 + 6, 0,
			   "The client's kernel has no such connection any more: it answered "
			   "the TIME_WAIT's ACK with a reset, which ended the TIME_WAIT, so "
			   "the same SYN again is accepted. A "
			   "client that reuses a port soon loses only a round trip.")))
		goto out;
	err = rfc1337(lab, &n, "rfc1337-1", "tcp_rfc1337 1: the same on port 8077.",
		      PORT0 + 7, 1,
		      "The same reset, but with tcp_rfc1337 1 a TIME_WAIT ignores resets "
		      "(RFC 1337's remedy for TIME-WAIT assassination): it stays, and the "
		      "same SYN again is rejected once more.");
out:
	for (int i = 0; i < PORTS; i++)
		if (lfds[i] >= 0)
			close(lfds[i]);
	lab_net_close(&n);
	return err;
}
