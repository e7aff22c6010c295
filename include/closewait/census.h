/* The socket census: every TCP socket of this network namespace with its
 * state, addresses, tcp_info timers and (when asked) owners, plus the pure
 * functions over a census that scan, watch, ports and reap share: ages,
 * selection, grouping, pairing, watch verdicts and port arithmetic.
 * Taking a census talks to the kernel (sock_diag, /proc); nothing else here does. */
#ifndef CLOSEWAIT_CENSUS_H
#define CLOSEWAIT_CENSUS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
enum cw_tcp_state {
	CW_TCP_ESTABLISHED = 1, CW_TCP_SYN_SENT, CW_TCP_SYN_RECV, CW_TCP_FIN_WAIT1,
	CW_TCP_FIN_WAIT2, CW_TCP_TIME_WAIT, CW_TCP_CLOSE, CW_TCP_CLOSE_WAIT, CW_TCP_LAST_ACK,
	CW_TCP_LISTEN, CW_TCP_CLOSING, CW_TCP_MAX_STATE
};
#define CW_STATE_BIT(s) (1u << (s))
#define CW_STATES_ALL 0xffeu /* every state but CLOSE (never dumped) */

/* ss's name: "close-wait", "time-wait", "fin-wait-2"... ("?" if unknown). */
const char *cw_tcp_state_name(int state);
/* Adds the states of one name, or a comma list ("close-wait,time-wait", "all"),
 * to *mask. -EINVAL names nothing known. */
int cw_tcp_states_parse(const char *names, uint32_t *mask);

/* Kernel timer of a socket (inet_diag idiag_timer). */
enum cw_sock_timer { CW_TIMER_NONE, CW_TIMER_RETRANS, CW_TIMER_KEEPALIVE, CW_TIMER_TIMEWAIT,
		CW_TIMER_PROBE0 };
const char *cw_timer_name(int timer); /* "none", "retrans", "keepalive", "timewait", "probe0" */

/* An address and port; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d) so that a
 * v4 socket and a v6 socket talking through a mapped address compare equal. */
struct cw_endpoint {
	struct in6_addr addr;
	uint16_t port;                /* host order */
};

#define CW_MS_UNKNOWN UINT32_MAX  /* a tcp_info time the kernel did not report */

/* One socket, as the kernel reported it. */
struct cw_sock {
	struct cw_endpoint local, remote;
	uint32_t inode;               /* 0: no file, so no process can own it (orphan, TIME_WAIT) */
	uint32_t uid;                 /* socket's owner uid */
	uint32_t rqueue, wqueue;      /* Recv-Q, Send-Q as ss shows them */
	uint32_t timer_ms;            /* time until the timer fires */
	uint32_t lastsnd_ms;          /* tcp_info: since we last sent data */
	uint32_t lastrcv_ms;          /* tcp_info: since the peer last sent data (a bare FIN is not data) */
	uint32_t lastack_ms;          /* tcp_info: since the peer's last ACK */
	uint32_t rtt_us;              /* tcp_info: smoothed RTT */
	uint32_t owner_first;         /* index of the first owner (see cw_census_owners) */
	uint16_t nowners;             /* processes found holding it */
	uint8_t family;               /* AF_INET or AF_INET6 */
	uint8_t state;                /* enum cw_tcp_state */
	uint8_t timer;                /* enum cw_sock_timer */
	uint8_t retrans;              /* retransmits or unanswered probes of that timer */
	bool has_info;                /* the tcp_info times are valid */
};

/* A process holding a socket. */
struct cw_owner {
	pid_t pid;
	int fd;
	const char *comm;             /* /proc/PID/comm, owned by the census */
};

/* What to take. */
struct cw_census_opts {
	uint32_t states;              /* kernel-side state filter; 0 = all */
	/* NULL, or a filter whose port, sport and dport the kernel applies
	 * (inet_diag bytecode): sockets on other ports are not even dumped. */
	const struct cw_filter *ports;
	bool owners;                  /* walk /proc/PID/fd to find owners */
	bool all_owners;              /* do not stop the walk once every socket has an owner */
	unsigned threads;             /* /proc walk threads; 0 = one per online CPU, at most 2 */
	/* Only sockets for which want(sock, arg) is true get an owner looked up
	 * (NULL: all). Lets a caller skip the /proc work for sockets it will drop. */
	bool (*want)(const struct cw_sock *s, void *arg);
	void *want_arg;
	const char *proc_root;        /* NULL: "/proc" (tests point it at a fake tree) */
};

struct cw_census;

/* One sock_diag dump per family (IPv4 then IPv6) and, if asked, one pass over
 * /proc/PID/fd. 0 or -errno (a failing dump); unreadable processes are not
 * errors: their sockets just have no owner. */
