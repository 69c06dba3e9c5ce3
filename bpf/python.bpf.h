/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Python: the thread's Python frames at each allocation of a Python
 * process, and pymalloc's allocations that a link-time optimized
 * interpreter inlined into its callers are python_sites.bpf.h's. Part of
 * memtrace.bpf.c, before the allocation accounting.
 *
 * Where the frames are (struct mt_py_layout, per interpreter file): the
 * thread's PyThreadState is the GIL's last holder when this thread holds
 * the GIL (what every object allocation does); otherwise (a C extension's
 * malloc with the GIL released) it is looked for in the first
 * interpreter's list of threads by native thread id. Its current frame
 * starts the chain of _PyInterpreterFrame records, each read once.
 * Nothing beyond _PyRuntime (in .dynsym) is needed.
 */

/* Per-file layouts and per-probe sites, written by userspace before the probes go live. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MT_MAX_PY_LAYOUTS);
	__type(key, __u32);
	__type(value, struct mt_py_layout);
} py_layouts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set from user space */
	__type(key, __u32);
	__type(value, struct mt_py_site);
} py_sites SEC(".maps");

/*
 * Python processes, as their first probe on the interpreter found them:
 * the allocator's other probes (libc's malloc in a C extension) read the
 * same frames.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_MAX_PIDS); /* set from user space */
	__type(key, __u32);
	__type(value, struct mt_py_proc);
} py_procs SEC(".maps");

/* New Python stacks' code objects, for userspace to name (struct mt_py_stack_event). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* bytes: ~3,000 events */
} py_events SEC(".maps");

/*
 * An inlined allocation that pymalloc passes on to libc's malloc family
 * (more than 512 bytes) marks the thread (mt_py_scratch.api_sp): the
 * libc call that follows is the interpreter's API's (MT_PY_F_API), as it
 * is where pymalloc's functions call malloc themselves. Near the site
 * either way: a little deeper through a call, or above it where the
 * inlined code's caller tail-calls the raw allocator (its frame popped).
 */
static __always_inline bool py_passed_api(struct mt_pending *p, __u64 sp)
{
	__u64 site = p->py.api_sp;

	if (!site)
		return false;
	p->py.api_sp = 0;
	return sp < site ? site - sp < 4096 : sp - site < 4096;
}

/* The walk's registers where an inlined site's walk starts: the scratch has their layout. */
_Static_assert(sizeof(struct walk_regs) == 32 &&
	       __builtin_offsetof(struct walk_regs, flags) == 24, "mt_py_scratch.start_*");

