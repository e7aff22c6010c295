/* Exact CLOSE_WAIT entry times for the census from the records closewait
 * trace --pin keeps pinned (read with libbpf, which only the CLI links),
 * handed to the census as cw_census_opts.entry_times. */
#ifndef CW_PIN_AGES_H
#define CW_PIN_AGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "closewait/census.h"

/* Sets co->entry_times from every live trace instance's pins; the caller
 * frees *table after the take. Pins that are there but not readable (no
 * CAP_BPF) are said once on stderr as "closewait CMD: ..."; ages are then
 * the kernel's ranges. Never fails: without pins, or in a build without
 * trace, nothing is set. */
void pin_ages(const char *cmd, struct cw_census_opts *co, struct cw_entry_time **table);
/* The same for a command that takes a census again and again (watch,
 * export): the pins that are not readable are said once, the first time
 * *said is false (it is then set). */
void pin_ages_once(const char *cmd, struct cw_census_opts *co, struct cw_entry_time **table,
		   bool *said);

/* A process closewait trace --pin counts: its sockets (those it accepted
 * or connected while traced) that entered CLOSE_WAIT and that left it. */
struct pin_count {
	pid_t pid;
	uint64_t entered, left;
};

/* The counters of the processes that still run, from every live trace
 * instance's pins, in a malloc'd array the caller frees. 0 when at least
 * one live instance keeps counters (*n may still be 0); -ENOENT when none
 * does (or this build has no trace); -EPERM or -EACCES when the pins are
 * not readable (pin_ages_once says so). */
int pin_counts(struct pin_count **out, size_t *n);

#endif
