/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ABI between memtrace's BPF programs and userspace: every map key,
 * map value and counter lives here, so both sides agree on one layout.
 * Fixed-width types only; no pointers, no `long`.
 */
#ifndef MEMTRACE_H
#define MEMTRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Deepest user stack kept per allocation site, in frames. */
#define MT_MAX_FRAMES 64

/* Processes that can be traced at once (BPF-side filter). */
#define MT_MAX_PIDS 1024

/* Default map sizes, in entries; each can be changed with an option. */
#define MT_DEFAULT_MAX_ALLOCS (1u << 20)
#define MT_DEFAULT_MAX_STACKS (1u << 15)
#define MT_DEFAULT_MAX_GO_SAMPLES (1u << 16)	/* sampled Go objects kept at once */

/*
 * The cookie of an allocator probe: for an allocating entry point its kind
 * (enum mt_alloc_kind); and, when the probe sits past instructions that
 * moved its arguments into other registers (a shim that shuffles them
 * before jumping on), the register (x86 ModRM number: 0 rax, 1 rcx, 2 rdx,
 * 3 rbx, 6 rsi, 7 rdi, 8-15 r8-r15) each argument is in at the site.
 */
#define MT_COOKIE_KIND(c)		((c) & 0xff)
#define MT_COOKIE_ARGS_MOVED		(1ull << 8)
#define MT_COOKIE_ARG_REG(c, i)		(((c) >> (12 + 4 * (i))) & 15)
#define MT_COOKIE_ARG(i, reg)		((__u64)((reg) & 15) << (12 + 4 * (i)))
/* A probe on the Python interpreter: its site (struct mt_py_site) is py_sites[MT_COOKIE_PY_SITE]. */
#define MT_COOKIE_PY			(1ull << 9)
#define MT_COOKIE_PY_SITE(c)		((__u32)((c) >> 32))
#define MT_COOKIE_PY_SITE_IDX(i)	((__u64)(i) << 32)

/* Which allocator entry point a probe sits on. */
enum mt_alloc_kind {
	MT_KIND_MALLOC = 0,	/* size in arg0 (also valloc, operator new) */
	MT_KIND_CALLOC,		/* nmemb in arg0, size in arg1 */
	MT_KIND_REALLOC,	/* ptr in arg0, size in arg1 */
	MT_KIND_REALLOCARRAY,	/* ptr in arg0, nmemb in arg1, size in arg2 */
	MT_KIND_MEMALIGN,	/* alignment in arg0, size in arg1 (also aligned_alloc) */
	MT_KIND_POSIX_MEMALIGN,	/* void **memptr in arg0, alignment arg1, size arg2; returns int */
	/*
	 * pymalloc's allocate_from_new_pool(size class): what an inlined
	 * allocation calls when its pool is empty (struct mt_py_site); the
	 * block and its size are that allocation's.
	 */
	MT_KIND_PY_REFILL,
	MT_KIND_MAX,
};

/* Counters of everything that can make the figures incomplete. */
enum mt_counter {
	MT_CNT_ALLOCS_MAP_FULL = 0,	/* allocation not recorded: --max-allocs */
	MT_CNT_STACKS_MAP_FULL,		/* new call stack not recorded: --max-stacks */
	MT_CNT_STACK_TRUNCATED,		/* stack deeper than MT_MAX_FRAMES, kept truncated */
	MT_CNT_STACK_READ_FAILED,	/* user stack could not be read; partial stack kept */
	MT_CNT_MISSED_RETURNS,		/* an entry whose return probe never ran */
	MT_CNT_UNKNOWN_FREES,		/* free of an address not in the allocs map */
	MT_CNT_ADDR_REUSED,		/* allocation returned an address still marked live */
	MT_CNT_FAILED_ALLOCS,		/* allocator returned NULL (not a loss) */
	MT_CNT_VM_EVENTS_LOST,		/* mmap/munmap/... event not delivered: --vm-buffer */
	MT_CNT_PROCS_MAP_FULL,		/* system-wide: a process left out: --max-procs */
	MT_CNT_STACKS_STORED,		/* call stacks stored (not a loss: the map's use) */
	MT_CNT_GO_SAMPLES_MAP_FULL,	/* Go allocation sampled but not kept: --go-sample-rate */
	MT_CNT_GO_SAMPLES,		/* Go allocations sampled (not a loss) */
	MT_CNT_STACK_CUT,		/* a stack's walk stopped before its outermost frame */
	MT_CNT_STACK_DEFERRED,		/* stacks finished in userspace from a copy (not a loss) */
	MT_CNT_STACK_DEFER_LOST,	/* a stack that needed that, cut: the ring buffer was full */
	MT_CNT_PY_STACK_TRUNCATED,	/* Python frames deeper than MT_MAX_PY_FRAMES, kept truncated */
	MT_CNT_PY_STACK_READ_FAILED,	/* a Python frame could not be read; frames so far kept */
	MT_CNT_PY_EVENTS_LOST,		/* a new Python stack's code objects not sent: ring buffer full */
	MT_CNT_WALKS_REUSED,		/* stacks taken from the thread's last walks (mt_walk_memo; not a loss) */
	MT_CNT_MAX,
};

