/* closewait export: the census as Prometheus metrics, served over HTTP
 * (libmicrohttpd) or written for node_exporter's textfile collector. One
 * census answers every scrape for --min-interval: a burst of scrapes, or
 * several Prometheus servers, cost one census. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "caps.h"
#include "cli.h"
#include "closewait/addr.h"
#include "closewait/census.h"
#include "export_metrics.h"
#include "filter_opts.h"
#include "owners_src.h"
#include "pin_ages.h"

#define EXPORT_PORT 9848
/* Connections served at once, and how long an idle one may stay: a client
 * that connects and sends nothing holds a slot this long, no more. Idle
 * ones cost little (epoll, and a small memory pool each: a scrape's request
 * is a line and a few headers), so a thousand silent clients leave room
 * for the scraper. */
#define EXPORT_MAX_CONNS 2048
#define EXPORT_CONN_MEMORY (8 * 1024)
/* Threads serving scrapes: one takes the census, the others answer from
 * it (or wait for it) and serve / and 404s meanwhile. */
#define EXPORT_THREADS 4
#define EXPORT_CONN_TIMEOUT_S 10

enum {
	OPT_LISTEN = OPT_F_LAST + 1, OPT_TEXTFILE, OPT_INTERVAL, OPT_MIN_INTERVAL, OPT_TOP, OPT_BY,
	OPT_ONCE, OPT_TLS_CERT, OPT_TLS_KEY, OPT_AUTH_FILE, OPT_HELP
};

static const struct option export_options[] = {
	FILTER_LONG_OPTIONS,
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "textfile", required_argument, NULL, OPT_TEXTFILE },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "min-interval", required_argument, NULL, OPT_MIN_INTERVAL },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "by", required_argument, NULL, OPT_BY },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "basic-auth-file", required_argument, NULL, OPT_AUTH_FILE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void export_help(void)
{
	printf("Usage: closewait export [--listen ADDR:PORT] [--textfile DIR [--once]] [OPTIONS]\n\n"
	       "Serves the census as Prometheus metrics: CLOSE_WAIT per systemd unit, container\n"
	       "or command (the age of the oldest, the bytes never read, why they are open), the\n"
	       "fd headroom of each group's fullest process, sockets per state, and port\n"
	       "pressure per destination. Series and alert rules: docs/export.md.\n\n"
	       "  --listen ADDR:PORT  serve GET /metrics there (default 127.0.0.1:%d; exposing it\n"
	       "                      beyond this host is your choice: [::]:%d, 0.0.0.0:%d)\n"
	       "  --textfile DIR      write DIR/closewait.prom every --interval, atomically, for\n"
	       "                      node_exporter's textfile collector (no HTTP unless --listen)\n"
	       "  --once              with --textfile: write it once and exit\n"
	       "  --interval D        textfile period (default 15s)\n"
	       "  --min-interval D    a census answers every scrape for D (default 1s)\n"
	       "  --by G              groups: auto (systemd unit, else container, else command;\n"
	       "                      the default), unit, container, pod, or process (adds the\n"
	       "                      pid label: a new series at every restart)\n"
	       "  --top N             groups and destinations named (default 50); the rest are\n"
	       "                      summed into one series labelled other=\"true\"\n"
	       "Scrapes across networks:\n"
	       "  --tls-cert FILE --tls-key FILE   serve HTTPS (PEM certificate and key)\n"
	       "  --basic-auth-file FILE           require HTTP basic auth: FILE holds one line\n"
	       "                      USER:PASSWORD (keep it mode 0600); use it with TLS\n"
	       "Selection (scan's): --pid, --port, --sport, --dport, --peer, --comm, --unit,\n"
	       "--container, --pod, --why WHY (eof-read, never-read, unaccepted: CLOSE_WAIT\n"
	       "sockets open for that reason only), and the namespaces:\n"
	       HELP_NETNS
	       "At most %d connections at once; an idle one is closed after %ds.\n",
	       EXPORT_PORT, EXPORT_PORT, EXPORT_PORT, EXPORT_MAX_CONNS, EXPORT_CONN_TIMEOUT_S);
}

