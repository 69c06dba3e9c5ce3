/*
 * The start/stop protocol shared by every memtrace test workload.
 *
 *   workload [--wait] [ARGS...]      (MT_WAIT=1 in the environment = --wait)
 *
 * Without --wait: do the work, print "done", exit 0.
 * With --wait:    print "ready <pid>", block until SIGUSR1, do the work,
 *                 print "done", then block until SIGTERM or SIGINT and
 *                 exit 0.
 * MT_LINGER=1:    do the work at once, print "done", then block as --wait
 *                 does (a process that allocates as soon as it starts, for
 *                 a memtrace already running system-wide).  While blocked after "done", every SIGUSR1 is
 *                 answered with one malloc/free and a "pong" line, so a
 *                 test can check the process still runs (and allocates)
 *                 normally after memtrace detached.
 *
 * All protocol lines go through write(2), never stdio: stdio would malloc
 * its buffer on first use, and those allocations would show up in the
 * figures the tests check.  Nothing here allocates, except wl_pong(),
 * which runs only on a SIGUSR1 after "done".
 */
#ifndef WL_COMMON_H
#define WL_COMMON_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * For every function whose name the tests look for: not inlined, and not
 * cloned by -O2's constant propagation (a clone is named
 * "f.constprop.0", not "f").
 */
#define NOINLINE __attribute__((noinline, noclone))

/*
 * Loop bound for a loop that allocates: -O2 fully unrolls short loops with
 * a known count (even under "#pragma GCC unroll 1"), which makes several
 * call sites, i.e. several stacks where the tests expect one.  Adding a
 * volatile zero hides the count from the compiler.
 */
static volatile int wl_opaque_zero;
#define WL_TIMES(n) ((n) + wl_opaque_zero)

static volatile sig_atomic_t wl_got_usr1;
static volatile sig_atomic_t wl_got_stop;
static int wl_wait_mode;
static int wl_linger_mode;
static sigset_t wl_unblocked;	/* mask to sleep with: our signals let through */

/* printf-like, straight to fd 1 through a stack buffer (no malloc). */
static void wl_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void wl_say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(1, buf + off, n - off);
		if (w <= 0)
			return;
		off += w;
	}
}

static void wl_on_signal(int sig)
{
	if (sig == SIGUSR1)
		wl_got_usr1 = 1;
	else
		wl_got_stop = 1;
}

/*
 * Parse --wait (removing it from argv so the workload sees only its own
 * arguments), and in wait mode announce ourselves and block until SIGUSR1.
 * SIGTERM/SIGINT while waiting to start: exit 0 without doing the work.
 */
static __attribute__((unused)) void wl_start(int *argc, char **argv)
{
	const char *env = getenv("MT_WAIT"), *linger = getenv("MT_LINGER");
	struct sigaction sa;
	sigset_t block;
	int i, j;

	wl_wait_mode = env && strcmp(env, "1") == 0;
	for (i = 1, j = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--wait") == 0)
			wl_wait_mode = 1;
		else
			argv[j++] = argv[i];
	}
	argv[j] = NULL;
	*argc = j;

	wl_linger_mode = linger && strcmp(linger, "1") == 0;
	if (!wl_wait_mode && !wl_linger_mode)
		return;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wl_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* Keep the signals blocked except inside sigsuspend, so none is lost
	 * between testing a flag and going to sleep.  Threads created later
	 * inherit the block, so the main thread is the one that gets them. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &wl_unblocked);
	sigdelset(&wl_unblocked, SIGUSR1);
	sigdelset(&wl_unblocked, SIGTERM);
	sigdelset(&wl_unblocked, SIGINT);
	if (!wl_wait_mode)
		return;

	wl_say("ready %d", (int)getpid());
	while (!wl_got_usr1 && !wl_got_stop)
		sigsuspend(&wl_unblocked);
	if (wl_got_stop)
		exit(0);
	wl_got_usr1 = 0;
}

/*
 * The answer to a SIGUSR1 after "done": one malloc/free first, so a test
 * that sends it after memtrace detached sees the process still allocate
 * normally (no probe left behind), then "pong".
 */
static __attribute__((noinline, unused)) void wl_pong(void)
{
	void *volatile p = malloc(32);

	if (p)
		memset(p, 0, 32);
	free(p);
	wl_say("pong");
}

/* Print "done"; in wait mode, answer SIGUSR1 with "pong" until told to stop. */
static __attribute__((unused)) void wl_done_and_linger(void)
{
	wl_say("done");
	if (!wl_wait_mode && !wl_linger_mode)
		exit(0);
	for (;;) {
		sigsuspend(&wl_unblocked);
		if (wl_got_stop)
			exit(0);
		if (wl_got_usr1) {
			wl_got_usr1 = 0;
			wl_pong();
		}
	}
}

/* Print "done" and exit with STATUS at once, in either mode. */
static __attribute__((unused)) void wl_done_and_exit(int status)
{
	wl_say("done");
	exit(status);
}

#endif /* WL_COMMON_H */
