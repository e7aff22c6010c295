/* owners_pass [--rounds R] [--state close-wait|all]
 * The census's owner pass timed alone (bench/suites/36-owners.sh): a
 * census taken without owners (not timed), then its owners found by the
 * /proc walk and by the eBPF iterator (trace/owners_iter.h), R rounds
 * each, taken in turn, each on a fresh census. Prints one line:
 *   load_ms=... proc_ms=M,M,... ebpf_ms=M,M,... sockets=N proc_owners=N ebpf_owners=N
 * (ebpf: the iterator read, the match and the comm and cgroup reads; its
 * load once, apart). Exits 1 if the iterator cannot be loaded or the two
 * find different owners. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "census/census_lib.h"
#include "closewait/census.h"
#include "owners_iter.h"

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int iter_read(void *arg, const struct cw_fd_socket **v, size_t *n)
{
	return owners_iter_read(arg, v, n);
}

/* One owner pass on a fresh census: its wall time in ms, owners counted
 * into *owners and summed into *sum (pid + fd per owner: a fingerprint). */
static double pass(uint32_t states, struct owners_iter *it, size_t *socks, size_t *owners,
		   unsigned long long *sum)
{
	struct cw_census_opts o;
	struct census_walk_opts wo = { .all_owners = true };
	struct census_walk *w;
	struct cw_census *c;
	double t0, t;

	cw_census_opts_init(&o);
	o.states = states;
	if (cw_census_take(&o, &c)) {
		fprintf(stderr, "owners_pass: census failed\n");
		exit(1);
	}
	if (it) {
		wo.fd_sockets = iter_read;
		wo.fd_sockets_arg = it;
	}
	t0 = now_ms();
	if (census_walk_start(c, &wo, &w) || census_walk_finish(c, w)) {
		fprintf(stderr, "owners_pass: owner pass failed\n");
		exit(1);
	}
	t = now_ms() - t0;
	*socks = cw_census_count(c);
	*owners = 0;
	*sum = 0;
	for (size_t i = 0; i < *socks; i++)
		for (size_t k = 0; k < cw_census_owner_count(c, i); k++) {
			(*owners)++;
			*sum += (unsigned long long)cw_census_owner(c, i, k)->pid * 65536 +
				(unsigned long long)cw_census_owner(c, i, k)->fd;
		}
	cw_census_free(c);
	return t;
}

int main(int argc, char **argv)
{
	unsigned rounds = 7;
	uint32_t states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	struct owners_iter *it;
	char why[256], proc[4096] = "", ebpf[4096] = "";
	size_t socks = 0, po = 0, eo = 0;
	unsigned long long ps = 0, es = 0;
	double t0, load;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rounds"))
			rounds = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--state") && !strcmp(argv[i + 1], "all"))
			states = 0;
	}
	t0 = now_ms();
	if (owners_iter_open(&it, why, sizeof(why))) {
		fprintf(stderr, "owners_pass: %s\n", why);
		return 1;
	}
	load = now_ms() - t0;
	for (unsigned r = 0; r < rounds && r < 64; r++) {
		snprintf(proc + strlen(proc), sizeof(proc) - strlen(proc), "%s%.2f", r ? "," : "",
			 pass(states, NULL, &socks, &po, &ps));
		snprintf(ebpf + strlen(ebpf), sizeof(ebpf) - strlen(ebpf), "%s%.2f", r ? "," : "",
			 pass(states, it, &socks, &eo, &es));
	}
	owners_iter_close(it);
	printf("load_ms=%.2f proc_ms=%s ebpf_ms=%s sockets=%zu proc_owners=%zu ebpf_owners=%zu\n",
	       load, proc, ebpf, socks, po, eo);
	if (po != eo || ps != es) {
		fprintf(stderr, "owners_pass: the walk found %zu owners, the iterator %zu%s\n", po, eo,
			po == eo ? " (not the same ones)" : "");
		return 1;
	}
	return 0;
}
