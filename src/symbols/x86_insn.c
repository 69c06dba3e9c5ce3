/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small x86-64 instruction decoder: lengths of every instruction (legacy,
 * REX, VEX and EVEX encodings), branch targets, and, for the forms compilers
 * put in function prologues, which registers an instruction writes. Anything
 * it does not know is reported as such, so callers can fall back to the
 * function's first byte.
 */
#include <string.h>
#include "symbols/x86_insn.h"

/* Opcode classes of the one-byte map. */
enum {
	B_NONE,		/* no operand bytes */
	B_MODRM,	/* ModRM */
	B_MODRM_I8,	/* ModRM + imm8 */
	B_MODRM_IZ,	/* ModRM + imm16/32 */
	B_I8,		/* imm8 */
	B_IZ,		/* imm16/32 */
	B_I16,		/* imm16 */
	B_REL8,		/* rel8 branch */
	B_REL32,	/* rel32 branch */
	B_BAD,		/* invalid in 64-bit mode, or a prefix handled elsewhere */
};

static unsigned char one_byte_class(uint8_t op)
{
	if (op < 0x40) {
		switch (op & 7) {
		case 0: case 1: case 2: case 3: return B_MODRM;
		case 4: return B_I8;
		case 5: return B_IZ;
		default:
			/* 0f escape, segment prefixes, invalid ones: not opcodes here. */
			return B_BAD;
		}
	}
	if (op < 0x50)
		return B_BAD;		/* REX */
	if (op < 0x60)
		return B_NONE;		/* push/pop reg */
	switch (op) {
	case 0x63: return B_MODRM;
	case 0x68: return B_IZ;
	case 0x69: return B_MODRM_IZ;
	case 0x6a: return B_I8;
	case 0x6b: return B_MODRM_I8;
	case 0x6c: case 0x6d: case 0x6e: case 0x6f: return B_NONE;
	}
	if (op >= 0x70 && op <= 0x7f)
		return B_REL8;
	switch (op) {
	case 0x80: case 0x83: return B_MODRM_I8;
	case 0x81: return B_MODRM_IZ;
	}
	if (op >= 0x84 && op <= 0x8f)
		return B_MODRM;
	if (op >= 0x90 && op <= 0x9f)
		return op == 0x9a ? B_BAD : B_NONE;
	if (op >= 0xa0 && op <= 0xa3)
		return B_BAD;		/* moffs: rare, 8-byte address; not decoded */
	if (op >= 0xa4 && op <= 0xa7)
		return B_NONE;
	if (op == 0xa8)
		return B_I8;
	if (op == 0xa9)
		return B_IZ;
	if (op >= 0xaa && op <= 0xaf)
		return B_NONE;
	if (op >= 0xb0 && op <= 0xb7)
		return B_I8;
	if (op >= 0xb8 && op <= 0xbf)
		return B_IZ;		/* imm64 with REX.W: see below */
	switch (op) {
	case 0xc0: case 0xc1: case 0xc6: return B_MODRM_I8;
	case 0xc7: return B_MODRM_IZ;
	case 0xc2: case 0xca: return B_I16;
	case 0xc3: case 0xc9: case 0xcb: case 0xcc: case 0xcf: return B_NONE;
	case 0xcd: return B_I8;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3: return B_MODRM;
	case 0xd7: return B_NONE;
	}
	if (op >= 0xd8 && op <= 0xdf)
		return B_MODRM;		/* x87 */
	if (op >= 0xe0 && op <= 0xe3)
		return B_REL8;		/* loop, jrcxz */
	if (op >= 0xe4 && op <= 0xe7)
		return B_I8;
	switch (op) {
	case 0xe8: case 0xe9: return B_REL32;
	case 0xeb: return B_REL8;
	case 0xec: case 0xed: case 0xee: case 0xef: return B_NONE;
	case 0xf1: case 0xf4: case 0xf5: return B_NONE;
	case 0xf6: case 0xf7: return B_MODRM;	/* test has an immediate: see below */
	case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd: return B_NONE;
	case 0xfe: case 0xff: return B_MODRM;
	}
	return B_BAD;
}

