/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where CPython 3.11-3.13 keep what memtrace reads. The table is the
 * releases' own structures (Include/internal/pycore_*.h of 3.11, 3.12 and
 * 3.13: _PyRuntimeState, PyInterpreterState, PyThreadState, _PyCFrame,
 * _PyInterpreterFrame, PyCodeObject, PyASCIIObject), which do not change
 * within a release series; 3.13's runtime also describes itself in
 * _Py_DebugOffsets, the first bytes of _PyRuntime, statically initialized
 * in the file, which are read and preferred where they cover a field.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "symbols/elf_handle.h"
#include "symbols/py_layout.h"

/* The smallest runtime structure the 3.13 debug offsets need. */
#define DEBUG_OFFSETS_WORDS 73
#define MAX_OFFSET 0xfff0

struct version_layout {
	uint32_t minor;
	struct mt_py_layout bpf;
	struct py_code_layout code;
};

/*
 * Per release series: offsets from each series' headers (3.11.2 and 3.11.7,
 * 3.12.1, 3.13.0 compiled against, all 3.11 alike). The main interpreter is
 * interpreters.main; 3.11's GIL is the runtime's (ceval.gil), 3.12's and
 * 3.13's each interpreter's own (_gil).
 */
static const struct version_layout table[] = {
	{ 11,
	  { .interp_main = 48, .gil_holder = 368, .gil_in_runtime = 1, .interp_threads = 16,
	    .tstate_next = 8, .tstate_tid = 160, .tstate_cframe = 56, .current_frame = 8,
	    .frame_previous = 48, .frame_code = 32, .frame_instr = 56, .frame_owner = 69,
	    .frame_is_entry = 68, .owner_cstack = MT_PY_NONE },
	  { .ob_type = 8, .co_filename = 112, .co_name = 120, .co_qualname = 128,
	    .co_linetable = 136, .co_firstlineno = 72, .co_code_adaptive = 184,
	    .bytes_size = 16, .bytes_sval = 32, .str_length = 16, .str_state = 32,
	    .str_ascii_size = 48, .str_compact_size = 72 } },
	{ 12,
	  { .interp_main = 48, .gil_holder = 1040 + 8, .gil_in_runtime = 0, .interp_threads = 72,
	    .tstate_next = 8, .tstate_tid = 144, .tstate_cframe = 56, .current_frame = 0,
	    .frame_previous = 8, .frame_code = 0, .frame_instr = 56, .frame_owner = 70,
	    .frame_is_entry = MT_PY_NONE, .owner_cstack = 3 },
	  { .ob_type = 8, .co_filename = 112, .co_name = 120, .co_qualname = 128,
	    .co_linetable = 136, .co_firstlineno = 68, .co_code_adaptive = 192,
	    .bytes_size = 16, .bytes_sval = 32, .str_length = 16, .str_state = 32,
	    .str_ascii_size = 40, .str_compact_size = 56 } },
	{ 13,
	  { .interp_main = 640, .gil_holder = 7752 + 8, .gil_in_runtime = 0, .interp_threads = 7344,
	    .tstate_next = 8, .tstate_tid = 160, .tstate_cframe = MT_PY_NONE, .current_frame = 72,
	    .frame_previous = 8, .frame_code = 0, .frame_instr = 56, .frame_owner = 70,
	    .frame_is_entry = MT_PY_NONE, .owner_cstack = 3 },
	  { .ob_type = 8, .co_filename = 112, .co_name = 120, .co_qualname = 128,
	    .co_linetable = 136, .co_firstlineno = 68, .co_code_adaptive = 200,
	    .bytes_size = 16, .bytes_sval = 32, .str_length = 16, .str_state = 32,
	    .str_ascii_size = 40, .str_compact_size = 56 } },
};

/* pymalloc 3.10+ on 64-bit: 16 KiB pools (the radix tree's), szidx at 36 in pool_header. */
#define POOL_SIZE	16384
#define POOL_SZIDX	36

static void version_string(uint32_t hex, char *buf, size_t len)
{
	static const char level[16] = { [0xa] = 'a', [0xb] = 'b', [0xc] = 'c' };
	unsigned lv = (hex >> 4) & 0xf;

	if (lv == 0xf || !level[lv])
		snprintf(buf, len, "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff);
	else
		snprintf(buf, len, "%u.%u.%u%s%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff,
			 lv == 0xc ? "rc" : lv == 0xb ? "b" : "a", hex & 0xf);
}

int py_interp__table(uint32_t hexversion, struct py_interp *out)
{
	size_t i;

	if ((hexversion >> 24) != 3)
		return -ENOENT;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].minor != ((hexversion >> 16) & 0xff))
			continue;
		out->bpf = table[i].bpf;
		out->bpf.pool_size = POOL_SIZE;
		out->bpf.pool_szidx = POOL_SZIDX;
		out->code = table[i].code;
		out->source = "table";
		return 0;
	}
	return -ENOENT;
}

