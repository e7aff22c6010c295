/* other-language: the leak is not C's. A Python server whose error path
 * skips close() keeps one CLOSE_WAIT per bad request; `closewait scan`,
 * run in the lab's namespace, names the process (python3) and says why.
 * Then the same server with the error path fixed keeps none. Python
 * stands in for any language with exceptions: the socket is closed only
 * when the code reaches close(), or the object is collected, and a dict of
 * open connections keeps it alive. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../cli.h"
#include "../out.h"
#include "closewait/census_types.h"
#include "lab.h"

#define LEAK_PORT 8070
#define FIXED_PORT 8071
#define REQUESTS 3
#define CLIENT_WAIT_MS 200

static const char server_py[] =
	"import socket, sys\n"
	"port, fixed = int(sys.argv[1]), sys.argv[2] == \"fixed\"\n"
	"conns = {}                          # the open connections, by peer\n"
	"srv = socket.socket()\n"
	"srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
	"srv.bind((\"127.0.0.1\", port))\n"
	"srv.listen(8)\n"
	"print(\"ready\", flush=True)\n"
	"while True:\n"
	"    conn, peer = srv.accept()\n"
	"    conns[peer] = conn\n"
	"    try:\n"
	"        n = int(conn.recv(100))     # a number, which it doubles\n"
	"        conn.sendall(b\"%d\\n\" % (2 * n))\n"
	"    except ValueError as e:\n"
	"        print(\"error\", peer[1], e, flush=True)\n"
	"        if not fixed:\n"
	"            continue                # the bug: this connection is never closed\n"
	"    conn.close()\n"
	"    del conns[peer]\n";

static int start(struct lab_server *s, uint16_t port, bool fixed)
{
	char p[8];
	char *argv[] = { "python3", "-c", (char *)server_py, p, fixed ? "fixed" : "leak", NULL };
	int err;

	snprintf(p, sizeof(p), "%u", port);
	err = lab_server_exec(s, argv, port);
	if (err == -EPIPE)
		cli_warn("lab", "other-language runs a Python server: install python3");
	return err;
}

/* Clients that send "hello" where a number is expected, wait a little for
 * an answer, and close. The server's last error line into last. */
static int bad_requests(struct lab_server *s, uint16_t port, char *last, size_t len)
{
	char buf[64];
	int err = 0;

	for (int i = 0; i < REQUESTS && !err; i++) {
		int fd = lab_connect(port, 0);

		if (fd < 0)
			return fd;
		err = lab_write(fd, "hello\n", 6);
		/* An answer or nothing: the client gives up either way. */
		if (!err)
			lab_read(fd, buf, sizeof(buf), CLIENT_WAIT_MS);
		close(fd);
		if (!err)
			err = lab_server_line(s, 2000, last, len);
	}
	return err;
}

/* How many sockets with role on port are in state, and the command holding them. */
static long in_state(uint16_t port, const char *role, int state, char *comm, size_t len)
{
	struct lab_sockview v[32];
	long n = lab_sockets(port, v, 32), k = 0;

	snprintf(comm, len, "none");
	for (long i = 0; i < n; i++)
		if (!strcmp(v[i].role, role) && v[i].state == state) {
			snprintf(comm, len, "%s", v[i].comm[0] ? v[i].comm : "?");
			k++;
		}
	return n < 0 ? n : k;
}

/* The lines of text that contain what. */
static void lines_with(const char *text, const char *what, char *out, size_t len)
{
	out[0] = 0;
	for (const char *l = text; *l;) {
		size_t n = strcspn(l, "\n");

		if (memmem(l, n, what, strlen(what)) && !out[0])
			snprintf(out, len, "%.*s", (int)n, l);
		l += n + (l[n] == '\n');
	}
}

