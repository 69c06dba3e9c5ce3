// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace's per-event path: uprobes on the allocator's entry points and
 * one shared uretprobe. Every allocation is recorded by address with its
 * size, time and call stack; per (process, stack) counters are kept here so
 * userspace never has to replay events.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "memtrace.h"

#define EEXIST 17

/* Set before load. */
const volatile bool empty_probes = false;	/* benchmark floor: probes that do nothing */
const volatile __u64 min_size = 0;
const volatile __u64 max_size = ~0ULL;
/* System-wide: every process is traced as it first allocates, up to traced_pids' size. */
const volatile bool trace_all = false;
const volatile __u32 self_tgid = 0;	/* memtrace itself, never traced */
const volatile __u32 stop_pid = 0;	/* a command memtrace follows with ptrace */
__u64 dl_stops_sent;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_MAX_PIDS); /* set from user space */
	__type(key, __u32);
	__type(value, __u8);
} traced_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* set from user space */
	__type(key, struct mt_alloc_key);
	__type(value, struct mt_alloc_info);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* set from user space */
	__type(key, struct mt_stat_key);
	__type(value, struct mt_stat);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* set from user space */
	__type(key, __u64);
	__type(value, struct mt_stack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);	/* userspace writes the rows in place */
	__uint(max_entries, 1); /* set from user space */
	__type(key, __u32);
	__type(value, struct mt_unwind_row);
} cfi_rows SEC(".maps");

/*
 * The row found last for a (file, address in it), per CPU: the same return
 * addresses come back in stack after stack (the start frames, hot call
 * sites), and a hit costs one lookup instead of a binary search.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MT_ROW_CACHE_SIZE);
	__type(key, __u32);
	__type(value, struct mt_row_cache_ent);
} row_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_MAX_PIDS); /* set from user space */
	__type(key, __u32);
	__type(value, struct mt_proc_modules);
} proc_modules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* bytes; set from user space */
} vm_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct mt_go_stat);
} go_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mt_pending);
} pending SEC(".maps");

/* nmemb * size, or ~0 when it overflows (the allocator then fails). */
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


static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		__sync_fetch_and_add(c, 1);
}

static __always_inline bool traced(__u32 *tgid)
{
	__u8 one = 1;

	*tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&traced_pids, tgid))
		return true;
	if (!trace_all || *tgid == self_tgid)
		return false;
	/* A process seen for the first time: taken while there is room, else counted. */
	if (bpf_map_update_elem(&traced_pids, tgid, &one, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&traced_pids, tgid)) {
		count(MT_CNT_PROCS_MAP_FULL);
		return false;
	}
	return true;
}

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

static __always_inline void stat_add(struct mt_stat *s, __s64 bytes, __s64 allocs)
{
	__sync_fetch_and_add(&s->live_bytes, bytes);
	__sync_fetch_and_add(&s->live_allocs, allocs);
}

/* Forget a live block; returns false when the address was never recorded. */
static __always_inline bool forget_block(__u32 tgid, __u64 addr, struct mt_alloc_info *out)
{
	struct mt_alloc_key key = { .addr = addr, .pid = tgid };
	struct mt_alloc_info *info;
	struct mt_stat_key skey = { .pid = tgid };
	struct mt_stat *s;

	info = bpf_map_lookup_elem(&allocs, &key);
	if (!info)
		return false;
	*out = *info;
	/* Two frees of one block race here; only the one that deletes it counts. */
	if (bpf_map_delete_elem(&allocs, &key))
		return false;
	skey.stack_id = out->stack_id;
	s = bpf_map_lookup_elem(&stats, &skey);
	if (s) {
		stat_add(s, -(__s64)out->size, -1);
		__sync_fetch_and_add(&s->frees_total, 1);
	}
	return true;
}

