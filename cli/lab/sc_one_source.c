/* one-source: port exhaustion behind a load balancer. A real HAProxy (TCP
 * mode) in the lab's namespace balances to a closewait serve backend in a
 * second namespace, over a veth pair: every connection to the backend
 * comes from one address, 10.77.0.1, and the port range there is a
 * thousand ports. Clients (this process, from the second namespace) connect
 * a hundred times a second and close first; HAProxy then closes its side
 * toward the backend first and holds that TIME_WAIT, a port for 60 s. With
 * tcp_tw_reuse 0 the thousandth connection takes the last port: the next
 * request fails after 10 s, when closewait's port report, taken halfway,
 * said it would. With tcp_tw_reuse 1 (timestamps on) the ports come back
 * after tcp_tw_reuse_delay and nothing fails. When the backend closes
 * first, the TIME_WAITs are its own and HAProxy's ports never run short. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../cli.h"
#include "closewait/census.h"
#include "closewait/census_ports.h"
#include "closewait/census_types.h"
#include "lab.h"

#define SYS "net/ipv4/"
#define FRONT_PORT 8100               /* HAProxy, to the backend on BACK_PORT */
#define BACK_PORT 8000
#define FRONT_FIRST_PORT 8101         /* HAProxy, to the backend that closes first */
#define BACK_FIRST_PORT 8001
#define RANGE "40000 40999"
#define RATE 100                      /* new connections per second */
#define RUN_MS 13000                  /* a run without a failure lasts this long */
#define PREDICT_AT_MS 5000            /* when the port report is taken */

static const char haproxy_cfg[] =
	"global\n"
	"    maxconn 4000\n"
	"defaults\n"
	"    mode tcp\n"
	"    timeout connect 2s\n"
	"    timeout client 5s\n"
	"    timeout server 5s\n"
	"    retries 0\n"
	"frontend clients\n"
	"    bind " LAB_NET_HOME ":8100\n"
	"    default_backend servers\n"
	"backend servers\n"
	"    server backend1 " LAB_NET_PEER ":8000\n"
	"frontend clients_first\n"
	"    bind " LAB_NET_HOME ":8101\n"
	"    default_backend servers_first\n"
	"backend servers_first\n"
	"    server backend2 " LAB_NET_PEER ":8001\n";

struct run {
	long ok;                      /* requests answered */
	long failed;                  /* requests not answered */
	long first_fail_ms;           /* since the run began; -1: none */
	long ok_before_fail;
	long predicted_ms;            /* from the port report; -1: never; -2: not taken */
	double rate_now;              /* the report's estimate of new connections/s */
	long report_tw;               /* HAProxy's TIME_WAITs toward the backend then */
};

/* Polls until something listens on port in this namespace (5 s at most). */
static int wait_listen(uint16_t port)
{
	long n = lab_wait_count(port, CW_TCP_LISTEN, 1, 5000);

	return n < 0 ? (int)n : n ? 0 : -ETIMEDOUT;
}

/* One request from the peer through HAProxy's port front: hello, then the
 * backend's HELLO. The client then closes first, or (keep not NULL) keeps
 * the answered connection open in *keep, to close once the server has.
 * 1 answered, 0 not (HAProxy closed the connection: it could not reach the
 * backend), or -errno. */
static int request(uint16_t front, int *keep)
{
	char buf[16];
	int fd = lab_connect_at(NULL, false, LAB_NET_HOME, front), err;
	long got = 0, n = 1;

	if (fd < 0)
		return fd;
	err = lab_write(fd, "hello", 5);
	/* the answer may come in pieces; HAProxy closes at once when it failed */
	while (!err && got < 5 && (n = lab_read(fd, buf + got, sizeof(buf) - (size_t)got, 2000)) > 0)
		got += n;
	if (!err && keep && got == 5 && !memcmp(buf, "HELLO", 5)) {
		*keep = fd;
		return 1;
	}
	close(fd);
	if (err)
		return err;
	if (n < 0 && n != -ECONNRESET)
		return (int)n;
	return got == 5 && !memcmp(buf, "HELLO", 5);
}

