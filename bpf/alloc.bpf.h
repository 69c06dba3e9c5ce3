/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Allocation accounting: the allocator's entry points, its one return
 * probe and free. Part of memtrace.bpf.c, after the stack walker.
 */

static __always_inline __u64 array_bytes(__u64 nmemb, __u64 size)
{
	__u64 limit;

	if (!size)
		return 0;
	limit = ~0ULL / size;
	/* Keeps clang from turning the test into a 128-bit multiply BPF cannot do. */
	barrier_var(limit);
	if (nmemb > limit)
		return ~0ULL;
	return nmemb * size;
}

/*
 * Per stack, BPF counts only what userspace cannot see afterwards: calls
 * and bytes allocated, and blocks it could not keep. Live blocks are the
 * allocs map itself (userspace sums them per stack at each look), and frees
 * are the blocks counted that are no longer there: free deletes and is done.
 */
static __always_inline void not_recorded(__u32 tgid, __u64 stack_id)
{
	struct mt_stat_key skey = { .pid = tgid, .stack_id = stack_id };
	struct mt_stat *s = bpf_map_lookup_elem(&stats, &skey);

	if (s)
		__sync_fetch_and_add(&s->not_recorded, 1);
}

/* A block in, or out (-1), of the allocs map: this CPU's count. */
static __always_inline __s64 blocks_add(__s64 n)
{
	__u32 zero = 0;
	__s64 *c = bpf_map_lookup_elem(&block_count, &zero);

	if (!c)
		return 0;
	/* Atomic although per CPU: a uprobe's program can be preempted by another thread's. */
	return __sync_fetch_and_add(c, n) + n;
}

/*
 * The allocs map auto_sample_percent full: sampling from now on (userspace
 * says so). Summed over the CPUs: frees on one CPU of blocks kept on another
 * make a CPU's count mean nothing alone.
 */
static __noinline void maybe_start_sampling(void)
{
	__u32 zero = 0, cpu;
	__s64 sum = 0, *c;

	for (cpu = 0; cpu < nr_cpus && cpu < 1024; cpu++) {
		c = bpf_map_lookup_percpu_elem(&block_count, &zero, cpu);
		if (c)
			sum += *c;
	}
	if (sum * 100 >= (__s64)allocs_max * auto_sample_percent && !native_sample_shift)
		__sync_val_compare_and_swap(&native_sample_shift, 0, auto_sample_shift);
}

/* Forget a live block; returns false when the address was never recorded. */
static __always_inline bool forget_block(__u32 tgid, __u64 addr, struct mt_alloc_info *out)
{
	struct mt_alloc_key key = { .addr = addr, .pid = tgid };
	struct mt_alloc_info *info;

	info = bpf_map_lookup_elem(&allocs, &key);
	if (!info)
		return false;
	*out = *info;
	/* Two frees of one block race here; only the one that deletes it counts. */
	if (bpf_map_delete_elem(&allocs, &key))
		return false;
	blocks_add(-1);
	return true;
}

/* Put back a block that realloc failed to move (it is still the program's). */
static __always_inline void restore_block(__u32 tgid, __u64 addr, struct mt_alloc_info *info)
{
	struct mt_alloc_key key = { .addr = addr, .pid = tgid };

	if (bpf_map_update_elem(&allocs, &key, info, BPF_NOEXIST)) {
		count(MT_CNT_ALLOCS_MAP_FULL);
		not_recorded(tgid, info->stack_id);
	} else {
		blocks_add(1);
	}
}

/* Store a stack's frames once; false when the map is full (counted). */
static __always_inline bool store_stack(__u64 stack_id, const struct mt_stack *st)
{
	long err = bpf_map_update_elem(&stacks, &stack_id, st, BPF_NOEXIST);

	if (err == -EEXIST)
		return true;
	if (err) {
		count(MT_CNT_STACKS_MAP_FULL);
		return false;
	}
	count(MT_CNT_STACKS_STORED);
	if (st->flags & MT_STACK_F_TRUNCATED)
		count(MT_CNT_STACK_TRUNCATED);
	if (st->flags & MT_STACK_F_READ_FAILED)
		count(MT_CNT_STACK_READ_FAILED);
	if (st->flags & MT_STACK_F_CUT)
		count(MT_CNT_STACK_CUT);
	if (st->py_flags & MT_PY_F_TRUNCATED)
		count(MT_CNT_PY_STACK_TRUNCATED);
	if (st->py_flags & MT_PY_F_READ_FAILED)
		count(MT_CNT_PY_STACK_READ_FAILED);
	return true;
}

