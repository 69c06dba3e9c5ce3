/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The BPF object's lifecycle (open, configure, load, free) and the reading of its maps. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "probe/loader.h"
#include "probe/loader_internal.h"
#include "util/log.h"
#include "memtrace.skel.h"

static int verbosity;

static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && verbosity < 2)
		return 0;
	if (verbosity < 1)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* -vv: what the verifier went through for each program (its load time follows it). */
static void print_verified(struct loader *l)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, l->skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_program__autoload(prog) ||
		    bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		mt_debug("BPF program %s: %u instructions verified\n", bpf_program__name(prog),
			 info.verified_insns);
	}
}
/*
 * Whether the kernel makes uprobe_multi links, and filters them by process
 * (the first kernels that made them filtered by thread: a target's other
 * threads would go untraced). A trivial program on "/" must be refused
 * for the path (-EBADF), and pid -1 for the pid (-EINVAL) before any
 * lookup; returns 0 or why not.
 */
static int probe_uprobe_multi(void)
{
	LIBBPF_OPTS(bpf_prog_load_opts, popts,
		    .expected_attach_type = (enum bpf_attach_type)MT_TRACE_UPROBE_MULTI);
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	uint64_t offset = 0;
	int prog_fd, fd, err;

	prog_fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "Dual BSD/GPL", insns,
				sizeof(insns) / sizeof(insns[0]), &popts);
	if (prog_fd < 0)
		return -errno;
	fd = loader_link_create_multi(prog_fd, MT_TRACE_UPROBE_MULTI, "/", &offset, NULL, 1, false, 0);
	if (fd >= 0)
		close(fd);
	err = fd == -EBADF ? 0 : fd >= 0 ? -EINVAL : fd;
	if (!err) {
		fd = loader_link_create_multi(prog_fd, MT_TRACE_UPROBE_MULTI, "/", &offset, NULL, 1,
					      false, -1);
		if (fd >= 0)
			close(fd);
		err = fd == -EINVAL ? 0 : -ESRCH;
	}
	close(prog_fd);
	return err;
}

/*
 * Whether the kernel makes uprobe session links (6.13+): a trivial session
 * program on "/" must be refused for the path (-EBADF). 0 or why not.
 */
static int probe_uprobe_session(void)
{
	LIBBPF_OPTS(bpf_prog_load_opts, popts,
		    .expected_attach_type = (enum bpf_attach_type)MT_TRACE_UPROBE_SESSION);
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	uint64_t offset = 0;
	int prog_fd, fd;

	prog_fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "Dual BSD/GPL", insns,
				sizeof(insns) / sizeof(insns[0]), &popts);
	if (prog_fd < 0)
		return -errno;
	fd = loader_link_create_multi(prog_fd, MT_TRACE_UPROBE_SESSION, "/", &offset, NULL, 1,
				      false, 0);
	if (fd >= 0)
		close(fd);
	close(prog_fd);
	return fd == -EBADF ? 0 : fd >= 0 ? -EINVAL : fd;
}

/*
 * Each uprobe link's detach waits for RCU grace periods (~0.1 s here); a
 * uprobe_multi link waits once for all its probes. The programs must be
 * loaded for that link type, so it is chosen now; every kprobe-type
 * program here is a uprobe.
 */
static void choose_link_type(struct loader *l)
{
	struct bpf_program *prog;
	int err = probe_uprobe_multi();

	if (err) {
		mt_debug("uprobes: one link per probe (no uprobe_multi links: %s)\n",
			 err == -ESRCH ? "the kernel filters them by thread" : strerror(-err));
		return;
	}
	/* Refused only once the object is loaded, which it is not yet. */
	bpf_object__for_each_program(prog, l->skel->obj)
		if (bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE)
			bpf_program__set_expected_attach_type(prog,
				(enum bpf_attach_type)MT_TRACE_UPROBE_MULTI);
	l->multi = true;
	err = probe_uprobe_session();
	if (!err) {
		bpf_program__set_expected_attach_type(l->skel->progs.mt_alloc_session,
			(enum bpf_attach_type)MT_TRACE_UPROBE_SESSION);
		l->session = true;
	}
	mt_debug("uprobes: one uprobe_multi link per file and program; allocating entry points %s\n",
		 l->session ? "in uprobe sessions" : "with a return probe each (no uprobe sessions)");
}

