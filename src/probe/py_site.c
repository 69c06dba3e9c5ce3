/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "memtrace.h"
#include "probe/py_site.h"
#include "symbols/x86_insn.h"

/* How far a branch to the allocator's call is followed, in instructions. */
#define MAX_PATH 24
/* How far into _PyObject_Malloc its internals are looked for. */
#define MAX_INTERNALS 1024

/* A register's value as a function of the registers (or stack slots) at the site. */
enum { V_UNKNOWN, V_REG, V_CONST, V_STACK };

struct val {
	int kind;
	int reg;		/* V_REG: the site's register */
	bool low32;		/* V_REG: its low 32 bits */
	int64_t add;
};

/* An instruction's operands, for the few forms the paths use. */
struct insn {
	struct x86_insn in;
	uint8_t rex, op, op2;	/* op2: the second byte after 0f */
	bool has_modrm, opsize16;
	uint8_t mod, reg, rm;	/* reg and rm with REX's extensions */
	bool has_sib, rip_rel;
	uint8_t base, index;	/* index 4 (no REX.X): none */
	uint8_t scale;
	int64_t disp, imm;
	const uint8_t *p;
};

static bool in_image(const struct py_code_image *img, uint64_t addr, size_t len)
{
	return addr >= img->vaddr && addr - img->vaddr <= img->len &&
	       len <= img->len - (addr - img->vaddr);
}

static int decode(const struct py_code_image *img, uint64_t addr, struct insn *d)
{
	const uint8_t *p, *m;
	size_t avail, i = 0;

	if (!in_image(img, addr, 1))
		return -1;
	p = img->bytes + (addr - img->vaddr);
	avail = img->len - (addr - img->vaddr);
	memset(d, 0, sizeof(*d));
	if (x86_insn__decode(p, avail, addr, &d->in))
		return -1;
	d->p = p;
	while (i < d->in.len && (p[i] == 0x66 || p[i] == 0xf2 || p[i] == 0xf3 || p[i] == 0x2e ||
				 p[i] == 0x3e || p[i] == 0x64 || p[i] == 0x65)) {
		if (p[i] == 0x66)
			d->opsize16 = true;
		i++;
	}
	if (i < d->in.len && (p[i] & 0xf0) == 0x40)
		d->rex = p[i++];
	if (i >= d->in.len)
		return -1;
	d->op = p[i++];
	if (d->op == 0x0f && i < d->in.len)
		d->op2 = p[i++];
	/* ModRM for the one-byte opcodes handled below. */
	if (d->op == 0x89 || d->op == 0x8b || d->op == 0x8d || d->op == 0x81 || d->op == 0x83 ||
	    d->op == 0xc7 || d->op == 0xff || d->op == 0x31 || d->op == 0x33 || d->op == 0x85 ||
	    d->op == 0x39 || d->op == 0x3b) {
		if (i >= d->in.len)
			return -1;
		m = p + i++;
		d->has_modrm = true;
		d->mod = m[0] >> 6;
		d->reg = ((m[0] >> 3) & 7) | ((d->rex & 4) ? 8 : 0);
		d->rm = (m[0] & 7) | ((d->rex & 1) ? 8 : 0);
		if (d->mod != 3 && (m[0] & 7) == 4) {
			uint8_t sib = p[i++];

			d->has_sib = true;
			d->scale = (uint8_t)(1u << (sib >> 6));
			d->index = ((sib >> 3) & 7) | ((d->rex & 2) ? 8 : 0);
			d->base = (sib & 7) | ((d->rex & 1) ? 8 : 0);
			if (d->mod == 0 && (sib & 7) == 5)
				d->base = 0xff;		/* no base: disp32 */
		} else if (d->mod != 3) {
			d->index = 4;
			d->base = d->rm;
			if (d->mod == 0 && (m[0] & 7) == 5) {
				d->rip_rel = true;
				d->base = 0xff;
			}
		}
		if (d->mod == 1) {
			d->disp = (int8_t)p[i++];
		} else if (d->mod == 2 || (d->mod == 0 && d->base == 0xff)) {
			int32_t v;

			memcpy(&v, p + i, 4);
			d->disp = v;
			i += 4;
		}
	}
	/* An immediate at the end: imm8 or imm32 (sign-extended), imm64 for movabs. */
	if (d->op == 0x83) {
		d->imm = (int8_t)p[d->in.len - 1];
	} else if (d->op == 0x81 || d->op == 0xc7 || (d->op >= 0xb8 && d->op <= 0xbf) ||
		   d->op == 0x3d) {
		int32_t v;

		if (d->op >= 0xb8 && d->op <= 0xbf && (d->rex & 8)) {
			memcpy(&d->imm, p + d->in.len - 8, 8);
		} else {
			memcpy(&v, p + d->in.len - 4, 4);
			d->imm = v;
			/* mov $imm32 into a 32-bit register zero-extends. */
			if (d->op >= 0xb8 && d->op <= 0xbf)
				d->imm = (uint32_t)v;
		}
	}
	return 0;
}