static int fits(uint64_t v, uint16_t *out)
{
	if (v > MAX_OFFSET)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int py_interp__debug_offsets(const uint8_t *data, size_t len, struct py_interp *out)
{
	uint64_t w[DEBUG_OFFSETS_WORDS];
	struct py_interp d = *out;
	int bad = 0;

	if (len < sizeof(w) || memcmp(data, "xdebugpy", 8)) {
		snprintf(out->note, sizeof(out->note), "no _Py_DebugOffsets at _PyRuntime");
		return -EINVAL;
	}
	memcpy(w, data, sizeof(w));
	if ((uint32_t)w[1] != out->hexversion) {
		snprintf(out->note, sizeof(out->note),
			 "_Py_DebugOffsets are version %#x, the interpreter %#x",
			 (unsigned)w[1], out->hexversion);
		return -EINVAL;
	}
	if (w[2]) {
		snprintf(out->note, sizeof(out->note),
			 "a free-threaded build: its frames are not read");
		return -EINVAL;
	}
	/* interpreters.main follows interpreters.head (struct pyinterpreters, 3.11-3.13). */
	if (w[5] + 8 > UINT32_MAX || w[18] > UINT32_MAX)
		bad = 1;
	d.bpf.interp_main = (uint32_t)(w[5] + 8);
	d.bpf.gil_holder = (uint32_t)w[18];
	d.bpf.gil_in_runtime = 0;
	bad |= fits(w[9], &d.bpf.interp_threads) | fits(w[21], &d.bpf.tstate_next) |
	       fits(w[25], &d.bpf.tstate_tid) | fits(w[23], &d.bpf.current_frame) |
	       fits(w[29], &d.bpf.frame_previous) | fits(w[30], &d.bpf.frame_code) |
	       fits(w[31], &d.bpf.frame_instr) | fits(w[33], &d.bpf.frame_owner) |
	       fits(w[45], &d.code.ob_type) | fits(w[35], &d.code.co_filename) |
	       fits(w[36], &d.code.co_name) | fits(w[37], &d.code.co_qualname) |
	       fits(w[38], &d.code.co_linetable) | fits(w[39], &d.code.co_firstlineno) |
	       fits(w[43], &d.code.co_code_adaptive) | fits(w[65], &d.code.bytes_size) |
	       fits(w[66], &d.code.bytes_sval) | fits(w[69], &d.code.str_length) |
	       fits(w[68], &d.code.str_state) | fits(w[70], &d.code.str_ascii_size);
	d.bpf.tstate_cframe = MT_PY_NONE;
	/* Every field BPF reads of a frame must lie in the bytes it reads. */
	if (bad || d.bpf.frame_previous + 8 > MT_PY_FRAME_READ ||
	    d.bpf.frame_code + 8 > MT_PY_FRAME_READ || d.bpf.frame_instr + 8 > MT_PY_FRAME_READ ||
	    d.bpf.frame_owner >= MT_PY_FRAME_READ || (d.bpf.frame_previous & 7) ||
	    (d.bpf.frame_code & 7) || (d.bpf.frame_instr & 7)) {
		snprintf(out->note, sizeof(out->note), "_Py_DebugOffsets out of the expected range");
		return -EINVAL;
	}
	d.source = "debug offsets";
	*out = d;
	return 0;
}

/* An object symbol's address and size, from .dynsym, else .symtab. */
static int find_object(Elf *elf, const char *want, uint64_t *addr, uint64_t *size)
{
	static const Elf64_Word types[] = { SHT_DYNSYM, SHT_SYMTAB };
	size_t t;

	for (t = 0; t < 2; t++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *d;
			size_t i, n;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != types[t] || !sh.sh_entsize)
				continue;
			d = elf_getdata(scn, NULL);
			if (!d)
				continue;
			n = sh.sh_size / sh.sh_entsize;
			for (i = 1; i < n; i++) {
				const char *name;
				GElf_Sym sym;

				if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
				    (GELF_ST_TYPE(sym.st_info) != STT_OBJECT &&
				     GELF_ST_TYPE(sym.st_info) != STT_FUNC))
					continue;
				name = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (name && !strcmp(name, want)) {
					*addr = sym.st_value;
					*size = sym.st_size;
					return 0;
				}
			}
		}
	}
	return -ENOENT;
}

