/* timewait: how long TIME_WAIT lasts on Linux and who holds it. The
 * length is compiled into the kernel (TCP_TIMEWAIT_LEN, 60 s): no setting
 * changes it, tcp_fin_timeout included, which only bounds an orphaned
 * FIN_WAIT_2. The end that closes first holds the TIME_WAIT; the other
 * keeps nothing. The scenario shows the timers, never waits for one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cli.h"
#include "closewait/census_types.h"
#include "lab.h"

#define CLIENT_FIRST_PORT 8040
#define SHORT_FIN_PORT 8041
#define SERVER_FIRST_PORT 8042
#define FIN_TIMEOUT_S 3
#define FIN_TIMEOUT "net/ipv4/tcp_fin_timeout"

/* The timer of the socket with role on port, in ms (0: none or no such socket). */
static long long timer_of(uint16_t port, const char *role)
{
	struct lab_sockview v[8];
	long n = lab_sockets(port, v, 8);

	for (long i = 0; i < n; i++)
		if (!strcmp(v[i].role, role))
			return v[i].timer_ms;
	return 0;
}

static int client_first(struct lab *lab, int lfd, uint64_t *tw_since)
{
	long fin_timeout = 0;
	int cfd, sfd, err;

	lab_step(lab, "client-closes-first", "A client connects to port 8040, the two exchange "
					     "\"hello\" and \"HELLO\"; the client closes first, then "
					     "the server, which read the end of file.");
	if ((err = lab_sysctl_read(FIN_TIMEOUT, &fin_timeout)) ||
	    (err = lab_pair(lfd, CLIENT_FIRST_PORT, &cfd, &sfd)))
		return err;
	if ((err = lab_close_pair(CLIENT_FIRST_PORT, cfd, sfd, true)))
		return err;
	*tw_since = cli_now_ms();
	lab_fact_int(lab, "tcp_fin_timeout_s", "tcp_fin_timeout (s)", fin_timeout);
	lab_fact_int(lab, "time_wait_timer_ms", "the client's TIME_WAIT timer (ms)",
		     timer_of(CLIENT_FIRST_PORT, "client"));
	return lab_show(lab, CLIENT_FIRST_PORT,
			"The client closed first: its end is in TIME-WAIT, owned by no process, "
			"with a timer of 60 s. The server's end, which closed second (the passive "
			"close), is gone already. Linux counts a TIME_WAIT as TcpExtTW when it sets "
			"a timer longer than 4 s.");
}

static int short_fin_timeout(struct lab *lab, int lfd)
{
	int cfd, sfd, err;
	long ms;

	lab_step(lab, "fin-timeout-3", "tcp_fin_timeout is set to 3 s in the lab's namespace. "
				       "A new connection on port 8041; the client closes first, "
				       "the server has not closed yet.");
	if ((err = lab_sysctl_int(FIN_TIMEOUT, FIN_TIMEOUT_S)) ||
	    (err = lab_pair(lfd, SHORT_FIN_PORT, &cfd, &sfd)))
		return err;
	close(cfd);
	ms = lab_wait_state(SHORT_FIN_PORT, false, CW_TCP_FIN_WAIT2, 2000);
	if (ms < 0) {
		close(sfd);
		return (int)ms;
	}
	lab_fact_int(lab, "tcp_fin_timeout_s", "tcp_fin_timeout (s)", FIN_TIMEOUT_S);
	lab_fact_int(lab, "fin_wait_2_timer_ms", "the client's FIN_WAIT_2 timer (ms)",
		     timer_of(SHORT_FIN_PORT, "client"));
	if ((err = lab_show(lab, SHORT_FIN_PORT,
			    "The client's end waits in FIN-WAIT-2 for the server's FIN, with a "
			    "timer of 3 s: that is what tcp_fin_timeout bounds, an orphaned "
			    "FIN_WAIT_2 (counted as TcpExtTWKilled, its timer being 4 s or "
			    "less). The server's end is in CLOSE-WAIT, the end of file not read "
			    "yet (Recv-Q 1: the FIN)."))) {
		close(sfd);
		return err;
	}

	lab_step(lab, "fin-timeout-3-time-wait", "The server reads the end of file and closes.");
	close(sfd);
	ms = lab_wait_state(SHORT_FIN_PORT, false, CW_TCP_TIME_WAIT, 2000);
	if (ms < 0)
		return (int)ms;
	lab_fact_int(lab, "tcp_fin_timeout_s", "tcp_fin_timeout (s)", FIN_TIMEOUT_S);
	lab_fact_int(lab, "time_wait_timer_ms", "the client's TIME_WAIT timer (ms)",
		     timer_of(SHORT_FIN_PORT, "client"));
	return lab_show(lab, SHORT_FIN_PORT,
			"The server's FIN took the client's end to TIME-WAIT, and its timer is "
			"60 s again, tcp_fin_timeout or not. No setting of Linux changes the "
			"length of TIME_WAIT: it is a constant of the kernel (TCP_TIMEWAIT_LEN). "
			"Windows' TcpTimedWaitDelay has no Linux counterpart, and tcp_fin_timeout "
			"is not one.");
}

