/* The census's data model: TCP states and their names, endpoints, kernel
 * socket timers, one socket as the kernel reports it, its owners and its
 * age. No I/O; census.h takes a census of these.
 *
 *	char buf[CW_ENDPOINT_STRLEN];
 *	struct cw_age age;
 *
 *	cw_endpoint_str(&s->peer, true, buf, sizeof(buf));  // "10.0.0.7:443"
 *	cw_sock_age(s, &age);
 *	printf("%s %s %s\n", cw_tcp_state_name(s->state), buf,
 *	       age.known ? "aged" : "age unknown");
 */
#ifndef CLOSEWAIT_CENSUS_TYPES_H
#define CLOSEWAIT_CENSUS_TYPES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#pragma GCC visibility push(default)

/* TCP states as the kernel numbers them. */
enum cw_tcp_state {
	CW_TCP_ESTABLISHED = 1, CW_TCP_SYN_SENT, CW_TCP_SYN_RECV, CW_TCP_FIN_WAIT1,
	CW_TCP_FIN_WAIT2, CW_TCP_TIME_WAIT, CW_TCP_CLOSE, CW_TCP_CLOSE_WAIT, CW_TCP_LAST_ACK,
	CW_TCP_LISTEN, CW_TCP_CLOSING, CW_TCP_MAX_STATE
};
#define CW_STATE_BIT(s) (1u << (s))
#define CW_STATES_ALL 0xffeu /* every state but CLOSE (never dumped) */

/* Three spellings of one state, for three readers. Each returns a static
 * string, "?" for a number that is no state. CLOSE, the state of a socket
 * that is not connected, reads "unconnected". */
const char *cw_tcp_state_name(int state);    /* ss's: "close-wait", "fin-wait-2" */
const char *cw_tcp_state_key(int state);     /* a JSON key: "close_wait", "fin_wait_2" */
const char *cw_tcp_state_heading(int state); /* a table heading: "CLOSE-WAIT", "FIN-WAIT-2" */
/* Adds the states of one ss name, or of a comma list ("close-wait,time-wait",
 * "all"), to *mask. 0, or -EINVAL (nothing added) when a name is unknown. */
int cw_tcp_states_parse(const char *names, uint32_t *mask);

/* The kernel's timer of a socket (inet_diag idiag_timer). */
enum cw_sock_timer {
	CW_SOCK_TIMER_NONE, CW_SOCK_TIMER_RETRANS, CW_SOCK_TIMER_KEEPALIVE, CW_SOCK_TIMER_TIMEWAIT,
	CW_SOCK_TIMER_PROBE0
};
/* "none", "retrans", "keepalive", "timewait", "probe0" (static); "?" for
 * another number. */
const char *cw_sock_timer_name(int timer);

/* An address and port; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d) so that a
 * v4 socket and a v6 socket talking through a mapped address compare equal. */
struct cw_endpoint {
	struct in6_addr addr;
	uint16_t port;                /* host order */
};
#define CW_ENDPOINT_STRLEN 56      /* "[" IPv6 "]:" port and its NUL fit */
/* "127.0.0.1:8000", "[::1]:8000"; without the port "127.0.0.1", "::1". An
 * IPv4-mapped address is written as IPv4. 0, or -ENOSPC when len is too
 * small (buf then holds an empty string, if len > 0). */
int cw_endpoint_str(const struct cw_endpoint *e, bool with_port, char *buf, size_t len);
/* The endpoint of an AF_INET or AF_INET6 address (IPv4 stored mapped). 0,
 * -EAFNOSUPPORT for another family, -EINVAL when len is shorter than the
 * family's address; e is untouched on failure. */
int cw_endpoint_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct cw_endpoint *e);

#define CW_MS_UNKNOWN UINT32_MAX  /* a tcp_info time the kernel did not report */

/* One socket, as the kernel reported it. The library allocates it; it may
 * gain fields at the end; do not allocate, copy or index it. */
