/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The stack walker: frame pointers, or the CFA rules of the unwind
 * tables userspace publishes per module. Part of memtrace.bpf.c.
 */

/*
 * The one place a stack is taken. At an entry probe the return address
 * sits at *sp (the callee has not pushed a frame yet): it is the caller,
 * passed in as ret_addr, and the caller's own stack pointer is sp + 8.
 * From there, for a process whose modules have unwind tables, each frame
 * is unwound with its module's CFA rules (code built without frame
 * pointers), or with the frame pointer in modules without rows; otherwise
 * the whole walk follows frame pointers. Returns the stack's id, a hash of
 * its frames (never 0).
 */
/*
 * The walker's registers between frames: scalars only, so that the frame
 * step can be a global function (a global function's pointer arguments
 * are plain memory to the verifier, and pointers read from them unusable).
 */
struct walk_regs {
	__u64 ip, sp, bp;
	__u32 flags;		/* MT_STACK_F_* */
	__u32 pad;
};

struct unwind_ctx {
	struct mt_stack *st;
	const struct mt_proc_modules *mods;
	struct walk_regs r;
	__u64 hash;
	__u32 n;
	__u32 pad;
};

/*
 * One step of a binary search, without a branch: lo = mid + 1 when below
 * (0 or 1), else hi = mid. With a branch the verifier would follow both
 * sides of every step, 2^steps paths in all; without, one.
 */
static __always_inline void search_step(__u32 *lo, __u32 *hi, __u32 mid, __u64 below)
{
	__u32 m = -(__u32)below;	/* all ones when below */

	/* Else clang turns the masks back into the branch. */
	barrier_var(m);
	*lo = (*lo & ~m) | ((mid + 1) & m);
	*hi = (*hi & m) | (mid & ~m);
}

/*
 * The index of the module holding pc in mods, or -1. Global, like
 * find_row: each search is verified once, not once per state of the other.
 */
__noinline int find_module(const struct mt_proc_modules *mods, __u64 pc)
{
	__u32 lo = 0, hi, k, mid;

	if (!mods)
		return -1;
	hi = mods->nr;
	if (hi > MT_MAX_MODULES)
		hi = MT_MAX_MODULES;
	/* Below every module with rows (an executable mapped low, walked with frame
	 * pointers): no search. */
	if (!hi || pc < mods->m[0].start)
		return -1;
	/* The first module whose end is above pc. Indexes are masked for the verifier. */
	for (k = 0; k < 6 && lo < hi; k++) {
		mid = (lo + hi) / 2;
		barrier_var(mid);
		mid &= MT_MAX_MODULES - 1;
		/* end <= pc: addresses are below 2^63 (a larger pc is in no module anyway). */
		search_step(&lo, &hi, mid, (mods->m[mid].end - 1 - pc) >> 63);
	}
	if (lo >= MT_MAX_MODULES)
		return -1;
	/* Clang drops a mask it can prove useless; the verifier still needs it. */
	barrier_var(lo);
	lo &= MT_MAX_MODULES - 1;
	if (mods->m[lo].start > pc || mods->m[lo].end <= pc)
		return -1;
	return (int)lo;
}

/*
 * The row of a module's table (rows [first, first + count) in cfi_rows)
 * that covers rel, the address less the module's bias: its index plus one,
 * or 0. Global, so that the verifier walks its 24-step search once, not
 * once for every state of the module search before it.
 */
__noinline __u32 find_row(__u32 first, __u32 count, __u64 rel)
{
	__u32 lo = first, hi = first + count, k, slot;
	const struct mt_unwind_row *r;
	struct mt_row_cache_ent *ce;

	if (rel > 0xffffffffULL)
		return 0;
	/* A file's rows are written once, at first: (first, rel) names one row. */
	slot = (__u32)((rel ^ (rel >> 9) ^ ((__u64)first << 3)) & (MT_ROW_CACHE_SIZE - 1));
	ce = bpf_map_lookup_elem(&row_cache, &slot);
	if (ce && ce->row_plus1 && ce->rel == (__u32)rel && ce->row_first == first)
		return ce->row_plus1;
	/* The last row whose pc is at or below rel: find the first above it, step back. */
	for (k = 0; k < 24 && lo < hi; k++) {
		__u32 mid = lo + (hi - lo) / 2;

		r = bpf_map_lookup_elem(&cfi_rows, &mid);
		if (!r)
			return 0;
		/* pc_lo <= rel, both below 2^32. */
		search_step(&lo, &hi, mid, ((__u64)r->pc_lo - 1 - rel) >> 63);
	}
	if (lo == first)
		return 0;
	if (ce) {
		ce->rel = (__u32)rel;
		ce->row_first = first;
		ce->row_plus1 = lo;
	}
	return lo;
}

/*
 * A return address that a uretprobe (memtrace's own, or another tool's,
 * or a second memtrace's) has replaced with its trampoline: the kernel
 * keeps the real one, keyed by the stack slot it was taken from. Only the
 * caller of the probed function is looked up: deeper frames hijacked by
 * other tools' return probes stay as the trampoline's address.
 */
static __noinline __u64 lookup_real_return(__u64 ra, __u64 slot)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct return_instance *ri;
	__u32 k;

	ri = BPF_CORE_READ(task, utask, return_instances);
	for (k = 0; k < 8 && ri; k++) {
		if (BPF_CORE_READ(ri, stack) == slot)
			return BPF_CORE_READ(ri, orig_ret_vaddr);
		ri = BPF_CORE_READ(ri, next);
	}
	return ra;
}

