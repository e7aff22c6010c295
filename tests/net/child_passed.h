/* For the tests whose checks run in a forked child (a uid dropped, a
 * namespace entered): the child reports by its exit status. */
#ifndef CHILD_PASSED_H
#define CHILD_PASSED_H

#include <sys/types.h>
#include <sys/wait.h>

#include "cwtest.h"

/* Waits for child: it exited, with status 0 (each of its checks held). */
static inline void child_passed(pid_t child)
{
	int st;

	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

#endif