/* Put back a block that realloc failed to move (it is still the program's). */
static __always_inline void restore_block(__u32 tgid, __u64 addr, struct mt_alloc_info *info)
{
	struct mt_alloc_key key = { .addr = addr, .pid = tgid };
	struct mt_stat_key skey = { .pid = tgid, .stack_id = info->stack_id };
	struct mt_stat *s;

	if (bpf_map_update_elem(&allocs, &key, info, BPF_NOEXIST)) {
		count(MT_CNT_ALLOCS_MAP_FULL);
		return;
	}
	s = bpf_map_lookup_elem(&stats, &skey);
	if (s) {
		stat_add(s, info->size, 1);
		__sync_fetch_and_sub(&s->frees_total, 1);
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
	return true;
}

static __always_inline struct mt_stat *stat_for(__u32 tgid, __u64 stack_id, struct mt_stack *st)
{
	struct mt_stat_key skey = { .pid = tgid, .stack_id = stack_id };
	struct mt_stat zero = {};
	struct mt_stat *s;
	long err;

	s = bpf_map_lookup_elem(&stats, &skey);
	if (s)
		return s;
	/* First allocation from this stack in this process: store its frames once. */
	if (!store_stack(stack_id, st))
		return NULL;
	err = bpf_map_update_elem(&stats, &skey, &zero, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		count(MT_CNT_STACKS_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&stats, &skey);
}

static __always_inline void record_block(__u32 tgid, __u64 addr, struct mt_pending *p)
{
	struct mt_alloc_key key = { .addr = addr, .pid = tgid };
	struct mt_alloc_info info = {
		.size = p->size,
		.ts_ns = bpf_ktime_get_ns(),
		.stack_id = p->stack_id,
	};
	struct mt_alloc_info old;
	struct mt_stat *s;
	long err;

	s = stat_for(tgid, p->stack_id, &p->stack);
	if (!s)
		return;
	__sync_fetch_and_add(&s->allocs_total, 1);
	__sync_fetch_and_add(&s->alloc_bytes_total, p->size);

	err = bpf_map_update_elem(&allocs, &key, &info, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* The allocator handed out an address we think is live: its free was missed. */
		count(MT_CNT_ADDR_REUSED);
		forget_block(tgid, addr, &old);
		err = bpf_map_update_elem(&allocs, &key, &info, BPF_NOEXIST);
	}
	if (err) {
		count(MT_CNT_ALLOCS_MAP_FULL);
		return;
	}
	stat_add(s, p->size, 1);
}

/*
 * Entry of an allocating function. Nested calls (reallocarray calling
 * realloc through the PLT, operator new calling malloc) are recognised by a
 * deeper stack pointer and left to the outermost call.
 */
static __always_inline int on_entry(struct pt_regs *ctx, __u32 kind, __u64 size, __u64 old_ptr,
				    __u64 memptr)
{
	struct mt_pending *p;
	__u64 sp, ret_addr;
	__u32 tgid;

	if (empty_probes)
		return 0;
	if (!traced(&tgid))
		return 0;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return 0;
	sp = PT_REGS_SP(ctx);
	if (bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)sp))
		ret_addr = 0;
	if (p->active) {
		/*
		 * Deeper on the stack: a nested call. At the same depth with a
		 * different return address: a tail call (reallocarray jumps to
		 * realloc), whose return address the outer return probe replaced.
		 */
		if (sp < p->entry_sp || (sp == p->entry_sp && ret_addr != p->ret_addr))
			return 0;
		count(MT_CNT_MISSED_RETURNS);
	}
	p->active = 1;
	p->entry_sp = sp;
	p->ret_addr = ret_addr;
	p->kind = kind;
	p->size = size;
	p->memptr = memptr;
	p->old_ptr = old_ptr;
	p->old_known = 0;
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
	if (size < min_size || size > max_size) {
		p->stack_id = 0;
		return 0;
	}
	p->stack_id = capture_stack(ctx, ret_addr, &p->stack);
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
	__u64 kind = bpf_get_attach_cookie(ctx);
	__u64 a0 = PT_REGS_PARM1(ctx), a1 = PT_REGS_PARM2(ctx), a2 = PT_REGS_PARM3(ctx);
	__u64 size = a0, old_ptr = 0, memptr = 0;

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
	default:
		return 0;
	}
	return on_entry(ctx, (__u32)kind, size, old_ptr, memptr);
}

SEC("uretprobe")
int BPF_KRETPROBE(mt_alloc_ret, __u64 ret)
{
	struct mt_pending *p;
	__u64 ptr = ret;
	__u32 tgid;

	if (empty_probes)
		return 0;
	if (!traced(&tgid))
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
			     p->old_ptr && p->size == 0;

		if (!freed) {
			if (p->old_known)
				restore_block(tgid, p->old_ptr, &p->old_info);
			count(MT_CNT_FAILED_ALLOCS);
		}
		return 0;
	}
	if (!p->stack_id)
		return 0;
	record_block(tgid, ptr, p);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(mt_free, __u64 ptr)
{
	struct mt_alloc_info old;
	__u32 tgid;

	if (empty_probes)
		return 0;
	/* free may be probed past its NULL test, where NULL also passes. */
	if (!ptr)
		return 0;
	if (!traced(&tgid))
		return 0;
	if (!forget_block(tgid, ptr, &old))
		count(MT_CNT_UNKNOWN_FREES);
	return 0;
}