int cw_census_take(const struct cw_census_opts *opts, struct cw_census **out);
void cw_census_free(struct cw_census *c);
size_t cw_census_count(const struct cw_census *c);
const struct cw_sock *cw_census_sock(const struct cw_census *c, size_t i);
/* Owners of socket i (*n of them); NULL when none is known. */
const struct cw_owner *cw_census_owners(const struct cw_census *c, size_t i, size_t *n);
uint64_t cw_census_time_ms(const struct cw_census *c);  /* CLOCK_REALTIME when the dump began */
uint64_t cw_census_mono_ms(const struct cw_census *c);  /* CLOCK_MONOTONIC when it began */
uint64_t cw_census_mono_end_ms(const struct cw_census *c); /* ...and when it ended */
bool cw_census_has_owners(const struct cw_census *c);
/* The /proc walk stopped once every wanted socket had one owner: sockets
 * shared by several processes may list only the first. */
bool cw_census_owners_partial(const struct cw_census *c);
/* Processes whose fds could not be read (permissions): their sockets show no owner. */
unsigned cw_census_unreadable(const struct cw_census *c);

/* ---- Age of a socket (lib/census_age.c) ----
 * CLOSE_WAIT: the kernel keeps no entry time. The age lies in [lastack,
 * lastrcv]: lastrcv counts from the peer's last data (a bare FIN is not data),
 * lastack from its last ACK (the FIN carries one, but later ACKs reset it).
 * Exact when that range is under 1 s, or when no ACK can have followed the
 * FIN. TIME_WAIT: exact, 60 s minus the time left on its timer. */
struct cw_age {
	bool known;                   /* false: no rule applies (other states) */
	bool exact;
	uint64_t min_ms, max_ms;      /* exact: under 1 s apart, or equal */
};
#define CW_TIME_WAIT_MS 60000u    /* TCP_TIMEWAIT_LEN, a constant of the kernel */
void cw_sock_age(const struct cw_sock *s, struct cw_age *age);

/* ---- Selection, shared by scan and reap (lib/census_filter.c) ---- */
struct cw_filter {
	uint32_t states;              /* 0 = any */
	pid_t pid;                    /* 0 = any */
	int port, sport, dport;       /* -1 = any; port matches either end */
	bool has_peer;
	struct cw_endpoint peer;      /* port 0 = any port of that address */
	uint64_t older_ms;            /* 0 = off */
};
enum cw_match { CW_MATCH_NO, CW_MATCH_YES, CW_MATCH_UNCERTAIN /* age range contains older_ms */ };
void cw_filter_init(struct cw_filter *f);
/* Whether the filter needs owners (a --pid). */
bool cw_filter_needs_owners(const struct cw_filter *f);
/* Everything but --pid and --older: usable before owners are known (cw_census_opts.want). */
bool cw_filter_match_addr(const struct cw_filter *f, const struct cw_sock *s);
/* Full match of socket i; age may be NULL (then it is computed from the socket). */
enum cw_match cw_filter_match(const struct cw_filter *f, const struct cw_census *c, size_t i,
			      const struct cw_age *age);

/* ---- Pairing (S22, lib/census_pair.c) ----
 * For each local CLOSE_WAIT socket, the local socket at the other end of the
 * same connection, if the peer runs on this host. */
#define CW_NO_PEER SIZE_MAX
/* peer[i] = index of the other end of socket i, or CW_NO_PEER. -ENOMEM. */
int cw_census_pair(const struct cw_census *c, size_t *peer);

/* ---- Grouping (lib/census_group.c) ---- */
enum cw_group_by { CW_BY_PROCESS, CW_BY_PEER, CW_BY_LOCAL_PORT };
enum cw_owner_kind { CW_OWNED, CW_ORPHAN /* inode 0 */, CW_UNKNOWN /* owner not found */ };
struct cw_group {
	enum cw_owner_kind kind;      /* CW_BY_PROCESS */
	pid_t pid;                    /* CW_BY_PROCESS, CW_OWNED */
	const char *comm;
	struct cw_endpoint key;       /* CW_BY_PEER: address (port 0); CW_BY_LOCAL_PORT: port */
	size_t total;
	size_t count[CW_TCP_MAX_STATE];
	uint64_t recv_q;              /* sum of Recv-Q */
	struct cw_age cw_oldest;      /* oldest CLOSE_WAIT (largest age_min) */
	/* pairing: CLOSE_WAIT sockets whose peer is a local FIN_WAIT_2 */
	size_t peers_closed, peers_orphaned, peers_half_closed;
	pid_t peer_pid;               /* one owner of a half-closed peer (0: none) */
	const char *peer_comm;
};
/* Groups the sockets with sel[i] true (sel NULL: all), sorted by CLOSE_WAIT
 * count, then total. peer is from cw_census_pair (may be NULL). */
int cw_census_group(const struct cw_census *c, const bool *sel, const size_t *peer,
		    enum cw_group_by by, struct cw_group **groups, size_t *n);
