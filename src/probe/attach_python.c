/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The probes on a CPython interpreter's allocator: its API's entry points
 * (PyObject_Malloc, PyObject_Calloc, PyObject_Realloc, PyObject_Free and
 * the PyMem_ ones, which pymalloc serves too; PyMem_Raw* are malloc
 * itself, probed in libc), or, when the interpreter inlined pymalloc into
 * their callers (py_site.h), every inlined copy and pymalloc's own
 * functions. Each probe has a py_sites entry: its interpreter's layout
 * and where it sits, for the BPF side to find the runtime from the
 * probe's address. Analysed once per file; attached per process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "probe/loader.h"
#include "probe/loader_internal.h"
#include "probe/probe_site.h"
#include "probe/py_site.h"
#include "symbols/elf_file.h"
#include "symbols/elf_handle.h"
#include "symbols/py_layout.h"
#include "symbols/x86_insn.h"
#include "util/log.h"
#include "memtrace.skel.h"

/* The most code read to look for inlined copies: an interpreter's text is a few MiB. */
#define MAX_IMAGE (256u << 20)
#define MAX_FUNC_CODE 4096

/* A function probe: its program, where it sits, its cookie, and whether it returns. */
struct func_probe {
	uint64_t offset;
	uint64_t cookie;
	bool free_prog;		/* mt_free_moved; else mt_alloc_entry */
	bool ret;
};

struct loader_py_file {
	dev_t dev;
	ino_t ino;
	uint32_t layout;
	uint64_t *site_offsets, *site_cookies;	/* inlined copies: mt_py_site */
	size_t nr_sites;
	struct func_probe *funcs;
	size_t nr_funcs;
	struct loader_py_info info;
};

/* The interpreter's API, each with the allocator kind its probe records. */
static const struct py_api {
	const char *name;
	enum mt_alloc_kind kind;
	bool free;
	uint8_t nr_args;
} py_api[] = {
	{ "PyObject_Malloc", MT_KIND_MALLOC, false, 1 },
	{ "PyObject_Calloc", MT_KIND_CALLOC, false, 2 },
	{ "PyObject_Realloc", MT_KIND_REALLOC, false, 2 },
	{ "PyObject_Free", 0, true, 1 },
	{ "PyMem_Malloc", MT_KIND_MALLOC, false, 1 },
	{ "PyMem_Calloc", MT_KIND_CALLOC, false, 2 },
	{ "PyMem_Realloc", MT_KIND_REALLOC, false, 2 },
	{ "PyMem_Free", 0, true, 1 },
};

static const uint8_t sysv[] = { X86_RDI, X86_RSI, X86_RDX };
/* pymalloc's own functions take the allocator's ctx first. */
static const uint8_t after_ctx[] = { X86_RSI, X86_RDX, X86_RCX };

void loader_py_files_free(struct loader *l)
{
	size_t i;

	for (i = 0; i < l->nr_py_files; i++) {
		free(l->py_files[i].site_offsets);
		free(l->py_files[i].site_cookies);
		free(l->py_files[i].funcs);
	}
	free(l->py_files);
	l->py_files = NULL;
	l->nr_py_files = 0;
}

/* A py_sites entry: the cookie's index, or -ENOSPC. */
static int add_site(struct loader *l, const struct mt_py_site *s, uint32_t *idx)
{
	uint32_t i = l->py_sites_used;

	if (i >= MT_MAX_PY_SITES)
		return -ENOSPC;
	if (bpf_map__update_elem(l->skel->maps.py_sites, &i, sizeof(i), s, sizeof(*s), 0))
		return -errno;
	l->py_sites_used++;
	*idx = i;
	return 0;
}

