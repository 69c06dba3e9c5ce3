/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * .eh_frame / .debug_frame to compact unwind rows. The section is read in
 * two passes (CIEs first, since a .debug_frame FDE may point forward to its
 * CIE), FDEs are sorted by address, and each FDE's CFA program is run once,
 * turning every change of (CFA rule, rbp rule) into a row. Work and memory
 * are bounded by the section's size: every instruction consumes a byte,
 * advances are clipped to the FDE, and the remember_state stack is bounded.
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols/elf_handle.h"
#include "unwind/unwind_table.h"

/* Pointer encodings (DW_EH_PE_*): size in the low 3 bits, signedness, what it is relative to. */
enum {
	PE_ABSPTR = 0x00, PE_LEB128 = 0x01, PE_SIGNED = 0x08, PE_PCREL = 0x10,
	PE_DATAREL = 0x30, PE_ALIGNED = 0x50, PE_INDIRECT = 0x80,
};

/* Call frame instructions (DW_CFA_*); the first three carry an operand in their low 6 bits. */
enum {
	CFA_ADVANCE_LOC = 0x40, CFA_OFFSET = 0x80, CFA_RESTORE = 0xc0,
	CFA_NOP = 0x00, CFA_SET_LOC, CFA_ADVANCE_LOC1, CFA_ADVANCE_LOC2, CFA_ADVANCE_LOC4,
	CFA_OFFSET_EXTENDED, CFA_RESTORE_EXTENDED, CFA_UNDEFINED, CFA_SAME_VALUE, CFA_REGISTER,
	CFA_REMEMBER_STATE, CFA_RESTORE_STATE, CFA_DEF_CFA, CFA_DEF_CFA_REGISTER,
	CFA_DEF_CFA_OFFSET, CFA_DEF_CFA_EXPRESSION, CFA_EXPRESSION, CFA_OFFSET_EXTENDED_SF,
	CFA_DEF_CFA_SF, CFA_DEF_CFA_OFFSET_SF, CFA_VAL_OFFSET, CFA_VAL_OFFSET_SF,
	CFA_VAL_EXPRESSION,
	CFA_GNU_ARGS_SIZE = 0x2e, CFA_GNU_NEG_OFFSET_EXT = 0x2f,
};

/*
 * Operands of each instruction: r register and u unsigned (ULEB128), f ULEB128
 * and s SLEB128 offsets factored by the CIE, 1/2/4 fixed size, a an encoded
 * address, b a block (ULEB128 length, bytes).
 * An instruction missing here has operands of unknown length: the program stops.
 */
static const char *const cfa_operands[] = {
	[CFA_NOP] = "", [CFA_SET_LOC] = "a", [CFA_ADVANCE_LOC1] = "1",
	[CFA_ADVANCE_LOC2] = "2", [CFA_ADVANCE_LOC4] = "4", [CFA_OFFSET_EXTENDED] = "rf",
	[CFA_RESTORE_EXTENDED] = "r", [CFA_UNDEFINED] = "r", [CFA_SAME_VALUE] = "r",
	[CFA_REGISTER] = "ru", [CFA_REMEMBER_STATE] = "", [CFA_RESTORE_STATE] = "",
	[CFA_DEF_CFA] = "ru", [CFA_DEF_CFA_REGISTER] = "r", [CFA_DEF_CFA_OFFSET] = "u",
	[CFA_DEF_CFA_EXPRESSION] = "b", [CFA_EXPRESSION] = "rb", [CFA_OFFSET_EXTENDED_SF] = "rs",
	[CFA_DEF_CFA_SF] = "rs", [CFA_DEF_CFA_OFFSET_SF] = "s", [CFA_VAL_OFFSET] = "rf",
	[CFA_VAL_OFFSET_SF] = "rs", [CFA_VAL_EXPRESSION] = "rb", [CFA_GNU_ARGS_SIZE] = "u",
	[CFA_GNU_NEG_OFFSET_EXT] = "rf",
};

/* Expression opcodes (DW_OP_*) of the PLT CFA expression. */
enum {
	OP_AND = 0x1a, OP_PLUS = 0x22, OP_SHL = 0x24, OP_GE = 0x2a, OP_LIT0 = 0x30,
	OP_LIT31 = 0x4f, OP_BREG0 = 0x70, OP_BREG16 = 0x80,
};

/* DWARF register numbers on x86-64. */
enum { DW_RBP = 6, DW_RSP = 7, DW_RA = 16 };

/* Compilers nest remember_state two or three deep; deeper is an attack. */
#define MAX_STATE_DEPTH		32
#define MAX_EXEC_RANGES		64