/* Connections kept until the server closes them (server_first). */
#define KEPT_MAX 512
struct kept {
	int fd[KEPT_MAX];
	size_t n;
};

/* Closes the kept connections the server has closed (wait_ms: waits that
 * long for each; 0: only those already ended). -EPROTO when one sent more
 * than its answer. */
static int reap_kept(struct kept *k, unsigned wait_ms)
{
	char buf[16];
	int err = 0;

	for (size_t i = 0; i < k->n;) {
		long n = wait_ms ? lab_read(k->fd[i], buf, sizeof(buf), wait_ms)
				 : recv(k->fd[i], buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0)
			err = -EPROTO;
		if (n < 0 && !wait_ms && errno == EAGAIN) {
			i++;
			continue;
		}
		close(k->fd[i]);
		k->fd[i] = k->fd[--k->n];
	}
	return err;
}

/* The port report of this namespace for the backend on port back: when it
 * says the ports run out, from now. */
static void predict(struct run *r, uint16_t back, long now_ms)
{
	struct cw_census_opts o;
	struct cw_census *c;
	struct cw_port_sys sys;
	struct cw_ports_report *rep = NULL;

	cw_census_opts_init(&o);
	if (cw_census_take(&o, &c))
		return;
	if (!cw_port_sys_read(NULL, &sys) && !cw_ports_report(c, &sys, 0, NULL, &rep)) {
		for (size_t i = 0; i < cw_ports_dest_count(rep); i++) {
			const struct cw_port_dest *d = cw_ports_dest(rep, i);

			if (d->dest.port != back)
				continue;
			r->rate_now = d->rate_now;
			r->report_tw = (long)d->time_wait;
			r->predicted_ms = d->exhaust_s < 0 ? -1 : now_ms + (long)(d->exhaust_s * 1000);
		}
	}
	cw_ports_report_free(rep);
	cw_census_free(c);
}

/* RATE requests a second from the peer through HAProxy's port front to the
 * backend on port back, until one fails (stop_at_fail) or RUN_MS; the port
 * report halfway, from home. */
static int run(struct lab_net *n, uint16_t front, uint16_t back, bool stop_at_fail,
	       bool server_first, struct run *r)
{
	uint64_t t0 = cli_now_ms();
	bool predicted = false;
	struct kept k = { .n = 0 };
	int err = lab_net_enter(n, true), keep = -1;

	*r = (struct run){ .first_fail_ms = -1, .predicted_ms = -2 };
	for (long i = 0; !err; i++) {
		long at = (long)(i * 1000 / RATE), now = (long)(cli_now_ms() - t0);
		int got;

		if (at >= RUN_MS)
			break;
		if (now < at)
			usleep((useconds_t)(at - now) * 1000);
		if (!predicted && at >= PREDICT_AT_MS) {
			predicted = true;
			if (!(err = lab_net_enter(n, false))) {
				predict(r, back, (long)(cli_now_ms() - t0));
				err = lab_net_enter(n, true);
			}
			if (err)
				break;
		}
		if (server_first && (err = reap_kept(&k, k.n == KEPT_MAX ? 2000 : 0)))
			break;
		got = request(front, server_first ? &keep : NULL);
		if (got < 0) {
			err = got;
			break;
		}
		if (got) {
			r->ok++;
			if (server_first)
				k.fd[k.n++] = keep;
			continue;
		}
		r->failed++;
		if (r->first_fail_ms < 0) {
			r->first_fail_ms = (long)(cli_now_ms() - t0);
			r->ok_before_fail = r->ok;
		}
		if (stop_at_fail)
			break;
	}
	if (reap_kept(&k, 2000) && !err)
		err = -EPROTO;
	return lab_net_enter(n, false) ? -errno : err;
}

