#include "census/census_lib.h"
#include "census/census_internal.h"
int reap_now(void);
int reap_now(void) { return census_walk() + census_owners(); }
