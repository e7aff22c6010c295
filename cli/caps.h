/* The capabilities closewait holds, for messages that name the one a user
 * lacks. */
#ifndef CW_CLI_CAPS_H
#define CW_CLI_CAPS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether closewait holds capability cap (CAP_SYS_ADMIN...) in its effective
 * set; false when it cannot tell, so that the message names it. */
bool caps_have(int cap);
/* The capabilities reading other users' fd tables takes (CAP_SYS_PTRACE,
 * CAP_DAC_READ_SEARCH) that closewait does not hold: their names, how many. */
#define CAPS_READ_FDS 2
size_t caps_missing_read_fds(const char *names[CAPS_READ_FDS]);
/* The note for n processes whose fds could not be read, naming the
 * capabilities closewait lacks (scan, watch and export say it alike); one
 * line, no newline. */
void caps_unreadable_note(unsigned n, char *buf, size_t len);
struct cw_census;
/* For the commands that take a census again and again (watch, export,
 * trace): true (and the note in buf) the first time c has processes that
 * could not be read while closewait lacks a capability that reads them;
 * false before and ever after (*said). */
bool caps_unreadable_first(const struct cw_census *c, bool *said, char *buf, size_t len);

#endif