static void facts(struct lab *lab, const struct run *r, uint16_t back)
{
	lab_fact_int(lab, "answered", "requests answered", r->ok);
	lab_fact_int(lab, "failed", "requests not answered", r->failed);
	lab_fact_int(lab, "answered_before_failure", "answered before the first failure",
		     r->first_fail_ms < 0 ? r->ok : r->ok_before_fail);
	lab_fact_int(lab, "first_failure_ms", "the first failure (ms from the start; -1: none)",
		     r->first_fail_ms);
	lab_fact_int(lab, "predicted_failure_ms",
		     "closewait's port report at 5 s: ports gone at (ms; -1: never)", r->predicted_ms);
	lab_fact_int(lab, "predicted_rate", "its estimate of new connections per second",
		     (long long)(r->rate_now + 0.5));
	lab_fact_int(lab, "haproxy_time_waits",
		     "HAProxy's TIME_WAITs toward the backend, now",
		     lab_count_state(back, CW_TCP_TIME_WAIT));
}

/* HAProxy with the configuration above, read from a memfd: no file to
 * leave behind, whatever ends the lab. */
static int start_haproxy(pid_t *pid, char *version, size_t len)
{
	char *v[] = { "haproxy", "-v", NULL };
	char cfg[64];
	char *argv[] = { "haproxy", "-db", "-f", cfg, NULL };
	int fd, err;

	if (lab_run_cmd(v, version, len, 5000) || strncmp(version, "HAProxy version ", 16)) {
		cli_warn("lab", "one-source runs a real HAProxy: install haproxy");
		return -ENOENT;
	}
	version[strcspn(version, "\n")] = 0;
	fd = memfd_create("closewait-lab-haproxy.cfg", 0); /* inherited: HAProxy reads it */
	if (fd < 0)
		return -errno;
	snprintf(cfg, sizeof(cfg), "/proc/self/fd/%d", fd);
	err = write(fd, haproxy_cfg, sizeof(haproxy_cfg) - 1) == (ssize_t)sizeof(haproxy_cfg) - 1
		? 0 : -EIO;
	if (!err)
		err = lab_spawn(argv, NULL, pid);
	if (!err && ((err = wait_listen(FRONT_PORT)) || (err = wait_listen(FRONT_FIRST_PORT)))) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
		*pid = 0;
	}
	close(fd);
	return err;
}

/* The two backends in the peer, closewait serve: the second closes each
 * connection 50 ms after its answer (an idle timeout), before the client. */
static int start_backends(struct lab_net *n, pid_t backend[2])
{
	char self[4096];
	char *plain[] = { self, "serve", "--bind", LAB_NET_PEER, "--port", "8000", "--quiet", NULL };
	char *first[] = { self, "serve", "--bind", LAB_NET_PEER, "--port", "8001", "--idle", "50ms",
			  "--quiet", NULL };
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int err;

	if (len < 0)
		return -errno;
	self[len] = 0;
	if ((err = lab_net_enter(n, true)))
		return err;
	err = lab_spawn(plain, NULL, &backend[0]);
	if (!err)
		err = lab_spawn(first, NULL, &backend[1]);
	if (!err)
		err = wait_listen(BACK_PORT);
	if (!err)
		err = wait_listen(BACK_FIRST_PORT);
	if (lab_net_enter(n, false) && !err)
		err = -errno;
	return err;
}

