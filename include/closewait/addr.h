/* Addresses: parsing and formatting numeric IPv4 and IPv6 addresses and ports.
 *
 *	struct sockaddr_storage ss;
 *	socklen_t len;
 *	bool has_port;
 *	char text[CW_ADDRSTRLEN];
 *
 *	if (cw_addr_parse("[::1]:8000", &ss, &len, &has_port) == 0) {
 *		if (!has_port)
 *			cw_addr_set_port(&ss, 8000);
 *		connect(fd, (struct sockaddr *)&ss, len);
 *		cw_addr_port_str(&ss, text, sizeof(text));   // "[::1]:8000"
 *	}
 */
#ifndef CLOSEWAIT_ADDR_H
#define CLOSEWAIT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#pragma GCC visibility push(default)

/* Room for any string the formatters below make, "[v6]:PORT" included. */
#define CW_ADDRSTRLEN 64

/* Parses a numeric IPv4 or IPv6 address, optionally with a port:
 * "10.0.0.1", "10.0.0.1:80", "::1", "[::1]:80", "fe80::1%lo". has_port
 * reports whether a port was given (may be NULL, then a port is an error).
 * 0 and *ss, *len set (port 0 when none was given); -EINVAL for anything
 * else. */
int cw_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *has_port);
/* Parses a port number 1..65535 (0 allowed when allow_zero). 0 and *port
 * set; -EINVAL when s does not start with a digit; -ERANGE past 65535, for
 * 0 when not allowed, or with anything after the digits. */
int cw_port_parse(const char *s, bool allow_zero, uint16_t *port);
/* Sets the port of an IPv4 or IPv6 address (host order in); other families
 * are left alone. */
void cw_addr_set_port(struct sockaddr_storage *ss, uint16_t port);
/* The port in host order; 0 for a family other than IPv4 and IPv6. */
uint16_t cw_addr_port(const struct sockaddr_storage *ss);
/* "ADDR" (no port); IPv4-mapped IPv6 shown as IPv4. 0; -EAFNOSUPPORT for a
 * family other than IPv4 and IPv6; -ENOSPC if it does not fit in len. */
int cw_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len);
/* "ADDR:PORT", IPv6 as "[ADDR]:PORT" (IPv4-mapped as IPv4). 0;
 * -EAFNOSUPPORT for a family other than IPv4 and IPv6; -ENOSPC if it does
 * not fit in len. */
int cw_addr_port_str(const struct sockaddr_storage *ss, char *buf, size_t len);

#pragma GCC visibility pop
#endif
