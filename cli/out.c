#include "out.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_BUF 65536
#define OUT_DEPTH 16

struct out {
	FILE *f;
	int err;                      /* the first error: a write's -errno, or refused JSON */
	size_t len;
	int depth;
	int over;                     /* levels opened past OUT_DEPTH: not written */
	bool need_comma[OUT_DEPTH];
	char closer[OUT_DEPTH];
	bool one_line;
	char buf[OUT_BUF];
};

struct out *out_open(FILE *f)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		abort();
	o->f = f;
	return o;
}

void out_json_one_line(struct out *o, bool on)
{
	o->one_line = on;
}

void out_flush(struct out *o)
{
	if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len && !o->err)
		o->err = errno ? -errno : -EIO;
	o->len = 0;
	fflush(o->f);
}

int out_close(struct out *o)
{
	int err;

	out_flush(o);
	err = o->err;
	free(o);
	return err;
}

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > OUT_BUF) {
		if (fwrite(o->buf, 1, o->len, o->f) != o->len && !o->err)
			o->err = errno ? -errno : -EIO;
		o->len = 0;
		if (n > OUT_BUF) {
			if (fwrite(s, 1, n, o->f) != n && !o->err)
				o->err = -EIO;
			return;
		}
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void putc_(struct out *o, char c)
{
	if (o->len == OUT_BUF)
		put(o, &c, 1);
	else
		o->buf[o->len++] = c;
}

void out_printf(struct out *o, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		put(o, small, (size_t)n);
		return;
	}
	{
		char *big = malloc((size_t)n + 1);

		if (!big)
			return;
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		put(o, big, (size_t)n);
		free(big);
	}
}

/* Integers without printf: the JSON of a large census is mostly numbers. */
static size_t fmt_i64(char *b, long long v)
{
	char t[24];
	size_t n = 0, k = 0;
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	do
		t[n++] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		b[k++] = '-';
	while (n)
		b[k++] = t[--n];
	b[k] = 0;
	return k;
}

char *out_ms_str(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (ms < 10000)
		snprintf(buf, len, "%u.%us", (unsigned)s, (unsigned)(ms % 1000 / 100));
	else if (s < 60)
		snprintf(buf, len, "%us", (unsigned)s);
	else if (s < 3600)
		snprintf(buf, len, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
	else
		snprintf(buf, len, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s % 3600 / 60));
	return buf;
}

char *out_span_str(const struct out_span *a, char *buf, size_t len)
{
	char lo[32], hi[32];

	if (!a->known)
		snprintf(buf, len, "-");
	else if (a->exact)
		snprintf(buf, len, "%s", out_ms_str(a->min_ms, lo, sizeof(lo)));
	else /* U+2013: a range, not a minus */
		snprintf(buf, len, "%s\u2013%s", out_ms_str(a->min_ms, lo, sizeof(lo)),
			 out_ms_str(a->max_ms, hi, sizeof(hi)));
	return buf;
}

/* ---- JSON ---- */

const char *out_strerror(int err)
{
	if (err == -EDOM)
		return "a number that is NaN or infinite has no JSON form";
	if (err == -EOVERFLOW)
		return "JSON nested deeper than the writer's 16 levels";
	return strerror(-err);
}

static void fail(struct out *o, int err)
{
	if (!o->err)
		o->err = err;
}

/* The length of the valid UTF-8 sequence at p, or 0 and in *bad the length
 * of its maximal invalid part (one U+FFFD replaces it, as Unicode advises):
 * overlong forms, surrogates, code points past U+10FFFF and cut sequences
 * are invalid. The string's NUL ends a cut sequence. */
static size_t utf8_len(const unsigned char *p, size_t *bad)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	else {
		*bad = 1;
		return 0;
	}
	for (size_t k = 1; k < n; k++, lo = 0x80, hi = 0xbf)
		if (p[k] < lo || p[k] > hi) {
			*bad = k;
			return 0;
		}
	return n;
}

/* Any bytes (a process names itself what it likes) as a JSON string any
 * parser takes: what is not valid UTF-8 becomes U+FFFD. */
static void json_string(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putc_(o, '"');
	while (*p) {
		const unsigned char *run = p;
		size_t n, bad = 0;

		/* the common case, in one copy: bytes that stand for themselves */
		while (*p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80)
			p++;
		while (*p >= 0x80 && (n = utf8_len(p, &bad)))
			p += n;
		if (p > run) {
			put(o, (const char *)run, (size_t)(p - run));
			continue;
		}
		if (*p == '"' || *p == '\\') {
			putc_(o, '\\');
			putc_(o, (char)*p++);
		} else if (*p < 0x20) {
			char e[8];

			snprintf(e, sizeof(e), "\\u%04x", *p++);
			puts_(o, e);
		} else {
			puts_(o, "\\ufffd"); /* bad: measured by the run's last utf8_len */
			p += bad;
		}
	}
	putc_(o, '"');
}