/*
 * Memory-map syscalls, from the raw syscall tracepoints: they see Go
 * programs and static binaries, which never go through libc's wrappers, and
 * they need no tracefs. They are rare next to malloc, so each is sent to
 * userspace, which keeps the interval map.
 */
static __always_inline bool vm_syscall(long id)
{
	switch (id) {
	case MT_NR_MMAP:
	case MT_NR_MPROTECT:
	case MT_NR_MUNMAP:
	case MT_NR_BRK:
	case MT_NR_MREMAP:
	case MT_NR_MADVISE:
		return true;
	}
	return false;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(mt_sys_enter, struct pt_regs *regs, long id)
{
	struct mt_pending *p;
	__u32 tgid;

	if (empty_probes || !vm_syscall(id))
		return 0;
	if (!traced(&tgid))
		return 0;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return 0;
	p->vm_nr = (__u32)id;
	p->vm_args[0] = regs->di;
	p->vm_args[1] = regs->si;
	p->vm_args[2] = regs->dx;
	p->vm_args[3] = regs->r10;
	p->vm_args[4] = regs->r8;
	p->vm_args[5] = regs->r9;
	p->vm_active = 1;
	/* Inside malloc the allocation's own stack says who made the heap grow. */
	if (p->active && p->stack_id) {
		p->vm_stack_id = 0;
		return 0;
	}
	if (id == MT_NR_MMAP || id == MT_NR_BRK || id == MT_NR_MREMAP)
		/* Inside the syscall wrapper: its own frame first, from the user registers. */
		p->vm_stack_id = capture_stack_at(regs->ip, regs->sp, regs->bp, 0, &p->vm_stack);
	else
		p->vm_stack_id = 0;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(mt_sys_exit, struct pt_regs *regs, long ret)
{
	struct mt_vm_event *e;
	struct mt_pending *p;
	__u64 stack_id;
	__u32 tgid;

	if (empty_probes || !vm_syscall(regs->orig_ax))
		return 0;
	if (!traced(&tgid))
		return 0;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, 0);
	if (!p || !p->vm_active || p->vm_nr != regs->orig_ax)
		return 0;
	p->vm_active = 0;

	stack_id = p->vm_stack_id;
	if (!stack_id && p->active && p->stack_id) {
		stack_id = p->stack_id;
		if (!store_stack(stack_id, &p->stack))
			stack_id = 0;	/* the region is shown with no stack */
	} else if (stack_id) {
		if (!store_stack(stack_id, &p->vm_stack))
			stack_id = 0;
	}

	e = bpf_ringbuf_reserve(&vm_events, sizeof(*e), 0);
	if (!e) {
		count(MT_CNT_VM_EVENTS_LOST);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = tgid;
	e->nr = p->vm_nr;
	e->ret = ret;
	e->in_alloc = p->active;
	e->stack_id = stack_id;
	e->pad = 0;
	__builtin_memcpy(e->args, p->vm_args, sizeof(e->args));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

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

/* runtime.mallocgc(size uintptr, typ *_type, needzero bool): size in RAX (Go register ABI). */
SEC("uprobe")
int BPF_KPROBE(mt_go_mallocgc)
{
	struct mt_pending *p;
	struct mt_stat *st;
	__u64 size = ctx->ax, ret_addr, stack_id;
	__u32 tgid;

	if (empty_probes)
		return 0;
	if (!traced(&tgid) || go_call_restarts(ctx))
		return 0;
	if (size < min_size || size > max_size)
		return 0;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return 0;
	if (bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)PT_REGS_SP(ctx)))
		ret_addr = 0;
	stack_id = capture_stack(ctx, ret_addr, &p->stack);
	st = stat_for(tgid, stack_id, &p->stack);
	if (!st)
		return 0;
	__sync_fetch_and_add(&st->allocs_total, 1);
	__sync_fetch_and_add(&st->alloc_bytes_total, size);
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
	if (!traced(&tgid) || go_call_restarts(ctx) || (ctx->cx & 0xff) != 0)
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
	if (!traced(&tgid) || go_call_restarts(ctx))
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
