/* Output: the only place that formats tables and JSON. A view describes its
 * columns once (JSON key, table heading, getter); out_table() and
 * out_json_rows() render the same description. */
#ifndef CW_OUT_H
#define CW_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum out_type { OUT_STR, OUT_INT, OUT_NUM, OUT_BOOL, OUT_SPAN, OUT_LIST };

/* A time known exactly or only as a range (a socket's age): JSON KEY_min,
 * KEY_max (seconds, null when unknown) and KEY_exact; table "12s",
 * "12s–42s" or "-". */
struct out_span {
	bool known;
	bool exact;
	uint64_t min_ms, max_ms;
};

struct out_col;
struct out_val {
	enum out_type type;
	bool null;                    /* JSON null, table "-" */
	const char *s;                /* OUT_STR */
	long long i;                  /* OUT_INT */
	double d;                     /* OUT_NUM */
	int prec;                     /* OUT_NUM: decimals */
	bool b;                       /* OUT_BOOL */
	struct out_span span;         /* OUT_SPAN */
	void *list_ctx;               /* OUT_LIST: nested rows, rendered with list_cols */
	size_t list_n;
	const struct out_col *list_cols;
	size_t list_ncols;
	size_t arg;                   /* in: the column's arg */
	char buf[512];                /* scratch a getter may format into */
};

/* Fills v for row `row` of the view whose context is ctx. One getter serves
 * several columns through their arg (v->arg): a field's offset, an index. */
typedef void (*out_get_fn)(void *ctx, size_t row, struct out_val *v);
struct out_col {
	const char *key;              /* JSON name; NULL: table only */
	const char *head;             /* table heading; NULL: JSON only */
	bool left;                    /* table: align left */
	out_get_fn get;
	size_t arg;                   /* handed to get as v->arg */
};
/* The field at byte offset off of a record, for getters whose arg is an offsetof(). */
#define OUT_FIELD(type, rec, off) (*(const type *)(const void *)((const char *)(rec) + (off)))

struct out;                        /* a buffered writer on stdout */
struct out *out_open(FILE *f);
/* Flushes; returns 0, or the first error: -errno of a failed write, or
 * JSON the writer refused to write (writing null or nothing in its place):
 * -EDOM for a number that is NaN or infinite, -EOVERFLOW for nesting past
 * 16 levels. A command that gets one fails. */
int out_close(struct out *o);
/* The error of out_close in words. */
const char *out_strerror(int err);
void out_flush(struct out *o);
void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Tables. */
void out_table(struct out *o, const struct out_col *cols, size_t ncols, void *ctx, size_t nrows);

/* JSON, built with a stack of objects and arrays; key is NULL inside arrays. */
void out_json_open(struct out *o, const char *key, char bracket);   /* '{' or '[' */
void out_json_close(struct out *o);
void out_json_int(struct out *o, const char *key, long long v);
void out_json_num(struct out *o, const char *key, double v, int prec);
void out_json_str(struct out *o, const char *key, const char *v);  /* NULL: null */
void out_json_bool(struct out *o, const char *key, bool v);
/* An array of objects, one per row, one member per column with a key. */
void out_json_rows(struct out *o, const char *key, const struct out_col *cols, size_t ncols,
		   void *ctx, size_t nrows);
/* JSON rows each on a line of their own (default), or all on one (JSON lines). */
void out_json_one_line(struct out *o, bool on);
/* Ends the document with a newline. */
void out_json_end(struct out *o);

/* Human forms used in text outside tables. */
char *out_span_str(const struct out_span *a, char *buf, size_t len); /* "12s", "12s–42s", "-" */
/* A name a process chose (any bytes but NUL) for a line of text: control
 * bytes and bytes that are not UTF-8 become C escapes (\n, \xff), so a
 * name can neither break a table's line nor forge one (JSON escapes on its
 * own). Cut to fit len; returns buf. Table cells go through it. */
char *out_name(const char *s, char *buf, size_t len);
#define OUT_NAME_LEN 64 /* a command name (15 bytes) with every byte escaped */
/* Any bytes as a Prometheus label value (without its quotes): \\, \" and
 * \n escaped, what is not UTF-8 replaced by U+FFFD. Cut at a whole
 * character to fit len; returns buf. */
char *out_label(const char *s, char *buf, size_t len);
char *out_ms_str(uint64_t ms, char *buf, size_t len);            /* "3.2s", "42s", "2m05s" */

#endif
