/* The CLI's JSON writer (cli/out.c): whatever the bytes and numbers it is
 * given, what it prints is JSON any parser takes, or the command is told. */
#include "cwtest.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"

struct doc {
	char *text;
	size_t len;
	FILE *mem;
	struct out *o;
};

static void doc_open(struct doc *d)
{
	d->text = NULL;
	d->mem = open_memstream(&d->text, &d->len);
	assert_non_null(d->mem);
	d->o = out_open(d->mem);
}

/* Closes the writer; returns its error, leaves the text in d->text. */
static int doc_close(struct doc *d)
{
	int err = out_close(d->o);

	fclose(d->mem);
	return err;
}

/* {"s":STR} as written, and the writer's verdict. */
static char *one_string(const char *s, int *err)
{
	struct doc d;

	doc_open(&d);
	out_json_open(d.o, NULL, '{');
	out_json_str(d.o, "s", s);
	out_json_end(d.o);
	*err = doc_close(&d);
	return d.text;
}

static void check_string(const char *in, const char *want)
{
	int err;
	char *got = one_string(in, &err);
	char expect[256];

	snprintf(expect, sizeof(expect), "{\"s\":\"%s\"}\n", want);
	assert_string_equal(got, expect);
	assert_int_equal(err, 0);
	free(got);
}

static void test_valid_utf8_passes(void **state)
{
	(void)state;
	check_string("plain", "plain");
	check_string("caf\xc3\xa9", "caf\xc3\xa9");                   /* U+00E9 */
	check_string("\xe2\x82\xac 5", "\xe2\x82\xac 5");             /* U+20AC */
	check_string("\xf0\x9d\x84\x9e", "\xf0\x9d\x84\x9e");         /* U+1D11E, 4 bytes */
	check_string("\xef\xbf\xbf", "\xef\xbf\xbf");                 /* U+FFFF */
	check_string("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");         /* U+10FFFF, the last */
}

static void test_escapes(void **state)
{
	(void)state;
	check_string("\n(evil) 1 2", "\\u000a(evil) 1 2");
	check_string("a\"b\\c\x01\x1f", "a\\\"b\\\\c\\u0001\\u001f");
}

static void test_invalid_utf8_replaced(void **state)
{
	(void)state;
	check_string("\xff\xfe", "\\ufffd\\ufffd");                   /* never in UTF-8 */
	check_string("a\x80z", "a\\ufffdz");                          /* a lone continuation */
	check_string("\xc0\xaf", "\\ufffd\\ufffd");                   /* overlong '/' */
	check_string("\xc1\xbf", "\\ufffd\\ufffd");                   /* overlong */
	check_string("\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd");        /* overlong, 3 bytes */
	check_string("\xf0\x80\x80\xaf", "\\ufffd\\ufffd\\ufffd\\ufffd"); /* overlong, 4 bytes */
	check_string("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");        /* surrogate U+D800 */
	check_string("\xed\xbf\xbf", "\\ufffd\\ufffd\\ufffd");        /* surrogate U+DFFF */
	check_string("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"); /* past U+10FFFF */
	check_string("\xf5\x80", "\\ufffd\\ufffd");
	/* cut sequences: their valid start is one U+FFFD */
	check_string("\xe2\x82", "\\ufffd");
	check_string("\xe2\x82" "A", "\\ufffdA");
	check_string("\xf0\x9d\x84", "\\ufffd");
	check_string("\xc3", "\\ufffd");
	check_string("\xc3\xc3\xa9", "\\ufffd\xc3\xa9");
}

static void test_keys_are_strings_too(void **state)
{
	struct doc d;

	(void)state;
	doc_open(&d);
	out_json_open(d.o, NULL, '{');
	out_json_int(d.o, "k\xff", 1);
	out_json_end(d.o);
	assert_int_equal(doc_close(&d), 0);
	assert_string_equal(d.text, "{\"k\\ufffd\":1}\n");
	free(d.text);
}

static void check_number(double v, const char *want, int want_err)
{
	struct doc d;

	doc_open(&d);
	out_json_open(d.o, NULL, '{');
	out_json_num(d.o, "n", v, 1);
	out_json_int(d.o, "after", 2);
	out_json_end(d.o);
	assert_int_equal(doc_close(&d), want_err);
	assert_string_equal(d.text, want);
	free(d.text);
}

