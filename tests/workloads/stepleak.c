/*
 * stepleak: a service that leaks in steps the test takes, for memtrace --serve.
 *
 *   stepleak [--wait]          (MT_LINGER=1 under `memtrace --`: no SIGUSR1 to start)
 *
 * At start:
 *   leak_start <- main             8 x malloc(3000), kept    live 24000, 8 blocks
 *   churn <- main                100 x malloc(512) + free    allocated 51200, live 0
 * then "done"; after it each SIGUSR1 is one step (not wl_common's pong):
 *   leak_step <- on_step <- main   5 x malloc(1200), kept    live +6000, +5 blocks
 * and "step N" is printed once its blocks are allocated. SIGTERM or SIGINT: exit 0.
 *
 * Nothing else allocates: the protocol lines go through write(2).
 */
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

#define MAX_STEPS 1000

void *volatile g_start[8];
void *volatile g_steps[MAX_STEPS][5];
void *volatile g_sink;

NOINLINE void leak_start(void)
{
	for (int i = 0; i < WL_TIMES(8); i++) {
		g_start[i] = malloc(3000);
		if (g_start[i])
			memset(g_start[i], 0x31, 3000);
	}
}

NOINLINE void churn(void)
{
	for (int i = 0; i < WL_TIMES(100); i++) {
		g_sink = malloc(512);
		if (g_sink)
			memset(g_sink, 0x32, 512);
		free(g_sink);
	}
}

NOINLINE void leak_step(int step)
{
	for (int i = 0; i < WL_TIMES(5); i++) {
		g_steps[step][i] = malloc(1200);
		if (g_steps[step][i])
			memset(g_steps[step][i], 0x33, 1200);
	}
}

NOINLINE void on_step(int step)
{
	leak_step(step);
	wl_say("step %d", step + 1);
}

int main(int argc, char **argv)
{
	int steps = 0;

	wl_start(&argc, argv);
	leak_start();
	churn();
	wl_say("done");
	if (!wl_wait_mode && !wl_linger_mode)
		return 0;
	for (;;) {
		sigsuspend(&wl_unblocked);
		if (wl_got_stop)
			return 0;
		if (wl_got_usr1) {
			wl_got_usr1 = 0;
			if (steps < MAX_STEPS)
				on_step(steps++);
		}
	}
}