enum rule_kind {
	RULE_DEFAULT = 0,	/* never set: rbp unchanged, rsp = CFA, return address unknown */
	RULE_SAME,
	RULE_UNDEF,
	RULE_OFFSET,		/* saved at CFA + off */
	RULE_VAL_OFFSET,	/* the value CFA + off */
	RULE_OTHER,		/* in another register, or computed: not followed */
	RULE_RESTORE,		/* not a rule: DW_CFA_restore's request for the CIE's */
};

enum cfa_kind {
	CFA_UNSET = 0,
	CFA_REG,		/* reg + off */
	CFA_PLT,		/* the PLT expression: rsp + off, + 8 from plt_lim on */
	CFA_OTHER,		/* any other expression */
};

/* Only the registers the walker follows are tracked: rbp, rsp and the return address. */
enum { SLOT_RBP, SLOT_RSP, SLOT_RA, NR_SLOTS };

struct reg_rule {
	uint8_t kind;
	int64_t off;
};

struct cfi_state {
	struct {
		uint8_t kind, plt_lim;
		uint64_t reg;
		int64_t off;
	} cfa;
	struct reg_rule regs[NR_SLOTS];
};

/* The section being read and what its pointers are relative to. */
struct parse {
	const uint8_t *sec;
	size_t len;
	uint64_t sec_vaddr, data_base;
	bool debug_frame;
};

struct cie {
	size_t off;			/* of the entry */
	uint64_t caf;			/* code alignment factor */
	int64_t daf;			/* data alignment factor */
	uint8_t fde_enc, addr_size;
	bool has_aug;			/* 'z': FDEs carry augmentation data */
	bool ra_ok;			/* the return address is column 16 */
	struct cfi_state init;		/* after the initial instructions */
};

struct fde {
	uint64_t start, end;
	const uint8_t *ins, *ins_end;	/* first pass: everything after the CIE pointer */
	size_t off;			/* of the entry: keeps the sort stable */
	size_t cie_off;
	const struct cie *cie;
};

struct cursor {
	const uint8_t *p, *end;
};

struct builder {
	struct mt_unwind_row *rows;
	size_t nr, cap;
	uint64_t base;
};

/* A CFA program being run: one CIE's initial instructions, or one FDE's. */
struct interp {
	const struct parse *ps;
	const struct cie *cie;
	const struct cfi_state *init;	/* DW_CFA_restore target; NULL in a CIE */
	struct builder *b;		/* NULL in a CIE, which describes no code */
	uint64_t loc, end;
	struct cfi_state st;
	struct cfi_state stack[MAX_STATE_DEPTH];
	unsigned int depth;
};

/* One decoded instruction; the primary opcodes are reduced to their high 2 bits. */
struct insn {
	uint8_t op;
	uint64_t reg, u;
	int64_t off;			/* u or s, factored if the instruction says so */
	const uint8_t *blk;
};

struct exec_range {
	uint64_t start, end;
};

static int get_u8(struct cursor *c, uint8_t *v)
{
	if (c->p >= c->end)
		return -ENOEXEC;
	*v = *c->p++;
	return 0;
}

/* Little-endian, whatever the host: the file is x86-64. */
static int get_le(struct cursor *c, unsigned int n, uint64_t *v)
{
	uint64_t r = 0;
	unsigned int i;

	if ((size_t)(c->end - c->p) < n)
		return -ENOEXEC;
	for (i = 0; i < n; i++)
		r |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	*v = r;
	return 0;
}

/* LEB128; bits past 64 are dropped (only a corrupt file has them). */
static int get_leb(struct cursor *c, bool sgn, uint64_t *v)
{
	unsigned int shift = 0;
	uint64_t r = 0;
	uint8_t b;

	do {
		if (c->p >= c->end)
			return -ENOEXEC;
		b = *c->p++;
		if (shift < 64) {
			r |= (uint64_t)(b & 0x7f) << shift;
			shift += 7;
		}
	} while (b & 0x80);
	if (sgn && shift < 64 && (b & 0x40))
		r |= ~(uint64_t)0 << shift;
	*v = r;
	return 0;
}

static int skip(struct cursor *c, uint64_t n)
{
	if ((uint64_t)(c->end - c->p) < n)
		return -ENOEXEC;
	c->p += n;
	return 0;
}

/* Factored offsets saturate: a saturated offset fits no row and reads as unsupported. */
static int64_t mul_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return ((a < 0) != (b < 0)) ? INT64_MIN : INT64_MAX;
	return r;
}

