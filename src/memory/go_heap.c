/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <dwarf.h>
#include <gelf.h>
#include <elfutils/libdw.h>
#include "memory/go_heap.h"
#include "memory/go_version.h"
#include "symbols/x86_insn.h"
#include "symbols/elf_handle.h"
#include "symbols/go_pclntab.h"
#include "util/procmaps.h"

#define GC_CONTROLLER "runtime.gcController"
#define READ_TRIES 8
/* Offsets past this are not a gcControllerState this reader knows. */
#define MAX_FIELD_OFF 4096
/* More than any machine: a word past it is not a byte count. */
#define MAX_PLAUSIBLE (1ULL << 47)

struct go_heap {
	struct go_heap_layout lo;
	struct go_exe_base base;
};

/* ---------------------------------------------------------------- pure */

static const uint8_t buildinfo_magic[14] = "\xff Go buildinf:";

static int uvarint(const uint8_t *p, size_t len, uint64_t *v, size_t *used)
{
	uint64_t x = 0;
	size_t i;

	for (i = 0; i < len && i < 10; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*v = x;
			*used = i + 1;
			return 0;
		}
	}
	return -ENOEXEC;
}

int go_heap__parse_buildinfo(const uint8_t *data, size_t len, char *ver, size_t ver_len)
{
	uint64_t n;
	size_t used;

	if (len < 33 || memcmp(data, buildinfo_magic, sizeof(buildinfo_magic)))
		return -ENOEXEC;
	/* Before Go 1.18 the strings were pointers into the data: not read here. */
	if (!(data[15] & 2))
		return -ENOEXEC;
	if (uvarint(data + 32, len - 32, &n, &used))
		return -ENOEXEC;
	if (n == 0 || n >= ver_len || n > len - 32 - used)
		return -ENOEXEC;
	memcpy(ver, data + 32 + used, n);
	ver[n] = '\0';
	return 0;
}

/*
 * runtime.gcControllerState's heapInUse, heapReleased, heapFree and
 * heapMarked by release. A wrong offset would give wrong figures, a missing
 * one only a note: the entries were read off a binary's DWARF, except
 * go1.20's (below), and each also adds up from its release's
 * runtime/mgcpacer.go (amd64; atomic.Int32 4 B; atomic.Int64/Uint64/Float64,
 * float64, int64, uint64 and sysMemStat (a uint64) 8 B aligned 8). "25 x 8"
 * is the run gcPercentHeapGoal, sweepDistMinTrigger, triggered,
 * lastHeapGoal, heapLive, heapScan, lastHeapScan, lastStackScan,
 * maxStackScan, globalsScan, heapMarked (the 11th: run + 80),
 * heapScanWork, stackScanWork, globalsScanWork, bgScanCredit, assistTime,
 * dedicatedMarkTime, fractionalMarkTime, idleMarkTime, markStartTime,
 * dedicatedMarkWorkersNeeded, idleMarkWorkers, assistWorkPerByte,
 * assistBytesPerWork, fractionalUtilizationGoal:
 *   go1.19: gcPercent 4 + _ uint32 4, memoryLimit/heapMinimum/runway/consMark 32,
 *     consMarkController piController (6 float64 + 2 bool, padded) 56, _ uint32 4
 *     + 4 padding: the run at 104, 25 x 8 = 200: 8+32+56+8+200 = 304.
 *   go1.20: gcPercent 4 + 4 padding, memoryLimit/heapMinimum/runway/consMark
 *     32, lastConsMark float64 8: the run at 48; 8+32+8+200 = 248.
 *   go1.21-go1.27 (the struct is the same in all): gcPercent 4 + 4 padding,
 *     memoryLimit/heapMinimum/runway/consMark 32, lastConsMark [4]float64 32:
 *     the run at 72; 8+32+32+200 = 272.
 * heapReleased and heapFree follow at +8 and +16. Each release's
 * ReadMemStats sets HeapIdle = heapFree + heapReleased, and its
 * runtime/metrics /gc/heap/live:bytes is heapMarked (from 1.21; the field
 * is 1.19's too). go1.20 is the one entry from sources alone (go1.20.2's
 * runtime; no go1.20 compiler here, so no binary was read or run); the same
 * sum reproduces the DWARF-read entries. Other patch releases of a listed
 * minor version are assumed to share its layout.
 */
