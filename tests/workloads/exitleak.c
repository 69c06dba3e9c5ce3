/*
 * exitleak: leaks, then exits at once, so memtrace must report (and
 * symbolize) a process that is already gone.
 *
 *   leak_then_exit   3 x malloc(2048), kept: live_bytes 6144, live_allocs 3
 *                    frames[1] is main.
 *
 * With --wait: "ready", SIGUSR1, leak, "done", exit 0 right away (it does
 * not linger like the other workloads).  Without: leak, "done", exit 0.
 */
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

void *volatile kept[3];

NOINLINE void leak_then_exit(void)
{
	for (int i = 0; i < WL_TIMES(3); i++) {
		void *p = malloc(2048);
		if (p)
			memset(p, 0xA5, 2048);
		kept[i] = p;
	}
}

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	leak_then_exit();
	wl_done_and_exit(0);
	return 0;
}