struct mt_alloc_key {
	__u64 addr;
	__u32 pid;		/* tgid: addresses are per process */
	__u32 pad;
};

/*
 * mt_alloc_info.size: a block kept because the sampling drew it (sampled
 * native tracing), standing for 1 / (1 - e^(-size / rate)) blocks like it;
 * rate = 1 << the shift in bits 56-61. Sizes stay below 2^56.
 */
#define MT_ALLOC_SAMPLED	(1ull << 63)
#define MT_ALLOC_SHIFT(s)	((unsigned int)((s) >> 56) & 63)
#define MT_ALLOC_SIZE(s)	((s) & ((1ull << 56) - 1))
#define MT_SAMPLE_SHIFT_MAX	40	/* 1 TiB between samples */

struct mt_alloc_info {
	__u64 size;		/* bytes the program asked for; MT_ALLOC_SAMPLED */
	__u64 ts_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 stack_id;
};

struct mt_stat_key {
	__u64 stack_id;
	__u32 pid;
	__u32 pad;
};

/*
 * Per (process, stack): what was allocated. What is live is the allocs map;
 * what was freed, allocs_total - not_recorded - the live blocks.
 */
struct mt_stat {
	__u64 alloc_bytes_total;
	__u64 allocs_total;
	__u64 not_recorded;	/* counted, but the allocs map could not keep the block */
	__u64 pad;
};

/* Deepest Python stack kept per allocation site, in frames (the innermost). */
#define MT_MAX_PY_FRAMES 32

struct mt_stack {
	__u32 nr_frames;
	__u32 flags;		/* MT_STACK_F_* */
	__u64 ips[MT_MAX_FRAMES];	/* innermost first; return addresses except ips[0]'s caller pc */
	/* The thread's Python frames (MT_PY_FRAME), innermost first: see "Python" below. */
	__u32 nr_py;
	__u32 py_flags;		/* MT_PY_F_* */
	__u64 py[MT_MAX_PY_FRAMES];
	/* The interpreter's code in the process, [lo, hi): its C frames are not part of the id. */
	__u64 py_lo, py_hi;
};

#define MT_STACK_F_TRUNCATED	(1u << 0)
#define MT_STACK_F_READ_FAILED	(1u << 1)
/*
 * The walk stopped before the outermost frame: no rule it can follow (a
 * signal frame, a CFI expression), a frame that does not lie above the
 * last, a broken frame-pointer chain, or a return address in no code the
 * process has mapped (not recorded: never a made-up frame).
 */
#define MT_STACK_F_CUT		(1u << 2)
/*
 * The walk reached code whose unwind table was not there yet (a process
 * or library mapped since userspace last published the modules): the
 * frames so far are kept under a provisional id (MT_STACK_ID_DEFERRED),
 * and a copy of the rest of the stack goes to userspace, which unwinds it
 * once the table is there and files the allocation under the whole
 * stack's id.
 */
#define MT_STACK_F_DEFERRED	(1u << 3)

/* A provisional stack id: bit 62, the CPU, a per-CPU sequence number. */
#define MT_STACK_ID_DEFERRED_BIT	(1ull << 62)
#define MT_STACK_ID_DEFERRED(cpu, seq)	(MT_STACK_ID_DEFERRED_BIT | ((__u64)(cpu) & 0x3fff) << 48 | \
					 ((seq) & 0xffffffffffffull))

