/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Go runtime's allocator probes. When memtrace samples, one at the
 * sampling site (go_site.h) of every runtime.mallocgc* function that has
 * one; else at the entry of each function that publishes objects (but the
 * slow paths). Functions are found by name, in .symtab or (stripped)
 * .gopclntab. Each probe's site tells the BPF side which code is the
 * allocator's, so that a stack starts above it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "probe/go_site.h"
#include "probe/loader.h"
#include "probe/loader_internal.h"
#include "symbols/elf_file.h"
#include "util/log.h"
#include "memtrace.skel.h"

#define ALLOC_PREFIX "runtime.mallocgc"
#define MAX_FUNC_CODE (256u << 10)

/* The probes of one program on the file, with their cookies; each function's, for the report. */
struct go_probes {
	uint64_t *offsets, *cookies;
	const char **funcs;
	uint64_t *func_offs;
	size_t nr;
};

static bool is_alloc(const char *name)
{
	return !strncmp(name, ALLOC_PREFIX, strlen(ALLOC_PREFIX));
}

/* A slow path: called only from the size-specialized function whose fast path gave up. */
static bool is_slow_path(const char *name)
{
	size_t n = strlen(name), k = strlen("SlowPath");

	return n > k && !strcmp(name + n - k, "SlowPath");
}

static int push(struct go_probes *p, const char *func, uint64_t func_off, uint64_t site_off,
		uint64_t cookie)
{
	size_t n = p->nr + 1;
	uint64_t *o = realloc(p->offsets, n * sizeof(*o)), *c, *fo;
	const char **f;

	if (o)
		p->offsets = o;
	c = realloc(p->cookies, n * sizeof(*c));
	if (c)
		p->cookies = c;
	f = realloc(p->funcs, n * sizeof(*f));
	if (f)
		p->funcs = f;
	fo = realloc(p->func_offs, n * sizeof(*fo));
	if (fo)
		p->func_offs = fo;
	if (!o || !c || !f || !fo)
		return -ENOMEM;
	p->offsets[p->nr] = func_off + site_off;
	p->cookies[p->nr] = cookie;
	p->funcs[p->nr] = func;
	p->func_offs[p->nr++] = func_off;
	return 0;
}

static void probes_free(struct go_probes *p)
{
	free(p->offsets);
	free(p->cookies);
	free(p->funcs);
	free(p->func_offs);
	memset(p, 0, sizeof(*p));
}

/* The allocator's code as ranges, into the site template. */
static int alloc_ranges(const struct elf_file *ef, struct mt_go_site *tmpl, size_t *nr_alloc)
{
	size_t n = elf_file__nr_syms(ef), i, nr = 0;
	uint64_t lo[MT_GO_MAX_RANGES], hi[MT_GO_MAX_RANGES];
	struct go_func *funcs;
	int err;

	*nr_alloc = 0;
	funcs = calloc(n ? n : 1, sizeof(*funcs));
	if (!funcs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct elf_sym *s = elf_file__sym_at(ef, i);

		funcs[i] = (struct go_func){ s->addr, s->size, is_alloc(s->name) && s->size };
		*nr_alloc += funcs[i].alloc;
	}
	err = go_site__ranges(funcs, n, lo, hi, MT_GO_MAX_RANGES, &nr);
	for (i = 0; !err && i < nr; i++) {
		tmpl->lo[i] = lo[i];
		tmpl->hi[i] = hi[i];
	}
	tmpl->nr_ranges = (uint32_t)nr;
	free(funcs);
	return err;
}

/* runtime.publicationBarrier (an assembly function: ABIInternal, or ABI0 before Go 1.21). */
static const struct elf_sym *barrier_of(const struct elf_file *ef)
{
	const struct elf_sym *s = elf_file__find_func(ef, "runtime.publicationBarrier", false);

	return s ? s : elf_file__find_func(ef, "runtime.publicationBarrier.abi0", false);
}

