/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols/debug_file.h"
#include "symbols/elf_file.h"
#include "symbols/elf_handle.h"
#include "symbols/go_pclntab.h"

#define BUILD_ID_MAX		64		/* bytes; real ones are 20 */
#define STR_BLOCK_SIZE		65536

struct load_seg {
	uint64_t off, vaddr, filesz, memsz;
	bool exec;
};

struct sym_ent {
	struct elf_sym sym;
	uint64_t end;		/* lookup covers [sym.addr, end) */
	bool weak;
};

struct str_block {
	struct str_block *next;
	size_t used, cap;
	char data[];
};

struct elf_file {
	int fd;
	uint64_t size;
	dev_t dev;		/* of the file open: never its own debug file */
	ino_t ino;
	uint16_t type, machine;
	unsigned char class, data_enc;	/* EI_CLASS, EI_DATA */
	bool has_interp;
	bool is_go;			/* has Go's build info or pclntab */
	struct load_seg *segs;
	size_t nr_segs;
	char build_id[2 * BUILD_ID_MAX + 1];
	char *debug_path;	/* as shown: debug_root and debug_rel joined */
	char *debug_root;	/* NULL: the host's / */
	char *debug_rel;
	struct sym_ent *syms;		/* every accepted symbol, for lookup by name */
	size_t nr_syms, cap_syms;
	struct sym_ent *by_addr;	/* one per address, sorted */
	size_t nr_addr;
	struct str_block *strs;
};

/* What a pass over the section headers finds. */
struct scan {
	Elf_Scn *symtab;
	Elf_Scn *dynsym;
	Elf_Scn *debuglink;
	Elf_Scn *gopclntab;
	Elf_Scn *gomodule;	/* Go 1.26+: where the pclntab's text start is */
	bool is_go;
	char build_id[2 * BUILD_ID_MAX + 1];
};

static bool range_ok(uint64_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

/* Names are copied out so that the Elf handle can be dropped after loading. */
static const char *str_save(struct elf_file *ef, const char *s, size_t len)
{
	struct str_block *b = ef->strs;
	char *p;

	if (!b || b->cap - b->used < len + 1) {
		size_t cap = len + 1 > STR_BLOCK_SIZE ? len + 1 : STR_BLOCK_SIZE;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = ef->strs;
		b->used = 0;
		b->cap = cap;
		ef->strs = b;
	}
	p = b->data + b->used;
	memcpy(p, s, len);
	p[len] = '\0';
	b->used += len + 1;
	return p;
}

static void parse_notes(Elf_Data *data, char *build_id)
{
	static const char hex[] = "0123456789abcdef";
	size_t off = 0, next, name_off, desc_off, i;
	GElf_Nhdr nh;

	if (!data || !data->d_buf || (data->d_type != ELF_T_NHDR && data->d_type != ELF_T_NHDR8))
		return;
	while (off < data->d_size &&
	       (next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const unsigned char *name = (const unsigned char *)data->d_buf + name_off;
		const unsigned char *desc = (const unsigned char *)data->d_buf + desc_off;

		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && !memcmp(name, "GNU", 4) &&
		    nh.n_descsz >= 2 && nh.n_descsz <= BUILD_ID_MAX) {
			for (i = 0; i < nh.n_descsz; i++) {
				build_id[2 * i] = hex[desc[i] >> 4];
				build_id[2 * i + 1] = hex[desc[i] & 0xf];
			}
			build_id[2 * i] = '\0';
			return;
		}
		off = next;
	}
}

/*
 * The header's tables must lie inside the file. The raw counts are used:
 * libelf quietly shortens a table that runs past the end, which would let a
 * truncated file pass as one without symbols.
 */
static int check_layout(Elf *elf, const GElf_Ehdr *eh, uint64_t size)
{
	size_t phsz = gelf_fsize(elf, ELF_T_PHDR, 1, EV_CURRENT);
	size_t shsz = gelf_fsize(elf, ELF_T_SHDR, 1, EV_CURRENT);
	uint64_t phnum = eh->e_phnum, shnum = eh->e_shnum;
	GElf_Shdr sh0;
	Elf_Scn *s0;

	if (!phsz || !shsz || (eh->e_shoff && eh->e_shentsize != shsz))
		return -ENOEXEC;
	if (phnum == PN_XNUM || (!shnum && eh->e_shoff)) {
		/* Extended numbering: the real counts are in section 0. */
		if (!range_ok(size, eh->e_shoff, shsz) || !(s0 = elf_getscn(elf, 0)) ||
		    !gelf_getshdr(s0, &sh0))
			return -ENOEXEC;
		if (phnum == PN_XNUM)
			phnum = sh0.sh_info;
		if (!shnum)
			shnum = sh0.sh_size;
	}
	if (phnum && (eh->e_phentsize != phsz || phnum > size / phsz ||
		      !range_ok(size, eh->e_phoff, phnum * phsz)))
		return -ENOEXEC;
	if (eh->e_shoff && (shnum > size / shsz || !range_ok(size, eh->e_shoff, shnum * shsz)))
		return -ENOEXEC;
	return 0;
}

static int scan_sections(Elf *elf, uint64_t size, struct scan *sc)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool have_names;

	have_names = elf_getshdrstrndx(elf, &shstrndx) == 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			return -ENOEXEC;
		if (sh.sh_type == SHT_NOBITS || sh.sh_type == SHT_NULL)
			continue;
		if (!range_ok(size, sh.sh_offset, sh.sh_size))
			return -ENOEXEC;
		switch (sh.sh_type) {
		case SHT_SYMTAB:
			if (!sc->symtab)
				sc->symtab = scn;
			break;
		case SHT_DYNSYM:
			if (!sc->dynsym)
				sc->dynsym = scn;
			break;
		case SHT_NOTE:
			if (!sc->build_id[0])
				parse_notes(elf_handle__section_data(scn), sc->build_id);
			break;
		case SHT_PROGBITS:
			name = have_names ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
			if (name && !strcmp(name, ".gnu_debuglink"))
				sc->debuglink = scn;
			if (name && !strcmp(name, ".go.buildinfo"))
				sc->is_go = true;
			if (name && !strcmp(name, ".go.module"))
				sc->gomodule = scn;
			if (name && go_pclntab__section_name(name) && !sc->gopclntab) {
				sc->is_go = true;
				sc->gopclntab = scn;
			}
			break;
		}
	}
	return 0;
}

