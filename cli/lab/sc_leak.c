/* leak: the classic bug. A server reads the client's end of file and never
 * calls close(): its socket stays in CLOSE_WAIT, the client's in
 * FIN_WAIT_2 until tcp_fin_timeout (3 s here), and the CLOSE_WAIT after
 * that, with no timer to end it, until the program closes. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "../cli.h"
#include "closewait/census_types.h"
#include "lab.h"

#define LEAK_PORT 8000
#define FIN_TIMEOUT_S 3

static int run(struct lab *lab, int lfd)
{
	char buf[128];
	uint64_t t;
	long ms, n;
	int cfd, sfd, err;

	lab_step(lab, "listen", "The server listens on 127.0.0.1:8000.");
	if ((err = lab_show(lab, LEAK_PORT, "One socket in LISTEN: it only takes new connections; "
				   "each one accepted gets a socket of its own.")))
		return err;

	lab_step(lab, "connect", "A client connects and sends \"hello\"; the server reads it and "
				 "answers \"HELLO\".");
	cfd = lab_connect(LEAK_PORT, 0);
	if (cfd < 0)
		return cfd;
	sfd = lab_accept(lfd);
	if (sfd < 0) {
		close(cfd);
		return sfd;
	}
	err = lab_write(cfd, "hello", 5);
	if (!err && (n = lab_read(sfd, buf, sizeof(buf), 2000)) > 0)
		err = lab_write(sfd, "HELLO", 5);
	if (!err && (n = lab_read(cfd, buf, sizeof(buf), 2000)) >= 0)
		lab_fact_str(lab, "client_read", "the client read", buf);
	if (!err && (err = lab_show(lab, LEAK_PORT,
				    "The three-way handshake made one connection with two ends, "
				    "one in each program: both are ESTABLISHED. Each end opened "
				    "once, actively (the client) or passively (the server).")))
		goto out;

	lab_step(lab, "client-closes", "The client closes its socket; the server's read() "
				       "returns 0 (end of file), and the server does nothing: "
				       "it never calls close().");
	t = cli_now_ms();
	close(cfd);
	cfd = -1;
	n = lab_read(sfd, buf, sizeof(buf), 2000);
	lab_fact_int(lab, "server_read", "the server's read() returned", n);
	ms = lab_wait_state(LEAK_PORT, false, CW_TCP_FIN_WAIT2, 2000);
	if (ms < 0) {
		err = (int)ms;
		goto out;
	}
	if ((err = lab_show(lab, LEAK_PORT,
			    "The client's close() sent a FIN; the server's kernel acknowledged it "
			    "at once, so the client's end waits in FIN_WAIT_2 for a FIN that never "
			    "comes, and the server's end sits in CLOSE_WAIT: the kernel waits for "
			    "the program to close. The client's end belongs to no process any more "
			    "(orphaned) and has a timer; the server's has none. One side FIN_WAIT_2, "
			    "the other CLOSE_WAIT: the CLOSE_WAIT side forgot to close. (Linux counts "
			    "the FIN_WAIT_2 when it sets its timer: as TcpExtTWKilled when the timer "
			    "is 4 s or less, else as TcpExtTW.)")))
		goto out;

	lab_step(lab, "fin-wait-2-expires", "Wait until the client's FIN_WAIT_2 is gone.");
	ms = lab_wait_state(LEAK_PORT, false, 0, (FIN_TIMEOUT_S + 5) * 1000);
	if (ms < 0) {
		err = (int)ms;
		goto out;
	}
	lab_fact_int(lab, "fin_wait_2_lasted_ms", "the FIN_WAIT_2 lasted (ms, from the close)",
		     (long long)(cli_now_ms() - t));
	if ((err = lab_show(lab, LEAK_PORT,
			    "After tcp_fin_timeout the kernel dropped the orphaned FIN_WAIT_2 "
			    "without a word to the server. The server's CLOSE_WAIT stays: no timer "
			    "ends it. It holds its file descriptor and its memory for as long as the "
			    "program runs.")))
		goto out;

	lab_step(lab, "server-closes", "At last the server calls close().");
	close(sfd);
	sfd = -1;
	ms = lab_wait_state(LEAK_PORT, true, 0, 2000);
	lab_fact_int(lab, "gone_after_ms", "its socket was gone after (ms)", ms);
	err = lab_show(lab, LEAK_PORT,
		       "close() sent the server's FIN to a client port where no socket is any "
		       "more; the client's kernel answered with a reset (TcpOutRsts), and the "
		       "socket was gone. Only close(), or the program's exit, ends a CLOSE_WAIT.");
out:
	if (cfd >= 0)
		close(cfd);
	if (sfd >= 0)
		close(sfd);
	return err;
}

int sc_leak(struct lab *lab)
{
	int lfd, err;

	err = lab_sysctl_int("net/ipv4/tcp_fin_timeout", FIN_TIMEOUT_S);
	if (err)
		return err;
	lab_begin(lab, "A private network namespace with loopback only; tcp_fin_timeout is 3 s "
		       "in it (60 s is the usual value). The server and the client are this "
		       "process.");
	lfd = lab_listen(LEAK_PORT);
	if (lfd < 0)
		return lfd;
	err = run(lab, lfd);
	close(lfd);
	return err;
}
