/*
 * lines: allocates inside an always_inline helper, inlined into a noinline
 * function that main calls, so that one return address stands for two
 * frames with their own source lines.
 *
 *   alloc_helper   4 x malloc(3000), kept: live_bytes 12000, live_allocs 4
 *                  frames: alloc_helper (inlined, at the ALLOC_LINE line),
 *                  build_buffers (at the CALL_LINE line), main (MAIN_LINE).
 *
 * The tests find those lines by their markers in this file.
 */
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

void *volatile kept[4];

static inline __attribute__((always_inline)) void *alloc_helper(size_t n)
{
	void *p = malloc(n);	/* ALLOC_LINE */

	if (p)
		memset(p, 0x5a, n);
	return p;
}

NOINLINE void build_buffers(void)
{
	for (int i = 0; i < WL_TIMES(4); i++)
		kept[i & 3] = alloc_helper(3000);	/* CALL_LINE */
}

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	build_buffers();	/* MAIN_LINE */
	wl_done_and_linger();
	return 0;
}
