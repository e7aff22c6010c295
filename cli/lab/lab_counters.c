/* The kernel's TCP counters of the lab's namespace: /proc/net/netstat
 * (TcpExt) and /proc/net/snmp (Tcp), named as nstat names them
 * ("TcpExtTCPAbortOnData", "TcpOutRsts"). /proc/net follows the reader's
 * network namespace, so the lab counts only its own connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"

#define LAB_COUNTERS_MAX 512
#define LAB_COUNTER_NAME 64

struct lab_counters {
	size_t n;
	char name[LAB_COUNTERS_MAX][LAB_COUNTER_NAME];
	long long v[LAB_COUNTERS_MAX];
};

/* Pairs of lines, "Tcp: Name1 Name2..." then "Tcp: v1 v2...": keeps the
 * groups whose prefix starts with "Tcp" (Tcp, TcpExt). */
static void read_file(struct lab_counters *c, const char *path)
{
	char names[8192], values[8192];
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		char *ns, *vs, *n, *v, *colon = strchr(names, ':');

		if (!colon || strncmp(names, "Tcp", 3))
			continue;
		*colon = 0;
		n = strtok_r(colon + 1, " \n", &ns);
		v = strtok_r(strchr(values, ':') ? strchr(values, ':') + 1 : values, " \n", &vs);
		for (; n && v && c->n < LAB_COUNTERS_MAX;
		     n = strtok_r(NULL, " \n", &ns), v = strtok_r(NULL, " \n", &vs)) {
			/* A name that does not fit is cut: no counter is that long. */
			size_t gl = strnlen(names, 16), nl = strnlen(n, LAB_COUNTER_NAME - 1 - gl);

			memcpy(c->name[c->n], names, gl);
			memcpy(c->name[c->n] + gl, n, nl);
			c->name[c->n][gl + nl] = 0;
			c->v[c->n++] = strtoll(v, NULL, 10);
		}
	}
	fclose(f);
}

struct lab_counters *lab_counters_read(void)
{
	struct lab_counters *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	read_file(c, "/proc/net/snmp");
	read_file(c, "/proc/net/netstat");
	if (!c->n) {
		free(c);
		return NULL;
	}
	return c;
}

void lab_counters_free(struct lab_counters *c)
{
	free(c);
}

size_t lab_counters_count(const struct lab_counters *c)
{
	return c ? c->n : 0;
}

const char *lab_counters_name(const struct lab_counters *c, size_t i)
{
	return c->name[i];
}

long long lab_counters_delta(const struct lab_counters *now, const struct lab_counters *then,
			     size_t i)
{
	if (!then)
		return 0;
	/* The same kernel writes the same order: try the same index first. */
	if (i < then->n && !strcmp(then->name[i], now->name[i]))
		return now->v[i] - then->v[i];
	for (size_t k = 0; k < then->n; k++)
		if (!strcmp(then->name[k], now->name[i]))
			return now->v[i] - then->v[k];
	return 0;
}

bool lab_counter_noisy(const char *name)
{
	/* Segments, bytes and ACK bookkeeping move on every exchange; the
	 * counters a reader learns from (resets, aborts, timeouts) do not. */
	static const char *const noisy[] = {
		"TcpInSegs", "TcpOutSegs", "TcpExtTCPPureAcks", "TcpExtTCPHPAcks", "TcpExtTCPHPHits",
		"TcpExtDelayedACKs", "TcpExtTCPDelivered", "TcpExtTCPOrigDataSent",
		"TcpExtTCPToZeroWindowAdv", "TcpExtTCPFromZeroWindowAdv", "TcpExtTCPWantZeroWindowAdv",
		"TcpExtTCPRcvCoalesce", "TcpExtTCPAutoCorking", "TcpExtTCPBacklogCoalesce",
		"TcpExtTCPRcvQDrop", "TcpExtTCPOFOQueue", "TcpExtTCPHPHitsToUser",
	};

	for (size_t i = 0; i < sizeof(noisy) / sizeof(noisy[0]); i++)
		if (!strcmp(name, noisy[i]))
			return true;
	return false;
}