static int load_phdrs(struct elf_file *ef, Elf *elf, struct scan *sc)
{
	size_t phnum, i, n = 0;

	if (elf_getphdrnum(elf, &phnum))
		return -ENOEXEC;
	if (phnum) {
		ef->segs = calloc(phnum, sizeof(*ef->segs));
		if (!ef->segs)
			return -ENOMEM;
	}
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph))
			return -ENOEXEC;
		switch (ph.p_type) {
		case PT_INTERP:
			ef->has_interp = true;
			break;
		case PT_LOAD:
			if (!range_ok(ef->size, ph.p_offset, ph.p_filesz) ||
			    ph.p_filesz > ph.p_memsz || ph.p_vaddr > UINT64_MAX - ph.p_memsz)
				return -ENOEXEC;
			ef->segs[n++] = (struct load_seg){ ph.p_offset, ph.p_vaddr, ph.p_filesz,
							   ph.p_memsz, ph.p_flags & PF_X };
			break;
		case PT_NOTE:
			if (sc->build_id[0] || !range_ok(ef->size, ph.p_offset, ph.p_filesz))
				break;
			parse_notes(elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
							 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR),
				    sc->build_id);
			break;
		}
	}
	ef->nr_segs = n;
	return 0;
}

static int add_sym(struct elf_file *ef, const struct sym_ent *e)
{
	if (ef->nr_syms == ef->cap_syms) {
		size_t ncap = ef->cap_syms ? ef->cap_syms * 2 : 256;
		struct sym_ent *n = realloc(ef->syms, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ef->syms = n;
		ef->cap_syms = ncap;
	}
	ef->syms[ef->nr_syms++] = *e;
	return 0;
}

static int add_go_func(void *ctx, uint64_t addr, uint64_t size, const char *name, size_t len)
{
	struct elf_file *ef = ctx;
	struct sym_ent e = { 0 };

	if (!addr)
		return 0;
	e.sym.name = str_save(ef, name, len);
	if (!e.sym.name)
		return -ENOMEM;
	e.sym.addr = addr;
	e.sym.size = size;
	e.sym.global = true;
	return add_sym(ef, &e);
}

/* A stripped Go binary still names its functions in its pclntab. */
static int load_gopclntab(struct elf_file *ef, Elf_Scn *scn, Elf_Scn *module)
{
	Elf_Data *data = elf_handle__section_data(scn), *mod;
	uint64_t text = 0;
	GElf_Shdr sh;
	int err;

	if (!data || !data->d_buf || !gelf_getshdr(scn, &sh))
		return 0;
	/* Go 1.26+ keeps the text's start in the moduledata only. */
	mod = module ? elf_handle__section_data(module) : NULL;
	if (mod && mod->d_buf)
		go_pclntab__module_text(mod->d_buf, mod->d_size, sh.sh_addr, &text);
	err = go_pclntab__parse_at(data->d_buf, data->d_size, text, add_go_func, ef);
	/* An unknown pclntab version leaves the file without names, not unreadable. */
	return err == -ENOEXEC ? 0 : err;
}

static int load_symtab(struct elf_file *ef, Elf *elf, Elf_Scn *scn, bool dynamic)
{
	size_t entsz = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	GElf_Shdr sh, strsh;
	Elf_Scn *strscn;
	Elf_Data *data;
	size_t i, n;
	int err;

	if (!gelf_getshdr(scn, &sh))
		return -ENOEXEC;
	if (sh.sh_type == SHT_NOBITS)
		return 0;
	strscn = elf_getscn(elf, sh.sh_link);
	if (!entsz || !strscn || !gelf_getshdr(strscn, &strsh) || strsh.sh_type != SHT_STRTAB)
		return -ENOEXEC;
	/* elf_strptr() reads the string table as it is in memory: inflate it first. */
	if ((strsh.sh_flags & SHF_COMPRESSED) && !elf_handle__section_data(strscn))
		return -ENOEXEC;
	data = elf_handle__section_data(scn);
	if (!data)
		return -ENOEXEC;
	n = data->d_size / entsz;
	if (n > INT_MAX)
		n = INT_MAX;
	for (i = 1; i < n; i++) {
		struct sym_ent e = { 0 };
		const char *name, *at;
		unsigned int type, bind;
		GElf_Sym s;

		if (!gelf_getsym(data, (int)i, &s))
			return -ENOEXEC;
		type = GELF_ST_TYPE(s.st_info);
		bind = GELF_ST_BIND(s.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF ||
		    !s.st_value)
			continue;
		name = elf_strptr(elf, sh.sh_link, s.st_name);
		if (!name || !name[0])
			continue;
		/* Versioned names in a static symtab ("memcpy@GLIBC_2.2.5") */
		at = strchr(name + 1, '@');
		e.sym.name = str_save(ef, name, at ? (size_t)(at - name) : strlen(name));
		if (!e.sym.name)
			return -ENOMEM;
		e.sym.addr = s.st_value;
		e.sym.size = s.st_size;
		e.sym.global = bind == STB_GLOBAL || bind == STB_WEAK || bind == STB_GNU_UNIQUE;
		e.sym.dynamic = dynamic;
		e.weak = bind == STB_WEAK;
		err = add_sym(ef, &e);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Among aliases of one address the first after sorting names the frame:
 * global over local, .symtab over .dynsym, then the name most likely to be
 * the one a programmer called (malloc, not __libc_malloc).
 */
static int sym_cmp(const void *a, const void *b)
{
	const struct sym_ent *x = a, *y = b;
	size_t ux, uy;

	if (x->sym.addr != y->sym.addr)
		return x->sym.addr < y->sym.addr ? -1 : 1;
	if (x->sym.global != y->sym.global)
		return x->sym.global ? -1 : 1;
	if (x->sym.dynamic != y->sym.dynamic)
		return x->sym.dynamic ? 1 : -1;
	ux = strspn(x->sym.name, "_");
	uy = strspn(y->sym.name, "_");
	if (ux != uy)
		return ux < uy ? -1 : 1;
	if (x->weak != y->weak)
		return x->weak ? 1 : -1;
	if (!x->sym.size != !y->sym.size)
		return x->sym.size ? -1 : 1;
	return strcmp(x->sym.name, y->sym.name);
}

static int build_addr_index(struct elf_file *ef)
{
	size_t i, j, n = 0;

	if (!ef->nr_syms)
		return 0;
	ef->by_addr = malloc(ef->nr_syms * sizeof(*ef->by_addr));
	if (!ef->by_addr)
		return -ENOMEM;
	memcpy(ef->by_addr, ef->syms, ef->nr_syms * sizeof(*ef->by_addr));
	qsort(ef->by_addr, ef->nr_syms, sizeof(*ef->by_addr), sym_cmp);

	for (i = 0; i < ef->nr_syms; i++) {
		struct sym_ent *e = &ef->by_addr[i];

		if (n && ef->by_addr[n - 1].sym.addr == e->sym.addr) {
			/* An alias may carry the size the preferred name lacks. */
			if (e->sym.size > ef->by_addr[n - 1].sym.size)
				ef->by_addr[n - 1].sym.size = e->sym.size;
			continue;
		}
		ef->by_addr[n++] = *e;
	}
	ef->nr_addr = n;

	for (i = 0; i < n; i++) {
		struct sym_ent *e = &ef->by_addr[i];
		uint64_t next = i + 1 < n ? ef->by_addr[i + 1].sym.addr : UINT64_MAX;

		if (e->sym.size) {
			e->end = e->sym.addr > UINT64_MAX - e->sym.size ? UINT64_MAX
								       : e->sym.addr + e->sym.size;
			continue;
		}
		/*
		 * An unsized symbol (hand-written assembly) reaches the next
		 * one, but not past its segment: the last one would otherwise
		 * claim every address above it.
		 */
		e->end = next;
		for (j = 0; j < ef->nr_segs; j++) {
			const struct load_seg *s = &ef->segs[j];

			if (e->sym.addr - s->vaddr < s->memsz && s->vaddr + s->memsz < e->end)
				e->end = s->vaddr + s->memsz;
		}
	}
	return 0;
}

struct debug_want {
	struct elf_file *ef;
	bool have_crc;
	uint32_t crc;
};

/*
 * Load the .symtab of a candidate separate debug file. It must be an ELF for
 * the same machine and be the right one: same build-id when both have one,
 * else the CRC recorded in .gnu_debuglink.
 */
static bool load_debug_file(void *ctx, const struct debug_candidate *c)
{
	struct debug_want *w = ctx;
	struct elf_file *ef = w->ef;
	struct scan sc = { 0 };
	size_t nr_before = ef->nr_syms;
	struct elf_handle h;
	uint32_t got;
	bool ok = false;

	if (elf_handle__from_fd(c->fd, &h))
		return false;
	if (h.dev == ef->dev && h.ino == ef->ino)
		goto out_elf;
	if (check_layout(h.elf, &h.eh, h.size))
		goto out_elf;
	if (h.eh.e_ident[EI_CLASS] != ef->class || h.eh.e_machine != ef->machine)
		goto out_elf;
	if (scan_sections(h.elf, h.size, &sc) || !sc.symtab)
		goto out_elf;
	if (ef->build_id[0] && sc.build_id[0]) {
		if (strcmp(ef->build_id, sc.build_id))
			goto out_elf;
	} else if (w->have_crc && h.size <= DEBUG_FILE_MAX_CRC_BYTES) {
		if (debug_file__crc(h.fd, h.size, &got) || got != w->crc)
			goto out_elf;
	} else {
		goto out_elf;
	}
	if (load_symtab(ef, h.elf, sc.symtab, false))
		goto out_elf;
	ef->debug_path = strdup(c->shown);
	ef->debug_root = c->root ? strdup(c->root) : NULL;
	ef->debug_rel = strdup(c->path);
	if (!ef->debug_path || (c->root && !ef->debug_root) || !ef->debug_rel) {
		free(ef->debug_path);
		free(ef->debug_root);
		free(ef->debug_rel);
		ef->debug_path = ef->debug_root = ef->debug_rel = NULL;
		goto out_elf;
	}
	ok = true;
out_elf:
	/*
	 * The symbols are copied out: a file taken is not kept open; one
	 * refused stays the search's, which closes it.
	 */
	if (!ok) {
		ef->nr_syms = nr_before;
		h.fd = -1;
	}
	elf_handle__close(&h);
	return ok;
}

/* Read the debuglink section: a file name, padding to 4, a CRC-32. */
static int read_debuglink(struct elf_file *ef, Elf_Scn *scn, char *name, size_t name_sz,
			  uint32_t *crc)
{
	Elf_Data *d = elf_handle__section_data(scn);
	const char *buf, *nul;
	size_t len, crc_off;
	unsigned char b[4];
	int i;

	if (!d || !d->d_buf || !d->d_size)
		return -ENOENT;
	buf = d->d_buf;
	nul = memchr(buf, '\0', d->d_size);
	if (!nul || nul == buf)
		return -ENOENT;
	len = (size_t)(nul - buf);
	crc_off = (len + 1 + 3) & ~(size_t)3;
	if (len >= name_sz || crc_off > d->d_size || d->d_size - crc_off < 4)
		return -ENOENT;
	memcpy(name, buf, len + 1);
	memcpy(b, buf + crc_off, 4);
	for (i = 0, *crc = 0; i < 4; i++)
		*crc |= (uint32_t)b[i] << (ef->data_enc == ELFDATA2MSB ? 24 - 8 * i : 8 * i);
	return 0;
}

static void find_debug_file(struct elf_file *ef, const struct scan *sc, const char *path,
			    const struct elf_file_opts *opts)
{
	char link[NAME_MAX + 1];
	struct debug_want w = { .ef = ef };
	struct debug_search s = {
		.build_id = ef->build_id,
		.path = path,
		.origin_path = opts ? opts->origin_path : NULL,
		.sysroot = opts ? opts->sysroot : NULL,
	};

	if (sc->debuglink && !read_debuglink(ef, sc->debuglink, link, sizeof(link), &w.crc)) {
		s.debuglink = link;
		w.have_crc = true;
	}
	debug_file__search(&s, load_debug_file, &w);
}

static int load(struct elf_file *ef, Elf *elf, const GElf_Ehdr *eh, const char *path,
		const struct elf_file_opts *opts)
{
	struct scan sc = { 0 };
	int err;

	if (check_layout(elf, eh, ef->size) || (eh->e_type != ET_EXEC && eh->e_type != ET_DYN))
		return -ENOEXEC;
	ef->type = eh->e_type;
	ef->machine = eh->e_machine;
	ef->class = eh->e_ident[EI_CLASS];
	ef->data_enc = eh->e_ident[EI_DATA];

	err = load_phdrs(ef, elf, &sc);
	if (err)
		return err;
	err = scan_sections(elf, ef->size, &sc);
	if (err)
		return err;
	memcpy(ef->build_id, sc.build_id, sizeof(ef->build_id));
	ef->is_go = sc.is_go;

	if (sc.symtab)
		err = load_symtab(ef, elf, sc.symtab, false);
	if (!err && sc.dynsym)
		err = load_symtab(ef, elf, sc.dynsym, true);
	if (err)
		return err;
	if (!sc.symtab && !(opts && opts->no_debug_files))
		find_debug_file(ef, &sc, path, opts);
	if (!err && !sc.symtab && sc.gopclntab && !ef->debug_path)
		err = load_gopclntab(ef, sc.gopclntab, sc.gomodule);
	return build_addr_index(ef);
}

int elf_file__open(const char *path, const struct elf_file_opts *opts, struct elf_file **out)
{
	struct elf_handle h;
	struct elf_file *ef;
	int err;

	*out = NULL;
	err = elf_handle__open(path, &h);
	if (err)
		return err;
	ef = calloc(1, sizeof(*ef));
	if (!ef) {
		elf_handle__close(&h);
		return -ENOMEM;
	}
	/* The fd stays for elf_file__read(); the Elf only while loading. */
	ef->fd = h.fd;
	ef->size = h.size;
	ef->dev = h.dev;
	ef->ino = h.ino;
	h.fd = -1;
	err = load(ef, h.elf, &h.eh, path, opts);
	elf_handle__close(&h);
	if (err) {
		elf_file__free(ef);
		return err;
	}
	*out = ef;
	return 0;
}

void elf_file__free(struct elf_file *ef)
{
	struct str_block *b, *next;

	if (!ef)
		return;
	if (ef->fd >= 0)
		close(ef->fd);
	for (b = ef->strs; b; b = next) {
		next = b->next;
		free(b);
	}
	free(ef->segs);
	free(ef->syms);
	free(ef->by_addr);
	free(ef->debug_path);
	free(ef->debug_root);
	free(ef->debug_rel);
	free(ef);
}

bool elf_file__is_dynamic(const struct elf_file *ef)
{
	return ef->has_interp;
}

bool elf_file__is_go(const struct elf_file *ef)
{
	return ef->is_go;
}

bool elf_file__is_pie_or_dso(const struct elf_file *ef)
{
	return ef->type == ET_DYN;
}

const char *elf_file__build_id(const struct elf_file *ef)
{
	return ef->build_id;
}

const char *elf_file__debug_path(const struct elf_file *ef)
{
	return ef->debug_path;
}

const char *elf_file__debug_location(const struct elf_file *ef, const char **root)
{
	*root = ef->debug_root;
	return ef->debug_rel;
}

size_t elf_file__nr_syms(const struct elf_file *ef)
{
	return ef->nr_addr;
}

const struct elf_sym *elf_file__sym_at(const struct elf_file *ef, size_t i)
{
	return i < ef->nr_addr ? &ef->by_addr[i].sym : NULL;
}

/* x, a file offset or a vaddr (from_vaddr), to the other through the segment holding it. */
static int translate(const struct elf_file *ef, uint64_t x, bool from_vaddr, uint64_t *out)
{
	size_t i;

	for (i = 0; i < ef->nr_segs; i++) {
		const struct load_seg *s = &ef->segs[i];
		uint64_t from = from_vaddr ? s->vaddr : s->off, to = from_vaddr ? s->off : s->vaddr;

		if (x >= from && x - from < s->filesz) {
			*out = to + (x - from);
			return 0;
		}
	}
	return -ERANGE;
}

int elf_file__offset_to_vaddr(const struct elf_file *ef, uint64_t off, uint64_t *vaddr)
{
	return translate(ef, off, false, vaddr);
}

int elf_file__code_mapping_vaddr(const struct elf_file *ef, uint64_t pgoff, uint64_t *vaddr)
{
	size_t i;

	/*
	 * The loader maps a segment from its offset rounded down to a page, so
	 * a mapping's first page can hold the end of the segment before it in
	 * the file (lld packs them so): that page is mapped twice, at two
	 * addresses. An executable mapping is its executable segment's.
	 */
	for (i = 0; i < ef->nr_segs; i++) {
		const struct load_seg *s = &ef->segs[i];
		uint64_t first = s->off & ~(uint64_t)4095;

		if (s->exec && pgoff >= first && pgoff < s->off + s->filesz) {
			*vaddr = s->vaddr + pgoff - s->off;
			return 0;
		}
	}
	return translate(ef, pgoff, false, vaddr);
}

int elf_file__vaddr_to_offset(const struct elf_file *ef, uint64_t vaddr, uint64_t *off)
{
	return translate(ef, vaddr, true, off);
}

const struct elf_sym *elf_file__lookup(const struct elf_file *ef, uint64_t vaddr, uint64_t *sym_off)
{
	size_t lo = 0, hi = ef->nr_addr;
	const struct sym_ent *e;

	if (!hi || vaddr < ef->by_addr[0].sym.addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ef->by_addr[mid].sym.addr <= vaddr)
			lo = mid;
		else
			hi = mid;
	}
	e = &ef->by_addr[lo];
	if (vaddr >= e->end)
		return NULL;
	if (sym_off)
		*sym_off = vaddr - e->sym.addr;
	return &e->sym;
}

const struct elf_sym *elf_file__find_func(const struct elf_file *ef, const char *name,
					  bool dynamic_only)
{
	const struct elf_sym *best = NULL;
	size_t i;

	for (i = 0; i < ef->nr_syms; i++) {
		const struct elf_sym *s = &ef->syms[i].sym;

		if ((dynamic_only && !s->dynamic) || strcmp(s->name, name))
			continue;
		/* A global definition wins over a local one of the same name. */
		if (!best || (s->global && !best->global))
			best = s;
	}
	return best;
}

int elf_file__read(const struct elf_file *ef, uint64_t off, void *buf, size_t len)
{
	unsigned char *p = buf;
	ssize_t n;

	if (!range_ok(ef->size, off, len))
		return -ERANGE;
	while (len) {
		n = pread(ef->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ERANGE;	/* the file shrank since it was opened */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}