/* A word of the process at addr; 0 when it cannot be read. */
static __always_inline __u64 py_word(__u64 addr)
{
	__u64 v;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

/* The field at off (a multiple of 8 for words) in a frame read into buf. */
static __always_inline __u64 frame_word(const __u64 *buf, __u32 off)
{
	__u32 i = off / 8;

	if (i >= MT_PY_FRAME_READ / 8)
		return 0;
	return buf[i];
}

static __always_inline __u32 frame_byte(const __u64 *buf, __u32 off)
{
	return (__u32)(frame_word(buf, off & ~7u) >> ((off & 7) * 8)) & 0xff;
}

/* The thread's PyThreadState, or 0; interp: the main interpreter (read when 0). */
static __always_inline __u64 py_thread_state(const struct mt_py_layout *lay, __u64 runtime,
					     __u64 *interp)
{
	__u64 tid = (__u32)bpf_get_current_pid_tgid(), ts;
	__u32 k;

	if (!*interp)
		*interp = py_word(runtime + lay->interp_main);
	if (!*interp)
		return 0;
	/* The GIL's last holder: this thread, when it allocates a Python object. */
	ts = py_word((lay->gil_in_runtime ? runtime : *interp) + lay->gil_holder);
	if (ts && py_word(ts + lay->tstate_tid) == tid)
		return ts;
	/* Not the holder (a C extension's malloc without the GIL): the threads, a bounded look. */
	ts = py_word(*interp + lay->interp_threads);
	for (k = 0; k < 64 && ts; k++) {
		if (py_word(ts + lay->tstate_tid) == tid)
			return ts;
		ts = py_word(ts + lay->tstate_next);
	}
	return 0;
}

/* A walk of the frame chain: the next frame to read, and what was kept. */
struct py_walk_state {
	__u64 frame;
	__u32 n;
	__u32 flags;
};

/*
 * One _PyInterpreterFrame of the chain into st: 1 when the walk is over.
 * Global, so that the verifier goes through a frame once, not once per
 * frame of the walk with every count of frames kept.
 */
__noinline int py_frame(struct py_walk_state *s, const struct mt_py_layout *lay,
			struct mt_pending *p)
{
	struct mt_stack *st;
	__u64 code, instr, off, *buf;
	__u32 n;

	if (!s || !lay || !p || !s->frame)
		return 1;
	st = &p->stack;
	buf = p->py.buf;
	n = s->n;
	if (n >= MT_MAX_PY_FRAMES) {
		s->flags |= MT_PY_F_TRUNCATED;
		return 1;
	}
	if (bpf_probe_read_user(buf, MT_PY_FRAME_READ, (void *)s->frame)) {
		s->flags |= MT_PY_F_READ_FAILED;
		return 1;
	}
	s->frame = frame_word(buf, lay->frame_previous);
	/* The C stack's own frame (3.12+): the frames before it were one eval call's. */
	if (lay->owner_cstack != MT_PY_NONE &&
	    frame_byte(buf, lay->frame_owner) == lay->owner_cstack) {
		if (n)
			st->py[(n - 1) & (MT_MAX_PY_FRAMES - 1)] |= 1ull << 63;
		return 0;
	}
	code = frame_word(buf, lay->frame_code);
	instr = frame_word(buf, lay->frame_instr);
	off = instr - code;
	if (instr < code || off > 0xffff)
		off = 0;
	st->py[n & (MT_MAX_PY_FRAMES - 1)] =
		MT_PY_FRAME(code, off, lay->frame_is_entry != MT_PY_NONE &&
			    frame_byte(buf, lay->frame_is_entry));
	s->n = n + 1;
	return 0;
}

/*
 * The thread's Python frames into st (nr_py, py_flags, py), innermost
 * first, at most MT_MAX_PY_FRAMES. interp: the main interpreter, 0 when
 * not read yet. Returns the main interpreter (0: none found). Global:
 * verified once per program.
 */
__noinline __u64 py_walk(__u32 layout, __u64 bias, __u64 interp, struct mt_pending *p)
{
	struct py_walk_state s = {};
	const struct mt_py_layout *lay;
	struct mt_stack *st;
	__u64 ts, runtime;
	__u32 k;

	if (!p)
		return 0;
	st = &p->stack;
	lay = bpf_map_lookup_elem(&py_layouts, &layout);
	if (!lay || !lay->runtime)
		return 0;
	runtime = lay->runtime + bias;
	st->py_lo = lay->text_lo + bias;
	st->py_hi = lay->text_hi + bias;
	ts = py_thread_state(lay, runtime, &interp);
	if (!ts) {
		st->py_flags |= MT_PY_F_NO_THREAD;
		return interp;
	}
	if (lay->tstate_cframe != MT_PY_NONE)
		s.frame = py_word(py_word(ts + lay->tstate_cframe) + lay->current_frame);
	else
		s.frame = py_word(ts + lay->current_frame);
	/* Shim frames (3.12+) take a step each: twice the frames kept, at most. */
	for (k = 0; k < 2 * MT_MAX_PY_FRAMES; k++)
		if (py_frame(&s, lay, p))
			break;
	if (k == 2 * MT_MAX_PY_FRAMES && s.frame)
		s.flags |= MT_PY_F_TRUNCATED;
	st->nr_py = s.n;
	st->py_flags |= s.flags;
	return interp;
}

/* A field of a code object read from MT_PY_CODE_FROM into buf; 0 outside what was read. */
static __always_inline __u64 code_word(const __u64 *buf, __u32 off)
{
	__u32 i;

	if (off < MT_PY_CODE_FROM || off + 8 > MT_PY_CODE_FROM + MT_PY_CODE_READ)
		return 0;
	i = (off - MT_PY_CODE_FROM) / 8;
	if (i >= MT_PY_CODE_READ / 8)
		return 0;
	return buf[i] >> ((off & 7) * 8) | (off & 7 ? buf[i + 1] << (64 - (off & 7) * 8) : 0);
}

/*
 * A new stack's Python frames, with what each code object is now (it is
 * alive: its frame is running), to userspace (struct mt_py_stack_event).
 * Called once per stack and process: the reads cost nothing per
 * allocation. Global: verified once.
 */
__noinline int py_stack_event(__u32 tgid, const struct mt_stack *st)
{
	struct mt_py_stack_event *e;
	const struct mt_py_layout *lay;
	struct mt_py_proc *proc;
	struct mt_pending *p;
	__u32 i, n;

	if (!st)
		return 0;
	n = st->nr_py;
	proc = bpf_map_lookup_elem(&py_procs, &tgid);
	if (!n || !proc)
		return 0;
	lay = bpf_map_lookup_elem(&py_layouts, &proc->layout);
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, 0);
	if (!lay || !p)
		return 0;
	e = bpf_ringbuf_reserve(&py_events, sizeof(*e), 0);
	if (!e) {
		count(MT_CNT_PY_EVENTS_LOST);
		return 0;
	}
	e->pid = tgid;
	e->nr = n;
	for (i = 0; i < MT_MAX_PY_FRAMES && i < n; i++) {
		struct mt_py_code_ref *r = &e->f[i];
		__u64 code = MT_PY_FRAME_CODE(st->py[i]);

		r->frame = st->py[i];
		r->filename = r->qualname = r->linetable = 0;
		r->firstlineno = 0;
		r->pad = 0;
		if (bpf_probe_read_user(p->py.buf, MT_PY_CODE_READ, (void *)(code + MT_PY_CODE_FROM)))
			continue;
		r->filename = code_word(p->py.buf, lay->co_filename);
		r->qualname = code_word(p->py.buf, lay->co_qualname);
		r->linetable = code_word(p->py.buf, lay->co_linetable);
		r->firstlineno = (__s32)code_word(p->py.buf, lay->co_firstlineno);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Where the probe's interpreter is: its site's layout and the load bias. */
static __always_inline const struct mt_py_site *py_site_of(struct pt_regs *ctx, __u64 cookie,
							   __u64 *bias)
{
	__u32 idx = MT_COOKIE_PY_SITE(cookie);
	const struct mt_py_site *site = bpf_map_lookup_elem(&py_sites, &idx);

	if (site)
		*bias = PT_REGS_IP(ctx) - site->vaddr;
	return site;
}

/*
 * The thread's Python frames into st at an allocator's entry probe: for a
 * probe on the interpreter, through its site (and the process is
 * remembered as a Python one); for the others (libc's malloc), when the
 * process is known to be one.
 */
static __always_inline void py_stack(struct pt_regs *ctx, __u32 tgid, struct mt_pending *p)
{
	struct mt_stack *st = &p->stack;
	const struct mt_py_site *site;
	struct mt_py_proc *proc, np = {};
	__u64 cookie, bias = 0, interp;

	st->nr_py = 0;
	st->py_flags = 0;
	st->py_lo = st->py_hi = 0;
	if (!python_probes)
		return;
	cookie = bpf_get_attach_cookie(ctx);
	proc = bpf_map_lookup_elem(&py_procs, &tgid);
	if (cookie & MT_COOKIE_PY) {
		site = py_site_of(ctx, cookie, &bias);
		if (!site)
			return;
		/* Allocated through the interpreter's own API: a stack apart from libc's. */
		st->py_flags = MT_PY_F_API;
		/* A mark an inlined site left is this call's: it must not stay for a later one. */
		p->py.api_sp = 0;
		if (!proc || proc->bias != bias || proc->layout != site->layout) {
			np.bias = bias;
			np.layout = site->layout;
			np.interp = py_walk(site->layout, bias, 0, p);
			bpf_map_update_elem(&py_procs, &tgid, &np, BPF_ANY);
			return;
		}
	}
	if (!(cookie & MT_COOKIE_PY) && py_passed_api(p, PT_REGS_SP(ctx)))
		st->py_flags = MT_PY_F_API;
	if (proc) {
		interp = py_walk(proc->layout, proc->bias, proc->interp, p);
		if (interp && !proc->interp)
			proc->interp = interp;
	}
}

/* The stack id with the Python frames mixed in (include/memtrace.h). Global: one loop verified. */
__noinline __u64 py_stack_id(__u64 id, const struct mt_stack *st)
{
	if (!st)
		return id;
	return mt_py_stack_id(id, st);
}

/*
 * A free by the interpreter (pymalloc's, inlined or its function): the
 * block leaves the live ones. One memtrace did not know is unknown, unless
 * it is freed inside a traced call (a reallocation freeing the block it
 * moved). Either way the thread remembers it: pymalloc passes on to libc's
 * free what it does not own (blocks of more than 512 bytes, those the raw
 * domain took from malloc, one a reallocation shrank in place), and that
 * free must find it neither missing nor unknown. Per thread, not per CPU:
 * another thread's probe can run between the two on the same CPU.
 */
static __always_inline __s64 blocks_add(__s64 n);	/* alloc.bpf.h */

static __always_inline void py_free(__u32 tgid, __u64 ptr, __u64 sp)
{
	struct mt_alloc_key key = { .addr = ptr, .pid = tgid };
	struct mt_pending *p;
	bool known;

	if (!ptr)
		return;
	known = !bpf_map_delete_elem(&allocs, &key);
	if (known)
		blocks_add(-1);
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (p)
		p->py.free_ptr = ptr;
	/* Sampled, libc's blocks are mostly let go: not unknown (unknown_free). */
	if (!known && !native_sample_shift && (!p || !p->active || sp >= p->entry_sp))
		count(MT_CNT_UNKNOWN_FREES);
}

/*
 * allocate_from_new_pool's entry: the allocation an inlined site left to
 * it (py_site_alloc) is this call's, returned by mt_alloc_ret. Any other
 * call (from pymalloc's own function, probed) is nested in a traced one;
 * one from a site memtrace does not probe still makes the arena it may
 * map the allocator's.
 */
static __always_inline int py_refill_entry(struct pt_regs *ctx)
{
	struct mt_pending *p;
	__u64 sp = PT_REGS_SP(ctx);
	__u32 tgid;

	if (empty_probes || !probe_traced(&tgid))
		return 0;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return 0;
	if (p->active && sp < p->entry_sp)
		return 0;
	p->active = 1;
	p->entry_sp = sp;
	p->ret_addr = py_word(sp);
	p->kind = MT_KIND_MALLOC;
	p->pend_flags = 0;
	p->memptr = 0;
	p->old_ptr = 0;
	p->old_known = 0;
	/* Called from the site, a few frames below it at most. */
	if (!p->py_refill_sp || sp >= p->py_refill_sp || p->py_refill_sp - sp > 4096)
		p->stack_id = 0;
	p->py_refill_sp = 0;
	return 0;
}
