/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every map the programs share, and the loss counters. Sizes marked "set
 * from user space" are set by the loader before load (src/probe/loader.c).
 * Part of memtrace.bpf.c, which includes it first.
 */

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
 * sites), and a hit costs one lookup instead of a binary search. A plain
 * array of MT_ROW_CACHE_SIZE entries per CPU, not a per-CPU array: its
 * lookup is inlined, a per-CPU array's is a call.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MT_ROW_CACHE_SIZE); /* times the CPUs; set from user space */
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

/* Blocks in the allocs map, per CPU: kept here less freed here (the sum is the map's). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} block_count SEC(".maps");

/* Sampled native tracing: bytes to the next sampled allocation, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_go_sample_next);
} native_sample_next SEC(".maps");

/* What the unwinding side needs at once (struct mt_uev_*): its own thread reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* bytes: ~950 stack copies */
} unwind_events SEC(".maps");

/* Walks handed over, by where they stopped: their provisional ids (reused for the same). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MT_DEFER_DEDUP_ENTRIES);
	__type(key, struct mt_defer_key);
	__type(value, __u64);
} defer_dedup SEC(".maps");

/* Provisional stack ids: a sequence number per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} defer_seq SEC(".maps");

/* Sampled Go objects, by address, until userspace finds them freed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* set from user space */
	__type(key, struct mt_go_sample_key);
	__type(value, struct mt_go_sample);
} go_samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_go_sample_next);
} go_sample_next SEC(".maps");

/* Go probe sites, by the index in their cookie (filled by userspace at attach). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MT_GO_MAX_SITES);
	__type(key, __u32);
	__type(value, struct mt_go_site);
} go_sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mt_pending);
} pending SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		__sync_fetch_and_add(c, 1);
}
