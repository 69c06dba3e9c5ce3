/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "symbols/elf_file.h"
#include "probe/loader.h"
#include "util/log.h"
#include "memtrace.skel.h"
#include "probe/probe_site.h"
#include "symbols/x86_insn.h"

struct loader {
	struct memtrace_bpf *skel;
	struct mt_unwind_row *rows_mem;	/* the mmapped rows array */
	uint64_t dl_stops_taken;
	size_t rows_max;
	struct ring_buffer *vm_rb;
	struct bpf_link **links;
	size_t nr_links;
	size_t cap_links;
	int *multi_fds;		/* uprobe_multi links, made without libbpf */
	size_t nr_multi_fds;
	size_t cap_multi_fds;
	bool multi;		/* uprobes go in uprobe_multi links */
	struct mt_probe_site *sites;	/* one per function probed, for the report */
	size_t nr_sites;
	int verbose;
	double open_ms, load_ms;
};

enum prog_id {
	P_ALLOC_ENTRY,		/* every allocating entry point; its kind is in the cookie */
	P_FREE, P_GO_MALLOCGC, P_GO_ALLOC_SPAN, P_GO_FREE_SPAN,
	P_MAX
};

struct probe_spec {
	const char *func;
	enum prog_id prog;
	enum mt_alloc_kind kind;	/* for P_ALLOC_ENTRY: the attach cookie */
	bool ret;		/* needs the return probe */
	uint8_t nr_args;	/* the probe reads them: they must be intact at its site */
};

/* SysV argument registers, in order; Go's register ABI (ABIInternal) integer ones. */
static const uint8_t sysv_args[] = { X86_RDI, X86_RSI, X86_RDX, X86_RCX, X86_R8, X86_R9 };
#define GO_ARG_REGS (1u << X86_RAX | 1u << X86_RBX | 1u << X86_RCX | 1u << X86_RDI | \
		     1u << X86_RSI | 1u << X86_R8 | 1u << X86_R9 | 1u << X86_R10 | \
		     1u << X86_R11 | 1u << X86_R14)
/* The most of a function decoded to check that no branch leads into its prologue. */
#define MAX_FUNC_CODE (256u << 10)

/*
 * The Go runtime's allocation entry point and its heap-span bookkeeping.
 * Entry probes only: never a return probe on a Go function.
 */
static const struct probe_spec go_specs[] = {
	{ "runtime.mallocgc", P_GO_MALLOCGC, 0, false, 3 },
	{ "runtime.(*mheap).allocSpan", P_GO_ALLOC_SPAN, 0, false, 4 },
	{ "runtime.(*mheap).freeSpan", P_GO_FREE_SPAN, 0, false, 2 },
};

/* The allocator's entry points. aligned_alloc is memalign's alias in glibc: attached once. */
static const struct probe_spec alloc_specs[] = {
	{ "malloc", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 1 },
	{ "calloc", P_ALLOC_ENTRY, MT_KIND_CALLOC, true, 2 },
	{ "realloc", P_ALLOC_ENTRY, MT_KIND_REALLOC, true, 2 },
	{ "reallocarray", P_ALLOC_ENTRY, MT_KIND_REALLOCARRAY, true, 3 },
	{ "posix_memalign", P_ALLOC_ENTRY, MT_KIND_POSIX_MEMALIGN, true, 3 },
	{ "aligned_alloc", P_ALLOC_ENTRY, MT_KIND_MEMALIGN, true, 2 },
	{ "memalign", P_ALLOC_ENTRY, MT_KIND_MEMALIGN, true, 2 },
	{ "valloc", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 1 },
	{ "pvalloc", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 1 },
	{ "free", P_FREE, 0, false, 1 },
};

/*
 * C++'s operator new, so that the frame above it is the caller of new
 * rather than whatever the frame-pointer chain skips to from inside
 * libstdc++ (built without frame pointers). Its malloc call is nested and
 * left to it. operator delete is not needed: it calls free.
 */
static const struct probe_spec cxx_specs[] = {
	{ "_Znwm", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 1 },
	{ "_Znam", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 1 },
	{ "_ZnwmRKSt9nothrow_t", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 2 },
	{ "_ZnamRKSt9nothrow_t", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 2 },
	{ "_ZnwmSt11align_val_t", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 2 },
	{ "_ZnamSt11align_val_t", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 2 },
};

