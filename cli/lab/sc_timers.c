/* timers: the two waits waited for, not read off a timer. A TIME_WAIT ends
 * 60 s after the close that made it, with tcp_fin_timeout at 3 s; a
 * CLOSE_WAIT has no timer at all: with no keepalive and nothing written, it
 * is still there at 65 s, long after the peer's FIN_WAIT_2 expired. The
 * scenario takes 65 s, or until the TIME_WAIT is gone (its timer may fire
 * up to about 4 s late: the timer wheel rounds long timers up), 75 s at most. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "../cli.h"
#include "closewait/census_types.h"
#include "lab.h"

#define TW_PORT 8060
#define CW_PORT 8061
#define FIN_TIMEOUT_S 3
#define HOLD_MS 65000u
#define MAX_MS 75000u                 /* the TIME_WAIT's timer may fire a few seconds late */
#define POLL_MS 100u

int sc_timers(struct lab *lab)
{
	int lfd_tw = -1, lfd_cw = -1, cfd, sfd = -1, leak = -1, err;
	uint64_t t0, tw0;
	long tw_ms = -1, fw2_ms = -1;

	lab_begin(lab, "A private network namespace with loopback only; in it, tcp_fin_timeout is "
		       "3 s. Both ends are this process. This scenario waits: it takes 65 s.");
	if ((err = lab_sysctl_int("net/ipv4/tcp_fin_timeout", FIN_TIMEOUT_S)))
		return err;
	lfd_tw = lab_listen(TW_PORT);
	lfd_cw = lab_listen(CW_PORT);
	if (lfd_tw < 0 || lfd_cw < 0) {
		err = lfd_tw < 0 ? lfd_tw : lfd_cw;
		goto out;
	}
	lab_step(lab, "close", "Two connections. On port 8060 the client closes first, then the "
			       "server: the client's end goes to TIME-WAIT. On port 8061 the client "
			       "closes and the server never does: CLOSE-WAIT against FIN-WAIT-2.");
	if ((err = lab_pair(lfd_tw, TW_PORT, &cfd, &sfd)))
		goto out;
	tw0 = cli_now_ms();
	err = lab_close_pair(TW_PORT, cfd, sfd, true); /* closes both, whatever it returns */
	sfd = -1;
	if (err)
		goto out;
	if ((err = lab_pair(lfd_cw, CW_PORT, &cfd, &leak)))
		goto out;
	close(cfd);
	t0 = cli_now_ms();
	if ((err = (int)lab_wait_state(CW_PORT, true, CW_TCP_CLOSE_WAIT, 2000)) < 0 ||
	    (err = (int)lab_wait_state(CW_PORT, false, CW_TCP_FIN_WAIT2, 2000)) < 0 ||
	    (err = lab_show(lab, 0, "A TIME-WAIT with its 60 s timer, a FIN-WAIT-2 with its 3 s "
				    "one, and a CLOSE-WAIT with none.")))
		goto out;

	lab_step(lab, "wait", "Watch both ports every 100 ms until 65 s have passed since the "
			      "closes and the TIME-WAIT is gone.");
	while (cli_now_ms() - t0 < HOLD_MS || (tw_ms < 0 && cli_now_ms() - t0 < MAX_MS)) {
		uint64_t now = cli_now_ms() - t0;

		if (fw2_ms < 0 && lab_count_state(CW_PORT, CW_TCP_FIN_WAIT2) == 0)
			fw2_ms = (long)now;
		if (tw_ms < 0 && lab_count_state(TW_PORT, CW_TCP_TIME_WAIT) == 0)
			tw_ms = (long)(cli_now_ms() - tw0);
		usleep(POLL_MS * 1000);
	}
	lab_fact_int(lab, "fin_wait_2_lasted_ms", "the FIN-WAIT-2 was gone after (ms; -1: still there)",
		     fw2_ms);
	lab_fact_int(lab, "time_wait_lasted_ms",
		     "the TIME-WAIT was gone after (ms from its close; -1: still there)",
		     tw_ms);
	lab_fact_int(lab, "close_wait_at_ms", "the CLOSE-WAIT, looked at after (ms)",
		     (long long)(cli_now_ms() - t0));
	lab_fact_int(lab, "close_waits", "CLOSE-WAITs then",
		     lab_count_state(CW_PORT, CW_TCP_CLOSE_WAIT));
	err = lab_show(lab, 0, "The FIN-WAIT-2 went after tcp_fin_timeout, 3 s; the TIME-WAIT after "
			       "60 s, though tcp_fin_timeout is 3 s: its length is built into the "
			       "kernel (its timer fires up to about 4 s late: the kernel's timer "
			       "wheel rounds a 60 s timer up to its coarser slots). The CLOSE-WAIT is still there, with no timer: nothing in "
			       "the kernel ends it. Only the program can, by closing it, or "
			       "keepalive, whose probe the peer, long gone, answers with a reset.");
out:
	if (leak >= 0)
		close(leak);
	if (sfd >= 0)
		close(sfd);
	if (lfd_tw >= 0)
		close(lfd_tw);
	if (lfd_cw >= 0)
		close(lfd_cw);
	return err;
}
