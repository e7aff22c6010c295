/* Fault injection and observation for the dead-peer tests. */
#ifndef CWT_FAULT_H
#define CWT_FAULT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "closewait/conn.h"
#include "cwtest.h"

/* Drops every packet of the connection whose client side uses port, on the
 * input hook of this namespace (both directions pass it on loopback), so
 * the peer looks vanished to both ends. An output-hook drop would be a local
 * transmit error instead: a different failure. */
void cwt_nft_drop_port(uint16_t port);
/* Removes every rule cwt_nft_drop_port added. */
void cwt_nft_clear(void);
/* Runs a shell command; fails the test if it does not exit 0. */
void cwt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records each close a server reports (from the loop thread), so a test
 * thread can wait for one: set cfg.ops.on_close = cwt_record_close and
 * cfg.arg = the recorder. */
#define CWT_MAX_CLOSES 16384
struct cwt_close {
	uint16_t peer_port;
	enum cw_close_reason reason;
	int err;
	uint64_t at_ms;
};
struct cwt_recorder {
	pthread_mutex_t lock;
	unsigned n;
	struct cwt_close ev[CWT_MAX_CLOSES];
};
struct cwt_recorder *cwt_recorder_new(void);
void cwt_recorder_free(struct cwt_recorder *r);
void cwt_record_close(struct cw_conn *c, enum cw_close_reason reason, int err, void *arg);
/* Waits (polling, deadline from the call) for the close of the connection
 * whose peer port is port; false on timeout. */
bool cwt_wait_close(struct cwt_recorder *r, uint16_t port, unsigned deadline_ms, struct cwt_close *out);
unsigned cwt_closes(struct cwt_recorder *r);
/* Starts cwt_server with cfg, recording its closes in rec. */
struct cwt_server *cwt_server_start_rec(struct cw_server_config *cfg, struct cwt_recorder *rec);
/* The local port of a connected socket. */
uint16_t cwt_local_port(int fd);

#endif