static int server_first(struct lab *lab, int lfd)
{
	int cfd, sfd, err;

	lab_step(lab, "server-closes-first", "A new connection on port 8042, \"hello\" and "
					     "\"HELLO\"; this time the server closes first, then "
					     "the client, which read the end of file.");
	if ((err = lab_pair(lfd, SERVER_FIRST_PORT, &cfd, &sfd)) ||
	    (err = lab_close_pair(SERVER_FIRST_PORT, cfd, sfd, false)))
		return err;
	lab_wait_state(SERVER_FIRST_PORT, false, 0, 2000);
	lab_fact_int(lab, "time_wait_timer_ms", "the server's TIME_WAIT timer (ms)",
		     timer_of(SERVER_FIRST_PORT, "server"));
	return lab_show(lab, SERVER_FIRST_PORT,
			"Now the server holds the TIME_WAIT and the client nothing: the end that "
			"closes first waits, whichever it is. A server that closes its "
			"connections first (an idle timeout, HTTP without keep-alive) collects "
			"one TIME_WAIT per connection; on the server's side they cost a little "
			"memory and no port, since they all share the listening port.");
}

int sc_timewait(struct lab *lab)
{
	uint64_t tw_since = 0;
	long long left;
	int lfd[3], err = 0;
	const uint16_t ports[3] = { CLIENT_FIRST_PORT, SHORT_FIN_PORT, SERVER_FIRST_PORT };

	lab_begin(lab, "A private network namespace with loopback only; tcp_fin_timeout has "
		       "its usual value (60 s) until the scenario changes it. The server and "
		       "the client are this process.");
	for (int i = 0; i < 3; i++)
		lfd[i] = err ? -1 : lab_listen(ports[i]);
	for (int i = 0; i < 3 && !err; i++)
		if (lfd[i] < 0)
			err = lfd[i];
	if (!err)
		err = client_first(lab, lfd[0], &tw_since);
	if (!err)
		err = short_fin_timeout(lab, lfd[1]);
	if (!err)
		err = server_first(lab, lfd[2]);
	if (!err) {
		lab_step(lab, "still-there", "A second later: every socket of the lab's "
					     "namespace, listeners and TIME_WAITs.");
		nanosleep(&(struct timespec){ .tv_sec = 1 }, NULL);
		left = timer_of(CLIENT_FIRST_PORT, "client");
		lab_fact_int(lab, "first_time_wait_age_ms", "the first TIME_WAIT's age (ms)",
			     (long long)(cli_now_ms() - tw_since));
		lab_fact_int(lab, "first_time_wait_length_ms",
			     "its age plus its timer (ms): the length of a TIME_WAIT",
			     (long long)(cli_now_ms() - tw_since) + left);
		err = lab_show(lab, 0,
			       "The TIME_WAITs count down, each from 60 s: the first one's age plus "
			       "the time it has left is 60 s, whatever tcp_fin_timeout was when it "
			       "began. They would end on their own a minute after their close, or "
			       "now, with the lab's namespace.");
	}
	for (int i = 0; i < 3; i++)
		if (lfd[i] >= 0)
			close(lfd[i]);
	return err;
}
