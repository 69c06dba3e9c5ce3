/*
 * brkgrow: the heap grown by two call stacks in turn. first_name's strdup
 * is the first allocation (malloc sets up the heap with its first brk:
 * 132 KiB); then grow_heap keeps 4096 blocks of 1 KiB (4 MiB), each brk
 * extending the heap further. "mapped by" charges each its part.
 */
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

char *volatile g_first;
void *volatile g_grown[4096];

NOINLINE void first_name(void)
{
	g_first = strdup("the first allocation");
}

NOINLINE void grow_heap(void)
{
	for (int i = 0; i < WL_TIMES(4096); i++) {
		g_grown[i] = malloc(1024);
		if (g_grown[i])
			memset(g_grown[i], 7, 1024);
	}
}

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	first_name();
	grow_heap();
	wl_done_and_linger();
	return 0;
}
