/* A creating stack made readable: the frames the kernel's frame-pointer
 * walk gave, the caller glibc's frameless wrapper hid (recovered from the
 * words saved at the user stack pointer), each named with libdw from the
 * file the process mapped (opened through /proc/PID/map_files or
 * /proc/PID/root: the process may see another mount namespace), with the
 * file's build-id and the frame's offset in it. */
#ifndef CW_TRACE_STACK_H
#define CW_TRACE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct trace_frame {
	uint64_t addr;                /* the return address (the syscall's for frame 0) */
	char function[128];           /* "" when unknown */
	char file[128];               /* the source file's base name; "" when unknown */
	int line;                     /* 0 when unknown */
	char module[64];              /* the mapped file's base name; "" when unknown */
	uint64_t offset;              /* addr - the module's load address */
	char build_id[65];            /* the module's GNU build-id in hex; "" when it has none */
	bool has_file_offset;
	uint64_t file_offset;         /* where addr is in the mapped file */
	bool runtime;                 /* in libc, the loader or a sanitizer runtime, or
				       * Go's runtime and standard library below main */
	bool fixup;                   /* recovered from the words at the stack pointer */
};

struct trace_stack {
	struct trace_frame *frames;   /* innermost first */
	size_t n;
	bool truncated;               /* the walk did not reach main or a thread's start */
	size_t headline;              /* the first frame outside the runtime; n when none */
	/* an interpreter's process ("python3 app.py"): its native frames
	 * are the interpreter's, not the program's; "" otherwise */
	char interpreter[96];
};

#define TRACE_NOTE_INTERPRETER "interpreter: native frames unavailable"
#define TRACE_NOTE_TRUNCATED "stack truncated: no frame pointers"

/* Names ips (innermost first, from the kernel's walk) in live process pid,
 * with the first word of fixup that is a return address into code inserted
 * as the caller of frame 0. 0 or -errno (the process is gone: -ESRCH). */
int trace_stack_resolve(pid_t pid, const uint64_t *ips, size_t n, const uint64_t *fixup,
			size_t nfixup, struct trace_stack *out);
void trace_stack_free(struct trace_stack *s);
/* Why the stack does not show the program's whole path: one of the
 * TRACE_NOTE_ texts, or NULL for a whole stack. */
const char *trace_stack_note(const struct trace_stack *s);
/* "accept_loop (cwt_leaky.c:58)", "accept_loop", "cwt-leaky+0x1234" or "0x7f...". */
char *trace_frame_str(const struct trace_frame *f, char *buf, size_t len);

#endif
