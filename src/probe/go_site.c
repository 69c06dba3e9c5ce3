// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include "probe/go_site.h"
#include "symbols/x86_insn.h"

/* The most instructions between the barrier's call and gcmarknewobject's. */
#define MAX_TAIL 48
#define NO_SLOT (-1)

/* A 64-bit mov between registers or from a stack slot, as Go's compiler emits them. */
struct mov {
	int dst;		/* register written, or NO_SLOT for a store */
	int src_reg;		/* register read, or NO_SLOT */
	long slot;		/* rsp-relative slot read or written, or NO_SLOT */
};

static bool decode_mov(const uint8_t *c, size_t len, struct mov *m)
{
	uint8_t rex, op, modrm, mod, reg, rm;
	long disp;

	if (len < 3 || (c[0] & 0xf8) != 0x48)
		return false;
	rex = c[0];
	op = c[1];
	modrm = c[2];
	if (op != 0x8b && op != 0x89)
		return false;
	mod = modrm >> 6;
	reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
	rm = (modrm & 7) | ((rex & 1) << 3);
	m->src_reg = m->dst = NO_SLOT;
	m->slot = NO_SLOT;
	if (mod == 3) {
		m->dst = op == 0x8b ? reg : rm;
		m->src_reg = op == 0x8b ? rm : reg;
		return true;
	}
	/* Only [rsp + disp]: ModRM rm 100 with SIB 0x24 (no index, base rsp), no REX.X/B. */
	if ((modrm & 7) != 4 || (rex & 3) || len < 4 || c[3] != 0x24 || mod == 0)
		return false;
	if (mod == 1) {
		if (len < 5)
			return false;
		disp = (int8_t)c[4];
	} else {
		int32_t d;

		if (len < 8)
			return false;
		memcpy(&d, c + 4, 4);
		disp = d;
	}
	if (disp < 0)
		return false;
	m->slot = disp;
	if (op == 0x8b)
		m->dst = reg;
	return true;
}

int go_site__publish(const uint8_t *code, size_t len, uint64_t addr, uint64_t barrier,
		     uint64_t marknew, struct go_publish_site *out)
{
	long from_slot[16], stored[MAX_TAIL];
	size_t off = 0, site = 0, n_stored = 0, k, i;
	struct x86_insn in;
	struct mov m;
	bool found = false;
	int r;

	/* The first call of publicationBarrier: the one on the common path. */
	while (off < len) {
		if (x86_insn__decode(code + off, len - off, addr + off, &in))
			return -ENOENT;
		if (in.is_call && in.is_branch && in.target == barrier) {
			site = off;
			found = true;
			off += in.len;
			break;
		}
		off += in.len;
	}
	if (!found)
		return -ENOENT;
	for (r = 0; r < 16; r++)
		from_slot[r] = NO_SLOT;
	/* Follow which slot each register was loaded from, up to the call taking x in rbx. */
	for (k = 0; k < MAX_TAIL && off < len; k++) {
		if (x86_insn__decode(code + off, len - off, addr + off, &in))
			return -ENOENT;
		if (in.is_call) {
			if (!in.is_branch || in.target != marknew)
				return -ENOENT;
			/* gcmarknewobject(span, x, ...): rax and rbx, reloaded from their slots. */
			if (from_slot[X86_RAX] == NO_SLOT || from_slot[X86_RBX] == NO_SLOT ||
			    from_slot[X86_RAX] == from_slot[X86_RBX])
				return -ENOENT;
			/* The slots hold them all along: nothing stored there since the site. */
			for (i = 0; i < n_stored; i++)
				if (stored[i] == from_slot[X86_RAX] || stored[i] == from_slot[X86_RBX])
					return -ENOENT;
			out->offset = site;
			out->span_slot = (uint32_t)from_slot[X86_RAX];
			out->x_slot = (uint32_t)from_slot[X86_RBX];
			return 0;
		}
		if (in.leaves)
			return -ENOENT;
		if (decode_mov(code + off, len - off, &m)) {
			if (m.dst == NO_SLOT)
				stored[n_stored++] = m.slot;
			else if (m.slot != NO_SLOT)
				from_slot[m.dst] = m.slot;
			else
				from_slot[m.dst] = from_slot[m.src_reg];
		} else if (in.effects_known) {
			for (r = 0; r < 16; r++)
				if (in.writes & (1u << r))
					from_slot[r] = NO_SLOT;
		} else {
			for (r = 0; r < 16; r++)
				from_slot[r] = NO_SLOT;
		}
		off += in.len;
	}
	return -ENOENT;
}
