/* Reports: one JSON line per socket left in CLOSE_WAIT, written with one
 * write(2) to a file opened O_APPEND (or stderr), when found, so nothing is
 * lost if the program dies by a signal or calls _exit; a summary line at
 * normal exit. The report fd is one of the guard's own (guard_fds.c): if the
 * program closes it, the next report opens it again. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"

#define LINE_MAX_BYTES 16384

/* The report fd (report_lock held): stderr without --report. */
static int report_fd(void)
{
	int fd;

	if (!guard.cfg.report[0])
		return 2;
	if (guard.report_fd >= 0)
		return guard.report_fd;
	fd = guard_high_fd(open(guard.cfg.report, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
	if (fd >= 0)
		guard.report_fd = fd;
	return fd;
}

struct line {
	char b[LINE_MAX_BYTES];
	size_t n;
	bool cut;
};

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (l->cut)
		return;
	va_start(ap, fmt);
	w = vsnprintf(l->b + l->n, sizeof(l->b) - l->n, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= sizeof(l->b) - l->n - 2)
		l->cut = true;
	else
		l->n += (size_t)w;
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void add_str(struct line *l, const char *s)
{
	add(l, "\"");
	for (; s && *s && !l->cut; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			add(l, "\\%c", c);
		else if (c < 0x20)
			add(l, "\\u%04x", c);
		else
			add(l, "%c", c);
	}
	add(l, "\"");
}

static void add_frames(struct line *l, const char *key, void *const *pcs, unsigned n)
{
	add(l, ",\"%s\":[", key);
	for (unsigned i = 0; i < n; i++) {
		struct guard_frame f;

		guard_symbolize(pcs[i], &f);
		add(l, "%s{\"pc\":\"%p\"", i ? "," : "", pcs[i]);
		if (f.function) {
			add(l, ",\"function\":");
			add_str(l, f.function);
		}
		if (f.file) {
			add(l, ",\"file\":");
			add_str(l, f.file);
			add(l, ",\"line\":%d", f.line);
		}
		if (f.module) {
			add(l, ",\"module\":");
			add_str(l, f.module);
		}
		add(l, "}");
	}
	add(l, "]");
}

static void emit(struct line *l)
{
	int fd;

	if (l->cut) {
		/* too many frames or names too long for one line: still one valid
		 * line, without them */
		l->cut = false;
		l->n = 0;
		add(l, "{\"version\":1,\"event\":\"report-too-long\",\"pid\":%d}", (int)getpid());
	}
	l->b[l->n++] = '\n';
	pthread_mutex_lock(&guard.report_lock);
	fd = report_fd();
	/* one write: lines of several processes appending to one file stay whole */
	if (fd >= 0 && write(fd, l->b, l->n) < 0 && fd != 2 && errno == EBADF)
		guard.report_fd = -1;
	pthread_mutex_unlock(&guard.report_lock);
}

static double secs(uint64_t ms)
{
	return (double)ms / 1000.0;
}

void guard_report_socket(const struct gsock *s, int fd, const char *local, const char *peer,
			 uint64_t now)
{
	static struct line l; /* the checker's alone */

	l.n = 0;
	l.cut = false;
	add(&l, "{\"version\":1,\"event\":\"close-wait\",\"pid\":%d,\"fd\":%d,\"inode\":%llu,",
	    (int)getpid(), fd, (unsigned long long)s->inode);
	add(&l, "\"local\":");
	add_str(&l, local);
	add(&l, ",\"peer\":");
	add_str(&l, peer);
	add(&l, ",\"state\":\"close-wait\",\"why\":\"%s\",\"age_s\":%.3f,\"close_wait_s\":%.3f",
	    s->eof_ms ? "eof-read" : "never-read", secs(now - s->created_ms),
	    secs(now - s->cw_since_ms));
	if (s->cured)
		add(&l, ",\"cure\":\"fin\"");
	add_frames(&l, "created", s->create, s->ncreate);
	if (s->eof_ms)
		add_frames(&l, "eof", s->eof, s->neof);
	add(&l, "}");
	emit(&l);
}

void guard_report_summary(void)
{
	struct line *l = &(struct line){ .n = 0 };

	if (!guard.tracked && !guard.reported)
		return; /* a process that made no TCP connection: nothing to say */
	pthread_mutex_lock(&guard.lock);
	add(l, "{\"version\":1,\"event\":\"summary\",\"pid\":%d,\"tracked\":%llu,\"open\":%zu,"
	       "\"reported\":%llu,\"cured\":%llu,\"checks\":%llu,\"check_us\":%llu,"
	       "\"dump_checks\":%llu,\"filtered_checks\":%llu}",
	    (int)getpid(), (unsigned long long)guard.tracked, guard.live,
	    (unsigned long long)guard.reported, (unsigned long long)guard.cured,
	    (unsigned long long)guard.checks, (unsigned long long)guard.check_us,
	    (unsigned long long)guard.dump_checks, (unsigned long long)guard.filtered_checks);
	pthread_mutex_unlock(&guard.lock);
	emit(l);
}

/* Whether this process is the first to report the socket: inodes in a
 * shared open-addressed table (a full one lets every report through). */
bool guard_first_report(uint64_t inode)
{
	uint64_t key = inode ? inode : 1;

	if (!guard.seen)
		return true;
	for (size_t i = 0, h = (size_t)(key * 0x9e3779b97f4a7c15ull) % guard.seen_slots;
	     i < guard.seen_slots && i < 64; i++, h = (h + 1) % guard.seen_slots) {
		uint64_t cur = 0;

		if (__atomic_compare_exchange_n(&guard.seen[h], &cur, key, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return true;
		if (cur == key)
			return false;
	}
	return true;
}
