/*
 * drip: allocates from its first moment and goes on, as a service that
 * starts leaking at once: one call site, 4 KiB every 20 ms, 50 times, all
 * kept; then three names through libc.
 *
 *   drip_a <- main        50 x malloc(4096): live 204800 bytes, one stack
 *   strdup <- keep_name <- main   3 x strdup of 16 bytes: live 48 bytes
 *
 * Built with frame pointers; libc without: a stack through libc needs its
 * table. The first allocations come before memtrace (system-wide) has seen
 * the process; the later ones after: one call site must still be one stack.
 * `drip forever`: after "done", drip_a from a second call site in main
 * every 100 ms until SIGTERM.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wl_common.h"

void *volatile g_drips[50];
char *volatile g_kept_names[3];

NOINLINE void *drip_a(void)
{
	void *p = malloc(4096);

	if (p)
		memset(p, 0x21, 4096);
	return p;
}

NOINLINE void keep_name(int i)
{
	g_kept_names[i] = strdup("drip-name-00000");
}

int main(int argc, char **argv)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };

	wl_start(&argc, argv);
	for (int i = 0; i < WL_TIMES(50); i++) {
		g_drips[i] = drip_a();
		nanosleep(&pause, NULL);
	}
	for (int i = 0; i < WL_TIMES(3); i++)
		keep_name(i);
	if (argc > 1 && !strcmp(argv[1], "forever")) {
		struct timespec slow = { 0, 100 * 1000 * 1000 };

		wl_say("done");
		for (;;) {
			void *volatile p = drip_a();

			(void)p;
			nanosleep(&slow, NULL);
		}
	}
	wl_done_and_linger();
	return 0;
}
