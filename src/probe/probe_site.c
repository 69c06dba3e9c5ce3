/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include "probe/probe_site.h"
#include "symbols/x86_insn.h"

/* How far into a function the straight-line walk may go: prologues only. */
#define MAX_WALK_BYTES 96
#define MAX_WALK_INSNS 16

static void at_start(const uint8_t *code, size_t len, uint64_t addr, const uint8_t *args,
		     size_t nr_args, const char *why, struct probe_site *out)
{
	struct x86_insn in;
	size_t k;

	out->offset = 0;
	out->emulated = !x86_insn__decode(code, len, addr, &in) && in.emulated;
	out->why = out->emulated ? NULL : why;
	out->args_moved = false;
	for (k = 0; k < nr_args; k++)
		out->arg_reg[k] = args[k];
}

void probe_site__choose(const uint8_t *code, size_t len, uint64_t addr, uint32_t keep,
			const uint8_t *args, size_t nr_args, struct probe_site *out)
{
	/* Per argument, the registers holding its value: a move may copy it. */
	uint32_t holders[PROBE_SITE_MAX_ARGS];
	struct x86_insn in;
	size_t off = 0, n, k;
	uint64_t site = 0;

	if (nr_args > PROBE_SITE_MAX_ARGS)
		nr_args = PROBE_SITE_MAX_ARGS;
	for (k = 0; k < nr_args; k++)
		holders[k] = 1u << args[k];
	/* The frame-pointer walk starts from rbp as the caller left it. */
	keep |= 1u << X86_RSP | 1u << X86_RBP;
	for (n = 0; off < len && off < MAX_WALK_BYTES && n < MAX_WALK_INSNS; n++) {
		if (x86_insn__decode(code + off, len - off, addr + off, &in))
			return at_start(code, len, addr, args, nr_args, "an instruction not decoded",
					out);
		if (in.emulated) {
			site = off;
			break;
		}
		if (in.is_branch || in.leaves)
			return at_start(code, len, addr, args, nr_args, "a branch that is stepped",
					out);
		if (!in.effects_known || (in.writes & keep))
			return at_start(code, len, addr, args, nr_args,
					"an argument register or the stack pointer changes first", out);
		for (k = 0; k < nr_args; k++) {
			bool copied = in.copy_from >= 0 && (holders[k] >> in.copy_from & 1);

			holders[k] &= ~in.writes;
			if (copied)
				holders[k] |= 1u << in.copy_to;
			if (!holders[k])
				return at_start(code, len, addr, args, nr_args,
						"an argument register changes first", out);
		}
		off += in.len;
	}
	if (!site)
		return at_start(code, len, addr, args, nr_args,
				off ? "no emulated instruction in the prologue" :
				"the first instruction is stepped", out);
	/*
	 * A branch into the skipped instructions or onto the site would run the
	 * probe again, or with other register values: the whole function is
	 * decoded, and any such branch sends the probe back to the start. (A
	 * branch to the start itself is a new call as far as the probe is
	 * concerned, wherever it sits.)
	 */
	for (off = 0; off < len; off += in.len) {
		if (x86_insn__decode(code + off, len - off, addr + off, &in))
			return at_start(code, len, addr, args, nr_args,
					"the function is not fully decoded", out);
		if (in.is_branch && in.target > addr && in.target <= addr + site)
			return at_start(code, len, addr, args, nr_args,
					"a branch jumps into the prologue", out);
	}
	out->offset = site;
	out->emulated = true;
	out->why = NULL;
	out->args_moved = false;
	for (k = 0; k < nr_args; k++) {
		out->arg_reg[k] = holders[k] >> args[k] & 1 ? args[k] :
				  (uint8_t)__builtin_ctz(holders[k]);
		out->args_moved |= out->arg_reg[k] != args[k];
	}
}