/* len bytes of the file at virtual address vaddr, from a PT_LOAD segment's file part. */
static int read_vaddr(struct elf_handle *h, uint64_t vaddr, void *buf, size_t len)
{
	size_t i, n;

	if (elf_getphdrnum(h->elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(h->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr < ph.p_vaddr || vaddr - ph.p_vaddr + len > ph.p_filesz)
			continue;
		if (ph.p_offset + (vaddr - ph.p_vaddr) + len > h->size)
			return -ERANGE;
		if (pread(h->fd, buf, len, (off_t)(ph.p_offset + vaddr - ph.p_vaddr)) != (ssize_t)len)
			return -EIO;
		return 0;
	}
	return -ERANGE;
}

/* The file's executable segment: the interpreter's own code. */
static void text_range(struct elf_handle *h, struct mt_py_layout *lay)
{
	size_t i, n;

	if (elf_getphdrnum(h->elf, &n))
		return;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(h->elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
			lay->text_lo = ph.p_vaddr;
			lay->text_hi = ph.p_vaddr + ph.p_memsz;
			return;
		}
	}
}

int py_interp__open(const char *path, struct py_interp *out)
{
	uint64_t runtime, runtime_size, addr, size, version = 0;
	uint8_t dbg[DEBUG_OFFSETS_WORDS * 8];
	struct elf_handle h;
	int err;

	memset(out, 0, sizeof(*out));
	err = elf_handle__open(path, &h);
	if (err)
		return err;
	err = -ENOENT;
	if (find_object(h.elf, "_PyRuntime", &runtime, &runtime_size) ||
	    find_object(h.elf, "PyObject_Malloc", &addr, &size))
		goto out;
	err = 0;
	out->bpf.runtime = runtime;
	if (!find_object(h.elf, "Py_Version", &addr, &size) && size >= 4)
		read_vaddr(&h, addr, &version, size >= 8 ? 8 : 4);
	if (!find_object(h.elf, "PyCode_Type", &addr, &size))
		out->code_type = addr;
	if (!find_object(h.elf, "PyUnicode_Type", &addr, &size))
		out->str_type = addr;
	out->hexversion = (uint32_t)version;
	if (!out->hexversion) {
		snprintf(out->note, sizeof(out->note),
			 "no Py_Version (CPython 3.10 or older): Python frames are read for 3.11-3.13");
		goto out;
	}
	version_string(out->hexversion, out->version, sizeof(out->version));
	if (py_interp__table(out->hexversion, out)) {
		snprintf(out->note, sizeof(out->note),
			 "CPython %s: Python frames are read for 3.11-3.13", out->version);
		goto out;
	}
	/* 3.13 on: the runtime's own offsets, where they cover a field. */
	if (((out->hexversion >> 16) & 0xff) >= 13 &&
	    (read_vaddr(&h, runtime, dbg, sizeof(dbg)) ||
	     py_interp__debug_offsets(dbg, sizeof(dbg), out))) {
		if (!out->note[0])
			snprintf(out->note, sizeof(out->note),
				 "_PyRuntime's initial bytes cannot be read");
		goto out;
	}
	out->bpf.runtime = runtime;
	text_range(&h, &out->bpf);
	/* What identifies a code object, for the BPF side to send when a stack is new. */
	out->bpf.co_firstlineno = out->code.co_firstlineno;
	out->bpf.co_filename = out->code.co_filename;
	out->bpf.co_qualname = out->code.co_qualname;
	out->bpf.co_linetable = out->code.co_linetable;
	if (out->code.co_firstlineno < MT_PY_CODE_FROM ||
	    out->code.co_linetable + 8 > MT_PY_CODE_FROM + MT_PY_CODE_READ ||
	    out->code.co_filename < MT_PY_CODE_FROM || out->code.co_qualname < MT_PY_CODE_FROM) {
		snprintf(out->note, sizeof(out->note), "code object fields out of the expected range");
		goto out;
	}
	if (!out->code_type) {
		snprintf(out->note, sizeof(out->note), "no PyCode_Type symbol");
		goto out;
	}
	out->frames = true;
out:
	elf_handle__close(&h);
	return err;
}
