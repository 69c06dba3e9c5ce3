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
struct unwind_ctx {
	struct mt_stack *st;
	const struct mt_proc_modules *mods;
	__u64 tramp;		/* the uretprobe trampoline's address in this process */
	__u64 ip, sp, bp;
	__u64 hash;
	__u32 n;
	__u32 flags;
};

static __always_inline const struct mt_module *module_of(const struct mt_proc_modules *mods,
							 __u64 pc)
{
	__u32 lo = 0, hi = mods->nr, k, mid;
	const struct mt_module *m;

	if (hi > MT_MAX_MODULES)
		hi = MT_MAX_MODULES;
	/* Below every module with rows (an executable mapped low, walked with frame
	 * pointers): no search. */
	if (!hi || pc < mods->m[0].start)
		return NULL;
	/* The first module whose end is above pc. Indexes are masked for the verifier. */
	for (k = 0; k < 6 && lo < hi; k++) {
		mid = (lo + hi) / 2;
		barrier_var(mid);
		mid &= MT_MAX_MODULES - 1;
		if (mods->m[mid].end <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= MT_MAX_MODULES)
		return NULL;
	/* Clang drops a mask it can prove useless; the verifier still needs it. */
	barrier_var(lo);
	m = &mods->m[lo & (MT_MAX_MODULES - 1)];
	if (m->start > pc || m->end <= pc)
		return NULL;
	return m;
}

static __always_inline const struct mt_unwind_row *row_of(const struct mt_module *mod, __u64 pc)
{
	__u32 lo = mod->row_first, hi = mod->row_first + mod->row_count, k, key, slot;
	__u64 rel = pc - mod->bias;
	const struct mt_unwind_row *r;
	struct mt_row_cache_ent *ce;

	if (pc < mod->bias || rel > 0xffffffffULL)
		return NULL;
	/* A file's rows are written once, at row_first: (row_first, rel) names one row. */
	slot = (__u32)((rel ^ (rel >> 9) ^ ((__u64)mod->row_first << 3)) & (MT_ROW_CACHE_SIZE - 1));
	ce = bpf_map_lookup_elem(&row_cache, &slot);
	if (ce && ce->row_plus1 && ce->rel == (__u32)rel && ce->row_first == mod->row_first) {
		key = ce->row_plus1 - 1;
		return bpf_map_lookup_elem(&cfi_rows, &key);
	}
	/* The last row whose pc is at or below rel: find the first above it, step back. */
	for (k = 0; k < 24 && lo < hi; k++) {
		__u32 mid = lo + (hi - lo) / 2;

		r = bpf_map_lookup_elem(&cfi_rows, &mid);
		if (!r)
			return NULL;
		if (r->pc_lo <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == mod->row_first)
		return NULL;
	key = lo - 1;
	if (ce) {
		ce->rel = (__u32)rel;
		ce->row_first = mod->row_first;
		ce->row_plus1 = lo;
	}
	return bpf_map_lookup_elem(&cfi_rows, &key);
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

static __always_inline __u64 real_return(const struct unwind_ctx *c, __u64 ra, __u64 slot)
{
	if (!c->tramp || ra != c->tramp)
		return ra;
	return lookup_real_return(ra, slot);
}

/* One frame up by the frame pointer: [bp] is the caller's bp, [bp + 8] its return address. */
static __always_inline int fp_step(struct unwind_ctx *c)
{
	__u64 frame[2];

	if (!c->bp)
		return 1;
	if (bpf_probe_read_user(frame, sizeof(frame), (void *)c->bp)) {
		c->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	if (!frame[1])
		return 1;
	c->sp = c->bp + 16;
	/* A saved frame pointer that does not move up ends the chain after this frame. */
	c->bp = frame[0] > c->bp ? frame[0] : 0;
	c->ip = frame[1];
	return 0;
}

static long unwind_one(__u32 i, void *data)
{
	struct unwind_ctx *c = data;
	const struct mt_module *mod;
	const struct mt_unwind_row *row;
	__u64 cfa, ra, pc;

	if (i >= MT_MAX_FRAMES)
		return 1;
	c->st->ips[i] = c->ip;
	c->hash = (c->hash ^ c->ip) * 0x100000001b3ULL;
	c->n = i + 1;
	if (i == MT_MAX_FRAMES - 1) {
		c->flags |= MT_STACK_F_TRUNCATED;
		return 1;
	}
	/* A return address points after the call: its frame is that of ip - 1. */
	pc = c->ip - 1;
	mod = c->mods ? module_of(c->mods, pc) : NULL;
	if (!mod || !mod->row_count)
		return fp_step(c);
	row = row_of(mod, pc);
	if (!row)
		return fp_step(c);
	switch (row->cfa_reg) {
	case MT_CFA_RSP:
		cfa = c->sp + row->cfa_off;
		break;
	case MT_CFA_RBP:
		cfa = c->bp + row->cfa_off;
		break;
	case MT_CFA_PLT:
		/* The PLT expression: 8 more once the stub has pushed its index. */
		cfa = c->sp + row->cfa_off + ((c->ip & 15) >= row->plt_lim ? 8 : 0);
		break;
	case MT_CFA_UNDEFINED:
		return 1;
	default:
		return fp_step(c);
	}
	if (bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8))) {
		c->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	if (row->rbp_rule == MT_RBP_AT_CFA &&
	    bpf_probe_read_user(&c->bp, sizeof(c->bp), (void *)(cfa + 8 * (__s64)row->rbp_off))) {
		c->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	/* Each frame lies above the last: anything else is a broken unwind. */
	if (!ra || cfa <= c->sp)
		return 1;
	c->sp = cfa;
	c->ip = ra;
	return 0;
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
		.ip = ip,
		.sp = sp,
		.bp = bp,
		.hash = 0xcbf29ce484222325ULL,
	};

	if (!st)
		return 1;
	c.mods = bpf_map_lookup_elem(&proc_modules, &tgid);
	/* Published with the modules; read from the task (three loads) only until then. */
	if (c.mods && c.mods->tramp)
		c.tramp = c.mods->tramp;
	else
		c.tramp = BPF_CORE_READ(bpf_get_current_task_btf(), mm, uprobes_state.xol_area,
					vaddr);
	/* At an entry probe, the caller's return address was read from sp - 8. */
	if (ip_is_return)
		c.ip = real_return(&c, ip, sp - 8);
	if (!c.ip) {
		st->flags = MT_STACK_F_READ_FAILED;
		st->nr_frames = 0;
		return 1;
	}
	bpf_loop(MT_MAX_FRAMES, unwind_one, &c, 0);
	st->flags = c.flags;
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
