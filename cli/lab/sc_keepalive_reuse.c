/* keepalive-reuse: the structural cure for TIME_WAIT churn. A client that
 * opens a connection per request and closes it first leaves a TIME_WAIT per
 * request on its side, holding the port for 60 s: with a port range of ten
 * and tcp_tw_reuse off, the eleventh request finds no port. The same
 * requests over one kept connection (HTTP/1.1 keep-alive) use one port and
 * leave one TIME_WAIT. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "closewait/census_ports.h"
#include "closewait/census_types.h"
#include "lab.h"

#define SYS "net/ipv4/"
#define PER_REQUEST_PORT 8090
#define KEEP_ALIVE_PORT 8091
#define REQUESTS 20
#define RANGE "40000 40009"

/* One request on fd: "ping", and its whole answer. */
static int request(int fd)
{
	char buf[8];
	int err = lab_write(fd, "ping", 4);

	if (!err && lab_read(fd, buf, sizeof(buf), 2000) != 4)
		err = -EPROTO;
	return err;
}

/* default_ports: the ports connect() can use in a new namespace. */
static int per_request(struct lab *lab, unsigned default_ports)
{
	struct lab_server s;
	struct cw_policy p;
	int made = 0, err, failed = 0;

	lab_step(lab, "per-request", "A client makes 20 requests to port 8090, a new connection for "
				     "each: it connects, sends \"ping\", reads the answer and closes "
				     "first, as a client without keep-alive does.");
	cw_policy_init(&p);
	if ((err = lab_server_start(&s, &p, PER_REQUEST_PORT)))
		return err;
	for (int i = 0; i < REQUESTS && !err; i++) {
		int fd = lab_connect(PER_REQUEST_PORT, 0);

		if (fd < 0) {
			failed = fd;
			break;
		}
		err = request(fd);
		close(fd);
		if (!err)
			made++;
	}
	if (!err) {
		lab_fact_int(lab, "requests", "requests made", made);
		lab_fact_int(lab, "connections", "connections opened", made);
		lab_fact_str(lab, "next_connect", "the next connect()",
			     failed ? strerrorname_np(-failed) : "connected");
		lab_fact_int(lab, "client_time_waits", "TIME_WAITs on the client's side",
			     lab_wait_count(PER_REQUEST_PORT, CW_TCP_TIME_WAIT, made, 2000));
		lab_fact_int(lab, "default_ports", "ports connect() can use in a new namespace", default_ports);
		lab_fact_int(lab, "bound_per_s",
			     "so, without reuse, new connections per second to one destination at most",
			     default_ports / 60);
		err = lab_show(lab, PER_REQUEST_PORT,
			       "Each request took a local port and left it in TIME-WAIT on the "
			       "client's side, the side that closed first, for 60 s. With ten ports "
			       "and no reuse, the eleventh connect() found none free for this "
			       "destination: EADDRNOTAVAIL. A client behind one address can open at "
			       "most (ports / 60 s) connections per second to one server port, "
			       "whatever the range: the bound above, for the range a namespace "
			       "starts with.");
	}
	lab_server_stop(&s);
	return err;
}

static int keep_alive(struct lab *lab)
{
	struct lab_server s;
	struct cw_policy p;
	int made = 0, err, fd;

	lab_step(lab, "keep-alive", "The same 20 requests to port 8091, over one connection the "
				    "client keeps (HTTP/1.1 keep-alive), closed once at the end.");
	cw_policy_init(&p);
	if ((err = lab_server_start(&s, &p, KEEP_ALIVE_PORT)))
		return err;
	fd = lab_connect(KEEP_ALIVE_PORT, 0);
	if (fd < 0)
		err = fd;
	for (int i = 0; i < REQUESTS && !err; i++)
		if (!(err = request(fd)))
			made++;
	if (fd >= 0)
		close(fd);
	if (!err) {
		lab_fact_int(lab, "requests", "requests made", made);
		lab_fact_int(lab, "connections", "connections opened", 1);
		lab_fact_int(lab, "client_time_waits", "TIME_WAITs on the client's side",
			     lab_wait_count(KEEP_ALIVE_PORT, CW_TCP_TIME_WAIT, 1, 2000));
		err = lab_show(lab, KEEP_ALIVE_PORT,
			       "Every request went over one connection: one port, one TIME-WAIT at "
			       "the end, whatever the number of requests. The port range, full of "
			       "the first client's TIME-WAITs, did not matter: those hold their ports "
			       "for port 8090 only. Reusing connections removes the bound; "
			       "tcp_tw_reuse and SO_LINGER only work around it (closewait lab "
			       "timewait-knobs).");
	}
	lab_server_stop(&s);
	return err;
}

int sc_keepalive_reuse(struct lab *lab)
{
	struct cw_port_sys sys;
	int err;

	lab_begin(lab, "A private network namespace with loopback only; in it, ip_local_port_range "
		       "is ten ports (40000-40009) and tcp_tw_reuse is 0, so that a TIME-WAIT "
		       "keeps its port for its whole 60 s. The server is built on the library, "
		       "in a child process; the client is this process.");
	if ((err = cw_port_sys_read(NULL, &sys)) ||
	    (err = lab_sysctl(SYS "ip_local_port_range", RANGE)) ||
	    (err = lab_sysctl_int(SYS "tcp_tw_reuse", 0)))
		return err;
	if ((err = per_request(lab, sys.usable)))
		return err;
	return keep_alive(lab);
}
