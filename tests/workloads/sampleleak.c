/*
 * sampleleak: known live figures at three call sites, for sampled tracking
 * to be checked against (and the switch from exact tracking to sampling
 * when the allocation map fills):
 *
 *   keep_small <- main    SMALL_N x malloc(64), kept
 *   keep_large <- main    LARGE_N x malloc(4096), kept
 *   churn      <- main    CHURN_N x malloc(128), each freed at once: none live
 *
 * SMALL_N, LARGE_N, CHURN_N: 20000, 16000, 100000, or the first three
 * arguments. Blocks are written to, so they are resident.
 * MT_PREFILL_MB=N: first (before --wait's "ready") N MiB in one block,
 * written: a process already large when memtrace attaches.
 */
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

static void *volatile *g_small, *volatile *g_large;

NOINLINE void *keep_small(void)
{
	void *p = malloc(64);

	if (p)
		memset(p, 1, 64);
	return p;
}

NOINLINE void *keep_large(void)
{
	void *p = malloc(4096);

	if (p)
		memset(p, 2, 4096);
	return p;
}

NOINLINE void churn(void)
{
	char *volatile p = malloc(128);

	if (p)
		p[0] = 3;
	free(p);
}

int main(int argc, char **argv)
{
	long small_n = 20000, large_n = 16000, churn_n = 100000;
	const char *prefill = getenv("MT_PREFILL_MB");
	static char *volatile g_prefill;

	if (prefill && atol(prefill) > 0) {
		size_t n = (size_t)atol(prefill) << 20;

		g_prefill = malloc(n);
		if (g_prefill)
			memset(g_prefill, 5, n);
	}
	wl_start(&argc, argv);
	if (argc > 3) {
		small_n = atol(argv[1]);
		large_n = atol(argv[2]);
		churn_n = atol(argv[3]);
	}
	g_small = calloc((size_t)small_n + 1, sizeof(void *));
	g_large = calloc((size_t)large_n + 1, sizeof(void *));
	for (long i = 0; i < small_n + wl_opaque_zero; i++)
		g_small[i] = keep_small();
	for (long i = 0; i < large_n + wl_opaque_zero; i++)
		g_large[i] = keep_large();
	for (long i = 0; i < churn_n + wl_opaque_zero; i++)
		churn();
	wl_done_and_linger();
	return 0;
}