static const struct {
	unsigned minor;		/* 1.minor */
	uint32_t inuse, released, free, marked;
} offset_table[] = {
	{ 19, 304, 312, 320, 184 },	/* DWARF of a go1.19.8 binary (Debian 12) */
	{ 20, 248, 256, 264, 128 },	/* added up from go1.20.2's sources, not run */
	{ 21, 272, 280, 288, 152 },	/* DWARF of a go1.21.13 binary (Debian 12 backports) */
	{ 22, 272, 280, 288, 152 },	/* DWARF of a go1.22.12 binary (Debian 12 backports) */
	{ 23, 272, 280, 288, 152 },	/* DWARF of a go1.23.5 binary (Debian 12 backports) */
	{ 24, 272, 280, 288, 152 },	/* DWARF of a go1.24.0 binary */
	{ 25, 272, 280, 288, 152 },	/* DWARF of go1.25.5 binaries, X:greenteagc too */
	{ 26, 272, 280, 288, 152 },	/* DWARF of go1.26.8 binaries, X:nogreenteagc too */
	{ 27, 272, 280, 288, 152 },	/* DWARF of a go1.27.3 binary */
};

int go_heap__table_offsets(const char *version, struct go_heap_layout *lo)
{
	struct go_version v;
	size_t i;

	if (go_version__parse(version, &v) || !go_version__table_ok(&v))
		return -ENOENT;
	for (i = 0; i < sizeof(offset_table) / sizeof(offset_table[0]); i++) {
		if (offset_table[i].minor != v.minor)
			continue;
		lo->off_inuse = offset_table[i].inuse;
		lo->off_released = offset_table[i].released;
		lo->off_free = offset_table[i].free;
		lo->off_marked = offset_table[i].marked;
		return 0;
	}
	return -ENOENT;
}

int go_heap__check(const struct go_heap_figures *f, uint64_t arena_mapped, char *why,
		   size_t why_len)
{
	/* Go's heap moves in whole pages: anything else is not these words. */
	if ((f->inuse | f->free | f->released) & 4095) {
		snprintf(why, why_len, "heap words not page-aligned (inuse %" PRIu64 ", free %" PRIu64
			 ", released %" PRIu64 ")", f->inuse, f->free, f->released);
		return -ERANGE;
	}
	if (f->inuse > MAX_PLAUSIBLE || f->free > MAX_PLAUSIBLE || f->released > MAX_PLAUSIBLE) {
		snprintf(why, why_len, "heap words implausibly large");
		return -ERANGE;
	}
	if (f->inuse + f->free + f->released > arena_mapped) {
		snprintf(why, why_len, "heap words (%" PRIu64 " B) exceed the mapped heap arenas (%"
			 PRIu64 " B)", f->inuse + f->free + f->released, arena_mapped);
		return -ERANGE;
	}
	if (!f->inuse) {
		/* A running Go program has spans in use (its own goroutines' g structs at least). */
		snprintf(why, why_len, "no heap in use");
		return -ERANGE;
	}
	/* Marked objects sit in spans in use; 8-byte slots at the least. */
	if (f->live > f->inuse || (f->live & 7)) {
		snprintf(why, why_len, "live heap word (%" PRIu64 " B) not within the heap in use "
			 "(%" PRIu64 " B)", f->live, f->inuse);
		return -ERANGE;
	}
	return 0;
}

static bool has_target(const uint64_t *t, size_t n, uint64_t want)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i] == want)
			return true;
	return false;
}

