/*
 * family: one noinline function per allocator entry point, each with
 * exactly one allocating call site, so each function is exactly one stack
 * whose innermost frame (frames[0]) is that function and whose next frame
 * (frames[1]) is run_all.  Every total is distinct, so stacks cannot be
 * confused with one another.
 *
 * Built four ways from this one source: family_pie, family_nopie,
 * family_static (glibc linked in) and family_jemalloc (linked against
 * libjemalloc.so.2, built with -DWL_NO_PVALLOC: jemalloc has no pvalloc, so
 * the call would go to glibc's own heap, which is not the traced allocator).
 *
 * Expected figures per stack (the tests hold a copy of this table):
 *
 *  function             calls                          live_bytes live_allocs alloc_bytes_total allocs_total frees_total
 *  leak_malloc          10 x malloc(1000)                   10000          10             10000           10           0
 *  leak_calloc           7 x calloc(3, 111)                  2331           7              2331            7           0
 *  leak_realloc_grow    p=realloc(p,n), n=100,200,4000       4000           1              4300            3           2
 *                       (one call site, p starts NULL)
 *  leak_realloc_null     1 x realloc(NULL, 555)               555           1               555            1           0
 *  free_realloc_zero     1 x malloc(777), realloc(p, 0)         0           0               777            1           1
 *  leak_reallocarray     2 x reallocarray(NULL, 13, 70)      1820           2              1820            2           0
 *  leak_posix_memalign   2 x posix_memalign(64, 3000)        6000           2              6000            2           0
 *  leak_aligned_alloc    3 x aligned_alloc(256, 512)         1536           3              1536            3           0
 *  leak_memalign         4 x memalign(128, 700)              2800           4              2800            4           0
 *  leak_valloc           2 x valloc(3333)                    6666           2              6666            2           0
 *  leak_pvalloc          3 x pvalloc(1234)  (not jemalloc)   3702           3              3702            3           0
 *  balanced           1000 x malloc(64) + free                  0           0             64000         1000        1000
 *  failed_alloc          1 x malloc(SIZE_MAX/2) -> NULL         0           0     (not live; counters.failed_allocs >= 1)
 *
 *  Whole process, counting only what run_all does (-p mode):
 *    live_bytes 39410 (35708 without pvalloc), live_allocs 35 (32),
 *    frees_total 1003.
 *
 * Without --wait nothing else allocates either, but glibc's startup and
 * exit may, so in `--` mode only the per-stack figures are exact.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

/* Pointers go here so that -O2 cannot prove the blocks unused and drop
 * the malloc/free pairs. */
void *volatile wl_keep[64];
void *volatile wl_sink;
static int wl_nkeep;

static NOINLINE void keep(void *p)
{
	wl_keep[wl_nkeep++ % 64] = p;
}

/* Written with a non-zero byte: a zero memset after malloc may be turned
 * into calloc by the compiler. */
static NOINLINE void touch(void *p, size_t n)
{
	if (p)
		memset(p, 0xA5, n);
}

NOINLINE void leak_malloc(void)
{
	for (int i = 0; i < WL_TIMES(10); i++) {
		void *p = malloc(1000);
		touch(p, 1000);
		keep(p);
	}
}

NOINLINE void leak_calloc(void)
{
	for (int i = 0; i < WL_TIMES(7); i++) {
		void *p = calloc(3, 111);
		touch(p, 333);
		keep(p);
	}
}

static const size_t grow_sizes[3] = { 100, 200, 4000 };

NOINLINE void leak_realloc_grow(void)
{
	void *p;

	/* One call site for all three steps, so they share one stack.  The
	 * first p is an opaque NULL (see leak_realloc_null). */
	wl_sink = NULL;
	p = wl_sink;
	for (int i = 0; i < WL_TIMES(3); i++) {
		p = realloc(p, grow_sizes[i]);
		touch(p, grow_sizes[i]);
	}
	keep(p);
}

NOINLINE void leak_realloc_null(void)
{
	void *p;

	/* NULL read back from a volatile: gcc folds a visible realloc(NULL, n)
	 * into malloc(n). */
	wl_sink = NULL;
	p = realloc(wl_sink, 555);
	touch(p, 555);
	keep(p);
}

NOINLINE void free_realloc_zero(void)
{
	void *p = malloc(777);
	touch(p, 777);
	wl_sink = p;
	/* glibc frees p and returns NULL.  Should an allocator hand back a
	 * block instead, free it so nothing is left live here. */
	p = realloc(wl_sink, 0);
	wl_sink = p;
	if (p)
		free(p);
}

NOINLINE void leak_reallocarray(void)
{
	for (int i = 0; i < WL_TIMES(2); i++) {
		void *p;

		wl_sink = NULL;
		p = reallocarray(wl_sink, 13, 70);
		touch(p, 13 * 70);
		keep(p);
	}
}

NOINLINE void leak_posix_memalign(void)
{
	for (int i = 0; i < WL_TIMES(2); i++) {
		void *p = NULL;
		if (posix_memalign(&p, 64, 3000) != 0)
			p = NULL;
		touch(p, 3000);
		keep(p);
	}
}

NOINLINE void leak_aligned_alloc(void)
{
	for (int i = 0; i < WL_TIMES(3); i++) {
		void *p = aligned_alloc(256, 512);
		touch(p, 512);
		keep(p);
	}
}

NOINLINE void leak_memalign(void)
{
	for (int i = 0; i < WL_TIMES(4); i++) {
		void *p = memalign(128, 700);
		touch(p, 700);
		keep(p);
	}
}

NOINLINE void leak_valloc(void)
{
	for (int i = 0; i < WL_TIMES(2); i++) {
		void *p = valloc(3333);
		touch(p, 3333);
		keep(p);
	}
}

#ifndef WL_NO_PVALLOC
NOINLINE void leak_pvalloc(void)
{
	for (int i = 0; i < WL_TIMES(3); i++) {
		void *p = pvalloc(1234);
		touch(p, 1234);
		keep(p);
	}
}
#endif

NOINLINE void balanced(void)
{
	for (int i = 0; i < WL_TIMES(1000); i++) {
		void *p = malloc(64);
		touch(p, 64);
		wl_sink = p;
		free(wl_sink);
	}
}

/* volatile: the compiler must not see (and warn about or fold) the size. */
static volatile size_t huge_size = SIZE_MAX / 2;

NOINLINE void failed_alloc(void)
{
	void *p = malloc(huge_size);
	wl_sink = p;
	if (p) {
		wl_say("warning: malloc(SIZE_MAX/2) succeeded");
		free(p);
	}
}

NOINLINE void run_all(void)
{
	leak_malloc();
	leak_calloc();
	leak_realloc_grow();
	leak_realloc_null();
	free_realloc_zero();
	leak_reallocarray();
	leak_posix_memalign();
	leak_aligned_alloc();
	leak_memalign();
	leak_valloc();
#ifndef WL_NO_PVALLOC
	leak_pvalloc();
#endif
	balanced();
	failed_alloc();
}

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	run_all();
	wl_done_and_linger();
	return 0;
}
