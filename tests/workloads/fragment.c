/*
 * fragment: fragments glibc's main heap and shows what glibc itself says
 * about its free memory, so memtrace's "retained" can be checked against it.
 *
 *   fragment [--wait] [--trim] [--big]
 *
 * Allocates 200,000 blocks of 1,000 B (about 200 MB of heap via brk),
 * frees all but every 50th (4,000 kept: 4,000,000 B live), so glibc cannot
 * shrink the heap and keeps the freed memory resident. With --trim it then
 * calls malloc_trim(0), which gives the free pages back with madvise but
 * leaves fordblks unchanged. With --big it also allocates and frees 40
 * blocks of 4 MiB (above the mmap threshold), which must leave nothing
 * retained.
 *
 * Prints, before exiting:
 *   mallinfo arena=A uordblks=U fordblks=F hblkhd=H heap_rss=R
 * where heap_rss is the Rss of [heap] from /proc/self/smaps.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

#define NBLOCKS 200000
#define BLOCK 1000
#define KEEP_EVERY 50

static void *blocks[NBLOCKS];

static NOINLINE void fill_heap(void)
{
	for (int i = 0; i < NBLOCKS; i++) {
		blocks[i] = malloc(BLOCK);
		memset(blocks[i], 0x5a, BLOCK);
	}
}

static NOINLINE void free_most(void)
{
	for (int i = 0; i < NBLOCKS; i++)
		if (i % KEEP_EVERY)
			free(blocks[i]);
}

static NOINLINE void big_blocks(void)
{
	for (int i = 0; i < 40; i++) {
		char *p = malloc(4 << 20);

		memset(p, 1, 4 << 20);
		free(p);
	}
}

static unsigned long long heap_rss_kb(void)
{
	unsigned long long kb = 0;
	char line[512];
	int in_heap = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strstr(line, " rw") == strchr(line, ' '))
			in_heap = strstr(line, "[heap]") != NULL;
		if (in_heap && sscanf(line, "Rss: %llu kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	int trim = 0, big = 0;
	struct mallinfo2 mi;

	wl_start(&argc, argv);
	for (int i = 1; i < argc; i++) {
		trim |= !strcmp(argv[i], "--trim");
		big |= !strcmp(argv[i], "--big");
	}
	fill_heap();
	free_most();
	if (big)
		big_blocks();
	if (trim)
		malloc_trim(0);
	mi = mallinfo2();
	wl_say("mallinfo arena=%zu uordblks=%zu fordblks=%zu hblkhd=%zu heap_rss=%llu",
	       mi.arena, mi.uordblks, mi.fordblks, mi.hblkhd, heap_rss_kb() * 1024);
	wl_done_and_linger();
	return 0;
}