static int find_base(const uint64_t *targets, size_t n, const struct go_heap_layout *lo,
		     bool base_named, uint64_t *base)
{
	uint64_t found = 0, b;
	size_t i;

	for (i = 0; i < n; i++) {
		if (targets[i] < lo->off_inuse)
			continue;
		b = targets[i] - lo->off_inuse;
		if (b == found || !has_target(targets, n, b + lo->off_free) ||
		    !has_target(targets, n, b + lo->off_released) ||
		    (base_named && !has_target(targets, n, b)))
			continue;
		/* Two structures read the same way: which one is gcController is not known. */
		if (found)
			return -ENOENT;
		found = b;
	}
	if (!found)
		return -ENOENT;
	*base = found;
	return 0;
}

int go_heap__find_base(const uint64_t *targets, size_t n, const struct go_heap_layout *lo,
		       uint64_t *base)
{
	/*
	 * Runs of consecutive words (memstats' own fields) can fit three
	 * offsets 8 bytes apart too: a base also named itself (a method call
	 * on &gcController) is the stronger sign, and is tried first.
	 */
	if (find_base(targets, n, lo, true, base) == 0)
		return 0;
	return find_base(targets, n, lo, false, base);
}

int go_heap__read_stable(go_heap_read_fn read, void *ctx, uint64_t base,
			 const struct go_heap_layout *lo, struct go_heap_figures *f)
{
	const uint32_t offs[4] = { lo->off_inuse, lo->off_released, lo->off_free, lo->off_marked };
	uint32_t lo_off = offs[0], hi_off = offs[0];
	uint8_t a[256], b[256];
	size_t len;
	int i, err;

	for (i = 1; i < 4; i++) {
		lo_off = offs[i] < lo_off ? offs[i] : lo_off;
		hi_off = offs[i] > hi_off ? offs[i] : hi_off;
	}
	len = hi_off - lo_off + 8;
	if (len > sizeof(a))
		return -EINVAL;
	/* One read covers the four words: they are within 256 bytes in every version. */
	err = read(ctx, base + lo_off, a, len);
	for (i = 0; !err && i < READ_TRIES; i++) {
		err = read(ctx, base + lo_off, b, len);
		if (err)
			break;
		if (!memcmp(a, b, len)) {
			memcpy(&f->inuse, a + lo->off_inuse - lo_off, 8);
			memcpy(&f->released, a + lo->off_released - lo_off, 8);
			memcpy(&f->free, a + lo->off_free - lo_off, 8);
			memcpy(&f->live, a + lo->off_marked - lo_off, 8);
			return 0;
		}
		memcpy(a, b, len);
	}
	return err ? err : -EAGAIN;
}

/* ---------------------------------------------------------------- the file */

/* The section named want; NULL: the one holding Go's function table. */
static Elf_Scn *find_section(Elf *elf, const char *want, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	const char *name;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh->sh_name);
		if (name && (want ? !strcmp(name, want) : go_pclntab__section_name(name)))
			return scn;
	}
	return NULL;
}

int go_heap__version(Elf *elf, char *ver, size_t ver_len)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, ".go.buildinfo", &sh);
	Elf_Data *d;

	if (!scn || !(d = elf_handle__section_data(scn)) || !d->d_buf)
		return -ENOENT;
	return go_heap__parse_buildinfo(d->d_buf, d->d_size, ver, ver_len);
}

int go_heap__open_exe(const char *path, struct elf_handle *h, size_t size, void **obj,
		      char *note, size_t note_len)
{
	int err = elf_handle__open(path, h);

	if (err) {
		snprintf(note, note_len, "cannot open the executable: %s", strerror(-err));
		return err;
	}
	*obj = calloc(1, size);
	if (!*obj) {
		elf_handle__close(h);
		return -ENOMEM;
	}
	return 0;
}

int go_heap__symtab_addr(Elf *elf, const char *want, uint64_t *addr, uint64_t *size)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, ".symtab", &sh);
	Elf_Data *d;
	GElf_Sym sym;
	size_t i, n;
	const char *name;

	if (!scn || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize || !(d = elf_getdata(scn, NULL)))
		return -ENOENT;
	n = sh.sh_size / sh.sh_entsize;
	for (i = 0; i < n; i++) {
		if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_OBJECT ||
		    sym.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (name && !strcmp(name, want)) {
			*addr = sym.st_value;
			*size = sym.st_size;
			return 0;
		}
	}
	return -ENOENT;
}