/*
 * Exp(1) cut into MT_GO_EXP_STEPS steps of equal probability, each the
 * distribution's mean over its step (so that the mean stays exactly 1),
 * in fixed point: the BPF side draws a sampling distance from it.
 */
static void fill_exp_table(volatile __u32 *table)
{
	const double n = MT_GO_EXP_STEPS;
	double a, b, mean;
	int i;

	for (i = 0; i < MT_GO_EXP_STEPS; i++) {
		/* -ln(u) for u in (a, b]: the mean is (b - b ln b - a + a ln a) / (b - a). */
		a = i / n;
		b = (i + 1) / n;
		mean = (b - b * log(b) - a + (a > 0 ? a * log(a) : 0)) / (b - a);
		table[i] = (__u32)(mean * (1u << MT_GO_EXP_SHIFT) + 0.5);
	}
}

int loader__new(const struct loader_opts *opts, struct loader **out)
{
	struct loader *l;
	double t0, t1;
	int err;

	verbosity = opts->verbose;
	libbpf_set_print(libbpf_print_fn);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->verbose = opts->verbose;
	t0 = now_ms();
	l->skel = memtrace_bpf__open();
	if (!l->skel) {
		err = -errno;
		free(l);
		return err ? err : -EINVAL;
	}
	l->skel->rodata->empty_probes = opts->empty_probes;
	l->skel->rodata->min_size = opts->min_size;
	l->skel->rodata->max_size = opts->max_size;
	l->skel->rodata->trace_all = opts->trace_all;
	l->skel->rodata->stop_pid = opts->stop_pid;
	l->skel->rodata->self_tgid = (__u32)getpid();
	bpf_map__set_max_entries(l->skel->maps.allocs, opts->max_allocs);
	if (opts->max_procs) {
		bpf_map__set_max_entries(l->skel->maps.traced_pids, opts->max_procs);
		bpf_map__set_max_entries(l->skel->maps.proc_modules, opts->max_procs);
	}
	if (libbpf_num_possible_cpus() > 0)
		bpf_map__set_max_entries(l->skel->maps.row_cache,
					 MT_ROW_CACHE_SIZE * (__u32)libbpf_num_possible_cpus());
	l->rows_max = MT_DEFAULT_CFI_ROWS;
	bpf_map__set_max_entries(l->skel->maps.cfi_rows, (__u32)l->rows_max);
	bpf_map__set_max_entries(l->skel->maps.stats, opts->max_stacks);
	bpf_map__set_max_entries(l->skel->maps.stacks, opts->max_stacks);
	bpf_map__set_max_entries(l->skel->maps.vm_events, opts->vm_buffer);
	bpf_map__set_max_entries(l->skel->maps.go_samples,
				 opts->max_go_samples ? opts->max_go_samples : 1);
	/* Sampled tracing draws from it too, Go's and native. */
	fill_exp_table(l->skel->rodata->go_exp_table);
	if (opts->go && opts->go_sample_rate) {
		l->skel->rodata->go_sample_rate = opts->go_sample_rate;
		l->go_sampling = true;
	}
	/* Each program costs its verification: a target without Go needs none of Go's. */
	if (!opts->go) {
		bpf_program__set_autoload(l->skel->progs.mt_go_mallocgc, false);
		bpf_program__set_autoload(l->skel->progs.mt_go_alloc_span, false);
		bpf_program__set_autoload(l->skel->progs.mt_go_free_span, false);
	}
	if (!l->go_sampling)
		bpf_program__set_autoload(l->skel->progs.mt_go_publish, false);
	/* Python: the frame reader runs in every allocator probe once a Python target is probed. */
	l->python = opts->python;
	l->skel->rodata->python_probes = opts->python;
	bpf_map__set_max_entries(l->skel->maps.py_sites, opts->python ? MT_MAX_PY_SITES : 1);
	if (!opts->python)
		bpf_map__set_max_entries(l->skel->maps.py_events, 4096);
	if (opts->max_procs)
		bpf_map__set_max_entries(l->skel->maps.py_procs, opts->max_procs);
	if (!opts->python)
		bpf_program__set_autoload(l->skel->progs.mt_py_site, false);
	l->skel->rodata->defer_stacks = opts->defer_stacks;
	l->skel->rodata->allocs_max = opts->max_allocs;
	/* A look at the fill each 1/64th of the map a CPU fills, at most each 1024 blocks. */
	l->skel->rodata->fill_check_mask = opts->max_allocs >= 65536 ? 1023 :
		(opts->max_allocs >= 128 ? (1u << (31 - __builtin_clz(opts->max_allocs / 64))) - 1 : 0);
	if (libbpf_num_possible_cpus() > 0)
		l->skel->rodata->nr_cpus = (__u32)libbpf_num_possible_cpus();
	if (!opts->defer_stacks)
		bpf_program__set_autoload(l->skel->progs.mt_exec, false);
	choose_link_type(l);
	/* Without session links, the entry and return programs do (and every call's return traps). */
	if (!l->session)
		bpf_program__set_autoload(l->skel->progs.mt_alloc_session, false);

	t1 = now_ms();
	err = memtrace_bpf__load(l->skel);
	if (err) {
		memtrace_bpf__destroy(l->skel);
		free(l);
		return err;
	}
	l->open_ms = t1 - t0;
	l->load_ms = now_ms() - t1;
	if (opts->verbose >= 2)
		print_verified(l);
	/* The rows are written in place: one mapping instead of a syscall per row. */
	l->rows_mem = mmap(NULL, l->rows_max * sizeof(struct mt_unwind_row), PROT_READ | PROT_WRITE,
			   MAP_SHARED, bpf_map__fd(l->skel->maps.cfi_rows), 0);
	if (l->rows_mem == MAP_FAILED)
		l->rows_mem = NULL;
	*out = l;
	return 0;
}

