/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MEMTRACE_X86_INSN_H
#define MEMTRACE_X86_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Register numbers as ModRM encodes them (REX extends to 8..15). */
enum {
	X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
	X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
};

struct x86_insn {
	uint8_t len;
	bool emulated;		/* the kernel emulates it when a uprobe sits on it */
	bool is_branch;		/* direct jmp, jcc, call, loop: target is set */
	bool is_cond;
	bool is_call;		/* call rel32 (is_branch) */
	bool is_indirect_call;	/* call through a register or memory */
	bool is_push;
	bool is_endbr;
	bool leaves;		/* ret, indirect jmp or call */
	bool effects_known;	/* writes lists every register it writes */
	uint32_t writes;	/* bit per register (X86_*) */
	uint64_t target;	/* branch target address */
	/* A 64-bit register-to-register mov: copy_from's value is in copy_to (else both -1). */
	int8_t copy_from, copy_to;
	bool rip_rel;		/* a memory operand relative to rip: mem_target is set */
	uint64_t mem_target;	/* the address that operand names */
};

/*
 * Decode the instruction at code (avail bytes readable), which sits at
 * address addr (for branch targets). Returns 0, or -1 when the bytes are
 * not an instruction this decoder knows.
 */
int x86_insn__decode(const uint8_t *code, size_t avail, uint64_t addr, struct x86_insn *in);

#endif