static int member_offsets(Dwarf_Die *type, struct go_heap_layout *lo)
{
	static const char *const names[] = { "heapInUse", "heapReleased", "heapFree",
					     "heapMarked" };
	uint32_t *offs[] = { &lo->off_inuse, &lo->off_released, &lo->off_free, &lo->off_marked };
	unsigned found = 0;
	Dwarf_Die m, mt;
	Dwarf_Attribute at;
	Dwarf_Word off, size;
	const char *name;
	size_t i;

	if (dwarf_peel_type(type, type) || dwarf_tag(type) != DW_TAG_structure_type ||
	    dwarf_child(type, &m))
		return -ENOENT;
	do {
		if (dwarf_tag(&m) != DW_TAG_member || !(name = dwarf_diename(&m)))
			continue;
		for (i = 0; i < 4; i++) {
			if (strcmp(name, names[i]))
				continue;
			if (!dwarf_attr(&m, DW_AT_data_member_location, &at) ||
			    dwarf_formudata(&at, &off) || off > MAX_FIELD_OFF)
				return -ENOENT;
			/* A word each: a changed type would mean a changed meaning. */
			if (!dwarf_attr_integrate(&m, DW_AT_type, &at) || !dwarf_formref_die(&at, &mt) ||
			    dwarf_aggregate_size(&mt, &size) || size != 8)
				return -ENOENT;
			*offs[i] = (uint32_t)off;
			found |= 1u << i;
		}
	} while (dwarf_siblingof(&m, &m) == 0);
	return found == 15 ? 0 : -ENOENT;
}

/* runtime.gcController's address and its three offsets from DWARF. */
static int dwarf_layout(Elf *elf, struct go_heap_layout *lo, uint64_t *addr)
{
	Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	Dwarf_Off off = 0, next;
	Dwarf_Die cu, die, type;
	Dwarf_Attribute at;
	Dwarf_Op *ops;
	size_t hsize, nops;
	const char *name;
	int err = -ENOENT;

	if (!dw)
		return -ENOENT;
	while (err && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		/* The runtime package's unit holds its globals. */
		if (dwarf_offdie(dw, off + hsize, &cu) && (name = dwarf_diename(&cu)) &&
		    !strcmp(name, "runtime") && dwarf_child(&cu, &die) == 0) {
			do {
				if (dwarf_tag(&die) != DW_TAG_variable || !(name = dwarf_diename(&die)) ||
				    strcmp(name, GC_CONTROLLER))
					continue;
				if (!dwarf_attr(&die, DW_AT_type, &at) || !dwarf_formref_die(&at, &type) ||
				    member_offsets(&type, lo))
					break;
				*addr = 0;
				if (dwarf_attr(&die, DW_AT_location, &at) &&
				    dwarf_getlocation(&at, &ops, &nops) == 0 && nops == 1 &&
				    ops[0].atom == DW_OP_addr)
					*addr = ops[0].number;
				err = 0;
				break;
			} while (dwarf_siblingof(&die, &die) == 0);
		}
		off = next;
	}
	dwarf_end(dw);
	return err;
}

struct func_find {
	const char *name;
	uint64_t addr, size;
};

static int match_func(void *ctx, uint64_t addr, uint64_t size, const char *name, size_t name_len)
{
	struct func_find *ff = ctx;

	if (name_len != strlen(ff->name) || memcmp(name, ff->name, name_len))
		return 0;
	ff->addr = addr;
	ff->size = size;
	return 1;
}

/* The bytes at vaddr..vaddr+len in the section that holds them, or NULL. */
static const uint8_t *code_at(Elf *elf, uint64_t vaddr, uint64_t len)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf_Data *d;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR) || vaddr < sh.sh_addr ||
		    vaddr - sh.sh_addr > sh.sh_size || len > sh.sh_size - (vaddr - sh.sh_addr))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size != sh.sh_size)
			return NULL;
		return (const uint8_t *)d->d_buf + (vaddr - sh.sh_addr);
	}
	return NULL;
}