struct exporter {
	struct selection sel;
	struct cw_census_opts co;
	struct export_opts eo;
	struct sockaddr_storage listen;
	socklen_t listen_len;
	bool has_listen, once;
	const char *textfile;
	const char *tls_cert, *tls_key, *auth_file;
	char *cert, *key;             /* PEM text of --tls-cert and --tls-key */
	char *user, *pass;            /* of --basic-auth-file */
	uint64_t interval_ms, min_interval_ms;
	/* the cached rendering, behind lock */
	pthread_mutex_t lock;
	char *text, *om;              /* Prometheus text 0.0.4, OpenMetrics 1.0 */
	size_t len, om_len;
	uint64_t at_ms;
	bool fresh;
	bool pins_said;               /* closewait trace's pins said not readable */
	bool unreadable_said;         /* processes said not readable (once) */
	struct export_self self;
};

static void parse_args(int argc, char **argv, struct exporter *x)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&x->listen;
	bool has_port;
	int opt;

	selection_init(&x->sel);
	x->eo.by = CW_BY_AUTO;
	x->eo.top = 50;
	x->interval_ms = 15000;
	x->min_interval_ms = 1000;
	optind = 1;
	opterr = 0;
	while ((opt = cli_getopt("export", argc, argv, ":h", export_options, export_help)) != -1) {
		if (selection_opt("export", &x->sel, opt, optarg))
			continue;
		switch (opt) {
		case OPT_LISTEN:
			if (cw_addr_parse(optarg, &x->listen, &x->listen_len, &has_port) || !has_port)
				cli_usage_exit2("export", "--listen: invalid address \"%s\" (ADDR:PORT or [V6]:PORT)",
						optarg);
			x->has_listen = true;
			break;
		case OPT_TEXTFILE: x->textfile = optarg; break;
		case OPT_INTERVAL: x->interval_ms = opt_duration("export", "--interval", optarg, false); break;
		case OPT_MIN_INTERVAL:
			x->min_interval_ms = opt_duration("export", "--min-interval", optarg, true);
			break;
		case OPT_TOP: x->eo.top = opt_ulong("export", "--top", optarg, 1, 100000); break;
		case OPT_BY:
			x->eo.by = (enum cw_group_by)opt_group_by("export", optarg);
			if (x->eo.by != CW_BY_AUTO && x->eo.by != CW_BY_UNIT && x->eo.by != CW_BY_CONTAINER &&
			    x->eo.by != CW_BY_POD && x->eo.by != CW_BY_PROCESS)
				cli_usage_exit2("export", "--by: %s would make a series per socket address; "
						"auto, unit, container, pod or process", optarg);
			break;
		case OPT_ONCE: x->once = true; break;
		case OPT_TLS_CERT: x->tls_cert = optarg; break;
		case OPT_TLS_KEY: x->tls_key = optarg; break;
		case OPT_AUTH_FILE: x->auth_file = optarg; break;
		}
	}
	if (!x->tls_cert != !x->tls_key)
		cli_usage_exit2("export", "--tls-cert and --tls-key go together");
	if (x->once && !x->textfile)
		cli_usage_exit2("export", "--once writes the textfile once: give --textfile DIR");
	if (x->once && x->has_listen)
		cli_usage_exit2("export", "--once writes the textfile and exits: no --listen");
	if (!x->textfile && !x->has_listen) {
		in->sin_family = AF_INET;
		in->sin_port = htons(EXPORT_PORT);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		x->listen_len = sizeof(*in);
		x->has_listen = true;
	}
	cw_census_opts_init(&x->co);
	selection_census(&x->sel, &x->co);
	x->co.owners = true;
	x->eo.f = &x->sel.f;
	x->eo.fds = export_fds_read;
}

/* The port report of each namespace read (freed by the caller). */
struct ports_set {
	struct export_ports *v;
	struct cw_port_sys *sys;
	struct cw_ports_report **r;
	size_t n;
};

