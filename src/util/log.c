/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "util/log.h"

int mt_verbose;

static bool held;
static char *held_buf;
static size_t held_len;
static FILE *held_stream;

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	FILE *f = stderr;

	if (held) {
		if (!held_stream)
			held_stream = open_memstream(&held_buf, &held_len);
		if (held_stream)
			f = held_stream;
	}
	fputs(prefix, f);
	vfprintf(f, fmt, ap);
}

void mt_log_hold(bool hold)
{
	held = hold;
	if (hold || !held_stream)
		return;
	fclose(held_stream);
	held_stream = NULL;
	if (held_buf && held_len)
		fwrite(held_buf, 1, held_len, stderr);
	free(held_buf);
	held_buf = NULL;
	held_len = 0;
}

void mt_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("memtrace: ", fmt, ap);
	va_end(ap);
}

void mt_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("memtrace: warning: ", fmt, ap);
	va_end(ap);
}

void mt_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("memtrace: ", fmt, ap);
	va_end(ap);
}

void mt_debug(const char *fmt, ...)
{
	va_list ap;

	if (mt_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog("memtrace: debug: ", fmt, ap);
	va_end(ap);
}