/* Syscalls that change a process's memory map, as the kernel numbers them on x86_64. */
#define MT_NR_MMAP	9
#define MT_NR_MPROTECT	10
#define MT_NR_MUNMAP	11
#define MT_NR_BRK	12
#define MT_NR_MREMAP	25
#define MT_NR_MADVISE	28

/* One memory-map syscall of a traced process, sent to userspace on return. */
struct mt_vm_event {
	__u64 ts_ns;
	__u64 args[6];
	__s64 ret;
	__u64 stack_id;		/* the call stack that made the call; 0 when not taken */
	__u32 pid;
	__u32 nr;		/* MT_NR_* */
	__u32 in_alloc;		/* made inside an allocator call (malloc -> sysmalloc -> mmap) */
	__u32 pad;
};

/* Per-process figures kept for Go programs, which have no free() to probe. */
struct mt_go_stat {
	__s64 heap_inuse_bytes;	/* bytes in heap spans: runtime.(*mheap).allocSpan - freeSpan */
	__u64 spans_allocated;
	__u64 spans_freed;
};

/*
 * Cookie of a Go probe: flags in the low byte, and the index + 1 of its
 * mt_go_site in go_sites above them (0: none).
 */
#define MT_COOKIE_GO_STACK_CHECK 1	/* on the branch of Go's stack-bound check */
#define MT_GO_COOKIE(flags, site_idx)	((__u64)(flags) | ((__u64)(site_idx) + 1) << 8)
#define MT_GO_COOKIE_SITE(c)		((__u32)((c) >> 8) & 0xffff)	/* index + 1 */

/*
 * Go allocations memtrace samples itself, by bytes as the runtime's heap
 * profile does (for programs whose runtime.MemProfileRate is 0): the
 * object's address, and what it was sampled with. Userspace decides which
 * are still allocated from the runtime's span metadata.
 */
struct mt_go_sample_key {
	__u64 addr;
	__u32 pid;
	__u32 pad;
};

struct mt_go_sample {
	__u64 stack_id;
	__u64 size;		/* the object's slot: its span's elemsize */
	__u64 ts_ns;
	__u32 span_sweepgen;	/* its span's sweepgen then: the sweep it follows */
	__u32 sweepgen_known;
};

/*
 * A Go probe site (src/probe/go_site.h), shared by the processes that run
 * the same executable: where it is, which code is the runtime's allocator
 * (the runtime.mallocgc* functions: frames the stack starts above, calls
 * counted by the outer probe), and, for a sampling site at a call of
 * runtime.publicationBarrier, the stack slot holding the object's span and
 * where runtime.mspan keeps what is read. Addresses are the file's: a
 * PIE's bias is the probe's ip minus vaddr.
 */
#define MT_GO_MAX_SITES		1024
#define MT_GO_MAX_RANGES	8
#define MT_GO_MAX_SKIP		4	/* allocator frames above a probe: a slow path's at most 3 */

struct mt_go_site {
	__u64 vaddr;		/* the probed instruction */
	__u64 lo[MT_GO_MAX_RANGES];	/* runtime.mallocgc* code: [lo, hi) */
	__u64 hi[MT_GO_MAX_RANGES];
	__u32 nr_ranges;
	__u32 span_slot;	/* sampling site: the *mspan at rsp + span_slot */
	/* runtime.mspan: startAddr, freeindex (8 bytes read, freeindex_mask kept), elemsize, sweepgen */
	__u32 start_off;
	__u32 freeindex_off;
	__u64 freeindex_mask;	/* 0xffff from Go 1.22 (a uint16), else all ones */
	__u32 elemsize_off;
	__u32 sweepgen_off;
};

/* The sampling distance's table: Exp(1) in 1024 equal-probability steps, << 20. */
#define MT_GO_EXP_STEPS 1024
#define MT_GO_EXP_SHIFT 20

struct mt_go_sample_next {
	__s64 left;		/* bytes until the next sample, on this CPU */
	__u64 drawn;		/* 0 until the first distance is drawn */
};

/* Go's heap page size (runtime._PageSize) and where mspan keeps its page count. */
#define MT_GO_PAGE_SIZE 8192
#define MT_GO_MSPAN_NPAGES_OFF 32

