// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include "probe/go_site.h"
#include "symbols/x86_insn.h"

/* Bounds of the walk from a barrier: instructions decoded, paths open at once. */
#define MAX_STEPS 512
#define MAX_PATHS 32
#define MAX_DIRTY 8
#define NONE (-1)

/* What a register holds, as far as the walk knows: a stack slot's value, or a field of it. */
struct prov {
	long slot;		/* the value of [rsp + slot], or NONE */
	long field;		/* with slot: the value of [[rsp + slot] + field], or NONE */
};

struct path {
	size_t off;
	struct prov reg[16];
	long dirty[MAX_DIRTY];	/* slots written on this path since the barrier */
	size_t nr_dirty;
	bool all_dirty;		/* more than MAX_DIRTY: no slot is trusted */
};

/* A mov between a register and memory or another register, as Go's compiler emits them. */
struct mov {
	bool load, store;	/* else register to register */
	int reg;		/* the register operand: loaded, stored, or the destination */
	int src;		/* register to register: the source */
	int base;		/* memory: the base register (X86_RSP for a stack slot) */
	long disp;
	int width;		/* bytes moved */
};

/* mov r/m,r (89), mov r,r/m (8b), movzx r,r/m16 (0f b7), with 66 and REX; base + disp only. */
static bool decode_mov(const uint8_t *c, size_t len, struct mov *m)
{
	size_t i = 0;
	uint8_t rex = 0, modrm, mod, rm;
	bool op16 = false;
	int32_t d32;

	memset(m, 0, sizeof(*m));
	if (i < len && c[i] == 0x66) {
		op16 = true;
		i++;
	}
	if (i < len && (c[i] & 0xf0) == 0x40)
		rex = c[i++];
	if (i + 1 >= len)
		return false;
	if (c[i] == 0x89 || c[i] == 0x8b) {
		m->store = c[i] == 0x89;
		m->width = rex & 8 ? 8 : op16 ? 2 : 4;
		i++;
	} else if (c[i] == 0x0f && c[i + 1] == 0xb7 && !op16) {
		m->width = 2;
		i += 2;
	} else {
		return false;
	}
	if (i >= len)
		return false;
	modrm = c[i++];
	mod = modrm >> 6;
	m->reg = ((modrm >> 3) & 7) | (rex & 4 ? 8 : 0);
	rm = (modrm & 7) | (rex & 1 ? 8 : 0);
	if (mod == 3) {
		if (m->store) {		/* 89: the r/m register is written */
			m->src = m->reg;
			m->reg = rm;
		} else {
			m->src = rm;
		}
		m->store = false;
		return true;
	}
	if ((modrm & 7) == 4) {
		/* SIB: only a base, no index (100) and no REX.X. */
		if (i >= len || ((c[i] >> 3) & 7) != 4 || (rex & 2) || (c[i] & 7) == 5)
			return false;
		m->base = (c[i] & 7) | (rex & 1 ? 8 : 0);
		i++;
	} else if (mod == 0 && (modrm & 7) == 5) {
		return false;		/* rip-relative: not a field or a slot */
	} else {
		m->base = rm;
	}
	if (mod == 1) {
		if (i >= len)
			return false;
		m->disp = (int8_t)c[i];
	} else if (mod == 2) {
		if (i + 4 > len)
			return false;
		memcpy(&d32, c + i, 4);
		m->disp = d32;
	}
	m->load = !m->store;
	return true;
}

static bool is_dirty(const struct path *p, long slot)
{
	size_t i;

	if (p->all_dirty)
		return true;
	for (i = 0; i < p->nr_dirty; i++)
		if (p->dirty[i] == slot)
			return true;
	return false;
}

static void clear(struct prov *r)
{
	r->slot = r->field = NONE;
}

/* The slot a register holds the value of, NONE if not one or written since. */
static long slot_of(const struct path *p, int reg)
{
	const struct prov *r = &p->reg[reg];

	if (r->slot == NONE || r->field != NONE || is_dirty(p, r->slot))
		return NONE;
	return r->slot;
}

/*
 * One instruction's effect on what the registers hold. Returns the span's
 * slot when the instruction shows it (a store of span.freeindex into
 * another field of the same span), NONE otherwise.
 */
static long step_mov(struct path *p, const struct mov *m, uint32_t freeindex_off)
{
	struct prov *dst = &p->reg[m->reg];
	long slot;

	if (!m->load && !m->store) {
		if (m->width == 8) {
			*dst = p->reg[m->src];
		} else {
			/* A 32-bit copy keeps a zero-extended field, not a pointer. */
			struct prov src = p->reg[m->src];

			clear(dst);
			if (src.field != NONE)
				*dst = src;
		}
		return NONE;
	}
	if (m->store) {
		if (m->base == X86_RSP) {
			if (p->nr_dirty < MAX_DIRTY)
				p->dirty[p->nr_dirty++] = m->disp;
			else
				p->all_dirty = true;
			return NONE;
		}
		/* span.freeIndexForScan = span.freeindex: a field of the span copied into another. */
		slot = slot_of(p, m->base);
		if (slot != NONE && p->reg[m->reg].slot == slot &&
		    p->reg[m->reg].field == (long)freeindex_off && m->disp != (long)freeindex_off &&
		    !is_dirty(p, slot))
			return slot;
		return NONE;
	}
	if (m->base == X86_RSP && m->width == 8 && m->disp >= 0) {
		dst->slot = m->disp;
		dst->field = NONE;
		return NONE;
	}
	slot = m->base == X86_RSP ? NONE : slot_of(p, m->base);
	clear(dst);
	if (slot != NONE) {
		dst->slot = slot;
		dst->field = m->disp;
	}
	return NONE;
}

