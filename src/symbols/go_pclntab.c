/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <string.h>
#include "symbols/go_pclntab.h"

#define MAGIC_GO118 0xfffffff0u
#define MAGIC_GO120 0xfffffff1u
#define HEADER_WORDS 8	/* nfunc, nfiles, textStart, funcname, cu, filetab, pctab, pcln offsets */
/*
 * runtime.moduledata: pcHeader, then the slices funcnametab, cutab,
 * filetab, pctab, pclntable, ftab (24 bytes each), findfunctab, minpc,
 * maxpc, then text (Go 1.18-1.27, amd64).
 */
#define MODULE_TEXT_OFF (8 + 6 * 24 + 3 * 8)

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

bool go_pclntab__section_name(const char *name)
{
	return !strcmp(name, ".gopclntab") || !strcmp(name, ".data.rel.ro.gopclntab");
}

int go_pclntab__module_text(const uint8_t *module, size_t len, uint64_t pclntab_vaddr,
			    uint64_t *text)
{
	if (len < MODULE_TEXT_OFF + 8 || !pclntab_vaddr || rd64(module) != pclntab_vaddr)
		return -ENOEXEC;
	*text = rd64(module + MODULE_TEXT_OFF);
	return *text ? 0 : -ENOEXEC;
}

int go_pclntab__parse(const uint8_t *data, size_t len, go_func_fn fn, void *ctx)
{
	return go_pclntab__parse_at(data, len, 0, fn, ctx);
}

int go_pclntab__parse_at(const uint8_t *data, size_t len, uint64_t text, go_func_fn fn,
			 void *ctx)
{
	uint64_t nfunc, text_start, funcname_off, pcln_off, i;
	const uint8_t *functab;
	uint32_t magic;
	int err;

	/* Little-endian, 8-byte pointers: the only layout memtrace runs on. */
	if (len < 8 + HEADER_WORDS * 8)
		return -ENOEXEC;
	magic = rd32(data);
	if ((magic != MAGIC_GO118 && magic != MAGIC_GO120) || data[4] || data[5] ||
	    data[6] != 1 || data[7] != 8)
		return -ENOEXEC;
	nfunc = rd64(data + 8);
	text_start = rd64(data + 8 + 2 * 8);
	/* Go 1.26+: the field is left 0, the text's start is the module's. */
	if (!text_start)
		text_start = text;
	if (!text_start)
		return -ENOEXEC;
	funcname_off = rd64(data + 8 + 3 * 8);
	pcln_off = rd64(data + 8 + 7 * 8);
	/*
	 * functab: nfunc + 1 pairs of uint32 {entry offset, _func offset}. Room
	 * for less than one pair must not wrap the bound below to UINT64_MAX.
	 */
	if (funcname_off >= len || pcln_off >= len || (len - pcln_off) / 8 < 1 ||
	    nfunc > (len - pcln_off) / 8 - 1)
		return -ENOEXEC;
	functab = data + pcln_off;
	for (i = 0; i < nfunc; i++) {
		uint64_t entry = rd32(functab + i * 8), next = rd32(functab + (i + 1) * 8);
		uint64_t func_off = pcln_off + rd32(functab + i * 8 + 4), name_at;
		const uint8_t *name, *nul;
		int32_t name_off;

		/* _func: entryOff uint32, nameOff int32, ... */
		if (func_off > len - 8)
			return -ENOEXEC;
		memcpy(&name_off, data + func_off + 4, sizeof(name_off));
		if (name_off < 0 || (uint64_t)name_off >= len - funcname_off)
			return -ENOEXEC;
		name_at = funcname_off + (uint64_t)name_off;
		name = data + name_at;
		nul = memchr(name, '\0', len - name_at);
		if (!nul || nul == name)
			continue;
		err = fn(ctx, text_start + entry, next > entry ? next - entry : 0, (const char *)name,
			 (size_t)(nul - name));
		if (err)
			return err;
	}
	return 0;
}