void loader__load_times(const struct loader *l, double *open_ms, double *load_ms)
{
	*open_ms = l->open_ms;
	*load_ms = l->load_ms;
}

int loader__add_pid(struct loader *l, uint32_t pid)
{
	__u8 one = 1;

	if (bpf_map__update_elem(l->skel->maps.traced_pids, &pid, sizeof(pid), &one, sizeof(one), 0))
		return -errno;
	return 0;
}

int loader__read_go_stat(struct loader *l, uint32_t pid, struct mt_go_stat *out)
{
	if (bpf_map__lookup_elem(l->skel->maps.go_stats, &pid, sizeof(pid), out, sizeof(*out), 0))
		return -errno;
	return 0;
}

int loader__read_counters(struct loader *l, uint64_t out[MT_CNT_MAX])
{
	int ncpus = libbpf_num_possible_cpus();
	__u64 *vals;
	__u32 i;
	int c;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (i = 0; i < MT_CNT_MAX; i++) {
		out[i] = 0;
		if (bpf_map__lookup_elem(l->skel->maps.counters, &i, sizeof(i), vals,
					 sizeof(*vals) * (size_t)ncpus, 0))
			continue;
		for (c = 0; c < ncpus; c++)
			out[i] += vals[c];
	}
	out[MT_CNT_STACKS_STORED] += __atomic_load_n(&l->stacks_stored_here, __ATOMIC_RELAXED);
	free(vals);
	return 0;
}

#define BATCH 4096

typedef void (*entry_fn)(void *ctx, const void *key, const void *value);

/* Read a whole hash map with batched lookups; calls fn for each entry. */
static int for_each_entry(int fd, size_t key_size, size_t value_size, entry_fn fn, void *ctx)
{
	size_t count_cap = BATCH;
	void *keys = NULL, *values = NULL;
	__u64 token_in = 0, token_out = 0;
	bool first = true;
	int err = 0;

	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = (__u32)count_cap, i;

		if (!keys) {
			keys = malloc(key_size * count_cap);
			values = malloc(value_size * count_cap);
			if (!keys || !values) {
				err = -ENOMEM;
				break;
			}
		}
		err = bpf_map_lookup_batch(fd, first ? NULL : &token_in, &token_out, keys, values,
					   &count, &opts);
		if (err < 0)
			err = -errno;
		if (err == -ENOSPC && count == 0) {
			/* One bucket holds more entries than the buffer: make it bigger. */
			count_cap *= 2;
			free(keys);
			free(values);
			keys = values = NULL;
			continue;
		}
		for (i = 0; i < count; i++)
			fn(ctx, (char *)keys + i * key_size, (char *)values + i * value_size);
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err)
			break;
		token_in = token_out;
		first = false;
	}
	free(keys);
	free(values);
	return err;
}

