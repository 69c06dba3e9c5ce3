/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer harness: .eh_frame / .debug_frame sections turned into unwind
 * rows. The input starts with a 17-byte header, then the section:
 *
 *     u64 section vaddr, u64 data base (the GOT), u8 flags (bit 0: .debug_frame)
 *
 * which tests/fuzz/seeds.sh fills from real files. A table built must keep
 * its promises: rows sorted, a MT_CFA_NONE row last, lookups inside it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "unwind/unwind_table.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define HEADER 17

static void check_find(const struct unwind_table *t, uint64_t pc)
{
	const struct mt_unwind_row *r = unwind_table__find(t, pc);

	if (!r)
		return;
	CHECK(r >= t->rows && r < t->rows + t->nr);
	CHECK(pc >= t->base && pc - t->base >= r->pc_lo);
	CHECK(r->cfa_reg != MT_CFA_NONE);
}

/*
 * The section's own bytes stand in for the code: a reader that wraps
 * around them, over 1 MiB from address 0, as a file's code ends (past it,
 * as past a file's segments, nothing can be read).
 */
#define FAKE_CODE_END (1u << 20)

struct fake_code {
	const uint8_t *d;
	size_t n;
};

static ssize_t read_fake(void *ctx, uint64_t vaddr, void *buf, size_t len)
{
	const struct fake_code *c = ctx;
	size_t k;

	if (!c->n || (vaddr & 0xfff) == 0xfff || vaddr >= FAKE_CODE_END)
		return -EIO;	/* unreadable now and then, and past the end */
	if (len > FAKE_CODE_END - vaddr)
		len = (size_t)(FAKE_CODE_END - vaddr);
	for (k = 0; k < len; k++)
		((uint8_t *)buf)[k] = c->d[(vaddr + k) % c->n];
	return (ssize_t)len;
}

/* The frame-pointer summary's promises: slow ranges ordered, inside the table. */
static void check_fp_calls(struct unwind_table *t, const uint8_t *d, size_t n)
{
	struct fake_code c = { d, n };
	int k;

	CHECK(unwind_table__find_fp_calls(t, read_fake, &c) == 0);
	if (!t->fp_calls)
		return;
	for (k = 0; k < 2; k++) {
		CHECK(t->fp_slow_lo[k] <= t->fp_slow_hi[k]);
		CHECK(t->fp_slow_hi[k] <= t->rows[t->nr - 1].pc_lo);
	}
	CHECK(t->fp_slow_lo[1] == t->fp_slow_hi[1] || t->fp_slow_hi[0] <= t->fp_slow_lo[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unwind_table t;
	uint64_t vaddr, data_base, w;
	unsigned int flags;
	size_t i;
	int err;

	if (size < HEADER)
		return 0;
	memcpy(&vaddr, data, 8);
	memcpy(&data_base, data + 8, 8);
	flags = data[16] & UNWIND_F_DEBUG_FRAME;
	memset(&t, 0, sizeof(t));
	err = unwind_table__build_from_data(data + HEADER, size - HEADER, vaddr, data_base, flags,
					    &t);
	if (err) {
		CHECK(err < 0);
		unwind_table__free(&t);
		return 0;
	}
	CHECK(t.nr >= 1 && t.rows);
	CHECK(t.rows[t.nr - 1].cfa_reg == MT_CFA_NONE);
	CHECK(t.text_start <= t.text_end && t.base <= t.text_start);
	CHECK(t.nr_unsupported <= t.nr);
	for (i = 0; i < t.nr; i++) {
		CHECK(t.rows[i].cfa_reg <= MT_CFA_UNSUPPORTED);
		CHECK(!i || t.rows[i - 1].pc_lo < t.rows[i].pc_lo);
		if (i < 256) {
			check_find(&t, t.base + t.rows[i].pc_lo);
			check_find(&t, t.base + t.rows[i].pc_lo - 1);
		}
	}
	check_find(&t, t.text_start);
	check_find(&t, t.text_end - 1);
	check_find(&t, t.text_end);
	check_find(&t, 0);
	check_find(&t, UINT64_MAX);
	for (i = HEADER; i + 8 <= size && i < HEADER + 64; i += 8) {
		memcpy(&w, data + i, 8);
		check_find(&t, w);
		check_find(&t, t.base + (w & 0xffff));
	}
	check_fp_calls(&t, data + HEADER, size - HEADER);
	unwind_table__free(&t);
	return 0;
}
