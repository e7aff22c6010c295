/* A program built outside closewait's tree against the installed library:
 * sends "hello" to `closewait serve` on 127.0.0.1:PORT and prints the reply.
 * Exit 0 when it is "HELLO"; 1 on anything else (refused, closed, 5 s gone). */
#include <closewait/dialer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char reply[8];
static size_t got;

static void on_open(struct cw_conn *c, void *loop)
{
	if (cw_conn_write(c, "hello", 5) < 0)
		cw_loop_stop(loop);
}

static void on_data(struct cw_conn *c, uint8_t *data, size_t len, void *loop)
{
	(void)c;
	for (size_t i = 0; i < len && got < sizeof(reply) - 1; i++)
		reply[got++] = (char)data[i];
	if (got >= 5)
		cw_loop_stop(loop);
}

/* Refused, or the connection ended before the reply: give up at once. */
static void on_retry(struct cw_dialer *d, int err, uint64_t delay_ms, void *loop)
{
	(void)d, (void)err, (void)delay_ms;
	cw_loop_stop(loop);
}

static void on_timeout(struct cw_timer *t, void *loop)
{
	(void)t;
	cw_loop_stop(loop);
}

int main(int argc, char **argv)
{
	struct cw_dialer_config cfg;
	struct cw_loop *loop;
	struct cw_dialer *d;
	struct cw_timer *t;

	if (argc != 2 || cw_loop_new(&loop) < 0)
		return 1;
	cw_dialer_config_init(&cfg);
	cfg.host = "127.0.0.1";
	cfg.port = (uint16_t)atoi(argv[1]);
	cfg.ops.on_open = on_open;
	cfg.ops.on_data = on_data;
	cfg.on_retry = on_retry;
	cfg.arg = loop;
	if (cw_timer_new(loop, on_timeout, loop, &t) < 0 || cw_dialer_new(loop, &cfg, &d) < 0 ||
	    cw_dialer_start(d) < 0)
		return 1;
	cw_timer_start(t, 5000);
	cw_loop_run(loop);
	cw_dialer_stop(d);
	cw_dialer_free(d);
	cw_timer_free(t);
	cw_loop_free(loop);
	printf("%s\n", reply);
	return strcmp(reply, "HELLO") != 0;
}
