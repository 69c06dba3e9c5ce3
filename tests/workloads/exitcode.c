/*
 * exitcode: ends with a chosen status, for memtrace's `--` mode, which must
 * exit with its command's status (128+N when the command dies of signal N).
 *
 *   exitcode [--wait] N               leak once, print "done", exit(N)
 *   exitcode [--wait] --signal [SIG]  leak once, print "done", die of signal
 *                                     SIG (a number; default 12, SIGUSR2,
 *                                     which makes no core dump)
 *
 *   leak_once   1 x malloc(100): live_bytes 100, live_allocs 1
 *
 * Like exitleak, it does not linger after "done" even with --wait.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

void *volatile kept;

NOINLINE void leak_once(void)
{
	void *p = malloc(100);
	if (p)
		memset(p, 0xA5, 100);
	kept = p;
}

static void usage(void)
{
	wl_say("usage: exitcode [--wait] N | --signal [SIGNO]");
	exit(2);
}

static int number(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 0 || v > 255)
		usage();
	return (int)v;
}

int main(int argc, char **argv)
{
	int sig = 0, status = 0;
	sigset_t set;

	wl_start(&argc, argv);
	if (argc >= 2 && strcmp(argv[1], "--signal") == 0) {
		sig = argc >= 3 ? number(argv[2]) : SIGUSR2;
		if (sig < 1 || sig >= 65)
			usage();
	} else if (argc == 2) {
		status = number(argv[1]);
	} else {
		usage();
	}

	leak_once();
	if (!sig)
		wl_done_and_exit(status);

	wl_say("done");
	/* --wait blocks and catches some signals: undo that so SIG kills us. */
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	wl_say("still alive after signal %d", sig);
	return 99;
}