static int read_code(const struct elf_file *ef, const struct elf_sym *s, uint8_t **code,
		     uint64_t *off)
{
	int err;

	*code = NULL;
	if (!s->size || s->size > MAX_FUNC_CODE)
		return -ENOENT;
	err = elf_file__vaddr_to_offset(ef, s->addr, off);
	if (err)
		return err;
	*code = malloc(s->size);
	if (!*code)
		return -ENOMEM;
	err = elf_file__read(ef, *off, *code, s->size);
	if (err) {
		free(*code);
		*code = NULL;
	}
	return err;
}

/*
 * The sampling sites: one in every allocator function that publishes an
 * object. -ENOENT when one such function's code is not understood: its
 * allocations would be missed, so none is sampled.
 */
static int publish_sites(struct loader *l, const struct elf_file *ef, const char *shown,
			 const struct mt_go_site *tmpl, struct go_probes *p)
{
	const struct elf_sym *barrier = barrier_of(ef), *marknew, *s;
	struct go_site_code c = { .freeindex_off = tmpl->freeindex_off };
	struct go_publish_site site;
	struct mt_go_site gs;
	uint64_t off;
	uint8_t *code;
	uint32_t idx;
	size_t i;
	int err;

	marknew = elf_file__find_func(ef, "runtime.gcmarknewobject", false);
	if (!barrier)
		return -ENOENT;
	c.barrier = barrier->addr;
	c.marknew = marknew ? marknew->addr : 0;
	for (i = 0; i < elf_file__nr_syms(ef); i++) {
		s = elf_file__sym_at(ef, i);
		if (!is_alloc(s->name))
			continue;
		err = read_code(ef, s, &code, &off);
		if (err)
			return err == -ENOMEM ? err : -ENOENT;
		c.code = code;
		c.len = s->size;
		c.addr = s->addr;
		err = go_site__publish(&c, &site);
		free(code);
		if (err == -ENODATA)
			continue;	/* publishes nothing: it calls one that does */
		if (err) {
			mt_debug("%s: %s: no sampling site found in its code\n", shown, s->name);
			return err;
		}
		gs = *tmpl;
		gs.vaddr = s->addr + site.offset;
		gs.span_slot = site.span_slot;
		err = loader_add_go_site(l, &gs, &idx);
		if (!err)
			err = push(p, s->name, off, site.offset, MT_GO_COOKIE(0, idx));
		if (err)
			return err;
		mt_debug("probe %s's sampling site at %s+0x%llx (start+%llu; its span at rsp+%u)\n",
			 s->name, shown, (unsigned long long)(off + site.offset),
			 (unsigned long long)site.offset, site.span_slot);
	}
	return p->nr ? 0 : -ENOENT;
}

/*
 * Entry probes, when allocations are not sampled: on every allocator
 * function that publishes objects (calls publicationBarrier), but the slow
 * paths of Go 1.27's size-specialized functions, which enter them first.
 * Each allocation then enters one probed function: runtime.mallocgc up to
 * Go 1.23; from 1.24 the size-class helper it calls (mallocgc itself only
 * dispatches), or the size-specialized function (1.27).
 */
