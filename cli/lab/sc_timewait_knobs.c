/* timewait-knobs: what Linux offers instead of a shorter TIME_WAIT, each
 * tried in the lab's namespace, whose settings are its own:
 * tcp_max_tw_buckets (past it no TIME_WAIT at all, counted as
 * TCPTimeWaitOverflow), SO_LINGER {1, 0} (a reset, no TIME_WAIT),
 * tcp_tw_reuse 0/1/2 (a new connection takes the port of a TIME_WAIT to
 * the same destination; 1 needs timestamps, 2 only on loopback addresses)
 * and IP_BIND_ADDRESS_NO_PORT (a port picked per destination). The port
 * range is made small, so running out takes ten connections, not 28 232. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cli.h"
#include "closewait/census_types.h"
#include "lab.h"

#define BUCKETS_PORT 8050
#define LINGER_PORT 8051
#define REUSE0_PORT 8052
#define REUSE1_PORT 8053
#define NO_TS_PORT 8054
#define REUSE2_PORT 8055
#define BIND_PORT 8056
#define NO_PORT_A 8057
#define NO_PORT_B 8058
#define REUSE2_OTHER_PORT 8059
#define OTHER_ADDR "192.0.2.1"        /* on loopback, not a loopback address */
#define BUCKETS 2
#define TRIES 4
#define RANGE_PORTS 10
#define REUSE_DELAY_MS 100
#define MAX_FDS 32

#define SYS "net/ipv4/"

static long in_state(uint16_t port, const char *role, int state)
{
	struct lab_sockview v[32];
	long n = lab_sockets(port, v, 32), k = 0;

	for (long i = 0; i < n; i++)
		k += !strcmp(v[i].role, role) && v[i].state == state;
	return n < 0 ? n : k;
}

static const char *errname(int err)
{
	return err == -EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == -EADDRINUSE ? "EADDRINUSE"
	       : err >= 0 ? "connected" : strerror(-err);
}

static void sleep_ms(unsigned ms)
{
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L },
		  NULL);
}

static int buckets(struct lab *lab)
{
	long was = 0;
	int lfd, cfd, sfd, err;

	lab_step(lab, "max-tw-buckets", "tcp_max_tw_buckets is set to 2. Four clients in turn "
					"connect to port 8050, say hello and close first; the "
					"server closes after each end of file.");
	if ((err = lab_sysctl_read(SYS "tcp_max_tw_buckets", &was)) ||
	    (err = lab_sysctl_int(SYS "tcp_max_tw_buckets", BUCKETS)))
		return err;
	lfd = lab_listen(BUCKETS_PORT);
	if (lfd < 0)
		return lfd;
	for (int i = 0; i < TRIES && !err; i++) {
		char buf[16];

		if ((err = lab_pair(lfd, BUCKETS_PORT, &cfd, &sfd)))
			break;
		close(cfd);
		if (lab_read(sfd, buf, sizeof(buf), 2000) != 0)
			err = -EPROTO;
		close(sfd);
	}
	close(lfd);
	/* The server's ends go once their FIN is answered (an ACK, or a reset
	 * where no TIME_WAIT was kept). */
	if (!err && lab_wait_states(BUCKETS_PORT, 0, -1, 2000) < 0)
		err = -ETIMEDOUT;
	if (!err)
		err = lab_sysctl_int(SYS "tcp_max_tw_buckets", was);
	if (err)
		return err;
	lab_fact_int(lab, "tcp_max_tw_buckets_was", "tcp_max_tw_buckets before", was);
	lab_fact_int(lab, "closed_first", "clients that closed first", TRIES);
	lab_fact_int(lab, "time_waits", "TIME_WAITs left",
		     in_state(BUCKETS_PORT, "client", CW_TCP_TIME_WAIT));
	return lab_show(lab, BUCKETS_PORT,
			"Two TIME_WAITs, not four: with two in the namespace the kernel skipped "
			"TIME_WAIT for the others and closed them at once, counting each as "
			"TcpExtTCPTimeWaitOverflow. A "
			"skipped TIME_WAIT is one that cannot protect the next connection on its "
			"port from the old one's late segments: a limit for a flood of "
			"connections, not a setting to live with. The limit is set back.");
}