int loader__traced_pids(struct loader *l, uint32_t **out, size_t *nr)
{
	int fd = bpf_map__fd(l->skel->maps.traced_pids);
	uint32_t key, next, *pids = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (n == cap) {
			uint32_t *np = realloc(pids, (cap ? cap * 2 : 64) * sizeof(*np));

			if (!np) {
				free(pids);
				return -ENOMEM;
			}
			pids = np;
			cap = cap ? cap * 2 : 64;
		}
		pids[n++] = next;
		key = next;
		prev = &key;
	}
	*out = pids;
	*nr = n;
	return 0;
}

struct forget_ctx {
	int fd;
	const uint32_t *pids;	/* sorted */
	size_t nr_pids;
	size_t key_size;
	void *keys;
	size_t nr, cap;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void collect_pid_keys(void *ctx, const void *key, const void *value)
{
	struct forget_ctx *fc = ctx;
	uint32_t pid;

	(void)value;
	/* Both key layouts keep the pid at offset 8. */
	memcpy(&pid, (const char *)key + 8, sizeof(pid));
	if (!bsearch(&pid, fc->pids, fc->nr_pids, sizeof(pid), cmp_u32))
		return;
	if (fc->nr == fc->cap) {
		size_t cap = fc->cap ? fc->cap * 2 : 256;
		void *n = realloc(fc->keys, cap * fc->key_size);

		if (!n)
			return;
		fc->keys = n;
		fc->cap = cap;
	}
	memcpy((char *)fc->keys + fc->nr++ * fc->key_size, key, fc->key_size);
}

/* Delete the entries of the map at fd of any of pids (sorted); how many went. One pass. */
static size_t forget_in(int fd, size_t key_size, size_t value_size, const uint32_t *pids,
			size_t nr_pids)
{
	struct forget_ctx fc = { .fd = fd, .pids = pids, .nr_pids = nr_pids,
				 .key_size = key_size };
	size_t i, gone = 0;

	for_each_entry(fd, key_size, value_size, collect_pid_keys, &fc);
	for (i = 0; i < fc.nr; i++)
		gone += bpf_map_delete_elem(fd, (char *)fc.keys + i * key_size) == 0;
	free(fc.keys);
	return gone;
}

/* Blocks userspace took out of the allocs map, out of the BPF side's count (CPU 0's: the sum). */
static void uncount_blocks(struct loader *l, size_t n)
{
	int ncpus = libbpf_num_possible_cpus();
	__u32 zero = 0;
	__s64 *v;

	if (!n || ncpus <= 0)
		return;
	v = calloc((size_t)ncpus, sizeof(*v));
	if (!v)
		return;
	if (!bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.block_count), &zero, v)) {
		v[0] -= (__s64)n;
		bpf_map_update_elem(bpf_map__fd(l->skel->maps.block_count), &zero, v, BPF_ANY);
	}
	free(v);
}

int64_t loader__blocks(struct loader *l)
{
	int ncpus = libbpf_num_possible_cpus();
	__u32 zero = 0;
	int64_t sum = 0;
	__s64 *v;
	int c;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	v = calloc((size_t)ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.block_count), &zero, v)) {
		free(v);
		return -errno;
	}
	for (c = 0; c < ncpus; c++)
		sum += v[c];
	free(v);
	return sum;
}

void loader__drop_modules(struct loader *l, uint32_t pid)
{
	bpf_map__delete_elem(l->skel->maps.proc_modules, &pid, sizeof(pid), 0);
}

