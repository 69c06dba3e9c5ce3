/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <string.h>

#include "symbols/demangle.h"
#include "symbols/dwarf_lines.h"
#include "symbols/elf_file.h"
#include "symbols/py_names.h"
#include "util/hash.h"
#include "symbols/symbolize.h"

_Static_assert(SYM_MAX_INLINE_FRAMES == DWARF_LINES_MAX_INLINE + 1,
	       "an address's whole chain fits in SYM_MAX_INLINE_FRAMES");

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

/* Chained hash table with a power-of-two bucket count; nodes are embedded. */
struct htab {
	struct hnode **b;
	size_t nb;
	size_t n;
};

/* An ELF file as mapped by some process; ef NULL once it proved unreadable. */
struct file_ent {
	struct hnode node;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t inode;
	char *path;		/* part of the key only when inode is 0 */
	struct elf_file *ef;
	char *opened;		/* the path ef was read from */
	struct dwarf_lines *dl;	/* NULL: no DWARF, or not looked for yet */
	bool dl_tried;
};

/* Keyed by the address of a symbol name, which lives as long as its elf_file. */
struct name_ent {
	struct hnode node;
	const char *mangled;
	char *demangled;	/* NULL: the name is shown as is */
};

struct path_ent {
	struct hnode node;
	char path[];
};

struct symbolizer {
	struct htab files;
	struct htab names;
	struct htab paths;
	struct file_ent *last_file;
	struct path_ent *last_path;
	struct py_names *py;	/* Python code objects read, per process; NULL until one is */
};

#define hnode_entry(ptr, type) ((type *)((char *)(ptr) - offsetof(type, node)))

static struct hnode *htab_first(const struct htab *h, uint64_t hash)
{
	return h->nb ? h->b[hash & (h->nb - 1)] : NULL;
}

static int htab_add(struct htab *h, struct hnode *node, uint64_t hash)
{
	size_t i;

	if (h->n >= h->nb) {
		size_t nb = h->nb ? h->nb * 2 : 64;
		struct hnode **b = calloc(nb, sizeof(*b));

		if (!b)
			return -ENOMEM;
		for (i = 0; i < h->nb; i++) {
			struct hnode *p = h->b[i], *next;

			for (; p; p = next) {
				next = p->next;
				p->next = b[p->hash & (nb - 1)];
				b[p->hash & (nb - 1)] = p;
			}
		}
		free(h->b);
		h->b = b;
		h->nb = nb;
	}
	node->hash = hash;
	node->next = h->b[hash & (h->nb - 1)];
	h->b[hash & (h->nb - 1)] = node;
	h->n++;
	return 0;
}

/* Calls fn on every node, which may free it. */
static void htab_destroy(struct htab *h, void (*fn)(struct hnode *))
{
	size_t i;

	for (i = 0; i < h->nb; i++) {
		struct hnode *p = h->b[i], *next;

		for (; p; p = next) {
			next = p->next;
			fn(p);
		}
	}
	free(h->b);
	memset(h, 0, sizeof(*h));
}

static void file_ent_free(struct hnode *n)
{
	struct file_ent *f = hnode_entry(n, struct file_ent);

	elf_file__free(f->ef);
	dwarf_lines__free(f->dl);
	free(f->opened);
	free(f->path);
	free(f);
}

static void name_ent_free(struct hnode *n)
{
	struct name_ent *e = hnode_entry(n, struct name_ent);

	free(e->demangled);
	free(e);
}

static void path_ent_free(struct hnode *n)
{
	free(hnode_entry(n, struct path_ent));
}

struct symbolizer *symbolizer__new(void)
{
	struct symbolizer *s = calloc(1, sizeof(struct symbolizer));

	if (!s)
		return NULL;
	/* Python code objects: named from a second thread too, as they are first seen. */
	s->py = py_names__new();
	if (!s->py) {
		free(s);
		return NULL;
	}
	return s;
}

void symbolizer__free(struct symbolizer *s)
{
	if (!s)
		return;
	htab_destroy(&s->files, file_ent_free);
	htab_destroy(&s->names, name_ent_free);
	htab_destroy(&s->paths, path_ent_free);
	py_names__free(s->py);
	free(s);
}

int symbolizer__py_seen(struct symbolizer *s, uint32_t pid, const struct py_interp *py,
			uint64_t bias, const struct mt_py_code_ref *refs, uint32_t nr)
{
	return py_names__seen(s->py, pid, py, bias, refs, nr);
}

int symbolizer__resolve_py(struct symbolizer *s, uint32_t pid, const struct py_interp *py,
			   uint64_t bias, const uint64_t *frames, uint32_t nr, uint32_t idx,
			   struct sym_frame *out)
{
	struct py_frame_name pn;
	int err;