static int scan(struct lab *lab)
{
	char *argv[] = { "/proc/self/exe", "scan", NULL };
	char out[8192], line[LAB_FACT_LEN];
	int status, err;

	lab_step(lab, "scan", "closewait scan, run in the lab's namespace, as anyone would run "
			      "it on the server's host.");
	status = lab_run_cmd(argv, out, sizeof(out), 10000);
	if (status < 0)
		return status;
	lab_fact_int(lab, "scan_exit", "its exit status (1: CLOSE_WAIT found)", status);
	lines_with(out, "has not closed", line, sizeof(line));
	lab_fact_str(lab, "culprit", "its culprit line", line);
	lines_with(out, "never read", line, sizeof(line));
	if (!line[0])
		lines_with(out, "read EOF", line, sizeof(line));
	lab_fact_str(lab, "why", "and why", line);
	err = lab_show(lab, LEAK_PORT,
			"scan needs no help from the program: it pairs each CLOSE_WAIT with the "
			"FIN_WAIT_2 of its peer on the same host and names the process that holds "
			"the CLOSE_WAIT, python3, whatever its language. never-read: the server "
			"read the request but not the end of file behind it, because it stopped "
			"reading when the request failed. Its exit status is 1: a script or a "
			"health check can act on it.");
	if (!err && !lab->json) {
		lab_say(lab, "\nWhat closewait scan printed:");
		out_printf(lab->out, "%s", out);
	}
	return err;
}

int sc_other_language(struct lab *lab)
{
	struct lab_server s = { .pid = 0, .fd = -1 };
	char last[LAB_FACT_LEN], comm[16];
	int err;

	lab_begin(lab, "A private network namespace with loopback only. The server is a "
		       "Python program (python3) in a child process; the clients are this "
		       "process.");
	if ((err = start(&s, LEAK_PORT, false)))
		return err;
	lab_step(lab, "python-listens", "The Python server below listens on 127.0.0.1:8070. "
					"It reads a number and answers its double; on anything "
					"else int() raises ValueError, and the error path logs "
					"and goes on to the next connection without closing this "
					"one.");
	in_state(LEAK_PORT, "listener", CW_TCP_LISTEN, comm, sizeof(comm));
	lab_fact_str(lab, "listener_comm", "the listener is held by", comm);
	if ((err = lab_show(lab, LEAK_PORT, "A listener like any other, held by python3.")))
		goto out;
	if (!lab->json)
		out_printf(lab->out, "\n%s", server_py);

	lab_step(lab, "bad-requests", "Three clients in turn send \"hello\", wait 0.2 s for an "
				      "answer that does not come, and close.");
	if ((err = bad_requests(&s, LEAK_PORT, last, sizeof(last))))
		goto out;
	lab_wait_states(LEAK_PORT, CW_TCP_CLOSE_WAIT, CW_TCP_FIN_WAIT2, 2000);
	lab_fact_str(lab, "server_said", "the server's last log line", last);
	lab_fact_int(lab, "close_wait", "server ends in CLOSE_WAIT",
		     in_state(LEAK_PORT, "server", CW_TCP_CLOSE_WAIT, comm, sizeof(comm)));
	lab_fact_str(lab, "close_wait_comm", "held by", comm);
	if ((err = lab_show(lab, LEAK_PORT,
			    "Each bad request left a CLOSE_WAIT held by python3: the client's FIN "
			    "arrived, the program never closed. The exception was handled (logged), "
			    "so nothing looks wrong; the connection object stays in the dict, so "
			    "the garbage collector does not close it either. The clients' ends "
			    "wait in FIN_WAIT_2, orphaned.")))
		goto out;

	if ((err = scan(lab)))
		goto out;
	lab_server_stop(&s);

	lab_step(lab, "fixed", "The same server with the error path fixed (it closes the "
			       "connection after logging: the `continue` removed), on port 8071, "
			       "and the same three bad requests.");
	if ((err = start(&s, FIXED_PORT, true)) ||
	    (err = bad_requests(&s, FIXED_PORT, last, sizeof(last))))
		goto out;
	lab_wait_states(FIXED_PORT, CW_TCP_TIME_WAIT, 0, 2000);
	lab_fact_int(lab, "close_wait", "server ends in CLOSE_WAIT",
		     in_state(FIXED_PORT, "server", CW_TCP_CLOSE_WAIT, comm, sizeof(comm)));
	err = lab_show(lab, FIXED_PORT,
		       "No CLOSE_WAIT: the server closed each connection after logging its "
		       "error, the client read the end of file at once instead of waiting, and "
		       "closed too. The server closed first, so it holds the TIME_WAITs. In "
		       "Python, `with conn:` or `finally: conn.close()` closes on every path.");
out:
	lab_server_stop(&s);
	return err;
}