/* Go 1.26+: the text's start, which the pclntab at pclntab_vaddr no longer holds; 0 if none. */
static uint64_t module_text(Elf *elf, uint64_t pclntab_vaddr)
{
	const uint8_t *mod;
	uint64_t text = 0;
	size_t len;

	if (go_heap__section(elf, ".go.module", &mod, &len) == 0)
		go_pclntab__module_text(mod, len, pclntab_vaddr, &text);
	return text;
}

int go_heap__for_each_func(Elf *elf, go_func_fn fn, void *ctx)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, NULL, &sh);
	Elf_Data *d;
	int err;

	if (!scn || !(d = elf_handle__section_data(scn)) || !d->d_buf)
		return -ENOENT;
	err = go_pclntab__parse_at(d->d_buf, d->d_size, module_text(elf, sh.sh_addr), fn, ctx);
	return err == -ENOEXEC ? -ENOENT : err;
}

int go_heap__func_targets(Elf *elf, const char *func, uint64_t **targets, size_t *n)
{
	struct func_find ff = { .name = func };
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, NULL, &sh);
	Elf_Data *d;
	const uint8_t *code;
	struct x86_insn in;
	size_t off = 0;

	*targets = NULL;
	*n = 0;
	if (!scn || !(d = elf_handle__section_data(scn)) || !d->d_buf)
		return -ENOENT;
	if (go_pclntab__parse_at(d->d_buf, d->d_size, module_text(elf, sh.sh_addr), match_func,
				 &ff) != 1 || !ff.size || ff.size > (1u << 20))
		return -ENOENT;
	code = code_at(elf, ff.addr, ff.size);
	if (!code)
		return -ENOENT;
	/* An operand takes at least one byte of its instruction: size bounds the count. */
	*targets = calloc(ff.size, sizeof(**targets));
	if (!*targets)
		return -ENOMEM;
	while (off < ff.size) {
		if (x86_insn__decode(code + off, ff.size - off, ff.addr + off, &in) || !in.len) {
			off++;		/* a byte this decoder does not know: resynchronize */
			continue;
		}
		if (in.rip_rel)
			(*targets)[(*n)++] = in.mem_target;
		off += in.len;
	}
	return 0;
}

int go_heap__section(Elf *elf, const char *name, const uint8_t **data, size_t *len)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(elf, name, &sh);
	Elf_Data *d;

	if (!scn || !(d = elf_handle__section_data(scn)) || !d->d_buf)
		return -ENOENT;
	*data = d->d_buf;
	*len = d->d_size;
	return 0;
}

/*
 * Without a symbol table: runtime.readmemstats_m (found by name in
 * .gopclntab) reads gcController's three words rip-relative; the base they
 * share is the variable.
 */
static int code_addr(Elf *elf, const struct go_heap_layout *lo, uint64_t *addr)
{
	uint64_t *targets;
	size_t n;
	int err;

	err = go_heap__func_targets(elf, "runtime.readmemstats_m", &targets, &n);
	if (err)
		return err;
	err = go_heap__find_base(targets, n, lo, addr);
	free(targets);
	return err;
}

