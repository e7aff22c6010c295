/* The CLI's option parsers end the process on a bad value (cli_usage_exit2
 * -> exit(2)). The harnesses that fuzz them link with -Wl,--wrap=exit, and
 * fuzz_try sends such an exit back to the harness instead. */
#ifndef CW_FUZZ_EXIT_H
#define CW_FUZZ_EXIT_H

_Noreturn void __wrap_exit(int status);
_Noreturn void __real_exit(int status);

/* Runs fn(arg): 0 when it returned, or the status it exited with + 1. */
int fuzz_try(void (*fn)(void *arg), void *arg);

#endif
