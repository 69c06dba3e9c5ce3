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
	return (bpf_get_attach_cookie(ctx) & MT_COOKIE_GO_STACK_CHECK) &&
	       (ctx->flags & (X86_CF | X86_ZF));
}

/* The probe's site (mt_go_site), NULL for a probe without one. */
static __always_inline const struct mt_go_site *go_site(void *ctx)
{
	__u32 idx = MT_GO_COOKIE_SITE(bpf_get_attach_cookie(ctx));

	if (!idx)
		return NULL;
	idx--;
	return bpf_map_lookup_elem(&go_sites, &idx);
}

/* Whether addr (the file's) is in the runtime's allocator: a runtime.mallocgc* function. */
static __always_inline bool go_in_allocator(const struct mt_go_site *s, __u64 addr)
{
	__u32 i;

	for (i = 0; i < MT_GO_MAX_RANGES; i++)
		if (i < s->nr_ranges && addr >= s->lo[i] && addr < s->hi[i])
			return true;
	return false;
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

/*
 * The entry of an allocator function that publishes objects (go_attach.c):
 * runtime.mallocgc up to Go 1.23; from 1.24 the size-class helper mallocgc
 * calls, and the size-specialized functions compiled code calls directly
 * (1.27); each allocation enters one. (size uintptr, typ *_type, ...):
 * size in RAX (Go's register ABI). The stack starts above the allocator's
 * frames (mallocgc, when it dispatched to this one).
 */
SEC("uprobe")
int BPF_KPROBE(mt_go_mallocgc)
{
	struct walk_regs start = { .sp = PT_REGS_SP(ctx) + 8, .bp = PT_REGS_FP(ctx) };
	const struct mt_go_site *site;
	struct mt_pending *p;
	__u64 size = ctx->ax, bias, frame[2];
	__u32 tgid, i;

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
	if (stack_read(&p->win, PT_REGS_SP(ctx), &start.ip, 1, false))
		start.ip = 0;
	site = go_site(ctx);
	if (site) {
		/* At the entry rbp is still the caller's: its frame holds its own caller. */
		bias = PT_REGS_IP(ctx) - site->vaddr;
		for (i = 0; i < MT_GO_MAX_SKIP && go_in_allocator(site, start.ip - bias); i++) {
			if (stack_read(&p->win, start.bp, frame, 2, false))
				return 0;
			start.ip = frame[1];
			start.sp = start.bp + 16;
			start.bp = frame[0];
		}
		if (i == MT_GO_MAX_SKIP)
			return 0;
	}
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
 * In a runtime.mallocgc* function at its call of publicationBarrier, when
 * memtrace samples Go allocations (these probes then replace the entry
 * probes): the object is set up, and its span sits in a stack slot (the
 * site says which). Every allocation passes one such site once (Go 1.19-1.23:
 * mallocgc's; 1.24+: the size-class helper's; 1.27: the size-specialized
 * function's or its slow path's), but a tiny one combined into the current
 * 16-byte block, which the runtime's own profile skips too. The object is
 * the span's last one handed out: the allocator moved freeindex past it.
 * The allocation is counted at its slot size (span.elemsize, what
 * runtime/pprof counts) on the stack above the allocator's frames, and
 * about one in go_sample_rate bytes is sampled: its address, slot size and
 * stack go to go_samples.
 */
/*
 * A sampled object kept in go_samples: its slot in span, found from the
 * span's freeindex. Global: its locals are off the stack of the program
 * that walks (BPF's 512 bytes are for a chain of calls).
 */
__noinline int go_keep_sample(const struct mt_go_site *site, __u32 tgid, __u64 span, __u64 size,
			      __u64 stack_id)
{
	struct mt_go_sample_key key = {};
	struct mt_go_sample val = {};
	__u64 base = 0, freeindex = 0;

	if (!site)
		return 0;
	if (bpf_probe_read_user(&base, sizeof(base), (void *)(span + site->start_off)) ||
	    bpf_probe_read_user(&freeindex, sizeof(freeindex), (void *)(span + site->freeindex_off)))
		return 0;
	freeindex &= site->freeindex_mask;
	if (!freeindex)
		return 0;
	key.addr = base + (freeindex - 1) * size;
	key.pid = tgid;
	val.stack_id = stack_id;
	val.size = size;
	val.ts_ns = bpf_ktime_get_ns();
	/* The sweep it was allocated after: a slot reused later is told apart by it. */
	val.sweepgen_known = !bpf_probe_read_user(&val.span_sweepgen, sizeof(val.span_sweepgen),
						  (void *)(span + site->sweepgen_off));
	if (bpf_map_update_elem(&go_samples, &key, &val, BPF_ANY))
		count(MT_CNT_GO_SAMPLES_MAP_FULL);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mt_go_publish)
{
	__u64 sp = PT_REGS_SP(ctx), fbp = PT_REGS_FP(ctx), bias;
	__u64 span = 0, size = 0, frame[2] = {}, stack_id;
	const struct mt_go_site *site;
	struct mt_go_sample_next *next;
	struct walk_regs start = {};
	struct mt_pending *p;
	__u32 tgid, zero = 0, i;

	if (empty_probes)
		return 0;
	if (!probe_traced(&tgid))
		return 0;
	site = go_site(ctx);
	if (!site)
		return 0;
	bias = PT_REGS_IP(ctx) - site->vaddr;
	if (bpf_probe_read_user(&span, sizeof(span), (void *)(sp + site->span_slot)) ||
	    bpf_probe_read_user(&size, sizeof(size), (void *)(span + site->elemsize_off)))
		return 0;
	if (size < min_size || size > max_size)
		return 0;
	p = go_pending();
	if (!p)
		return 0;
	/* Up the frame chain past the allocator's frames: the stack starts at its caller. */
	for (i = 0; i < MT_GO_MAX_SKIP; i++) {
		if (stack_read(&p->win, fbp, frame, 2, false))
			return 0;
		if (!go_in_allocator(site, frame[1] - bias))
			break;
		fbp = frame[0];
	}
	if (i == MT_GO_MAX_SKIP)
		return 0;
	start.ip = frame[1];
	start.sp = fbp + 16;
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
	go_keep_sample(site, tgid, span, size, stack_id);
	return 0;
}
