/* a.c and b.c call each other; their includes are fine. */
#include "loop.h"
int a_one(void);
int b_two(void);
int a_one(void) { return b_two() + LOOP; }
int a_three(void);
int a_three(void) { return 3; }
