/*
 * mixedfp: one executable linking code built with frame pointers (this
 * file, and most of the program's code by bytes) and code built without
 * them (mixedfp_nofp.c, -fomit-frame-pointer), as a C program linking two
 * libraries built differently does, or a Rust crate beside its std.
 *
 *   make_record <- parse_body <- run_requests <- main   20 x malloc(640), kept:
 *       the two innermost built without frame pointers, their callers with
 *   cache_alloc <- cache_fill <- run_requests <- main   8 x malloc(2048), kept:
 *       cache_alloc with frame pointers, called from cache_fill without
 *
 * A frame-pointer walk through the functions built without them skips
 * frames; the unwind tables give each frame its own rule.
 */
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

void *volatile g_records[20];
void *volatile g_cache[8];

void parse_body(int i);
void cache_fill(int i);

NOINLINE void *cache_alloc(size_t n)
{
	void *p = malloc(n);

	if (p)
		memset(p, 0x33, n);
	return p;
}

NOINLINE void run_requests(int n)
{
	for (int i = 0; i < n; i++)
		parse_body(i);
	for (int i = 0; i < WL_TIMES(8); i++)
		cache_fill(i);
}

/* Bulk built with frame pointers: most of the file's code keeps them. */
NOINLINE long checksum(const unsigned char *p, size_t n, int mode)
{
	long s = 0;

	for (size_t i = 0; i < n; i++) {
		switch ((p[i] + mode) & 15) {
		case 0: s += p[i] * 3; break;
		case 1: s ^= p[i] << 2; break;
		case 2: s -= p[i] * 7; break;
		case 3: s += (s >> 3) ^ p[i]; break;
		case 4: s = s * 31 + p[i]; break;
		case 5: s ^= s << 7; break;
		case 6: s += p[i] * p[i]; break;
		case 7: s -= s >> 5; break;
		case 8: s += i * p[i]; break;
		case 9: s ^= (long)i << 9; break;
		case 10: s = s * 17 - p[i]; break;
		case 11: s += s / 3 + 1; break;
		case 12: s ^= p[i] * 0x9e3779b9L; break;
		case 13: s -= (s & 0xff) * p[i]; break;
		case 14: s += (long)p[i] << (i & 31); break;
		default: s ^= s >> 11; break;
		}
	}
	return s;
}

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	run_requests(WL_TIMES(20));
	if (checksum((const unsigned char *)argv[0], strlen(argv[0]), argc) == 42)
		wl_say("checksum");
	wl_done_and_linger();
	return 0;
}
