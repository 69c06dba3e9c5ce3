/*
 * The benchmark's workload: malloc/free pairs issued from 13 frames deep,
 * in one or more threads. Prints ns per pair, measured inside the program
 * so that start-up and memtrace's own set-up are left out.
 *
 *   bench_alloc THREADS PAIRS_PER_THREAD
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))
#define DEPTH 12

static long pairs;
void *volatile sink;

static NOINLINE void churn(void)
{
	for (long i = 0; i < pairs; i++) {
		void *p = malloc(16 + (size_t)(i & 255));

		sink = p;
		free(p);
	}
}

static NOINLINE void descend(int depth)
{
	if (depth)
		descend(depth - 1);
	else
		churn();
	sink = NULL;	/* keeps the recursion from becoming a loop */
}

static void *thread_main(void *arg)
{
	descend(DEPTH - 1);
	return arg;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	pthread_t tid[64];
	struct timespec a, b;
	double ns;

	pairs = argc > 2 ? atol(argv[2]) : 200000;
	if (threads < 1 || threads > 64 || pairs < 1)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, thread_main, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	/* Wall time per pair per thread: what one thread's malloc+free costs. */
	printf("ns_per_pair %.1f\n", ns / (double)pairs);
	return 0;
}