static bool is_jcc_eq(const struct insn *d, bool *jne)
{
	if (d->op == 0x74 || d->op == 0x75) {
		*jne = d->op == 0x75;
		return true;
	}
	if (d->op == 0x0f && (d->op2 == 0x84 || d->op2 == 0x85)) {
		*jne = d->op2 == 0x85;
		return true;
	}
	return false;
}

/* The values of rsi and rdx where the branch from addr calls the allocator's pointer. */
static int follow_to_call(const struct py_code_image *img, uint64_t addr, struct val *rsi,
			  struct val *rdx)
{
	struct val v[16];
	struct insn d;
	int k, r;

	for (r = 0; r < 16; r++)
		v[r] = (struct val){ .kind = V_REG, .reg = r };
	for (k = 0; k < MAX_PATH; k++) {
		bool w;

		if (decode(img, addr, &d))
			return -EINVAL;
		w = d.rex & 8;
		/* Moves between SSE registers and memory (a spill around the call): no GPR changes. */
		if (d.op == 0x0f && (d.op2 == 0x10 || d.op2 == 0x11 || d.op2 == 0x28 ||
				     d.op2 == 0x29 || d.op2 == 0x6f || d.op2 == 0x7f || d.op2 == 0xd6)) {
			addr += d.in.len;
			continue;
		}
		if (d.opsize16)
			return -EINVAL;
		/* pop: a register restored before a tail call. */
		if (d.op >= 0x58 && d.op <= 0x5f) {
			v[(d.op & 7) | ((d.rex & 1) ? 8 : 0)].kind = V_UNKNOWN;
			v[X86_RSP].add += 8;
			addr += d.in.len;
			continue;
		}
		if (d.op >= 0x50 && d.op <= 0x57) {
			v[X86_RSP].add -= 8;
			addr += d.in.len;
			continue;
		}
		/* A 64-bit load from the stack (an argument spilled before the branch). */
		if (d.op == 0x8b && w && d.mod != 3 && !d.rip_rel && d.base == X86_RSP &&
		    (!d.has_sib || d.index == 4) && v[X86_RSP].kind == V_REG &&
		    v[X86_RSP].reg == X86_RSP) {
			v[d.reg] = (struct val){ .kind = V_STACK, .add = v[X86_RSP].add + d.disp };
			addr += d.in.len;
			continue;
		}
		if (d.op == 0xff && (d.reg & 7) >= 2 && (d.reg & 7) <= 5) {
			/* call or jmp through a register or memory: the allocator's function. */
			if ((d.reg & 7) != 2 && (d.reg & 7) != 4)
				return -EINVAL;
			*rsi = v[X86_RSI];
			*rdx = v[X86_RDX];
			return 0;
		}
		if (d.in.is_branch) {
			/* Only straight on: a jmp is followed, a call or condition ends the search. */
			if (d.in.is_call || d.in.is_cond)
				return -EINVAL;
			addr = d.in.target;
			continue;
		}
		if (d.in.leaves)
			return -ENOENT;
		if ((d.op == 0x89 || d.op == 0x8b) && d.mod == 3) {
			int dst = d.op == 0x89 ? d.rm : d.reg, src = d.op == 0x89 ? d.reg : d.rm;
			struct val s = v[src];

			if (!w) {
				/* A 32-bit move keeps the low half and zeroes the rest. */
				if (s.kind == V_CONST)
					s.add = (uint32_t)s.add;
				else if (s.kind == V_REG && !s.add)
					s.low32 = true;
				else
					s.kind = V_UNKNOWN;
			}
			v[dst] = s;
		} else if (d.op >= 0xb8 && d.op <= 0xbf) {
			v[(d.op & 7) | ((d.rex & 1) ? 8 : 0)] = (struct val){ .kind = V_CONST,
									      .add = d.imm };
		} else if (d.op == 0xc7 && d.mod == 3 && !(d.reg & 7)) {
			v[d.rm] = (struct val){ .kind = V_CONST,
						.add = w ? d.imm : (int64_t)(uint32_t)d.imm };
		} else if (d.op == 0x8d && w && !d.has_sib && !d.rip_rel && d.base != 0xff) {
			struct val s = v[d.base];

			if (s.kind == V_UNKNOWN || s.low32)
				s.kind = V_UNKNOWN;
			s.add += d.disp;
			v[d.reg] = s;
		} else if ((d.op == 0x83 || d.op == 0x81) && d.mod == 3 && w &&
			   ((d.reg & 7) == 0 || (d.reg & 7) == 5)) {
			struct val *s = &v[d.rm];

			if (s->low32)
				s->kind = V_UNKNOWN;
			s->add += (d.reg & 7) == 0 ? d.imm : -d.imm;
		} else if ((d.op == 0x31 || d.op == 0x33) && d.mod == 3 && d.reg == d.rm) {
			v[d.reg] = (struct val){ .kind = V_CONST };
		} else if (d.in.effects_known) {
			for (r = 0; r < 16; r++)
				if (d.in.writes & (1u << r))
					v[r].kind = V_UNKNOWN;
		} else {
			return -EINVAL;
		}
		addr += d.in.len;
	}
	return -EINVAL;
}

