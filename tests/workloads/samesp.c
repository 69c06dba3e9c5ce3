/*
 * samesp: two call chains that reach malloc from the same return address
 * with the same stack pointer, one call after the other. left() and right()
 * have the same frame and call the same site(), so only words deeper in the
 * stack (their return addresses in site's caller frame, the frames above)
 * tell the stacks apart: a walk taken again for a stack that merely starts
 * the same would give one the other's bytes.
 *
 *   site <- left <- run <- main             1000 x malloc(48), kept
 *   site <- right <- run <- main            1000 x malloc(80), kept
 *   site <- right <- deeper <- run <- main   500 x malloc(80), kept
 *   site <- mid <- far_left <- run <- main   1000 x malloc(112), kept
 *   site <- mid <- far_right <- run <- main  1000 x malloc(144), kept
 *
 * The last two part only above mid's 4 KiB frame: beyond the first KiB of
 * stack a walk reads at the entry, in a window it reads later.
 *
 * Built with frame pointers (samesp) and without (samesp_nofp).
 */
#include <stdlib.h>

#include "wl_common.h"

#define N 1000

void *volatile g_left[N], *volatile g_right[N], *volatile g_deeper[N / 2];
void *volatile g_far_left[N], *volatile g_far_right[N];

NOINLINE void *site(size_t n)
{
	return malloc(n);
}

NOINLINE void left(void *volatile *slot)
{
	*slot = site(48);
}

NOINLINE void right(void *volatile *slot)
{
	*slot = site(80);
}

/* right() from one frame further up: the same start, at another stack pointer. */
NOINLINE void deeper(void *volatile *slot)
{
	right(slot);
	wl_opaque_zero = 0;	/* keeps the call from becoming a jump */
}

/* A frame of 4 KiB between the allocation and the callers that tell it apart. */
NOINLINE void mid(void *volatile *slot, size_t n)
{
	volatile char pad[4096];

	pad[0] = pad[sizeof(pad) - 1] = 0;
	*slot = site(n + pad[0]);
}

NOINLINE void far_left(void *volatile *slot)
{
	mid(slot, 112);
}

NOINLINE void far_right(void *volatile *slot)
{
	mid(slot, 144);
}

NOINLINE void run(void)
{
	for (int i = 0; i < WL_TIMES(N); i++) {
		left(&g_left[i]);
		right(&g_right[i]);
		if (i & 1)
			deeper(&g_deeper[i / 2]);
		far_left(&g_far_left[i]);
		far_right(&g_far_right[i]);
	}
}

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	run();
	wl_done_and_linger();
	return 0;
}
