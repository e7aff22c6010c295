/* Addresses: the one parser and formatter every command uses. */
#ifndef CLOSEWAIT_ADDR_H
#define CLOSEWAIT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Parses a numeric IPv4 or IPv6 address, optionally with a port:
 * "10.0.0.1", "10.0.0.1:80", "::1", "[::1]:80", "fe80::1%lo". has_port
 * reports whether a port was given (may be NULL, then a port is an error). */
int cw_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *has_port);
/* Parses a port number 1..65535 (0 allowed when allow_zero). */
int cw_port_parse(const char *s, bool allow_zero, uint16_t *port);
void cw_addr_set_port(struct sockaddr_storage *ss, uint16_t port);
uint16_t cw_addr_port(const struct sockaddr_storage *ss);
/* "ADDR" (no port); IPv4-mapped IPv6 shown as IPv4. */
int cw_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len);
/* "ADDR:PORT", IPv6 as "[ADDR]:PORT". */
int cw_addr_port_str(const struct sockaddr_storage *ss, char *buf, size_t len);

#define CW_ADDRSTRLEN 64

#endif
