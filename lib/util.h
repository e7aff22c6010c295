/* Small things every part of the library uses (private). */
#ifndef CW_UTIL_H
#define CW_UTIL_H

#include <stddef.h>

/* The object that embeds member, from a pointer to that member. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