void go_heap__exe_base(const struct elf_handle *h, struct go_exe_base *b)
{
	GElf_Phdr ph;
	size_t i, n;

	b->pie = h->eh.e_type == ET_DYN;
	b->first_vaddr = 0;
	if (elf_getphdrnum(h->elf, &n))
		return;
	for (i = 0; i < n; i++) {
		if (gelf_getphdr(h->elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
			b->first_vaddr = (ph.p_vaddr - ph.p_offset) & ~4095ULL;
			return;
		}
	}
}

int go_heap__open(const char *path, struct go_heap **out, char *note, size_t note_len)
{
	struct elf_handle h;
	struct go_heap *gh;
	uint64_t dwarf_addr = 0, sym_addr = 0, sym_size = 0;
	uint32_t hi;
	int err;

	*out = NULL;
	err = go_heap__open_exe(path, &h, sizeof(*gh), (void **)&gh, note, note_len);
	if (err)
		return err;
	go_heap__exe_base(&h, &gh->base);
	if (go_heap__version(h.elf, gh->lo.version, sizeof(gh->lo.version))) {
		snprintf(note, note_len, "no Go version in .go.buildinfo (Go 1.18+ needed)");
		err = -ENOEXEC;
		goto fail;
	}
	if (dwarf_layout(h.elf, &gh->lo, &dwarf_addr) == 0) {
		gh->lo.source = "dwarf";
	} else if (go_heap__table_offsets(gh->lo.version, &gh->lo) == 0) {
		gh->lo.source = "table";
	} else {
		snprintf(note, note_len, "%s: no DWARF, and memtrace's tables do not describe this "
			 "runtime's heap layout (releases go1.19-go1.27, no experiment but the GC's; "
			 "go1.20 from sources only)", gh->lo.version);
		err = -ENOENT;
		goto fail;
	}
	if (go_heap__symtab_addr(h.elf, GC_CONTROLLER, &sym_addr, &sym_size) == 0) {
		gh->lo.addr = sym_addr;
		gh->lo.addr_source = "symtab";
		hi = gh->lo.off_inuse > gh->lo.off_free ? gh->lo.off_inuse : gh->lo.off_free;
		hi = gh->lo.off_released > hi ? gh->lo.off_released : hi;
		hi = gh->lo.off_marked > hi ? gh->lo.off_marked : hi;
		if (sym_size && sym_size < hi + 8ULL) {
			snprintf(note, note_len, "%s: " GC_CONTROLLER " is %" PRIu64
				 " bytes, too small for its fields at %u/%u/%u", gh->lo.version,
				 sym_size, gh->lo.off_inuse, gh->lo.off_released, gh->lo.off_free);
			err = -ERANGE;
			goto fail;
		}
	} else if (dwarf_addr) {
		gh->lo.addr = dwarf_addr;
		gh->lo.addr_source = "dwarf";
	} else if (code_addr(h.elf, &gh->lo, &gh->lo.addr) == 0) {
		gh->lo.addr_source = "code";
	} else {
		snprintf(note, note_len, "%s: no symbol table, and runtime.readmemstats_m's code "
			 "does not show where " GC_CONTROLLER " is", gh->lo.version);
		err = -ENOENT;
		goto fail;
	}
	elf_handle__close(&h);
	*out = gh;
	return 0;
fail:
	elf_handle__close(&h);
	free(gh);
	return err;
}

void go_heap__free(struct go_heap *gh)
{
	free(gh);
}

const struct go_heap_layout *go_heap__layout(const struct go_heap *gh)
{
	return &gh->lo;
}

int go_heap__base_bias(const struct go_exe_base *b, const struct proc_maps *maps,
		       const char *path, uint64_t *bias)
{
	size_t i;

	*bias = 0;
	if (!b->pie)
		return 0;
	if (!maps || !path)
		return -ENOENT;
	for (i = 0; i < maps->nr; i++) {
		const struct vma *v = &maps->vmas[i];

		if (v->path && v->pgoff == 0 && !strcmp(v->path, path)) {
			*bias = v->start - b->first_vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

int go_heap__bias(const struct go_heap *gh, const struct proc_maps *maps, const char *path,
		  uint64_t *bias)
{
	return go_heap__base_bias(&gh->base, maps, path, bias);
}

int go_heap__pid_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	pid_t pid = *(const pid_t *)ctx;
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int go_heap__read(const struct go_heap *gh, pid_t pid, uint64_t bias, uint64_t arena_mapped,
		  struct go_heap_figures *f, char *note, size_t note_len)
{
	int err;

	err = go_heap__read_stable(go_heap__pid_read, &pid, gh->lo.addr + bias, &gh->lo, f);
	if (err == -EAGAIN) {
		snprintf(note, note_len, "the runtime's heap words kept changing while read");
		return err;
	}
	if (err) {
		snprintf(note, note_len, "cannot read the runtime's heap words: %s", strerror(-err));
		return err;
	}
	return go_heap__check(f, arena_mapped, note, note_len);
}
