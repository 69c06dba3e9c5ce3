/*
 * forker: a parent that forks children which allocate and free, so that a
 * test can check that only the traced process's own calls are counted
 * (memtrace's probes are per process: children are not traced).
 *
 *   forker [--wait] [CHILDREN]    (default 3)
 *
 *   leak_in_parent      4 x malloc(1500), kept: live_bytes 6000, live_allocs 4
 *   CHILDREN times, one after the other: fork; the child
 *     free_inherited    frees the 4 blocks it inherited (its copies: the
 *                       parent's stay live)
 *     leak_in_child     5 x malloc(700), kept
 *     and exits 0 (_exit); the parent waits for it.
 *   parent_after_fork   2 x malloc(2500), kept: live_bytes 5000, live_allocs 2
 *   then "done".
 *
 * The parent's figures: exactly the two stacks above, heap live_bytes 11000,
 * allocs_total 6, frees_total 0. Exits 1 if a child failed.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl_common.h"

void *volatile parent_kept[4];
void *volatile child_kept[5];
void *volatile after_kept[2];

NOINLINE void leak_in_parent(void)
{
	for (int i = 0; i < WL_TIMES(4); i++) {
		void *p = malloc(1500);
		if (p)
			memset(p, 0xA5, 1500);
		parent_kept[i] = p;
	}
}

NOINLINE void free_inherited(void)
{
	for (int i = 0; i < WL_TIMES(4); i++)
		free(parent_kept[i]);
}

NOINLINE void leak_in_child(void)
{
	for (int i = 0; i < WL_TIMES(5); i++) {
		void *p = malloc(700);
		if (p)
			memset(p, 0x5A, 700);
		child_kept[i] = p;
	}
}

NOINLINE void parent_after_fork(void)
{
	for (int i = 0; i < WL_TIMES(2); i++) {
		void *p = malloc(2500);
		if (p)
			memset(p, 0x3C, 2500);
		after_kept[i] = p;
	}
}

int main(int argc, char **argv)
{
	int children = 3, failed = 0;

	wl_start(&argc, argv);
	if (argc > 1)
		children = atoi(argv[1]);
	leak_in_parent();
	for (int i = 0; i < children; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			failed = 1;
			break;
		}
		if (pid == 0) {
			free_inherited();
			leak_in_child();
			_exit(0);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	}
	parent_after_fork();
	if (failed)
		wl_done_and_exit(1);
	wl_done_and_linger();
	return 0;
}
