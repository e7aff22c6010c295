/* scan's output from a fixture: the JSON document's shape (field names and
 * values, compared with a golden file) and the table's content. */
#include "cwtest.h"
#include "census_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"
#include "scan_view.h"

static const char *fixture =
	"listen 0.0.0.0:8000 0.0.0.0:0 10 0 20 none 0 0 0 0 6979 3 server\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40000 11 1 0 none 0 9000 9000 6000 6979 5 server\n"
	"close-wait 127.0.0.1:8000 127.0.0.1:40001 12 0 0 none 0 1500 4000 1500 6979 6 server\n"
	"fin-wait-2 127.0.0.1:40000 127.0.0.1:8000 0 0 0 timewait 54000 - - -\n"
	"fin-wait-2 127.0.0.1:40001 127.0.0.1:8000 13 0 0 none 0 1 1 1 7000 4 client\n"
	"close-wait [::1]:8001 [::1]:50000 15 1 0 keepalive 7190000 9000 9000 6000 6980 4 server6\n"
	"time-wait 127.0.0.1:40002 127.0.0.1:8000 0 0 0 timewait 58500 - - -\n"
	"established 127.0.0.1:40003 10.1.2.3:443 16 0 0 none 0 10 10 10\n";

static char *render(bool json, const struct cw_filter *f, enum cw_group_by by, bool state_given,
		    size_t *cw)
{
	struct cw_census *c = fixture_census(fixture, 1700000000123ull, 0);
	struct scan_result r;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct out *o = out_open(mem);

	assert_int_equal(scan_compute(c, f, by, state_given, &r), 0);
	if (json)
		scan_print_json(o, &r);
	else
		scan_print_table(o, &r);
	assert_int_equal(out_close(o), 0);
	fclose(mem);
	*cw = r.close_wait;
	scan_result_free(&r);
	cw_census_free(c);
	return text;
}

static void test_json_shape(void **state)
{
	struct cw_filter f;
	size_t cw;
	char *got, *want;

	(void)state;
	cw_filter_init(&f);
	got = render(true, &f, CW_BY_PROCESS, false, &cw);
	want = fixture_text("scan_default.json");
	if (strcmp(got, want))
		fprintf(stderr, "got:\n%s", got);
	assert_string_equal(got, want);
	assert_int_equal(cw, 3);
	free(got);
	free(want);
}

static void test_json_older_uncertain(void **state)
{
	struct cw_filter f;
	size_t cw;
	char *got;

	(void)state;
	cw_filter_init(&f);
	f.states = CW_STATE_BIT(CW_TCP_CLOSE_WAIT);
	f.older_ms = 2000;
	got = render(true, &f, CW_BY_PROCESS, true, &cw);
	assert_non_null(strstr(got, "\"sockets_total\":3,\"close_wait_total\":3,\"uncertain_total\":1,"));
	assert_non_null(strstr(got, "\"peer\":\"127.0.0.1:40001\",\"recv_q\":0,\"send_q\":0,"
				    "\"age_min\":1.500,\"age_max\":4.000,\"age_exact\":false"));
	assert_non_null(strstr(got, "\"uncertain\":true"));
	free(got);
}

static void test_table(void **state)
{
	struct cw_filter f;
	size_t cw;
	char *got;

	(void)state;
	cw_filter_init(&f);
	got = render(false, &f, CW_BY_PROCESS, false, &cw);
	fprintf(stderr, "%s", got);
	assert_non_null(strstr(got, "pid 6979 (server) has not closed 2 connections that their peers "
				    "on this host closed (1 orphaned; 1 half-closed, still held, e.g. "
				    "by pid 7000 (client))"));
	assert_non_null(strstr(got, "1.5s\u20134.0s"));  /* the range, en dash */
	assert_non_null(strstr(got, "server[6979]:5"));
	assert_non_null(strstr(got, "client[7000]"));
	assert_non_null(strstr(got, "(orphaned)"));
	assert_non_null(strstr(got, "(unknown)"));
	assert_null(strstr(got, "10.1.2.3:443")); /* default: only the stuck sockets listed */
	free(got);
	got = render(false, &f, CW_BY_PEER, true, &cw);
	assert_non_null(strstr(got, "10.1.2.3:443"));
	assert_non_null(strstr(got, "PEER "));
	free(got);
}

/* Namespaces as cw_census_take leaves them when one vanished between
 * enumeration and dump (err -ENOENT: net_census_netns makes that happen
 * through the census seam) and one refused (-EPERM): the census's table is
 * set by hand, sorted by inode, strings owned by the census. */