	memset(out, 0, sizeof(*out));
	out->python = true;
	err = py_names__resolve(s->py, pid, py, bias, frames, nr, idx, &pn);
	out->function = pn.function;
	out->mangled = pn.function;
	out->file = pn.file;
	out->line = pn.line;
	return err;
}

void symbolizer__forget_pid(struct symbolizer *s, uint32_t pid)
{
	py_names__forget(s->py, pid);
}

static uint64_t file_hash(const struct vma *v)
{
	if (!v->inode)
		return hash_bytes(v->path, strlen(v->path));
	return mix64_pair(v->inode, (uint64_t)v->dev_major << 32 | v->dev_minor);
}

static bool file_match(const struct file_ent *f, const struct vma *v)
{
	if (f->inode != v->inode || f->dev_major != v->dev_major || f->dev_minor != v->dev_minor)
		return false;
	return v->inode || !strcmp(f->path, v->path);
}

/*
 * Try the ways to reach the file a process mapped, best first: its own
 * mapping (/proc/PID/map_files: the very file, whatever its path now says,
 * and no path lookup that links inside a container could redirect), then,
 * for a process that is gone, the path in our own namespace, only when it
 * is still the same file (device and inode of the mapping).
 */
static struct elf_file *open_mapped_file(uint32_t pid, const struct vma *v, char **opened)
{
	struct elf_file_opts opts = { 0 };
	char root[64], path[PATH_MAX];
	struct elf_file *ef;
	struct stat st;

	snprintf(root, sizeof(root), "/proc/%u/root", pid);
	opts.sysroot = root;
	opts.origin_path = v->path;
	snprintf(path, sizeof(path), "/proc/%u/map_files/%" PRIx64 "-%" PRIx64, pid, v->start,
		 v->end);
	if (!elf_file__open(path, &opts, &ef))
		goto out;
	if (v->deleted || stat(v->path, &st))
		return NULL;
	/* Maps give the inode of every file mapping; 0 only in hand-made maps. */
	if (v->inode && (st.st_ino != v->inode || major(st.st_dev) != v->dev_major ||
			 minor(st.st_dev) != v->dev_minor))
		return NULL;
	if (!elf_file__open(v->path, NULL, &ef)) {
		snprintf(path, sizeof(path), "%s", v->path);
		goto out;
	}
	return NULL;
out:
	/* The DWARF is read later from the same file; without the path, never. */
	*opened = strdup(path);
	return ef;
}

static struct file_ent *get_file(struct symbolizer *s, uint32_t pid, const struct vma *v)
{
	uint64_t hash;
	struct hnode *n;
	struct file_ent *f;