/* The stack's figures, created (its frames stored) if new; st NULL: not at hand. */
static __always_inline struct mt_stat *stat_for(__u32 tgid, __u64 stack_id, struct mt_stack *st)
{
	struct mt_stat_key skey = { .pid = tgid, .stack_id = stack_id };
	struct mt_stat zero = {};
	struct mt_stat *s;
	long err;

	s = bpf_map_lookup_elem(&stats, &skey);
	if (s)
		return s;
	/* A stack taken from the walk memo is one whose figures exist (entry_stack): not lost since. */
	if (!st) {
		count(MT_CNT_STACKS_MAP_FULL);
		return NULL;
	}
	/* First allocation from this stack in this process: store its frames once. */
	if (!store_stack(stack_id, st))
		return NULL;
	/* Its Python frames' code objects, named by userspace while they are alive. */
	if (st->nr_py)
		py_stack_event(tgid, st);
	err = bpf_map_update_elem(&stats, &skey, &zero, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		count(MT_CNT_STACKS_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&stats, &skey);
}

/*
 * CLOCK_MONOTONIC for a block's birth, read at most once per tick per
 * thread: bpf_ktime_get_ns costs ~90 ns here (a third of mt_alloc_ret's own
 * work), bpf_jiffies64 a fraction of it. Within a tick the time read first
 * stands for the tick, so that a block looks at most one tick (4 ms at
 * HZ=250) older than it is; ages are shown in tenths of seconds, and
 * --min-age is in seconds. Per thread: a per-CPU copy could be torn by
 * preemption.
 */
static __always_inline __u64 birth_time(struct mt_pending *p)
{
	__u64 j = bpf_jiffies64();

	if (j != p->clock_jiffies || !p->clock_ns) {
		p->clock_ns = bpf_ktime_get_ns();
		p->clock_jiffies = j;
	}
	return p->clock_ns;
}

/*
 * The block of an allocating call that returned: kept in the allocs map,
 * counted for its stack. Global: its locals are off the stack of the
 * program that walks stacks (BPF's 512 bytes are for a chain of calls).
 */
__noinline int record_block(__u32 tgid, __u64 addr, struct mt_pending *p)
{
	struct mt_alloc_key key = { .addr = addr, .pid = tgid };
	struct mt_alloc_info info = {};
	struct mt_alloc_info old;
	struct mt_stat *s;
	long err;

	if (!p)
		return 0;
	info.size = p->size;
	info.ts_ns = birth_time(p);
	info.stack_id = p->stack_id;

	s = stat_for(tgid, p->stack_id, (p->pend_flags & MT_PEND_REUSED) ? NULL : &p->stack);
	if (!s)
		return 0;
	/* Sampled tracing counts every call at its entry. */
	if (!(p->pend_flags & MT_PEND_COUNTED)) {
		__sync_fetch_and_add(&s->allocs_total, 1);
		__sync_fetch_and_add(&s->alloc_bytes_total, p->size);
	}

	err = bpf_map_update_elem(&allocs, &key, &info, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* The allocator handed out an address we think is live: its free was missed. */
		count(MT_CNT_ADDR_REUSED);
		forget_block(tgid, addr, &old);
		err = bpf_map_update_elem(&allocs, &key, &info, BPF_NOEXIST);
	}
	if (err) {
		count(MT_CNT_ALLOCS_MAP_FULL);
		__sync_fetch_and_add(&s->not_recorded, 1);
		/* Full before the sum said so: sampling from now on all the same. */
		if (auto_sample_shift && !native_sample_shift)
			__sync_val_compare_and_swap(&native_sample_shift, 0, auto_sample_shift);
		return 0;
	}
	/* Now and then, while memtrace may start sampling by itself: how full is the map? */
	if (!(blocks_add(1) & fill_check_mask) && auto_sample_shift && !native_sample_shift)
		maybe_start_sampling();
	return 0;
}

/* Bytes to the next sampled allocation: an exponential draw of mean rate (go_exp_table's steps). */
static __always_inline __s64 native_sample_distance(__u64 rate)
{
	__u32 step = bpf_get_prandom_u32() & (MT_GO_EXP_STEPS - 1);

	return (__s64)(((__u64)go_exp_table[step] * rate) >> MT_GO_EXP_SHIFT);
}

/*
 * Whether an allocation of size bytes is sampled: each CPU counts bytes
 * down to its next sample, drawn from an exponential distribution as the
 * Go runtime and tcmalloc draw theirs, so that a block of size s is drawn
 * with probability 1 - e^(-s/rate) whatever came before (the estimate that
 * weighs it by the inverse is unbiased).
 */
static __always_inline bool native_sampled(__u64 size, __u64 rate)
{
	struct mt_go_sample_next *next;
	__u32 zero = 0;

	next = bpf_map_lookup_elem(&native_sample_next, &zero);
	if (!next)
		return false;
	if (!next->drawn) {
		next->left = native_sample_distance(rate);
		next->drawn = 1;
	}
	next->left -= (__s64)size;
	if (next->left > 0)
		return false;
	next->left = native_sample_distance(rate);
	return true;
}

/*
 * The stack of an allocating call, at its entry: its Python frames, then
 * the native ones, taken from the thread's walk memo when it holds (then
 * p->stack keeps an earlier walk's frames, and *stat is the stack's
 * figures: a stack is taken again only once its frames are stored), else
 * walked. MT_PEND_REUSED in p->pend_flags says which.
 */
static __always_inline __u64 entry_stack(struct pt_regs *ctx, __u32 tgid, __u64 ret_addr,
					 struct mt_pending *p, struct mt_stack_window *w,
					 struct mt_stat **stat)
{
	struct mt_stat_key skey = { .pid = tgid };
	__u32 how = CAPTURE_MAY_DEFER;
	__u64 id;

	py_stack(ctx, tgid, p);
	/* With Python frames, the id is made from p->stack's native frames and flags too (py_stack_id). */
	if (!p->stack.nr_py && !(p->stack.py_flags & MT_PY_F_API))
		how |= CAPTURE_MEMO;
	w->memo.hit = 0;
	id = capture_stack_win(ctx, ret_addr, &p->stack, w, how);
	if (w->memo.hit) {
		skey.stack_id = id;
		*stat = bpf_map_lookup_elem(&stats, &skey);
		if (*stat) {
			p->pend_flags |= MT_PEND_REUSED;
			return id;
		}
		/* Its frames never stored (the maps were full): walked, to try again. */
		id = capture_stack_win(ctx, ret_addr, &p->stack, w, CAPTURE_MAY_DEFER);
	}
	return py_stack_id(id, &p->stack);
}

/* Sampled tracing: one call counted for its stack, at its entry (s: its figures, when known). */
static __always_inline void count_call(__u32 tgid, __u64 stack_id, struct mt_stack *st, __u64 size,
				       struct mt_stat *s)
{
	if (!s)
		s = stat_for(tgid, stack_id, st);
	if (!s)
		return;
	__sync_fetch_and_add(&s->allocs_total, 1);
	__sync_fetch_and_add(&s->alloc_bytes_total, size);
}

static __always_inline void uncount_call(__u32 tgid, __u64 stack_id, __u64 size)
{
	struct mt_stat_key skey = { .pid = tgid, .stack_id = stack_id };
	struct mt_stat *s = bpf_map_lookup_elem(&stats, &skey);

	if (!s)
		return;
	__sync_fetch_and_sub(&s->allocs_total, 1);
	__sync_fetch_and_sub(&s->alloc_bytes_total, size);
}

/*
 * Entry of an allocating function. Nested calls (reallocarray calling
 * realloc through the PLT, operator new calling malloc) are recognised by a
 * deeper stack pointer and left to the outermost call. Returns 1 when the
 * call's return is of no interest (a uprobe session then skips it: no
 * return trap), else 0.
 *
 * Sampled tracing (native_sample_shift, with a session only): every call is
 * counted for its stack here, and only a sampled one goes on to its return,
 * where its block is kept; a realloc's old block, if it was kept, goes now.
 */
static __always_inline int on_entry(struct pt_regs *ctx, __u32 kind, __u64 size, __u64 old_ptr,
				    __u64 memptr, bool session)
{
	struct mt_stack_window *w = NULL;
	struct mt_stat *stat = NULL;
	struct mt_alloc_info gone;
	struct mt_pending *p;
	__u32 shift = session ? (__u32)native_sample_shift : 0;
	__u64 sp, ret_addr, rate = shift && shift <= MT_SAMPLE_SHIFT_MAX ? 1ull << shift : 0;
	bool want_stack;
	__u32 tgid;

	if (empty_probes)
		return 0;
	if (!probe_traced(&tgid))
		return 1;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return 1;
	sp = PT_REGS_SP(ctx);
	/* The stack's first window, read from sp, holds the return address too. */
	want_stack = size >= min_size && size <= max_size;
	if (want_stack) {
		w = &p->win;
		stack_window_reset(w);
	}
	if (stack_read(w, sp, &ret_addr, 1, false))
		ret_addr = 0;
	if (p->active) {
		/*
		 * Deeper on the stack: a nested call. At the same depth with a
		 * different return address: a tail call (reallocarray jumps to
		 * realloc), whose return address the outer return probe replaced.
		 */
		if (sp < p->entry_sp || (sp == p->entry_sp && ret_addr != p->ret_addr))
			return 1;
		count(MT_CNT_MISSED_RETURNS);
	}
	p->pend_flags = 0;
	if (rate) {
		__u64 stack_id;

		/* 64 PiB and more fails: not an allocation (exact tracking counts no failure). */
		if (size != MT_ALLOC_SIZE(size)) {
			count(MT_CNT_FAILED_ALLOCS);
			return 1;
		}
		stack_id = 0;
		if (want_stack)
			stack_id = entry_stack(ctx, tgid, ret_addr, p, w, &stat);
		if (stack_id)
			count_call(tgid, stack_id, &p->stack, size, stat);
		/* A block not kept is freed without a trace; one that was goes now. */
		if (old_ptr)
			forget_block(tgid, old_ptr, &gone);
		if (!stack_id || !native_sampled(size, rate))
			return 1;
		p->stack_id = stack_id;
		p->pend_flags |= MT_PEND_COUNTED | MT_PEND_SAMPLED;
		/* The block keeps the rate it was drawn at: the rate may change later. */
		size = MT_ALLOC_SIZE(size) | MT_ALLOC_SAMPLED | (__u64)shift << 56;
		/* Its old block already gone: a failed realloc forgets it (rare, and sampled). */
		old_ptr = 0;
	}
	p->active = 1;
	p->entry_sp = sp;
	p->ret_addr = ret_addr;
	p->kind = kind;
	p->size = size;
	p->memptr = memptr;
	p->old_ptr = old_ptr;
	p->old_known = 0;
	if (rate)
		return 0;
	/*
	 * realloc's old block is forgotten now, while it is still the caller's:
	 * once realloc has freed it another thread may be handed the address.
	 */
	if (old_ptr) {
		if (forget_block(tgid, old_ptr, &p->old_info))
			p->old_known = 1;
		else
			count(MT_CNT_UNKNOWN_FREES);
	}
	if (!want_stack) {
		p->stack_id = 0;
		return 0;
	}
	p->stack_id = entry_stack(ctx, tgid, ret_addr, p, w, &stat);
	return 0;
}

/*
 * One program for every allocating entry point; the attach cookie says
 * which one it is. (One program also means the stack walker is verified
 * once, not once per entry point.)
 */
/*
 * The registers by x86 number (MT_COOKIE_ARG_REG), copied out: the verifier
 * refuses a context load at a computed offset, which a switch compiles to.
 */
static __always_inline void regs_by_number(const struct pt_regs *ctx, __u64 *r)
{
	if (!ctx)
		return;
	r[0] = ctx->ax;
	r[1] = ctx->cx;
	r[2] = ctx->dx;
	r[3] = ctx->bx;
	r[4] = ctx->sp;
	r[5] = ctx->bp;
	r[6] = ctx->si;
	r[7] = ctx->di;
	r[8] = ctx->r8;
	r[9] = ctx->r9;
	r[10] = ctx->r10;
	r[11] = ctx->r11;
	r[12] = ctx->r12;
	r[13] = ctx->r13;
	r[14] = ctx->r14;
	r[15] = ctx->r15;
}

/*
 * Register reg (x86 number) of ctx. Global: the copy of all of them is its
 * own stack frame, off the walker's deepest chain of calls (whose frames
 * together must stay within BPF's 512 bytes).
 */
__noinline __u64 reg_value(struct pt_regs *ctx, __u32 reg)
{
	__u64 r[16];

	if (!ctx)
		return 0;
	regs_by_number(ctx, r);
	return r[reg & 15];
}

/* An allocating entry point's arguments, by the cookie's kind (and moved registers). */
static __always_inline int alloc_entry(struct pt_regs *ctx, bool session)
{
	__u64 cookie = bpf_get_attach_cookie(ctx), kind = MT_COOKIE_KIND(cookie);
	__u64 a0 = PT_REGS_PARM1(ctx), a1 = PT_REGS_PARM2(ctx), a2 = PT_REGS_PARM3(ctx);
	__u64 size, old_ptr = 0, memptr = 0;

	if (cookie & MT_COOKIE_ARGS_MOVED) {
		a0 = reg_value(ctx, MT_COOKIE_ARG_REG(cookie, 0));
		a1 = reg_value(ctx, MT_COOKIE_ARG_REG(cookie, 1));
		a2 = reg_value(ctx, MT_COOKIE_ARG_REG(cookie, 2));
	}
	size = a0;
	switch (kind) {
	case MT_KIND_MALLOC:
		break;
	case MT_KIND_CALLOC:
		/* An overflowing product makes calloc fail; the size is then moot. */
		size = array_bytes(a0, a1);
		break;
	case MT_KIND_REALLOC:
		size = a1;
		old_ptr = a0;
		break;
	case MT_KIND_REALLOCARRAY:
		size = array_bytes(a1, a2);
		old_ptr = a0;
		break;
	case MT_KIND_MEMALIGN:
		size = a1;
		break;
	case MT_KIND_POSIX_MEMALIGN:
		size = a2;
		memptr = a0;
		break;
	case MT_KIND_PY_REFILL:
		return py_refill_entry(ctx);
	default:
		return 1;
	}
	return on_entry(ctx, (__u32)kind, size, old_ptr, memptr, session);
}

/* The outermost call's return: its block recorded. */
static __always_inline int on_return(struct pt_regs *ctx, __u64 ret)
{
	struct mt_pending *p;
	__u64 ptr = ret;
	__u32 tgid;

	if (empty_probes)
		return 0;
	if (!probe_traced(&tgid))
		return 0;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, 0);
	if (!p || !p->active)
		return 0;
	/* Only the outermost call's return is ours: sp is back above its return address. */
	if (PT_REGS_SP(ctx) != p->entry_sp + 8)
		return 0;
	p->active = 0;

	if (p->kind == MT_KIND_POSIX_MEMALIGN) {
		ptr = 0;
		if ((int)ret == 0 && bpf_probe_read_user(&ptr, sizeof(ptr), (void *)p->memptr))
			ptr = 0;
	}
	if (!ptr) {
		/* realloc(p, 0) frees p and returns NULL; any other NULL is a failure. */
		bool freed = (p->kind == MT_KIND_REALLOC || p->kind == MT_KIND_REALLOCARRAY) &&
			     p->old_ptr && MT_ALLOC_SIZE(p->size) == 0;

		if (!freed) {
			if (p->old_known)
				restore_block(tgid, p->old_ptr, &p->old_info);
			count(MT_CNT_FAILED_ALLOCS);
			/*
			 * Sampled tracing counted it at its entry: a failure is taken back
			 * (one that was not sampled stays counted: a huge request, the
			 * usual failure, is sampled all but surely).
			 */
			if (p->pend_flags & MT_PEND_COUNTED)
				uncount_call(tgid, p->stack_id, MT_ALLOC_SIZE(p->size));
		}
		return 0;
	}
	if (!p->stack_id)
		return 0;
	record_block(tgid, ptr, p);
	return 0;
}

