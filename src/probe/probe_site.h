/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MEMTRACE_PROBE_SITE_H
#define MEMTRACE_PROBE_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most arguments a probe reads (posix_memalign's three, reallocarray's). */
#define PROBE_SITE_MAX_ARGS 3

struct probe_site {
	uint64_t offset;	/* from the function's start */
	bool emulated;		/* false: every hit costs a single-step trap */
	const char *why;	/* when not emulated: why no better site was found */
	/* Where each tracked argument is at the site (X86_*), and whether any moved. */
	uint8_t arg_reg[PROBE_SITE_MAX_ARGS];
	bool args_moved;
};

/*
 * Where to put the uprobe (and uretprobe) of a function whose code
 * (len bytes: the whole function when its size is known) starts at addr.
 *
 * x86 uprobes emulate a few instructions (push reg, jmp/jcc/call rel, nop,
 * endbr64) and single-step every other one out of line, which costs a
 * second trap, ~15x the probe itself on some machines. The site is the
 * first emulated instruction on the straight-line path from the start
 * before which no instruction writes the stack or frame pointer or a
 * register in keep (bit per X86_* register), and each of the nr_args
 * arguments (args: their registers at the start, at most
 * PROBE_SITE_MAX_ARGS) is still in some register: a 64-bit register move
 * carries it along (a shim that shuffles its arguments before jumping on,
 * as mimalloc's mi_malloc_aligned does), and arg_reg says where. The entry
 * probe then reads the arguments it would read at the start, and the
 * caller's return address is still at the stack pointer, where a return
 * probe hijacks it. No branch in the function may lead into the skipped
 * instructions or onto the site. Otherwise the site is the start.
 */
void probe_site__choose(const uint8_t *code, size_t len, uint64_t addr, uint32_t keep,
			const uint8_t *args, size_t nr_args, struct probe_site *out);

#endif
