/* Own part by bare name, a public header, a shared one. */
#include "closewait/api.h"
#include "loop.h"
int shared_half(int x);
int cw_api(void) { return loop_run() + shared_half(4); }
