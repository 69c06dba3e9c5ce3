/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Finishing in userspace a walk the BPF side handed over: it reached code
 * whose table was not published yet (a process started, a library mapped
 * since the last publication), kept the frames walked so far and a copy of
 * the stack above. The same rules as bpf/stack.bpf.h, step for step, so
 * that the stack comes out as the BPF side walks it once the table is
 * there, and gets the same id: one call site, one stack, however early it
 * allocated.
 */
#include <errno.h>
#include <string.h>
#include "unwind/unwind.h"
#include "unwind/unwind_internal.h"

/* The stack copy: words at user addresses [sp, sp + len). */
struct copy {
	const struct mt_uev_deferred *e;
};

static int copy_read(const struct copy *c, uint64_t addr, uint64_t *out)
{
	uint64_t off = addr - c->e->sp;

	if (addr < c->e->sp || off + 8 > c->e->len || off + 8 < off)
		return -EFAULT;
	memcpy(out, c->e->data + off, 8);
	return 0;
}

struct regs {
	uint64_t ip, sp, bp;
	uint32_t flags;
};

/* bpf/stack.bpf.h's BP_BROKEN: a saved rbp that did not lie above its frame. */
#define BP_BROKEN 1

/* fp_step: 0, or 1 when the walk ends (flags say how). */
static int fp_step(const struct copy *c, struct regs *r)
{
	uint64_t bp, ra;

	if (!r->bp)
		return 1;
	if (r->bp & 7) {
		r->flags |= MT_STACK_F_CUT;
		return 1;
	}
	if (copy_read(c, r->bp, &bp) || copy_read(c, r->bp + 8, &ra)) {
		r->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	if (!ra)
		return 1;
	r->sp = r->bp + 16;
	r->bp = !bp ? 0 : bp > r->bp ? bp : BP_BROKEN;
	r->ip = ra;
	return 0;
}

/* The row covering rel in a file's rows, or NULL (bpf's find_row). */
static const struct mt_unwind_row *find_row(const struct unwinder *u, uint32_t first,
					    uint32_t count, uint64_t rel)
{
	uint32_t lo = first, hi = first + count;

	if (rel > 0xffffffffULL || (uint64_t)first + count > u->rows_used)
		return NULL;
	/* The first row above rel, then the one before it. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (u->rows[mid].pc_lo <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == first ? NULL : &u->rows[lo - 1];
}

/* One frame up from r, in mapping v with table f (NULL: none): bpf's frame_step. */
static int step(const struct unwinder *u, const struct copy *c, struct regs *r,
		const struct vma *v, const struct file_table *f)
{
	const struct mt_unwind_row *row;
	uint64_t pc = r->ip - 1, bias, cfa, ra, bp = r->bp;

	if (!f || f->status || !f->row_count)
		return fp_step(c, r);
	bias = v->start - f->vaddr_at_pgoff + f->base;
	if (pc < bias)
		return fp_step(c, r);
	row = find_row(u, f->row_first, f->row_count, pc - bias);
	if (!row)
		return fp_step(c, r);
	switch (row->cfa_reg) {
	case MT_CFA_RSP:
		cfa = r->sp + row->cfa_off;
		break;
	case MT_CFA_RBP:
		if (!r->bp || (r->bp & 7)) {
			r->flags |= MT_STACK_F_CUT;
			return 1;
		}
		cfa = r->bp + row->cfa_off;
		break;
	case MT_CFA_PLT:
		cfa = r->sp + row->cfa_off + ((r->ip & 15) >= row->plt_lim ? 8 : 0);
		break;
	case MT_CFA_UNDEFINED:
		return 1;
	case MT_CFA_NONE:
		return fp_step(c, r);
	default:
		r->flags |= MT_STACK_F_CUT;
		return 1;
	}
	if (row->rbp_rule == MT_RBP_AT_CFA && copy_read(c, cfa + 8 * (int64_t)row->rbp_off, &bp)) {
		r->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	if (copy_read(c, cfa - 8, &ra)) {
		r->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	if (!ra)
		return 1;
	if (cfa <= r->sp) {
		r->flags |= MT_STACK_F_CUT;
		return 1;
	}
	r->bp = bp;
	r->sp = cfa;
	r->ip = ra;
	return 0;
}

int unwinder__finish(struct unwinder *u, uint32_t pid, const struct proc_maps *maps,
		     const struct mt_uev_deferred *e, struct mt_stack *out, uint64_t *id)
{
	struct copy c = { .e = e };
	struct regs r = { .ip = e->ip, .sp = e->sp, .bp = e->bp };
	uint64_t hash = 0xcbf29ce484222325ULL;
	uint32_t n = e->nr_frames < MT_MAX_FRAMES ? e->nr_frames : MT_MAX_FRAMES, i;
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		out->ips[i] = e->ips[i];
		hash = (hash ^ e->ips[i]) * 0x100000001b3ULL;
	}
	pthread_mutex_lock(&u->lock);
	while (n < MT_MAX_FRAMES) {
		const struct file_table *ft;
		struct file_table f = { 0 };
		const struct vma *v = proc_maps__find(maps, r.ip - 1);

		/* A return address in no code: not a frame (the first one is kept, as BPF does). */
		if (!v || !unwinder_is_code(v)) {
			r.flags |= MT_STACK_F_CUT;
			if (n)
				break;
		}
		out->ips[n++] = r.ip;
		hash = (hash ^ r.ip) * 0x100000001b3ULL;
		if (r.flags & MT_STACK_F_CUT)
			break;
		if (n == MT_MAX_FRAMES) {
			r.flags |= MT_STACK_F_TRUNCATED;
			break;
		}
		if (vma__is_file(v)) {
			ft = unwinder_table_locked(u, pid, v);
			if (!ft) {
				err = -ENOMEM;
				break;
			}
			/* A copy: building another file's table may move the array. */
			f = *ft;
		}
		if (step(u, &c, &r, v, vma__is_file(v) ? &f : NULL))
			break;
	}
	pthread_mutex_unlock(&u->lock);
	if (err)
		return err;
	out->nr_frames = n;
	out->flags = r.flags;
	hash ^= n;
	/* The Python frames the BPF side read before its walk: part of the id it gives. */
	out->nr_py = e->nr_py < MT_MAX_PY_FRAMES ? e->nr_py : MT_MAX_PY_FRAMES;
	out->py_flags = e->py_flags;
	memcpy(out->py, e->py, sizeof(out->py));
	out->py_lo = e->py_lo;
	out->py_hi = e->py_hi;
	*id = mt_py_stack_id(hash ? hash : 1, out);
	return 0;
}
