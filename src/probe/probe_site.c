/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdbool.h>
#include "probe/probe_site.h"

/* How far into a function the scan may go: prologues only. */
#define MAX_SCAN 32

static bool is_rex(uint8_t b)
{
	return (b & 0xf0) == 0x40;
}

/* Length of an instruction the kernel emulates at (code, len), or 0. */
static size_t emulated_len(const uint8_t *c, size_t len)
{
	if (len >= 4 && c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa)
		return 4;				/* endbr64 */
	if (c[0] >= 0x50 && c[0] <= 0x57)
		return 1;				/* push reg */
	if (len >= 2 && c[0] == 0x41 && c[1] >= 0x50 && c[1] <= 0x57)
		return 2;				/* push r8..r15 */
	if (c[0] == 0x90)
		return 1;				/* nop */
	if (len >= 2 && c[0] >= 0x70 && c[0] <= 0x7f)
		return 2;				/* jcc rel8 */
	if (len >= 6 && c[0] == 0x0f && c[1] >= 0x80 && c[1] <= 0x8f)
		return 6;				/* jcc rel32 */
	if (len >= 2 && c[0] == 0xeb)
		return 2;				/* jmp rel8 */
	if (len >= 5 && (c[0] == 0xe9 || c[0] == 0xe8))
		return 5;				/* jmp/call rel32 */
	return 0;
}

/*
 * Length of an instruction that changes neither sp nor an argument register
 * (test/cmp, which only set flags; lea into a scratch register), or 0.
 */
static size_t flags_only_len(const uint8_t *c, size_t len)
{
	size_t i = 0;

	if (len && is_rex(c[0]))
		i = 1;
	if (len < i + 2)
		return 0;
	/* test r,r (85) or cmp r,r (39, 3b), register form (mod == 11) */
	if ((c[i] == 0x85 || c[i] == 0x39 || c[i] == 0x3b || c[i] == 0x84) && (c[i + 1] & 0xc0) == 0xc0)
		return i + 2;
	/* cmp disp8(reg), reg (3b, mod == 01, no SIB): Go's stack-bound check, cmp 0x10(%r14),%rsp */
	if (c[i] == 0x3b && (c[i + 1] & 0xc0) == 0x40 && (c[i + 1] & 0x07) != 0x04 && len >= i + 3)
		return i + 3;
	/*
	 * lea disp(%rsp),%r12 or %r13 (4c 8d, SIB base rsp): Go's check for a big
	 * frame. It writes a scratch register that no calling convention passes
	 * arguments in.
	 */
	if (i == 1 && c[0] == 0x4c && c[1] == 0x8d && len >= 4 && c[3] == 0x24 &&
	    ((c[2] & 0x3f) == 0x24 || (c[2] & 0x3f) == 0x2c)) {
		if ((c[2] & 0xc0) == 0x40 && len >= 5)
			return 5;
		if ((c[2] & 0xc0) == 0x80 && len >= 8)
			return 8;
	}
	/* cmpb $imm8, disp32(%rip): 80 3d disp32 imm8 */
	if (i == 0 && c[0] == 0x80 && c[1] == 0x3d && len >= 7)
		return 7;
	/* cmp{l,q} $imm8, disp32(%rip): [rex] 83 3d disp32 imm8 */
	if (c[i] == 0x83 && c[i + 1] == 0x3d && len >= i + 7)
		return i + 7;
	return 0;
}

size_t probe_site__pick(const uint8_t *code, size_t len)
{
	size_t off = 0, n;

	if (len > MAX_SCAN)
		len = MAX_SCAN;
	while (off < len) {
		if (emulated_len(code + off, len - off))
			return off;
		n = flags_only_len(code + off, len - off);
		if (!n)
			break;
		off += n;
	}
	return 0;
}
