/*
 * sigalloc: allocations made in a signal handler. The handler's caller is
 * the kernel's signal frame (libc's __restore_rt, whose unwind rule is a
 * CFI expression the BPF walker does not follow): the walk stops there and
 * says so, rather than guessing a caller.
 *
 *   alloc_in_handler   3 x malloc(333), kept: live 999 bytes, the stack
 *                      marked truncated (stack_cut)
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

void *volatile g_sig_blocks[3];

NOINLINE void alloc_in_handler(int sig)
{
	for (int i = 0; i < WL_TIMES(3); i++) {
		g_sig_blocks[i] = malloc(333);
		if (g_sig_blocks[i])
			memset(g_sig_blocks[i], sig, 333);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	wl_start(&argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = alloc_in_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	raise(SIGUSR2);
	wl_done_and_linger();
	return 0;
}