void loader__forget_pids(struct loader *l, uint32_t *pids, size_t nr)
{
	size_t i;

	if (!nr)
		return;
	/* Each map walked once for all of them: a walk reads every bucket. */
	qsort(pids, nr, sizeof(*pids), cmp_u32);
	_Static_assert(__builtin_offsetof(struct mt_alloc_key, pid) == 8, "pid at 8");
	_Static_assert(__builtin_offsetof(struct mt_stat_key, pid) == 8, "pid at 8");
	forget_in(bpf_map__fd(l->skel->maps.stats), sizeof(struct mt_stat_key),
		  sizeof(struct mt_stat), pids, nr);
	uncount_blocks(l, forget_in(bpf_map__fd(l->skel->maps.allocs), sizeof(struct mt_alloc_key),
				    sizeof(struct mt_alloc_info), pids, nr));
	_Static_assert(__builtin_offsetof(struct mt_go_sample_key, pid) == 8, "pid at 8");
	if (l->go_sampling)
		forget_in(bpf_map__fd(l->skel->maps.go_samples), sizeof(struct mt_go_sample_key),
			  sizeof(struct mt_go_sample), pids, nr);
	for (i = 0; i < nr; i++) {
		bpf_map__delete_elem(l->skel->maps.go_stats, &pids[i], sizeof(pids[i]), 0);
		bpf_map__delete_elem(l->skel->maps.traced_pids, &pids[i], sizeof(pids[i]), 0);
		bpf_map__delete_elem(l->skel->maps.proc_modules, &pids[i], sizeof(pids[i]), 0);
		bpf_map__delete_elem(l->skel->maps.py_procs, &pids[i], sizeof(pids[i]), 0);
	}
}

void loader__forget_pid(struct loader *l, uint32_t pid)
{
	loader__forget_pids(l, &pid, 1);
}

int loader__attach_py_events(struct loader *l, loader_py_event_fn fn, void *ctx)
{
	if (!l->python)
		return -EINVAL;
	l->py_rb = ring_buffer__new(bpf_map__fd(l->skel->maps.py_events),
				    (ring_buffer_sample_fn)fn, ctx, NULL);
	return l->py_rb ? 0 : -errno;
}

int loader__poll_py(struct loader *l, int timeout_ms)
{
	int n;

	if (!l->py_rb)
		return -EINVAL;
	n = ring_buffer__poll(l->py_rb, timeout_ms);
	return n < 0 && n != -EINTR ? n : 0;
}

int loader__py_bias(struct loader *l, uint32_t pid, uint64_t *bias)
{
	struct mt_py_proc p;

	if (bpf_map__lookup_elem(l->skel->maps.py_procs, &pid, sizeof(pid), &p, sizeof(p), 0))
		return -errno;
	*bias = p.bias;
	return 0;
}

bool loader__take_dl_stop(struct loader *l)
{
	__u64 sent = __atomic_load_n(&l->skel->bss->dl_stops_sent, __ATOMIC_RELAXED);

	if (l->dl_stops_taken >= sent)
		return false;
	l->dl_stops_taken++;
	return true;
}

int loader__unwind_rows(struct loader *l, struct mt_unwind_row **rows, size_t *max)
{
	if (!l->rows_mem)
		return -ENOMEM;
	*rows = l->rows_mem;
	*max = l->rows_max;
	return 0;
}

int loader__set_modules(struct loader *l, uint32_t pid, const struct mt_proc_modules *mods)
{
	if (bpf_map__update_elem(l->skel->maps.proc_modules, &pid, sizeof(pid), mods, sizeof(*mods),
				 0))
		return -errno;
	return 0;
}

/* The typed callbacks, called from the untyped walk. */
struct typed_walk {
	union {
		loader_alloc_fn alloc;
		loader_stat_fn stat;
		loader_stack_id_fn stack_id;
		loader_go_sample_fn go_sample;
	} fn;
	void *ctx;
};

static void alloc_entry(void *ctx, const void *key, const void *value)
{
	struct typed_walk *w = ctx;

	w->fn.alloc(w->ctx, key, value);
}

static void stat_entry(void *ctx, const void *key, const void *value)
{
	struct typed_walk *w = ctx;

	w->fn.stat(w->ctx, key, value);
}

