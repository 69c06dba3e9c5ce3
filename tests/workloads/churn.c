/*
 * churn: high-rate allocation traffic, for lost-event and overhead checks.
 *
 *   churn [--wait] [N]      N = malloc/free pairs in total (default 2000000)
 *
 * Two threads share the N pairs (thread 0 takes the odd one), each pair
 * made through thread_main -> churn_loop -> churn_l1 -> churn_l2 ->
 * churn_l3 -> malloc(16..1024 bytes, varying) + free.  Interleaved with
 * them, each thread calls leak_sprinkled() exactly 50 times, spread evenly
 * over its pairs: 100 blocks of 4096 bytes stay live in total.
 *
 * Expected: stacks whose innermost frame is leak_sprinkled sum to
 * live_bytes 409600, live_allocs 100; the process made N + 100 allocations
 * (plus whatever glibc makes to start the threads).
 * Prints "elapsed <seconds> s pairs <N>" before "done".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wl_common.h"

#define NTHREADS 2
#define LEAKS_PER_THREAD 50

static const size_t sizes[8] = { 16, 24, 40, 64, 100, 256, 512, 1024 };

void *volatile leaks[NTHREADS * LEAKS_PER_THREAD];
void *volatile sink[NTHREADS];
static unsigned long pairs_of[NTHREADS];

NOINLINE void leak_sprinkled(int idx, int nth)
{
	void *p = malloc(4096);
	if (p)
		memset(p, 0xA5, 4096);
	leaks[idx * LEAKS_PER_THREAD + nth] = p;
}

NOINLINE void churn_l3(int idx, unsigned long i)
{
	size_t n = sizes[i & 7];
	void *p = malloc(n);
	if (p)
		memset(p, 0x5A, n);
	sink[idx] = p;
	free(sink[idx]);
}

NOINLINE void churn_l2(int idx, unsigned long i)
{
	churn_l3(idx, i);
}

NOINLINE void churn_l1(int idx, unsigned long i)
{
	churn_l2(idx, i);
}

NOINLINE void churn_loop(int idx)
{
	unsigned long n = pairs_of[idx];
	unsigned long step = n / LEAKS_PER_THREAD;
	int leaked = 0;

	if (step == 0)
		step = 1;
	for (unsigned long i = 0; i < n; i++) {
		if (i % step == 0 && leaked < LEAKS_PER_THREAD)
			leak_sprinkled(idx, leaked++);
		churn_l1(idx, i);
	}
	/* Fewer pairs than leaks: still exactly 50 per thread. */
	while (leaked < LEAKS_PER_THREAD)
		leak_sprinkled(idx, leaked++);
}

NOINLINE void *thread_main(void *arg)
{
	churn_loop((int)(intptr_t)arg);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long total = 2000000;
	struct timespec t0, t1;
	pthread_t tid[NTHREADS];
	long ns;

	wl_start(&argc, argv);
	if (argc > 1) {
		char *end;
		total = strtoul(argv[1], &end, 10);
		if (*end) {
			wl_say("usage: churn [--wait] [PAIRS]");
			return 2;
		}
	}
	pairs_of[0] = total - total / 2;
	pairs_of[1] = total / 2;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&tid[i], NULL, thread_main, (void *)(intptr_t)i) != 0) {
			wl_say("pthread_create failed");
			return 1;
		}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(tid[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	/* Integer formatting only: keeps printf's float code (which may
	 * allocate) out of the picture. */
	ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
	wl_say("elapsed %ld.%03ld s pairs %lu", ns / 1000000000L, (ns / 1000000L) % 1000, total);
	wl_done_and_linger();
	return 0;
}
