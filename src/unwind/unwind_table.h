/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Compact unwind tables for the BPF stack walker: for one ELF file, the
 * DWARF call frame information (.eh_frame, or .debug_frame when there is no
 * .eh_frame) reduced to what walking an x86-64 user stack needs at each pc:
 * how to find the CFA (the caller's rsp) and where the caller's rbp is. The
 * return address is always at CFA - 8; rows where it is not are marked
 * unsupported. Everything read from the file is bounds-checked: malformed
 * input fails with -ENOEXEC, it never crashes and never loops forever.
 */
#ifndef MEMTRACE_UNWIND_TABLE_H
#define MEMTRACE_UNWIND_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#include "memtrace.h"

/*
 * struct mt_unwind_row and the MT_CFA_* / MT_RBP_* constants are BPF ABI: they
 * live in memtrace.h. Rows are sorted by pc_lo, the ELF virtual address minus
 * the table's base (its lowest pc), each valid up to the next one; the last
 * row is an MT_CFA_NONE row at text_end, and an MT_CFA_NONE row also fills
 * every gap between FDEs: no CFI there, the walker may fall back on frame
 * pointers. MT_CFA_UNDEFINED is CFI's own end of the stack (_start, clone).
 * A row is MT_CFA_UNSUPPORTED when its return address is not at CFA - 8, the
 * caller's rsp is not the CFA, the CFA is neither rsp nor rbp plus an offset
 * (nor the PLT expression), rbp is kept anywhere but unchanged or at CFA + a
 * multiple of 8, or an offset does not fit its field in the row (the width
 * memtrace.h gives it). A PLT row never has rbp saved, so plt_lim and rbp_off
 * could share a byte.
 */

struct unwind_table {
	struct mt_unwind_row *rows;	/* sorted by pc_lo, merged: neighbours always differ */
	size_t nr;
	uint64_t base;			/* vaddr of pc_lo 0: text_start */
	uint64_t text_start, text_end;	/* vaddrs from the first FDE's start to the last one's end */
	size_t nr_fdes;			/* FDEs used */
	size_t nr_unsupported;		/* rows marked MT_CFA_UNSUPPORTED */
	uint64_t cfi_bytes;		/* text bytes covered by any FDE */
	uint64_t fp_bytes;		/* ... by frame-pointer rows: CFA = rbp + 16, rbp at CFA - 16 */
	/* fp_bytes > cfi_bytes / 2: most code keeps frame pointers. Counted in
	 * bytes, not rows: a frame-pointer function has as many rows for its
	 * prologue and epilogue as for its body. */
	bool mostly_fp;
	bool from_debug_frame;
	/*
	 * Every call in the file's code sits on a frame-pointer row, or on no
	 * row at all, but those in [fp_slow_lo[i], fp_slow_hi[i]) (pc_lo
	 * units; empty when lo == hi): a walk standing at a return address
	 * outside those ranges may follow rbp without looking its row up
	 * (unwind_table__find_fp_calls).
	 */
	bool fp_calls;
	uint32_t fp_slow_lo[2], fp_slow_hi[2];
};

/* unwind_table__build_from_data() flags. */
#define UNWIND_F_DEBUG_FRAME	(1u << 0)	/* sec is .debug_frame, not .eh_frame */

/*
 * Build from path's .eh_frame, or its .debug_frame when it has no .eh_frame
 * with contents. FDEs outside the file's executable segments are left out.
 * Where FDEs overlap, the later-starting one wins. Returns 0, -ENOENT when the
 * file has no CFI, -ENOEXEC when it is not an x86-64 ELF file or its CFI is
 * malformed, or another -errno; on error *out is empty (and may be freed).
 */
int unwind_table__build_from_file(const char *path, struct unwind_table *out);

/*
 * Build from the contents of a .eh_frame (or .debug_frame with
 * UNWIND_F_DEBUG_FRAME) section loaded at sec_vaddr; data_base is the base of
 * DW_EH_PE_datarel pointers (the GOT). A table spanning 4 GiB or more is
 * refused as malformed. Returns 0 or -errno (-ENOEXEC: malformed, -ENOENT: no FDE).
 */
int unwind_table__build_from_data(const void *sec, size_t len, uint64_t sec_vaddr,
				  uint64_t data_base, unsigned int flags, struct unwind_table *out);

/* Reads up to len bytes of code at vaddr into buf: the count read, or -errno. */
typedef ssize_t (*unwind_code_reader)(void *ctx, uint64_t vaddr, void *buf, size_t len);

/*
 * Set t's fp_calls and slow ranges from its code (read): decodes the code
 * under every row that is not the frame-pointer rule, for its calls.
 * unwind_table__build_from_file does it. Returns 0, or -ENOMEM.
 */
int unwind_table__find_fp_calls(struct unwind_table *t, unwind_code_reader read, void *ctx);

/* The row covering vaddr pc, or NULL when no FDE covers it. O(log n). */
const struct mt_unwind_row *unwind_table__find(const struct unwind_table *t, uint64_t pc);

void unwind_table__free(struct unwind_table *t);

#endif
