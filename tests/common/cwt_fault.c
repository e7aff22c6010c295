#include "cwt_fault.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cwtest.h"

void cwt_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
}

void cwt_nft_drop_port(uint16_t port)
{
	cwt_sh("nft add table inet cwt_fault && "
	       "nft add chain inet cwt_fault input '{ type filter hook input priority -100; }' && "
	       "nft add rule inet cwt_fault input tcp sport %u drop && "
	       "nft add rule inet cwt_fault input tcp dport %u drop",
	       port, port);
}

void cwt_nft_clear(void)
{
	cwt_sh("nft delete table inet cwt_fault 2>/dev/null || true");
}

struct cwt_recorder *cwt_recorder_new(void)
{
	struct cwt_recorder *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void cwt_recorder_free(struct cwt_recorder *r)
{
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void cwt_record_close(struct cw_conn *c, enum cw_close_reason reason, int err, void *arg)
{
	struct cwt_recorder *r = arg;
	struct sockaddr_storage ss;
	socklen_t len;

	cw_conn_peer(c, &ss, &len);
	pthread_mutex_lock(&r->lock);
	if (r->n < CWT_MAX_CLOSES) {
		struct cwt_close *e = &r->ev[r->n++];

		e->peer_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		e->reason = reason;
		e->err = err;
		e->at_ms = cwt_now_ms();
	}
	pthread_mutex_unlock(&r->lock);
}

static bool find(struct cwt_recorder *r, uint16_t port, struct cwt_close *out)
{
	bool found = false;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->n && !found; i++) {
		if (r->ev[i].peer_port == port) {
			*out = r->ev[i];
			found = true;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

bool cwt_wait_close(struct cwt_recorder *r, uint16_t port, unsigned deadline_ms, struct cwt_close *out)
{
	uint64_t end = cwt_now_ms() + deadline_ms;

	while (!find(r, port, out)) {
		if (cwt_now_ms() >= end)
			return false;
		cwt_sleep_ms(2);
	}
	return true;
}

unsigned cwt_closes(struct cwt_recorder *r)
{
	unsigned n;

	pthread_mutex_lock(&r->lock);
	n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

uint16_t cwt_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

struct cwt_server *cwt_server_start_rec(struct cw_server_config *cfg, struct cwt_recorder *rec)
{
	cfg->ops.on_close = cwt_record_close;
	cfg->arg = rec;
	return cwt_server_start(cfg);
}