/*
 * Unwinding: userspace turns each module's .eh_frame into rows of CFA
 * rules (struct mt_unwind_row, sorted by pc, each valid up to the next one)
 * in one big array, and tells the BPF side, per process, every executable
 * mapping (which addresses are code) and where its rows are. A module
 * without rows is walked with frame pointers; a pc in no module is no frame.
 */
#define MT_MAX_MODULES		256	/* executable mappings per process; a power of 2 */
#define MT_MODULE_SEARCH_STEPS	9	/* log2(MT_MAX_MODULES) + 1 */
#define MT_DEFAULT_CFI_ROWS	(1u << 20)	/* rows over all modules: 16 MiB */

/* mt_unwind_row.cfa_reg: how the CFA (the caller's rsp) is found. */
#define MT_CFA_NONE		0	/* no CFI covers the pc (gap between FDEs, past the end) */
#define MT_CFA_RSP		1	/* CFA = rsp + cfa_off */
#define MT_CFA_RBP		2	/* CFA = rbp + cfa_off */
#define MT_CFA_UNDEFINED	3	/* return address undefined: outermost frame (_start) */
#define MT_CFA_PLT		4	/* CFA = rsp + cfa_off, + 8 when (pc & 15) >= plt_lim */
#define MT_CFA_UNSUPPORTED	5	/* a rule the walker cannot follow */

/* mt_unwind_row.rbp_rule: where the caller's rbp is. */
#define MT_RBP_SAME		0	/* unchanged: the caller's rbp is rbp */
#define MT_RBP_AT_CFA		1	/* saved at CFA + rbp_off * 8 */

/*
 * One row: valid from its pc to the next row's pc. pc_lo is the ELF virtual
 * address minus the table's base (its lowest pc), so that a module's rows fit
 * 32 bits; the last row of a table is an MT_CFA_NONE row at its end.
 */
struct mt_unwind_row {
	__u32 pc_lo;		/* vaddr - the module table's base */
	__u8 cfa_reg;		/* MT_CFA_* */
	__u8 rbp_rule;		/* MT_RBP_* */
	__s8 rbp_off;		/* MT_RBP_AT_CFA: in 8-byte units, -2 for CFA - 16 */
	__u8 plt_lim;		/* MT_CFA_PLT: the DW_OP_litN of the PLT expression (11, or 10) */
	__s32 cfa_off;		/* bytes */
	/* 16 bytes: BPF arrays round elements up to 8 bytes, and the mapped rows must match. */
	__u32 pad;
};

struct mt_module {
	__u64 start;		/* executable mapping, process addresses */
	__u64 end;
	__u64 bias;		/* row pc_lo = address - bias */
	__u32 row_first;	/* index in the rows array */
	__u32 row_count;	/* 0: walk this module with frame pointers */
	/*
	 * MT_MOD_F_FP_CALLS: at a return address outside the slow ranges
	 * (row pc_lo units, [lo, hi), empty when equal) the row is the
	 * frame-pointer rule or none: rbp is followed without a lookup.
	 */
	__u32 flags;
	__u32 fp_slow_lo[2];
	__u32 fp_slow_hi[2];
};

/* mt_module.flags */
#define MT_MOD_F_FP_CALLS	1u

/*
 * Unwind rows found last, per CPU (row_cache), with a copy of the row: a
 * hit costs one lookup. row_plus1 0: empty.
 */
#define MT_ROW_CACHE_SIZE 1024
struct mt_row_cache_ent {
	__u32 rel;		/* address - module bias */
	__u32 row_first;	/* the file's rows */
	__u32 row_plus1;	/* index of the row, plus one */
	__u32 pad;
	struct mt_unwind_row row;
};

/* mt_module.row_count: the file's table is being built; a frame in it is deferred. */
#define MT_ROWS_PENDING 0xffffffffu

/* mt_proc_modules.flags */
#define MT_MODS_F_FP_ONLY	1u	/* walk with frame pointers only (a Go program) */

struct mt_proc_modules {
	__u32 nr;
	__u32 flags;		/* MT_MODS_F_* */
	/* The uretprobe trampoline ([uprobes] in maps; 0 until the kernel maps it). */
	__u64 tramp;
	/* Changes at each publication (never 0): a walk memo (mt_walk_memo) holds for one. */
	__u32 gen;
	__u32 pad;
	struct mt_module m[MT_MAX_MODULES];	/* sorted by start */
};

