/* What the census offers the rest of the library (reap), and the only census
 * header another part includes: the sock_diag dump and receive, and the
 * /proc owner walk run in the background. */
#ifndef CW_CENSUS_LIB_H
#define CW_CENSUS_LIB_H

#include "census_internal.h"
#include "census_netlink.h"

#endif
