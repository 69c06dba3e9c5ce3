/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dwarf.h>
#include <gelf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>

#include "symbols/debug_file.h"
#include "symbols/demangle.h"
#include "symbols/dwarf_lines.h"
#include "symbols/elf_handle.h"
#include "util/hash.h"

/* Debug sections are read into memory: a file claiming more is left alone. */
#define MAX_DWARF_BYTES		(1ULL << 30)
/*
 * Results kept per file, by address: every address a stack names is looked
 * up again at each refresh, and a file's inline-tree walk is the costliest
 * part of naming a frame. An open-addressing table that grows up to
 * CACHE_MAX entries (then starts afresh): system-wide, thousands of call
 * sites in one library thrashed a fixed 256.
 */
#define CACHE_MIN		256
#define CACHE_MAX		(1u << 20)
/* Bounds on the table of unit ranges built when .debug_aranges falls short. */
#define MAX_CU_RANGES		(1u << 20)
#define MAX_RANGES_PER_CU	4096
#define MAX_BUILD_ID		64

struct cache_ent {
	uint64_t vaddr;
	bool used;
	int err;
	size_t nr;
	struct dwarf_frame *frames;
};

struct cu_range {
	uint64_t start;
	uint64_t end;
	Dwarf_Off off;		/* of the unit's DIE */
};

/*
 * Strings derived from DWARF strings (demangled names, absolute paths),
 * keyed by the addresses of their sources, which live as long as the Dwarf.
 */
struct str_ent {
	const void *key;
	const void *key2;
	char *val;		/* NULL: nothing derived, the source is used as is */
};

struct str_map {
	struct str_ent *e;	/* open addressing, power-of-two size */
	size_t cap;
	size_t nr;
};

struct dwarf_lines {
	Elf *elf;
	Dwarf *dw;
	char *dwarf_path;
	struct cu_range *cus;
	size_t nr_cus;
	bool cus_built;
	struct str_map names;	/* linkage name -> demangled */
	struct str_map paths;	/* relative source path, comp_dir -> absolute */
	struct cache_ent *cache;
	size_t cache_cap, cache_nr;
};

/* The entry of (key, key2), empty (key NULL) when new; NULL when out of memory. */
static struct str_ent *str_map_slot(struct str_map *m, const void *key, const void *key2)
{
	struct str_ent *t, *e;
	size_t i, j, cap;

	if (m->nr * 2 >= m->cap) {
		cap = m->cap ? m->cap * 2 : 64;
		t = calloc(cap, sizeof(*t));
		if (!t)
			return NULL;
		for (i = 0; i < m->cap; i++) {
			if (!m->e[i].key)
				continue;
			j = mix64_pair((uintptr_t)m->e[i].key, (uintptr_t)m->e[i].key2) & (cap - 1);
			while (t[j].key)
				j = (j + 1) & (cap - 1);
			t[j] = m->e[i];
		}
		free(m->e);
		m->e = t;
		m->cap = cap;
	}
	i = mix64_pair((uintptr_t)key, (uintptr_t)key2) & (m->cap - 1);
	for (e = &m->e[i]; e->key; e = &m->e[i]) {
		if (e->key == key && e->key2 == key2)
			return e;
		i = (i + 1) & (m->cap - 1);
	}
	return e;
}

static void str_map_free(struct str_map *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->e[i].val);
	free(m->e);
	memset(m, 0, sizeof(*m));
}

static void build_id_hex(Elf *elf, char *out, size_t sz)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	const void *bits;
	ssize_t len, i;

	out[0] = '\0';
	len = dwelf_elf_gnu_build_id(elf, &bits);
	if (len <= 0 || len > MAX_BUILD_ID || (size_t)len * 2 + 1 > sz)
		return;
	p = bits;
	for (i = 0; i < len; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * len] = '\0';
}

/*
 * Whether the file holds DWARF worth opening: a .debug_info with contents
 * (a debug file's copy of it, not a stripped placeholder), and debug
 * sections small enough to read into memory.
 */
static bool has_dwarf(Elf *elf)
{
	uint64_t total = 0, n;
	Elf_Scn *scn = NULL;
	bool info = false;
	const char *name;
	size_t shstrndx;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || !sh.sh_size)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || (strncmp(name, ".debug_", 7) && strncmp(name, ".zdebug_", 8)))
			continue;
		if (!strcmp(name, ".debug_info") || !strcmp(name, ".zdebug_info"))
			info = true;
		n = elf_handle__section_size(scn, &sh, name);
		if (n > MAX_DWARF_BYTES || total + n > MAX_DWARF_BYTES)
			return false;
		total += n;
	}
	return info;
}