/*
 * A window of the user stack, read with one bpf_probe_read_user: the
 * walker takes the frames inside it from there, and reads the window again
 * at the first frame it leaves. A power of 2, in bytes.
 */
#define MT_STACK_WINDOW 1024

/*
 * The last walks a thread made from allocating functions' entries, kept to
 * be taken again. A walk is a function of its start (the return address,
 * the stack pointer, rbp where a step used it before restoring it), of the
 * modules published (gen) and of the stack words it read: when all of them
 * are unchanged, so is the stack, and checking the words costs a load and
 * a compare each where walking them costs a chain of dependent lookups per
 * frame. The words are checked in the windows the walk read them from:
 * the first, read at the entry, and up to MT_MEMO_WINDOWS - 1 more, read
 * again to check them. Its frames are not kept: a stack taken again is one
 * whose frames are stored.
 */
/* 56: the thread's scratch (struct mt_pending) stays within 8 KiB with the kernel's header. */
#define MT_MEMO_WORDS 56
#define MT_MEMO_WAYS 8
#define MT_MEMO_WINDOWS 4
struct mt_walk_memo_ent {
	__u64 ip, sp, bp;	/* the start; ip 0: none */
	__u64 stack_id;
	__u32 gen;		/* the modules' (mt_proc_modules.gen; 0: none published) */
	__u8 n;			/* words */
	__u8 bp_used;		/* the start's rbp decided a step */
	__u8 nwin;		/* windows */
	__u8 pad;
	__u8 win_start[MT_MEMO_WINDOWS];	/* a window's first word */
	__u16 win_len[MT_MEMO_WINDOWS];		/* bytes read */
	__u32 win_off[MT_MEMO_WINDOWS];		/* where, from the first window's start */
	__u8 idx[MT_MEMO_WORDS];	/* indexes in their window (mt_stack_window.w) */
	__u64 val[MT_MEMO_WORDS];
};

struct mt_walk_memo {
	struct mt_walk_memo_ent e[MT_MEMO_WAYS];
	__u64 walk_ip;		/* the start of the walk being recorded */
	__u32 rec;		/* the entry it is recorded in */
	__u8 recording;		/* a walk in progress notes its words */
	__u8 next;		/* the entry a new walk goes to next (round robin) */
	__u8 hit;		/* the last capture was taken from an entry */
	__u8 reads;		/* windows read again by this capture's checks */
};

#define MT_MOD_HINTS 4
struct mt_stack_window {
	__u64 base;		/* user address of w[0] */
	__u64 limit;		/* the main thread's stack start: no window reaches above it */
	__u32 len;		/* bytes read at base; 0: empty */
	__u32 failed;		/* reads of the window that failed in this walk */
	/*
	 * The walk's: where it follows the frame pointer without looking at
	 * anything else (frame-pointer code around the last frame; empty: none).
	 * Here, not on the BPF stack: the walker's chain of calls has no room.
	 */
	__u64 fp_lo, fp_hi;
	/*
	 * The modules (index + 1) this thread's walks were last found in: a
	 * thread's stacks go through the same few, and a search costs ~100
	 * instructions. Only hints: a frame is in one when its range holds it.
	 */
	__u32 mod_hint[MT_MOD_HINTS];
	__u32 mod_hint_next;
	__u32 pad;
	/* One word more than the window: a two-word read at the last index stays in bounds. */
	__u64 w[MT_STACK_WINDOW / 8 + 1];
	struct mt_walk_memo memo;
};

/* The bytes of a code object read for its identity: [MT_PY_CODE_FROM, + MT_PY_CODE_READ). */
#define MT_PY_CODE_FROM		64
#define MT_PY_CODE_READ		80

/*
 * A thread's Python scratch (bpf/python.bpf.h): per thread, never per
 * CPU, since a uprobe's program can be preempted by another thread's.
 */
struct mt_py_scratch {
	/* A _PyInterpreterFrame, or a code object's fields, read; a word more. */
	__u64 buf[MT_PY_CODE_READ / 8 + 1];
	/* An inlined site's stack walk starts here (the walker's struct walk_regs). */
	__u64 start_ip, start_sp, start_bp;
	__u32 start_flags, start_mod;
	/* The interpreter's last free, which libc's free of the block may follow (py_free). */
	__u64 free_ptr;
	/* An inlined allocation passed on to libc's malloc family: the site's sp (0: none). */
	__u64 api_sp;
};

