#include "closewait/api.h"
int cmd_run(void);
int main(void) { return cw_api() + cmd_run(); }
