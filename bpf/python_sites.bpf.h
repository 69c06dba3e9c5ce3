/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * pymalloc's allocations, frees and reallocations that a link-time
 * optimized interpreter inlined into its callers (struct mt_py_site): a
 * probe on each, where the inlined code has compared the allocator's
 * function pointer with pymalloc's own. Part of memtrace.bpf.c, after the
 * allocation accounting.
 */

/* The next libc malloc-family call of this thread, near sp, is the API's (py_passed_api). */
static __always_inline void py_mark_api(__u64 sp)
{
	struct mt_pending *p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
						    BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (p)
		p->py.api_sp = sp;
}

/* ZF: the comparison before the site found pymalloc's own function. */
#define X86_EFLAGS_ZF (1ull << 6)

/*
 * A block of size bytes the inlined code is about to take (block), or
 * leaves to allocate_from_new_pool when its pool is empty (0: the size and
 * stack wait for that call's return, MT_KIND_PY_REFILL). The stack is the
 * site's: the function the allocation was inlined into is its first frame.
 * Global: one stack walk verified for every kind of site.
 */
__noinline int py_site_record(struct pt_regs *ctx, __u32 tgid, __u64 size, __u64 block)
{
	struct mt_pending *p;
	struct walk_regs *start;

	if (!ctx)
		return 0;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return 0;
	/* Inside a traced call: the outer call's. */
	if (p->active && PT_REGS_SP(ctx) < p->entry_sp)
		return 0;
	p->size = size;
	py_stack(ctx, tgid, p);
	stack_window_reset(&p->win);
	/* The walk's start in the thread's scratch: the walk's chain of calls has no stack to spare. */
	start = (struct walk_regs *)&p->py.start_ip;
	start->ip = PT_REGS_IP(ctx);
	start->sp = PT_REGS_SP(ctx);
	start->bp = PT_REGS_FP(ctx);
	start->flags = 0;
	start->mod = 0;
	p->stack_id = py_stack_id(capture_stack_at(start, 0, &p->stack, &p->win, CAPTURE_MAY_DEFER), &p->stack);
	if (!block) {
		p->py_refill_sp = PT_REGS_SP(ctx);
		return 0;
	}
	p->py_refill_sp = 0;
	/* The interpreter's allocator is tracked exactly, sampling or not (README). */
	p->pend_flags = 0;
	record_block(tgid, block, p);
	return 0;
}

/* An inlined allocation: the block pymalloc's fast path takes, pool->freeblock. */
static __always_inline void py_site_alloc(struct pt_regs *ctx, const struct mt_py_site *site,
					  __u64 bias, __u32 tgid, __u64 size)
{
	const struct mt_py_layout *lay;
	__u32 layout = site->layout;
	__u64 pool, next, block = 0;

	if (size - 1 >= MT_PY_SMALL_MAX) {
		/* 0, or more than pymalloc's blocks: libc's malloc, probed, for the API. */
		py_mark_api(PT_REGS_SP(ctx));
		return;
	}
	if (size < min_size || size > max_size)
		return;
	lay = bpf_map_lookup_elem(&py_layouts, &layout);
	if (!lay || !lay->usedpools)
		return;
	pool = py_word(lay->usedpools + bias + ((size - 1) >> MT_PY_ALIGN_SHIFT) * 16);
	if (!pool)
		return;
	next = py_word(pool + 16);
	if (pool != next) {
		block = py_word(pool + 8);
		if (!block)
			return;
	}
	py_site_record(ctx, tgid, size, block);
}

/*
 * An inlined reallocation of a pymalloc block that stays where it is
 * (the new size fits its size class, and does not shrink it by a
 * quarter or more): freed and allocated again at the site's stack, as a
 * realloc is. One that moves calls pymalloc's own allocation and free,
 * probed; a block libc's malloc holds goes to libc's realloc, probed.
 */
static __always_inline void py_site_realloc(struct pt_regs *ctx, const struct mt_py_site *site,
					    __u32 tgid, __u64 ptr, __u64 size)
{
	struct mt_alloc_key key = { .addr = ptr, .pid = tgid };
	const struct mt_py_layout *lay;
	struct mt_alloc_info *info, old;
	__u32 layout = site->layout, szidx;
	__u64 cls;

	if (!ptr)
		return;
	info = bpf_map_lookup_elem(&allocs, &key);
	/* Growing past pymalloc's blocks, or libc's block: libc's realloc, for the API. */
	if (size - 1 >= MT_PY_SMALL_MAX || (info && MT_ALLOC_SIZE(info->size) - 1 >= MT_PY_SMALL_MAX)) {
		py_mark_api(PT_REGS_SP(ctx));
		return;
	}
	if (!info)
		return;
	lay = bpf_map_lookup_elem(&py_layouts, &layout);
	if (!lay || !lay->pool_size)
		return;
	if (bpf_probe_read_user(&szidx, sizeof(szidx),
				(void *)((ptr & ~((__u64)lay->pool_size - 1)) + lay->pool_szidx)))
		return;
	cls = ((__u64)szidx + 1) << MT_PY_ALIGN_SHIFT;
	if (size > cls || 4 * size <= 3 * cls)
		return;
	if (!forget_block(tgid, ptr, &old))
		return;
	if (size >= min_size && size <= max_size)
		py_site_record(ctx, tgid, size, ptr);
}

/*
 * Register reg (x86 numbering) at the probe. Global: the registers' copy
 * is not on the stack of the walk that follows (the verifier's 512 bytes
 * for a whole chain of calls).
 */
__noinline __u64 py_reg(struct pt_regs *ctx, __u32 reg)
{
	__u64 r[16];

	if (!ctx || reg >= 16)
		return 0;
	regs_by_number(ctx, r);
	return r[reg & 15];
}

/* A probe on an inlined allocation, free or reallocation (struct mt_py_site). */
SEC("uprobe")
int BPF_KPROBE(mt_py_site)
{
	__u64 cookie = bpf_get_attach_cookie(ctx), bias = 0, a, b;
	const struct mt_py_site *site;
	__u32 tgid;

	if (empty_probes)
		return 0;
	/* Not pymalloc (tracemalloc's hooks, the debug hooks): the call that follows is probed. */
	if (!(ctx->flags & X86_EFLAGS_ZF))
		return 0;
	if (!probe_traced(&tgid))
		return 0;
	site = py_site_of(ctx, cookie, &bias);
	if (!site)
		return 0;
	if (site->reg == MT_PY_REG_STACK)
		a = py_word(PT_REGS_SP(ctx) + site->add) - site->add;	/* + add below: the word */
	else
		a = site->reg == MT_PY_REG_CONST ? site->kind == MT_PY_SITE_CALLOC :
		    py_reg(ctx, site->reg);
	b = site->reg2 == MT_PY_REG_CONST ? site->kind == MT_PY_SITE_CALLOC : py_reg(ctx, site->reg2);
	switch (site->kind) {
	case MT_PY_SITE_ALLOC:
		py_site_alloc(ctx, site, bias, tgid, a + site->add);
		break;
	case MT_PY_SITE_FREE:
		py_free(tgid, site->reg == MT_PY_REG_STACK ? a + site->add : a, PT_REGS_SP(ctx));
		break;
	case MT_PY_SITE_REALLOC:
		py_site_realloc(ctx, site, tgid, a, b + site->add);
		break;
	case MT_PY_SITE_CALLOC:
		py_site_alloc(ctx, site, bias, tgid, array_bytes(array_bytes(a, b), site->add));
		break;
	}
	return 0;
}
