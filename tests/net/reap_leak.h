/* CLOSE_WAIT sockets that the test process itself leaks, for the reap tests:
 * this process owns them and reaps them through its own pidfd. */
#ifndef REAP_LEAK_H
#define REAP_LEAK_H

#include <stdbool.h>
#include <stdint.h>

#include "closewait/reap.h"

struct leak {
	int lfd;                      /* listener */
	uint16_t port;
	int fd[4];                    /* our (owner's) CLOSE_WAIT ends; -1 once closed */
	int n;
};

/* tcpi_state of fd, or -errno. */
int tcp_state(int fd);
uint32_t inode_of(int fd);
/* For cwt_poll_until: fd is in state. */
struct state_is {
	int fd, state;
};
bool state_is(void *arg);
/* One more connection whose client closes at once: our end goes CLOSE_WAIT. */
int close_wait_one(struct leak *l);
/* A listener on 127.0.0.1 and n (at most 4) CLOSE_WAIT ends. */
void leak_make(struct leak *l, int n);
void leak_free(struct leak *l);
/* Our CLOSE_WAIT sockets on the leak's port, as reap --pid --sport selects
 * them: all to reap, in fd order. */
struct cw_reap *select_ours(const struct leak *l, enum cw_reap_mode mode);
/* Options with this wait (cw_reap_opts_init, then wait_ms). */
struct cw_reap_opts reap_opts(uint64_t wait_ms);
uint16_t peer_port(int fd);
/* A thread body: ends the nftables drop 300 ms after it starts. */
void *clear_later(void *arg);
/* A leak of one socket whose peer nftables cuts off (the packets of its
 * port dropped), selected for fin: its FIN will go unanswered. */
struct cw_reap *leak_unanswered(struct leak *l);
/* Runs r (fin, from leak_unanswered) with the drop ended 300 ms in
 * (clear_later); the run returns 0. Returns the ms it took, counted from
 * before the FIN went out to the run's return. */
uint64_t run_answered_late(struct cw_reap *r, const struct cw_reap_opts *o);

#endif
