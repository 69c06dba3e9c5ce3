/*
 * dlopener: loads a library with dlopen once running (libdlleak.so, next
 * to the executable, built without frame pointers) and allocates from it:
 *
 *   dl_make <- dl_fill <- main   12 x malloc(768) in the library, kept:
 *                                live 9216 bytes
 *
 * The library's code is mapped after memtrace published the process's
 * modules: its table must be loaded when it is mapped, or its frames
 * unwound once it is.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wl_common.h"

/* Not on main's stack: a frame of 8 KiB of locals is not what this program is about. */
static char exe[PATH_MAX], lib[PATH_MAX + 32];

int main(int argc, char **argv)
{
	void (*fill)(int);
	ssize_t n;
	void *h;
	char *slash;

	wl_start(&argc, argv);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(lib, sizeof(lib), "%s/libdlleak.so", exe);
	h = dlopen(lib, RTLD_NOW);
	if (!h) {
		wl_say("dlopen %s failed", lib);
		return 1;
	}
	fill = (void (*)(int))dlsym(h, "dl_fill");
	if (!fill)
		return 1;
	fill(WL_TIMES(12));
	wl_done_and_linger();
	return 0;
}
