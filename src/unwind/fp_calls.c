/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where a file's rows can be skipped. A walk only ever stands at a return
 * address: the pc it looks up is the last byte of a call. In code built with
 * frame pointers the row at every call is CFA = rbp + 16, rbp at CFA - 16,
 * and the frame-pointer step gives the same caller as the row; only the
 * prologues and epilogues have other rows, and they hold no call. So a file
 * whose calls all sit on frame-pointer rows, but for a few (_start's, under
 * CFI's "no caller" rule; a hand-written function's), can be walked without
 * a row lookup outside two small ranges that hold those few. A file with
 * more of them (code built without frame pointers) keeps its lookups, and
 * so does one without a frame-pointer row: all its calls would be in the
 * slow ranges, and each frame would pay for the range test as well.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "symbols/x86_insn.h"
#include "unwind/unwind_table.h"

/* Calls off frame-pointer rows a file may have and still skip its rows. */
#define MAX_ODD_CALLS	16
/* Code is read in pieces this long (plus an instruction's worth). */
#define PIECE		4096
/*
 * Code decoded at most, per file: far more than the prologues, epilogues
 * and few odd functions of any file that qualifies; a table whose rows
 * claim more (a corrupt file, a sparse one) keeps its lookups.
 */
#define MAX_SCAN	(256u << 20)

struct odd {
	uint32_t lo, hi;	/* rel pcs [lo, hi) whose row a walk must look up */
};

struct scan {
	const struct unwind_table *t;
	unwind_code_reader read;
	void *ctx;
	struct odd odd[MAX_ODD_CALLS];
	size_t nr;
	uint8_t buf[PIECE + 16];
	uint64_t buf_at;	/* vaddr of buf[0] */
	size_t buf_len;
	uint64_t scanned;	/* bytes decoded so far */
};

static bool fp_rule(const struct mt_unwind_row *r)
{
	return r->cfa_reg == MT_CFA_RBP && r->cfa_off == 16 && r->rbp_rule == MT_RBP_AT_CFA &&
	       r->rbp_off == -2;
}

/* false when there are too many to keep. */
static bool add_odd(struct scan *s, uint64_t lo, uint64_t hi)
{
	if (s->nr && s->odd[s->nr - 1].hi >= lo) {
		s->odd[s->nr - 1].hi = (uint32_t)hi;
		return true;
	}
	if (s->nr == MAX_ODD_CALLS)
		return false;
	s->odd[s->nr++] = (struct odd){ (uint32_t)lo, (uint32_t)hi };
	return true;
}

/* The code at vaddr pc, up to 15 bytes of it from the buffer: their count, 0 when unreadable. */
static size_t code_at(struct scan *s, uint64_t pc, const uint8_t **out)
{
	ssize_t n;

	if (pc < s->buf_at || pc + 15 > s->buf_at + s->buf_len) {
		/* A whole piece: the next rows are most often in it. */
		n = s->read(s->ctx, pc, s->buf, sizeof(s->buf));
		if (n <= 0) {
			s->buf_len = 0;
			return 0;
		}
		s->buf_at = pc;
		s->buf_len = (size_t)n;
	}
	*out = s->buf + (pc - s->buf_at);
	return s->buf_at + s->buf_len - pc < 15 ? (size_t)(s->buf_at + s->buf_len - pc) : 15;
}

/*
 * The calls in rows [lo, hi) (rel): each one's last byte is a pc a walk may
 * look up. Decoded from lo, where a row begins: CFI moves from one row to the
 * next between instructions. What cannot be read or decoded is odd as a whole.
 */
static bool scan_rows(struct scan *s, uint64_t lo, uint64_t hi)
{
	uint64_t base = s->t->base, pc = lo;
	const uint8_t *code;
	struct x86_insn in;
	size_t avail;

	if (hi - lo > MAX_SCAN - s->scanned)
		return false;
	s->scanned += hi - lo;
	while (pc < hi) {
		avail = code_at(s, base + pc, &code);
		if (!avail || x86_insn__decode(code, avail, base + pc, &in))
			return add_odd(s, pc, hi);
		if ((in.is_call || in.is_indirect_call) && pc + in.len - 1 < hi &&
		    !add_odd(s, pc + in.len - 1, pc + in.len))
			return false;
		pc += in.len;
	}
	return true;
}

/* At most two ranges holding every odd call: split at the widest gap between them. */
static void two_ranges(const struct scan *s, struct unwind_table *t)
{
	size_t k, split = 0;
	uint32_t gap = 0;

	memset(t->fp_slow_lo, 0, sizeof(t->fp_slow_lo));
	memset(t->fp_slow_hi, 0, sizeof(t->fp_slow_hi));
	if (!s->nr)
		return;
	for (k = 0; k + 1 < s->nr; k++)
		if (s->odd[k + 1].lo - s->odd[k].hi > gap) {
			gap = s->odd[k + 1].lo - s->odd[k].hi;
			split = k + 1;
		}
	if (!split) {
		t->fp_slow_lo[0] = s->odd[0].lo;
		t->fp_slow_hi[0] = s->odd[s->nr - 1].hi;
		return;
	}
	t->fp_slow_lo[0] = s->odd[0].lo;
	t->fp_slow_hi[0] = s->odd[split - 1].hi;
	t->fp_slow_lo[1] = s->odd[split].lo;
	t->fp_slow_hi[1] = s->odd[s->nr - 1].hi;
}

int unwind_table__find_fp_calls(struct unwind_table *t, unwind_code_reader read, void *ctx)
{
	struct scan *s;
	const struct mt_unwind_row *r;
	size_t i;
	bool ok = true, any_fp = false;

	t->fp_calls = false;
	if (!t->nr)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->t = t;
	s->read = read;
	s->ctx = ctx;
	/* The last row is the end of the text: it covers nothing. */
	for (i = 0; ok && i + 1 < t->nr; i++) {
		r = &t->rows[i];
		/* No CFI: the walker takes the frame pointer there in any case. */
		if (fp_rule(r) || r->cfa_reg == MT_CFA_NONE) {
			any_fp |= fp_rule(r);
			continue;
		}
		ok = scan_rows(s, r->pc_lo, t->rows[i + 1].pc_lo);
	}
	if (ok && any_fp) {
		two_ranges(s, t);
		t->fp_calls = true;
	}
	free(s);
	return 0;
}
