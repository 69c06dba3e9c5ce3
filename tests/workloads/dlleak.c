/* libdlleak.so, dlopened by dlopener (see dlopener.c); built without frame pointers. */
#include <stdlib.h>
#include <string.h>

void *volatile g_dl_blocks[64];

__attribute__((noinline, noclone)) static void *dl_make(size_t n)
{
	void *p = malloc(n);

	if (p)
		memset(p, 0x77, n);
	return p;
}

__attribute__((noinline, noclone)) void dl_fill(int n)
{
	for (int i = 0; i < n && i < 64; i++)
		g_dl_blocks[i] = dl_make(768);
}
