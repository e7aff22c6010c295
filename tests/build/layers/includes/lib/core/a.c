/* Its own part's header by path, and a shared header by a relative path. */
#include "core/loop.h"
#include "../util.h"
int a_one(void);
int a_one(void) { return LOOP + UTIL; }
