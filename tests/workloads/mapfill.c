/*
 * mapfill: more live blocks, or more distinct call stacks, than a small
 * --max-allocs / --max-stacks lets memtrace record.
 *
 *   mapfill [--wait] blocks [N]    leak_blocks: N x malloc(100), kept
 *                                  (default 1000, at most 4096): one stack
 *   mapfill [--wait] stacks [K]    2^K distinct call stacks (default 7, at
 *                                  most 12), each leaking one malloc(48) in
 *                                  leaf_alloc: the path from make_stacks to
 *                                  leaf_alloc goes through via_a or via_b at
 *                                  each of K levels, after the bits of i.
 *   then "done".
 */
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

#define MAX_BLOCKS 4096

void *volatile kept[MAX_BLOCKS];
static int nr_kept;

NOINLINE void leak_blocks(int n)
{
	for (int i = 0; i < n + wl_opaque_zero; i++) {
		void *p = malloc(100);
		if (p)
			memset(p, 0xA5, 100);
		kept[nr_kept++] = p;
	}
}

NOINLINE void leaf_alloc(void)
{
	void *p = malloc(48);

	if (p)
		memset(p, 0x5A, 48);
	kept[nr_kept++] = p;
}

void step(unsigned int bits, int level);

NOINLINE void via_a(unsigned int bits, int level)
{
	step(bits, level);
}

NOINLINE void via_b(unsigned int bits, int level)
{
	step(bits, level);
}

NOINLINE void step(unsigned int bits, int level)
{
	if (level == 0)
		leaf_alloc();
	else if (bits & 1)
		via_a(bits >> 1, level - 1);
	else
		via_b(bits >> 1, level - 1);
}

NOINLINE void make_stacks(int k)
{
	for (unsigned int i = 0; i < (1u << k) + wl_opaque_zero; i++)
		step(i, k);
}

int main(int argc, char **argv)
{
	const char *mode;
	int n;

	wl_start(&argc, argv);
	mode = argc > 1 ? argv[1] : "blocks";
	if (!strcmp(mode, "stacks")) {
		n = argc > 2 ? atoi(argv[2]) : 7;
		if (n < 0 || n > 12) {
			wl_say("K must be 0..12");
			return 2;
		}
		make_stacks(n);
	} else {
		n = argc > 2 ? atoi(argv[2]) : 1000;
		if (n < 0 || n > MAX_BLOCKS) {
			wl_say("N must be 0..%d", MAX_BLOCKS);
			return 2;
		}
		leak_blocks(n);
	}
	wl_done_and_linger();
	return 0;
}
