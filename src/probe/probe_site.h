/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MEMTRACE_PROBE_SITE_H
#define MEMTRACE_PROBE_SITE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Where to put an entry-only uprobe in a function that starts with code.
 * x86 uprobes emulate a few instructions (push reg, jmp/jcc/call, nop,
 * endbr64) and single-step every other one out of line, which costs a
 * second trap. Starting at the function's first byte, instructions that
 * change neither the stack pointer nor any register are skipped until an
 * emulated one is found; its offset is returned. Returns 0 (the function
 * start) when the code is not understood.
 */
size_t probe_site__pick(const uint8_t *code, size_t len);

#endif
