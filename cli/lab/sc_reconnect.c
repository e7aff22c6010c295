/* reconnect: a long-lived client whose connections a server ends (here by
 * an idle timeout, as load balancers do). The buggy client reconnects
 * without closing the old socket: each one stays in CLOSE_WAIT, on the
 * client's side this time. The fixed client closes before it reconnects. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../cli.h"
#include "closewait/census_types.h"
#include "lab.h"

#define BUGGY_PORT 8030
#define FIXED_PORT 8031
#define ROUNDS 4
#define IDLE_MS 200

/* One connection: hello, its answer, then waits until the server ends it
 * (read() returns 0). The fd, still open, or -errno. */
static int one_round(uint16_t port)
{
	char buf[64];
	int fd = lab_connect(port, 0), err;

	if (fd < 0)
		return fd;
	err = lab_write(fd, "hello", 5);
	if (!err && lab_read(fd, buf, sizeof(buf), 2000) != 5)
		err = -EPROTO;
	/* The end of file: the server closed this connection. */
	if (!err && lab_read(fd, buf, sizeof(buf), 5 * IDLE_MS) != 0)
		err = -EPROTO;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static long in_state(uint16_t port, const char *role, int state)
{
	struct lab_sockview v[32];
	long n = lab_sockets(port, v, 32), k = 0;

	for (long i = 0; i < n; i++)
		k += !strcmp(v[i].role, role) && v[i].state == state;
	return n < 0 ? n : k;
}

/* ROUNDS connections, each reconnecting after the server ended the last;
 * closing the old socket first only when fixed. */
static int rounds(struct lab *lab, uint16_t port, bool fixed)
{
	struct lab_server s;
	struct cw_policy p;
	int fds[ROUNDS], n = 0, err = 0;
	char reason[32];
	uint64_t at;

	cw_policy_init(&p);
	p.idle_ms = IDLE_MS;
	if ((err = lab_server_start(&s, &p, port)))
		return err;
	for (; n < ROUNDS && !err; n++) {
		fds[n] = one_round(port);
		if (fds[n] < 0)
			err = fds[n];
		else if (fixed)
			close(fds[n]); /* before the next connect(): the fix */
		if (!err)
			err = lab_server_closed(&s, 2000, reason, sizeof(reason), &at);
	}
	if (!err && fixed)
		lab_wait_state(port, false, 0, 2000);
	/* The client's kernel delays its ACK of the server's last FIN a little. */
	for (int i = 0; !err && !fixed && i < 200 &&
	     in_state(port, "server", CW_TCP_FIN_WAIT2) < ROUNDS; i++)
		usleep(10000);
	if (!err) {
		lab_fact_int(lab, "connections", "connections made", n);
		lab_fact_int(lab, "client_close_wait", "client ends in CLOSE_WAIT",
			     in_state(port, "client", CW_TCP_CLOSE_WAIT));
	}
	if (!err)
		err = lab_show(lab, port, fixed
			       ? "Each old socket was closed at once: its end of file read, close() "
				 "sent the client's FIN, and the server's end went to TIME-WAIT (the "
				 "server closed first). No CLOSE_WAIT, whatever the number of "
				 "reconnections."
			       : "Every connection the server ended is still open in the client: "
				 "one CLOSE_WAIT per reconnection, read to the end of file and never "
				 "closed, held by the client's process. The server's ends wait in "
				 "FIN_WAIT_2 for FINs that will not come. A client that reconnects "
				 "forever leaks until it runs out of file descriptors.");
	if (!fixed)
		for (int i = 0; i < n && i < ROUNDS; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	lab_server_stop(&s);
	return err;
}

int sc_reconnect(struct lab *lab)
{
	int err;

	lab_begin(lab, "A private network namespace with loopback only. The server is built "
		       "on the library and ends connections idle for 200 ms (closewait serve "
		       "--idle 200ms), in a child process; the client is this process.");
	lab_step(lab, "buggy", "The buggy client: four times, it connects, says hello, reads "
			       "the answer and, when the server ends the connection, connects "
			       "again, without closing the old socket.");
	err = rounds(lab, BUGGY_PORT, false);
	if (err)
		return err;
	lab_step(lab, "fixed", "The fixed client: the same, but it closes the old socket "
			       "before it connects again.");
	return rounds(lab, FIXED_PORT, true);
}