/* Two-byte map (0f xx): operand bytes after the opcode. */
static unsigned char two_byte_class(uint8_t op)
{
	switch (op) {
	case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b: case 0x0e:
	case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x37:
	case 0x77: case 0xa0: case 0xa1: case 0xa2: case 0xa8: case 0xa9: case 0xaa:
		return B_NONE;
	case 0x70: case 0x71: case 0x72: case 0x73: case 0xa4: case 0xac: case 0xba:
	case 0xc2: case 0xc4: case 0xc5: case 0xc6: case 0x0f:
		return B_MODRM_I8;
	case 0x04: case 0x0a: case 0x0c: case 0x36: case 0x39: case 0x3b: case 0x3c:
	case 0x3d: case 0x3e: case 0x3f: case 0x7a: case 0x7b: case 0xa6: case 0xa7:
		return B_BAD;
	}
	if (op >= 0x80 && op <= 0x8f)
		return B_REL32;
	if (op >= 0xc8 && op <= 0xcf)
		return B_NONE;		/* bswap */
	return B_MODRM;
}

/* Length of ModRM + SIB + displacement at p, or 0 if past end. */
static size_t modrm_len(const uint8_t *p, size_t avail, bool addr32)
{
	uint8_t modrm, mod, rm;
	size_t n = 1;

	(void)addr32;
	if (avail < 1)
		return 0;
	modrm = p[0];
	mod = modrm >> 6;
	rm = modrm & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) {
		if (avail < 2)
			return 0;
		n++;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;		/* no base: disp32 */
	} else if (mod == 0 && rm == 5) {
		n += 4;			/* rip-relative */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= avail ? n : 0;
}

static void set_dest(struct x86_insn *in, unsigned reg, bool byte_op, bool rex)
{
	in->writes |= 1u << reg;
	/* ah, ch, dh, bh without REX: the high byte of rax, rcx, rdx, rbx. */
	if (byte_op && !rex && reg >= 4 && reg < 8)
		in->writes |= 1u << (reg - 4);
}

/*
 * Which registers a decoded one-byte-map instruction writes, for the forms
 * prologues use; anything else is marked unknown.
 */
static void one_byte_effects(struct x86_insn *in, uint8_t op, const uint8_t *modrm_p, uint8_t rex)
{
	uint8_t modrm = modrm_p ? modrm_p[0] : 0;
	unsigned reg = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
	unsigned rm = (modrm & 7) | ((rex & 1) ? 8 : 0);
	bool rm_is_reg = modrm_p && (modrm >> 6) == 3, byte_op;

	in->effects_known = true;
	if (op < 0x40 && (op & 7) <= 5) {
		unsigned alu = op >> 3;	/* add or adc and sub sbb xor cmp */

		byte_op = !(op & 1);
		if (alu == 7)
			return;			/* cmp: flags only */
		if ((op & 7) <= 1) {		/* r/m <- r */
			if (rm_is_reg)
				set_dest(in, rm, byte_op, rex);
		} else if ((op & 7) <= 3) {	/* r <- r/m */
			set_dest(in, reg, byte_op, rex);
		} else {
			set_dest(in, 0, (op & 7) == 4, true);	/* al/eax/rax, imm */
		}
		return;
	}
	if (op >= 0x50 && op <= 0x57) {
		in->writes |= 1u << X86_RSP;
		in->is_push = true;
		return;
	}
	if (op >= 0xb0 && op <= 0xbf) {
		set_dest(in, (op & 7) | ((rex & 1) ? 8 : 0), op < 0xb8, rex);
		return;
	}
	switch (op) {
	case 0x84: case 0x85: case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d:
	case 0xa8: case 0xa9:
		return;				/* test, cmp */
	case 0x63: case 0x8b: case 0x8a: case 0x8d: case 0x69: case 0x6b:
		set_dest(in, reg, op == 0x8a, rex);	/* movsxd, mov, lea, imul */
		if (op == 0x8b && rm_is_reg && (rex & 8)) {
			in->copy_from = (int8_t)rm;
			in->copy_to = (int8_t)reg;
		}
		return;
	case 0x88: case 0x89: case 0xc6: case 0xc7:
		if (rm_is_reg)
			set_dest(in, rm, op == 0x88 || op == 0xc6, rex);
		if (op == 0x89 && rm_is_reg && (rex & 8)) {
			in->copy_from = (int8_t)reg;
			in->copy_to = (int8_t)rm;
		}
		return;				/* a store writes memory, not registers */
	case 0x80: case 0x81: case 0x83:
		if (((modrm >> 3) & 7) != 7 && rm_is_reg)
			set_dest(in, rm, op == 0x80, rex);
		return;
	case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		if (rm_is_reg)
			set_dest(in, rm, !(op & 1), rex);
		return;
	case 0xf6: case 0xf7:
		if (((modrm >> 3) & 7) <= 1)
			return;			/* test imm */
		break;
	case 0x90:
		return;
	case 0x98: case 0x99:
		in->writes |= (1u << 0) | (1u << 2);	/* cbw family, cwd family */
		return;
	}
	in->effects_known = false;
}

