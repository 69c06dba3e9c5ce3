/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The probes: which functions, at which site in each, attached in
 * uprobe_multi links or one link per probe; the memory-map syscall
 * tracepoints and their ring buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "symbols/elf_file.h"
#include "probe/loader.h"
#include "probe/loader_internal.h"
#include "util/log.h"
#include "memtrace.skel.h"
#include "probe/probe_site.h"
#include "symbols/x86_insn.h"

enum prog_id {
	P_ALLOC_ENTRY,		/* every allocating entry point; its kind is in the cookie */
	P_ALLOC_SESSION,	/* the same, entry and return in a session */
	P_FREE, P_FREE_MOVED, P_GO_ALLOC_SPAN, P_GO_FREE_SPAN,
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
 * The Go runtime's heap-span bookkeeping (its allocator's probes are
 * go_attach.c's). Entry probes only: never a return probe on a Go function.
 */
static const struct probe_spec go_specs[] = {
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

/* jemalloc's own API, beside the names above (tikv-jemallocator's GlobalAlloc calls them). */
static const struct probe_spec jemalloc_specs[] = {
	{ "mallocx", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 1 },
	{ "rallocx", P_ALLOC_ENTRY, MT_KIND_REALLOC, true, 2 },
	{ "sdallocx", P_FREE, 0, false, 1 },
	{ "dallocx", P_FREE, 0, false, 1 },
};

/*
 * mimalloc's own API, for an executable that links it without its
 * malloc overrides (the mimalloc crate's GlobalAlloc calls the aligned
 * ones). Calls nested inside another (mi_realloc_aligned freeing the old
 * block with mi_free) are left to the outermost.
 */
static const struct probe_spec mimalloc_specs[] = {
	{ "malloc", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 1 },
	{ "zalloc", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 1 },
	{ "calloc", P_ALLOC_ENTRY, MT_KIND_CALLOC, true, 2 },
	{ "mallocn", P_ALLOC_ENTRY, MT_KIND_CALLOC, true, 2 },
	{ "realloc", P_ALLOC_ENTRY, MT_KIND_REALLOC, true, 2 },
	{ "rezalloc", P_ALLOC_ENTRY, MT_KIND_REALLOC, true, 2 },
	{ "reallocn", P_ALLOC_ENTRY, MT_KIND_REALLOCARRAY, true, 3 },
	{ "malloc_aligned", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 1 },
	{ "zalloc_aligned", P_ALLOC_ENTRY, MT_KIND_MALLOC, true, 1 },
	{ "calloc_aligned", P_ALLOC_ENTRY, MT_KIND_CALLOC, true, 2 },
	{ "realloc_aligned", P_ALLOC_ENTRY, MT_KIND_REALLOC, true, 2 },
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
_Static_assert(sizeof(alloc_specs) / sizeof(alloc_specs[0]) +
	       sizeof(jemalloc_specs) / sizeof(jemalloc_specs[0]) <= MAX_BATCH, "jemalloc_specs");
_Static_assert(sizeof(mimalloc_specs) / sizeof(mimalloc_specs[0]) <= MAX_BATCH, "mimalloc_specs");
_Static_assert(sizeof(go_specs) / sizeof(go_specs[0]) <= MAX_BATCH, "go_specs");

static struct bpf_program *prog_of(struct loader *l, enum prog_id id)
{
	switch (id) {
	case P_ALLOC_ENTRY: return l->skel->progs.mt_alloc_entry;
	case P_ALLOC_SESSION: return l->skel->progs.mt_alloc_session;
	case P_FREE: return l->skel->progs.mt_free;
	case P_FREE_MOVED: return l->skel->progs.mt_free_moved;
	case P_GO_ALLOC_SPAN: return l->skel->progs.mt_go_alloc_span;
	case P_GO_FREE_SPAN: return l->skel->progs.mt_go_free_span;
	case P_MAX: break;
	}
	return NULL;
}

int loader_link_create_multi(int prog_fd, int attach_type, const char *path,
			     const uint64_t *offsets, const uint64_t *cookies, size_t cnt,
			     bool retprobe, int pid)
{
	struct uprobe_multi_attr attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = (__u32)prog_fd;
	attr.attach_type = (__u32)attach_type;
	attr.path = (__u64)(uintptr_t)path;
	attr.offsets = (__u64)(uintptr_t)offsets;
	attr.cookies = (__u64)(uintptr_t)cookies;
	attr.cnt = (__u32)cnt;
	attr.multi_flags = retprobe ? MT_F_UPROBE_MULTI_RETURN : 0;
	attr.pid = (__u32)pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : (int)fd;
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

	fd = loader_link_create_multi(bpf_program__fd(prog),
				      (int)bpf_program__expected_attach_type(prog), path, offsets,
				      cookies, cnt, retprobe, pid < 0 ? 0 : pid);
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

static int attach_n(struct loader *l, int pid, const char *path, struct bpf_program *prog,
		    const uint64_t *offsets, const uint64_t *cookies, size_t n, bool retprobe)
{
	size_t i;
	int err;

	if (!n)
		return 0;
	if (l->multi)
		return attach_multi(l, pid, path, prog, offsets, cookies, n, retprobe);
	for (i = 0; i < n; i++) {
		err = attach_one(l, pid, path, prog, offsets[i], retprobe, cookies[i]);
		if (err)
			return err;
	}
	return 0;
}

static int attach_batch(struct loader *l, int pid, const char *path, struct bpf_program *prog,
			const struct probe_batch *b, bool retprobe)
{
	return attach_n(l, pid, path, prog, b->offsets, b->cookies, b->nr, retprobe);
}

int loader_attach_probes(struct loader *l, int pid, const char *path, struct bpf_program *prog,
			 const uint64_t *offsets, const uint64_t *cookies, size_t n)
{
	return attach_n(l, pid, path, prog, offsets, cookies, n, false);
}

int loader_attach_offsets(struct loader *l, int pid, const char *path, struct bpf_program *prog,
			  const uint64_t *offsets, const uint64_t *cookies, size_t nr, bool retprobe)
{
	return attach_n(l, pid, path, prog, offsets, cookies, nr, retprobe);
}

struct chosen_site {
	uint64_t offset;
	bool go_stack_check;	/* on the branch of a Go function's stack-bound check */
	bool args_moved;	/* the arguments are in arg_reg, not where the ABI puts them */
	uint8_t arg_reg[PROBE_SITE_MAX_ARGS];
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
		       const struct elf_sym *sym, uint64_t off, size_t nr_args,
		       const char *func, bool go, struct chosen_site *out)
{
	struct probe_site ps = { .why = "the code cannot be read" };
	size_t len = sym->size ? (size_t)sym->size : 64;
	uint8_t *code;

	if (len > MAX_FUNC_CODE)
		len = MAX_FUNC_CODE;
	if (go)
		nr_args = 0;
	if (nr_args > PROBE_SITE_MAX_ARGS)
		nr_args = PROBE_SITE_MAX_ARGS;
	code = malloc(len);
	if (!code)
		return -ENOMEM;
	/* Go's register ABI: its argument registers stay as they are (no moves followed). */
	if (!elf_file__read(ef, off, code, len))
		probe_site__choose(code, len, sym->addr, go ? GO_ARG_REGS : 0, sysv_args, nr_args,
				   &ps);
	out->offset = ps.offset;
	out->args_moved = ps.emulated && ps.args_moved;
	memcpy(out->arg_reg, ps.arg_reg, sizeof(out->arg_reg));
	/* jbe, the stack-bound check's branch to morestack */
	out->go_stack_check = go && ps.offset && ps.offset + 1 < len &&
			      (code[ps.offset] == 0x76 ||
			       (code[ps.offset] == 0x0f && code[ps.offset + 1] == 0x86));
	free(code);
	if (ps.emulated)
		mt_debug("probe %s at %s+0x%llx (start+%llu, emulated%s)\n", func, shown,
			 (unsigned long long)(off + ps.offset), (unsigned long long)ps.offset,
			 out->args_moved ? ", arguments read where the code moved them" : "");
	else
		mt_debug("probe %s at %s+0x%llx: single-stepped on every call (%s)\n",
			 func, shown, (unsigned long long)off, ps.why);
	return note_site(l, shown, func, off, &ps);
}

/* The cookie of an allocator probe at site (MT_COOKIE_*). */
static uint64_t alloc_cookie(const struct probe_spec *spec, const struct chosen_site *site)
{
	uint64_t c = spec->prog == P_ALLOC_ENTRY ? spec->kind : 0;
	size_t i;

	if (!site->args_moved)
		return c;
	c |= MT_COOKIE_ARGS_MOVED;
	for (i = 0; i < PROBE_SITE_MAX_ARGS; i++)
		c |= MT_COOKIE_ARG(i, site->arg_reg[i]);
	return c;
}

int loader_choose_site(struct loader *l, struct elf_file *ef, const char *shown,
		       const struct elf_sym *sym, uint64_t off, const char *func, unsigned nr_args,
		       bool go, uint64_t *site_off, bool *go_stack_check)
{
	struct chosen_site site;
	int err = choose_site(l, ef, shown, sym, off, nr_args, func, go, &site);

	if (!err) {
		*site_off = site.offset;
		*go_stack_check = site.go_stack_check;
	}
	return err;
}

int loader_note_site(struct loader *l, const char *path, const char *func, uint64_t off,
		     uint64_t site_off)
{
	struct probe_site ps = { .offset = site_off, .emulated = true };

	return note_site(l, path, func, off, &ps);
}

int loader_note_probe_site(struct loader *l, const char *path, const char *func, uint64_t off,
			   const struct probe_site *ps)
{
	return note_site(l, path, func, off, ps);
}

/*
 * Attach the probes of specs found in the ELF file at path (named shown in
 * messages), each function named prefix + its name: each program's probes
 * on the file together, in one link when uprobe_multi links are made.
 */
static int attach_specs(struct loader *l, int pid, const char *path, const char *shown,
			const char *prefix, const struct probe_spec *specs,
			size_t nr_specs, bool dynamic_only, bool go, int *nr_probes)
{
	struct probe_batch *entry, *ret;
	uint64_t done[32];
	size_t nr_done = 0, i, j;
	struct elf_file *ef;
	char func[128];
	int err;

	entry = calloc(P_MAX + 1, sizeof(*entry));
	if (!entry)
		return -ENOMEM;
	ret = &entry[P_MAX];
	err = elf_file__open(path, &(struct elf_file_opts){ .no_debug_files = true }, &ef);
	if (err)
		goto out_free;
	for (i = 0; i < nr_specs; i++) {
		const struct elf_sym *sym;
		struct probe_batch *b;
		struct chosen_site site;
		uint64_t off;
		bool dup = false;

		snprintf(func, sizeof(func), "%s%s", prefix ? prefix : "", specs[i].func);
		sym = elf_file__find_func(ef, func, dynamic_only);
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
		err = choose_site(l, ef, shown, sym, off, specs[i].nr_args, func, go, &site);
		if (err)
			goto out;
		/* A free whose pointer moved to another register: the program that reads it there. */
		b = &entry[specs[i].prog == P_FREE && site.args_moved ? P_FREE_MOVED : specs[i].prog];
		/* Entry and return in one session, where the kernel makes them (not in Go). */
		if (!go && l->session && specs[i].prog == P_ALLOC_ENTRY && specs[i].ret)
			b = &entry[P_ALLOC_SESSION];
		/*
		 * The cookie: for the allocating entry points, which one it is; in Go,
		 * that the probe sits on the stack-bound check's branch (BPF skips restarts).
		 */
		b->offsets[b->nr] = off + site.offset;
		b->cookies[b->nr++] = go ? (site.go_stack_check ? MT_COOKIE_GO_STACK_CHECK : 0) :
				      alloc_cookie(&specs[i], &site);
		if (specs[i].ret && b != &entry[P_ALLOC_SESSION]) {
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
		   const struct loader_go_layout *go_layout, int *nr_probes)
{
	int err;

	*nr_probes = 0;
	if (go) {
		int spans = 0;

		/* runtime.mallocgc's family is the allocations; without it there is nothing to trace. */
		err = go_attach(l, pid, open_path, path, go_layout, nr_probes);
		if (err)
			return err;
		/*
		 * The span functions only back the retained figure when the runtime's
		 * own words cannot be read; newer runtimes inline freeSpan (Go 1.23).
		 */
		err = attach_specs(l, pid, open_path, path, NULL, go_specs,
				   sizeof(go_specs) / sizeof(go_specs[0]), false, true, &spans);
		*nr_probes += spans;
		if (!err && spans < 2) {
			l->go_spans_incomplete = true;
			mt_debug("%s: runtime.(*mheap).allocSpan or freeSpan not found (inlined?): "
				 "no span-based retained figure\n", path);
		}
		return err;
	}
	return loader__attach_allocator(l, pid, path, open_path, ALLOC_API_LIBC, NULL, nr_probes);
}

int loader__attach_allocator(struct loader *l, int pid, const char *path, const char *open_path,
			     enum alloc_api api, const char *prefix, int *nr_probes)
{
	int err;

	*nr_probes = 0;
	/* A static executable's malloc is in .symtab only; libraries export theirs. */
	if (api == ALLOC_API_MIMALLOC)
		err = attach_specs(l, pid, open_path, path, prefix, mimalloc_specs,
				   sizeof(mimalloc_specs) / sizeof(mimalloc_specs[0]), false, false,
				   nr_probes);
	else
		err = attach_specs(l, pid, open_path, path, prefix, alloc_specs,
				   sizeof(alloc_specs) / sizeof(alloc_specs[0]), false, false,
				   nr_probes);
	if (!err && api == ALLOC_API_JEMALLOC)
		err = attach_specs(l, pid, open_path, path, prefix, jemalloc_specs,
				   sizeof(jemalloc_specs) / sizeof(jemalloc_specs[0]), false, false,
				   nr_probes);
	if (err)
		return err;
	if (!*nr_probes)
		return -ENOENT;
	return 0;
}

int loader__attach_cxx(struct loader *l, int pid, const char *path, const char *open_path,
		       int *nr_probes)
{
	return attach_specs(l, pid, open_path, path, NULL, cxx_specs,
			    sizeof(cxx_specs) / sizeof(cxx_specs[0]), true,
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

int loader__attach_unwind_events(struct loader *l, loader_unwind_event_fn fn, void *ctx)
{
	struct bpf_link *link;
	int err;

	link = bpf_program__attach(l->skel->progs.mt_exec);
	if (!link)
		return -errno;
	err = push_link(l, link);
	if (err) {
		bpf_link__destroy(link);
		return err;
	}
	l->unwind_rb = ring_buffer__new(bpf_map__fd(l->skel->maps.unwind_events),
					(ring_buffer_sample_fn)fn, ctx, NULL);
	if (!l->unwind_rb)
		return -errno;
	return 0;
}

int loader__poll_unwind(struct loader *l, int timeout_ms)
{
	int n;

	if (!l->unwind_rb)
		return -EINVAL;
	n = ring_buffer__poll(l->unwind_rb, timeout_ms);
	return n < 0 && n != -EINTR ? n : 0;
}

int loader__consume_vm(struct loader *l)
{
	int n;

	if (!l->vm_rb)
		return 0;
	n = ring_buffer__consume(l->vm_rb);
	return n < 0 ? n : 0;
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

void loader__probe_sites(const struct loader *l, const struct mt_probe_site **sites, size_t *nr)
{
	*sites = l->sites;
	*nr = l->nr_sites;
}