static int linger0(struct lab *lab)
{
	char buf[16];
	int lfd, cfd, sfd, err;
	long n;

	lab_step(lab, "linger-0", "A client connects to port 8051, says hello, sets SO_LINGER "
				  "{1, 0} and closes.");
	lfd = lab_listen(LINGER_PORT);
	if (lfd < 0)
		return lfd;
	err = lab_pair(lfd, LINGER_PORT, &cfd, &sfd);
	close(lfd);
	if (err)
		return err;
	err = lab_abort(cfd);
	n = lab_read(sfd, buf, sizeof(buf), 2000);
	close(sfd);
	if (err)
		return err;
	lab_fact_str(lab, "server_read", "the server's read() got",
		     n == -ECONNRESET ? "ECONNRESET" : n == 0 ? "end of file" : strerror((int)-n));
	return lab_show(lab, LINGER_PORT,
			"No TIME_WAIT anywhere: the client's close sent a reset (TcpOutRsts; Linux "
			"counts this close as TcpExtTCPAbortOnData), and both ends are gone. The "
			"price: whatever was still queued is lost, and the server sees an error, "
			"not an end of file (the linger scenario shows a message lost this way).");
}

/* A TIME_WAIT from the only port of the range to dst:port, then, after
 * the reuse delay, another connection to the same place: its fd (kept in
 * *fd2, -1 when it failed) and how connect() ended. */
static unsigned reuse_wait_ms = 2 * REUSE_DELAY_MS;
/* As the namespace began: tcp_tw_reuse; tcp_tw_reuse_delay (-1: none). */
static long reuse_default, reuse_delay = -1;

static int reuse_try(const char *dst, uint16_t port, int *fd2, int *sfd2, int *got)
{
	int lfd = lab_listen_at(dst, port), cfd, sfd, err;

	*fd2 = *sfd2 = -1;
	if (lfd < 0)
		return lfd;
	if ((err = lab_pair_at(lfd, dst, port, &cfd, &sfd)) ||
	    (err = lab_close_pair(port, cfd, sfd, true))) {
		close(lfd);
		return err;
	}
	sleep_ms(reuse_wait_ms);
	*got = lab_pair_at(lfd, dst, port, fd2, sfd2);
	close(lfd);
	return 0;
}

static int reuse_step(struct lab *lab, const char *id, const char *action, int reuse,
		      int timestamps, const char *dst, uint16_t port, const char *explain)
{
	int fd = -1, sfd = -1, got = 0, err;

	lab_step(lab, id, action);
	if ((err = lab_sysctl_int(SYS "tcp_tw_reuse", reuse)) ||
	    (err = lab_sysctl_int(SYS "tcp_timestamps", timestamps)) ||
	    (err = reuse_try(dst, port, &fd, &sfd, &got)))
		return err;
	lab_fact_int(lab, "tcp_tw_reuse", "tcp_tw_reuse", reuse);
	lab_fact_int(lab, "tcp_timestamps", "tcp_timestamps", timestamps);
	if (reuse == 0) {
		lab_fact_int(lab, "tcp_tw_reuse_default", "tcp_tw_reuse in a new namespace",
			     reuse_default);
		lab_fact_int(lab, "tcp_tw_reuse_delay_default_ms",
			     "tcp_tw_reuse_delay in a new namespace (ms; -1: no such setting)",
			     reuse_delay);
	}
	lab_fact_str(lab, "connect_again", "connect() again", errname(got));
	if (fd >= 0)
		lab_fact_int(lab, "port", "its port", lab_local_port(fd));
	err = lab_show(lab, port, explain);
	if (fd >= 0)
		lab_abort(fd);
	if (sfd >= 0)
		close(sfd);
	return err;
}