static void set_netns(struct cw_census *c)
{
	static const struct {
		uint64_t ino;
		const char *name, *path;
		enum cw_netns_how how;
		pid_t pid;
		int err;
	} t[] = {
		{ 4026532001u, "closewait-read", "/run/netns/closewait-read", CW_NETNS_MOUNT, 1, 0 },
		{ 4026532002u, NULL, NULL, CW_NETNS_PROCESS, 4242, -ENOENT },
		{ 4026532003u, "closewait-gone", "/run/netns/closewait-gone", CW_NETNS_MOUNT, 1, -ENOENT },
		{ 4026532004u, NULL, NULL, CW_NETNS_FD, 4343, -EPERM },
	};
	size_t n = sizeof(t) / sizeof(t[0]);

	c->ns = calloc(n, sizeof(*c->ns));
	assert_non_null(c->ns);
	for (size_t j = 0; j < n; j++) {
		struct census_ns *ns = &c->ns[j];

		ns->fd = -1;
		ns->name = t[j].name ? strdup(t[j].name) : NULL;
		ns->path = t[j].path ? strdup(t[j].path) : NULL;
		ns->pub = (struct cw_netns){ t[j].ino, ns->name, t[j].how, t[j].pid, ns->path, t[j].err };
	}
	c->nns = n;
	/* every socket was dumped in the one namespace that was read */
	for (size_t i = 0; i < c->n; i++)
		c->socks[i].netns = t[0].ino;
}

static char *render_netns(bool json)
{
	struct cw_census *c = fixture_census(fixture, 1700000000123ull, 0);
	struct scan_result r;
	struct cw_filter f;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct out *o = out_open(mem);

	set_netns(c);
	cw_filter_init(&f);
	assert_int_equal(scan_compute(c, &f, CW_BY_PROCESS, false, &r), 0);
	r.netns_sel = CW_NETNS_SEL_ALL;
	if (json)
		scan_print_json(o, &r);
	else
		scan_print_table(o, &r);
	assert_int_equal(out_close(o), 0);
	fclose(mem);
	scan_result_free(&r);
	cw_census_free(c);
	return text;
}