/*
 * BPF_LINK_CREATE for a uprobe_multi link: the kernel's union bpf_attr,
 * link_create member, cut to what it uses. libbpf 1.1.2 and the system's
 * headers predate it.
 */
#define MT_TRACE_UPROBE_MULTI 48		/* enum bpf_attach_type */
#define MT_F_UPROBE_MULTI_RETURN 1u

struct uprobe_multi_attr {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__u64 path;
	__u64 offsets;
	__u64 ref_ctr_offsets;
	__u64 cookies;
	__u32 cnt;
	__u32 multi_flags;
	__u32 pid;		/* 0: every process */
};
_Static_assert(__builtin_offsetof(struct uprobe_multi_attr, path) == 16, "link_create union");
_Static_assert(__builtin_offsetof(struct uprobe_multi_attr, pid) == 56, "uprobe_multi.pid");

/* The most probes put on one file for one program: the longest spec list. */
#define MAX_BATCH 16
_Static_assert(sizeof(alloc_specs) / sizeof(alloc_specs[0]) <= MAX_BATCH, "alloc_specs");
_Static_assert(sizeof(cxx_specs) / sizeof(cxx_specs[0]) <= MAX_BATCH, "cxx_specs");
_Static_assert(sizeof(go_specs) / sizeof(go_specs[0]) <= MAX_BATCH, "go_specs");

static int verbosity;

