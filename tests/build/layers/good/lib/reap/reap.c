/* Another part, through its one header for the rest of the library. */
#include "census/census_lib.h"
int reap_now(void);
int reap_now(void) { return census_walk(); }
