/* peer_uv: the uppercase echo server written the way libuv's own examples
 * write an echo server (docs/code/tcp-echo-server): uv_read_start with an
 * alloc_cb that mallocs the suggested size, a malloc'd write request per
 * reply that carries the buffer and frees both in the write callback,
 * uv_close on EOF or error, the client handle freed in the close callback.
 *
 * Usage: peer_uv PORT
 * TCP_NODELAY: uv_tcp_nodelay() on the listening handle after bind (the
 * socket exists then), inherited by accepted sockets, as closewait does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

typedef struct {
	uv_write_t req;
	uv_buf_t buf;
} write_req_t;

static uv_loop_t *loop;

static void alloc_buffer(uv_handle_t *handle, size_t suggested_size, uv_buf_t *buf)
{
	(void)handle;
	buf->base = malloc(suggested_size);
	buf->len = suggested_size;
}

static void on_close(uv_handle_t *handle)
{
	free(handle);
}

static void echo_write(uv_write_t *req, int status)
{
	write_req_t *wr = (write_req_t *)req;

	if (status)
		fprintf(stderr, "peer_uv: write error %s\n", uv_strerror(status));
	free(wr->buf.base);
	free(wr);
}

/* Its own function (the same loop in every server here), so a profile can
 * tell the application's work from the loop's. */
static __attribute__((noinline)) void upcase(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'a' && p[i] <= 'z')
			p[i] = (char)(p[i] - 'a' + 'A');
}

static void echo_read(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf)
{
	if (nread > 0) {
		write_req_t *req = malloc(sizeof(*req));

		upcase(buf->base, (size_t)nread);
		req->buf = uv_buf_init(buf->base, (unsigned)nread);
		uv_write(&req->req, client, &req->buf, 1, echo_write);
		return;
	}
	if (nread < 0) {
		if (nread != UV_EOF)
			fprintf(stderr, "peer_uv: read error %s\n", uv_err_name((int)nread));
		uv_close((uv_handle_t *)client, on_close);
	}
	free(buf->base);
}

static void on_new_connection(uv_stream_t *server, int status)
{
	uv_tcp_t *client;

	if (status < 0) {
		fprintf(stderr, "peer_uv: new connection error %s\n", uv_strerror(status));
		return;
	}
	client = malloc(sizeof(*client));
	uv_tcp_init(loop, client);
	if (uv_accept(server, (uv_stream_t *)client) == 0)
		uv_read_start((uv_stream_t *)client, alloc_buffer, echo_read);
	else
		uv_close((uv_handle_t *)client, on_close);
}

int main(int argc, char **argv)
{
	uv_tcp_t server;
	struct sockaddr_in addr;
	int r;

	if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
		fprintf(stderr, "Usage: peer_uv PORT\n");
		return 2;
	}
	loop = uv_default_loop();
	uv_tcp_init(loop, &server);
	uv_ip4_addr("0.0.0.0", atoi(argv[1]), &addr);
	r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
	if (!r)
		r = uv_tcp_nodelay(&server, 1);
	if (!r)
		r = uv_listen((uv_stream_t *)&server, 4096, on_new_connection);
	if (r) {
		fprintf(stderr, "peer_uv: listen error %s\n", uv_strerror(r));
		return 1;
	}
	return uv_run(loop, UV_RUN_DEFAULT);
}