static void ports_free(struct ports_set *p)
{
	for (size_t j = 0; j < p->n; j++)
		cw_ports_report_free(p->r[j]);
	free(p->v);
	free(p->sys);
	free(p->r);
}

static int ports_take(const struct cw_census *c, struct ports_set *p, uint64_t *errors)
{
	size_t n = cw_census_netns_count(c);

	p->v = calloc(n ? n : 1, sizeof(*p->v));
	p->sys = calloc(n ? n : 1, sizeof(*p->sys));
	p->r = calloc(n ? n : 1, sizeof(*p->r));
	if (!p->v || !p->sys || !p->r)
		return -ENOMEM;
	for (size_t j = 0; j < n; j++) {
		const struct cw_netns *ns = cw_census_netns(c, j);

		if (ns->err)
			continue;
		if (cw_port_sys_read_netns(c, j, &p->sys[p->n]) ||
		    cw_ports_report_netns(c, ns->inode, &p->sys[p->n], 0, NULL, &p->r[p->n])) {
			++*errors;
			continue;
		}
		p->v[p->n] = (struct export_ports){ ns->inode, &p->sys[p->n], p->r[p->n] };
		p->n++;
	}
	return 0;
}

/* c in one of the two formats, or NULL (out of memory). */
static char *render(struct exporter *x, const struct cw_census *c, bool om, size_t *len)
{
	char *text = NULL;
	FILE *mem = open_memstream(&text, len);
	int err;

	if (!mem)
		return NULL;
	x->eo.openmetrics = om;
	err = export_render(mem, c, &x->eo, &x->self);
	if (fclose(mem) || err) {
		free(text);
		return NULL;
	}
	return text;
}

/* A census, rendered into x->text and x->om. Called with x->lock held. */
static void refresh(struct exporter *x)
{
	struct cw_census *c = NULL;
	struct cw_census_opts co = x->co;
	struct cw_entry_time *entry_times;
	struct pin_count *counts;
	struct ports_set ps = { 0 };
	char *text, *om, note[320];
	size_t len = 0, om_len = 0;
	uint64_t t0 = cli_now_ms();
	int err;

	/* exact CLOSE_WAIT ages from a running closewait trace --pin, as scan */
	pin_ages_once("export", &co, &entry_times, &x->pins_said);
	err = cw_census_take(&co, &c);
	free(entry_times);
	if (!err && caps_unreadable_first(c, &x->unreadable_said, note, sizeof(note)))
		cli_warn("export", "%s", note);
	/* and its per-process counters, published only when readable */
	x->eo.has_counts = pin_counts(&counts, &x->eo.ncounts) == 0;
	x->eo.counts = counts;

	x->self.up = !err;
	x->self.errors_census += err != 0;
	if (!err && ports_take(c, &ps, &x->self.errors_ports))
		x->self.up = false;
	x->self.scrape_s = (double)(cli_now_ms() - t0) / 1000.0;
	x->eo.ports = ps.v;
	x->eo.nports = ps.n;
	x->eo.per_netns = c && cw_census_netns_count(c) > 1;
	text = render(x, c, false, &len);
	om = text ? render(x, c, true, &om_len) : NULL;
	ports_free(&ps);
	cw_census_free(c);
	free(counts);
	x->eo.counts = NULL;
	x->eo.has_counts = false;
	if (!om) {
		free(text);
		return; /* out of memory: the last rendering stays */
	}
	free(x->text);
	free(x->om);
	x->text = text;
	x->len = len;
	x->om = om;
	x->om_len = om_len;
	x->at_ms = cli_now_ms();
	x->fresh = true;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Equal strings, in a time that does not tell how much of them matched. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);

	for (size_t k = 0; k < la; k++)
		diff |= (unsigned char)(a[k] ^ b[k % (lb ? lb : 1)]);
	return !diff;
}