static int push_func(struct loader_py_file *f, const struct func_probe *p)
{
	struct func_probe *n = realloc(f->funcs, (f->nr_funcs + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	f->funcs = n;
	f->funcs[f->nr_funcs++] = *p;
	return 0;
}

/* The bytes of code that decode whole from its start. */
static size_t decodable(const uint8_t *code, size_t len, uint64_t addr)
{
	struct x86_insn in;
	size_t off = 0;

	while (off < len && !x86_insn__decode(code + off, len - off, addr + off, &in))
		off += in.len;
	return off;
}

/*
 * A function probe at addr (file address, off its file offset) of kind
 * (free: a free), reading nr_args arguments from args at the function's
 * start: its site chosen as attach.c chooses allocators' (probe_site.h).
 */
static int add_func(struct loader *l, struct loader_py_file *f, struct elf_file *ef,
		    const char *shown, const char *name, uint64_t addr, uint64_t size,
		    enum mt_alloc_kind kind, bool is_free, const uint8_t *args, size_t nr_args)
{
	struct probe_site ps = { .why = "the code cannot be read" };
	struct mt_py_site site = { .layout = f->layout, .kind = MT_PY_SITE_FUNC,
				   .reg = MT_PY_REG_CONST, .reg2 = MT_PY_REG_CONST };
	struct func_probe p = { 0 };
	size_t len = size && size < MAX_FUNC_CODE ? size : MAX_FUNC_CODE, k;
	uint8_t code[MAX_FUNC_CODE];
	uint64_t off;
	uint32_t idx;
	bool moved;
	int err;

	err = elf_file__vaddr_to_offset(ef, addr, &off);
	if (err)
		return err;
	if (!elf_file__read(ef, off, code, len)) {
		/*
		 * A function without a symbol (pymalloc's own, in a stripped
		 * interpreter) has no known end: what is read is decoded up to the
		 * first instruction cut by the read's end, and branches into its
		 * start are looked for there.
		 */
		if (!size)
			len = decodable(code, len, addr);
		probe_site__choose(code, len, addr, 0, args, nr_args, &ps);
	}
	site.vaddr = addr + ps.offset;
	err = add_site(l, &site, &idx);
	if (err)
		return err;
	p.offset = off + ps.offset;
	p.ret = !is_free;
	p.cookie = MT_COOKIE_PY | MT_COOKIE_PY_SITE_IDX(idx) | (is_free ? 0 : kind);
	/* The arguments where the site has them, when not where the kind expects them. */
	moved = args != sysv || is_free;	/* mt_free_moved reads the pointer where the cookie says */
	for (k = 0; k < nr_args; k++)
		moved |= ps.arg_reg[k] != sysv[k];
	if (moved && nr_args) {
		p.cookie |= MT_COOKIE_ARGS_MOVED;
		for (k = 0; k < nr_args; k++)
			p.cookie |= MT_COOKIE_ARG(k, ps.arg_reg[k]);
	}
	p.free_prog = is_free;
	if (ps.emulated)
		mt_debug("probe %s at %s+0x%llx (start+%llu, emulated)\n", name, shown,
			 (unsigned long long)p.offset, (unsigned long long)ps.offset);
	else
		mt_debug("probe %s at %s+0x%llx: single-stepped on every call (%s)\n", name, shown,
			 (unsigned long long)off, ps.why);
	err = loader_note_probe_site(l, shown, name, off, &ps);
	return err ? err : push_func(f, &p);
}

/* The interpreter's executable segment, read whole. */
static int read_image(const char *path, struct py_code_image *img, uint8_t **buf)
{
	struct elf_handle h;
	size_t i, n;
	int err;

	err = elf_handle__open(path, &h);
	if (err)
		return err;
	err = -ENOENT;
	if (elf_getphdrnum(h.elf, &n))
		goto out;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(h.elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (ph.p_filesz > MAX_IMAGE || ph.p_offset + ph.p_filesz > h.size) {
			err = -EFBIG;
			goto out;
		}
		*buf = malloc(ph.p_filesz ? ph.p_filesz : 1);
		err = -ENOMEM;
		if (!*buf)
			goto out;
		if (pread(h.fd, *buf, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz) {
			free(*buf);
			*buf = NULL;
			err = -EIO;
			goto out;
		}
		img->bytes = *buf;
		img->len = ph.p_filesz;
		img->vaddr = ph.p_vaddr;
		err = 0;
		break;
	}
out:
	elf_handle__close(&h);
	return err;
}

/* The entry point's address, or 0. */
static uint64_t api_addr(struct elf_file *ef, const char *name, uint64_t *size)
{
	const struct elf_sym *s = elf_file__find_func(ef, name, true);

	*size = s ? s->size : 0;
	return s ? s->addr : 0;
}

/*
 * pymalloc inlined (link-time optimization): the inlined copies, and
 * pymalloc's own functions, which the copies call when the allocator is
 * not pymalloc's (tracemalloc's hooks) and for what they leave to them.
 * -ENOENT when nothing is inlined.
 */
static int analyse_inlined(struct loader *l, struct loader_py_file *f, struct elf_file *ef,
			   const char *path, const char *shown, struct mt_py_layout *lay)
{
	struct py_code_image img = { 0 };
	struct py_pymalloc pm = { 0 };
	struct py_inline_site *sites = NULL;
	uint64_t size, entry;
	uint8_t *buf = NULL;
	size_t nr = 0, i;
	int err;

	entry = api_addr(ef, "PyObject_Malloc", &size);
	if (!entry)
		return -ENOENT;
	err = read_image(path, &img, &buf);
	if (err)
		return err;
	py_site__compared_fn(&img, entry, &pm.alloc);
	err = -ENOENT;
	if (!pm.alloc)
		goto out;
	if ((entry = api_addr(ef, "PyObject_Free", &size)))
		py_site__compared_fn(&img, entry, &pm.free);
	if ((entry = api_addr(ef, "PyObject_Realloc", &size)))
		py_site__compared_fn(&img, entry, &pm.realloc);
	if ((entry = api_addr(ef, "PyObject_Calloc", &size))) {
		uint64_t slot = 0, off;

		py_site__compared_fn(&img, entry, &pm.calloc);
		/* Not inlined: called through the allocator's pointer, pymalloc's in the file's data. */
		if (!pm.calloc && !py_site__called_slot(&img, entry, &slot) &&
		    !elf_file__vaddr_to_offset(ef, slot, &off) &&
		    !elf_file__read(ef, off, &pm.calloc, sizeof(pm.calloc)) &&
		    (pm.calloc < img.vaddr || pm.calloc >= img.vaddr + img.len))
			pm.calloc = 0;
	}
	if (!pm.free || py_site__pymalloc_internals(&img, &pm)) {
		mt_warn("%s: pymalloc is inlined but its functions were not found: Python object "
			"allocations are not seen\n", shown);
		err = -ENOENT;
		goto out;
	}
	err = py_site__find(&img, &pm, &sites, &nr, &f->info.unresolved);
	if (err)
		goto out;
	lay->usedpools = pm.usedpools;
	f->info.inlined = true;
	f->site_offsets = calloc(nr ? nr : 1, sizeof(*f->site_offsets));
	f->site_cookies = calloc(nr ? nr : 1, sizeof(*f->site_cookies));
	err = -ENOMEM;
	if (!f->site_offsets || !f->site_cookies)
		goto out;
	for (i = 0; i < nr; i++) {
		struct mt_py_site s = { .vaddr = sites[i].vaddr, .layout = f->layout,
					.kind = sites[i].kind, .reg = sites[i].reg,
					.reg2 = sites[i].reg2, .add = sites[i].add };
		uint64_t off;
		uint32_t idx;

		err = elf_file__vaddr_to_offset(ef, sites[i].vaddr, &off);
		if (!err)
			err = add_site(l, &s, &idx);
		if (err)
			goto out;
		f->site_offsets[f->nr_sites] = off;
		f->site_cookies[f->nr_sites++] = MT_COOKIE_PY | MT_COOKIE_PY_SITE_IDX(idx);
	}
	f->info.sites = f->nr_sites;
	/* pymalloc's own functions: ctx first, then the arguments. */
	err = add_func(l, f, ef, shown, "_PyObject_Malloc (pymalloc)", pm.alloc, 0, MT_KIND_MALLOC,
		       false, after_ctx, 1);
	if (!err && pm.calloc)
		err = add_func(l, f, ef, shown, "_PyObject_Calloc (pymalloc)", pm.calloc, 0,
			       MT_KIND_CALLOC, false, after_ctx, 2);
	if (!err && pm.realloc)
		err = add_func(l, f, ef, shown, "_PyObject_Realloc (pymalloc)", pm.realloc, 0,
			       MT_KIND_REALLOC, false, after_ctx, 2);
	if (!err)
		err = add_func(l, f, ef, shown, "_PyObject_Free (pymalloc)", pm.free, 0, 0, true,
			       after_ctx, 1);
	if (!err)
		err = add_func(l, f, ef, shown, "allocate_from_new_pool (pymalloc)", pm.refill, 0,
			       MT_KIND_PY_REFILL, false, sysv, 0);
	mt_debug("%s: pymalloc inlined: %zu inlined allocations, frees and reallocations probed, "
		 "%zu not (their arguments not found)\n", shown, f->nr_sites, f->info.unresolved);
out:
	free(sites);
	free(buf);
	return err;
}

/*
 * pymalloc's own functions, when the symbol table names them: what the
 * PyObject_ and PyMem_ domains both call, through the allocator's function
 * pointers (tracemalloc's hooks included), and each starts with an
 * instruction the kernel emulates where the exported ones (a move, then a
 * jump through the pointer) are single-stepped. -ENOENT when not named.
 */
static int probe_pymalloc_functions(struct loader *l, struct loader_py_file *f,
				    struct elf_file *ef, const char *shown)
{
	static const struct py_api own[] = {
		{ "_PyObject_Malloc", MT_KIND_MALLOC, false, 1 },
		{ "_PyObject_Calloc", MT_KIND_CALLOC, false, 2 },
		{ "_PyObject_Realloc", MT_KIND_REALLOC, false, 2 },
		{ "_PyObject_Free", 0, true, 1 },
	};
	const struct elf_sym *s[4];
	size_t i;
	int err = 0;

	for (i = 0; i < 4; i++) {
		s[i] = elf_file__find_func(ef, own[i].name, false);
		if (!s[i])
			return -ENOENT;
	}
	for (i = 0; i < 4 && !err; i++)
		err = add_func(l, f, ef, shown, own[i].name, s[i]->addr, s[i]->size, own[i].kind,
			       own[i].free, after_ctx, own[i].nr_args);
	return err;
}

static int analyse(struct loader *l, struct loader_py_file *f, const char *path,
		   const char *shown, const struct py_interp *py)
{
	struct mt_py_layout lay = py->bpf;
	struct elf_file *ef;
	size_t i;
	int err;

	err = elf_file__open(path, &(struct elf_file_opts){ .no_debug_files = true }, &ef);
	if (err)
		return err;
	err = analyse_inlined(l, f, ef, path, shown, &lay);
	if (err == -ENOENT && !f->info.inlined)
		err = probe_pymalloc_functions(l, f, ef, shown);
	if (err == -ENOENT && !f->info.inlined) {
		/* The API's own functions: each call goes through them. */
		err = 0;
		for (i = 0; i < sizeof(py_api) / sizeof(py_api[0]) && !err; i++) {
			uint64_t size, addr = api_addr(ef, py_api[i].name, &size);

			if (addr)
				err = add_func(l, f, ef, shown, py_api[i].name, addr, size,
					       py_api[i].kind, py_api[i].free, sysv,
					       py_api[i].nr_args);
		}
	}
	elf_file__free(ef);
	if (err)
		return err;
	/* Without a layout the frames are not read, but the allocations are seen all the same. */
	if (!py->frames)
		lay.runtime = 0;
	if (bpf_map__update_elem(l->skel->maps.py_layouts, &f->layout, sizeof(f->layout), &lay,
				 sizeof(lay), 0))
		return -errno;
	return f->nr_funcs || f->nr_sites ? 0 : -ENOENT;
}

/* The file's probes for process pid: one attachment per program (a uprobe_multi link each). */
static int attach_file(struct loader *l, int pid, const char *path, struct loader_py_file *f,
		       int *nr)
{
	struct bpf_program *progs[3] = { l->skel->progs.mt_alloc_ret, l->skel->progs.mt_alloc_entry,
					  l->skel->progs.mt_free_moved };
	uint64_t *offs, *cookies;
	size_t i, k, n;
	int err = 0;

	offs = calloc(f->nr_funcs + 1, sizeof(*offs));
	cookies = calloc(f->nr_funcs + 1, sizeof(*cookies));
	if (!offs || !cookies) {
		free(offs);
		free(cookies);
		return -ENOMEM;
	}
	/* Return probes first, as attach.c does: an entry without its return leaves a call pending. */
	for (k = 0; k < 3 && !err; k++) {
		for (i = 0, n = 0; i < f->nr_funcs; i++) {
			const struct func_probe *p = &f->funcs[i];

			if (k == 0 ? !p->ret : (k == 2) != p->free_prog)
				continue;
			offs[n] = p->offset;
			cookies[n++] = k == 0 ? 0 : p->cookie;
		}
		err = loader_attach_offsets(l, pid, path, progs[k], offs, cookies, n, k == 0);
		*nr += (int)n;
	}
	free(offs);
	free(cookies);
	if (!err)
		err = loader_attach_offsets(l, pid, path, l->skel->progs.mt_py_site, f->site_offsets,
					    f->site_cookies, f->nr_sites, false);
	if (!err)
		*nr += (int)f->nr_sites;
	return err;
}

int loader__attach_python(struct loader *l, int pid, const char *path, const char *open_path,
			  const struct py_interp *py, struct loader_py_info *info)
{
	struct loader_py_file *f = NULL, *n;
	struct stat st;
	size_t i;
	int err;

	memset(info, 0, sizeof(*info));
	if (!l->python)
		return -EINVAL;
	if (stat(open_path, &st))
		return -errno;
	for (i = 0; i < l->nr_py_files; i++)
		if (l->py_files[i].dev == st.st_dev && l->py_files[i].ino == st.st_ino)
			f = &l->py_files[i];
	if (!f) {
		if (l->nr_py_files >= MT_MAX_PY_LAYOUTS)
			return -ENOSPC;
		n = realloc(l->py_files, (l->nr_py_files + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		l->py_files = n;
		f = &l->py_files[l->nr_py_files];
		memset(f, 0, sizeof(*f));
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->layout = (uint32_t)l->nr_py_files;
		err = analyse(l, f, open_path, path, py);
		if (err) {
			free(f->site_offsets);
			free(f->site_cookies);
			free(f->funcs);
			return err;
		}
		l->nr_py_files++;
	}
	err = attach_file(l, pid, open_path, f, &info->probes);
	info->inlined = f->info.inlined;
	info->sites = f->info.sites;
	info->unresolved = f->info.unresolved;
	return err;
}
