#include "util.h"
int a_one(void);
int a_three(void);
int b_two(void);
int b_two(void) { return UTIL; }
int b_four(void);
int b_four(void) { return a_one() + a_three(); }