/* The kind of ownership of socket i. */
enum cw_owner_kind cw_census_owner_kind(const struct cw_census *c, size_t i);

/* ---- Watch: trends and verdicts across censuses (lib/census_watch.c) ---- */
enum cw_verdict { CW_VERDICT_OK, CW_VERDICT_STUCK, CW_VERDICT_LEAKING };
const char *cw_verdict_name(enum cw_verdict v);
struct cw_watch_row {
	pid_t pid;                    /* 0: sockets with no known owner */
	char comm[16];
	size_t close_wait;
	double growth_per_min;        /* over the window */
	struct cw_age oldest;         /* narrowed by what watch saw */
	enum cw_verdict verdict;
};
struct cw_watch;
/* window_ms: the span growth is measured over; stuck_ms: --stuck-after. */
int cw_watch_new(uint64_t window_ms, uint64_t stuck_ms, struct cw_watch **out);
void cw_watch_free(struct cw_watch *w);
/* Feeds a census (its CLOSE_WAIT sockets); then the rows are those of it,
 * sorted by verdict then count. The rows stay valid until the next update. */
int cw_watch_update(struct cw_watch *w, const struct cw_census *c);
const struct cw_watch_row *cw_watch_rows(const struct cw_watch *w, size_t *n);
/* The age of CLOSE_WAIT socket i of the last census, narrowed by earlier ones. */
void cw_watch_age(const struct cw_watch *w, const struct cw_census *c, size_t i, struct cw_age *age);

/* ---- Port arithmetic (S16-S18, lib/census_ports.c) ---- */
struct cw_port_sys {
	unsigned range_lo, range_hi;  /* net.ipv4.ip_local_port_range */
	unsigned reserved;            /* ports of the range in ip_local_reserved_ports */
	unsigned usable;              /* what connect() can pick per source and destination */
	int tw_reuse;                 /* net.ipv4.tcp_tw_reuse: 0 off, 1 on, 2 loopback only */
	unsigned tw_reuse_delay_ms;   /* net.ipv4.tcp_tw_reuse_delay (1000 where absent) */
	int timestamps;               /* net.ipv4.tcp_timestamps */
};
/* Reads the sysctls of this network namespace (root: NULL = /proc/sys/net/ipv4). */
int cw_port_sys_read(const char *root, struct cw_port_sys *sys);
/* Fills usable from the range and a reserved-ports list ("8080,9000-9100"). */
int cw_port_sys_set(struct cw_port_sys *sys, unsigned lo, unsigned hi, const char *reserved);

struct cw_port_dest {
	struct cw_endpoint dest;      /* remote address and port */
	size_t sources;               /* local addresses seen connecting to it (at least 1) */
	size_t open;                  /* outgoing connections holding a port, not TIME_WAIT */
	size_t time_wait;             /* outgoing TIME_WAIT */
	size_t time_wait_recent;      /* ...of which entered in the last rate window */
	double rate_now;              /* new connections/s estimated from TIME_WAIT ages */
	double rate_max;              /* sustainable new connections/s */
	bool reuse;                   /* TIME_WAIT ports are reused (tw_reuse + timestamps) */
	double utilisation;           /* ports held / ports usable, 0..1 */
	double exhaust_s;             /* at rate_now; <0: never */
	double exhaust_what_if_s;     /* at the --rate asked; <0: never or not asked */
	const uint32_t *tw_left_ms;   /* TIME_WAIT time left, ascending (time_wait of them) */
};
struct cw_port_local {
	struct cw_endpoint addr;      /* local address (port 0) */
	size_t dests, open, time_wait;
};
struct cw_port_report {
	struct cw_port_dest *dests;   /* sorted by utilisation, then TIME_WAIT */
	size_t ndests;
	struct cw_port_local *locals;
	size_t nlocals;
	uint32_t *tw_storage;         /* holds the dests' tw_left_ms */
};
#define CW_RATE_WINDOW_MS 10000u  /* TIME_WAIT younger than this gives rate_now */
/* Outgoing connections (local port in the ephemeral range and not listening)
 * per destination and per local address. what_if: a planned rate (<= 0: none).
 * extra: a destination to report even with no connection (NULL: none). */
int cw_ports_report(const struct cw_census *c, const struct cw_port_sys *sys, double what_if,
		    const struct cw_endpoint *extra, struct cw_port_report *r);
void cw_ports_report_free(struct cw_port_report *r);
/* Time until a destination's ports run out at rate/s from now (every new
 * connection holding its port for 60 s of TIME_WAIT); <0 if never. */
double cw_ports_exhaust_s(const struct cw_port_sys *sys, const struct cw_port_dest *d, double rate);
/* Rates ("100/s") are parsed by cw_rate_parse in duration.h. */

#endif
