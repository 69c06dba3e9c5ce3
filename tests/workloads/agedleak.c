/*
 * agedleak: two leaks some seconds apart, for --min-age.
 *
 *   agedleak [--wait] [SECONDS]     (default 4)
 *
 *   leak_early   5 x malloc(1100): live_bytes 5500, live_allocs 5
 *   ... sleeps SECONDS ...
 *   leak_late    3 x malloc(900):  live_bytes 2700, live_allocs 3
 *   then "done" right away.
 *
 * A report taken just after "done" with --min-age 3 must list leak_early
 * (at least SECONDS old) and not leak_late (a moment old).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wl_common.h"

void *volatile kept[8];

NOINLINE void leak_early(void)
{
	for (int i = 0; i < WL_TIMES(5); i++) {
		void *p = malloc(1100);
		if (p)
			memset(p, 0xA5, 1100);
		kept[i] = p;
	}
}

NOINLINE void leak_late(void)
{
	for (int i = 0; i < WL_TIMES(3); i++) {
		void *p = malloc(900);
		if (p)
			memset(p, 0x5A, 900);
		kept[5 + i] = p;
	}
}

int main(int argc, char **argv)
{
	struct timespec ts = { .tv_sec = 4 };

	wl_start(&argc, argv);
	if (argc > 1)
		ts.tv_sec = atoi(argv[1]);

	leak_early();
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	leak_late();
	wl_done_and_linger();
	return 0;
}