static int reuse(struct lab *lab)
{
	long delay = -1, was = 0;
	char range[32];
	int err;

	snprintf(range, sizeof(range), "%d %d", 40000, 40000);
	if ((err = lab_sysctl(SYS "ip_local_port_range", range)))
		return err;
	/* Recent kernels wait tcp_tw_reuse_delay ms before reusing a
	 * TIME_WAIT; older ones a second (timestamps of whole seconds), which
	 * the steps then wait instead. */
	if (lab_sysctl_read(SYS "tcp_tw_reuse_delay", &delay) == 0) {
		reuse_wait_ms = 2 * REUSE_DELAY_MS;
		err = lab_sysctl_int(SYS "tcp_tw_reuse_delay", REUSE_DELAY_MS);
		lab_say(lab, "\nThe port range (ip_local_port_range) is now one port, 40000; "
			     "tcp_tw_reuse_delay, the time a TIME_WAIT must have lasted to be "
			     "reused, 100 ms (1 s by default).");
	} else {
		reuse_wait_ms = 1100;
		lab_say(lab, "\nThe port range (ip_local_port_range) is now one port, 40000. "
			     "This kernel has no tcp_tw_reuse_delay: a TIME_WAIT can be reused "
			     "once it has lasted a second.");
	}
	if (!err)
		err = lab_sysctl_read(SYS "tcp_tw_reuse", &was);
	if (err)
		return err;
	reuse_default = was;
	reuse_delay = delay;
	if ((err = reuse_step(lab, "reuse-0", "tcp_tw_reuse 0: a client connects to port 8052 "
				"and closes first, then, after the reuse delay, connects again.", 0, 1,
				NULL, REUSE0_PORT,
				"The only port's connection to 8052 is in TIME_WAIT, and connect() "
				"fails with EADDRNOTAVAIL: no port left for that destination. A "
				"client that closes first and opens connections fast runs out "
				"this way: ports divided by 60 s is its limit per destination.")))
		return err;
	if ((err = reuse_step(lab, "reuse-1", "tcp_tw_reuse 1, timestamps on (the default): "
				"the same on port 8053.", 1, 1, NULL, REUSE1_PORT,
				"connect() took the TIME_WAIT's port over: the TIME_WAIT is gone, "
				"replaced by the new connection (TcpExtTWRecycled). Timestamps make "
				"it safe: the new connection's are newer, so the server tells its "
				"segments from the old one's.")))
		return err;
	if ((err = reuse_step(lab, "reuse-1-no-timestamps", "tcp_tw_reuse 1, tcp_timestamps 0: "
				"the same on port 8054.", 1, 0, NULL, NO_TS_PORT,
				"Without timestamps the TIME_WAIT has none to compare: tcp_tw_reuse "
				"does nothing, EADDRNOTAVAIL again.")))
		return err;
	if ((err = reuse_step(lab, "reuse-2", "tcp_tw_reuse 2, timestamps on: the same to "
				"127.0.0.1 port 8055.", 2, 1, NULL, REUSE2_PORT,
				"2 reuses as 1 does, but only for a connection between loopback "
				"addresses: 127.0.0.1 is one.")))
		return err;
	return reuse_step(lab, "reuse-2-other-address", "tcp_tw_reuse 2, timestamps on: the "
			  "same to 192.0.2.1 port 8059, an address the lab put on the "
			  "loopback interface.", 2, 1, OTHER_ADDR, REUSE2_OTHER_PORT,
			  "192.0.2.1 is not a loopback address (127.0.0.0/8), though its "
			  "segments go through lo: tcp_tw_reuse 2 does not reuse, EADDRNOTAVAIL. "
			  "Between hosts, only 1 reuses.");
}

/* Connects from 127.0.0.1 (bound first) to port until it fails: how many
 * connected (their fds added to fds), and the failure in *got. */
static int fill(uint16_t port, bool no_port, int *fds, int *n, int *got, char *ports,
		size_t len)
{
	int k = 0;
	size_t used = ports ? strlen(ports) : 0;

	for (;;) {
		int fd = *n < MAX_FDS ? lab_connect_at("127.0.0.1", no_port, NULL, port) : -EMFILE;

		if (fd < 0) {
			*got = fd;
			return k;
		}
		fds[(*n)++] = fd;
		if (ports && k < 4 && used < len)
			used += (size_t)snprintf(ports + used, len - used, "%s%d", used ? ", " : "",
						 lab_local_port(fd));
		k++;
	}
}