static bool authorised(const struct exporter *x, struct MHD_Connection *conn)
{
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(conn, &pass);
	bool ok = user && pass && same_secret(user, x->user) & same_secret(pass, x->pass);

	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result deny(struct MHD_Connection *conn)
{
	static const char msg[] = "authentication required\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = MHD_queue_basic_auth_fail_response(conn, "closewait", r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	static const char index_page[] =
		"<html><head><title>closewait exporter</title></head><body>"
		"<h1>closewait exporter</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n";
	static int seen; /* marks a request whose headers have been read */
	struct exporter *x = cls;
	const char *accept;
	enum MHD_Result ret;
	bool om;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	/* Answered on the second call, once the request is whole: a reply
	 * queued on the first one closes the connection (no keep-alive). */
	if (!*req_cls) {
		*req_cls = &seen;
		return MHD_YES;
	}
	if (x->user && !authorised(x, conn))
		return deny(conn);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
	if (!strcmp(url, "/"))
		return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", index_page,
			     sizeof(index_page) - 1);
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found: try /metrics\n", 24);
	accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	om = accept && strstr(accept, "application/openmetrics-text");
	pthread_mutex_lock(&x->lock);
	if (!x->fresh || cli_now_ms() - x->at_ms >= x->min_interval_ms)
		refresh(x);
	if (!x->text)
		ret = reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "out of memory\n", 14);
	else if (om)
		ret = reply(conn, MHD_HTTP_OK, "application/openmetrics-text; version=1.0.0; charset=utf-8",
			    x->om, x->om_len);
	else
		ret = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", x->text,
			    x->len);
	pthread_mutex_unlock(&x->lock);
	return ret;
}

/* DIR/closewait.prom, replaced whole: written to a temporary file in DIR
 * (not named *.prom, which node_exporter would read half-written), then
 * renamed over it. 0 or -errno. */
static int write_textfile(struct exporter *x)
{
	char tmp[4096], dst[4096];
	int fd, err = 0;
	size_t off = 0;

	if ((size_t)snprintf(dst, sizeof(dst), "%s/closewait.prom", x->textfile) >= sizeof(dst) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.closewait.prom.XXXXXX", x->textfile) >= sizeof(tmp))
		return -ENAMETOOLONG;
	pthread_mutex_lock(&x->lock);
	refresh(x);
	fd = x->text ? mkstemp(tmp) : -1;
	if (fd < 0) {
		err = x->text ? -errno : -ENOMEM;
		goto out;
	}
	while (!err && off < x->len) {
		ssize_t n = write(fd, x->text + off, x->len - off);

		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (!err && fchmod(fd, 0644))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, dst))
		err = -errno;
	if (err)
		unlink(tmp);
out:
	pthread_mutex_unlock(&x->lock);
	return err;
}

static volatile sig_atomic_t export_stop;

static void on_signal(int signo)
{
	(void)signo;
	export_stop = 1;
}

static struct MHD_Daemon *serve(struct exporter *x)
{
	/* A small pool of threads, not one per connection: each thread of its
	 * own would get a malloc arena of its own, and the exporter's memory
	 * would creep up with every burst of scrapes. ITC wakes the pool when
	 * a connection ends, so its socket is closed then, not at the next
	 * connection. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_EPOLL;

	if (x->cert)
		return MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_request, x,
					MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&x->listen,
					MHD_OPTION_THREAD_POOL_SIZE, (unsigned)EXPORT_THREADS,
					MHD_OPTION_CONNECTION_LIMIT, (unsigned)EXPORT_MAX_CONNS,
					MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)EXPORT_CONN_MEMORY,
					MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)EXPORT_CONN_TIMEOUT_S,
					MHD_OPTION_HTTPS_MEM_CERT, x->cert,
					MHD_OPTION_HTTPS_MEM_KEY, x->key, MHD_OPTION_END);
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, x,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&x->listen,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned)EXPORT_THREADS,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)EXPORT_MAX_CONNS,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)EXPORT_CONN_MEMORY,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)EXPORT_CONN_TIMEOUT_S,
				MHD_OPTION_END);
}

/* A whole small file (a certificate, a key, a password), or NULL with
 * errno set. */
static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "re"), *m;
	int c;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	while (m && (c = getc(f)) != EOF && len < (1u << 20))
		fputc(c, m);
	if (m)
		fclose(m);
	fclose(f);
	return buf;
}

