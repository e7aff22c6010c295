/* A shared file may not include a part's header, not even its _lib.h. */
#include "census/census_lib.h"
int shared_walk(void);
int shared_walk(void) { return census_walk(); }
