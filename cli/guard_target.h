/* Can the guard's preload reach a program? Read from the file before it is
 * run, with plain reads of its ELF headers (no libelf). Only ELF files of
 * this machine's byte order are inspected (Elf32 and Elf64): another one
 * could not run here anyway, and exec says so. */
#ifndef CW_GUARD_TARGET_H
#define CW_GUARD_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

enum guard_target_kind {
	GUARD_TARGET_OK,      /* dynamically linked: the loader will preload the guard */
	GUARD_TARGET_GO,      /* Go: a "Go" note of type 4 or a .go.buildinfo section */
	GUARD_TARGET_STATIC,  /* an ELF without a program interpreter (PT_INTERP) */
	GUARD_TARGET_SETID,   /* set-uid, or set-gid with group execute */
	GUARD_TARGET_UNKNOWN, /* neither an ELF of this machine nor a #! script: exec decides */
};

struct guard_target {
	enum guard_target_kind kind;
	char file[PATH_MAX];  /* the file the kind is about: the program or, for a
			       * script, the interpreter its #! line names */
	bool script;          /* file is the interpreter of a #! script */
};

/* Finds NAME the way execvp does: as given when it holds a '/', else the
 * first executable regular file in the directories of $PATH (/bin:/usr/bin
 * when unset). 0 with the path in out; -ENOENT when there is no such file
 * (a shell's 127); another -errno when it cannot be run (126): -EACCES for
 * one that is not executable or not a regular file. */
int guard_target_resolve(const char *name, char *out, size_t len);

/* What path (an executable, see guard_target_resolve) is; a #! script is
 * judged by its interpreter, following up to 4 levels like the kernel.
 * 0, or -errno when a file cannot be opened or read (t->file names it). */
int guard_target_check(const char *path, struct guard_target *t);

#endif
