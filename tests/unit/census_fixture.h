/* Census fixtures for unit tests: one socket per line,
 *   STATE LOCAL REMOTE INODE RQ WQ TIMER TIMER_MS LASTSND LASTRCV LASTACK [PID FD COMM]
 * e.g. "close-wait 127.0.0.1:8000 127.0.0.1:40000 1001 1 0 none 0 8000 8000 5000 6979 5 srv";
 * "-" for the three tcp_info times: not reported. '#' starts a comment. */
#ifndef CENSUS_FIXTURE_H
#define CENSUS_FIXTURE_H

#include "census/census_internal.h"
#include "closewait/census_filter.h"
#include "closewait/census_group.h"
#include "closewait/census_ports.h"
#include "closewait/census_watch.h"

/* Builds a census stamped (time_ms, mono_ms) from fixture text; aborts the test on bad input. */
struct cw_census *fixture_census(const char *text, uint64_t time_ms, uint64_t mono_ms);
/* The text of a file under tests/unit/fixtures/, NUL-terminated; free() it. */
char *fixture_text(const char *name);
/* The same from a file under tests/unit/fixtures/. */
struct cw_census *fixture_census_file(const char *name, uint64_t time_ms, uint64_t mono_ms);
/* One socket, for age and filter tests. */
struct cw_sock fixture_sock(const char *line);

#endif
