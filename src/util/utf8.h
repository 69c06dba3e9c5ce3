/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* UTF-8 checks shared by what memtrace writes and what it reads back. */
#ifndef MEMTRACE_UTF8_H
#define MEMTRACE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), 0 if none. */
size_t mt_utf8_seq_len(const unsigned char *p, size_t n);
/*
 * The code point at s (a NUL-terminated string) and the bytes it takes; a
 * malformed sequence is U+FFFD and one byte long, so decoding always moves on.
 */
size_t mt_utf8_next(const unsigned char *s, uint32_t *cp);

#endif