static int64_t u2s_sat(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Whether v fits row field f, whatever width memtrace.h gives it. */
#define FITS_ROW(f, v) ((int64_t)(__typeof__(((struct mt_unwind_row *)0)->f))(v) == (v))

/* An encoded pointer; textrel and funcrel are never used on x86-64 and are refused. */
static int get_encoded(const struct parse *ps, struct cursor *c, uint8_t enc, uint8_t addr_size,
		       uint64_t *out)
{
	static const uint8_t sizes[] = { 0, 0, 2, 4, 8 };
	uint64_t pos = ps->sec_vaddr + (uint64_t)(c->p - ps->sec);
	unsigned int fmt = enc & 7, n;
	uint64_t base = 0, v;
	int err;

	switch (enc & 0x70) {
	case PE_ABSPTR:
		break;
	case PE_PCREL:
		base = pos;
		break;
	case PE_DATAREL:
		base = ps->data_base;
		break;
	case PE_ALIGNED:
		if (skip(c, (0 - pos) & (addr_size - 1u)))
			return -ENOEXEC;
		break;
	default:
		return -ENOEXEC;
	}
	if (fmt >= sizeof(sizes))
		return -ENOEXEC;
	if (fmt == PE_LEB128) {
		err = get_leb(c, enc & PE_SIGNED, &v);
	} else {
		n = fmt == PE_ABSPTR ? addr_size : sizes[fmt];
		err = get_le(c, n, &v);
		if (!err && (enc & PE_SIGNED) && n < 8 && (v >> (8 * n - 1)))
			v |= ~(uint64_t)0 << (8 * n);
	}
	if (err)
		return err;
	*out = base + v;
	return 0;
}

static void set_rule(struct interp *in, uint64_t reg, uint8_t kind, int64_t off)
{
	static const struct reg_rule dflt;
	int slot = reg == DW_RBP ? SLOT_RBP : reg == DW_RSP ? SLOT_RSP : reg == DW_RA ? SLOT_RA : -1;

	if (slot >= 0 && kind == RULE_RESTORE)
		in->st.regs[slot] = in->init ? in->init->regs[slot] : dflt;
	else if (slot >= 0)
		in->st.regs[slot] = (struct reg_rule){ kind, off };
}

/*
 * Recognise the expression binutils emits for lazy PLT entries:
 *   breg7 (rsp) N; breg16 (rip) 0; lit15; and; litK; ge; lit3; shl; plus
 * that is CFA = rsp + N, + 8 once the entry's push has run ((rip & 15) >= K).
 */
static void parse_cfa_expr(struct cfi_state *st, const uint8_t *p, uint64_t len)
{
	struct cursor c = { p, p + len };
	uint64_t rsp_off, rip_off;
	uint8_t op, lim;

	st->cfa.kind = CFA_OTHER;
	if (get_u8(&c, &op) || op != OP_BREG0 + DW_RSP || get_leb(&c, true, &rsp_off) ||
	    get_u8(&c, &op) || op != OP_BREG16 || get_leb(&c, true, &rip_off) || rip_off)
		return;
	if (c.end - c.p != 7 || c.p[0] != OP_LIT0 + 15 || c.p[1] != OP_AND)
		return;
	lim = c.p[2];
	if (lim < OP_LIT0 || lim > OP_LIT31 || c.p[3] != OP_GE || c.p[4] != OP_LIT0 + 3 ||
	    c.p[5] != OP_SHL || c.p[6] != OP_PLUS)
		return;
	st->cfa.kind = CFA_PLT;
	st->cfa.plt_lim = lim - OP_LIT0;
	st->cfa.reg = DW_RSP;
	st->cfa.off = (int64_t)rsp_off;
}

static void state_to_row(const struct cie *cie, const struct cfi_state *st, struct mt_unwind_row *r)
{
	const struct reg_rule *ra = &st->regs[SLOT_RA], *rsp = &st->regs[SLOT_RSP];
	const struct reg_rule *rbp = &st->regs[SLOT_RBP];

	memset(r, 0, sizeof(*r));
	r->cfa_reg = MT_CFA_UNSUPPORTED;
	if (!cie->ra_ok)
		return;
	if (ra->kind == RULE_UNDEF) {
		r->cfa_reg = MT_CFA_UNDEFINED;
		return;
	}
	if (ra->kind != RULE_OFFSET || ra->off != -8)
		return;
	/* The caller's rsp must be the CFA, as the x86-64 ABI has it by default. */
	if (rsp->kind != RULE_DEFAULT && !(rsp->kind == RULE_VAL_OFFSET && rsp->off == 0))
		return;
	/* CFA + 0 is the caller's frame: never where rbp is saved. */
	if (rbp->kind == RULE_OFFSET) {
		if (!rbp->off || rbp->off % 8 || !FITS_ROW(rbp_off, rbp->off / 8))
			return;
		r->rbp_rule = MT_RBP_AT_CFA;
		r->rbp_off = (__typeof__(r->rbp_off))(rbp->off / 8);
	} else if (rbp->kind != RULE_DEFAULT && rbp->kind != RULE_SAME) {
		return;
	}
	if (FITS_ROW(cfa_off, st->cfa.off) && st->cfa.kind == CFA_REG &&
	    (st->cfa.reg == DW_RSP || st->cfa.reg == DW_RBP)) {
		r->cfa_reg = st->cfa.reg == DW_RSP ? MT_CFA_RSP : MT_CFA_RBP;
	} else if (FITS_ROW(cfa_off, st->cfa.off) && st->cfa.kind == CFA_PLT &&
		   r->rbp_rule == MT_RBP_SAME) {
		r->cfa_reg = MT_CFA_PLT;
		r->plt_lim = st->cfa.plt_lim;
	} else {
		memset(r, 0, sizeof(*r));
		r->cfa_reg = MT_CFA_UNSUPPORTED;
		return;
	}
	r->cfa_off = (__typeof__(r->cfa_off))st->cfa.off;
}

static int grow(void **arr, size_t *cap, size_t nr, size_t size)
{
	size_t ncap;
	void *p;

	if (nr < *cap)
		return 0;
	ncap = *cap ? 2 * *cap : 64;
	p = reallocarray(*arr, ncap, size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/*
 * Rows arrive with increasing pcs; a row equal to the one before it, pc_lo
 * (the first field) aside, only extends it.
 */
static int emit(struct builder *b, uint64_t pc, const struct mt_unwind_row *r)
{
	const size_t at = sizeof(r->pc_lo);
	const uint8_t *last = b->nr ? (const uint8_t *)&b->rows[b->nr - 1] : NULL;

	if (last && !memcmp(last + at, (const uint8_t *)r + at, sizeof(*r) - at))
		return 0;
	if (grow((void **)&b->rows, &b->cap, b->nr, sizeof(*r)))
		return -ENOMEM;
	b->rows[b->nr] = *r;
	b->rows[b->nr++].pc_lo = (__u32)(pc - b->base);
	return 0;
}

/* Returns 1 once the location reaches the end of the FDE: later instructions describe no code. */
static int advance_to(struct interp *in, uint64_t to)
{
	struct mt_unwind_row r;
	int err;

	if (!in->b)
		return -ENOEXEC;
	if (to > in->end)
		to = in->end;
	if (to > in->loc) {
		state_to_row(in->cie, &in->st, &r);
		err = emit(in->b, in->loc, &r);
		if (err)
			return err;
		in->loc = to;
	}
	return in->loc >= in->end;
}

static int decode(struct interp *in, struct cursor *c, struct insn *i)
{
	uint8_t op = *c->p++;
	const char *o = "";
	int err = 0;

	memset(i, 0, sizeof(*i));
	i->op = op & 0xc0 ? op & 0xc0 : op;
	if (i->op == CFA_ADVANCE_LOC) {
		i->u = op & 0x3f;
	} else if (i->op == CFA_OFFSET || i->op == CFA_RESTORE) {
		i->reg = op & 0x3f;
		o = i->op == CFA_OFFSET ? "f" : "";
	} else if (op >= sizeof(cfa_operands) / sizeof(cfa_operands[0]) || !cfa_operands[op]) {
		return -ENOEXEC;
	} else {
		o = cfa_operands[op];
	}
	for (; *o && !err; o++) {
		if (*o == 'r') {
			err = get_leb(c, false, &i->reg);
		} else if (*o == 'u' || *o == 'f' || *o == 's') {
			err = get_leb(c, *o == 's', &i->u);
			i->off = *o == 's' ? (int64_t)i->u : u2s_sat(i->u);
			if (*o != 'u')
				i->off = mul_sat(i->off, in->cie->daf);
		} else if (*o == 'a') {
			err = get_encoded(in->ps, c, in->cie->fde_enc, in->cie->addr_size, &i->u);
		} else if (*o == 'b') {
			err = get_leb(c, false, &i->u);
			i->blk = c->p;
			err = err ?: skip(c, i->u);
		} else {
			err = get_le(c, (unsigned int)(*o - '0'), &i->u);
		}
	}
	return err;
}

static int run_cfa(struct interp *in, const uint8_t *p, const uint8_t *end)
{
	struct cursor c = { p, end };
	struct cfi_state *st = &in->st;
	uint64_t step, to;
	struct insn i;
	int err = 0;

	while (c.p < c.end && !err) {
		err = decode(in, &c, &i);
		if (err)
			break;
		switch (i.op) {
		case CFA_ADVANCE_LOC:
		case CFA_ADVANCE_LOC1:
		case CFA_ADVANCE_LOC2:
		case CFA_ADVANCE_LOC4:
			if (__builtin_mul_overflow(i.u, in->cie->caf, &step) ||
			    __builtin_add_overflow(in->loc, step, &to))
				to = UINT64_MAX;
			err = advance_to(in, to);
			break;
		case CFA_SET_LOC:
			err = i.u < in->loc ? -ENOEXEC : advance_to(in, i.u);
			break;
		case CFA_OFFSET:
		case CFA_OFFSET_EXTENDED:
		case CFA_OFFSET_EXTENDED_SF:
			set_rule(in, i.reg, RULE_OFFSET, i.off);
			break;
		case CFA_GNU_NEG_OFFSET_EXT:
			set_rule(in, i.reg, RULE_OFFSET, i.off == INT64_MIN ? INT64_MAX : -i.off);
			break;
		case CFA_VAL_OFFSET:
		case CFA_VAL_OFFSET_SF:
			set_rule(in, i.reg, RULE_VAL_OFFSET, i.off);
			break;
		case CFA_RESTORE:
		case CFA_RESTORE_EXTENDED:
			set_rule(in, i.reg, RULE_RESTORE, 0);
			break;
		case CFA_UNDEFINED:
			set_rule(in, i.reg, RULE_UNDEF, 0);
			break;
		case CFA_SAME_VALUE:
			set_rule(in, i.reg, RULE_SAME, 0);
			break;
		case CFA_REGISTER:
		case CFA_EXPRESSION:
		case CFA_VAL_EXPRESSION:
			set_rule(in, i.reg, RULE_OTHER, 0);
			break;
		case CFA_REMEMBER_STATE:
			if (in->depth == MAX_STATE_DEPTH)
				return -ENOEXEC;
			in->stack[in->depth++] = *st;
			break;
		case CFA_RESTORE_STATE:
			if (!in->depth)
				return -ENOEXEC;
			*st = in->stack[--in->depth];
			break;
		case CFA_DEF_CFA:
		case CFA_DEF_CFA_SF:
			st->cfa.kind = CFA_REG;
			st->cfa.reg = i.reg;
			st->cfa.off = i.off;
			break;
		case CFA_DEF_CFA_REGISTER:
		case CFA_DEF_CFA_OFFSET:
		case CFA_DEF_CFA_OFFSET_SF:
			/* Only meaningful on a register rule; anything else stays unsupported. */
			if (st->cfa.kind != CFA_REG)
				st->cfa.kind = CFA_OTHER;
			if (i.op == CFA_DEF_CFA_REGISTER)
				st->cfa.reg = i.reg;
			else
				st->cfa.off = i.off;
			break;
		case CFA_DEF_CFA_EXPRESSION:
			parse_cfa_expr(st, i.blk, i.u);
			break;
		}
	}
	return err < 0 ? err : 0;
}

static int parse_cie(const struct parse *ps, struct cursor *c, size_t off, struct cie *cie)
{
	const uint8_t *aug, *nul;
	uint64_t ra, alen, ptr;
	uint8_t version, u8;
	struct interp in;
	struct cursor ac;
	int err = 0;

	memset(cie, 0, sizeof(*cie));
	cie->off = off;
	cie->addr_size = 8;
	cie->fde_enc = PE_ABSPTR;
	if (get_u8(c, &version) || (version != 1 && version != 3 && version != 4))
		return -ENOEXEC;
	aug = c->p;
	nul = memchr(c->p, 0, (size_t)(c->end - c->p));
	if (!nul)
		return -ENOEXEC;
	c->p = nul + 1;
	if (version == 4 && (get_u8(c, &cie->addr_size) || get_u8(c, &u8) || u8 != 0 ||
			     (cie->addr_size != 4 && cie->addr_size != 8)))
		return -ENOEXEC;
	if (get_leb(c, false, &cie->caf) || get_leb(c, true, &ra))
		return -ENOEXEC;
	cie->daf = (int64_t)ra;
	if (version == 1 ? get_u8(c, &u8) : get_leb(c, false, &ra))
		return -ENOEXEC;
	cie->ra_ok = (version == 1 ? u8 : ra) == DW_RA;
	if (aug[0] == 'z') {
		if (get_leb(c, false, &alen) || (uint64_t)(c->end - c->p) < alen)
			return -ENOEXEC;
		ac = (struct cursor){ c->p, c->p + alen };
		/* A letter not known here may be followed by ones that are: refuse it. */
		for (aug++; *aug && !err; aug++) {
			if (*aug == 'R')
				err = get_u8(&ac, &cie->fde_enc);
			else if (*aug == 'L')
				err = get_u8(&ac, &u8);
			else if (*aug == 'P')
				err = get_u8(&ac, &u8) ?: get_encoded(ps, &ac, u8 & ~PE_INDIRECT,
								      cie->addr_size, &ptr);
			else if (*aug != 'S' && *aug != 'B' && *aug != 'G')
				err = -ENOEXEC;
		}
		c->p += alen;
		cie->has_aug = true;
	} else if (aug[0]) {
		err = -ENOEXEC;
	}
	if (err || (cie->fde_enc & PE_INDIRECT))
		return -ENOEXEC;
	in = (struct interp){ .ps = ps, .cie = cie };
	err = run_cfa(&in, c->p, c->end);
	cie->init = in.st;
	return err;
}

/* First pass: every CIE parsed, every FDE located along with the offset of its CIE. */
static int read_entries(const struct parse *ps, struct cie **cies_out, size_t *nr_cies,
			struct fde **fdes_out, size_t *nr_fdes)
{
	size_t off = 0, entry, id_pos, cap_cies = 0, cap_fdes = 0, ncies = 0, nfdes = 0;
	struct cie *cies = NULL;
	struct fde *fdes = NULL;
	uint64_t len, id, cie_id;
	unsigned int id_size;
	struct cursor c;
	int err = 0;

	while (off < ps->len) {
		entry = off;
		c = (struct cursor){ ps->sec + off, ps->sec + ps->len };
		err = -ENOEXEC;
		if (get_le(&c, 4, &len))
			goto fail;
		/* The terminator, as the runtime unwinder reads it: nothing after it counts. */
		if (len == 0)
			break;
		id_size = 4;
		cie_id = ps->debug_frame ? 0xffffffffu : 0;
		if (len == 0xffffffffu) {
			if (get_le(&c, 8, &len))
				goto fail;
			id_size = 8;
			cie_id = ps->debug_frame ? UINT64_MAX : 0;
		} else if (len >= 0xfffffff0u) {
			goto fail;
		}
		if (len > (uint64_t)(c.end - c.p))
			goto fail;
		c.end = c.p + len;
		off = (size_t)(c.end - ps->sec);
		id_pos = (size_t)(c.p - ps->sec);
		if (get_le(&c, id_size, &id))
			goto fail;
		if (id == cie_id) {
			err = grow((void **)&cies, &cap_cies, ncies, sizeof(*cies)) ?:
			      parse_cie(ps, &c, entry, &cies[ncies]);
			if (err)
				goto fail;
			ncies++;
			continue;
		}
		/* .eh_frame points back from the pointer itself, .debug_frame from the start. */
		if (!ps->debug_frame && id > id_pos)
			goto fail;
		err = grow((void **)&fdes, &cap_fdes, nfdes, sizeof(*fdes));
		if (err)
			goto fail;
		fdes[nfdes++] = (struct fde){
			.off = entry, .ins = c.p, .ins_end = c.end,
			.cie_off = ps->debug_frame ? id : id_pos - id,
		};
	}
	*cies_out = cies;
	*nr_cies = ncies;
	*fdes_out = fdes;
	*nr_fdes = nfdes;
	return 0;
fail:
	free(cies);
	free(fdes);
	return err;
}

static int cie_cmp(const void *key, const void *elem)
{
	size_t off = *(const size_t *)key, at = ((const struct cie *)elem)->off;

	return off < at ? -1 : off > at;
}

/* Second pass: addresses decoded, and FDEs that describe no code of the file dropped. */
static int decode_fdes(const struct parse *ps, const struct cie *cies, size_t nr_cies,
		       struct fde *fdes, size_t *nr, const struct exec_range *ranges,
		       size_t nr_ranges)
{
	size_t i, j, kept = 0;

	for (i = 0; i < *nr; i++) {
		struct fde f = fdes[i];
		struct cursor c = { f.ins, f.ins_end };
		uint64_t range, alen;

		f.cie = cies ? bsearch(&f.cie_off, cies, nr_cies, sizeof(*cies), cie_cmp) : NULL;
		if (!f.cie || get_encoded(ps, &c, f.cie->fde_enc, f.cie->addr_size, &f.start) ||
		    get_encoded(ps, &c, f.cie->fde_enc & 0x0f, f.cie->addr_size, &range) ||
		    (f.cie->has_aug && (get_leb(&c, false, &alen) || skip(&c, alen))))
			return -ENOEXEC;
		f.end = f.start + range;
		f.ins = c.p;
		/* Empty FDEs, and tombstones of discarded code whose range wraps. */
		if (!range || f.end < f.start)
			continue;
		for (j = 0; j < nr_ranges; j++)
			if (f.start >= ranges[j].start && f.end <= ranges[j].end)
				break;
		if (nr_ranges && j == nr_ranges)
			continue;
		fdes[kept++] = f;
	}
	*nr = kept;
	return 0;
}

static int fde_cmp(const void *a, const void *b)
{
	const struct fde *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * FDEs in address order, each one's rows following the last one's. Where FDEs
 * overlap the later-starting one wins and the rest of the earlier one is
 * dropped, as a lookup by start address (.eh_frame_hdr) sees them.
 */
static int build_rows(const struct parse *ps, const struct fde *fdes, size_t nr,
		      struct builder *b)
{
	static const struct mt_unwind_row none = { .cfa_reg = MT_CFA_NONE };
	uint64_t prev_end = fdes[0].start;
	struct mt_unwind_row r;
	struct interp in;
	size_t i;
	int err = 0;

	b->base = fdes[0].start;
	for (i = 0; i < nr && !err; i++) {
		const struct fde *f = &fdes[i];

		if (f->end - b->base > UINT32_MAX)
			return -ENOEXEC;
		while (b->nr && b->rows[b->nr - 1].pc_lo >= f->start - b->base)
			b->nr--;
		if (prev_end < f->start)
			err = emit(b, prev_end, &none);
		in = (struct interp){ .ps = ps, .cie = f->cie, .init = &f->cie->init, .b = b,
				      .loc = f->start, .end = f->end, .st = f->cie->init };
		err = err ?: run_cfa(&in, f->ins, f->ins_end);
		if (!err && in.loc < in.end) {
			state_to_row(f->cie, &in.st, &r);
			err = emit(b, in.loc, &r);
		}
		prev_end = f->end;
	}
	return err ?: emit(b, prev_end, &none);
}

static void table_stats(struct unwind_table *t)
{
	const struct mt_unwind_row *r;
	uint64_t ext;
	size_t i;

	for (i = 0; i + 1 < t->nr; i++) {
		r = &t->rows[i];
		ext = t->rows[i + 1].pc_lo - r->pc_lo;
		if (r->cfa_reg != MT_CFA_NONE)
			t->cfi_bytes += ext;
		if (r->cfa_reg == MT_CFA_UNSUPPORTED)
			t->nr_unsupported++;
		if (r->cfa_reg == MT_CFA_RBP && r->cfa_off == 16 && r->rbp_rule == MT_RBP_AT_CFA &&
		    r->rbp_off == -2)
			t->fp_bytes += ext;
	}
	t->mostly_fp = t->fp_bytes > t->cfi_bytes / 2;
}

static int build(const struct parse *ps, const struct exec_range *ranges, size_t nr_ranges,
		 struct unwind_table *out)
{
	size_t nr_cies = 0, nr_fdes = 0;
	struct builder b = { 0 };
	struct cie *cies = NULL;
	struct fde *fdes = NULL;
	void *rows;
	int err;

	memset(out, 0, sizeof(*out));
	err = read_entries(ps, &cies, &nr_cies, &fdes, &nr_fdes);
	if (err)
		return err;
	err = decode_fdes(ps, cies, nr_cies, fdes, &nr_fdes, ranges, nr_ranges);
	if (!err && !nr_fdes)
		err = -ENOENT;
	if (!err) {
		qsort(fdes, nr_fdes, sizeof(*fdes), fde_cmp);
		err = build_rows(ps, fdes, nr_fdes, &b);
	}
	free(cies);
	free(fdes);
	if (err) {
		free(b.rows);
		return err;
	}
	out->text_end = b.base + b.rows[b.nr - 1].pc_lo;
	rows = reallocarray(b.rows, b.nr, sizeof(*b.rows));
	out->rows = rows ? rows : b.rows;
	out->nr = b.nr;
	out->base = out->text_start = b.base;
	out->nr_fdes = nr_fdes;
	out->from_debug_frame = ps->debug_frame;
	table_stats(out);
	return 0;
}

int unwind_table__build_from_data(const void *sec, size_t len, uint64_t sec_vaddr,
				  uint64_t data_base, unsigned int flags, struct unwind_table *out)
{
	struct parse ps = {
		.sec = sec, .len = sec ? len : 0, .sec_vaddr = sec_vaddr, .data_base = data_base,
		.debug_frame = flags & UNWIND_F_DEBUG_FRAME,
	};

	return build(&ps, NULL, 0, out);
}

static size_t exec_ranges(Elf *elf, struct exec_range *r)
{
	size_t n, i, nr = 0;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return 0;
	for (i = 0; i < n && nr < MAX_EXEC_RANGES; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) ||
		    ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
			continue;
		r[nr++] = (struct exec_range){ ph.p_vaddr, ph.p_vaddr + ph.p_memsz };
	}
	return nr;
}

/* The named section's bytes, decompressed if need be; NULL when it has none. */
static Elf_Data *section_bytes(Elf *elf, const char *want, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	const char *name;
	size_t shstrndx;
	Elf_Data *d;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		name = gelf_getshdr(scn, sh) ? elf_strptr(elf, shstrndx, sh->sh_name) : NULL;
		if (name && !strcmp(name, want))
			break;
	}
	if (!scn)
		return NULL;
	d = elf_handle__section_data(scn);
	return d && d->d_buf && d->d_size ? d : NULL;
}

static int build_from_elf(Elf *elf, const GElf_Ehdr *eh, struct unwind_table *out)
{
	struct exec_range ranges[MAX_EXEC_RANGES];
	struct parse ps = { 0 };
	GElf_Shdr sh, got;
	Elf_Data *d;

	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64)
		return -ENOEXEC;
	d = section_bytes(elf, ".eh_frame", &sh);
	if (!d) {
		d = section_bytes(elf, ".debug_frame", &sh);
		ps.debug_frame = true;
	}
	if (!d)
		return -ENOENT;
	ps.sec = d->d_buf;
	ps.len = d->d_size;
	ps.sec_vaddr = sh.sh_addr;
	/* DW_EH_PE_datarel is relative to the GOT on x86-64. */
	if (section_bytes(elf, ".got", &got))
		ps.data_base = got.sh_addr;
	return build(&ps, ranges, exec_ranges(elf, ranges), out);
}

/* The file's executable segments, for reading its code by address. */
struct code_file {
	int fd;
	struct {
		uint64_t vaddr, filesz, offset;
	} seg[MAX_EXEC_RANGES];
	size_t nr;
};

static void code_segments(Elf *elf, struct code_file *cf)
{
	size_t n, i;
	GElf_Phdr ph;

	cf->nr = 0;
	if (elf_getphdrnum(elf, &n))
		return;
	for (i = 0; i < n && cf->nr < MAX_EXEC_RANGES; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		cf->seg[cf->nr].vaddr = ph.p_vaddr;
		cf->seg[cf->nr].filesz = ph.p_filesz;
		cf->seg[cf->nr].offset = ph.p_offset;
		cf->nr++;
	}
}

static ssize_t read_code(void *ctx, uint64_t vaddr, void *buf, size_t len)
{
	const struct code_file *cf = ctx;
	uint64_t off;
	ssize_t n;
	size_t i;

	for (i = 0; i < cf->nr; i++) {
		off = vaddr - cf->seg[i].vaddr;
		if (vaddr < cf->seg[i].vaddr || off >= cf->seg[i].filesz)
			continue;
		if (len > cf->seg[i].filesz - off)
			len = (size_t)(cf->seg[i].filesz - off);
		n = pread(cf->fd, buf, len, (off_t)(cf->seg[i].offset + off));
		return n < 0 ? -errno : n;
	}
	return -ENOENT;
}

int unwind_table__build_from_file(const char *path, struct unwind_table *out)
{
	struct code_file cf;
	struct elf_handle h;
	int err;

	memset(out, 0, sizeof(*out));
	err = elf_handle__open(path, &h);
	if (err)
		return err;
	err = build_from_elf(h.elf, &h.eh, out);
	if (!err) {
		cf.fd = h.fd;
		code_segments(h.elf, &cf);
		err = unwind_table__find_fp_calls(out, read_code, &cf);
		if (err)
			unwind_table__free(out);
	}
	elf_handle__close(&h);
	return err;
}

const struct mt_unwind_row *unwind_table__find(const struct unwind_table *t, uint64_t pc)
{
	size_t lo = 0, hi = t->nr, mid;

	if (!t->nr || pc < t->base || pc >= t->text_end)
		return NULL;
	/* The last row at or below pc; the first row is at the base. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (t->rows[mid].pc_lo <= pc - t->base)
			lo = mid;
		else
			hi = mid;
	}
	return t->rows[lo].cfa_reg == MT_CFA_NONE ? NULL : &t->rows[lo];
}

void unwind_table__free(struct unwind_table *t)
{
	free(t->rows);
	memset(t, 0, sizeof(*t));
}
