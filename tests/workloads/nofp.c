/*
 * nofp: a call chain built WITHOUT frame pointers (-fomit-frame-pointer),
 * so that only unwinding from .eh_frame recovers it.
 *
 *   make_buffer   10 x malloc(1000), kept: live_bytes 10000, live_allocs 10
 *                 frames: make_buffer (at the ALLOC_LINE line), parse_body,
 *                 handle_request, main, then libc's start frames.
 *   dup_name      5 x strdup("...") (16 bytes each), kept: live_allocs 5
 *                 frames: strdup (libc), dup_name, main.
 *
 * Everything is kept in volatile globals, so all of it is still live at
 * the end.  The tests find the malloc line by its marker in this file.
 */
#include <stdlib.h>
#include <string.h>

#include "wl_common.h"

void *volatile g_bufs[10];
char *volatile g_names[5];

NOINLINE void *make_buffer(size_t n)
{
	void *p = malloc(n);	/* ALLOC_LINE */

	if (p)
		memset(p, 0x5a, n);
	return p;
}

NOINLINE void parse_body(int i)
{
	g_bufs[i] = make_buffer(1000);
}

NOINLINE void handle_request(int n)
{
	for (int i = 0; i < n; i++)
		parse_body(i);
}

NOINLINE void dup_name(int i)
{
	g_names[i] = strdup("request-name-xx");
}

int main(int argc, char **argv)
{
	wl_start(&argc, argv);
	handle_request(WL_TIMES(10));
	for (int i = 0; i < WL_TIMES(5); i++)
		dup_name(i);
	wl_done_and_linger();
	return 0;
}