static void close_all(int *fds, int *n)
{
	/* Abortive: no TIME_WAIT left to take the range's ports. */
	while (*n)
		lab_abort(fds[--*n]);
}

static int bind_no_port(struct lab *lab)
{
	int lfd[3], fds[MAX_FDS], n = 0, got = 0, k, err = 0;
	const uint16_t ports[3] = { BIND_PORT, NO_PORT_A, NO_PORT_B };
	char range[32], first[64] = "";

	for (int i = 0; i < 3; i++)
		lfd[i] = lab_listen(ports[i]);
	for (int i = 0; i < 3; i++)
		if (lfd[i] < 0 && !err)
			err = lfd[i];
	snprintf(range, sizeof(range), "%d %d", 40010, 40010 + RANGE_PORTS - 1);
	if (!err)
		err = lab_sysctl(SYS "ip_local_port_range", range);
	if (err)
		goto out;
	lab_say(lab, "\nThe port range is now ten ports, 40010 to 40019.");

	lab_step(lab, "bind-port-0", "Clients bind() to 127.0.0.1 port 0 and connect to port "
				     "8056, until one fails; then one binds to connect to "
				     "8057.");
	k = fill(BIND_PORT, false, fds, &n, &got, first, sizeof(first));
	lab_fact_int(lab, "connected", "connected to 8056", k);
	lab_fact_str(lab, "then", "then bind()", errname(got));
	lab_fact_str(lab, "first_ports", "the first ports", first);
	k = fill(NO_PORT_A, false, fds, &n, &got, NULL, 0);
	lab_fact_int(lab, "connected_other", "connected to 8057", k);
	lab_fact_str(lab, "then_other", "then bind()", errname(got));
	err = lab_show(lab, BIND_PORT,
		       "bind() to port 0 picks a port before the destination is known, so it "
		       "takes only a port no socket holds: ten connections used the ten ports, "
		       "and the eleventh bind() failed with EADDRINUSE, whatever the "
		       "destination. bind() tries odd ports first (connect() even ones).");
	close_all(fds, &n);
	if (err)
		goto out;

	lab_step(lab, "bind-address-no-port", "The same with IP_BIND_ADDRESS_NO_PORT set before "
					      "bind(): to port 8057 until one fails, then to "
					      "port 8058 until one fails.");
	first[0] = 0;
	k = fill(NO_PORT_A, true, fds, &n, &got, first, sizeof(first));
	lab_fact_int(lab, "connected", "connected to 8057", k);
	lab_fact_str(lab, "then", "then connect()", errname(got));
	lab_fact_str(lab, "first_ports", "the first ports", first);
	k = fill(NO_PORT_B, true, fds, &n, &got, NULL, 0);
	lab_fact_int(lab, "connected_other", "connected to 8058", k);
	lab_fact_str(lab, "then_other", "then connect()", errname(got));
	err = lab_show(lab, NO_PORT_B,
		       "With the option, bind() keeps the address and leaves the port to "
		       "connect(), which knows the destination: a port is taken only if the "
		       "same four numbers (addresses and ports) are in use. Ten connections "
		       "to each port, each time the same ten ports, then EADDRNOTAVAIL. A "
		       "proxy that binds a source address should set it.");
	close_all(fds, &n);
out:
	for (int i = 0; i < 3; i++)
		if (lfd[i] >= 0)
			close(lfd[i]);
	return err;
}

int sc_timewait_knobs(struct lab *lab)
{
	int err = lab_addr_add("lo:1", OTHER_ADDR);

	if (err)
		return err;
	lab_begin(lab, "A private network namespace with loopback only, 192.0.2.1 added to "
		       "it; the settings each step changes are the namespace's own. The server "
		       "and the client are this process.");
	err = buckets(lab);
	if (!err)
		err = linger0(lab);
	if (!err)
		err = reuse(lab);
	if (!err)
		err = bind_no_port(lab);
	return err;
}