/* --tls-cert, --tls-key and --basic-auth-file read, before serving. */
static void load_secrets(struct exporter *x)
{
	char *colon, *nl;

	if (x->tls_cert) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
			cli_fail_exit2("export", "this libmicrohttpd was built without TLS");
		if (!(x->cert = slurp(x->tls_cert)))
			cli_fail_exit2("export", "--tls-cert %s: %s", x->tls_cert, strerror(errno));
		if (!(x->key = slurp(x->tls_key)))
			cli_fail_exit2("export", "--tls-key %s: %s", x->tls_key, strerror(errno));
	}
	if (!x->auth_file)
		return;
	if (!(x->user = slurp(x->auth_file)))
		cli_fail_exit2("export", "--basic-auth-file %s: %s", x->auth_file, strerror(errno));
	if ((nl = strchr(x->user, '\n')))
		*nl = 0;
	colon = strchr(x->user, ':');
	if (!colon || colon == x->user || !colon[1])
		cli_fail_exit2("export", "--basic-auth-file %s: one line USER:PASSWORD expected",
			       x->auth_file);
	*colon = 0;
	x->pass = colon + 1;
}

int cmd_export(int argc, char **argv)
{
	struct exporter x = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, waitmask;
	struct MHD_Daemon *d = NULL;
	char addr[CW_ENDPOINT_STRLEN];
	struct cw_endpoint ep;
	int err = 0;

	/* A census allocates as much as the socket table holds, and glibc
	 * keeps each thread arena's peak: served for weeks, the exporter would
	 * sit at the memory of its largest census. Large blocks mapped on
	 * their own, and the heap trimmed, give it back after each census. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	parse_args(argc, argv, &x);
	cli_raise_fd_limit(); /* room for the connections it serves */
	owners_src_open("export", &x.co, !x.once); /* loaded once, read by each census (x.lock held) */
	if (x.textfile && x.once) {
		err = write_textfile(&x);
		free(x.text);
		free(x.om);
		owners_src_close(&x.co);
		if (err)
			cli_fail_exit2("export", "writing %s/closewait.prom: %s", x.textfile, strerror(-err));
		return 0;
	}
	/* Blocked but in ppoll(): a signal can only end a wait, never slip in
	 * between the check of export_stop and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (x.has_listen) {
		load_secrets(&x);
		d = serve(&x);
		if (cw_endpoint_from_sockaddr((struct sockaddr *)&x.listen, x.listen_len, &ep) ||
		    cw_endpoint_str(&ep, true, addr, sizeof(addr)))
			snprintf(addr, sizeof(addr), "?");
		if (!d)
			cli_fail_exit2("export", "cannot serve on %s (in use, or not an address of this "
				       "host?)", addr);
		cli_warn("export", "serving %s://%s/metrics%s", x.cert ? "https" : "http", addr,
			 x.user ? " (basic auth)" : "");
	}
	while (!export_stop) {
		uint64_t next = cli_after(cli_now_ms(), x.interval_ms);

		if (x.textfile) {
			err = write_textfile(&x);
			if (err)
				cli_warn("export", "writing %s/closewait.prom: %s", x.textfile, strerror(-err));
		}
		while (!export_stop && (!x.textfile || cli_ms_until(next) > 0)) {
			int ms = x.textfile ? cli_ms_until(next) : -1;
			struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

			ppoll(NULL, 0, ms < 0 ? NULL : &ts, &waitmask);
		}
	}
	if (d)
		MHD_stop_daemon(d);
	owners_src_close(&x.co);
	free(x.text);
	free(x.om);
	free(x.cert);
	free(x.key);
	free(x.user);
	return 0;
}
