/* closewait lab: scenarios run in private network namespaces, each step
 * printed with what the kernel shows. One job per file:
 *   lab_run.c       a child in new namespaces; signals; nothing left behind
 *   lab_step.c      a step: its action, observations, explanation; text or JSON
 *   lab_census.c    the sockets of a port, from the census (sock_diag)
 *   lab_counters.c  the kernel's TCP counters (/proc/net/netstat, snmp)
 *   lab_sock.c      the socket moves the scenarios make
 *   lab_server.c    a library server (a cw_policy) in a child process
 *   lab_raw.c       a second namespace over a veth pair; segments made by hand
 *   scenarios.c     the list; sc_*.c one scenario each */
#ifndef CW_LAB_H
#define CW_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/conn.h"

struct out;
struct lab;

struct lab_scenario {
	const char *name;             /* a word: "leak" */
	const char *summary;          /* one line for the list */
	/* Runs in the lab's namespace. 0 done; -errno when a move failed
	 * (the step printed says which). */
	int (*run)(struct lab *lab);
	/* What it cannot show in a user namespace, for a user who is not root;
	 * NULL: nothing, it shows the same there. */
	const char *needs_root;
};
extern const struct lab_scenario lab_scenarios[];
extern const size_t lab_scenario_count;
/* The scenario called name, or NULL. */
const struct lab_scenario *lab_scenario_find(const char *name);

/* Runs sc in a child process in new network namespaces (with a user
 * namespace when not root), printing to stdout. Returns the exit status:
 * 0, 1 when the scenario failed, 128 + N when signal N ended it. A signal
 * (SIGINT, SIGHUP, SIGTERM) to this process kills the child; the child's own
 * children die with it (PR_SET_PDEATHSIG), and the namespaces, which no path
 * names, go with the last of them. svg: where the child writes the
 * scenario's sequence diagram at its end (NULL: none). */
int lab_run(const struct lab_scenario *sc, bool json, FILE *svg);

/* ---- steps (lab_step.c) ---- */
#define LAB_MAX_FACTS 12
#define LAB_FACT_LEN 160
struct lab_counters;
struct lab_fact {
	const char *key;              /* JSON key */
	const char *label;            /* text: "the client read" */
	enum { LAB_FACT_INT, LAB_FACT_BOOL, LAB_FACT_STR } kind;
	long long i;                  /* INT, BOOL */
	char s[LAB_FACT_LEN];
};
struct lab {
	const struct lab_scenario *sc;
	bool json;
	bool userns;                  /* root of a user namespace, not of the host */
	struct out *out;
	uint64_t t0;                  /* CLOCK_MONOTONIC ms when the scenario began */
	unsigned step;
	const char *id, *action;
	struct lab_fact facts[LAB_MAX_FACTS];
	size_t nfacts;
	struct lab_counters *seen;    /* counters at the last step */
	struct lab_svg *svg;          /* --svg: the segments and states to draw; NULL */
	int err;                      /* output failed: stop */
};
/* Prints the scenario's title and what the namespace holds. */
void lab_begin(struct lab *lab, const char *setting);
/* A step begins: id (a word for JSON and tests) and what is done, in words. */
void lab_step(struct lab *lab, const char *id, const char *action);
/* Something the step measured. */
void lab_fact_int(struct lab *lab, const char *key, const char *label, long long v);
void lab_fact_str(struct lab *lab, const char *key, const char *label, const char *v);
void lab_fact_bool(struct lab *lab, const char *key, const char *label, bool v);
/* Ends the step: the sockets of port (0: every socket of the namespace),
 * the counters changed since the last step, the facts and explain, in
 * text or as one JSON line. 0, or -errno when stdout failed (then stop). */
int lab_show(struct lab *lab, uint16_t port, const char *explain);
/* A line of text (not in JSON): a note between steps. */
void lab_say(struct lab *lab, const char *text);
/* Milliseconds since the scenario began. */
uint64_t lab_ms(const struct lab *lab);

/* ---- the picture (lab_svg.c) ---- */
struct lab_svg;
/* Starts capturing the TCP segments of this namespace (a packet socket:
 * needs CAP_NET_RAW here). 0 or -errno. */
