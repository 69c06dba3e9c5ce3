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
	/* The module of the last frame, index + 1 (0: none): frames come in runs. */
	__u32 mod;
};

/* walk_regs.flags, the walker's own: the rest of the walk goes to userspace. */
#define WALK_DEFER (1u << 31)
/* The first frame stands inside its code, not at a return address (a syscall, a site in a function). */
#define WALK_AT_PC (1u << 30)
/* rbp is still the start's: a step that uses it makes the walk depend on it (mt_walk_memo.bp_used). */
#define WALK_BP_START (1u << 29)
#define WALK_OWN_FLAGS (WALK_DEFER | WALK_AT_PC | WALK_BP_START)

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
	if (!hi || pc < mods->m[0].start)
		return -1;
	/* The first module whose end is above pc. Indexes are masked for the verifier. */
	for (k = 0; k < MT_MODULE_SEARCH_STEPS && lo < hi; k++) {
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

static __always_inline struct mt_row_cache_ent *row_cache_ent(__u32 first, __u64 rel)
{
	/* A file's rows are written once, at first: (first, rel) names one row. */
	__u32 slot = (__u32)((rel ^ (rel >> 9) ^ ((__u64)first << 3)) & (MT_ROW_CACHE_SIZE - 1));

	/* This CPU's part: a BPF program is not moved to another CPU while it runs. */
	slot |= bpf_get_smp_processor_id() * MT_ROW_CACHE_SIZE;
	return bpf_map_lookup_elem(&row_cache, &slot);
}

/* find_row's answer from the row cache, or NULL: inline, no call when it hits. */
static __always_inline const struct mt_unwind_row *cached_row(__u32 first, __u64 rel)
{
	struct mt_row_cache_ent *ce = row_cache_ent(first, rel);

	if (ce && ce->row_plus1 && ce->rel == (__u32)rel && ce->row_first == first &&
	    rel <= 0xffffffffULL)
		return &ce->row;
	return NULL;
}

/*
 * The row of a module's table (rows [first, first + count) in cfi_rows)
 * that covers rel, the address less the module's bias: its index plus one,
 * or 0. Global, so that the verifier walks its 24-step search once, not
 * once for every state of the module search before it. Its caller has
 * looked in the row cache first (cached_row); the row found goes there.
 */
__noinline __u32 find_row(__u32 first, __u32 count, __u64 rel)
{
	__u32 lo = first, hi = first + count, k;
	const struct mt_unwind_row *r;
	struct mt_row_cache_ent *ce;

	if (rel > 0xffffffffULL)
		return 0;
	ce = row_cache_ent(first, rel);
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
		__u32 key = lo - 1;

		r = bpf_map_lookup_elem(&cfi_rows, &key);
		if (!r)
			return 0;
		ce->row_plus1 = 0;
		ce->row = *r;
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

/*
 * Before a walk: the window is empty (the stack has changed since the last
 * one). NULL: no window, each frame is read alone.
 */
static __always_inline void stack_window_reset(struct mt_stack_window *w)
{
	if (!w)
		return;
	w->len = 0;
	w->failed = 0;
	w->fp_lo = w->fp_hi = 0;
	w->limit = bpf_get_current_task_btf()->mm->start_stack;
}

/* A walk being recorded (mt_walk_memo) read words words at window index idx. */
static __always_inline void memo_note(struct mt_stack_window *w, __u64 idx, __u32 words)
{
	struct mt_walk_memo_ent *m = &w->memo.e[w->memo.rec & (MT_MEMO_WAYS - 1)];
	__u32 n = m->n;

	if (n > MT_MEMO_WORDS - words) {
		w->memo.recording = 0;
		return;
	}
	m->idx[n] = (__u8)idx;
	m->val[n] = w->w[idx & (MT_STACK_WINDOW / 8 - 1)];
	if (words > 1) {
		idx++;
		m->idx[n + 1] = (__u8)idx;
		m->val[n + 1] = w->w[idx & (MT_STACK_WINDOW / 8 - 1)];
	}
	m->n = (__u8)(n + words);
}

/*
 * A walk being recorded read a new window at addr (its words words at the
 * start are read from it): its words from now on are that window's.
 */
static __always_inline void memo_window(struct mt_stack_window *w, __u64 addr, __u32 words)
{
	struct mt_walk_memo_ent *m = &w->memo.e[w->memo.rec & (MT_MEMO_WAYS - 1)];
	__u64 off = addr - (m->sp - 8);
	__u32 j = m->nwin;

	if (j >= MT_MEMO_WINDOWS || off > 0xffffffffULL) {
		w->memo.recording = 0;
		return;
	}
	m->win_start[j] = m->n;
	m->win_len[j] = (__u16)w->len;
	m->win_off[j] = (__u32)off;
	m->nwin = (__u8)(j + 1);
	memo_note(w, 0, words);
}

/* Bytes a window read at addr takes: the main thread's stack ends a little above where it started. */
static __always_inline __u64 window_len(const struct mt_stack_window *w, __u64 addr)
{
	if (addr < w->limit && w->limit - addr < MT_STACK_WINDOW)
		return w->limit - addr;
	return MT_STACK_WINDOW;
}

/* The window read anew: n bytes (window_len's) at addr. 0, or the read's error (w then empty). */
static __always_inline long window_fill(struct mt_stack_window *w, __u64 addr, __u64 n)
{
	long err;

	w->len = 0;
	barrier_var(n);
	if (n > MT_STACK_WINDOW)
		n = MT_STACK_WINDOW;
	err = bpf_probe_read_user(w->w, n, (void *)addr);
	if (err)
		return err;
	w->base = addr;
	w->len = n;
	return 0;
}

/*
 * words 8-byte words of the user stack at addr from the window: 0, or -1
 * when it does not hold them. note: a step of the walker, whose words a
 * walk being recorded notes (a constant: the other callers have no code for it).
 */
static __always_inline int window_get(struct mt_stack_window *w, __u64 addr, __u64 *out,
				      __u32 words, bool note)
{
	__u64 off, idx;

	if (!w)
		return -1;
	/* Else clang computes &w->w before the test, which the verifier refuses. */
	barrier_var(w);
	off = addr - w->base;
	/* off < len first: an address below the window wraps to a huge off. */
	if ((addr & 7) || off >= w->len || off + words * 8 > w->len)
		return -1;
	idx = (off >> 3) & (MT_STACK_WINDOW / 8 - 1);
	out[0] = w->w[idx];
	if (words > 1)
		out[1] = w->w[idx + 1];
	if (note && w->memo.recording)
		memo_note(w, idx, words);
	return 0;
}

/*
 * words 8-byte words of the user stack at addr into out: from the window
 * when it holds them, else from a new window read at addr. A bpf_probe_read_user
 * costs about the same for 8 bytes as for a KiB, and the frames of a walk lie
 * close together: most come from the first window or two. A window that cannot
 * be read (it would reach unmapped or never-touched stack) leaves the words to
 * a read of their own, as without a window, so that a walk reads exactly the
 * frames it did before and fails where it did. 0, or the read's error.
 */
static __always_inline long stack_read(struct mt_stack_window *w, __u64 addr, __u64 *out,
				       __u32 words, bool note)
{
	__u64 n;

	if (!window_get(w, addr, out, words, note))
		return 0;
	if (!w || (addr & 7))
		return bpf_probe_read_user(out, words * 8, (void *)addr);
	barrier_var(w);
	n = window_len(w, addr);
	/* Words read alone: a walk that reads them is not kept (mt_walk_memo). */
	if (n < words * 8 || w->failed >= 2) {
		w->memo.recording = 0;
		return bpf_probe_read_user(out, words * 8, (void *)addr);
	}
	if (window_fill(w, addr, n)) {
		w->failed++;
		w->memo.recording = 0;
		return bpf_probe_read_user(out, words * 8, (void *)addr);
	}
	out[0] = w->w[0];
	if (words > 1)
		out[1] = w->w[1];
	if (note && w->memo.recording)
		memo_window(w, addr, words);
	return 0;
}

/*
 * rbp after a frame-pointer step whose saved rbp did not lie above the
 * frame: not a frame pointer. Misaligned, so a frame-pointer step from it
 * stops the walk as cut; a CFA step that restores rbp replaces it.
 */
#define BP_BROKEN 1

/* The saved rbp of a frame record at bp: the caller's frame lies above. */
static __always_inline __u64 fp_caller_bp(__u64 saved, __u64 bp)
{
	if (!saved)
		return 0;	/* the outermost frame's: _start zeroes rbp */
	return saved > bp ? saved : BP_BROKEN;
}

/* A step is about to use rbp: while it is the start's, the walk depends on it. */
static __always_inline void note_bp_use(const struct walk_regs *r, struct mt_stack_window *w)
{
	if ((r->flags & WALK_BP_START) && w) {
		barrier_var(w);
		w->memo.e[w->memo.rec & (MT_MEMO_WAYS - 1)].bp_used = 1;
	}
}

/* One frame up by the frame pointer: [bp] is the caller's bp, [bp + 8] its return address. */
static __always_inline int fp_step(struct walk_regs *r, struct mt_stack_window *w)
{
	__u64 frame[2];

	note_bp_use(r, w);
	/* 0: the end of the chain, as the ABI marks it. */
	if (!r->bp)
		return 1;
	if (r->bp & 7) {
		r->flags |= MT_STACK_F_CUT;
		return 1;
	}
	if (stack_read(w, r->bp, frame, 2, true)) {
		r->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	if (!frame[1])
		return 1;
	r->sp = r->bp + 16;
	r->bp = fp_caller_bp(frame[0], r->bp);
	r->ip = frame[1];
	r->flags &= ~WALK_BP_START;
	return 0;
}

/*
 * The CFA by a row's rule: 0; 1 when the row ends the walk: the return
 * address is undefined (the outermost frame), or a rule the walker cannot
 * follow (marked cut); -1 where no CFI covers the pc, for the frame
 * pointer to stand in.
 */
static __always_inline int row_cfa(const struct mt_unwind_row *row, struct walk_regs *r,
				   __u64 *cfa)
{
	switch (row->cfa_reg) {
	case MT_CFA_RSP:
		*cfa = r->sp + row->cfa_off;
		return 0;
	case MT_CFA_RBP:
		/* rbp is no frame pointer here: a chain broken below (BP_BROKEN), or none. */
		if (!r->bp || (r->bp & 7)) {
			r->flags |= MT_STACK_F_CUT;
			return 1;
		}
		*cfa = r->bp + row->cfa_off;
		return 0;
	case MT_CFA_PLT:
		/* The PLT expression: 8 more once the stub has pushed its index. */
		*cfa = r->sp + row->cfa_off + ((r->ip & 15) >= row->plt_lim ? 8 : 0);
		return 0;
	case MT_CFA_UNDEFINED:
		return 1;
	case MT_CFA_NONE:
		return -1;
	}
	/* Signal frames, longjmp, expressions: guessing would make up a caller. */
	r->flags |= MT_STACK_F_CUT;
	return 1;
}

/*
 * The common cases of a step, inline in walk_batch, from what is at hand:
 * the window, the frame's module, the row cache. STEP_SLOW leaves r as it
 * was, for frame_step.
 */
enum { STEP_DONE, STEP_END, STEP_SLOW };

/* fp_step when the frame record lies in the window. */
static __always_inline int fp_step_in_window(struct walk_regs *r, struct mt_stack_window *w)
{
	__u64 frame[2];

	note_bp_use(r, w);
	if (!r->bp)
		return STEP_END;
	if (window_get(w, r->bp, frame, 2, true))
		return STEP_SLOW;
	if (!frame[1])
		return STEP_END;
	r->sp = r->bp + 16;
	r->bp = fp_caller_bp(frame[0], r->bp);
	r->ip = frame[1];
	r->flags &= ~WALK_BP_START;
	return STEP_DONE;
}

/*
 * Whether the frame at r is in the walk's frame-pointer range (fp_range):
 * followed by rbp, its row not looked up.
 */
static __always_inline bool in_fp_range(const struct mt_stack_window *w, const struct walk_regs *r)
{
	if (!w)
		return false;
	barrier_var(w);
	return r->ip - 1 - w->fp_lo < w->fp_hi - w->fp_lo;
}

/* frame_step's CFA rule when the row and the saved words are at hand. */
static __always_inline int cfa_step_in_window(struct walk_regs *r, const struct mt_proc_modules *mods,
					      struct mt_stack_window *w)
{
	const struct mt_unwind_row *row;
	const struct mt_module *mod;
	__u64 pc = r->ip - 1, cfa, ra, bp = r->bp;
	int m = (int)r->mod - 1;

	if (m < 0)
		return STEP_SLOW;
	mod = &mods->m[m & (MT_MAX_MODULES - 1)];
	if (!mod->row_count || mod->row_count == MT_ROWS_PENDING || pc < mod->bias)
		return STEP_SLOW;
	row = cached_row(mod->row_first, pc - mod->bias);
	if (!row)
		return STEP_SLOW;
	/* The frame-pointer rule (CFA = rbp + 16, rbp at CFA - 16): the frame record at rbp. */
	if (row->cfa_reg == MT_CFA_RBP && row->cfa_off == 16 && row->rbp_rule == MT_RBP_AT_CFA &&
	    row->rbp_off == -2)
		return fp_step_in_window(r, w);
	/* The rules that end the walk, or hand it to the frame pointer, are frame_step's. */
	if (row->cfa_reg != MT_CFA_RSP && row->cfa_reg != MT_CFA_RBP)
		return STEP_SLOW;
	if (row->cfa_reg == MT_CFA_RBP)
		note_bp_use(r, w);
	cfa = (row->cfa_reg == MT_CFA_RSP ? r->sp : r->bp) + row->cfa_off;
	if (row->rbp_rule == MT_RBP_AT_CFA && window_get(w, cfa + 8 * (__s64)row->rbp_off, &bp, 1, true))
		return STEP_SLOW;
	if (window_get(w, cfa - 8, &ra, 1, true))
		return STEP_SLOW;
	if (!ra)
		return STEP_END;
	if (cfa <= r->sp) {
		r->flags |= MT_STACK_F_CUT;
		return STEP_END;
	}
	r->bp = bp;
	r->sp = cfa;
	r->ip = ra;
	if (row->rbp_rule == MT_RBP_AT_CFA)
		r->flags &= ~WALK_BP_START;
	return STEP_DONE;
}

/*
 * One frame up from r, whose module walk_batch has found (r->mod): 0 when
 * r is the caller's frame, 1 when the walk ends. Code with CFI is walked
 * by its rows wherever they exist, whatever else the file holds (Rust's
 * std keeps frame pointers, a crate's own code does not); the frame
 * pointer is followed where no CFI covers the pc, in frame-pointer code
 * (in_fp_range: the rows there say the same), or in a module
 * without any. Global, so that it is verified once per program whatever
 * the walk's state, instead of once per state of every frame of
 * walk_batch.
 */
__noinline int frame_step(struct walk_regs *r, const struct mt_proc_modules *mods,
			  struct mt_stack_window *w)
{
	const struct mt_unwind_row *row;
	const struct mt_module *mod;
	__u64 cfa, ra, pc;
	__u32 key;
	int m, rule;

	if (!r)
		return 1;
	/* A return address points after the call: its frame is that of ip - 1. */
	pc = r->ip - 1;
	m = (int)r->mod - 1;
	if (!mods || m < 0)
		return fp_step(r, w);
	mod = &mods->m[m & (MT_MAX_MODULES - 1)];
	/* A table not there yet, and the walk not to be finished in userspace. */
	if (mod->row_count == MT_ROWS_PENDING) {
		r->flags |= MT_STACK_F_CUT;
		return 1;
	}
	if (!mod->row_count || pc < mod->bias || in_fp_range(w, r))
		return fp_step(r, w);
	row = cached_row(mod->row_first, pc - mod->bias);
	if (!row) {
		key = find_row(mod->row_first, mod->row_count, pc - mod->bias);
		/* Below the module's first row: no CFI there. */
		if (!key)
			return fp_step(r, w);
		key--;
		row = bpf_map_lookup_elem(&cfi_rows, &key);
		if (!row)
			return fp_step(r, w);
	}
	if (row->cfa_reg == MT_CFA_RBP)
		note_bp_use(r, w);
	rule = row_cfa(row, r, &cfa);
	if (rule > 0)
		return 1;
	if (rule < 0)
		return fp_step(r, w);
	/*
	 * The saved rbp (below the return address) first: a window read for
	 * it holds the return address too. Either read failing ends the walk.
	 */
	if (row->rbp_rule == MT_RBP_AT_CFA) {
		if (stack_read(w, cfa + 8 * (__s64)row->rbp_off, &r->bp, 1, true)) {
			r->flags |= MT_STACK_F_READ_FAILED;
			return 1;
		}
		r->flags &= ~WALK_BP_START;
	}
	if (stack_read(w, cfa - 8, &ra, 1, true)) {
		r->flags |= MT_STACK_F_READ_FAILED;
		return 1;
	}
	if (!ra)
		return 1;
	/* Each frame lies above the last: anything else is a broken unwind. */
	if (cfa <= r->sp) {
		r->flags |= MT_STACK_F_CUT;
		return 1;
	}
	r->sp = cfa;
	r->ip = ra;
	return 0;
}

/* A walk in progress: what walk_batch carries from one call to the next. */
struct walk_state {
	struct walk_regs r;
	__u64 hash;
	__u32 n;		/* frames recorded */
	__u32 may_defer;	/* a frame in unpublished code hands the walk to userspace */
};

/* Frames per walk_batch call: MT_MAX_FRAMES is a multiple of it. */
#define WALK_BATCH 8

/* Whether module mod (index + 1; 0: none) holds pc. */
static __always_inline bool module_holds(const struct mt_proc_modules *mods, __u32 mod, __u64 pc)
{
	const struct mt_module *m = &mods->m[(mod - 1) & (MT_MAX_MODULES - 1)];

	return mod && m->start <= pc && pc < m->end;
}

/*
 * Whether r's pc lies in executable code the process has mapped: r->mod
 * is its module (index + 1), from the last frame's when the pc is still in
 * it, else from the thread's hints (w), else from a search.
 */
static __always_inline bool frame_module(struct walk_regs *r, const struct mt_proc_modules *mods,
					 struct mt_stack_window *w)
{
	__u64 pc = r->ip - 1;
	__u32 j, h;
	int m;

	if (module_holds(mods, r->mod, pc))
		return true;
	if (w) {
		barrier_var(w);
		for (j = 0; j < MT_MOD_HINTS; j++) {
			h = w->mod_hint[j];
			if (module_holds(mods, h, pc)) {
				r->mod = h;
				return true;
			}
		}
	}
	m = find_module(mods, pc);
	r->mod = m + 1;
	if (m >= 0 && w) {
		barrier_var(w);
		w->mod_hint[w->mod_hint_next & (MT_MOD_HINTS - 1)] = m + 1;
		w->mod_hint_next++;
	}
	return m >= 0;
}

/*
 * w->fp_lo/fp_hi for the frame at r in module r->mod: the module's mapping
 * less its slow ranges, the piece around the frame's pc (its return address
 * less 1); empty where the module has no MT_MOD_F_FP_CALLS, the pc is in a
 * slow range, or the frame is not at a return address. Global: it runs once
 * per module a walk enters, and walk_batch's stack has no room for its locals.
 */
__noinline int fp_range(struct mt_stack_window *w, const struct walk_regs *r,
			const struct mt_proc_modules *mods)
{
	const struct mt_module *mod;
	__u64 lo, hi, slo, shi, pc;
	int m, j;

	if (!w || !r || !mods)
		return 0;
	w->fp_lo = w->fp_hi = 0;
	pc = r->ip - 1;
	m = (int)r->mod - 1;
	if (m < 0 || (r->flags & WALK_AT_PC))
		return 0;
	mod = &mods->m[m & (MT_MAX_MODULES - 1)];
	if (!(mod->flags & MT_MOD_F_FP_CALLS))
		return 0;
	lo = mod->start;
	hi = mod->end;
	for (j = 0; j < 2; j++) {
		slo = mod->bias + mod->fp_slow_lo[j];
		shi = mod->bias + mod->fp_slow_hi[j];
		if (slo == shi)
			continue;
		if (shi <= pc)
			lo = shi > lo ? shi : lo;
		else if (slo > pc)
			hi = slo < hi ? slo : hi;
		else
			return 0;
	}
	w->fp_lo = lo;
	w->fp_hi = hi;
	return 0;
}


/*
 * Up to WALK_BATCH frames of a walk: each recorded, then stepped from. 1
 * when the walk is over. A frame in frame-pointer code (fp_range) is
 * stepped by its frame pointer straight away; another whose step needs
 * neither a read nor a search is stepped inline; any other goes through
 * frame_step. Global, and
 * its loop short: the verifier goes through WALK_BATCH frames once, and a
 * walk costs a call per WALK_BATCH frames (a call costs ~13 ns here).
 *
 * With the process's modules known, a return address outside every
 * executable mapping is not a frame: a step went wrong (or the code was
 * mapped after the modules were published). It is not recorded, and the
 * stack is marked cut; only the first frame, the caller's return address
 * read at the probe, is kept whatever it is.
 */
__noinline int walk_batch(struct walk_state *s, const struct mt_proc_modules *mods,
			  struct mt_stack_window *w, struct mt_stack *st)
{
	__u32 k, i;
	int step;

	if (!s || !st)
		return 1;
	for (k = 0; k < WALK_BATCH; k++) {
		i = s->n;
		if (i >= MT_MAX_FRAMES)
			return 1;
		/* In the range: in a module, and one with rows. */
		if (mods && !in_fp_range(w, &s->r)) {
			if (!frame_module(&s->r, mods, w) ||
			    mods->m[(s->r.mod - 1) & (MT_MAX_MODULES - 1)].row_count ==
			    MT_ROWS_PENDING) {
				/* Code mapped, or a table built, since the modules were published. */
				if (s->may_defer) {
					s->r.flags |= WALK_DEFER;
					return 1;
				}
				if (!s->r.mod) {
					s->r.flags |= MT_STACK_F_CUT;
					if (i)
						return 1;
				}
			} else if (mods->m[(s->r.mod - 1) & (MT_MAX_MODULES - 1)].flags &
				   MT_MOD_F_FP_CALLS) {
				/* Only there: a call costs what a frame-pointer step does. */
				fp_range(w, &s->r, mods);
			}
		}
		st->ips[i & (MT_MAX_FRAMES - 1)] = s->r.ip;
		s->hash = (s->hash ^ s->r.ip) * 0x100000001b3ULL;
		s->n = i + 1;
		if (s->r.flags & MT_STACK_F_CUT)
			return 1;
		if (i == MT_MAX_FRAMES - 1) {
			s->r.flags |= MT_STACK_F_TRUNCATED;
			return 1;
		}
		if (!mods || in_fp_range(w, &s->r))
			step = fp_step_in_window(&s->r, w);
		else
			step = cfa_step_in_window(&s->r, mods, w);
		if (step == STEP_SLOW && frame_step(&s->r, mods, w))
			step = STEP_END;
		if (step == STEP_END)
			return 1;
		s->r.flags &= ~WALK_AT_PC;
	}
	return 0;
}

/*
 * The rest of a walk for userspace to finish (MT_STACK_F_DEFERRED): the
 * frame at r, not walked, and a copy of the stack above its stack pointer,
 * up to MT_DEFER_STACK_BYTES (less when the read would leave the stack:
 * halved until it succeeds). A walk that stopped where one already did
 * (walked: the hash of its frames) reuses that one's id. Returns the
 * provisional id the allocation is filed under, or 0 when the ring buffer is
 * full (counted). Global: the verifier checks it once, and its stack is not
 * on the walker's deepest chain of calls.
 */
__noinline __u64 defer_walk(const struct walk_regs *r, const struct mt_stack *st, __u32 nr_frames,
			   __u64 walked, __u64 limit)
{
	struct mt_defer_key dk = {};
	struct mt_uev_deferred *e;
	__u32 zero = 0, len, k;
	__u64 *seq, *known, id;

	if (!r || !st)
		return 0;
	/* Walks that stop at one place with different Python frames are different stacks. */
	dk.walked = walked ^ mt_py_frames_hash(st);
	dk.ip = r->ip;
	dk.sp = r->sp;
	dk.pid = bpf_get_current_pid_tgid() >> 32;
	known = bpf_map_lookup_elem(&defer_dedup, &dk);
	if (known)
		return *known;
	seq = bpf_map_lookup_elem(&defer_seq, &zero);
	if (!seq)
		return 0;
	e = bpf_ringbuf_reserve(&unwind_events, sizeof(*e), 0);
	if (!e) {
		count(MT_CNT_STACK_DEFER_LOST);
		return 0;
	}
	len = MT_DEFER_STACK_BYTES;
	if (limit > r->sp && limit - r->sp < len)
		len = (__u32)(limit - r->sp);
	for (k = 0; k < 4; k++) {
		len &= MT_DEFER_STACK_BYTES * 2 - 1;
		if (len > MT_DEFER_STACK_BYTES)
			len = MT_DEFER_STACK_BYTES;
		if (len && !bpf_probe_read_user(e->data, len, (void *)r->sp))
			break;
		len /= 2;
	}
	if (k == 4)
		len = 0;
	/* Atomic: another thread preempting this one on the CPU must not take the same id. */
	id = MT_STACK_ID_DEFERRED(bpf_get_smp_processor_id(),
				  __sync_fetch_and_add(seq, 1) + 1);
	e->type = MT_UEV_DEFERRED;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->prov_id = id;
	e->ip = r->ip;
	e->sp = r->sp;
	e->bp = r->bp;
	e->nr_frames = nr_frames;
	e->len = len;
	__builtin_memcpy(e->ips, st->ips, sizeof(e->ips));
	e->nr_py = st->nr_py;
	e->py_flags = st->py_flags;
	__builtin_memcpy(e->py, st->py, sizeof(e->py));
	e->py_lo = st->py_lo;
	e->py_hi = st->py_hi;
	bpf_ringbuf_submit(e, 0);
	count(MT_CNT_STACK_DEFERRED);
	bpf_map_update_elem(&defer_dedup, &dk, &id, BPF_ANY);
	return id;
}

/*
 * The window at base in w, len bytes as the walk read it (read again when
 * it is not the one there): whether it is.
 */
static __always_inline bool memo_window_at(struct mt_stack_window *w, __u64 base, __u32 len)
{
	if (w->base == base && w->len == len && len)
		return true;
	/* The same read as the walk's (stack_read): the same bytes, or none. */
	return len && window_len(w, base) == len && !window_fill(w, base, len);
}

/*
 * Windows the checks of one capture may read again: entries that start
 * alike and part deep in the stack must not cost more than the walk.
 */
#define MEMO_READS 2

/*
 * memo_window_at for a check, within its budget of reads. Global: the
 * window's length is a range the verifier would carry through every word
 * of memo_holds' loop.
 */
__noinline int memo_check_window(struct mt_stack_window *w, __u64 base, __u32 len)
{
	if (!w)
		return false;
	/* A window already there costs nothing. */
	if (!(w->base == base && w->len == len && len)) {
		if (w->memo.reads >= MEMO_READS)
			return false;
		w->memo.reads++;
	}
	return memo_window_at(w, base, len);
}

/*
 * Whether the words [from, to) of entry e are those in the window. Global,
 * as each function of the check: their loops are verified once.
 */
__noinline int memo_words_match(const struct mt_stack_window *w, __u32 e, __u32 from, __u32 to)
{
	const struct mt_walk_memo_ent *m;
	__u32 k;

	if (!w)
		return false;
	m = &w->memo.e[e & (MT_MEMO_WAYS - 1)];
	for (k = 0; k < MT_MEMO_WORDS; k++) {
		if (k < from)
			continue;
		if (k >= to)
			break;
		if (w->w[m->idx[k] & (MT_STACK_WINDOW / 8 - 1)] != m->val[k])
			return false;
	}
	return true;
}

/*
 * Whether entry e holds for the walk about to be made (its start already
 * matched): every word it read the same, each in its window.
 */
__noinline int memo_holds(struct mt_stack_window *w, __u32 e)
{
	const struct mt_walk_memo_ent *m;
	__u32 j, nwin, to;

	if (!w)
		return false;
	e &= MT_MEMO_WAYS - 1;
	m = &w->memo.e[e];
	nwin = m->nwin;
	if (!m->n || !nwin)
		return false;
	for (j = 0; j < MT_MEMO_WINDOWS && j < nwin; j++) {
		to = j + 1 < nwin ? m->win_start[(j + 1) & (MT_MEMO_WINDOWS - 1)] : m->n;
		if (!memo_check_window(w, m->sp - 8 + m->win_off[j], m->win_len[j]) ||
		    !memo_words_match(w, e, m->win_start[j], to))
			return false;
	}
	return true;
}

/*
 * The stack id of one of the thread's last walks from an entry (w->memo)
 * that holds for a walk starting at r with the modules of generation gen
 * (the same start, every word it read the same); else 0, and the walk
 * about to be made is recorded in the entry next in turn. Two stacks may
 * start alike (one function called from two places with the same frame
 * size): each keeps an entry. Global: its loops are verified once, and it
 * keeps capture_stack_at's stack small.
 */
__noinline __u64 memo_begin(struct mt_stack_window *w, const struct walk_regs *r, __u32 gen)
{
	struct mt_walk_memo_ent *m;
	__u64 base0;
	__u32 k, at, len0;

	if (!w || !r)
		return 0;
	/* The window read at the entry, from the return address: none, no memo. */
	base0 = r->sp - 8;
	len0 = w->base == base0 ? w->len : 0;
	if (!len0)
		return 0;
	w->memo.reads = 0;
	for (k = 0; k < MT_MEMO_WAYS; k++) {
		m = &w->memo.e[k];
		if (m->ip == r->ip && m->sp == r->sp && m->gen == gen &&
		    (!m->bp_used || m->bp == r->bp) && memo_holds(w, k)) {
			w->memo.hit = 1;
			return m->stack_id;
		}
	}
	/* The walk starts from the first window, as at the entry: checks may have read others. */
	if (!memo_window_at(w, base0, len0))
		return 0;
	at = w->memo.next & (MT_MEMO_WAYS - 1);
	w->memo.next = (at + 1) & (MT_MEMO_WAYS - 1);
	m = &w->memo.e[at];
	/* No entry until the walk is over (memo_keep): its start waits in walk_ip. */
	m->ip = 0;
	m->sp = r->sp;
	m->bp = r->bp;
	m->gen = gen;
	m->n = 0;
	m->nwin = 1;
	m->win_start[0] = 0;
	m->win_len[0] = (__u16)len0;
	m->win_off[0] = 0;
	m->bp_used = 0;
	w->memo.walk_ip = r->ip;
	w->memo.rec = at;
	w->memo.recording = 1;
	return 0;
}

/* The walk just made (id) kept in its entry if it was recorded whole; else none. */
__noinline int memo_keep(struct mt_stack_window *w, __u64 id)
{
	struct mt_walk_memo_ent *m;

	if (!w || !w->memo.recording)
		return 0;
	w->memo.recording = 0;
	m = &w->memo.e[w->memo.rec & (MT_MEMO_WAYS - 1)];
	/* Its ip is set last: the entry holds from then on. */
	if (id && m->n) {
		m->stack_id = id;
		m->ip = w->memo.walk_ip;
	}
	return 0;
}

/*
 * capture_stack_at's how. CAPTURE_MAY_DEFER: a frame in code whose table is
 * not published yet hands the rest of the walk to userspace (defer_walk)
 * instead of cutting it.
 */
#define CAPTURE_MAY_DEFER	1u
/*
 * The walk may be taken from the thread's memo (w->memo.hit says so: st
 * is then left as it was), and is kept there. Only for stacks whose frames
 * are stored once their id is known (stat_for): the caller must check.
 */
#define CAPTURE_MEMO		2u

/*
 * A global function: the verifier checks it once per program instead of
 * once for every path into every probe, which keeps loading fast.
 * how: CAPTURE_*.
 */
__noinline __u64 capture_stack_at(const struct walk_regs *start, __u32 ip_is_return,
				  struct mt_stack *st, struct mt_stack_window *w, __u32 how)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	const struct mt_proc_modules *mods;
	struct walk_state s = { .hash = 0xcbf29ce484222325ULL };
	__u64 tramp, id;
	__u32 b;

	if (!st || !start)
		return 1;
	s.r.ip = start->ip;
	s.r.sp = start->sp;
	s.r.bp = start->bp;
	if (!ip_is_return)
		s.r.flags = WALK_AT_PC;
	s.may_defer = (how & CAPTURE_MAY_DEFER) && defer_stacks;
	mods = bpf_map_lookup_elem(&proc_modules, &tgid);
	/* At an entry probe, the caller's return address was read from sp - 8. */
	if (ip_is_return) {
		/* Published with the modules; read from the task until then. */
		if (mods && mods->tramp)
			tramp = mods->tramp;
		else
			tramp = bpf_get_current_task_btf()->mm->uprobes_state.xol_area->vaddr;
		/* The real caller comes from the kernel, not from the stack: no memo. */
		if (tramp && s.r.ip == tramp) {
			s.r.ip = lookup_real_return(s.r.ip, s.r.sp - 8);
			how &= ~CAPTURE_MEMO;
		}
	}
	if (!s.r.ip) {
		st->flags = MT_STACK_F_READ_FAILED;
		st->nr_frames = 0;
		return 1;
	}
	if (w && (how & CAPTURE_MEMO)) {
		id = memo_begin(w, &s.r, mods ? mods->gen : 0);
		if (id) {
			count(MT_CNT_WALKS_REUSED);
			return id;
		}
		s.r.flags |= WALK_BP_START;
	}
	if (mods && (mods->flags & MT_MODS_F_FP_ONLY))
		mods = NULL;
	/* System-wide, a process userspace has published nothing for yet. */
	else if (!mods && trace_all && s.may_defer)
		s.r.flags |= WALK_DEFER;
	for (b = 0; b < MT_MAX_FRAMES / WALK_BATCH && !(s.r.flags & WALK_DEFER); b++)
		if (walk_batch(&s, mods, w, st))
			break;
	st->nr_frames = s.n;
	if (s.r.flags & WALK_DEFER) {
		if (w)
			w->memo.recording = 0;
		st->flags = (s.r.flags & ~WALK_OWN_FLAGS) | MT_STACK_F_DEFERRED;
		id = defer_walk(&s.r, st, s.n, s.hash,
				w ? w->limit : bpf_get_current_task_btf()->mm->start_stack);
		if (id)
			return id;
		/* No room to defer: the frames walked, marked cut. */
		st->flags = (st->flags & ~MT_STACK_F_DEFERRED) | MT_STACK_F_CUT;
	} else {
		st->flags = s.r.flags & ~WALK_OWN_FLAGS;
	}
	s.hash ^= s.n;
	id = s.hash ? s.hash : 1;
	/* A walk recorded for the memo (CAPTURE_MEMO) is kept there. */
	memo_keep(w, id);
	return id;
}

/*
 * At an entry probe: the caller's frame is the first. w: a window reset
 * before ret_addr was read through it (stack_window_reset), or NULL.
 */
static __always_inline __u64 capture_stack_win(struct pt_regs *ctx, __u64 ret_addr,
					       struct mt_stack *st, struct mt_stack_window *w,
					       __u32 how)
{
	struct walk_regs start = {
		.ip = ret_addr,
		.sp = PT_REGS_SP(ctx) + 8,
		.bp = PT_REGS_FP(ctx),
	};

	return capture_stack_at(&start, 1, st, w, how);
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