/*
 * One program for every allocating entry point; the attach cookie says
 * which one it is. (One program also means the stack walker is verified
 * once, not once per entry point.)
 */
SEC("uprobe")
int BPF_KPROBE(mt_alloc_entry)
{
	alloc_entry(ctx, false);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(mt_alloc_ret, __u64 ret)
{
	return on_return(ctx, ret);
}

extern bool bpf_session_is_return(void) __ksym __weak;

/*
 * Entry and return in one program, as a uprobe session (kernel 6.13+): at
 * the entry, returning 1 tells the kernel not to run the return at all,
 * which spares a call that is not sampled its return trap (sampled native
 * tracing), and a nested call's. Attached instead of mt_alloc_entry and
 * mt_alloc_ret where the kernel makes session links.
 */
SEC("uprobe")
int BPF_KPROBE(mt_alloc_session)
{
	if (bpf_session_is_return())
		return on_return(ctx, PT_REGS_RC(ctx));
	return alloc_entry(ctx, true);
}

/*
 * A free whose block is not known: counted, unless it runs inside a traced
 * allocating call (mimalloc's realloc calls mi_free on the old block, which
 * the realloc's entry already took out).
 */
static __always_inline void unknown_free(struct pt_regs *ctx, __u64 ptr)
{
	struct mt_pending *p;

	/* Sampling keeps few blocks: most frees are of blocks it let go. */
	if (native_sample_shift)
		return;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, 0);

	if (p && p->active && PT_REGS_SP(ctx) < p->entry_sp)
		return;
	/* The interpreter's free passing it on: that free took it out, or counted it. */
	if (p && p->py.free_ptr == ptr) {
		p->py.free_ptr = 0;
		return;
	}
	count(MT_CNT_UNKNOWN_FREES);
}