char *out_label(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t used = 0;

	if (!len)
		return buf;
	while (*p) {
		const char *rep = NULL;
		char one[5] = { 0 };
		size_t n = 1, bad = 0, k;

		if (*p == '\\')
			rep = "\\\\";
		else if (*p == '"')
			rep = "\\\"";
		else if (*p == '\n')
			rep = "\\n";
		else if (*p >= 0x80 && !(n = utf8_len(p, &bad)))
			rep = "\xef\xbf\xbd", n = bad; /* U+FFFD */
		if (!rep) {
			memcpy(one, p, n);
			rep = one;
		}
		k = strlen(rep);
		if (used + k >= len)
			break; /* cut at a whole character */
		memcpy(buf + used, rep, k);
		used += k;
		p += n;
	}
	buf[used] = 0;
	return buf;
}

char *out_name(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t used = 0;

	if (!len)
		return buf;
	while (*p) {
		const unsigned char *run = p;
		size_t n, bad = 0;
		char e[8];

		/* printable ASCII and valid UTF-8 sequences stand for themselves */
		while (*p >= 0x20 && *p < 0x7f)
			p++;
		while (*p >= 0x80 && (n = utf8_len(p, &bad)))
			p += n;
		if (p > run) {
			n = (size_t)(p - run);
			if (used + n >= len) {
				p = run; /* cut at a whole character */
				while (*p && used + 1 < len && *p >= 0x20 && *p < 0x7f)
					buf[used++] = (char)*p++;
				break;
			}
			memcpy(buf + used, run, n);
			used += n;
			continue;
		}
		if (*p == '\n' || *p == '\t')
			snprintf(e, sizeof(e), "\\%c", *p == '\n' ? 'n' : 't');
		else
			snprintf(e, sizeof(e), "\\x%02x", *p); /* one byte at a time: all are shown */
		n = strlen(e);
		if (used + n >= len)
			break;
		memcpy(buf + used, e, n);
		used += n;
		p++;
	}
	buf[used] = 0;
	return buf;
}

/* The separator and the key of a member; false (write nothing) past the
 * depth limit. line: a row of out_json_rows, on a line of its own. */
static bool json_key_at(struct out *o, const char *key, bool line)
{
	if (o->over)
		return false;
	if (o->depth > 0 && o->need_comma[o->depth - 1])
		putc_(o, ',');
	if (o->depth > 0)
		o->need_comma[o->depth - 1] = true;
	if (line && !o->one_line)
		putc_(o, '\n');
	if (key) {
		json_string(o, key);
		putc_(o, ':');
	}
	return true;
}

static bool json_key(struct out *o, const char *key)
{
	return json_key_at(o, key, false);
}

static void json_open_at(struct out *o, const char *key, char bracket, bool line)
{
	if (o->depth == OUT_DEPTH && !o->over)
		fail(o, -EOVERFLOW);
	if (o->depth == OUT_DEPTH || o->over) {
		o->over++;
		return;
	}
	json_key_at(o, key, line);
	putc_(o, bracket);
	o->closer[o->depth] = bracket == '{' ? '}' : ']';
	o->need_comma[o->depth++] = false;
}

void out_json_open(struct out *o, const char *key, char bracket)
{
	json_open_at(o, key, bracket, false);
}

void out_json_close(struct out *o)
{
	if (o->over)
		o->over--;
	else if (o->depth > 0)
		putc_(o, o->closer[--o->depth]);
}

void out_json_int(struct out *o, const char *key, long long v)
{
	char b[24];

	if (json_key(o, key))
		put(o, b, fmt_i64(b, v));
}

void out_json_num(struct out *o, const char *key, double v, int prec)
{
	char b[48];

	if (!json_key(o, key))
		return;
	if (!isfinite(v)) { /* null keeps the document whole; the command fails */
		fail(o, -EDOM);
		puts_(o, "null");
		return;
	}
	snprintf(b, sizeof(b), "%.*f", prec, v);
	puts_(o, b);
}

void out_json_str(struct out *o, const char *key, const char *v)
{
	if (!json_key(o, key))
		return;
	if (v)
		json_string(o, v);
	else
		puts_(o, "null");
}

void out_json_bool(struct out *o, const char *key, bool v)
{
	if (json_key(o, key))
		puts_(o, v ? "true" : "false");
}

static void json_null(struct out *o, const char *key)
{
	if (json_key(o, key))
		puts_(o, "null");
}

/* Milliseconds as seconds with three decimals, without printf. */
static void json_secs(struct out *o, const char *key, uint64_t ms)
{
	char b[32];
	size_t n;

	if (!json_key(o, key))
		return;
	n = fmt_i64(b, (long long)(ms / 1000));
	b[n++] = '.';
	b[n++] = (char)('0' + ms % 1000 / 100);
	b[n++] = (char)('0' + ms % 100 / 10);
	b[n++] = (char)('0' + ms % 10);
	put(o, b, n);
}

/* Asks column c for its value in row r. */
static void cell_get(const struct out_col *c, void *ctx, size_t r, struct out_val *v)
{
	memset(v, 0, offsetof(struct out_val, buf));
	v->buf[0] = 0;
	v->arg = c->arg;
	c->get(ctx, r, v);
}

static void json_value(struct out *o, const char *key, struct out_val *v);