static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && verbosity < 2)
		return 0;
	if (verbosity < 1)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static struct bpf_program *prog_of(struct loader *l, enum prog_id id)
{
	switch (id) {
	case P_ALLOC_ENTRY: return l->skel->progs.mt_alloc_entry;
	case P_FREE: return l->skel->progs.mt_free;
	case P_GO_MALLOCGC: return l->skel->progs.mt_go_mallocgc;
	case P_GO_ALLOC_SPAN: return l->skel->progs.mt_go_alloc_span;
	case P_GO_FREE_SPAN: return l->skel->progs.mt_go_free_span;
	case P_MAX: break;
	}
	return NULL;
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

static int link_create_multi(int prog_fd, const char *path, const uint64_t *offsets,
			     const uint64_t *cookies, size_t cnt, bool retprobe, int pid)
{
	struct uprobe_multi_attr attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = (__u32)prog_fd;
	attr.attach_type = MT_TRACE_UPROBE_MULTI;
	attr.path = (__u64)(uintptr_t)path;
	attr.offsets = (__u64)(uintptr_t)offsets;
	attr.cookies = (__u64)(uintptr_t)cookies;
	attr.cnt = (__u32)cnt;
	attr.multi_flags = retprobe ? MT_F_UPROBE_MULTI_RETURN : 0;
	attr.pid = (__u32)pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : (int)fd;
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
	fd = link_create_multi(prog_fd, "/", &offset, NULL, 1, false, 0);
	if (fd >= 0)
		close(fd);
	err = fd == -EBADF ? 0 : fd >= 0 ? -EINVAL : fd;
	if (!err) {
		fd = link_create_multi(prog_fd, "/", &offset, NULL, 1, false, -1);
		if (fd >= 0)
			close(fd);
		err = fd == -EINVAL ? 0 : -ESRCH;
	}
	close(prog_fd);
	return err;
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
	mt_debug("uprobes: one uprobe_multi link per file and program\n");
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
	l->rows_max = MT_DEFAULT_CFI_ROWS;
	bpf_map__set_max_entries(l->skel->maps.cfi_rows, (__u32)l->rows_max);
	bpf_map__set_max_entries(l->skel->maps.stats, opts->max_stacks);
	bpf_map__set_max_entries(l->skel->maps.stacks, opts->max_stacks);
	bpf_map__set_max_entries(l->skel->maps.vm_events, opts->vm_buffer);
	/* Each program costs its verification: a target without Go needs none of Go's. */
	if (!opts->go) {
		bpf_program__set_autoload(l->skel->progs.mt_go_mallocgc, false);
		bpf_program__set_autoload(l->skel->progs.mt_go_alloc_span, false);
		bpf_program__set_autoload(l->skel->progs.mt_go_free_span, false);
	}
	choose_link_type(l);

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

static int push_link(struct loader *l, struct bpf_link *link)
{
	if (l->nr_links == l->cap_links) {
		size_t cap = l->cap_links ? l->cap_links * 2 : 32;
		struct bpf_link **n = realloc(l->links, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->links = n;
		l->cap_links = cap;
	}
	l->links[l->nr_links++] = link;
	return 0;
}

static int push_multi_fd(struct loader *l, int fd)
{
	if (l->nr_multi_fds == l->cap_multi_fds) {
		size_t cap = l->cap_multi_fds ? l->cap_multi_fds * 2 : 16;
		int *n = realloc(l->multi_fds, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->multi_fds = n;
		l->cap_multi_fds = cap;
	}
	l->multi_fds[l->nr_multi_fds++] = fd;
	return 0;
}

/* One uprobe_multi link for cnt probes of prog on the file at path (pid -1: every process). */
static int attach_multi(struct loader *l, int pid, const char *path, struct bpf_program *prog,
			const uint64_t *offsets, const uint64_t *cookies, size_t cnt,
			bool retprobe)
{
	int fd, err;

	fd = link_create_multi(bpf_program__fd(prog), path, offsets, cookies, cnt, retprobe,
			       pid < 0 ? 0 : pid);
	if (fd < 0)
		return fd;
	err = push_multi_fd(l, fd);
	if (err)
		close(fd);
	return err;
}

static int attach_one(struct loader *l, int pid, const char *path, struct bpf_program *prog,
		      uint64_t offset, bool retprobe, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .bpf_cookie = cookie);
	struct bpf_link *link;
	int err;

	if (l->multi)
		return attach_multi(l, pid, path, prog, &offset, &cookie, 1, retprobe);
	link = bpf_program__attach_uprobe_opts(prog, pid, path, offset, &opts);
	if (!link)
		return -errno;
	err = push_link(l, link);
	if (err)
		bpf_link__destroy(link);
	return err;
}

/* The probes of one program on one file, attached together. */
struct probe_batch {
	uint64_t offsets[MAX_BATCH];
	uint64_t cookies[MAX_BATCH];
	size_t nr;
};

static int attach_batch(struct loader *l, int pid, const char *path, struct bpf_program *prog,
			const struct probe_batch *b, bool retprobe)
{
	size_t i;
	int err;

	if (!b->nr)
		return 0;
	if (l->multi)
		return attach_multi(l, pid, path, prog, b->offsets, b->cookies, b->nr, retprobe);
	for (i = 0; i < b->nr; i++) {
		err = attach_one(l, pid, path, prog, b->offsets[i], retprobe, b->cookies[i]);
		if (err)
			return err;
	}
	return 0;
}

struct chosen_site {
	uint64_t offset;
	bool go_stack_check;	/* on the branch of a Go function's stack-bound check */
};

/* Keep what was chosen for a function, once per (path, function), for the report. */
static int note_site(struct loader *l, const char *path, const char *func, uint64_t off,
		     const struct probe_site *ps)
{
	struct mt_probe_site *s, *n;
	size_t i;

	for (i = 0; i < l->nr_sites; i++)
		if (!strcmp(l->sites[i].function, func) && !strcmp(l->sites[i].path, path))
			return 0;
	n = realloc(l->sites, (l->nr_sites + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	l->sites = n;
	s = &l->sites[l->nr_sites];
	memset(s, 0, sizeof(*s));
	s->path = strdup(path);
	s->function = strdup(func);
	if (!s->path || !s->function) {
		free(s->path);
		free(s->function);
		return -ENOMEM;
	}
	s->file_offset = off + ps->offset;
	s->site_offset = ps->offset;
	s->single_stepped = !ps->emulated;
	s->why = ps->why;
	l->nr_sites++;
	return 0;
}

/*
 * Decode the function's code and choose its probe site (probe_site.h);
 * the function's start when its code cannot be read.
 */
static int choose_site(struct loader *l, struct elf_file *ef, const char *shown,
		       const struct elf_sym *sym, uint64_t off, const struct probe_spec *spec,
		       bool go, struct chosen_site *out)
{
	struct probe_site ps = { .why = "the code cannot be read" };
	size_t len = sym->size ? (size_t)sym->size : 64;
	uint32_t keep = 0;
	uint8_t *code;
	size_t i;

	if (len > MAX_FUNC_CODE)
		len = MAX_FUNC_CODE;
	if (go)
		keep = GO_ARG_REGS;
	for (i = 0; !go && i < spec->nr_args && i < sizeof(sysv_args); i++)
		keep |= 1u << sysv_args[i];
	code = malloc(len);
	if (!code)
		return -ENOMEM;
	if (!elf_file__read(ef, off, code, len))
		probe_site__choose(code, len, sym->addr, keep, &ps);
	out->offset = ps.offset;
	/* jbe, the stack-bound check's branch to morestack */
	out->go_stack_check = go && ps.offset && ps.offset + 1 < len &&
			      (code[ps.offset] == 0x76 ||
			       (code[ps.offset] == 0x0f && code[ps.offset + 1] == 0x86));
	free(code);
	if (ps.emulated)
		mt_debug("probe %s at %s+0x%llx (start+%llu, emulated)\n", spec->func, shown,
			 (unsigned long long)(off + ps.offset), (unsigned long long)ps.offset);
	else
		mt_debug("probe %s at %s+0x%llx: single-stepped on every call (%s)\n",
			 spec->func, shown, (unsigned long long)off, ps.why);
	return note_site(l, shown, spec->func, off, &ps);
}

/*
 * Attach the probes of specs found in the ELF file at path (named shown in
 * messages): each program's probes on the file together, in one link when
 * uprobe_multi links are made.
 */
static int attach_specs(struct loader *l, int pid, const char *path, const char *shown,
			const struct probe_spec *specs,
			size_t nr_specs, bool dynamic_only, bool go, int *nr_probes)
{
	struct probe_batch *entry, *ret;
	uint64_t done[32];
	size_t nr_done = 0, i, j;
	struct elf_file *ef;
	int err;

	entry = calloc(P_MAX + 1, sizeof(*entry));
	if (!entry)
		return -ENOMEM;
	ret = &entry[P_MAX];
	err = elf_file__open(path, &(struct elf_file_opts){ .no_debug_files = true }, &ef);
	if (err)
		goto out_free;
	for (i = 0; i < nr_specs; i++) {
		const struct elf_sym *sym = elf_file__find_func(ef, specs[i].func, dynamic_only);
		struct probe_batch *b = &entry[specs[i].prog];
		struct chosen_site site;
		uint64_t off;
		bool dup = false;

		if (!sym)
			continue;
		err = elf_file__vaddr_to_offset(ef, sym->addr, &off);
		if (err)
			goto out;
		for (j = 0; j < nr_done; j++)
			dup |= done[j] == off;
		if (dup)
			continue;
		if (nr_done < sizeof(done) / sizeof(done[0]))
			done[nr_done++] = off;
		err = choose_site(l, ef, shown, sym, off, &specs[i], go, &site);
		if (err)
			goto out;
		/*
		 * The cookie: for the allocating entry points, which one it is; in Go,
		 * that the probe sits on the stack-bound check's branch (BPF skips restarts).
		 */
		b->offsets[b->nr] = off + site.offset;
		b->cookies[b->nr++] = go ? (site.go_stack_check ? MT_COOKIE_GO_STACK_CHECK : 0) :
				      specs[i].kind;
		if (specs[i].ret) {
			/* At the same site: the return address is still at the stack pointer. */
			ret->offsets[ret->nr] = off + site.offset;
			ret->cookies[ret->nr++] = 0;
		}
	}
	/*
	 * Return probes first: a return probe without its entry probe does
	 * nothing, while an entry probe without its return probe leaves the call
	 * pending (a missed return; realloc's old block forgotten).
	 */
	err = attach_batch(l, pid, path, l->skel->progs.mt_alloc_ret, ret, true);
	if (err)
		goto out;
	*nr_probes += (int)ret->nr;
	for (i = 0; i < P_MAX; i++) {
		err = attach_batch(l, pid, path, prog_of(l, (enum prog_id)i), &entry[i], false);
		if (err)
			goto out;
		*nr_probes += (int)entry[i].nr;
	}
out:
	elf_file__free(ef);
out_free:
	free(entry);
	return err;
}

int loader__attach(struct loader *l, int pid, const char *path, const char *open_path, bool go,
		   int *nr_probes)
{
	int err;

	*nr_probes = 0;
	if (go) {
		err = attach_specs(l, pid, open_path, path, go_specs,
				   sizeof(go_specs) / sizeof(go_specs[0]), false, true, nr_probes);
		if (!err && *nr_probes < 3)
			err = -ENOENT;
		return err;
	}
	/* A static executable's malloc is in .symtab only; libraries export theirs. */
	err = attach_specs(l, pid, open_path, path, alloc_specs,
			   sizeof(alloc_specs) / sizeof(alloc_specs[0]), false, false, nr_probes);
	if (err)
		return err;
	if (!*nr_probes)
		return -ENOENT;
	return 0;
}

int loader__attach_cxx(struct loader *l, int pid, const char *path, int *nr_probes)
{
	return attach_specs(l, pid, path, path, cxx_specs, sizeof(cxx_specs) / sizeof(cxx_specs[0]), true,
			    false, nr_probes);
}

int loader__attach_vm(struct loader *l, loader_vm_event_fn fn, void *ctx)
{
	struct bpf_program *progs[] = { l->skel->progs.mt_sys_enter, l->skel->progs.mt_sys_exit };
	struct bpf_link *link;
	size_t i;
	int err;

	for (i = 0; i < 2; i++) {
		link = bpf_program__attach(progs[i]);
		if (!link)
			return -errno;
		err = push_link(l, link);
		if (err) {
			bpf_link__destroy(link);
			return err;
		}
	}
	l->vm_rb = ring_buffer__new(bpf_map__fd(l->skel->maps.vm_events),
				    (ring_buffer_sample_fn)fn, ctx, NULL);
	if (!l->vm_rb)
		return -errno;
	return 0;
}

int loader__consume_vm(struct loader *l)
{
	int n;

	if (!l->vm_rb)
		return 0;
	n = ring_buffer__consume(l->vm_rb);
	return n < 0 ? n : 0;
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
	uint32_t pid;
	size_t key_size;
	void *keys;
	size_t nr, cap;
};

static void collect_pid_keys(void *ctx, const void *key, const void *value)
{
	struct forget_ctx *fc = ctx;
	uint32_t pid;

	(void)value;
	/* Both key layouts keep the pid at offset 8. */
	memcpy(&pid, (const char *)key + 8, sizeof(pid));
	if (pid != fc->pid)
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

static void forget_in(int fd, size_t key_size, size_t value_size, uint32_t pid)
{
	struct forget_ctx fc = { .fd = fd, .pid = pid, .key_size = key_size };
	size_t i;

	for_each_entry(fd, key_size, value_size, collect_pid_keys, &fc);
	for (i = 0; i < fc.nr; i++)
		bpf_map_delete_elem(fd, (char *)fc.keys + i * key_size);
	free(fc.keys);
}

void loader__forget_pid(struct loader *l, uint32_t pid)
{
	_Static_assert(__builtin_offsetof(struct mt_alloc_key, pid) == 8, "pid at 8");
	_Static_assert(__builtin_offsetof(struct mt_stat_key, pid) == 8, "pid at 8");
	forget_in(bpf_map__fd(l->skel->maps.stats), sizeof(struct mt_stat_key),
		  sizeof(struct mt_stat), pid);
	forget_in(bpf_map__fd(l->skel->maps.allocs), sizeof(struct mt_alloc_key),
		  sizeof(struct mt_alloc_info), pid);
	bpf_map__delete_elem(l->skel->maps.go_stats, &pid, sizeof(pid), 0);
	bpf_map__delete_elem(l->skel->maps.traced_pids, &pid, sizeof(pid), 0);
	bpf_map__delete_elem(l->skel->maps.proc_modules, &pid, sizeof(pid), 0);
}

int loader__attach_dl_state(struct loader *l, int pid, const char *ld_so)
{
	struct elf_file *ef;
	const struct elf_sym *sym;
	uint64_t off;
	int err;

	err = elf_file__open(ld_so, &(struct elf_file_opts){ .no_debug_files = true }, &ef);
	if (err)
		return err;
	/* Called by the dynamic linker once the initial libraries (or a dlopen's) are mapped. */
	sym = elf_file__find_func(ef, "_dl_debug_state", true);
	err = sym ? elf_file__vaddr_to_offset(ef, sym->addr, &off) : -ENOENT;
	elf_file__free(ef);
	if (err)
		return err;
	return attach_one(l, pid, ld_so, l->skel->progs.mt_dl_state, off, false, 0);
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

int loader__read_stack(struct loader *l, uint64_t stack_id, struct mt_stack *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.stacks), &stack_id, out))
		return -errno;
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

void loader__probe_sites(const struct loader *l, const struct mt_probe_site **sites, size_t *nr)
{
	*sites = l->sites;
	*nr = l->nr_sites;
}

void loader__free(struct loader *l)
{
	size_t i;

	if (!l)
		return;
	ring_buffer__free(l->vm_rb);
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
	memtrace_bpf__destroy(l->skel);
	free(l);
}