/*
 * mt_pending.pend_flags: sampled tracing counted the call at its entry, and
 * drew it; the stack was taken from the walk memo (mt_pending.stack holds
 * another's frames: the id's are stored).
 */
#define MT_PEND_COUNTED	1u
#define MT_PEND_SAMPLED	2u
#define MT_PEND_REUSED	4u

/* Per-thread hand-off from an entry probe to its return probe. */
struct mt_pending {
	__u64 entry_sp;		/* sp at entry; the return sees entry_sp + 8 */
	__u64 ret_addr;		/* *entry_sp at entry: the caller */
	__u64 size;
	__u64 old_ptr;		/* realloc: block being resized */
	struct mt_alloc_info old_info;	/* realloc: its record, restored if realloc fails */
	__u32 old_known;
	__u32 pend_flags;	/* MT_PEND_* */
	__u64 memptr;		/* posix_memalign: where the pointer is stored */
	__u64 stack_id;
	__u32 kind;
	__u32 active;
	/* An in-flight memory-map syscall. */
	__u64 vm_args[6];
	__u64 vm_stack_id;
	__u32 vm_nr;
	__u32 vm_active;
	struct mt_stack stack;
	struct mt_stack vm_stack;
	struct mt_stack_window win;	/* the stack walker's scratch */
	/* The clock read last by this thread, and the tick it was read in (bpf_jiffies64). */
	__u64 clock_ns;
	__u64 clock_jiffies;
	/* An inlined pymalloc allocation left to allocate_from_new_pool: the site's sp (0: none). */
	__u64 py_refill_sp;
	struct mt_py_scratch py;
};

/*
 * What the unwinding side of userspace needs at once, on its own ring
 * buffer (unwind_events): a process whose executable mappings changed, and
 * stacks to finish (MT_STACK_F_DEFERRED).
 */
enum mt_unwind_event_type {
	MT_UEV_MODULES = 1,	/* exec, or an executable mapping: publish its modules */
	MT_UEV_DEFERRED = 2,	/* a stack copy to unwind */
};

struct mt_uev_modules {
	__u32 type;
	__u32 pid;
};

/*
 * A walk handed over is known by where it stopped: the frames so far, the
 * frame's pc and stack pointer. The same again (a loop allocating before the
 * tables are in) reuses its provisional id instead of sending another copy.
 */
struct mt_defer_key {
	__u64 walked;		/* hash of the frames walked */
	__u64 ip, sp;
	__u32 pid;
	__u32 pad;
};
#define MT_DEFER_DEDUP_ENTRIES 4096

/* The most of a stack copied for userspace to unwind (perf record --call-graph dwarf: 8 KiB). */
#define MT_DEFER_STACK_BYTES 16384

struct mt_uev_deferred {
	__u32 type;
	__u32 pid;
	__u64 prov_id;		/* the provisional stack id the allocation was filed under */
	/* The first frame not walked: its pc (a return address), stack and frame pointers. */
	__u64 ip, sp, bp;
	__u32 nr_frames;	/* frames walked before it: ips[0..nr_frames) */
	__u32 len;		/* bytes of stack copied from sp */
	__u64 ips[MT_MAX_FRAMES];
	__u8 data[MT_DEFER_STACK_BYTES];
	/* The Python frames, taken before the walk: part of the whole stack's id. */
	__u32 nr_py;
	__u32 py_flags;
	__u64 py[MT_MAX_PY_FRAMES];
	__u64 py_lo, py_hi;
};

/*
 * Python (CPython 3.11-3.13). At each allocation of a Python process the
 * BPF side reads the thread's Python frames from the interpreter's own
 * structures (its PyThreadState, found through the GIL's last holder or
 * the interpreter's list of threads, and the _PyInterpreterFrame chain),
 * as struct mt_py_layout describes them for that interpreter, and keeps,
 * per frame, its code object and instruction; userspace names them from
 * the process's memory.
 *
 * One frame: the code object's address (a user address: below 2^47), the
 * byte offset of the frame's instruction pointer in that code object (0:
 * unknown), and whether the frame is the first one its
 * _PyEval_EvalFrameDefault call ran (the Python frames of one C frame of
 * the interpreter end there).
 */