	if (s->last_file && file_match(s->last_file, v))
		return s->last_file;
	hash = file_hash(v);
	for (n = htab_first(&s->files, hash); n; n = n->next) {
		f = hnode_entry(n, struct file_ent);
		if (n->hash == hash && file_match(f, v)) {
			s->last_file = f;
			return f;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->dev_major = v->dev_major;
	f->dev_minor = v->dev_minor;
	f->inode = v->inode;
	f->path = strdup(v->path);
	if (!f->path || htab_add(&s->files, &f->node, hash)) {
		free(f->path);
		free(f);
		return NULL;
	}
	/* Opened once: an unreadable file stays recorded as such. */
	f->ef = open_mapped_file(pid, v, &f->opened);
	s->last_file = f;
	return f;
}

/* Module names outlive the proc_maps they came from. */
static const char *intern_path(struct symbolizer *s, const char *path)
{
	uint64_t hash;
	struct hnode *n;
	struct path_ent *p;
	size_t len;

	if (s->last_path && !strcmp(s->last_path->path, path))
		return s->last_path->path;
	hash = hash_bytes(path, strlen(path));
	for (n = htab_first(&s->paths, hash); n; n = n->next) {
		p = hnode_entry(n, struct path_ent);
		if (n->hash == hash && !strcmp(p->path, path)) {
			s->last_path = p;
			return p->path;
		}
	}
	len = strlen(path);
	p = malloc(sizeof(*p) + len + 1);
	if (!p)
		return NULL;
	memcpy(p->path, path, len + 1);
	if (htab_add(&s->paths, &p->node, hash)) {
		free(p);
		return NULL;
	}
	s->last_path = p;
	return p->path;
}

static const char *display_name(struct symbolizer *s, const char *mangled)
{
	uint64_t hash = mix64((uint64_t)(uintptr_t)mangled);
	struct hnode *n;
	struct name_ent *e;

	if (!mt_maybe_mangled(mangled))
		return mangled;
	for (n = htab_first(&s->names, hash); n; n = n->next) {
		e = hnode_entry(n, struct name_ent);
		if (e->mangled == mangled)
			return e->demangled ? e->demangled : mangled;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return mangled;
	e->mangled = mangled;
	e->demangled = mt_demangle(mangled);
	if (htab_add(&s->names, &e->node, hash)) {
		free(e->demangled);
		free(e);
		return mangled;
	}
	return e->demangled ? e->demangled : mangled;
}

/*
 * symbolizer__resolve; also gives the file and the ELF vaddr looked up when
 * the pc is in a readable ELF file (*fp NULL otherwise).
 */
static int resolve(struct symbolizer *s, const struct proc_maps *maps, uint64_t ip,
		   struct sym_frame *out, struct file_ent **fp, const struct vma **vp,
		   uint64_t *vaddr)
{
	const struct elf_sym *sym;
	const struct vma *v;
	struct file_ent *f;
	uint64_t pc = ip - 1, off;

	*fp = NULL;
	memset(out, 0, sizeof(*out));
	out->offset = pc;
	if (!ip || !maps)
		return -ENOENT;
	v = proc_maps__find(maps, pc);
	if (!v)
		return -ENOENT;
	if (!vma__is_file(v)) {
		/* [vdso], [heap], JIT code: nothing on disk to read symbols from. */
		if (v->path) {
			out->module = intern_path(s, v->path);
			out->offset = pc - v->start;
		}
		return -ENOENT;
	}
	out->module = intern_path(s, v->path);
	if (!out->module)
		return -ENOMEM;
	off = pc - v->start + v->pgoff;
	out->offset = off;
	f = get_file(s, maps->pid, v);
	if (!f)
		return -ENOMEM;
	if (!f->ef)
		return -ENOENT;
	if (elf_file__build_id(f->ef)[0])
		out->build_id = elf_file__build_id(f->ef);
	if (elf_file__offset_to_vaddr(f->ef, off, vaddr))
		return -ENOENT;
	out->offset = *vaddr;
	*fp = f;
	*vp = v;
	sym = elf_file__lookup(f->ef, *vaddr, NULL);
	if (!sym)
		return -ENOENT;
	out->function = display_name(s, sym->name);
	out->mangled = sym->name;
	return 0;
}

int symbolizer__resolve(struct symbolizer *s, const struct proc_maps *maps, uint64_t ip,
			struct sym_frame *out)
{
	const struct vma *v;
	struct file_ent *f;
	uint64_t vaddr;

	return resolve(s, maps, ip, out, &f, &v, &vaddr);
}

/*
 * The file's DWARF, opened on first use from the path its symbols were read
 * from; if that is gone (the process exited), from the path as mapped, when
 * the build-id still matches. A file without DWARF is looked at once.
 */
static struct dwarf_lines *get_dwarf(struct file_ent *f, uint32_t pid, const struct vma *v)
{
	struct dwarf_lines_opts opts = { 0 };
	char root[64];
	int err;

	if (f->dl_tried)
		return f->dl;
	f->dl_tried = true;
	if (!f->opened)
		return NULL;
	snprintf(root, sizeof(root), "/proc/%u/root", pid);
	/* Debug files are looked for where the process's files were found. */
	opts.sysroot = strncmp(f->opened, "/proc/", 6) ? NULL : root;
	opts.debug_path = elf_file__debug_location(f->ef, &opts.debug_root);
	opts.debug_shown = elf_file__debug_path(f->ef);
	opts.build_id = elf_file__build_id(f->ef);
	err = dwarf_lines__open(f->opened, &opts, &f->dl);
	if (err && err != -ENODATA && err != -ENOMEM && strcmp(f->opened, v->path)) {
		opts.sysroot = NULL;
		dwarf_lines__open(v->path, &opts, &f->dl);
	}
	return f->dl;
}

int symbolizer__resolve_inlines(struct symbolizer *s, const struct proc_maps *maps, uint64_t ip,
				struct sym_frame *out, size_t max, size_t *nr)
{
	const struct dwarf_frame *df;
	const struct vma *v = NULL;
	struct dwarf_lines *dl;
	struct file_ent *f;
	struct sym_frame top;
	uint64_t vaddr = 0;
	size_t n, i, keep;
	int err;

	*nr = 0;
	if (!max)
		return -EINVAL;
	err = resolve(s, maps, ip, &top, &f, &v, &vaddr);
	out[0] = top;
	*nr = 1;
	if (!f)
		return err;
	dl = get_dwarf(f, maps->pid, v);
	if (!dl || dwarf_lines__lookup(dl, vaddr, &df, &n) || !n)
		return err;
	keep = n - 1 < max - 1 ? n - 1 : max - 1;
	for (i = 0; i < keep; i++) {
		out[i] = top;
		out[i].function = df[i].function;
		out[i].mangled = df[i].mangled;
		out[i].file = df[i].file;
		out[i].line = df[i].line;
		out[i].inlined = true;
	}
	out[keep] = top;
	out[keep].file = df[n - 1].file;
	out[keep].line = df[n - 1].line;
	*nr = keep + 1;
	return err;
}