static void stack_id_entry(void *ctx, const void *key, const void *value)
{
	struct typed_walk *w = ctx;
	uint64_t id;

	(void)value;
	memcpy(&id, key, sizeof(id));
	w->fn.stack_id(w->ctx, id);
}

int loader__for_each_alloc(struct loader *l, loader_alloc_fn fn, void *ctx)
{
	struct typed_walk w = { .fn.alloc = fn, .ctx = ctx };

	return for_each_entry(bpf_map__fd(l->skel->maps.allocs), sizeof(struct mt_alloc_key),
			      sizeof(struct mt_alloc_info), alloc_entry, &w);
}

int loader__for_each_stat(struct loader *l, loader_stat_fn fn, void *ctx)
{
	struct typed_walk w = { .fn.stat = fn, .ctx = ctx };

	return for_each_entry(bpf_map__fd(l->skel->maps.stats), sizeof(struct mt_stat_key),
			      sizeof(struct mt_stat), stat_entry, &w);
}

int loader__for_each_stack_id(struct loader *l, loader_stack_id_fn fn, void *ctx)
{
	struct typed_walk w = { .fn.stack_id = fn, .ctx = ctx };

	return for_each_entry(bpf_map__fd(l->skel->maps.stacks), sizeof(uint64_t),
			      sizeof(struct mt_stack), stack_id_entry, &w);
}

static void go_sample_entry(void *ctx, const void *key, const void *value)
{
	struct typed_walk *w = ctx;

	w->fn.go_sample(w->ctx, key, value);
}

int loader__for_each_go_sample(struct loader *l, loader_go_sample_fn fn, void *ctx)
{
	struct typed_walk w = { .fn.go_sample = fn, .ctx = ctx };

	return for_each_entry(bpf_map__fd(l->skel->maps.go_samples),
			      sizeof(struct mt_go_sample_key), sizeof(struct mt_go_sample),
			      go_sample_entry, &w);
}

int loader__delete_go_sample(struct loader *l, const struct mt_go_sample_key *k)
{
	if (bpf_map_delete_elem(bpf_map__fd(l->skel->maps.go_samples), k))
		return -errno;
	return 0;
}

bool loader__go_sampling(const struct loader *l)
{
	return l->go_sampling;
}

uint64_t loader__go_sample_rate(const struct loader *l, uint32_t pid)
{
	size_t i;

	for (i = 0; l->go_sampling && i < l->nr_go_sampled; i++)
		if ((uint32_t)l->go_sampled_pids[i] == pid)
			return l->skel->rodata->go_sample_rate;
	return 0;
}

int loader__read_stack(struct loader *l, uint64_t stack_id, struct mt_stack *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.stacks), &stack_id, out))
		return -errno;
	return 0;
}

int loader__set_native_sample_shift(struct loader *l, unsigned int shift)
{
	if (shift > MT_SAMPLE_SHIFT_MAX)
		return -ERANGE;
	if (shift && !l->session)
		return -EOPNOTSUPP;
	__atomic_store_n(&l->skel->bss->native_sample_shift, shift, __ATOMIC_RELEASE);
	return 0;
}

void loader__set_auto_sample_shift(struct loader *l, unsigned int shift)
{
	if (l->session && shift <= MT_SAMPLE_SHIFT_MAX)
		__atomic_store_n(&l->skel->bss->auto_sample_shift, shift, __ATOMIC_RELEASE);
}

unsigned int loader__native_sample_shift(const struct loader *l)
{
	return __atomic_load_n(&l->skel->bss->native_sample_shift, __ATOMIC_ACQUIRE);
}

int64_t loader__kernel_memory(struct loader *l)
{
	struct bpf_map *map;
	int64_t total = 0;

	bpf_object__for_each_map(map, l->skel->obj) {
		char path[64], line[128];
		FILE *f;

		if (bpf_map__fd(map) < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", bpf_map__fd(map));
		f = fopen(path, "re");
		if (!f)
			return -errno;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "memlock:", 8))
				total += strtoll(line + 8, NULL, 10);
		fclose(f);
	}
	return total;
}