#define MT_PY_ADDR_MASK		((1ull << 47) - 1)
#define MT_PY_FRAME(code, off, entry)	(((code) & MT_PY_ADDR_MASK) | \
					 ((__u64)((off) & 0xffff) << 47) | ((__u64)!!(entry) << 63))
#define MT_PY_FRAME_CODE(f)	((f) & MT_PY_ADDR_MASK)
#define MT_PY_FRAME_OFF(f)	((__u32)(((f) >> 47) & 0xffff))
#define MT_PY_FRAME_ENTRY(f)	((__u32)((f) >> 63))

/* mt_stack.py_flags */
#define MT_PY_F_TRUNCATED	(1u << 0)	/* more Python frames than MT_MAX_PY_FRAMES */
#define MT_PY_F_READ_FAILED	(1u << 1)	/* a frame could not be read: the rest is missing */
#define MT_PY_F_NO_THREAD	(1u << 2)	/* a Python process's thread with no thread state */
/* Allocated through the interpreter's API (PyObject_Malloc, PyMem_Malloc, ...), not libc's. */
#define MT_PY_F_API		(1u << 3)

/* How many interpreter files (each with its layout) can be probed at once, and probes on them. */
#define MT_MAX_PY_LAYOUTS	16
#define MT_MAX_PY_SITES		8192
/* An offset a layout does not have. */
#define MT_PY_NONE		0xffff

/*
 * Where one interpreter keeps what the BPF side reads; offsets in bytes.
 * Addresses are ELF virtual addresses in the interpreter's file (the
 * executable or libpython): the BPF side adds the load bias of the probe
 * that fired (struct mt_py_site.vaddr).
 */
struct mt_py_layout {
	__u64 runtime;		/* _PyRuntime */
	__u64 usedpools;	/* pymalloc's usedpools[] (inlined allocations; 0: none) */
	__u32 interp_main;	/* _PyRuntime + it: the main PyInterpreterState * */
	/*
	 * The PyThreadState * that last took the GIL: the main interpreter's
	 * own GIL (3.12+) + it, or (gil_in_runtime, 3.11) _PyRuntime + it.
	 */
	__u32 gil_holder;
	__u16 gil_in_runtime;
	__u16 interp_threads;	/* PyInterpreterState: its first PyThreadState * */
	__u16 tstate_next;
	__u16 tstate_tid;	/* native_thread_id (a long) */
	__u16 tstate_cframe;	/* 3.11, 3.12: the _PyCFrame *, MT_PY_NONE from 3.13 */
	__u16 current_frame;	/* in the _PyCFrame, or (3.13) in the PyThreadState */
	__u16 frame_previous;	/* _PyInterpreterFrame */
	__u16 frame_code;	/* f_code (3.11, 3.12), f_executable (3.13) */
	__u16 frame_instr;	/* prev_instr (3.11, 3.12), instr_ptr (3.13) */
	__u16 frame_owner;	/* a byte */
	__u16 frame_is_entry;	/* a byte (3.11); MT_PY_NONE: entries are shim frames */
	__u16 owner_cstack;	/* owner of a shim frame (FRAME_OWNED_BY_CSTACK); MT_PY_NONE: none */
	__u16 pool_szidx;	/* pymalloc's pool_header.szidx (a uint) */
	/* PyCodeObject: what identifies one (struct mt_py_code_ref), from MT_PY_CODE_FROM on. */
	__u16 co_firstlineno;	/* an int */
	__u32 pool_size;	/* pymalloc's pools: a power of 2 */
	__u16 co_filename, co_qualname, co_linetable;
	__u16 pad;
	__u64 text_lo, text_hi;	/* the file's executable segment: the interpreter's code */
};


/* The bytes of a _PyInterpreterFrame read per frame: every field above lies in them. */
#define MT_PY_FRAME_READ	72

/* pymalloc: blocks up to 512 bytes, in size classes of 16 bytes (3.8 and later, 64-bit). */
#define MT_PY_SMALL_MAX		512
#define MT_PY_ALIGN_SHIFT	4