static void test_non_finite_refused(void **state)
{
	(void)state;
	check_number(2.25, "{\"n\":2.2,\"after\":2}\n", 0);
	check_number(NAN, "{\"n\":null,\"after\":2}\n", -EDOM);
	check_number(INFINITY, "{\"n\":null,\"after\":2}\n", -EDOM);
	check_number(-INFINITY, "{\"n\":null,\"after\":2}\n", -EDOM);
	assert_non_null(strstr(out_strerror(-EDOM), "NaN"));
}

static int nested(int levels, char **text)
{
	struct doc d;
	int err;

	doc_open(&d);
	for (int i = 0; i < levels; i++)
		out_json_open(d.o, NULL, '[');
	out_json_int(d.o, NULL, 7);
	for (int i = 0; i < levels; i++)
		out_json_close(d.o);
	out_json_end(d.o);
	err = doc_close(&d);
	*text = d.text;
	return err;
}

static void test_depth_limit_loud(void **state)
{
	char *t;

	(void)state;
	assert_int_equal(nested(16, &t), 0);
	assert_string_equal(t, "[[[[[[[[[[[[[[[[7]]]]]]]]]]]]]]]]\n");
	free(t);
	assert_int_equal(nested(17, &t), -EOVERFLOW);
	free(t);
	assert_int_equal(nested(40, &t), -EOVERFLOW);
	free(t);
	assert_non_null(strstr(out_strerror(-EOVERFLOW), "nested"));
}

struct rows {
	const char *names[3];
};

static void r_name(void *ctx, size_t row, struct out_val *v)
{
	v->type = OUT_STR;
	v->s = ((struct rows *)ctx)->names[row];
}

static void r_arg(void *ctx, size_t row, struct out_val *v)
{
	(void)ctx;
	v->type = OUT_INT;
	v->i = (long long)(v->arg * 10 + row);
}

static const struct out_col row_cols[] = {
	{ "name", "NAME", true, r_name, 0 },
	{ "a", "A", false, r_arg, 1 },
	{ NULL, "B", false, r_arg, 2 },
};

static void test_rows(void **state)
{
	struct rows r = { { "x", "\xff", "z" } };
	struct doc d;

	(void)state;
	doc_open(&d);
	out_json_open(d.o, NULL, '{');
	out_json_int(d.o, "version", 1);
	out_json_rows(d.o, "rows", row_cols, 3, &r, 3);
	out_json_rows(d.o, "none", row_cols, 3, &r, 0);
	out_json_one_line(d.o, true);
	out_json_rows(d.o, "line", row_cols, 3, &r, 2);
	out_json_end(d.o);
	assert_int_equal(doc_close(&d), 0);
	assert_string_equal(d.text, "{\"version\":1,\"rows\":[\n{\"name\":\"x\",\"a\":10},\n"
				    "{\"name\":\"\\ufffd\",\"a\":11},\n{\"name\":\"z\",\"a\":12}],"
				    "\"none\":[],\"line\":[{\"name\":\"x\",\"a\":10},{\"name\":\"\\ufffd\",\"a\":11}]}\n");
	free(d.text);
	doc_open(&d);
	out_table(d.o, row_cols, 3, &r, 2);
	assert_int_equal(doc_close(&d), 0);
	/* a table shows the name escaped (out_name), four columns wide */
	assert_string_equal(d.text, "NAME   A   B\nx     10  20\n\\xff  11  21\n");
	free(d.text);
}

/* A name for a line of text: control bytes and bytes that are not UTF-8
 * escaped, valid UTF-8 as it is, cut only between whole escapes. */
static void test_text_names(void **state)
{
	char b[OUT_NAME_LEN];

	(void)state;
	assert_string_equal(out_name("\n(evil) 1 2", b, sizeof(b)), "\\n(evil) 1 2");
	assert_string_equal(out_name("\xff\xfe", b, sizeof(b)), "\\xff\\xfe");
	assert_string_equal(out_name("a\tb\x7f\x01", b, sizeof(b)), "a\\tb\\x7f\\x01");
	assert_string_equal(out_name("caf\xc3\xa9 \xe2\x82\xac", b, sizeof(b)), "caf\xc3\xa9 \xe2\x82\xac");
	assert_string_equal(out_name("\xc3", b, sizeof(b)), "\\xc3"); /* cut sequence */
	assert_string_equal(out_name("ab\xff", b, 6), "ab");           /* "\xff" does not fit */
	assert_string_equal(out_name("ab\xff", b, 7), "ab\\xff");
	assert_string_equal(out_name("x", b, 1), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_utf8_passes),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_keys_are_strings_too),
		cmocka_unit_test(test_non_finite_refused),
		cmocka_unit_test(test_depth_limit_loud),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_text_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