static void json_row(struct out *o, const struct out_col *cols, size_t ncols, void *ctx, size_t r,
		     bool line)
{
	json_open_at(o, NULL, '{', line);
	for (size_t c = 0; c < ncols; c++) {
		struct out_val v;

		if (!cols[c].key)
			continue;
		cell_get(&cols[c], ctx, r, &v);
		json_value(o, cols[c].key, &v);
	}
	out_json_close(o);
}

static void json_value(struct out *o, const char *key, struct out_val *v)
{
	char k[64];

	if (v->type == OUT_SPAN) {
		snprintf(k, sizeof(k), "%s_min", key);
		if (!v->span.known || v->null) {
			json_null(o, k);
			snprintf(k, sizeof(k), "%s_max", key);
			json_null(o, k);
			snprintf(k, sizeof(k), "%s_exact", key);
			json_null(o, k);
			return;
		}
		json_secs(o, k, v->span.min_ms);
		snprintf(k, sizeof(k), "%s_max", key);
		json_secs(o, k, v->span.max_ms);
		snprintf(k, sizeof(k), "%s_exact", key);
		out_json_bool(o, k, v->span.exact);
		return;
	}
	if (v->null) {
		json_null(o, key);
		return;
	}
	switch (v->type) {
	case OUT_STR: out_json_str(o, key, v->s); break;
	case OUT_INT: out_json_int(o, key, v->i); break;
	case OUT_NUM: out_json_num(o, key, v->d, v->prec); break;
	case OUT_BOOL: out_json_bool(o, key, v->b); break;
	case OUT_LIST:
		out_json_open(o, key, '[');
		for (size_t r = 0; r < v->list_n; r++)
			json_row(o, v->list_cols, v->list_ncols, v->list_ctx, r, false);
		out_json_close(o);
		break;
	default: break;
	}
}

void out_json_rows(struct out *o, const char *key, const struct out_col *cols, size_t ncols,
		   void *ctx, size_t nrows)
{
	out_json_open(o, key, '[');
	for (size_t r = 0; r < nrows; r++)
		json_row(o, cols, ncols, ctx, r, true); /* one row per line: the comma ends the line */
	out_json_close(o);
}

void out_json_end(struct out *o)
{
	while (o->depth > 0)
		out_json_close(o);
	putc_(o, '\n');
}

/* ---- tables ---- */

static void cell_text(struct out_val *v, char *buf, size_t len);

static void list_text(struct out_val *v, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t r = 0; r < v->list_n && used + 1 < len; r++) {
		for (size_t c = 0; c < v->list_ncols; c++) {
			struct out_val nv;
			char t[128];

			if (!v->list_cols[c].head)
				continue;
			cell_get(&v->list_cols[c], v->list_ctx, r, &nv);
			cell_text(&nv, t, sizeof(t));
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 c ? "" : (r ? "," : ""), t);
			if (used >= len) {
				used = len - 1;
				break;
			}
		}
	}
	if (!v->list_n)
		snprintf(buf, len, "-");
}

static void cell_text(struct out_val *v, char *buf, size_t len)
{
	if (v->null && v->type != OUT_SPAN) {
		snprintf(buf, len, "-");
		return;
	}
	switch (v->type) {
	case OUT_STR: out_name(v->s ? v->s : "-", buf, len); break;
	case OUT_INT: fmt_i64(buf, v->i); break;
	case OUT_NUM: snprintf(buf, len, "%.*f", v->prec, v->d); break;
	case OUT_BOOL: snprintf(buf, len, "%s", v->b ? "yes" : "no"); break;
	case OUT_SPAN: out_span_str(&v->span, buf, len); break;
	case OUT_LIST: list_text(v, buf, len); break;
	}
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void table_cell(const struct out_col *c, void *ctx, size_t r, char *t, size_t len)
{
	struct out_val v;

	cell_get(c, ctx, r, &v);
	cell_text(&v, t, len);
}

static void pad(struct out *o, size_t n)
{
	while (n--)
		putc_(o, ' ');
}

void out_table(struct out *o, const struct out_col *cols, size_t ncols, void *ctx, size_t nrows)
{
	size_t *w = calloc(ncols ? ncols : 1, sizeof(*w));
	char t[512];
	size_t last = 0;

	if (!w)
		return;
	for (size_t c = 0; c < ncols; c++)
		if (cols[c].head) {
			w[c] = text_width(cols[c].head);
			last = c;
		}
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			if (!cols[c].head)
				continue;
			table_cell(&cols[c], ctx, r, t, sizeof(t));
			if (text_width(t) > w[c])
				w[c] = text_width(t);
		}
	for (size_t r = 0; r <= nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			size_t tw;

			if (!cols[c].head)
				continue;
			if (r == 0)
				snprintf(t, sizeof(t), "%s", cols[c].head);
			else
				table_cell(&cols[c], ctx, r - 1, t, sizeof(t));
			tw = text_width(t);
			if (!cols[c].left)
				pad(o, w[c] - tw);
			puts_(o, t);
			if (c != last)
				pad(o, (cols[c].left ? w[c] - tw : 0) + 2);
		}
		putc_(o, '\n');
	}
	free(w);
}