static int scenario(struct lab *lab, struct lab_net *n, pid_t *haproxy, pid_t backend[2])
{
	char version[128];
	struct run r;
	int err;

	lab_step(lab, "setting-up", "A second namespace joined by a veth pair runs the backends, "
				    "closewait serve on 10.77.0.2:8000 (and on 8001, closing each "
				    "connection first); HAProxy listens on 10.77.0.1:8100 (and 8101) "
				    "here, in TCP mode, one server behind each.");
	if ((err = lab_net_open(n, 0, 0)) || (err = start_backends(n, backend)) ||
	    (err = lab_sysctl(SYS "ip_local_port_range", RANGE)) ||
	    (err = lab_sysctl_int(SYS "tcp_tw_reuse", 0)) ||
	    (err = start_haproxy(haproxy, version, sizeof(version))))
		return err;
	lab_fact_str(lab, "haproxy", "HAProxy", version + 16);
	if ((err = lab_show(lab, FRONT_PORT, "HAProxy's listener. Every connection it makes to "
					     "the backend leaves from 10.77.0.1, with a port "
					     "from this namespace's range: 1000 ports.")))
		return err;

	lab_step(lab, "no-reuse", "tcp_tw_reuse 0. Clients connect through HAProxy 100 times a "
				  "second, each says hello, reads the answer and closes first; at "
				  "5 s closewait's port report looks at HAProxy's connections to the "
				  "backend. Until a request fails.");
	if ((err = run(n, FRONT_PORT, BACK_PORT, true, false, &r)))
		return err;
	facts(lab, &r, BACK_PORT);
	if ((err = lab_show(lab, FRONT_PORT,
			    "The client closed first, so HAProxy closed its side toward the backend "
			    "first too, and holds that TIME_WAIT: one port for 60 s per request. At "
			    "100 a second the 1000 ports last 10 s, and the next connection to the "
			    "backend finds none (EADDRNOTAVAIL): HAProxy drops the client. The port "
			    "report, from the TIME_WAITs' ages alone, said when.")))
		return err;

	lab_step(lab, "reuse", "tcp_tw_reuse 1, timestamps on: the same load for 13 s.");
	if ((err = lab_sysctl_int(SYS "tcp_tw_reuse", 1)) ||
	    (err = run(n, FRONT_PORT, BACK_PORT, false, false, &r)))
		return err;
	facts(lab, &r, BACK_PORT);
	if ((err = lab_show(lab, FRONT_PORT,
			    "With tcp_tw_reuse 1 a connection to the backend may take the port of a "
			    "TIME_WAIT older than tcp_tw_reuse_delay (timestamps tell the old "
			    "segments from the new): no request fails, whatever the rate, and the "
			    "report predicts no exhaustion.")))
		return err;

	lab_step(lab, "server-closes-first", "tcp_tw_reuse 0 again. The same load for 13 s "
					     "through port 8101, to the backend that closes each "
					     "connection after its answer; the clients wait for "
					     "the end of file before they close.");
	if ((err = lab_sysctl_int(SYS "tcp_tw_reuse", 0)) ||
	    (err = run(n, FRONT_FIRST_PORT, BACK_FIRST_PORT, false, true, &r)))
		return err;
	facts(lab, &r, BACK_FIRST_PORT);
	if ((err = lab_net_enter(n, true)))
		return err;
	lab_fact_int(lab, "backend_time_waits", "the backend's TIME_WAITs, in its namespace",
		     lab_count_state(BACK_FIRST_PORT, CW_TCP_TIME_WAIT));
	if ((err = lab_net_enter(n, false)))
		return err;
	return lab_show(lab, FRONT_FIRST_PORT,
			"The backend closed first: the TIME_WAITs are its own, in its namespace, "
			"where no port runs out (each holds its listening port toward one of "
			"HAProxy's). HAProxy, closing second, keeps none, so its 1000 ports are "
			"never short, with no reuse at all. There are fewer TIME_WAITs than "
			"requests: when HAProxy takes a port again, the backend accepts the new SYN "
			"through the TIME_WAIT of the same address pair (its sequence number is "
			"higher, its timestamp newer) and the TIME_WAIT ends.");
}

int sc_one_source(struct lab *lab)
{
	struct lab_net n = { .home = -1, .peer = -1, .raw = -1, .cap = -1 };
	pid_t haproxy = 0, backend[2] = { 0, 0 };
	int err;

	lab_begin(lab, "A private network namespace: HAProxy (Debian's, a real one, in TCP mode) "
		       "here, its backends in a second namespace, the clients in that second one "
		       "too. In this namespace, ip_local_port_range is 1000 ports (40000-40999).");
	err = scenario(lab, &n, &haproxy, backend);
	if (haproxy > 0) {
		kill(haproxy, SIGKILL);
		waitpid(haproxy, NULL, 0);
	}
	for (int i = 0; i < 2; i++)
		if (backend[i] > 0) {
			kill(backend[i], SIGKILL);
			waitpid(backend[i], NULL, 0);
		}
	lab_net_close(&n);
	return err;
}
