/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Go's allocator, which has no malloc/free to probe. Part of memtrace.bpf.c,
 * after the allocation accounting.
 */

/*
 * Go. Only entry probes: a return probe rewrites the return address on a
 * goroutine stack, which the runtime may move, and the program crashes.
 * Probes sit on the branch of the function's stack-bound check (cookie
 * MT_COOKIE_GO_STACK_CHECK): when that branch is taken (CF or ZF set), the
 * call goes to morestack and starts again, so only the second pass counts.
 */
#define X86_CF 0x001
#define X86_ZF 0x040

static __always_inline bool go_call_restarts(struct pt_regs *ctx)
{
	return bpf_get_attach_cookie(ctx) == MT_COOKIE_GO_STACK_CHECK &&
	       (ctx->flags & (X86_CF | X86_ZF));
}

/* The thread's scratch record, its stack window emptied for a new walk. */
static __always_inline struct mt_pending *go_pending(void)
{
	struct mt_pending *p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
						    BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (p)
		stack_window_reset(&p->win);
	return p;
}

/*
 * Count an allocation of size bytes on the stack whose first frame is
 * start, runtime.mallocgc's caller (p->win reset and holding the words
 * read so far). Returns the stack's id, 0 when it was not counted.
 */
static __always_inline __u64 go_count(__u32 tgid, struct mt_pending *p,
				      const struct walk_regs *start, __u64 size)
{
	__u64 stack_id = capture_stack_at(start, 0, &p->stack, &p->win, 0);
	struct mt_stat *st = stat_for(tgid, stack_id, &p->stack);

	if (!st)
		return 0;
	__sync_fetch_and_add(&st->allocs_total, 1);
	__sync_fetch_and_add(&st->alloc_bytes_total, size);
	return stack_id;
}

/* runtime.mallocgc(size uintptr, typ *_type, needzero bool): size in RAX (Go register ABI). */
SEC("uprobe")
int BPF_KPROBE(mt_go_mallocgc)
{
	struct walk_regs start = { .sp = PT_REGS_SP(ctx) + 8, .bp = PT_REGS_FP(ctx) };
	struct mt_pending *p;
	__u64 size = ctx->ax;
	__u32 tgid;

	if (empty_probes)
		return 0;
	if (!probe_traced(&tgid) || go_call_restarts(ctx))
		return 0;
	if (size < min_size || size > max_size)
		return 0;
	p = go_pending();
	if (!p)
		return 0;
	/* The stack's first window, read from sp, holds the return address too. */
	if (stack_read(&p->win, PT_REGS_SP(ctx), &start.ip, 1))
		start.ip = 0;
	go_count(tgid, p, &start, size);
	return 0;
}

static __always_inline struct mt_go_stat *go_stat(__u32 tgid)
{
	struct mt_go_stat zero = {}, *g;

	g = bpf_map_lookup_elem(&go_stats, &tgid);
	if (g)
		return g;
	bpf_map_update_elem(&go_stats, &tgid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&go_stats, &tgid);
}

/* runtime.(*mheap).allocSpan(h, npages uintptr, typ spanAllocType, spanclass): RAX, RBX, CL, DIL */
SEC("uprobe")
int BPF_KPROBE(mt_go_alloc_span)
{
	struct mt_go_stat *g;
	__u32 tgid;

	if (empty_probes)
		return 0;
	/* spanAllocHeap is 0; stack and other manual spans are not heap. */
	if (!probe_traced(&tgid) || go_call_restarts(ctx) || (ctx->cx & 0xff) != 0)
		return 0;
	g = go_stat(tgid);
	if (!g)
		return 0;
	__sync_fetch_and_add(&g->heap_inuse_bytes, ctx->bx * MT_GO_PAGE_SIZE);
	__sync_fetch_and_add(&g->spans_allocated, 1);
	return 0;
}