/* A rip-relative operand counts from the next instruction: known once len is. */
static void rip_operand(struct x86_insn *in, const uint8_t *modrm_p, uint64_t addr)
{
	int32_t disp;

	if (!modrm_p || (modrm_p[0] & 0xc7) != 0x05)
		return;
	memcpy(&disp, modrm_p + 1, 4);
	in->rip_rel = true;
	in->mem_target = addr + in->len + (int64_t)disp;
}

int x86_insn__decode(const uint8_t *code, size_t avail, uint64_t addr, struct x86_insn *in)
{
	size_t i = 0, n;
	bool opsize16 = false, addr32 = false, prefixed;
	uint8_t rex = 0, op, cls;
	const uint8_t *modrm_p = NULL;

	memset(in, 0, sizeof(*in));
	in->copy_from = in->copy_to = -1;
	/* Legacy prefixes, at most 14 (an instruction is at most 15 bytes). */
	while (i < avail && i < 14) {
		uint8_t b = code[i];

		if (b == 0x66)
			opsize16 = true;
		else if (b == 0x67)
			addr32 = true;
		else if (!(b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x2e || b == 0x36 ||
			   b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65))
			break;
		i++;
	}
	prefixed = i > 0;
	if (i < avail && (code[i] & 0xf0) == 0x40)
		rex = code[i++];
	if (i >= avail)
		return -1;
	op = code[i++];

	if (op == 0xc4 || op == 0xc5 || op == 0x62) {
		/* VEX (c4: 3 bytes, c5: 2) and EVEX (62: 4): a map, then ModRM. */
		unsigned map;
		size_t plen = op == 0xc5 ? 1 : op == 0xc4 ? 2 : 3;

		if (i + plen >= avail)
			return -1;
		map = op == 0xc5 ? 1 : code[i] & (op == 0x62 ? 3 : 0x1f);
		if (map < 1 || map > 3)
			return -1;
		i += plen;
		i++;			/* opcode */
		modrm_p = code + i;
		n = modrm_len(code + i, avail - i, addr32);
		if (!n)
			return -1;
		i += n;
		if (map == 3)
			i++;		/* imm8 */
		else if (map == 1) {
			uint8_t o = code[i - n - 1];

			if ((o >= 0x70 && o <= 0x73) || o == 0xc2 || o == 0xc4 || o == 0xc5 ||
			    o == 0xc6)
				i++;
		}
		if (i > avail || i > 15)
			return -1;
		in->len = (uint8_t)i;
		rip_operand(in, modrm_p, addr);
		return 0;
	}

	if (op == 0x0f) {
		uint8_t op2;

		if (i >= avail)
			return -1;
		op2 = code[i++];
		if (op2 == 0x38 || op2 == 0x3a) {
			if (i >= avail)
				return -1;
			i++;		/* third opcode byte */
			modrm_p = code + i;
			n = modrm_len(code + i, avail - i, addr32);
			if (!n)
				return -1;
			i += n + (op2 == 0x3a);
		} else {
			cls = two_byte_class(op2);
			if (cls == B_BAD)
				return -1;
			if (cls == B_REL32) {
				int32_t rel;

				if (i + 4 > avail)
					return -1;
				memcpy(&rel, code + i, 4);
				i += 4;
				in->is_branch = true;
				in->is_cond = true;
				in->target = addr + i + (int64_t)rel;
			} else if (cls != B_NONE) {
				modrm_p = code + i;
				n = modrm_len(code + i, avail - i, addr32);
				if (!n)
					return -1;
				i += n + (cls == B_MODRM_I8);
			}
			in->effects_known = true;
			if ((op2 == 0xb6 || op2 == 0xb7 || op2 == 0xbe || op2 == 0xbf ||
			     (op2 >= 0x40 && op2 <= 0x4f) || op2 == 0xaf) && modrm_p) {
				/* movzx, movsx, cmov, imul: into the reg field */
				set_dest(in, ((modrm_p[0] >> 3) & 7) | ((rex & 4) ? 8 : 0), false, rex);
			} else if (op2 >= 0x90 && op2 <= 0x9f && modrm_p) {
				/* setcc */
				if ((modrm_p[0] >> 6) == 3)
					set_dest(in, (modrm_p[0] & 7) | ((rex & 1) ? 8 : 0), true, rex);
			} else if (!(op2 == 0x1f && modrm_p) && !(op2 == 0x1e && i == 4) &&
				   cls != B_REL32) {
				/* neither a multi-byte nop nor endbr64 */
				in->effects_known = false;
			}
		}
		if (i > avail || i > 15)
			return -1;
		in->len = (uint8_t)i;
		in->is_endbr = in->len == 4 && code[0] == 0xf3 && code[1] == 0x0f &&
			       code[2] == 0x1e && code[3] == 0xfa;
		/* jcc rel32 and endbr64 are emulated; other 0f opcodes are stepped. */
		in->emulated = in->is_endbr || (in->is_branch && !prefixed && !rex);
		rip_operand(in, modrm_p, addr);
		return 0;
	}

	cls = one_byte_class(op);
	switch (cls) {
	case B_BAD:
		return -1;
	case B_NONE:
		break;
	case B_I8:
		i += 1;
		break;
	case B_I16:
		i += 2;
		break;
	case B_IZ:
		if (op >= 0xb8 && op <= 0xbf && (rex & 8))
			i += 8;
		else
			i += opsize16 ? 2 : 4;
		break;
	case B_REL8:
	case B_REL32: {
		int32_t rel = 0;
		size_t w = cls == B_REL8 ? 1 : 4;

		if (i + w > avail)
			return -1;
		if (w == 1)
			rel = (int8_t)code[i];
		else
			memcpy(&rel, code + i, 4);
		i += w;
		in->is_branch = true;
		in->is_call = op == 0xe8;
		in->is_cond = (op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3);
		in->target = addr + i + (int64_t)rel;
		in->effects_known = true;
		break;
	}
	default:
		modrm_p = code + i;
		n = modrm_len(code + i, avail - i, addr32);
		if (!n)
			return -1;
		i += n;
		if (cls == B_MODRM_I8)
			i += 1;
		else if (cls == B_MODRM_IZ)
			i += opsize16 ? 2 : 4;
		else if ((op == 0xf6 || op == 0xf7) && ((code[i - n] >> 3) & 7) <= 1)
			i += op == 0xf6 ? 1 : opsize16 ? 2 : 4;	/* test r/m, imm */
		break;
	}
	if (i > avail || i > 15)
		return -1;
	in->len = (uint8_t)i;
	if (!in->is_branch)
		one_byte_effects(in, op, modrm_p, rex);
	/* Indirect jumps and calls, returns: control leaves the straight line. */
	if (op == 0xc3 || op == 0xc2 || (op == 0xff && modrm_p &&
					 ((modrm_p[0] >> 3) & 7) >= 2 && ((modrm_p[0] >> 3) & 7) <= 5)) {
		in->leaves = true;
		in->effects_known = false;
		in->is_indirect_call = op == 0xff && ((modrm_p[0] >> 3) & 7) <= 3;
	}
	/*
	 * What the kernel's uprobes emulate instead of single-stepping (x86
	 * branch_setup_xol_ops, push_setup_xol_ops): call/jmp rel, jcc rel8
	 * (loop and jrcxz are stepped), nop, push of a 64-bit register.
	 */
	if (prefixed)
		in->emulated = false;
	else if (in->is_branch)
		in->emulated = op == 0xe8 || op == 0xe9 || op == 0xeb || (op >= 0x70 && op <= 0x7f);
	else if (in->is_push)
		in->emulated = !(rex & ~0x41);
	else
		in->emulated = op == 0x90 && !rex;
	rip_operand(in, modrm_p, addr);
	return 0;
}
