/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every output meant for people shares: how a frame is named, how a
 * byte count reads, and how names from the traced program are kept from
 * meaning anything to a terminal or to a file format. One place, so that
 * the text report, the diff, the folded stacks, the flame graph and the
 * display name the same frame the same way.
 */
#ifndef MEMTRACE_FORMAT_H
#define MEMTRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "report/report.h"

/* What a name from the traced program may not hold where it is written. */
enum mt_clean {
	MT_CLEAN_NONE = 0,	/* the caller escapes it itself (SVG, curses) */
	MT_CLEAN_TERMINAL = 1,	/* control characters become '?' */
	MT_CLEAN_FOLDED = 2,	/* control characters become ' ', ';' (the frame separator) ':' */
};

/*
 * A frame's label is its function name; a frame without one is named by
 * its module and offset, "libfoo.so+0x1f00", or "[unknown]" without a
 * module. The flags say what the outputs differ in; an enum mt_clean value
 * may be or'ed in to clean the names in the label.
 */
enum mt_frame_flags {
	MT_FRAME_BASENAME = 1 << 2,	/* the module by its file name, not its path */
	MT_FRAME_UNKNOWN_OFFSET = 1 << 3,	/* "[unknown] 0x1f00" rather than "[unknown]" */
	MT_FRAME_FUNC_MODULE = 1 << 4,	/* a named frame as "function (module)" */
	MT_FRAME_NO_FUNCTION = 1 << 5,	/* module and offset even for a named frame: the
					 * caller shows the name in a column of its own */
	MT_FRAME_SOURCE = 1 << 6,	/* then "  file:line" and "  (inlined)" when known */
};
/* A Python frame (mt_frame.python) is "function (file:line)" in every output. */

/* The label in buf, cut to len - 1 bytes and NUL-terminated as snprintf()
 * does; returns its whole length. */
size_t mt_frame_label(char *buf, size_t len, const struct mt_frame *fr, unsigned int flags);
void mt_frame_fput(FILE *f, const struct mt_frame *fr, unsigned int flags);

/* At most max bytes of s, up to its NUL, cleaned; returns the bytes written. */
size_t mt_fput_clean(FILE *f, const char *s, size_t max, enum mt_clean how);

/* "12.3 MiB" style; returns buf. */
const char *mt_human_bytes(double bytes, char *buf, size_t len);
/* 3400112 -> "3,400,112"; returns buf. */
const char *mt_count_str(uint64_t n, char *buf, size_t len);

#endif /* MEMTRACE_FORMAT_H */