static int entry_sites(struct loader *l, struct elf_file *ef, const char *shown,
		       const struct mt_go_site *tmpl, struct go_probes *p)
{
	const struct elf_sym *barrier = barrier_of(ef);
	struct mt_go_site gs;
	uint64_t off, site_off;
	bool stack_check;
	uint8_t *code;
	uint32_t idx;
	size_t i;
	int err;

	if (!barrier)
		return -ENOENT;
	for (i = 0; i < elf_file__nr_syms(ef); i++) {
		const struct elf_sym *s = elf_file__sym_at(ef, i);

		if (!is_alloc(s->name) || is_slow_path(s->name))
			continue;
		err = read_code(ef, s, &code, &off);
		if (err)
			return err == -ENOMEM ? err : -ENOENT;
		err = go_site__calls(code, s->size, s->addr, barrier->addr);
		free(code);
		if (err < 0) {
			mt_debug("%s: %s: its code cannot be decoded\n", shown, s->name);
			return err;
		}
		if (!err)
			continue;	/* dispatches only (1.24+'s mallocgc) */
		err = loader_choose_site(l, ef, shown, s, off, s->name, 3, true, &site_off,
					 &stack_check);
		if (err)
			return err;
		gs = *tmpl;
		gs.vaddr = s->addr + site_off;
		err = loader_add_go_site(l, &gs, &idx);
		if (!err)
			err = push(p, s->name, off, site_off,
				   MT_GO_COOKIE(stack_check ? MT_COOKIE_GO_STACK_CHECK : 0, idx));
		if (err)
			return err;
	}
	return p->nr ? 0 : -ENOENT;
}

/* The sampling sites, for the report: each function's. */
static int note_sampling(struct loader *l, const char *shown, const struct go_probes *p)
{
	char name[160];
	size_t i;
	int err;

	for (i = 0; i < p->nr; i++) {
		snprintf(name, sizeof(name), "%s (sampling)", p->funcs[i]);
		err = loader_note_site(l, shown, name, p->func_offs[i],
				       p->offsets[i] - p->func_offs[i]);
		if (err)
			return err;
	}
	return 0;
}

int go_attach(struct loader *l, int pid, const char *path, const char *shown,
	      const struct loader_go_layout *layout, int *nr_probes)
{
	struct go_probes p = { 0 };
	struct mt_go_site tmpl;
	struct elf_file *ef;
	size_t nr_alloc;
	int *sampled_pids;
	int err;

	err = elf_file__open(path, &(struct elf_file_opts){ .no_debug_files = true }, &ef);
	if (err)
		return err;
	memset(&tmpl, 0, sizeof(tmpl));
	err = alloc_ranges(ef, &tmpl, &nr_alloc);
	if (err == -E2BIG)
		mt_info("%s: the runtime's allocator is in more than %d pieces of code: Go "
			"allocations are not traced\n", shown, MT_GO_MAX_RANGES);
	if (!err && !nr_alloc)
		err = -ENOENT;	/* no runtime.mallocgc: nothing to trace */
	if (err)
		goto out;
	if (l->go_sampling && layout) {
		struct mt_go_site st = tmpl;

		st.start_off = layout->start_off;
		st.freeindex_off = layout->freeindex_off;
		st.freeindex_mask = layout->freeindex_mask;
		st.elemsize_off = layout->elemsize_off;
		st.sweepgen_off = layout->sweepgen_off;
		err = publish_sites(l, ef, shown, &st, &p);
		if (!err)
			err = loader_attach_probes(l, pid, path, l->skel->progs.mt_go_publish,
						   p.offsets, p.cookies, p.nr);
		if (!err) {
			sampled_pids = realloc(l->go_sampled_pids,
					       (l->nr_go_sampled + 1) * sizeof(*sampled_pids));
			err = -ENOMEM;
			if (!sampled_pids)
				goto out;
			l->go_sampled_pids = sampled_pids;
			sampled_pids[l->nr_go_sampled++] = pid;
			*nr_probes += (int)p.nr;
			err = note_sampling(l, shown, &p);
			goto out;
		}
		if (err != -ENOENT)
			goto out;
	}
	if (l->go_sampling)
		mt_info("%s: the runtime's sampling sites not found (unknown code or runtime "
			"layout): Go allocations are counted, not sampled\n", shown);
	probes_free(&p);
	err = entry_sites(l, ef, shown, &tmpl, &p);
	if (!err)
		err = loader_attach_probes(l, pid, path, l->skel->progs.mt_go_mallocgc, p.offsets,
					   p.cookies, p.nr);
	if (!err)
		*nr_probes += (int)p.nr;
out:
	probes_free(&p);
	elf_file__free(ef);
	return err;
}