/* What a debug file must match to be the one of the file being opened. */
struct debug_want {
	struct elf_handle *out;
	char **out_path;	/* as shown */
	const GElf_Ehdr *eh;
	const char *build_id;	/* "" when the file has none */
	bool have_crc;
	bool trusted;		/* found already checked (elf_file's debug file) */
	uint32_t crc;
};

/* Keeps the candidate in w->out when it is the file's debug file and has DWARF. */
static bool accept_debug(void *ctx, const struct debug_candidate *c)
{
	struct debug_want *w = ctx;
	struct elf_handle *out = w->out;
	char bid[2 * MAX_BUILD_ID + 1];
	uint32_t crc;

	if (elf_handle__from_fd(c->fd, out))
		return false;
	if (out->eh.e_ident[EI_CLASS] != w->eh->e_ident[EI_CLASS] ||
	    out->eh.e_machine != w->eh->e_machine)
		goto fail;
	build_id_hex(out->elf, bid, sizeof(bid));
	if (w->build_id[0] && bid[0]) {
		if (strcmp(w->build_id, bid))
			goto fail;
	} else if (w->have_crc && out->size <= DEBUG_FILE_MAX_CRC_BYTES) {
		if (debug_file__crc(out->fd, out->size, &crc) || crc != w->crc)
			goto fail;
	} else if (!w->trusted) {
		goto fail;
	}
	if (has_dwarf(out->elf)) {
		*w->out_path = strdup(c->shown);
		if (*w->out_path)
			return true;
	}
fail:
	out->fd = -1;	/* the search closes it */
	elf_handle__close(out);
	return false;
}

static int find_debug_file(struct elf_handle *out, char **out_path, struct elf_handle *main_h,
			   const char *path, const struct dwarf_lines_opts *opts,
			   const char *build_id)
{
	struct debug_want w = {
		.out = out, .out_path = out_path, .eh = &main_h->eh, .build_id = build_id,
	};
	struct debug_search s = {
		.build_id = build_id,
		.path = path,
		.sysroot = opts ? opts->sysroot : NULL,
	};
	struct debug_candidate c = { 0 };
	GElf_Word crc = 0;

	if (opts && opts->debug_path) {
		c.root = opts->debug_root;
		c.path = opts->debug_path;
		c.shown = opts->debug_shown ? opts->debug_shown : opts->debug_path;
		c.fd = debug_file__open(c.root, c.path);
		w.trusted = true;
		if (c.fd >= 0) {
			if (accept_debug(&w, &c))
				return 0;
			close(c.fd);
		}
		w.trusted = false;
	}
	s.debuglink = dwelf_elf_gnu_debuglink(main_h->elf, &crc);
	w.have_crc = s.debuglink != NULL;
	w.crc = crc;
	return debug_file__search(&s, accept_debug, &w);
}

int dwarf_lines__open(const char *path, const struct dwarf_lines_opts *opts,
		      struct dwarf_lines **out)
{
	char bid[2 * MAX_BUILD_ID + 1];
	struct elf_handle h, dbg;
	struct elf_handle *use = &h;
	char *dbg_path = NULL;
	struct dwarf_lines *dl;
	int err;

	*out = NULL;
	err = elf_handle__open(path, &h);
	if (err)
		return err;
	build_id_hex(h.elf, bid, sizeof(bid));
	if (opts && opts->build_id && opts->build_id[0] && strcmp(opts->build_id, bid)) {
		elf_handle__close(&h);
		return -ESTALE;
	}
	if (!has_dwarf(h.elf)) {
		err = find_debug_file(&dbg, &dbg_path, &h, path, opts, bid);
		elf_handle__close(&h);
		if (err)
			return -ENODATA;
		use = &dbg;
	}
	dl = calloc(1, sizeof(*dl));
	if (dl)
		dl->dwarf_path = strdup(dbg_path ? dbg_path : path);
	free(dbg_path);
	if (!dl || !dl->dwarf_path) {
		free(dl);
		elf_handle__close(use);
		return -ENOMEM;
	}
	dl->dw = dwarf_begin_elf(use->elf, DWARF_C_READ, NULL);
	if (!dl->dw) {
		elf_handle__close(use);
		free(dl->dwarf_path);
		free(dl);
		return -ENODATA;
	}
	/*
	 * libdw has read the debug sections it uses by now: keeping an fd per
	 * file would cost as many fds as there are modules with DWARF. A read
	 * it still wanted would fail cleanly, not reach a reused fd.
	 */
	elf_cntl(use->elf, ELF_C_FDDONE);
	dl->elf = use->elf;
	use->elf = NULL;
	elf_handle__close(use);
	*out = dl;
	return 0;
}