/* runtime.(*mheap).freeSpan(h, s *mspan): RAX, RBX; the span still holds its size. */
SEC("uprobe")
int BPF_KPROBE(mt_go_free_span)
{
	struct mt_go_stat *g;
	__u64 npages = 0;
	__u32 tgid;

	if (empty_probes)
		return 0;
	if (!probe_traced(&tgid) || go_call_restarts(ctx))
		return 0;
	if (bpf_probe_read_user(&npages, sizeof(npages), (void *)(ctx->bx + MT_GO_MSPAN_NPAGES_OFF)))
		return 0;
	g = go_stat(tgid);
	if (!g)
		return 0;
	__sync_fetch_and_sub(&g->heap_inuse_bytes, npages * MT_GO_PAGE_SIZE);
	__sync_fetch_and_add(&g->spans_freed, 1);
	return 0;
}

/* Bytes to the next sample: an exponential draw of mean go_sample_rate, as the runtime's. */
static __always_inline __s64 go_sample_distance(void)
{
	__u32 step = bpf_get_prandom_u32() & (MT_GO_EXP_STEPS - 1);

	return (__s64)(((__u64)go_exp_table[step] * go_sample_rate) >> MT_GO_EXP_SHIFT);
}

/*
 * In runtime.mallocgc at its call of publicationBarrier, when memtrace
 * samples Go allocations (this probe then replaces the entry probe): the
 * object x is set up, and x and its span sit in stack slots (the cookie
 * says which). Every allocation lands here but tiny ones combined into
 * the current 16-byte block, which the runtime's own profile skips too.
 * The allocation is counted at its slot size (span.elemsize, what
 * runtime/pprof counts), and about one in go_sample_rate bytes is sampled:
 * its address, slot size and stack go to go_samples. mallocgc's frame is
 * set up here: its caller's return address is at rbp + 8.
 */
SEC("uprobe")
int BPF_KPROBE(mt_go_publish)
{
	__u64 cookie = bpf_get_attach_cookie(ctx), sp = PT_REGS_SP(ctx), bp = PT_REGS_FP(ctx);
	struct mt_go_sample_key key = {};
	struct mt_go_sample val = {};
	struct mt_go_sample_next *next;
	struct walk_regs start = {};
	__u64 span = 0, size = 0, frame[2], stack_id;
	struct mt_pending *p;
	__u32 tgid, zero = 0;

	if (empty_probes)
		return 0;
	if (!probe_traced(&tgid))
		return 0;
	if (bpf_probe_read_user(&span, sizeof(span), (void *)(sp + MT_GO_PUB_SPAN_SLOT(cookie))) ||
	    bpf_probe_read_user(&size, sizeof(size),
				(void *)(span + MT_GO_PUB_ELEMSIZE_OFF(cookie))))
		return 0;
	if (size < min_size || size > max_size)
		return 0;
	p = go_pending();
	if (!p)
		return 0;
	/* mallocgc's frame: [rbp] its caller's rbp, [rbp + 8] the return address into it. */
	if (stack_read(&p->win, bp, frame, 2))
		return 0;
	start.ip = frame[1];
	start.sp = bp + 16;
	start.bp = frame[0];
	stack_id = go_count(tgid, p, &start, size);
	if (!stack_id)
		return 0;

	next = bpf_map_lookup_elem(&go_sample_next, &zero);
	if (!next)
		return 0;
	if (!next->drawn) {
		next->left = go_sample_distance();
		next->drawn = 1;
	}
	/* The runtime's rule (mallocgc): sample when the slot reaches the distance, then draw anew. */
	if ((__s64)size < next->left) {
		next->left -= size;
		return 0;
	}
	next->left = go_sample_distance();
	count(MT_CNT_GO_SAMPLES);
	if (bpf_probe_read_user(&key.addr, sizeof(key.addr), (void *)(sp + MT_GO_PUB_X_SLOT(cookie))))
		return 0;
	key.pid = tgid;
	val.stack_id = stack_id;
	val.size = size;
	val.ts_ns = bpf_ktime_get_ns();
	/* The sweep it was allocated after: a slot reused later is told apart by it. */
	val.sweepgen_known = !bpf_probe_read_user(&val.span_sweepgen, sizeof(val.span_sweepgen),
						  (void *)(span + MT_GO_PUB_SWEEPGEN_OFF(cookie)));
	if (bpf_map_update_elem(&go_samples, &key, &val, BPF_ANY))
		count(MT_CNT_GO_SAMPLES_MAP_FULL);
	return 0;
}
