/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MEMTRACE_PROBE_SITE_H
#define MEMTRACE_PROBE_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct probe_site {
	uint64_t offset;	/* from the function's start */
	bool emulated;		/* false: every hit costs a single-step trap */
	const char *why;	/* when not emulated: why no better site was found */
};

/*
 * Where to put the uprobe (and uretprobe) of a function whose code
 * (len bytes: the whole function when its size is known) starts at addr.
 *
 * x86 uprobes emulate a few instructions (push reg, jmp/jcc/call rel, nop,
 * endbr64) and single-step every other one out of line, which costs a
 * second trap, ~15x the probe itself on some machines. The site is the
 * first emulated instruction on the straight-line path from the start
 * before which no instruction writes the stack or frame pointer or a register in
 * keep (bit per X86_* register: the arguments the probe reads): the entry
 * probe reads the arguments it would read at the start, and the caller's
 * return address is still at the stack pointer, where a return probe
 * hijacks it. No branch in the function may lead into the skipped
 * instructions or onto the site. Otherwise the site is the start.
 */
void probe_site__choose(const uint8_t *code, size_t len, uint64_t addr, uint32_t keep,
			struct probe_site *out);

#endif
