/*
 * threads: 4 threads, each started from thread_main:
 *   leak_in_thread   250 x malloc(128), kept           (per thread)
 *   free_in_thread 10000 x malloc(200) + free          (per thread)
 *
 * Expected, summed over the stacks whose innermost frame is the function
 * (a stack walked past glibc's start_thread may differ between threads,
 * so there can be up to one stack per thread):
 *
 *  function        live_bytes live_allocs alloc_bytes_total allocs_total frees_total
 *  leak_in_thread      128000        1000            128000         1000           0
 *  free_in_thread           0           0           8000000        40000       40000
 *
 * frames[1] of both is thread_main.  Threads are created only after the
 * start signal, so every allocation above is made while traced.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

#define NTHREADS 4
#define LEAKS_PER_THREAD 250
#define FREES_PER_THREAD 10000

void *volatile leaked[NTHREADS][LEAKS_PER_THREAD];
void *volatile sink[NTHREADS];

NOINLINE void leak_in_thread(int idx)
{
	for (int i = 0; i < WL_TIMES(LEAKS_PER_THREAD); i++) {
		void *p = malloc(128);
		if (p)
			memset(p, 0xA5, 128);
		leaked[idx][i] = p;
	}
}

NOINLINE void free_in_thread(int idx)
{
	for (int i = 0; i < WL_TIMES(FREES_PER_THREAD); i++) {
		void *p = malloc(200);
		if (p)
			memset(p, 0x5A, 200);
		sink[idx] = p;
		free(sink[idx]);
	}
}

NOINLINE void *thread_main(void *arg)
{
	int idx = (int)(intptr_t)arg;

	leak_in_thread(idx);
	free_in_thread(idx);
	return NULL;
}

NOINLINE void run_threads(void)
{
	pthread_t tid[NTHREADS];

	for (int i = 0; i < NTHREADS; i++) {
		if (pthread_create(&tid[i], NULL, thread_main, (void *)(intptr_t)i) != 0) {
			wl_say("pthread_create failed");
			exit(1);
		}
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(tid[i], NULL);
}

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	run_threads();
	wl_done_and_linger();
	return 0;
}