/* One frame up by the frame pointer: [bp] is the caller's bp, [bp + 8] its return address. */
static __always_inline int fp_step(struct walk_regs *r)
{
	__u64 frame[2];

	if (!r->bp)
		return 1;
	if (bpf_probe_read_user(frame, sizeof(frame), (void *)r->bp)) {
		r->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	if (!frame[1])
		return 1;
	r->sp = r->bp + 16;
	/* A saved frame pointer that does not move up ends the chain after this frame. */
	r->bp = frame[0] > r->bp ? frame[0] : 0;
	r->ip = frame[1];
	return 0;
}

/*
 * One frame up from r: 0 when r is the caller's frame, 1 when the walk
 * ends. Global, so that it is verified once per program whatever the
 * walk's state, instead of once per state of every bpf_loop iteration.
 */
__noinline int frame_step(struct walk_regs *r, const struct mt_proc_modules *mods)
{
	const struct mt_unwind_row *row;
	const struct mt_module *mod;
	__u64 cfa, ra, pc;
	__u32 key;
	int m;

	if (!r)
		return 1;
	/* A return address points after the call: its frame is that of ip - 1. */
	pc = r->ip - 1;
	m = find_module(mods, pc);
	if (m < 0 || !mods)
		return fp_step(r);
	mod = &mods->m[m & (MT_MAX_MODULES - 1)];
	if (!mod->row_count || pc < mod->bias)
		return fp_step(r);
	key = find_row(mod->row_first, mod->row_count, pc - mod->bias);
	if (!key)
		return fp_step(r);
	key--;
	row = bpf_map_lookup_elem(&cfi_rows, &key);
	if (!row)
		return fp_step(r);
	switch (row->cfa_reg) {
	case MT_CFA_RSP:
		cfa = r->sp + row->cfa_off;
		break;
	case MT_CFA_RBP:
		cfa = r->bp + row->cfa_off;
		break;
	case MT_CFA_PLT:
		/* The PLT expression: 8 more once the stub has pushed its index. */
		cfa = r->sp + row->cfa_off + ((r->ip & 15) >= row->plt_lim ? 8 : 0);
		break;
	case MT_CFA_UNDEFINED:
		return 1;
	default:
		return fp_step(r);
	}
	if (bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8))) {
		r->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	if (row->rbp_rule == MT_RBP_AT_CFA &&
	    bpf_probe_read_user(&r->bp, sizeof(r->bp), (void *)(cfa + 8 * (__s64)row->rbp_off))) {
		r->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	/* Each frame lies above the last: anything else is a broken unwind. */
	if (!ra || cfa <= r->sp)
		return 1;
	r->sp = cfa;
	r->ip = ra;
	return 0;
}

static long unwind_one(__u32 i, void *data)
{
	struct unwind_ctx *c = data;

	if (i >= MT_MAX_FRAMES)
		return 1;
	c->st->ips[i] = c->r.ip;
	c->hash = (c->hash ^ c->r.ip) * 0x100000001b3ULL;
	c->n = i + 1;
	if (i == MT_MAX_FRAMES - 1) {
		c->r.flags |= MT_STACK_F_TRUNCATED;
		return 1;
	}
	/* A global function's result is any int to the verifier; bpf_loop wants 0 or 1. */
	return frame_step(&c->r, c->mods) ? 1 : 0;
}

/*
 * A global function: the verifier checks it once per program instead of
 * once for every path into every probe, which keeps loading fast.
 */
__noinline __u64 capture_stack_at(__u64 ip, __u64 sp, __u64 bp, __u32 ip_is_return,
				  struct mt_stack *st)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct unwind_ctx c = {
		.st = st,
		.r = { .ip = ip, .sp = sp, .bp = bp },
		.hash = 0xcbf29ce484222325ULL,
	};
	__u64 tramp;

	if (!st)
		return 1;
	c.mods = bpf_map_lookup_elem(&proc_modules, &tgid);
	/* At an entry probe, the caller's return address was read from sp - 8. */
	if (ip_is_return) {
		/* Published with the modules; read from the task (three loads) only until then. */
		if (c.mods && c.mods->tramp)
			tramp = c.mods->tramp;
		else
			tramp = BPF_CORE_READ(bpf_get_current_task_btf(), mm,
					      uprobes_state.xol_area, vaddr);
		if (tramp && ip == tramp)
			c.r.ip = lookup_real_return(ip, sp - 8);
	}
	if (!c.r.ip) {
		st->flags = MT_STACK_F_READ_FAILED;
		st->nr_frames = 0;
		return 1;
	}
	bpf_loop(MT_MAX_FRAMES, unwind_one, &c, 0);
	st->flags = c.r.flags;
	st->nr_frames = c.n;
	c.hash ^= c.n;
	return c.hash ? c.hash : 1;
}

/* At an entry probe: the caller's frame is the first. */
static __always_inline __u64 capture_stack(struct pt_regs *ctx, __u64 ret_addr, struct mt_stack *st)
{
	return capture_stack_at(ret_addr, PT_REGS_SP(ctx) + 8, PT_REGS_FP(ctx), 1, st);
}

/*
 * The dynamic linker has mapped libraries (_dl_debug_state): stop the
 * command memtrace started, which follows it with ptrace, so that the
 * libraries' unwind tables are loaded before their code runs. memtrace
 * swallows the stop and lets it go on.
 */
SEC("uprobe")
int BPF_KPROBE(mt_dl_state)
{
	if (!stop_pid || (bpf_get_current_pid_tgid() >> 32) != stop_pid)
		return 0;
	__sync_fetch_and_add(&dl_stops_sent, 1);
	bpf_send_signal(19 /* SIGSTOP */);
	return 0;
}
