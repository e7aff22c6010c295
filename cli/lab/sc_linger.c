/* linger: a graceful close against an abortive one (SO_LINGER {1, 0}).
 * The server answers a bad login with a long reply ending in "wrong
 * password" and closes. The client is slow: its small receive buffer is
 * full, so the end of the reply still waits in the server's send queue.
 * A graceful close sends it and then the FIN; an abortive close throws the
 * queue away and sends a reset, and the client never learns why it was
 * cut off. What had already reached the client's kernel is not lost:
 * Linux lets the client read it before it reports the reset. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "closewait/census_types.h"
#include "lab.h"

#define GRACEFUL_PORT 8001
#define ABORTIVE_PORT 8002
#define REPLY_BYTES 65536
#define CLIENT_RCVBUF 4096
#define MESSAGE "wrong password\n"

/* The client connects and logs in; the server reads the login and writes
 * its reply, most of which stays queued. The two fds, or -errno. */
static int login(struct lab *lab, uint16_t port, int lfd, int *cfd, int *sfd)
{
	static char reply[REPLY_BYTES];
	int sndbuf = 4 * REPLY_BYTES, err;
	char buf[128];

	*sfd = -1;
	*cfd = lab_connect(port, CLIENT_RCVBUF);
	if (*cfd < 0)
		return *cfd;
	*sfd = lab_accept(lfd);
	if (*sfd < 0)
		return *sfd;
	memset(reply, '.', sizeof(reply));
	/* Room for the whole reply: the server's write() must not block. */
	if (setsockopt(*sfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)))
		return -errno;
	err = lab_write(*cfd, "LOGIN bob hunter3\n", 18);
	if (!err && lab_read(*sfd, buf, sizeof(buf), 2000) <= 0)
		err = -EPROTO;
	if (!err)
		err = lab_write(*sfd, reply, sizeof(reply));
	if (!err)
		err = lab_write(*sfd, MESSAGE, strlen(MESSAGE));
	if (!err)
		lab_fact_int(lab, "reply_bytes", "the server wrote (bytes)",
			     (long long)(sizeof(reply) + strlen(MESSAGE)));
	return err;
}

/* The client reads until the end: what it got, and how it ended. */
static void client_reads(struct lab *lab, int cfd)
{
	char tail[32];
	int end;
	long n = lab_drain(cfd, 3000, &end, tail, sizeof(tail));

	lab_fact_int(lab, "client_read_bytes", "the client read (bytes)", n);
	lab_fact_bool(lab, "client_got_message", "the client got \"wrong password\"",
		      strstr(tail, MESSAGE) != NULL);
	lab_fact_str(lab, "client_read_end", "its read ended with",
		     end == 0 ? "end of file" : end == ECONNRESET ? "ECONNRESET" : strerror(end));
}

static int graceful(struct lab *lab, int lfd)
{
	int cfd, sfd, err;

	lab_step(lab, "graceful-login", "A slow client (a 4 KiB receive buffer) logs in with a "
					"wrong password; the server answers with a 64 KiB reply "
					"ending in \"wrong password\".");
	err = login(lab, GRACEFUL_PORT, lfd, &cfd, &sfd);
	if (!err)
		err = lab_show(lab, GRACEFUL_PORT,
			       "The client has not read yet: its receive buffer is full, so most "
			       "of the reply, the message included, waits in the server's send "
			       "queue (Send-Q).");
	if (err)
		goto out;

	lab_step(lab, "graceful-close", "The server closes its socket the ordinary way: "
					"close().");
	close(sfd);
	sfd = -1;
	if ((err = lab_show(lab, GRACEFUL_PORT,
			    "A graceful close keeps what is queued: the kernel will send it, then "
			    "a FIN. Until the client has taken it all, the server's end waits in "
			    "FIN_WAIT_1 with its Send-Q, owned by no process now.")))
		goto out;

	lab_step(lab, "graceful-read", "The client reads until the end.");
	client_reads(lab, cfd);
	lab_wait_state(GRACEFUL_PORT, true, CW_TCP_FIN_WAIT2, 2000);
	if ((err = lab_show(lab, GRACEFUL_PORT,
			    "Every byte arrived, the message last, then the end of file: the client "
			    "knows why it was cut off. The server's end is in FIN_WAIT_2, the "
			    "client's in CLOSE_WAIT until it closes.")))
		goto out;

	lab_step(lab, "graceful-done", "The client closes too.");
	close(cfd);
	cfd = -1;
	lab_wait_state(GRACEFUL_PORT, true, CW_TCP_TIME_WAIT, 2000);
	err = lab_show(lab, GRACEFUL_PORT,
		       "The server closed first, so its end holds the TIME_WAIT (60 s on "
		       "Linux): the price of a graceful close, paid by whoever closes first.");
out:
	if (cfd >= 0)
		close(cfd);
	if (sfd >= 0)
		close(sfd);
	return err;
}

static int abortive(struct lab *lab, int lfd)
{
	int cfd, sfd, err;

	lab_step(lab, "abortive-login", "The same slow client and the same reply, on another "
					"port.");
	err = login(lab, ABORTIVE_PORT, lfd, &cfd, &sfd);
	if (!err)
		err = lab_show(lab, ABORTIVE_PORT, "As before: the message waits in the server's "
						   "send queue.");
	if (err)
		goto out;

	lab_step(lab, "abortive-close", "The server sets SO_LINGER {l_onoff 1, l_linger 0} and "
					"closes: an abortive close.");
	err = lab_abort(sfd);
	sfd = -1;
	if (err)
		goto out;
	lab_wait_state(ABORTIVE_PORT, false, 0, 2000);
	if ((err = lab_show(lab, ABORTIVE_PORT,
			    "The kernel threw the send queue away and sent a reset instead of a "
			    "FIN (TcpOutRsts; Linux counts this kind of close as "
			    "TcpExtTCPAbortOnData). Both ends are gone at once: no FIN_WAIT, no "
			    "TIME_WAIT. The client's socket is closed by the reset, though its "
			    "program has not noticed yet.")))
		goto out;

	lab_step(lab, "abortive-read", "The client reads until the end.");
	client_reads(lab, cfd);
	err = lab_show(lab, ABORTIVE_PORT,
		       "The client read what had already reached its kernel (Linux delivers "
		       "that before the reset), then got ECONNRESET: the \"wrong password\" "
		       "never came. An abortive close saves the TIME_WAIT and loses data; keep "
		       "the graceful close unless losing what is queued is the point.");
out:
	if (cfd >= 0)
		close(cfd);
	if (sfd >= 0)
		close(sfd);
	return err;
}

int sc_linger(struct lab *lab)
{
	int g, a, err;

	lab_begin(lab, "A private network namespace with loopback only. The server and the "
		       "client are this process.");
	g = lab_listen(GRACEFUL_PORT);
	if (g < 0)
		return g;
	a = lab_listen(ABORTIVE_PORT);
	if (a < 0) {
		close(g);
		return a;
	}
	err = graceful(lab, g);
	if (!err)
		err = abortive(lab, a);
	close(a);
	close(g);
	return err;
}
