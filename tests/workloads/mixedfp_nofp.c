/* The part of mixedfp (see mixedfp.c) built without frame pointers. */
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

extern void *volatile g_records[20];
extern void *volatile g_cache[8];

void *cache_alloc(size_t n);

NOINLINE void *make_record(size_t n)
{
	void *p = malloc(n);	/* ALLOC_LINE */

	if (p)
		memset(p, 0x44, n);
	return p;
}

NOINLINE void parse_body(int i)
{
	g_records[i] = make_record(640);
}

NOINLINE void cache_fill(int i)
{
	g_cache[i] = cache_alloc(2048);
}
