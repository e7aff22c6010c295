/* The census's names and endpoints: one table of TCP states in its three
 * spellings, the kernel's socket timers, endpoints to and from text and
 * sockaddrs. Pure. */
#include "closewait/census_types.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ss's name, a JSON key, a table heading: each one a spelling of the
 * others, kept side by side so that they cannot drift apart. */
static const struct {
	const char *name, *key, *heading;
} states[CW_TCP_MAX_STATE] = {
	[CW_TCP_ESTABLISHED] = { "established", "established", "ESTABLISHED" },
	[CW_TCP_SYN_SENT] = { "syn-sent", "syn_sent", "SYN-SENT" },
	[CW_TCP_SYN_RECV] = { "syn-recv", "syn_recv", "SYN-RECV" },
	[CW_TCP_FIN_WAIT1] = { "fin-wait-1", "fin_wait_1", "FIN-WAIT-1" },
	[CW_TCP_FIN_WAIT2] = { "fin-wait-2", "fin_wait_2", "FIN-WAIT-2" },
	[CW_TCP_TIME_WAIT] = { "time-wait", "time_wait", "TIME-WAIT" },
	[CW_TCP_CLOSE] = { "unconnected", "unconnected", "UNCONNECTED" },
	[CW_TCP_CLOSE_WAIT] = { "close-wait", "close_wait", "CLOSE-WAIT" },
	[CW_TCP_LAST_ACK] = { "last-ack", "last_ack", "LAST-ACK" },
	[CW_TCP_LISTEN] = { "listen", "listen", "LISTEN" },
	[CW_TCP_CLOSING] = { "closing", "closing", "CLOSING" },
};

static bool is_state(int state)
{
	return state > 0 && state < CW_TCP_MAX_STATE;
}

const char *cw_tcp_state_name(int state)
{
	return is_state(state) ? states[state].name : "?";
}

const char *cw_tcp_state_key(int state)
{
	return is_state(state) ? states[state].key : "?";
}

const char *cw_tcp_state_heading(int state)
{
	return is_state(state) ? states[state].heading : "?";
}

static int state_one(const char *name, size_t len, uint32_t *mask)
{
	if (len == 3 && !strncmp(name, "all", 3)) {
		*mask |= CW_STATES_ALL;
		return 0;
	}
	for (int s = 1; s < CW_TCP_MAX_STATE; s++) {
		if (s != CW_TCP_CLOSE && strlen(states[s].name) == len &&
		    !strncmp(states[s].name, name, len)) {
			*mask |= CW_STATE_BIT(s);
			return 0;
		}
	}
	return -EINVAL;
}

int cw_tcp_states_parse(const char *names, uint32_t *mask)
{
	uint32_t m = 0;

	if (!names || !*names)
		return -EINVAL;
	for (const char *p = names;;) {
		size_t len = strcspn(p, ",");

		if (!len || state_one(p, len, &m))
			return -EINVAL;
		if (!p[len])
			break;
		p += len + 1;
	}
	*mask |= m;
	return 0;
}

const char *cw_sock_timer_name(int timer)
{
	static const char *const names[] = { "none", "retrans", "keepalive", "timewait", "probe0" };

	return timer >= 0 && timer <= CW_SOCK_TIMER_PROBE0 ? names[timer] : "?";
}

int cw_endpoint_str(const struct cw_endpoint *e, bool with_port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	bool v4 = IN6_IS_ADDR_V4MAPPED(&e->addr);
	int n;

	if (v4)
		inet_ntop(AF_INET, e->addr.s6_addr + 12, a, sizeof(a));
	else
		inet_ntop(AF_INET6, &e->addr, a, sizeof(a));
	if (!with_port)
		n = snprintf(buf, len, "%s", a);
	else
		n = snprintf(buf, len, v4 ? "%s:%u" : "[%s]:%u", a, e->port);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = 0;
		return -ENOSPC;
	}
	return 0;
}

int cw_endpoint_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct cw_endpoint *e)
{
	if (len < (socklen_t)sizeof(sa->sa_family))
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;

		if (len < (socklen_t)sizeof(*in4))
			return -EINVAL;
		memset(&e->addr, 0, sizeof(e->addr));
		e->addr.s6_addr[10] = e->addr.s6_addr[11] = 0xff;
		memcpy(&e->addr.s6_addr[12], &in4->sin_addr, 4);
		e->port = ntohs(in4->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (len < (socklen_t)sizeof(*in6))
			return -EINVAL;
		e->addr = in6->sin6_addr;
		e->port = ntohs(in6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

enum cw_why cw_sock_why(const struct cw_sock *s)
{
	if (s->state != CW_TCP_CLOSE_WAIT)
		return CW_WHY_NONE;
	/* No file: still in the accept queue (a CLOSE_WAIT socket is never an
	 * orphan: close() takes it to LAST_ACK). Its Recv-Q holds the FIN, so
	 * it would read never-read: the queue is the cause to name. */
	if (!s->inode)
		return CW_WHY_UNACCEPTED;
	/* The FIN is one byte of Recv-Q until a read takes it (census_types.h). */
	return s->rqueue ? CW_WHY_NEVER_READ : CW_WHY_EOF_READ;
}

static const char *const why_names[] = {
	[CW_WHY_EOF_READ] = "eof-read",
	[CW_WHY_NEVER_READ] = "never-read",
	[CW_WHY_UNACCEPTED] = "unaccepted",
};
#define NWHY (sizeof(why_names) / sizeof(why_names[0]))

const char *cw_why_name(enum cw_why why)
{
	return (unsigned)why < NWHY ? why_names[why] : NULL;
}

int cw_why_parse(const char *names, uint32_t *mask)
{
	uint32_t m = 0;

	if (!names || !*names)
		return -EINVAL;
	for (const char *p = names;;) {
		size_t len = strcspn(p, ","), w = 1;

		while (w < NWHY && (strlen(why_names[w]) != len || strncmp(why_names[w], p, len)))
			w++;
		if (w == NWHY)
			return -EINVAL;
		m |= CW_WHY_BIT(w);
		if (!p[len])
			break;
		p += len + 1;
	}
	*mask |= m;
	return 0;
}
