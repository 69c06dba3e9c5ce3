/*
 * execer: leaks, then replaces its image with another program, so that a
 * test can see what memtrace makes of a traced process that execs.
 *
 *   execer [--wait] PROG [ARGS...]
 *
 *   leak_before_exec   4 x malloc(1500), kept: live_bytes 6000, live_allocs 4
 *   then execv(PROG, {PROG, ARGS...}) at once, in the same process (same
 *   pid). execer prints no "done": PROG speaks for itself. With --wait,
 *   PROG runs with MT_WAIT=1 (a workload's --wait: it prints "ready" again
 *   and waits for its own SIGUSR1). Exits 127 if the exec fails.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wl_common.h"

void *volatile kept[4];

NOINLINE void leak_before_exec(void)
{
	for (int i = 0; i < WL_TIMES(4); i++) {
		void *p = malloc(1500);
		if (p)
			memset(p, 0xA5, 1500);
		kept[i] = p;
	}
}

/*
 * The environment for PROG: wl_start() took --wait out of argv, so it is
 * passed on as MT_WAIT=1. Built in static storage: setenv() would malloc,
 * and that would show up in the figures.
 */
static char **exec_env(void)
{
	extern char **environ;
	static char *env[256];
	static char wait_var[] = "MT_WAIT=1";
	size_t n = 0;

	for (char **e = environ; *e && n < 254; e++)
		if (strncmp(*e, "MT_WAIT=", 8))
			env[n++] = *e;
	if (wl_wait_mode)
		env[n++] = wait_var;
	env[n] = NULL;
	return env;
}

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	if (argc < 2) {
		wl_say("usage: execer [--wait] PROG [ARGS...]");
		return 2;
	}
	leak_before_exec();
	execve(argv[1], argv + 1, exec_env());
	wl_say("exec %s failed", argv[1]);
	return 127;
}