void dwarf_lines__free(struct dwarf_lines *dl)
{
	size_t i;

	if (!dl)
		return;
	for (i = 0; i < dl->cache_cap; i++)
		free(dl->cache[i].frames);
	free(dl->cache);
	str_map_free(&dl->names);
	str_map_free(&dl->paths);
	free(dl->cus);
	dwarf_end(dl->dw);
	elf_end(dl->elf);
	free(dl->dwarf_path);
	free(dl);
}

const char *dwarf_lines__dwarf_path(const struct dwarf_lines *dl)
{
	return dl->dwarf_path;
}

static int cmp_cu_range(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/*
 * The address ranges of every compile unit, for files whose .debug_aranges
 * is missing or incomplete (clang emits none by default). Built once.
 */
static void build_cu_ranges(struct dwarf_lines *dl)
{
	Dwarf_Off off = 0, next;
	Dwarf_Addr base, start, end;
	struct cu_range *r;
	size_t hsize, cap = 0, k;
	ptrdiff_t ro;
	Dwarf_Die cu;
	uint8_t unit_type;

	dl->cus_built = true;
	while (!dwarf_next_unit(dl->dw, off, &next, &hsize, NULL, NULL, NULL, NULL, NULL, NULL) &&
	       next > off) {
		if (!dwarf_offdie(dl->dw, off + hsize, &cu) ||
		    dwarf_cu_info(cu.cu, NULL, &unit_type, NULL, NULL, NULL, NULL, NULL) ||
		    (unit_type != DW_UT_compile && unit_type != DW_UT_skeleton))
			goto next;
		ro = 0;
		for (k = 0; k < MAX_RANGES_PER_CU; k++) {
			ro = dwarf_ranges(&cu, ro, &base, &start, &end);
			if (ro <= 0)
				break;
			if (start >= end)
				continue;
			if (dl->nr_cus == cap) {
				if (cap >= MAX_CU_RANGES)
					goto done;
				cap = cap ? cap * 2 : 64;
				r = realloc(dl->cus, cap * sizeof(*r));
				if (!r)
					goto done;
				dl->cus = r;
			}
			dl->cus[dl->nr_cus++] = (struct cu_range){ start, end, off + hsize };
		}
next:
		off = next;
	}
done:
	if (dl->nr_cus)
		qsort(dl->cus, dl->nr_cus, sizeof(*dl->cus), cmp_cu_range);
}

static bool find_cu(struct dwarf_lines *dl, uint64_t pc, Dwarf_Die *cu)
{
	size_t lo = 0, hi, mid;

	if (dwarf_addrdie(dl->dw, pc, cu))
		return true;
	if (!dl->cus_built)
		build_cu_ranges(dl);
	/* The last range starting at or below pc; ranges of distinct units do not overlap. */
	hi = dl->nr_cus;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (dl->cus[mid].start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || pc >= dl->cus[lo - 1].end)
		return false;
	return dwarf_offdie(dl->dw, dl->cus[lo - 1].off, cu) != NULL;
}

/* The demangled form of a linkage name, kept as long as dl. NULL when it does not demangle. */
static const char *demangled(struct dwarf_lines *dl, const char *linkage)
{
	struct str_ent *e = str_map_slot(&dl->names, linkage, NULL);

	if (!e)
		return NULL;
	if (!e->key) {
		e->key = linkage;
		e->val = mt_demangle(linkage);
		dl->names.nr++;
	}
	return e->val;
}

/*
 * A source path as addr2line gives it: libdw leaves a path relative when the
 * line table's directory is (gcc records "dir/file.c" as compiled), and
 * such a path says little without the unit's compilation directory.
 */
static const char *source_path(struct dwarf_lines *dl, Dwarf_Die *cu, const char *file)
{
	const char *comp_dir;
	struct str_ent *e;
	Dwarf_Attribute a;

	if (!file || file[0] == '/')
		return file;
	comp_dir = dwarf_attr(cu, DW_AT_comp_dir, &a) ? dwarf_formstring(&a) : NULL;
	if (!comp_dir || comp_dir[0] != '/')
		return file;
	e = str_map_slot(&dl->paths, file, comp_dir);
	if (!e)
		return file;
	if (!e->key) {
		e->key = file;
		e->key2 = comp_dir;
		if (asprintf(&e->val, "%s/%s", comp_dir, file) < 0)
			e->val = NULL;
		dl->paths.nr++;
	}
	return e->val ? e->val : file;
}

static const char *attr_string(Dwarf_Die *die, unsigned int name)
{
	Dwarf_Attribute a;

	if (!dwarf_attr_integrate(die, name, &a))
		return NULL;
	return dwarf_formstring(&a);
}

/* A function's names, through DW_AT_abstract_origin and DW_AT_specification. */
static void die_names(struct dwarf_lines *dl, Dwarf_Die *die, struct dwarf_frame *f)
{
	const char *linkage, *name, *d;

	linkage = attr_string(die, DW_AT_linkage_name);
	if (!linkage)
		linkage = attr_string(die, DW_AT_MIPS_linkage_name);
	name = attr_string(die, DW_AT_name);
	f->mangled = linkage ? linkage : name;
	f->function = name ? name : linkage;
	/* Demangled, C++ and Rust names read as the symbol table's do. */
	if (mt_maybe_mangled(linkage)) {
		d = demangled(dl, linkage);
		if (d)
			f->function = d;
	}
}

/* The call site of an inlined instance: the line of the frame that holds it. */
static void call_site(struct dwarf_lines *dl, Dwarf_Die *cu, Dwarf_Die *inl, const char **file,
		      int *line)
{
	Dwarf_Attribute a;
	Dwarf_Files *files;
	Dwarf_Word v;
	Dwarf_Half version;
	size_t nfiles;

	*file = NULL;
	*line = 0;
	if (dwarf_attr(inl, DW_AT_call_line, &a) && !dwarf_formudata(&a, &v) && v <= INT_MAX)
		*line = (int)v;
	if (!dwarf_attr(inl, DW_AT_call_file, &a) || dwarf_formudata(&a, &v) ||
	    dwarf_getsrcfiles(cu, &files, &nfiles) || v >= nfiles)
		return;
	/* Before DWARF 5, file 0 means none. */
	if (!v && (dwarf_cu_info(cu->cu, &version, NULL, NULL, NULL, NULL, NULL, NULL) ||
		   version < 5))
		return;
	*file = source_path(dl, cu, dwarf_filesrc(files, v, NULL, NULL));
}

/* Walking one unit's DIEs for one pc: how deep, and how many DIEs at most. */
#define MAX_SCOPE_DEPTH		64
#define MAX_SCOPE_DIES		(1u << 22)

struct pc_walk {
	uint64_t pc;
	unsigned int budget;	/* DIEs left to look at */
	Dwarf_Die chain[MAX_SCOPE_DEPTH];	/* outermost first */
	int n;
};

/*
 * The DIEs whose code holds pc, below parent, appended to w->chain. Not
 * dwarf_getscopes: past an inlined instance it gives the scopes of the
 * abstract definition, not of the caller, finds nothing when that is in
 * another unit (Go, LTO) and then leaks its array. Namespaces and modules
 * have no code of their own but hold functions (Rust): searched, not kept.
 */
static void pc_walk(struct pc_walk *w, Dwarf_Die *parent, int depth)
{
	Dwarf_Die child;
	int n = w->n;

	if (depth >= MAX_SCOPE_DEPTH || w->n >= MAX_SCOPE_DEPTH || dwarf_child(parent, &child))
		return;
	do {
		if (!w->budget--)
			return;
		switch (dwarf_tag(&child)) {
		case DW_TAG_namespace:
		case DW_TAG_module:
			pc_walk(w, &child, depth + 1);
			if (w->n > n)
				return;
			break;
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
		case DW_TAG_lexical_block:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
			if (dwarf_haspc(&child, w->pc) > 0) {
				w->chain[w->n++] = child;
				pc_walk(w, &child, depth + 1);
				return;
			}
			break;
		default:
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
}

static int resolve(struct dwarf_lines *dl, uint64_t pc, struct dwarf_frame *out, size_t *nr)
{
	struct pc_walk w = { .pc = pc, .budget = MAX_SCOPE_DIES };
	Dwarf_Die cu, *sub = NULL;
	struct dwarf_frame *f;
	Dwarf_Line *ln;
	const char *file = NULL;
	int lineno = 0, i, tag;
	size_t k = 0;

	if (!find_cu(dl, pc, &cu))
		return -ENOENT;
	ln = dwarf_getsrc_die(&cu, pc);
	if (ln && !dwarf_lineno(ln, &lineno))
		file = source_path(dl, &cu, dwarf_linesrc(ln, NULL, NULL));
	if (lineno < 0)
		lineno = 0;
	pc_walk(&w, &cu, 0);
	/* Each inlined instance, innermost first: its name, and the line reached in it. */
	for (i = w.n - 1; i >= 0; i--) {
		tag = dwarf_tag(&w.chain[i]);
		if (tag == DW_TAG_subprogram) {
			sub = &w.chain[i];
			break;
		}
		if (tag != DW_TAG_inlined_subroutine)
			continue;
		if (k < DWARF_LINES_MAX_INLINE) {
			f = &out[k++];
			memset(f, 0, sizeof(*f));
			die_names(dl, &w.chain[i], f);
			f->file = file;
			f->line = lineno;
			f->inlined = true;
		}
		/* The next frame out is at this instance's call site. */
		call_site(dl, &cu, &w.chain[i], &file, &lineno);
	}
	if (!file && !lineno && !k && !sub)
		return -ENOENT;
	f = &out[k++];
	memset(f, 0, sizeof(*f));
	if (sub)
		die_names(dl, sub, f);
	f->file = file;
	f->line = lineno;
	*nr = k;
	return 0;
}

static struct cache_ent *cache_find(struct cache_ent *c, size_t cap, uint64_t vaddr)
{
	size_t i = mix64(vaddr) & (cap - 1);

	while (c[i].used && c[i].vaddr != vaddr)
		i = (i + 1) & (cap - 1);
	return &c[i];
}

static void cache_clear(struct dwarf_lines *dl)
{
	size_t i;

	for (i = 0; i < dl->cache_cap; i++)
		free(dl->cache[i].frames);
	memset(dl->cache, 0, dl->cache_cap * sizeof(*dl->cache));
	dl->cache_nr = 0;
}

/* Room for one more entry, at most half full; -ENOMEM keeps the table as it was. */
static int cache_reserve(struct dwarf_lines *dl)
{
	struct cache_ent *n;
	size_t cap, i;

	if (dl->cache && (dl->cache_nr + 1) * 2 <= dl->cache_cap)
		return 0;
	if (dl->cache_cap >= CACHE_MAX) {
		cache_clear(dl);
		return 0;
	}
	cap = dl->cache_cap ? dl->cache_cap * 2 : CACHE_MIN;
	n = calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (i = 0; i < dl->cache_cap; i++)
		if (dl->cache[i].used)
			*cache_find(n, cap, dl->cache[i].vaddr) = dl->cache[i];
	free(dl->cache);
	dl->cache = n;
	dl->cache_cap = cap;
	return 0;
}

int dwarf_lines__lookup(struct dwarf_lines *dl, uint64_t vaddr, const struct dwarf_frame **frames,
			size_t *nr)
{
	struct dwarf_frame tmp[DWARF_LINES_MAX_INLINE + 1];
	struct cache_ent *e;
	size_t n = 0;
	int err;

	*nr = 0;
	e = dl->cache ? cache_find(dl->cache, dl->cache_cap, vaddr) : NULL;
	if (!e || !e->used) {
		err = cache_reserve(dl);
		if (err)
			return err;
		e = cache_find(dl->cache, dl->cache_cap, vaddr);
		err = resolve(dl, vaddr, tmp, &n);
		if (!err) {
			e->frames = malloc(n * sizeof(*e->frames));
			if (!e->frames)
				return -ENOMEM;
			memcpy(e->frames, tmp, n * sizeof(*e->frames));
			e->nr = n;
		}
		e->vaddr = vaddr;
		e->err = err;
		e->used = true;
		dl->cache_nr++;
	}
	if (e->err)
		return e->err;
	*frames = e->frames;
	*nr = e->nr;
	return 0;
}