/* What a probe on the interpreter is (mt_py_site.kind). */
enum mt_py_site_kind {
	MT_PY_SITE_FUNC = 1,	/* an allocator function's probe (its cookie has its kind) */
	/*
	 * pymalloc's allocation, free or reallocation inlined into a function
	 * (link-time optimized builds): a probe on the branch after the
	 * comparison of the allocator's function pointer with pymalloc's own,
	 * taken when they are equal (ZF). The BPF side does what the inlined
	 * code is about to do: an allocation takes pool->freeblock of
	 * usedpools[class], or calls allocate_from_new_pool (MT_KIND_PY_REFILL)
	 * when the pool is empty.
	 */
	MT_PY_SITE_ALLOC,	/* size in reg (+ add), or add alone when reg is MT_PY_REG_CONST */
	MT_PY_SITE_FREE,	/* pointer in reg */
	MT_PY_SITE_REALLOC,	/* pointer in reg, size in reg2 (+ add) */
	MT_PY_SITE_CALLOC,	/* size reg * reg2 * add (a MT_PY_REG_CONST register counts 1) */
};

#define MT_PY_REG_CONST		0xff
/* An allocation's size or a free's pointer in a stack slot: the word at rsp + add at the site. */
#define MT_PY_REG_STACK		0xfe

struct mt_py_site {
	__u64 vaddr;		/* of the probe: the load bias is the probe's address less it */
	__u32 layout;		/* py_layouts index */
	__u8 kind;		/* enum mt_py_site_kind */
	__u8 reg;		/* x86 register number (MT_COOKIE_ARG_REG's) */
	__u8 reg2;
	__u8 pad;
	__s64 add;
};

/* A Python process, as its first probe on the interpreter found it (py_procs). */
struct mt_py_proc {
	__u64 bias;		/* the interpreter file's load bias */
	__u64 interp;		/* its main PyInterpreterState, once read (0: not yet) */
	__u32 layout;
	__u32 pad;
};

/*
 * When a stack with Python frames is first stored, what each frame's code
 * object was then (its frame holds it alive): userspace names it at once,
 * and tells it from another code object the address holds later (a
 * module's top-level code is freed once imported, and its memory reused).
 */
struct mt_py_code_ref {
	__u64 frame;		/* MT_PY_FRAME */
	__u64 filename, qualname, linetable;	/* the code object's str and bytes objects */
	__s32 firstlineno;
	__u32 pad;
};

struct mt_py_stack_event {
	__u32 pid;
	__u32 nr;
	struct mt_py_code_ref f[MT_MAX_PY_FRAMES];
};

/* A hash of a stack's Python frames and whether it is the interpreter's API's; 0: neither. */
static inline __u64 mt_py_frames_hash(const struct mt_stack *st)
{
	__u64 h = 0xcbf29ce484222325ULL;
	__u32 i, n = st->nr_py < MT_MAX_PY_FRAMES ? st->nr_py : MT_MAX_PY_FRAMES;

	if (!n && !(st->py_flags & MT_PY_F_API))
		return 0;
	for (i = 0; i < MT_MAX_PY_FRAMES && i < n; i++)
		h = (h ^ st->py[i]) * 0x100000001b3ULL;
	h ^= n | (__u64)(st->py_flags & MT_PY_F_API) << 32;
	return h * 0x9e3779b97f4a7c15ULL;
}

/*
 * The stack id of a stack with Python frames: its native frames but the
 * interpreter's own, which the Python frames stand for (two C paths
 * through the interpreter to one line of Python, an unmarshal's
 * recursion, are one stack: a process importing its modules would make
 * tens of thousands otherwise), mixed with them. A provisional id
 * (MT_STACK_F_DEFERRED) stays as it is: userspace files it under the
 * whole stack's.
 */
static inline __u64 mt_py_stack_id(__u64 id, const struct mt_stack *st)
{
	__u64 h = mt_py_frames_hash(st);
	__u32 i, n = st->nr_frames < MT_MAX_FRAMES ? st->nr_frames : MT_MAX_FRAMES;

	if ((st->flags & MT_STACK_F_DEFERRED) || !h)
		return id;
	if (st->nr_py && st->py_lo < st->py_hi) {
		id = 0xcbf29ce484222325ULL;
		for (i = 0; i < MT_MAX_FRAMES && i < n; i++)
			if (st->ips[i] - st->py_lo >= st->py_hi - st->py_lo)
				id = (id ^ st->ips[i]) * 0x100000001b3ULL;
	}
	id ^= h;
	return id ? id : 1;
}

#endif /* MEMTRACE_H */