int lab_svg_open(struct lab_svg **out);
void lab_svg_free(struct lab_svg *g);
struct lab_sockview;
/* A step ends: the segments captured since the last one are its, and the
 * states of v[0..n) what it showed. */
void lab_svg_step(struct lab_svg *g, unsigned step, const char *id, uint64_t t_ms,
		  const struct lab_sockview *v, long n);
/* The sequence diagram, as SVG, into f. 0 or -EIO. */
int lab_svg_write(struct lab_svg *g, FILE *f, const char *title);

/* ---- observing (lab_census.c) ---- */
/* One socket of a port as a step shows it. */
struct lab_sockview {
	const char *role;             /* "listener", "server" (local port = the port), "client";
				       * "socket" when no port was given */
	char local[56], peer[56];     /* "127.0.0.1:8000" */
	int state;                    /* enum cw_tcp_state */
	unsigned rqueue, wqueue;      /* Recv-Q, Send-Q */
	int timer;                    /* enum cw_sock_timer */
	unsigned timer_ms, retrans;
	const char *owner;            /* "process", "orphaned", "unaccepted", "unknown" */
	pid_t pid;                    /* the first owner, 0 if none */
	char comm[16];                /* its command name ("python3"), "" if none */
	const char *why;              /* CLOSE_WAIT: "eof-read", "never-read"...; else NULL */
};
/* The sockets of port (0: all) in this namespace, listener and servers
 * first: how many (at most max), or -errno of the census. */
long lab_sockets(uint16_t port, struct lab_sockview *v, size_t max);
/* The state (enum cw_tcp_state) of the socket on port whose role is
 * server (local port = port) or client (peer port = port); 0 when there
 * is none. A listener is neither. */
int lab_state(uint16_t port, bool server);
/* Polls every 10 ms until lab_state(port, server) == state (0: gone), for
 * at most ms. The ms it took, or -ETIMEDOUT. */
long lab_wait_state(uint16_t port, bool server, int state, unsigned ms);
/* The same for both ends at once: until the server's state is server and
 * the client's is client (-1: either, 0: none), for at most ms. */
long lab_wait_states(uint16_t port, int server, int client, unsigned ms);
/* As lab_state and lab_wait_state, without the walk through /proc for
 * owners (a second on a busy machine): for polling. */
int lab_state_quick(uint16_t port, bool server);
long lab_wait_state_quick(uint16_t port, bool server, int state, unsigned ms);
/* How many sockets of port (local or peer) are in state (0: any but
 * LISTEN), or -errno. */
long lab_count_state(uint16_t port, int state);
/* Polls lab_count_state every 10 ms until at least n sockets of port are in
 * state, for at most ms: the count last seen (below n when the time ran
 * out), or -errno. */
long lab_wait_count(uint16_t port, int state, long n, unsigned ms);

/* ---- counters (lab_counters.c) ---- */
struct lab_counters *lab_counters_read(void);  /* NULL: cannot read */
void lab_counters_free(struct lab_counters *c);
size_t lab_counters_count(const struct lab_counters *c);
const char *lab_counters_name(const struct lab_counters *c, size_t i);  /* "TcpExtTW" */
/* The change of counter i of now since then (0 if then has none of that name). */
long long lab_counters_delta(const struct lab_counters *now, const struct lab_counters *then,
			     size_t i);
/* Counters that change with every segment: shown in JSON, not in text. */
bool lab_counter_noisy(const char *name);

/* ---- sockets (lab_sock.c), all on 127.0.0.1; -errno on failure ---- */
int lab_listen(uint16_t port);
/* The same on ip (NULL: 127.0.0.1). */
int lab_listen_at(const char *ip, uint16_t port);
/* Connects to dst:port (dst NULL: 127.0.0.1), first binding to src:0
 * unless src is NULL; no_port sets IP_BIND_ADDRESS_NO_PORT before. */