int py_site__compared_fn(const struct py_code_image *img, uint64_t entry, uint64_t *fn)
{
	uint64_t addr = entry;
	struct insn d, j;
	bool jne;
	int k;

	*fn = 0;
	for (k = 0; k < 32; k++) {
		if (decode(img, addr, &d))
			return -ENOENT;
		/* cmp $imm32, %r64, followed by je or jne */
		if ((d.rex & 8) && ((d.op == 0x81 && d.mod == 3 && (d.reg & 7) == 7) || d.op == 0x3d) &&
		    !decode(img, addr + d.in.len, &j) && is_jcc_eq(&j, &jne) &&
		    in_image(img, (uint64_t)d.imm, 1)) {
			*fn = (uint64_t)d.imm;
			return 0;
		}
		if (d.in.leaves || (d.in.is_branch && !d.in.is_cond))
			return 0;
		addr += d.in.len;
	}
	return 0;
}

int py_site__called_slot(const struct py_code_image *img, uint64_t entry, uint64_t *slot)
{
	uint64_t addr = entry;
	struct insn d;
	int k;

	*slot = 0;
	for (k = 0; k < 32; k++) {
		if (decode(img, addr, &d))
			return -ENOENT;
		if (d.op == 0xff && ((d.reg & 7) == 2 || (d.reg & 7) == 4) && d.rip_rel) {
			*slot = d.in.mem_target;
			return 0;
		}
		if (d.in.leaves || (d.in.is_branch && !d.in.is_cond))
			return -ENOENT;
		addr += d.in.len;
	}
	return -ENOENT;
}

int py_site__pymalloc_internals(const struct py_code_image *img, struct py_pymalloc *pm)
{
	uint64_t addr = pm->alloc;
	struct insn d;
	int k;

	if (!addr)
		return -ENOENT;
	/* usedpools[] is read by index; allocate_from_new_pool is its first direct call. */
	for (k = 0; k < MAX_INTERNALS && (!pm->usedpools || !pm->refill); k++) {
		if (decode(img, addr, &d))
			break;
		if (!pm->usedpools && d.op == 0x8b && d.has_sib && d.base == 0xff && d.scale == 8 &&
		    d.disp > 0)
			pm->usedpools = (uint64_t)d.disp;
		if (!pm->refill && d.in.is_call && d.in.is_branch && in_image(img, d.in.target, 1))
			pm->refill = d.in.target;
		if (d.in.leaves && d.p[0] == 0xc3 && pm->usedpools && pm->refill)
			break;
		addr += d.in.len;
	}
	return pm->usedpools && pm->refill ? 0 : -ENOENT;
}

struct site_list {
	struct py_inline_site *v;
	size_t nr, cap;
};

static int push(struct site_list *l, const struct py_inline_site *s)
{
	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct py_inline_site *n = realloc(l->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->v = n;
		l->cap = cap;
	}
	l->v[l->nr++] = *s;
	return 0;
}

/* A value as a site's register: reg (+ add) or a constant. */
static bool as_reg(const struct val *v, uint8_t *reg, int64_t *add, bool *low32)
{
	if (v->kind == V_STACK) {
		*reg = MT_PY_REG_STACK;
		*add = v->add;
		*low32 = false;
		return true;
	}
	if (v->kind == V_CONST) {
		*reg = MT_PY_REG_CONST;
		*add = v->add;
		*low32 = false;
		return true;
	}
	if (v->kind != V_REG)
		return false;
	*reg = (uint8_t)v->reg;
	*add = v->add;
	*low32 = v->low32;
	return true;
}

/*
 * The site of the comparison at addr (with fn), its jcc next: 0; -ENOENT
 * when the branch does not call the allocator's pointer (no allocation
 * there: pymalloc's statistics compare it too), -EINVAL when its
 * arguments are not found.
 */
