/* Small things every part of the library uses (private). */
#ifndef CW_UTIL_H
#define CW_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The object that embeds member, from a pointer to that member. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Vector v (*cap elements of elem bytes, n of them used) with room for one
 * more: v itself, or v reallocated to twice its capacity (first elements
 * when it has none) with *cap updated. NULL when memory runs out: v is then
 * untouched and still the caller's. */
static inline void *vec_room(void *v, size_t n, size_t *cap, size_t elem, size_t first)
{
	size_t ncap = *cap ? *cap * 2 : first;
	void *nv;

	if (n < *cap)
		return v;
	nv = realloc(v, ncap * elem);
	if (nv)
		*cap = ncap;
	return nv;
}

/* The end of field in type: a size that covers it. */
#define EXT_SIZE(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* Structs that the application allocates and later versions extend
 * (options, filters) start with size_t size, which their _init() sets to the
 * size the application was built with. ext_read copies the caller's struct
 * over ours, which holds our defaults, but only the bytes within its size:
 * the fields it does not know keep their defaults, and fields past ours are
 * ignored. A field added later must take zero to mean "as before": an older
 * struct's trailing padding, which its _init() cleared, may cover it.
 * 0, or -EINVAL when its size does not reach min (the end of the first
 * version's fields: _init() was not called). */
static inline int ext_read(void *ours, size_t ours_size, const void *theirs, size_t min)
{
	size_t n;

	memcpy(&n, theirs, sizeof(n));
	if (n < min || min < sizeof(n))
		return -EINVAL;
	if (n > ours_size)
		n = ours_size;
	memcpy((char *)ours + sizeof(n), (const char *)theirs + sizeof(n), n - sizeof(n));
	return 0;
}

#endif
