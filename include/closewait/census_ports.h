/* Port arithmetic: how fast new connections to one destination can be made
 * before connect() runs out of local ports, from a census and the port
 * sysctls. Pure but for cw_port_sys_read.
 *
 *	struct cw_port_sys sys;
 *	struct cw_ports_report *r;
 *
 *	if (cw_port_sys_read(NULL, &sys) == 0 && cw_ports_report(c, &sys, 0, NULL, &r) == 0) {
 *		for (size_t i = 0; i < cw_ports_dest_count(r); i++)
 *			printf("%.0f%% used\n", cw_ports_dest(r, i)->utilisation * 100);
 *		cw_ports_report_free(r);
 *	}
 */
#ifndef CLOSEWAIT_CENSUS_PORTS_H
#define CLOSEWAIT_CENSUS_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "closewait/census.h"

#pragma GCC visibility push(default)

/* The port sysctls of this network namespace. */
struct cw_port_sys {
	unsigned range_lo, range_hi;  /* net.ipv4.ip_local_port_range */
	unsigned reserved;            /* ports of the range in ip_local_reserved_ports */
	unsigned usable;              /* what connect() can pick per source and destination */
	int tw_reuse;                 /* net.ipv4.tcp_tw_reuse: 0 off, 1 on, 2 loopback only */
	unsigned tw_reuse_delay_ms;   /* net.ipv4.tcp_tw_reuse_delay (1000 where absent) */
	int timestamps;               /* net.ipv4.tcp_timestamps */
};
/* Reads them (root: NULL = /proc/sys/net/ipv4). 0, -EINVAL (a range that
 * does not parse), or the -errno of reading the range. */
int cw_port_sys_read(const char *root, struct cw_port_sys *sys);
/* The same as network namespace j of census c has them (each namespace
 * has its own): read by a thread inside it. 0, the returns of
 * cw_port_sys_read, or the -errno of entering it (-EPERM: no CAP_SYS_ADMIN). */
int cw_port_sys_read_netns(const struct cw_census *c, size_t j, struct cw_port_sys *sys);
/* Sets the range and fills reserved and usable from a reserved-ports list
 * ("8080,9000-9100"). 0, or -EINVAL for a range that is not one. */
int cw_port_sys_set(struct cw_port_sys *sys, unsigned lo, unsigned hi, const char *reserved);

/* Outgoing connections to one destination. The library allocates it; it
 * may gain fields at the end; do not allocate, copy or index it. */
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
	double exhaust_what_if_s;     /* at the planned rate; <0: never, or none planned */
	const uint32_t *tw_left_ms;   /* TIME_WAIT time left, ascending (time_wait of them) */
};
/* Outgoing connections from one local address. The library allocates it;
 * it may gain fields at the end; do not allocate, copy or index it. */
struct cw_port_local {
	struct cw_endpoint addr;      /* local address (port 0) */
	size_t dests, open, time_wait;
};
struct cw_ports_report;
#define CW_RATE_WINDOW_MS 10000u  /* TIME_WAIT younger than this gives rate_now */
/* Outgoing connections (local port in the ephemeral range and not listening)
 * per destination and per local address. what_if: a planned rate (<= 0:
 * none). extra: a destination to report even with no connection (NULL:
 * none). 0 or -ENOMEM. */
int cw_ports_report(const struct cw_census *c, const struct cw_port_sys *sys, double what_if,
		    const struct cw_endpoint *extra, struct cw_ports_report **out);
/* The same over the sockets of one network namespace of c (its inode). */
int cw_ports_report_netns(const struct cw_census *c, uint64_t netns, const struct cw_port_sys *sys,
			  double what_if, const struct cw_endpoint *extra,
			  struct cw_ports_report **out);
/* Frees the report (NULL: nothing). */
void cw_ports_report_free(struct cw_ports_report *r);
/* The number of destinations, and destination i (i from 0 to count - 1),
 * sorted by utilisation then TIME_WAIT. */
size_t cw_ports_dest_count(const struct cw_ports_report *r);
const struct cw_port_dest *cw_ports_dest(const struct cw_ports_report *r, size_t i);
/* The number of local addresses, and local address i (i from 0 to count - 1). */
size_t cw_ports_local_count(const struct cw_ports_report *r);
const struct cw_port_local *cw_ports_local(const struct cw_ports_report *r, size_t i);
/* Seconds until destination d (of a report made with sys) runs out of
 * ports at rate new connections/s from now, each holding its port for the
 * TIME_WAIT that follows; 0 when it has run out already, <0 if never. */
double cw_ports_exhaust_s(const struct cw_port_sys *sys, const struct cw_port_dest *d, double rate);
/* Rates ("100/s") are parsed by cw_rate_parse in duration.h. */

#pragma GCC visibility pop
#endif