static int site_at(const struct py_code_image *img, uint64_t addr, const struct insn *cmp,
		    const struct py_pymalloc *pm, struct py_inline_site *s)
{
	struct insn j;
	struct val rsi, rdx;
	uint64_t hook;
	bool jne, low32, low32b;
	int64_t add2 = 0;
	int r;

	if (decode(img, addr + cmp->in.len, &j) || !is_jcc_eq(&j, &jne))
		return -EINVAL;
	/* The branch taken when the pointer is not pymalloc's calls it. */
	hook = jne ? j.in.target : addr + cmp->in.len + j.in.len;
	r = follow_to_call(img, hook, &rsi, &rdx);
	if (r)
		return r;
	memset(s, 0, sizeof(*s));
	s->vaddr = addr + cmp->in.len;
	s->reg2 = MT_PY_REG_CONST;
	if ((uint64_t)cmp->imm == pm->alloc) {
		s->kind = MT_PY_SITE_ALLOC;
		return as_reg(&rsi, &s->reg, &s->add, &low32) && !low32 ? 0 : -EINVAL;
	}
	if ((uint64_t)cmp->imm == pm->free) {
		s->kind = MT_PY_SITE_FREE;
		return as_reg(&rsi, &s->reg, &s->add, &low32) && !low32 && s->reg != MT_PY_REG_CONST &&
		       (!s->add || s->reg == MT_PY_REG_STACK) ? 0 : -EINVAL;
	}
	if ((uint64_t)cmp->imm == pm->calloc) {
		/* nelem * elsize: each a register or a constant, the constants' product in add. */
		s->kind = MT_PY_SITE_CALLOC;
		if (rsi.kind == V_STACK || rdx.kind == V_STACK)
			return -EINVAL;
		if (!as_reg(&rsi, &s->reg, &add2, &low32) || low32 ||
		    (s->reg != MT_PY_REG_CONST && add2) ||
		    !as_reg(&rdx, &s->reg2, &s->add, &low32b) || low32b ||
		    (s->reg2 != MT_PY_REG_CONST && s->add))
			return -EINVAL;
		s->add = (s->reg == MT_PY_REG_CONST ? add2 : 1) *
			 (s->reg2 == MT_PY_REG_CONST ? s->add : 1);
		return 0;
	}
	s->kind = MT_PY_SITE_REALLOC;
	if (rsi.kind == V_STACK || rdx.kind == V_STACK)
		return -EINVAL;
	if (!as_reg(&rsi, &s->reg, &add2, &low32) || low32 || add2 || s->reg == MT_PY_REG_CONST)
		return -EINVAL;
	return as_reg(&rdx, &s->reg2, &s->add, &low32b) && !low32b ? 0 : -EINVAL;
}

int py_site__find(const struct py_code_image *img, const struct py_pymalloc *pm,
		  struct py_inline_site **out, size_t *nr, size_t *unresolved)
{
	struct site_list l = { 0 };
	uint64_t addr = img->vaddr, end = img->vaddr + img->len;
	struct py_inline_site s;
	struct insn d;
	int err = 0;

	*out = NULL;
	*nr = 0;
	*unresolved = 0;
	if (!pm->alloc || !pm->free)
		return -ENOENT;
	/*
	 * A linear sweep over the code, so that a comparison is one the code
	 * executes and not bytes inside another instruction: compilers put no
	 * data in .text, and padding decodes as nops. Bytes this decoder
	 * cannot read are stepped over one at a time until it can again; a
	 * comparison found right after such bytes is not trusted.
	 */
	bool synced = true;

	while (addr < end && !err) {
		if (decode(img, addr, &d)) {
			addr++;
			synced = false;
			continue;
		}
		if ((d.rex & 8) && ((d.op == 0x81 && d.mod == 3 && (d.reg & 7) == 7) ||
				    d.op == 0x3d) &&
		    ((uint64_t)d.imm == pm->alloc || (uint64_t)d.imm == pm->free ||
		     (pm->realloc && (uint64_t)d.imm == pm->realloc) ||
		     (pm->calloc && (uint64_t)d.imm == pm->calloc))) {
			int r = synced ? site_at(img, addr, &d, pm, &s) : -EINVAL;

			if (!r)
				err = push(&l, &s);
			else if (r != -ENOENT)
				(*unresolved)++;
		}
		synced = synced || d.in.leaves || (d.in.is_branch && !d.in.is_cond);
		addr += d.in.len;
	}
	if (err) {
		free(l.v);
		return err;
	}
	*out = l.v;
	*nr = l.nr;
	return 0;
}
