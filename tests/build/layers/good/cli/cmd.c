#include "closewait/api.h"
int cmd_run(void);
int cmd_run(void) { return cw_api(); }
