#include "closewait/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cw_port_parse(const char *s, bool allow_zero, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535 || (v == 0 && !allow_zero))
		return -ERANGE;
	*port = (uint16_t)v;
	return 0;
}

static int parse_v6(const char *host, struct sockaddr_in6 *sin6)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char *pct;

	if (strlen(host) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, host);
	pct = strchr(buf, '%');
	if (pct) {
		*pct++ = '\0';
		sin6->sin6_scope_id = if_nametoindex(pct);
		if (!sin6->sin6_scope_id) {
			char *end;
			unsigned long id = strtoul(pct, &end, 10);

			if (*pct == '\0' || *end)
				return -EINVAL;
			sin6->sin6_scope_id = (uint32_t)id;
		}
	}
	return inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1 ? 0 : -EINVAL;
}

int cw_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *has_port)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *port = NULL, *colon;
	uint16_t p = 0;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (!s || !*s)
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		hl = (size_t)(close - s - 1);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (close[1] == ':')
			port = close + 2;
	} else {
		colon = strchr(s, ':');
		/* One colon: IPv4 with a port; several: a bare IPv6 address. */
		if (colon && !strchr(colon + 1, ':')) {
			hl = (size_t)(colon - s);
			port = colon + 1;
		} else {
			hl = strlen(s);
		}
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (port) {
		if (!has_port || cw_port_parse(port, true, &p))
			return -EINVAL;
	}
	if (has_port)
		*has_port = port != NULL;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		*len = sizeof(*sin);
		return 0;
	}
	if (parse_v6(host, (struct sockaddr_in6 *)ss) == 0) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

void cw_addr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

uint16_t cw_addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

int cw_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a;
	int af = ss->ss_family;

	if (af == AF_INET) {
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	} else if (af == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		a = a6;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			af = AF_INET;
			a = &a6->s6_addr[12];
		}
	} else {
		return -EAFNOSUPPORT;
	}
	return inet_ntop(af, a, buf, (socklen_t)len) ? 0 : -errno;
}

int cw_addr_port_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[CW_ADDRSTRLEN];
	int err = cw_addr_str(ss, a, sizeof(a)), n;
	bool v6 = ss->ss_family == AF_INET6 && strchr(a, ':');

	if (err)
		return err;
	n = snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", a, cw_addr_port(ss));
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}