struct cw_sock {
	struct cw_endpoint local, peer; /* peer: the other end, ss's "Peer Address:Port" */
	uint32_t inode;               /* 0: no file, so no process can own it (orphan, TIME_WAIT) */
	uint32_t uid;                 /* socket's owner uid */
	uint32_t rqueue, wqueue;      /* Recv-Q, Send-Q as ss shows them */
	uint32_t timer_ms;            /* time until the timer fires */
	uint32_t lastsnd_ms;          /* tcp_info: since we last sent data */
	uint32_t lastrcv_ms;          /* tcp_info: since the peer last sent data (a bare FIN is not data) */
	uint32_t lastack_ms;          /* tcp_info: since the peer's last ACK */
	uint32_t rtt_us;              /* tcp_info: smoothed RTT */
	uint8_t family;               /* AF_INET or AF_INET6 */
	uint8_t state;                /* enum cw_tcp_state */
	uint8_t timer;                /* enum cw_sock_timer */
	uint8_t retrans;              /* retransmits or unanswered probes of that timer */
	bool has_info;                /* the tcp_info times are valid */
	uint64_t netns;               /* inode of its network namespace (cw_census_sock_netns) */
	uint64_t cgroup_id;           /* the cgroup v2 its creator was in when it was made; 0: unknown */
	/* In CLOSE_WAIT: how long it had been in that state when the dump
	 * began, from an entry time the caller gave (cw_census_opts.entry_times,
	 * e.g. closewait trace's); valid when has_entry_age. cw_sock_age then
	 * gives it, exact, instead of the tcp_info range. */
	uint64_t entry_age_ms;
	bool has_entry_age;
};

/* A process holding a socket. The library allocates it; it may gain fields
 * at the end; do not allocate, copy or index it. */
struct cw_owner {
	pid_t pid;
	int fd;                       /* the socket's fd number in that process */
	const char *comm;             /* its command name, owned by the census */
};

/* How long a socket has been in its state, from what the kernel reports.
 * CLOSE_WAIT: the kernel keeps no entry time; one given to the census
 * (cw_sock.has_entry_age) makes the age exact. Otherwise: The age lies in [lastack,
 * lastrcv]: lastrcv counts from the peer's last data (a bare FIN is not data),
 * lastack from its last ACK (the FIN carries one, but later ACKs reset it).
 * Exact when that range is under 1 s, or when no ACK can have followed the
 * FIN. TIME_WAIT: exact, 60 s minus the time left on its timer. */
struct cw_age {
	bool known;                   /* false: no rule applies (other states) */
	bool exact;
	uint64_t min_ms, max_ms;      /* exact: under CW_AGE_EXACT_MS apart, or equal */
};
/* A range narrower than this is called exact: the kernel's times come in
 * jiffies, and people read seconds. */
#define CW_AGE_EXACT_MS 1000u
#define CW_TIME_WAIT_MS 60000u    /* TCP_TIMEWAIT_LEN, a constant of the kernel */
/* Fills *age for s (known false where no rule applies). Cannot fail. */
void cw_sock_age(const struct cw_sock *s, struct cw_age *age);

/* Why a CLOSE_WAIT socket is still open, from what the kernel shows: its
 * Recv-Q (rcv_nxt - copied_seq) counts the peer's FIN as one byte until a
 * read takes it: the read that returns 0 (end of file) or, when the FIN came
 * while data was unread (the kernel then merges it into that data's
 * buffer), the read that takes the last byte, after which a read returns 0
 * at once. read(fd, buf, 0) takes nothing. */
enum cw_why {
	CW_WHY_NONE,                  /* not in CLOSE_WAIT */
	CW_WHY_EOF_READ,              /* Recv-Q 0: the program read up to the end of file and did not close */
	CW_WHY_NEVER_READ,            /* Recv-Q >= 1: it never read up to the end of file */
	CW_WHY_UNACCEPTED             /* never accepted (this takes precedence) */
};
#define CW_WHY_BIT(w) (1u << (w))
/* s's why: CW_WHY_NONE outside CLOSE_WAIT; CW_WHY_UNACCEPTED for one with no
 * file (inode 0: in CLOSE_WAIT only a connection still in a listener's
 * accept queue, whose Recv-Q is at least 1: this takes precedence); else
 * CW_WHY_EOF_READ for Recv-Q 0, CW_WHY_NEVER_READ for more. Cannot fail. */
enum cw_why cw_sock_why(const struct cw_sock *s);
/* "eof-read", "never-read", "unaccepted" (static); NULL for CW_WHY_NONE and
 * other numbers. */
const char *cw_why_name(enum cw_why why);
/* Adds the CW_WHY_BIT of one name above, or of a comma list
 * ("eof-read,never-read"), to *mask. 0, or -EINVAL (nothing added) when a
 * name is unknown. */
int cw_why_parse(const char *names, uint32_t *mask);

#pragma GCC visibility pop
#endif