static size_t occurrences(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* A namespace that disappeared mid-scan is skipped with a note, and JSON says "gone". */
static void test_netns_gone(void **state)
{
	char *got;

	(void)state;
	got = render_netns(false);
	fprintf(stderr, "%s", got);
	/* a note for each vanished one, by name or else by inode; the scan goes on */
	assert_int_equal(occurrences(got, "\nNetwork namespace netns 4026532002 disappeared before "
					  "it could be read: skipped.\n"), 1);
	assert_int_equal(occurrences(got, "\nNetwork namespace closewait-gone disappeared before "
					  "it could be read: skipped.\n"), 1);
	assert_int_equal(occurrences(got, "disappeared"), 2);
	/* never said to be unreadable: that is the refused one's note alone */
	assert_int_equal(occurrences(got, "could not be read"), 1);
	assert_non_null(strstr(got, "\nNetwork namespace netns 4026532004 could not be read: "
				    "Operation not permitted.\n"));
	assert_null(strstr(got, "No such file or directory"));
	assert_null(strstr(got, "closewait-read disappeared"));
	assert_non_null(strstr(got, "server[6979]:5"));
	free(got);

	got = render_netns(true);
	assert_non_null(strstr(got, "\"netns_selection\":\"all\",\"namespaces\":["
				    "{\"netns\":4026532001,\"netns_name\":\"closewait-read\",\"found\":\"mount\","
				    "\"pid\":1,\"path\":\"/run/netns/closewait-read\",\"error\":null},"
				    "{\"netns\":4026532002,\"netns_name\":null,\"found\":\"process\","
				    "\"pid\":4242,\"path\":null,\"error\":\"gone\"},"
				    "{\"netns\":4026532003,\"netns_name\":\"closewait-gone\",\"found\":\"mount\","
				    "\"pid\":1,\"path\":\"/run/netns/closewait-gone\",\"error\":\"gone\"},"
				    "{\"netns\":4026532004,\"netns_name\":null,\"found\":\"fd\","
				    "\"pid\":4343,\"path\":null,\"error\":\"Operation not permitted\"}],"
				    "\"netns_unreadable\":0,\"owners_hidden\":false,"));
	assert_int_equal(occurrences(got, "\"error\":\"gone\""), 2);
	/* the sockets of the namespace that was read are all there */
	assert_non_null(strstr(got, "\"sockets_total\":8,\"close_wait_total\":3,"));
	free(got);
}

/* Why sockets are open, per process: a line for each why it has (the
 * unaccepted ones have the listener's line), counted, in the singular for
 * one; --why keeps the sockets, the lines and the JSON of those whys. */
static const char *why_fixture =
	"listen 0.0.0.0:8000 0.0.0.0:0 20 0 128 none 0 0 0 0 7518 3 srv\n"
	"close-wait 127.0.0.1:8000 10.0.0.9:40000 21 0 0 none 0 900 900 600 7518 5 srv\n"
	"close-wait 127.0.0.1:8000 10.0.0.9:40001 22 0 0 none 0 900 900 600 7518 6 srv\n"
	"close-wait 127.0.0.1:8000 10.0.0.9:40002 23 0 0 none 0 900 900 600 7518 7 srv\n"
	"close-wait 127.0.0.1:8000 10.0.0.9:40003 24 1 0 none 0 900 900 600 7518 8 srv\n"
	"close-wait 127.0.0.1:9000 10.0.0.9:40004 25 3 0 none 0 900 900 600 7519 4 pool\n"
	"close-wait 127.0.0.1:9000 10.0.0.9:40005 26 1 0 none 0 900 900 600 7519 5 pool\n"
	"close-wait 127.0.0.1:8000 10.0.0.9:40006 0 1 0 none 0 900 900 600\n"
	"established 127.0.0.1:9000 10.0.0.9:40007 27 0 0 none 0 9 9 9 7519 6 pool\n";

static char *render_why(bool json, uint32_t whys)
{
	struct cw_census *c = fixture_census(why_fixture, 1700000000123ull, 0);
	struct scan_result r;
	struct cw_filter f;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct out *o = out_open(mem);

	cw_filter_init(&f);
	f.whys = whys;
	assert_int_equal(scan_compute(c, &f, CW_BY_PROCESS, false, &r), 0);
	if (json)
		scan_print_json(o, &r);
	else
		scan_print_table(o, &r);
	assert_int_equal(out_close(o), 0);
	fclose(mem);
	scan_result_free(&r);
	cw_census_free(c);
	return text;
}

#define EOF3 "pid 7518 (srv) read EOF on 3 connections and never closed them (fix the end-of-file " \
	     "path: close when read returns 0)\n"
#define NEVER1 "pid 7518 (srv) never read 1 connection to its end after the peer closed (an idle " \
	       "pool member, or a handler stuck elsewhere)\n"
#define NEVER2 "pid 7519 (pool) never read 2 connections to their end after the peer closed (an " \
	       "idle pool member, or a handler stuck elsewhere)\n"

static void test_why_lines(void **state)
{
	char *got;

	(void)state;
	got = render_why(false, 0);
	fprintf(stderr, "%s", got);
	/* one line per process and why, in that order, none for the unaccepted one */
	assert_non_null(strstr(got, "\n\n" EOF3 NEVER1 NEVER2 "\n"));
	assert_int_equal(occurrences(got, "never closed"), 1);
	assert_int_equal(occurrences(got, "never read"), 2);
	assert_int_equal(occurrences(got, "close-wait "), 7);
	free(got);

	got = render_why(false, CW_WHY_BIT(CW_WHY_EOF_READ));
	fprintf(stderr, "%s", got);
	assert_non_null(strstr(got, "\n\n" EOF3 "\n"));
	assert_null(strstr(got, "never read"));
	assert_int_equal(occurrences(got, "close-wait "), 3);
	assert_null(strstr(got, "40003")); /* the never-read one of srv */
	assert_null(strstr(got, "ESTABLISHED"));
	free(got);

	got = render_why(false, CW_WHY_BIT(CW_WHY_NEVER_READ) | CW_WHY_BIT(CW_WHY_UNACCEPTED));
	fprintf(stderr, "%s", got);
	/* by CLOSE_WAIT count, as the summary: pool's 2 now first */
	assert_non_null(strstr(got, "\n\n" NEVER2 NEVER1 "\n"));
	assert_null(strstr(got, "never closed"));
	assert_int_equal(occurrences(got, "close-wait "), 4);
	assert_non_null(strstr(got, "(unaccepted)"));
	free(got);

	got = render_why(true, 0);
	assert_non_null(strstr(got, "\"why_culprits\":["
				    "{\"pid\":7518,\"command\":\"srv\",\"why\":\"eof-read\",\"close_wait\":3,"
				    "\"message\":\"pid 7518 (srv) read EOF on 3 connections and never closed"));
	assert_non_null(strstr(got, "{\"pid\":7519,\"command\":\"pool\",\"why\":\"never-read\","
				    "\"close_wait\":2,\"message\":\"pid 7519 (pool) never read 2 "));
	assert_int_equal(occurrences(got, "\"message\":\"pid 75"), 3);
	assert_non_null(strstr(got, "\"why_eof_read\":3,\"why_never_read\":1,\"why_unaccepted\":0}"));
	assert_non_null(strstr(got, "\"why_eof_read\":0,\"why_never_read\":2,\"why_unaccepted\":0}"));
	assert_non_null(strstr(got, "\"why_eof_read\":0,\"why_never_read\":0,\"why_unaccepted\":1}"));
	assert_int_equal(occurrences(got, "\"why\":\"eof-read\""), 3 + 1);
	assert_int_equal(occurrences(got, "\"why\":\"never-read\""), 3 + 2);
	assert_int_equal(occurrences(got, "\"why\":\"unaccepted\""), 1);
	free(got);

	got = render_why(true, CW_WHY_BIT(CW_WHY_UNACCEPTED));
	assert_non_null(strstr(got, "\"why_culprits\":[],"));
	assert_non_null(strstr(got, "\"sockets_total\":1,\"close_wait_total\":1,"));
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_json_older_uncertain),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_netns_gone),
		cmocka_unit_test(test_why_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