int loader__store_stack(struct loader *l, uint64_t id, const struct mt_stack *st)
{
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.stacks), &id, st, BPF_NOEXIST)) {
		if (errno == EEXIST)
			return 0;
		if (errno == E2BIG)
			return -ENOSPC;
		return -errno;
	}
	/* The map's entries are those stored less those taken out: these too. */
	__atomic_add_fetch(&l->stacks_stored_here, 1, __ATOMIC_RELAXED);
	return 0;
}

int loader__delete_stack(struct loader *l, uint64_t stack_id)
{
	if (bpf_map_delete_elem(bpf_map__fd(l->skel->maps.stacks), &stack_id))
		return -errno;
	return 0;
}

static int count_keys(const struct bpf_map *map, uint64_t *n)
{
	char key[64], next[64];
	size_t ks = bpf_map__key_size(map);
	int fd = bpf_map__fd(map), err;
	void *prev = NULL;

	if (ks > sizeof(key))
		return -EINVAL;
	*n = 0;
	/* Entries deleted meanwhile may restart the walk: bound it by the capacity. */
	while (*n < bpf_map__max_entries(map)) {
		err = bpf_map_get_next_key(fd, prev, next);
		if (err)
			return errno == ENOENT ? 0 : -errno;
		memcpy(key, next, ks);
		prev = key;
		(*n)++;
	}
	return 0;
}

int loader__map_usage(struct loader *l, struct mt_map_usage *usage)
{
	usage[MT_MAP_ALLOCS].max_entries = bpf_map__max_entries(l->skel->maps.allocs);
	usage[MT_MAP_STATS].max_entries = bpf_map__max_entries(l->skel->maps.stats);
	usage[MT_MAP_STACKS].max_entries = bpf_map__max_entries(l->skel->maps.stacks);
	usage[MT_MAP_PROCS].max_entries = bpf_map__max_entries(l->skel->maps.traced_pids);
	return count_keys(l->skel->maps.traced_pids, &usage[MT_MAP_PROCS].entries);
}

bool loader__go_spans_complete(const struct loader *l)
{
	return !l->go_spans_incomplete;
}

int loader_add_go_site(struct loader *l, const struct mt_go_site *s, uint32_t *idx)
{
	struct mt_go_site *n;
	uint32_t i;

	for (i = 0; i < l->nr_go_sites; i++) {
		if (!memcmp(&l->go_sites[i], s, sizeof(*s))) {
			*idx = i;
			return 0;
		}
	}
	if (l->nr_go_sites == MT_GO_MAX_SITES)
		return -ENOSPC;
	n = realloc(l->go_sites, (l->nr_go_sites + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	l->go_sites = n;
	i = (uint32_t)l->nr_go_sites;
	if (bpf_map__update_elem(l->skel->maps.go_sites, &i, sizeof(i), s, sizeof(*s), 0))
		return -errno;
	n[i] = *s;
	l->nr_go_sites++;
	*idx = i;
	return 0;
}

void loader__free(struct loader *l)
{
	size_t i;

	if (!l)
		return;
	ring_buffer__free(l->vm_rb);
	ring_buffer__free(l->unwind_rb);
	ring_buffer__free(l->py_rb);
	if (l->rows_mem)
		munmap(l->rows_mem, l->rows_max * sizeof(struct mt_unwind_row));
	/*
	 * Each per-probe uprobe link's detach waits for RCU grace periods under
	 * the kernel's event_mutex (~0.1 s each here, and threads do not overlap
	 * them); a uprobe_multi link waits once for all its probes.
	 */
	for (i = 0; i < l->nr_links; i++)
		bpf_link__destroy(l->links[i]);
	free(l->links);
	for (i = 0; i < l->nr_multi_fds; i++)
		close(l->multi_fds[i]);
	free(l->multi_fds);
	for (i = 0; i < l->nr_sites; i++) {
		free(l->sites[i].path);
		free(l->sites[i].function);
	}
	free(l->sites);
	free(l->go_sampled_pids);
	loader_py_files_free(l);
	free(l->go_sites);
	memtrace_bpf__destroy(l->skel);
	free(l);
}