int lab_connect_at(const char *src, bool no_port, const char *dst, uint16_t port);
/* The local port of a socket, or -errno. */
int lab_local_port(int fd);
/* Adds ip to loopback as alias label ("lo:1"). */
int lab_addr_add(const char *label, const char *ip);
/* rcvbuf: SO_RCVBUF before connecting (0: the default). */
int lab_connect(uint16_t port, int rcvbuf);
int lab_accept(int lfd);
/* Reads what arrives within ms into buf (len - 1 bytes at most, NUL
 * ended): bytes read, 0 at end of file, -errno (-ETIMEDOUT). */
long lab_read(int fd, char *buf, size_t len, unsigned ms);
/* Reads until end of file, error or ms: bytes read; *err 0 (end of file)
 * or the errno that ended it. last gets the last min(len - 1, n) bytes. */
long lab_drain(int fd, unsigned ms, int *err, char *last, size_t len);
int lab_write(int fd, const void *buf, size_t len);
/* Closes with SO_LINGER {1, 0}: a reset, queued data thrown away. */
int lab_abort(int fd);
/* Closes without a word to the peer (TCP_REPAIR): as if its host lost
 * power. Needs CAP_NET_ADMIN, which the lab's namespace gives. */
int lab_vanish(int fd);
/* A connection to the listener lfd on port, with data both ways: the
 * client connects and says "hello", the server accepts, reads it and
 * answers "HELLO", the client reads that. 0 and both fds, or -errno and
 * none left open. */
int lab_pair(int lfd, uint16_t port, int *cfd, int *sfd);
/* The same to dst:port (NULL: 127.0.0.1). */
int lab_pair_at(int lfd, const char *dst, uint16_t port, int *cfd, int *sfd);
/* Ends a pair from lab_pair: one closes first, the other reads the end of
 * file and closes; waits until the first one's end is in TIME_WAIT (it
 * may not come: -ETIMEDOUT). client_first says which is first. */
int lab_close_pair(uint16_t port, int cfd, int sfd, bool client_first);
/* Writes value to /proc/sys/NAME ("net/ipv4/tcp_fin_timeout"). */
int lab_sysctl(const char *name, const char *value);
int lab_sysctl_int(const char *name, long v);
/* Reads /proc/sys/NAME as a number. 0, or -errno (-ENOENT: this kernel
 * has no such setting). */
int lab_sysctl_read(const char *name, long *v);
/* Sets up loopback. */
int lab_lo_up(void);

/* Another program in the lab's namespace (lab_exec.c), dying with the lab;
 * argv[0] is looked for in PATH. Starts it: its stdout into a pipe whose
 * read end goes to *out (out NULL: /dev/null), stdin and stderr on
 * /dev/null. 0, or -errno. */
int lab_spawn(char *const argv[], int *out, pid_t *pid);
/* Runs it to its end, at most ms (then kills it: -ETIMEDOUT): its stdout
 * into buf (cut to len - 1 bytes, NUL ended); its exit status (128 + N if
 * signal N ended it), or -errno. */
int lab_run_cmd(char *const argv[], char *buf, size_t len, unsigned ms);

/* Runs `nft CMD` in the lab's namespace (lab_nft.c). 0; -ENOENT when nft
 * is not installed; -EINVAL when it refused (its message on stderr). */
int lab_nft(const char *cmd);

/* ---- a server built on the library (lab_server.c) ---- */
struct lab_server {
	pid_t pid;
	int fd;                       /* reports from it, one line each */
	uint16_t port;
	char buf[512];                /* what was read of them and not yet taken */
	size_t len;
};
/* Forks a closewait server (the uppercase echo) with policy p on
 * 127.0.0.1:port and waits until it listens. */
int lab_server_start(struct lab_server *s, const struct cw_policy *p, uint16_t port);
/* Waits at most ms for the server to end a connection: its reason
 * ("idle") into reason, and when (CLOCK_MONOTONIC ms) into *at. 0 or
 * -ETIMEDOUT. */
int lab_server_closed(struct lab_server *s, unsigned ms, char *reason, size_t len, uint64_t *at);
/* The same for another program (argv, lab_spawn) that prints "ready" on
 * a line when it listens on port, within 5 s. */
int lab_server_exec(struct lab_server *s, char *const argv[], uint16_t port);
/* The next line it printed, within ms: 0, -ETIMEDOUT, -EPIPE (it ended). */
int lab_server_line(struct lab_server *s, unsigned ms, char *line, size_t len);
/* Kills it and waits for it. */
void lab_server_stop(struct lab_server *s);

