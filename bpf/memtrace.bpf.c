// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memtrace's per-event path: uprobes on the allocator's entry points and
 * one shared uretprobe. Every allocation is recorded by address with its
 * size, time and call stack, and counted per (process, stack); a free
 * deletes the record. Userspace never replays events: what is live is the
 * records, what was freed the counted ones no longer there.
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
/*
 * Userspace finishes stacks that reach code whose unwind table it has not
 * published yet (unwind tables in use: not --fp-only); system-wide, also
 * those of processes it has published nothing for yet.
 */
const volatile bool defer_stacks = false;
/* Go: mean bytes between sampled allocations (0: no sampling), and Exp(1)'s steps. */
const volatile __u64 go_sample_rate = 0;
const volatile __u32 go_exp_table[MT_GO_EXP_STEPS] = {};
__u64 dl_stops_sent;
/* Probes on a Python interpreter are attached: Python processes' frames are read. */
const volatile bool python_probes = false;
/*
 * Sampled native tracing: log2 of the mean bytes between sampled
 * allocations, 0 for exact tracking. Userspace may set it while running
 * (the allocs map nearing full): a global, not a constant; one word, so the
 * rate and the shift kept with each block always agree.
 */
__u64 native_sample_shift;
/*
 * Sampling memtrace starts by itself (0: not) when the allocs map is
 * auto_sample_percent full, before it refuses blocks: counted per CPU,
 * summed over nr_cpus every 1024 blocks a CPU keeps.
 */
__u64 auto_sample_shift;
const volatile __u32 auto_sample_percent = 90;
const volatile __u32 nr_cpus = 1;
const volatile __u32 allocs_max = 1;
const volatile __u32 fill_check_mask = 1023;	/* smaller for a small map: it fills sooner */

/*
 * One translation unit, split by concern: the programs share static
 * helpers and maps, and one object keeps one skeleton (see the Makefile).
 */
#include "maps.bpf.h"
#include "filter.bpf.h"
#include "stack.bpf.h"
#include "python.bpf.h"
#include "alloc.bpf.h"
#include "python_sites.bpf.h"
#include "vm.bpf.h"
#include "go.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
