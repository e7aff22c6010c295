#include "census_lib.h"
int census_walk(void) { return 3; }