/* ---- two namespaces and crafted segments (lab_raw.c) ---- */
#define LAB_NET_HOME "10.77.0.1"      /* the lab's namespace: the server */
#define LAB_NET_PEER "10.77.0.2"      /* the crafting side */
struct lab_net {
	int home, peer;               /* the two network namespaces (fds) */
	int raw, cap;                 /* in the peer: the sending raw socket, the capture */
};
/* A second namespace joined to the lab's by a veth pair; its kernel says
 * nothing from the ports lo..hi (the crafted flows; hi 0: none). Back home
 * on return, with or without an error; lab_net_close in both cases. */
int lab_net_open(struct lab_net *n, uint16_t lo, uint16_t hi);
void lab_net_close(struct lab_net *n);
/* Into the peer's namespace (peer) or back home. */
int lab_net_enter(struct lab_net *n, bool peer);
/* The peer's kernel says nothing more from port: crafted segments speak
 * for that connection from now on. */
int lab_net_quiet(struct lab_net *n, uint16_t port);
/* A real client in the peer connected to LAB_NET_HOME:port: its fd and
 * its port in *local, or -errno. */
int lab_net_connect(struct lab_net *n, uint16_t port, uint16_t *local);
/* The peer's client's state on port (see lab_state), or -errno. */
int lab_net_state(struct lab_net *n, uint16_t port);
/* A TCP segment between the peer's port sport and home's port dport. */
struct lab_seg {
	bool out;                     /* captured leaving the peer */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;                /* TH_FIN, TH_SYN... as in the header */
	uint16_t win;                 /* 0 when sending: a common default */
	bool ts;                      /* the timestamps option, and its values */
	uint32_t tsval, tsecr;
	uint16_t len;                 /* payload bytes (captured) */
};
/* Sends s (sport, dport as the peer sees them) with len bytes of data. */
int lab_seg_send(struct lab_net *n, const struct lab_seg *s, const void *data, size_t len);
/* The next captured segment of the peer's port, either way, within ms:
 * 0, -ETIMEDOUT. */
int lab_seg_recv(struct lab_net *n, uint16_t port, struct lab_seg *s, unsigned ms);
/* Forgets what was captured so far. */
void lab_seg_flush(struct lab_net *n);
/* "SYN+ACK". */
const char *lab_seg_flags(uint8_t flags, char *buf, size_t len);

/* The segments home sent to the peer's port within ms (all of ms is
 * waited): how many, the first in *first; or -errno. */
int lab_seg_replies(struct lab_net *n, uint16_t port, struct lab_seg *first, unsigned ms);
/* What the captured segments of a connection (the peer's port) tell. */
struct lab_flow {
	bool out_seen, in_seen;       /* segments each way */
	bool ts;                      /* the connection used timestamps (home sent them) */
	bool tsval_seen;
	uint32_t out_nxt;             /* the peer's next sequence number (after its FIN, if any) */
	uint32_t in_nxt;              /* home's */
	uint32_t tsval;               /* the peer's newest timestamp, if tsval_seen */
};
/* Reads the captured segments of port until none came for ms, into f
 * (zeroed by the caller before the first read). 0 or -errno. */
int lab_flow_read(struct lab_net *n, uint16_t port, struct lab_flow *f, unsigned ms);
/* How much counter name ("TcpExtTCPSYNChallenge") moved in this step so far. */
long long lab_counter_moved(struct lab *lab, const char *name);

/* The scenarios. */
int sc_leak(struct lab *lab);
int sc_linger(struct lab *lab);
int sc_cures(struct lab *lab);
int sc_states(struct lab *lab);
int sc_reconnect(struct lab *lab);
int sc_timewait(struct lab *lab);
int sc_timers(struct lab *lab);
int sc_timewait_knobs(struct lab *lab);
int sc_keepalive_reuse(struct lab *lab);
int sc_one_source(struct lab *lab);
int sc_other_language(struct lab *lab);
int sc_syn_fin(struct lab *lab);
int sc_timewait_syn(struct lab *lab);

#endif