static __always_inline int on_free(struct pt_regs *ctx, __u64 ptr)
{
	struct mt_alloc_key key = { .addr = ptr };
	__u32 tgid;

	if (empty_probes)
		return 0;
	/* free may be probed past its NULL test, where NULL also passes. */
	if (!ptr)
		return 0;
	if (!probe_traced(&tgid))
		return 0;
	key.pid = tgid;
	/* The interpreter's free: what it passes on to libc's free is not unknown there. */
	if (python_probes && (bpf_get_attach_cookie(ctx) & MT_COOKIE_PY)) {
		py_free(tgid, ptr, PT_REGS_SP(ctx));
		return 0;
	}
	/*
	 * Sampling keeps few blocks: a lookup, which takes no lock, turns most
	 * frees away more cheaply than a delete, which locks the bucket first.
	 */
	if (native_sample_shift && !bpf_map_lookup_elem(&allocs, &key))
		return 0;
	if (bpf_map_delete_elem(&allocs, &key))
		unknown_free(ctx, ptr);
	else
		blocks_add(-1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mt_free, __u64 ptr)
{
	return on_free(ctx, ptr);
}

/* free past a register shuffle: the cookie says where the pointer is (MT_COOKIE_ARG_REG). */
SEC("uprobe")
int BPF_KPROBE(mt_free_moved)
{
	return on_free(ctx, reg_value(ctx, MT_COOKIE_ARG_REG(bpf_get_attach_cookie(ctx), 0)));
}