/*
 * Walk every path from the barrier's call (code offset from) until it shows
 * the span's slot or ends. *slot: the one slot all paths showed, NONE when
 * none did; -ENOENT when two paths disagree.
 */
static int walk(const struct go_site_code *c, size_t from, long *slot)
{
	struct path paths[MAX_PATHS], cur, *p = &cur;
	size_t nr = 1, steps = 0;
	struct x86_insn in;
	struct mov m;
	long found;
	int r;

	*slot = NONE;
	memset(&paths[0], 0, sizeof(paths[0]));
	paths[0].off = from;
	for (r = 0; r < 16; r++)
		clear(&paths[0].reg[r]);
	while (nr) {
		cur = paths[--nr];
		for (;;) {
			if (++steps > MAX_STEPS || p->off >= c->len)
				break;
			if (x86_insn__decode(c->code + p->off, c->len - p->off, c->addr + p->off, &in))
				return -ENOENT;
			found = NONE;
			if (in.is_call) {
				if (!in.is_branch || in.target == c->barrier)
					break;	/* another barrier, or a call the walk cannot follow */
				if (c->marknew && in.target == c->marknew) {
					/* gcmarknewobject(span, x, ...): span in rax. */
					found = slot_of(p, X86_RAX);
					if (found == NONE)
						return -ENOENT;
				} else {
					/* Go's ABI keeps no register across a call. */
					for (r = 0; r < 16; r++)
						clear(&p->reg[r]);
					p->off += in.len;
					continue;
				}
			} else if (in.leaves) {
				break;
			} else if (decode_mov(c->code + p->off, c->len - p->off, &m)) {
				found = step_mov(p, &m, c->freeindex_off);
			} else if (in.effects_known) {
				for (r = 0; r < 16; r++)
					if (in.writes & (1u << r))
						clear(&p->reg[r]);
			} else {
				for (r = 0; r < 16; r++)
					clear(&p->reg[r]);
			}
			if (found != NONE) {
				if (*slot != NONE && *slot != found)
					return -ENOENT;
				*slot = found;
				break;
			}
			if (in.is_branch && in.target >= c->addr && in.target - c->addr < c->len) {
				size_t target = (size_t)(in.target - c->addr);

				if (!in.is_cond) {
					p->off = target;
					continue;
				}
				if (nr < MAX_PATHS) {
					paths[nr] = *p;
					paths[nr++].off = target;
				}
			} else if (in.is_branch && !in.is_cond) {
				break;		/* a jump out of the function */
			}
			p->off += in.len;
		}
	}
	return 0;
}

int go_site__publish(const struct go_site_code *c, struct go_publish_site *out)
{
	struct x86_insn in;
	bool barrier = false;
	size_t off = 0;
	long slot;
	int err;


	while (off < c->len) {
		if (x86_insn__decode(c->code + off, c->len - off, c->addr + off, &in))
			return -ENOENT;
		off += in.len;
		if (!in.is_call || !in.is_branch || in.target != c->barrier)
			continue;
		barrier = true;
		err = walk(c, off, &slot);
		if (err)
			return err;
		if (slot == NONE || slot > UINT16_MAX)
			continue;
		out->offset = off - in.len;
		out->span_slot = (uint32_t)slot;
		return 0;
	}
	return barrier ? -ENOENT : -ENODATA;
}

int go_site__calls(const uint8_t *code, size_t len, uint64_t addr, uint64_t target)
{
	struct x86_insn in;
	size_t off = 0;

	while (off < len) {
		if (x86_insn__decode(code + off, len - off, addr + off, &in))
			return -ENOENT;
		if (in.is_call && in.is_branch && in.target == target)
			return 1;
		off += in.len;
	}
	return 0;
}

int go_site__ranges(const struct go_func *funcs, size_t n, uint64_t *lo, uint64_t *hi,
		    size_t max, size_t *nr)
{
	size_t i, k = 0;
	bool open = false;

	for (i = 0; i < n; i++) {
		if (!funcs[i].alloc) {
			open = false;
			continue;
		}
		if (open) {
			hi[k - 1] = funcs[i].addr + funcs[i].size;
			continue;
		}
		if (k == max)
			return -E2BIG;
		lo[k] = funcs[i].addr;
		hi[k++] = funcs[i].addr + funcs[i].size;
		open = true;
	}
	*nr = k;
	return 0;
}
