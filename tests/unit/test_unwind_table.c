/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unwind tables against libdw: for libc, libstdc++ and programs compiled
 * here (without and with frame pointers, and one whose only CFI is in
 * .debug_frame), every CFI row libdw sees from each FDE start, the row
 * boundaries of the table and random text addresses must get the rule libdw
 * gives. Hand-made sections exercise each CFA instruction; malformed ones
 * must fail with -ENOEXEC, never crash, never hang.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "unwind/unwind_table.h"
#include "unit.h"

#define LIBC	"/lib/x86_64-linux-gnu/libc.so.6"
#define LIBSTDCXX "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
#define SEC_VADDR 0x200000	/* where hand-made sections sit */

static char tmpdir[] = "/tmp/mt-unwind-test-XXXXXX";
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- libdw as the oracle ---- */

struct oracle_stats {
	size_t pcs, agree, no_fde, unsupported, undefined, plt, libdw_err, disagree;
};

/* Whether v fits row field f, whatever width memtrace.h gives it. */
#define FITS_ROW(f, v) ((int64_t)(__typeof__(((struct mt_unwind_row *)0)->f))(v) == (v))

/* libdw's "CFA + k" (saved at, or with DW_OP_stack_value the value of). */
static bool cfa_plus(const Dwarf_Op *ops, size_t n, bool value, int64_t *k)
{
	if (value) {
		if (n < 2 || ops[n - 1].atom != DW_OP_stack_value)
			return false;
		n--;
	}
	if (n < 1 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	*k = 0;
	if (n == 2 && ops[1].atom == DW_OP_plus_uconst)
		*k = (int64_t)ops[1].number;
	return n == 1 || (n == 2 && ops[1].atom == DW_OP_plus_uconst);
}

static bool is_plt_expr(const Dwarf_Op *o, size_t n)
{
	return n == 9 && o[0].atom == DW_OP_breg7 && o[1].atom == DW_OP_breg16 && !o[1].number &&
	       o[2].atom == DW_OP_lit15 && o[3].atom == DW_OP_and && o[4].atom >= DW_OP_lit0 &&
	       o[4].atom <= DW_OP_lit31 && o[5].atom == DW_OP_ge && o[6].atom == DW_OP_lit3 &&
	       o[7].atom == DW_OP_shl && o[8].atom == DW_OP_plus;
}

/*
 * The row the table should hold for pc, derived from libdw's rules alone.
 * Returns 1 with *exp and libdw's row range, 0 when no FDE covers pc, -1 on
 * any other libdw error.
 */
static int libdw_row(Dwarf_CFI *cfi, uint64_t pc, struct mt_unwind_row *exp, Dwarf_Addr *start,
		     Dwarf_Addr *end)
{
	Dwarf_Op mem[3], *ops;
	Dwarf_Frame *f;
	size_t n;
	int64_t k;
	int ret = -1;

	memset(exp, 0, sizeof(*exp));
	if (dwarf_cfi_addrframe(cfi, pc, &f))
		return strcmp(dwarf_errmsg(dwarf_errno()), "no matching address range") ? -1 : 0;
	if (dwarf_frame_info(f, start, end, NULL) < 0)
		goto out;
	ret = 1;
	exp->cfa_reg = MT_CFA_UNSUPPORTED;
	if (dwarf_frame_register(f, 16, mem, &ops, &n))
		goto bad;
	if (n == 0 && ops) {
		exp->cfa_reg = MT_CFA_UNDEFINED;
		goto out;
	}
	if (!cfa_plus(ops, n, false, &k) || k != -8)
		goto out;
	if (dwarf_frame_register(f, 7, mem, &ops, &n))
		goto bad;
	if (!cfa_plus(ops, n, true, &k) || k != 0)
		goto out;
	if (dwarf_frame_register(f, 6, mem, &ops, &n))
		goto bad;
	if (n || ops) {
		if (!cfa_plus(ops, n, false, &k) || !k || k % 8 || !FITS_ROW(rbp_off, k / 8))
			goto out;
		exp->rbp_rule = MT_RBP_AT_CFA;
		exp->rbp_off = (__typeof__(exp->rbp_off))(k / 8);
	}
	if (dwarf_frame_cfa(f, &ops, &n))
		goto bad;
	if (n == 1 && ops[0].atom == DW_OP_bregx && (ops[0].number == 6 || ops[0].number == 7) &&
	    FITS_ROW(cfa_off, (int64_t)ops[0].number2)) {
		exp->cfa_reg = ops[0].number == 7 ? MT_CFA_RSP : MT_CFA_RBP;
		exp->cfa_off = (__typeof__(exp->cfa_off))ops[0].number2;
	} else if (is_plt_expr(ops, n) && FITS_ROW(cfa_off, (int64_t)ops[0].number) &&
		   exp->rbp_rule == MT_RBP_SAME) {
		exp->cfa_reg = MT_CFA_PLT;
		exp->cfa_off = (__typeof__(exp->cfa_off))ops[0].number;
		exp->plt_lim = ops[4].atom - DW_OP_lit0;
	} else {
		memset(exp, 0, sizeof(*exp));
		exp->cfa_reg = MT_CFA_UNSUPPORTED;
	}
	goto out;
bad:
	ret = -1;
out:
	free(f);
	return ret;
}

static bool same_rule(const struct mt_unwind_row *a, const struct mt_unwind_row *b)
{
	if (a->cfa_reg != b->cfa_reg)
		return false;
	if (a->cfa_reg == MT_CFA_UNDEFINED || a->cfa_reg == MT_CFA_UNSUPPORTED)
		return true;
	if (a->cfa_off != b->cfa_off || a->rbp_rule != b->rbp_rule)
		return false;
	if (a->rbp_rule == MT_RBP_AT_CFA && a->rbp_off != b->rbp_off)
		return false;
	return a->cfa_reg != MT_CFA_PLT || a->plt_lim == b->plt_lim;
}

static void compare_pc(const struct unwind_table *t, Dwarf_CFI *cfi, uint64_t pc,
		       struct oracle_stats *st)
{
	const struct mt_unwind_row *mine = unwind_table__find(t, pc);
	uint64_t mstart = 0, mend = 0;
	struct mt_unwind_row exp;
	Dwarf_Addr s, e;
	int r = libdw_row(cfi, pc, &exp, &s, &e);
	bool ok;

	st->pcs++;
	if (mine) {
		mstart = t->base + mine->pc_lo;
		mend = t->base + mine[1].pc_lo;
	}
	if (r < 0) {
		st->libdw_err++;
		return;
	}
	if (r == 0)
		ok = !mine;
	else
		/* Only the end of libdw's row is compared: after DW_CFA_restore_state
		 * libdw reports the start of the row that was remembered. */
		ok = mine && same_rule(mine, &exp) && e <= mend;
	if (!ok) {
		if (st->disagree++ < 8)
			printf("# pc %#" PRIx64 ": libdw %s reg %u off %d rbp %u/%d lim %u [%#" PRIx64
			       ", %#" PRIx64 "), table reg %d off %d rbp %u/%d lim %u [%#" PRIx64
			       ", %#" PRIx64 ")\n", pc, r ? "row" : "none", exp.cfa_reg, exp.cfa_off,
			       exp.rbp_rule, exp.rbp_off, exp.plt_lim, r ? s : 0, r ? e : 0,
			       mine ? mine->cfa_reg : -1, mine ? mine->cfa_off : 0,
			       mine ? mine->rbp_rule : 0, mine ? mine->rbp_off : 0,
			       mine ? mine->plt_lim : 0, mstart, mend);
		return;
	}
	st->agree++;
	if (r == 0)
		st->no_fde++;
	else if (exp.cfa_reg == MT_CFA_UNSUPPORTED)
		st->unsupported++;
	else if (exp.cfa_reg == MT_CFA_UNDEFINED)
		st->undefined++;
	else if (exp.cfa_reg == MT_CFA_PLT)
		st->plt++;
}

static Elf_Data *find_scn(Elf *elf, const char *want, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	const char *name;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		name = gelf_getshdr(scn, sh) ? elf_strptr(elf, shstrndx, sh->sh_name) : NULL;
		if (name && !strcmp(name, want))
			return elf_getdata(scn, NULL);
	}
	return NULL;
}

/* FDE starts from .eh_frame_hdr, which the linker writes: independent of the parser under test. */
static size_t hdr_starts(Elf *elf, uint64_t **out)
{
	Elf_Data *d;
	GElf_Shdr sh;
	const uint8_t *p;
	uint32_t cnt, i;
	int32_t v;

	*out = NULL;
	d = find_scn(elf, ".eh_frame_hdr", &sh);
	p = d ? d->d_buf : NULL;
	/* version 1, eh_frame_ptr pcrel sdata4, count udata4, table datarel sdata4 */
	if (!p || d->d_size < 12 || p[0] != 1 || p[1] != 0x1b || p[2] != 0x03 || p[3] != 0x3b)
		return 0;
	memcpy(&cnt, p + 8, 4);
	if (12 + (size_t)cnt * 8 > d->d_size || !(*out = calloc(cnt + 1, sizeof(**out))))
		return 0;
	for (i = 0; i < cnt; i++) {
		memcpy(&v, p + 12 + (size_t)i * 8, 4);
		(*out)[i] = sh.sh_addr + (int64_t)v;
	}
	return cnt;
}

static void text_range(Elf *elf, uint64_t *lo, uint64_t *hi)
{
	size_t n, i;
	GElf_Phdr ph;

	*lo = UINT64_MAX;
	*hi = 0;
	if (elf_getphdrnum(elf, &n))
		return;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (ph.p_vaddr < *lo)
			*lo = ph.p_vaddr;
		if (ph.p_vaddr + ph.p_memsz > *hi)
			*hi = ph.p_vaddr + ph.p_memsz;
	}
}

/* Builds path's table and holds it against libdw; returns the table for further checks. */
static void oracle_file(const char *label, const char *path, bool debug_frame,
			struct unwind_table *t)
{
	struct oracle_stats st = { 0 };
	uint64_t *starts, lo, hi, pc;
	size_t nr_starts, i, k;
	Dwarf *dw = NULL;
	Dwarf_CFI *cfi;
	double t0, ms;
	Elf *elf;
	int fd, err;

	t0 = now_ms();
	err = unwind_table__build_from_file(path, t);
	ms = now_ms() - t0;
	check(err == 0 && t->nr > 1, label, "build: err %d", err);
	if (err)
		return;
	printf("# %s: %zu FDEs, %zu rows (%zu bytes), %zu unsupported, text %#" PRIx64 "-%#" PRIx64
	       ", %.1f%% frame-pointer code, built in %.2f ms\n", label, t->nr_fdes, t->nr,
	       t->nr * sizeof(*t->rows), t->nr_unsupported, t->text_start, t->text_end,
	       t->cfi_bytes ? 100.0 * t->fp_bytes / t->cfi_bytes : 0.0, ms);
	check(t->from_debug_frame == debug_frame, label, "from_debug_frame %d", t->from_debug_frame);

	fd = open(path, O_RDONLY);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (debug_frame) {
		dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
		cfi = dw ? dwarf_getcfi(dw) : NULL;
		/* No .eh_frame_hdr to list FDEs: walk libdw's rows from each row of the table. */
		starts = calloc(t->nr, sizeof(*starts));
		for (nr_starts = 0; starts && nr_starts < t->nr; nr_starts++)
			starts[nr_starts] = t->base + t->rows[nr_starts].pc_lo;
	} else {
		cfi = dwarf_getcfi_elf(elf);
		nr_starts = hdr_starts(elf, &starts);
		check(nr_starts == t->nr_fdes, label, "%zu FDEs in .eh_frame_hdr, %zu in the table",
		      nr_starts, t->nr_fdes);
	}
	check(cfi && nr_starts > 0, label, "libdw CFI %p, %zu FDE starts", (void *)cfi, nr_starts);
	if (!cfi || !nr_starts)
		goto out;
	/* Every libdw row, from each FDE start to where libdw stops: first, middle, last pc. */
	for (i = 0; i < nr_starts; i++) {
		struct mt_unwind_row exp;
		Dwarf_Addr s, e;

		pc = starts[i];
		for (k = 0; k < 100000 && libdw_row(cfi, pc, &exp, &s, &e) == 1 && e > pc; k++) {
			compare_pc(t, cfi, pc, &st);
			compare_pc(t, cfi, s + (e - s) / 2, &st);
			compare_pc(t, cfi, e - 1, &st);
			pc = e;
		}
		compare_pc(t, cfi, pc, &st);
	}
	/* Each row's first byte and the byte before it, gap rows included. */
	for (i = 0; i < t->nr; i++) {
		compare_pc(t, cfi, t->base + t->rows[i].pc_lo, &st);
		compare_pc(t, cfi, t->base + t->rows[i].pc_lo - 1, &st);
	}
	text_range(elf, &lo, &hi);
	for (i = 0; hi > lo && i < 20000; i++)
		compare_pc(t, cfi, lo + rnd() % (hi - lo), &st);
	printf("# %s vs libdw: %zu pcs, %zu agree (%zu outside any FDE, %zu end of stack, %zu PLT,"
	       " %zu unsupported), %zu disagree, %zu libdw errors\n", label, st.pcs, st.agree,
	       st.no_fde, st.undefined, st.plt, st.unsupported, st.disagree, st.libdw_err);
	check(st.disagree == 0 && st.libdw_err == 0 && st.agree > 1000, label,
	      "%zu of %zu pcs disagree with libdw, %zu libdw errors", st.disagree, st.pcs,
	      st.libdw_err);
out:
	free(starts);
	/* A CFI of the ELF file is the caller's; one of a Dwarf goes with it. */
	if (!debug_frame && cfi)
		dwarf_cfi_end(cfi);
	dwarf_end(dw);
	elf_end(elf);
	close(fd);
}

static const char prog_src[] =
	"#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
	"static volatile long sink;\n"
	"__attribute__((noinline)) static long leaf(long x) { return x * 3 + sink; }\n"
	"__attribute__((noinline)) long rec(int n, long acc) {\n"
	"	char buf[64]; snprintf(buf, sizeof(buf), \"%d\", n);\n"
	"	if (n <= 0) return acc + buf[0];\n"
	"	return rec(n - 1, acc + leaf(n)) + (long)strlen(buf); }\n"
	"__attribute__((noinline)) long vla(int n) { volatile char a[n]; long s = 0;\n"
	"	for (int i = 0; i < n; i++) a[i] = (char)i;\n"
	"	for (int i = 0; i < n; i++) s += a[i] * leaf(i); return s; }\n"
	"__attribute__((noinline)) long big(int n) { volatile char a[40000]; a[n] = 1;\n"
	"	return a[n / 2] + a[n] + leaf(n); }\n"
	"__attribute__((noinline)) long many(long a, long b, long c, long d, long e, long f,\n"
	"	long g, long h, long i, long j) { return leaf(a + b + c + d + e) * (f + g + h + i + j); }\n"
	"static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }\n"
	"__attribute__((noinline)) long loops(int n) { long s = 0; int *v = malloc(n * sizeof(int));\n"
	"	for (int i = 0; i < n; i++) { v[i] = (int)leaf(n - i); if (v[i] % 7 == 0) s += leaf(s); }\n"
	"	qsort(v, n, sizeof(int), cmp); s += v[0]; free(v); return s; }\n"
	"int main(int argc, char **argv) { (void)argv;\n"
	"	printf(\"%ld\\n\", rec(argc * 5, 0) + vla(argc + 10) + big(argc) + loops(argc * 100) +\n"
	"	       many(1, 2, 3, 4, 5, 6, 7, 8, 9, argc)); return 0; }\n";

static void test_oracle(void)
{
	char src[512], omit[512], fp[512], dbg[512], dbgz[512];
	struct unwind_table t;
	double best = 1e9, ms;
	int i;

	oracle_file("libc", LIBC, false, &t);
	check(!t.mostly_fp, "libc is not frame-pointer code", NULL);
	for (i = 0; i < 5; i++) {
		unwind_table__free(&t);
		ms = now_ms();
		unwind_table__build_from_file(LIBC, &t);
		ms = now_ms() - ms;
		best = ms < best ? ms : best;
	}
	printf("# libc table: best of 5 builds %.2f ms\n", best);
	unwind_table__free(&t);
	oracle_file("libstdc++", LIBSTDCXX, false, &t);
	unwind_table__free(&t);

	snprintf(src, sizeof(src), "%s/prog.c", tmpdir);
	snprintf(omit, sizeof(omit), "%s/prog_omit", tmpdir);
	snprintf(fp, sizeof(fp), "%s/prog_fp", tmpdir);
	snprintf(dbg, sizeof(dbg), "%s/prog.debug", tmpdir);
	snprintf(dbgz, sizeof(dbgz), "%s/prog_z.debug", tmpdir);
	{
		FILE *f = fopen(src, "w");

		if (f) {
			fputs(prog_src, f);
			fclose(f);
		}
	}
	check(run("cc -O2 -fomit-frame-pointer %s -o %s", src, omit) == 0 &&
	      run("cc -O2 -fno-omit-frame-pointer %s -o %s", src, fp) == 0 &&
	      run("cc -O2 -g -fomit-frame-pointer -fno-asynchronous-unwind-tables %s -o %s.full &&"
		  " objcopy --only-keep-debug %s.full %s && objcopy --compress-debug-sections=zlib"
		  " %s %s", src, dbg, dbg, dbg, dbg, dbgz) == 0, "compile the test programs", NULL);

	oracle_file("-O2 -fomit-frame-pointer program", omit, false, &t);
	check(!t.mostly_fp, "-fomit-frame-pointer program is not frame-pointer code", NULL);
	if (sizeof(t.rows->cfa_off) == 2)
		check(t.nr_unsupported > 0, "a 40000-byte frame does not fit cfa_off", NULL);
	unwind_table__free(&t);
	oracle_file("-O2 -fno-omit-frame-pointer program", fp, false, &t);
	check(t.mostly_fp, "-fno-omit-frame-pointer program is frame-pointer code", NULL);
	unwind_table__free(&t);
	oracle_file(".debug_frame of a separate debug file", dbg, true, &t);
	unwind_table__free(&t);
	oracle_file("compressed .debug_frame", dbgz, true, &t);
	unwind_table__free(&t);
}

/* ---- calls on frame-pointer rows (unwind_table__find_fp_calls) ---- */

static bool in_slow(const struct unwind_table *t, uint64_t rel)
{
	int k;

	for (k = 0; k < 2; k++)
		if (rel >= t->fp_slow_lo[k] && rel < t->fp_slow_hi[k])
			return true;
	return false;
}

/*
 * objdump's calls in path against t: each call's last byte (the pc a walk
 * looks up at its return address) is on a frame-pointer row, on none, or
 * in a slow range. Returns the calls checked; *bad those that are not.
 */
static size_t calls_outside(const char *path, const struct unwind_table *t, size_t *bad)
{
	char cmd[1024], line[1024], first_bad[1024] = "";
	const struct mt_unwind_row *r;
	size_t calls = 0;
	FILE *p;

	*bad = 0;
	snprintf(cmd, sizeof(cmd), "objdump -d -w %s", path);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p)) {
		unsigned long long addr;
		char *tab1, *tab2, *q;
		size_t nbytes = 0;

		if (sscanf(line, " %llx:", &addr) != 1 || !(tab1 = strchr(line, '\t')) ||
		    !(tab2 = strchr(tab1 + 1, '\t')))
			continue;
		for (q = tab1 + 1; q < tab2; q++)
			if (q[0] != ' ' && (q == tab1 + 1 || q[-1] == ' '))
				nbytes++;
		while (*++tab2 == ' ')
			;
		if (strncmp(tab2, "call", 4) || !nbytes)
			continue;
		calls++;
		r = unwind_table__find(t, addr + nbytes - 1);
		if (!r || (r->cfa_reg == MT_CFA_RBP && r->cfa_off == 16 &&
			   r->rbp_rule == MT_RBP_AT_CFA && r->rbp_off == -2) ||
		    in_slow(t, addr + nbytes - 1 - t->base))
			continue;
		if (!(*bad)++)
			snprintf(first_bad, sizeof(first_bad), "%s", line);
	}
	pclose(p);
	if (*bad)
		printf("# first call off the frame-pointer rows and the slow ranges: %s", first_bad);
	return calls;
}

static void fp_calls_file(const char *label, const char *path, int want_fp_calls)
{
	struct unwind_table t;
	size_t calls, bad;
	int err = unwind_table__build_from_file(path, &t);

	if (!CHECK(!err, "%s: table built", label))
		return;
	if (want_fp_calls >= 0)
		CHECK(t.fp_calls == want_fp_calls, "%s: fp_calls is %d (slow [%#x, %#x) [%#x, %#x))",
		      label, want_fp_calls, t.fp_slow_lo[0], t.fp_slow_hi[0], t.fp_slow_lo[1],
		      t.fp_slow_hi[1]);
	if (t.fp_calls) {
		calls = calls_outside(path, &t, &bad);
		CHECK(calls > 0 && bad == 0, "%s: each of objdump's %zu calls is on a frame-pointer row "
		      "or in a slow range (%zu are not)", label, calls, bad);
	}
	unwind_table__free(&t);
}

static const char odd_src[] =
	"extern long leaf2(long);\n"
	"__attribute__((noinline)) long odd1(long x) { return leaf2(x) + 1; }\n"
	"__attribute__((noinline)) long odd2(long x) { return leaf2(x) * leaf2(x + 1); }\n"
	"__attribute__((noinline)) long leaf2(long x) { return x ^ 5; }\n";

static const char many_src[] =
	"extern long leaf3(long);\n"
	"#define F(n) __attribute__((noinline)) long f##n(long x) { return leaf3(x) + leaf3(x + n); }\n"
	"F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)\n"
	"__attribute__((noinline)) long leaf3(long x) { return x ^ 3; }\n";

static void test_fp_calls(void)
{
	char src[512], odd[512], many[512], fp[512], omit[512], mixed[512], mixed_many[512];
	FILE *f;

	snprintf(src, sizeof(src), "%s/prog.c", tmpdir);
	snprintf(odd, sizeof(odd), "%s/odd.c", tmpdir);
	snprintf(many, sizeof(many), "%s/many.c", tmpdir);
	snprintf(fp, sizeof(fp), "%s/prog_fp", tmpdir);
	snprintf(omit, sizeof(omit), "%s/prog_omit", tmpdir);
	snprintf(mixed, sizeof(mixed), "%s/prog_mixed", tmpdir);
	snprintf(mixed_many, sizeof(mixed_many), "%s/prog_mixed_many", tmpdir);
	if ((f = fopen(odd, "w"))) {
		fputs(odd_src, f);
		fclose(f);
	}
	if ((f = fopen(many, "w"))) {
		fputs(many_src, f);
		fclose(f);
	}
	/* Frame-pointer code, but for a few calls (-O1: odd1 and odd2 keep their calls). */
	check(run("cc -O1 -fomit-frame-pointer -fno-optimize-sibling-calls -c %s -o %s.o && "
		  "cc -O2 -fno-omit-frame-pointer %s %s.o -o %s", odd, odd, src, odd, mixed) == 0 &&
	      run("cc -O1 -fomit-frame-pointer -fno-optimize-sibling-calls -c %s -o %s.o && "
		  "cc -O2 -fno-omit-frame-pointer %s %s.o -o %s", many, many, src, many,
		  mixed_many) == 0, "compile the mixed programs", NULL);
	/* _start's call is under CFI's "no caller" rule: a slow range. */
	fp_calls_file("-fno-omit-frame-pointer program", fp, 1);
	fp_calls_file("program with three calls built without frame pointers", mixed, 1);
	fp_calls_file("program with 24 calls built without frame pointers", mixed_many, 0);
	fp_calls_file("-fomit-frame-pointer program (no frame-pointer row)", omit, 0);
	fp_calls_file("libc", LIBC, 0);
	fp_calls_file("libstdc++", LIBSTDCXX, 0);
}

/* ---- hand-made sections ---- */

struct sb {
	uint8_t *d;
	size_t n, cap;
};

static void put(struct sb *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 256;
		b->d = realloc(b->d, b->cap);
		if (!b->d)
			abort();
	}
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

#define PUT(b, type, v) put(b, &(type){ v }, sizeof(type))
#define put8(b, v) PUT(b, uint8_t, v)
#define put32(b, v) PUT(b, uint32_t, v)
#define put64(b, v) PUT(b, uint64_t, v)

static void uleb(struct sb *b, uint64_t v)
{
	do {
		put8(b, (v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

static void sleb(struct sb *b, int64_t v)
{
	bool more;

	do {
		uint8_t byte = v & 0x7f;

		v >>= 7;
		more = !((v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40)));
		put8(b, byte | (more ? 0x80 : 0));
	} while (more);
}

/* An entry's length is patched in when it ends. */
static size_t begin_entry(struct sb *b)
{
	put32(b, 0);
	return b->n - 4;
}

static void end_entry(struct sb *b, size_t at)
{
	uint32_t len;

	while ((b->n - at) % 8)
		put8(b, DW_CFA_nop);
	len = (uint32_t)(b->n - at - 4);
	memcpy(b->d + at, &len, 4);
}

/* gcc's CIE: "zR", pcrel|sdata4 pointers, CFA = rsp + 8, return address at CFA - 8. */
static size_t std_cie(struct sb *b, uint8_t ra_col)
{
	size_t at = begin_entry(b);

	put32(b, 0);
	put(b, "\1zR", 4);
	uleb(b, 1);
	sleb(b, -8);
	put8(b, ra_col);
	uleb(b, 1);
	put8(b, DW_EH_PE_pcrel | DW_EH_PE_sdata4);
	put(b, (uint8_t[]){ DW_CFA_def_cfa, 7, 8, DW_CFA_offset | 16, 1 }, 5);
	end_entry(b, at);
	return at;
}

static size_t fde(struct sb *b, size_t cie, uint64_t start, uint32_t len, const void *ins,
		  size_t nins)
{
	size_t at = begin_entry(b);

	put32(b, (uint32_t)(b->n - cie));
	put32(b, (uint32_t)(start - (SEC_VADDR + b->n)));
	put32(b, len);
	uleb(b, 0);
	put(b, ins, nins);
	end_entry(b, at);
	return at;
}

#define FDE(b, cie, start, len, ...) \
	fde(b, cie, start, len, (uint8_t[]){ __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }))

static int build(struct sb *b, unsigned int flags, struct unwind_table *t)
{
	return unwind_table__build_from_data(b->d, b->n, SEC_VADDR, 0, flags, t);
}

/* The row at pc is (reg, cfa_off, rbp_off in 8-byte units or 0 for unchanged). */
static bool row_is(const struct unwind_table *t, uint64_t pc, int reg, int off, int rbp)
{
	const struct mt_unwind_row *r = unwind_table__find(t, pc);

	if (reg == MT_CFA_NONE)
		return !r;
	if (!r || r->cfa_reg != reg)
		return false;
	if (reg == MT_CFA_UNDEFINED || reg == MT_CFA_UNSUPPORTED)
		return true;
	return r->cfa_off == off && r->rbp_rule == (rbp ? MT_RBP_AT_CFA : MT_RBP_SAME) &&
	       (!rbp || r->rbp_off == rbp);
}

/* The invariants everything built must keep, whatever the input. */
static bool table_ok(const struct unwind_table *t)
{
	size_t i;

	if (t->nr < 2 || t->rows[0].pc_lo != 0 || t->rows[t->nr - 1].cfa_reg != MT_CFA_NONE ||
	    t->text_end != t->base + t->rows[t->nr - 1].pc_lo || t->base != t->text_start)
		return false;
	for (i = 1; i < t->nr; i++)
		if (t->rows[i].pc_lo <= t->rows[i - 1].pc_lo ||
		    !memcmp((const uint8_t *)&t->rows[i] + 4, (const uint8_t *)&t->rows[i - 1] + 4,
			    sizeof(t->rows[i]) - 4))
			return false;
	return !unwind_table__find(t, t->text_end) && (!t->base || !unwind_table__find(t, t->base - 1));
}

/* A section using every instruction, in FDEs out of address order, some adjacent. */
static void sample(struct sb *b)
{
	size_t cie;

	cie = std_cie(b, 16);
	/* Out of address order in the section, and adjacent identical FDEs: one merged row. */
	FDE(b, cie, 0x1100, 0x10, DW_CFA_def_cfa_offset, 24);
	FDE(b, cie, 0x1110, 0x10, DW_CFA_def_cfa_offset, 24);
	/* push %rbp; mov %rsp,%rbp; ...; leave */
	FDE(b, cie, 0x1000, 0x20, DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 16,
	    DW_CFA_offset | 6, 2, DW_CFA_advance_loc | 3, DW_CFA_def_cfa_register, 6,
	    DW_CFA_advance_loc | 0x10, DW_CFA_def_cfa, 7, 8, DW_CFA_restore | 6);
	/* The lazy PLT: PLT0, then entries; then one adjacent FDE with a state stack. */
	FDE(b, cie, 0x1030, 0x20, DW_CFA_def_cfa_offset, 16, DW_CFA_advance_loc | 6,
	    DW_CFA_def_cfa_offset, 24, DW_CFA_advance_loc | 10, DW_CFA_def_cfa_expression, 11,
	    DW_OP_breg7, 8, DW_OP_breg16, 0, DW_OP_lit15, DW_OP_and, DW_OP_lit11, DW_OP_ge,
	    DW_OP_lit3, DW_OP_shl, DW_OP_plus);
	FDE(b, cie, 0x1050, 0x10, DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 16,
	    DW_CFA_remember_state, DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 32,
	    DW_CFA_advance_loc | 1, DW_CFA_restore_state, DW_CFA_advance_loc | 1,
	    DW_CFA_def_cfa_offset, 8);
	FDE(b, cie, 0x1060, 0x8, DW_CFA_undefined, 16);
	FDE(b, cie, 0x1070, 0x40, DW_CFA_def_cfa_sf, 7, 0x7e /* -2 */, DW_CFA_advance_loc | 1,
	    DW_CFA_offset_extended_sf, 6, 2, DW_CFA_advance_loc | 1, DW_CFA_register, 16, 1,
	    DW_CFA_advance_loc | 1, DW_CFA_restore_extended, 16, DW_CFA_GNU_args_size, 16,
	    DW_CFA_nop, DW_CFA_advance_loc | 1, DW_CFA_expression, 6, 2, DW_OP_breg7, 0,
	    DW_CFA_advance_loc | 1, DW_CFA_same_value, 6, DW_CFA_advance_loc1, 4,
	    DW_CFA_def_cfa_offset, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20 /* 1 << 40 */,
	    DW_CFA_advance_loc2, 2, 0,
	    DW_CFA_def_cfa_offset_sf, 0x7c /* -4 */, DW_CFA_advance_loc4, 1, 0, 0, 0,
	    DW_CFA_val_expression, 6, 1, DW_OP_lit0, DW_CFA_advance_loc | 1,
	    DW_CFA_offset_extended, 6, 3, DW_CFA_advance_loc | 1, DW_CFA_def_cfa_register, 5,
	    DW_CFA_advance_loc | 1, DW_CFA_def_cfa, 6, 16, DW_CFA_advance_loc | 1,
	    DW_CFA_def_cfa_expression, 2, DW_OP_breg7, 8, DW_CFA_advance_loc | 1,
	    DW_CFA_def_cfa, 7, 8, DW_CFA_offset | 7, 1, DW_CFA_advance_loc | 1, DW_CFA_restore | 7,
	    DW_CFA_restore | 6, DW_CFA_advance_loc | 1, DW_CFA_same_value, 7);
	FDE(b, cie, 0x10c0, 0x10, DW_CFA_val_offset, 7, 0, DW_CFA_GNU_negative_offset_extended, 6,
	    2, DW_CFA_advance_loc | 1, DW_CFA_val_offset_sf, 7, 1);
	put32(b, 0);
}

/* What sample() must give: (pc, MT_CFA_*, cfa_off, rbp_off or 0), by group. */
struct want {
	uint64_t pc;
	int reg, off, rbp;
	const char *what;
};

#define W(pc, reg, off, rbp) { pc, MT_CFA_##reg, off, rbp, NULL }
#define W_GROUP(what, pc, reg, off, rbp) { pc, MT_CFA_##reg, off, rbp, what }

static const struct want sample_rows[] = {
	W_GROUP("frame-pointer prologue and leave", 0x1000, RSP, 8, 0),
	W(0x1001, RSP, 16, -2), W(0x1003, RSP, 16, -2), W(0x1004, RBP, 16, -2),
	W(0x1013, RBP, 16, -2), W(0x1014, RSP, 8, 0), W(0x101f, RSP, 8, 0),
	W_GROUP("no row between, before and after FDEs", 0x1020, NONE, 0, 0),
	W(0x102f, NONE, 0, 0), W(0xfff, NONE, 0, 0), W(0x1068, NONE, 0, 0), W(0x1120, NONE, 0, 0),
	W_GROUP("PLT expression", 0x1035, RSP, 16, 0),
	W(0x1036, RSP, 24, 0), W(0x1040, PLT, 8, 0), W(0x104f, PLT, 8, 0),
	W_GROUP("remember_state / restore_state", 0x1050, RSP, 8, 0),
	W(0x1051, RSP, 16, 0), W(0x1052, RSP, 32, 0), W(0x1053, RSP, 16, 0), W(0x1054, RSP, 8, 0),
	W_GROUP("undefined return address", 0x1060, UNDEFINED, 0, 0),
	W_GROUP("sf variants, register, restore_extended, expressions, big offsets, rsp rules",
		0x1070, RSP, 16, 0),
	W(0x1071, RSP, 16, -2), W(0x1072, UNSUPPORTED, 0, 0), W(0x1073, RSP, 16, -2),
	W(0x1074, UNSUPPORTED, 0, 0), W(0x1075, RSP, 16, 0), W(0x1079, UNSUPPORTED, 0, 0),
	W(0x107b, RSP, 32, 0), W(0x107c, UNSUPPORTED, 0, 0), W(0x107d, RSP, 32, -3),
	W(0x107e, UNSUPPORTED, 0, 0), W(0x107f, RBP, 16, -3), W(0x1080, UNSUPPORTED, 0, 0),
	W(0x1081, UNSUPPORTED, 0, 0), W(0x1082, RSP, 8, 0), W(0x1083, UNSUPPORTED, 0, 0),
	W_GROUP("val_offset, GNU_negative_offset_extended", 0x10c0, RSP, 8, 2),
	W(0x10c1, UNSUPPORTED, 0, 0),
	W_GROUP("FDEs out of address order", 0x1100, RSP, 24, 0), W(0x111f, RSP, 24, 0),
};

/* One check per group: the first row of the group that differs fails it. */
static void check_rows(const struct unwind_table *t, const struct want *w, size_t n)
{
	uint64_t bad = 0;
	size_t i, first;

	for (first = 0; first < n; first = i) {
		bad = UINT64_MAX;
		for (i = first; i < n && (i == first || !w[i].what); i++)
			if (bad == UINT64_MAX && !row_is(t, w[i].pc, w[i].reg, w[i].off, w[i].rbp))
				bad = w[i].pc;
		check(bad == UINT64_MAX, w[first].what, "row at %#" PRIx64, bad);
	}
}

static void test_instructions(void)
{
	struct sb b = { 0 };
	struct unwind_table t;
	size_t cie, nr;
	int err;

	sample(&b);
	err = build(&b, 0, &t);
	check(err == 0 && table_ok(&t), "hand-made .eh_frame builds", "err %d", err);
	if (err)
		return;
	check(t.nr_fdes == 8 && t.text_start == 0x1000 && t.text_end == 0x1120,
	      "FDE count and range", "%zu FDEs, %#" PRIx64 "-%#" PRIx64, t.nr_fdes, t.text_start,
	      t.text_end);
	check_rows(&t, sample_rows, sizeof(sample_rows) / sizeof(sample_rows[0]));
	check(unwind_table__find(&t, 0x1048)->plt_lim == 11, "PLT rows keep the expression's literal",
	      NULL);
	nr = t.nr;
	check(t.rows[nr - 2].pc_lo == 0x100, "identical neighbours merge into one row", NULL);
	unwind_table__free(&t);

	/* The same FDE in .debug_frame: 64-bit entries, CIE version 4, absolute addresses. */
	b.n = 0;
	put32(&b, 0xffffffff);
	put64(&b, 8 + 1 + 1 + 2 + 1 + 1 + 1 + 5 + 4);
	put64(&b, UINT64_MAX);
	put(&b, (uint8_t[]){ 4, 0, 8, 0, 1, 0x78, 16, DW_CFA_def_cfa, 7, 8, DW_CFA_offset | 16, 1,
			     0, 0, 0, 0 }, 16);
	put32(&b, 0xffffffff);
	put64(&b, 8 + 8 + 8 + 3 + 9 + 2);
	put64(&b, 0);
	put64(&b, 0x5000);
	put64(&b, 0x10);
	put(&b, (uint8_t[]){ DW_CFA_advance_loc | 4, DW_CFA_def_cfa_offset, 16, DW_CFA_set_loc }, 4);
	put64(&b, 0x5008);
	put(&b, (uint8_t[]){ DW_CFA_def_cfa_offset, 24 }, 2);
	err = build(&b, UNWIND_F_DEBUG_FRAME, &t);
	check(err == 0 && table_ok(&t) && t.from_debug_frame && row_is(&t, 0x5003, MT_CFA_RSP, 8, 0) &&
	      row_is(&t, 0x5004, MT_CFA_RSP, 16, 0) && row_is(&t, 0x5008, MT_CFA_RSP, 24, 0) &&
	      row_is(&t, 0x5010, MT_CFA_NONE, 0, 0),
	      ".debug_frame with 64-bit entries, set_loc", "err %d", err);
	unwind_table__free(&t);

	/* A CIE whose return address is not column 16: its rows cannot be followed. */
	b.n = 0;
	cie = std_cie(&b, 1);
	FDE(&b, cie, 0x1000, 0x10, DW_CFA_nop);
	err = build(&b, 0, &t);
	check(err == 0 && row_is(&t, 0x1000, MT_CFA_UNSUPPORTED, 0, 0),
	      "return address column other than 16 is unsupported", "err %d", err);
	unwind_table__free(&t);
	free(b.d);
}

/* ---- malformed input ---- */

static bool rc_ok(int rc)
{
	return rc == 0 || rc == -ENOEXEC || rc == -ENOENT;
}

/* Builds buf; any success must keep the invariants. Returns the error. */
static int try_build(const void *buf, size_t len, unsigned int flags, bool *bad)
{
	struct unwind_table t;
	int rc = unwind_table__build_from_data(buf, len, SEC_VADDR, 0, flags, &t);

	if (!rc_ok(rc) || (rc == 0 && !table_ok(&t)))
		*bad = true;
	unwind_table__free(&t);
	return rc;
}

static void *section_copy(const char *path, const char *name, size_t *len, uint64_t *vaddr)
{
	int fd = open(path, O_RDONLY);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	void *copy = NULL;
	GElf_Shdr sh;
	Elf_Data *d;

	d = elf ? find_scn(elf, name, &sh) : NULL;
	if (d && d->d_size && (copy = malloc(d->d_size))) {
		memcpy(copy, d->d_buf, d->d_size);
		*len = d->d_size;
		*vaddr = sh.sh_addr;
	}
	elf_end(elf);
	close(fd);
	return copy;
}

static void test_malformed(void)
{
	struct sb b = { 0 };
	size_t cie, f1, f2, cut, i, j, len, n_ok = 0;
	struct unwind_table t;
	char fifo[64];
	uint8_t *copy, *libc_eh;
	uint64_t vaddr;
	bool bad = false, cut_bad = false;
	double t0;
	int rc;

	cie = std_cie(&b, 16);
	f1 = FDE(&b, cie, 0x1000, 0x20, DW_CFA_advance_loc | 1, DW_CFA_def_cfa_offset, 16);
	f2 = FDE(&b, cie, 0x1020, 0x20, DW_CFA_advance_loc | 4, DW_CFA_def_cfa_offset, 16);
	/* Cut anywhere but between entries: the entry being read is incomplete. */
	for (cut = 0; cut < b.n; cut++) {
		rc = try_build(b.d, cut, 0, &bad);
		if (cut == 0 || cut == f1 || cut == f2)
			cut_bad |= cut == f2 ? rc != 0 : rc != -ENOENT;
		else
			cut_bad |= rc != -ENOEXEC;
	}
	check(!cut_bad && !bad, "truncated section: -ENOEXEC unless cut between entries", NULL);

	/* The CIE pointer: past the start, into an FDE, into the middle of the CIE. */
	for (i = 0; i < 3; i++) {
		uint32_t ptr[] = { (uint32_t)(f2 + 4 + 1), (uint32_t)(f2 + 4 - f1),
				   (uint32_t)(f2 + 4 - 8) };

		copy = malloc(b.n);
		memcpy(copy, b.d, b.n);
		memcpy(copy + f2 + 4, &ptr[i], 4);
		rc = unwind_table__build_from_data(copy, b.n, SEC_VADDR, 0, 0, &t);
		check(rc == -ENOEXEC, "CIE pointer out of range or not at a CIE", "case %zu: %d", i, rc);
		unwind_table__free(&t);
		free(copy);
	}
	/* Huge lengths: 32-bit, reserved, 64-bit; a huge augmentation and expression length. */
	{
		static const uint8_t huge32[] = { 0xf0, 0xff, 0xff, 0x7f, 0, 0, 0, 0 };
		static const uint8_t reserved[] = { 0xf0, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
		static const uint8_t huge64[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						  0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
		static const uint8_t bigaug[] = { 16, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78,
						  16, 0xff, 0xff, 0xff, 0xff, 0x0f };
		static const uint8_t bigleb[] = { 16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff,
						  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

		check(unwind_table__build_from_data(huge32, sizeof(huge32), 0, 0, 0, &t) == -ENOEXEC &&
		      unwind_table__build_from_data(reserved, sizeof(reserved), 0, 0, 0, &t) ==
		      -ENOEXEC &&
		      unwind_table__build_from_data(huge64, sizeof(huge64), 0, 0, 0, &t) == -ENOEXEC &&
		      unwind_table__build_from_data(bigaug, sizeof(bigaug), 0, 0, 0, &t) == -ENOEXEC &&
		      unwind_table__build_from_data(bigleb, sizeof(bigleb), 0, 0, 0, &t) == -ENOEXEC,
		      "huge lengths and overlong LEB128", NULL);
	}
	b.n = 0;
	cie = std_cie(&b, 16);
	FDE(&b, cie, 0x1000, 0x20, DW_CFA_def_cfa_expression, 0x7f, DW_OP_breg7, 8);
	rc = build(&b, 0, &t);
	check(rc == -ENOEXEC, "expression longer than its FDE", "%d", rc);
	b.n = 0;
	cie = std_cie(&b, 16);
	FDE(&b, cie, 0x1000, 0x20, 0x3f /* unknown instruction */, 0);
	rc = build(&b, 0, &t);
	check(rc == -ENOEXEC, "unknown CFA instruction", "%d", rc);
	/* .debug_frame with absolute addresses: one CIE, FDEs at 0x1000 and 4 GiB up. */
	b.n = 0;
	put(&b, (uint8_t[]){ 12, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0x78, 16,
			     DW_CFA_def_cfa, 7, 8 }, 16);
	for (i = 0; i < 2; i++) {
		put(&b, (uint8_t[]){ 20, 0, 0, 0, 0, 0, 0, 0 }, 8);
		put64(&b, i ? 0x100001000ULL : 0x1000);
		put64(&b, 0x20);
	}
	rc = build(&b, UNWIND_F_DEBUG_FRAME, &t);
	check(rc == -ENOEXEC, "a table spanning 4 GiB is refused", "%d", rc);
	b.n -= 24;
	rc = build(&b, UNWIND_F_DEBUG_FRAME, &t);
	check(rc == 0 && table_ok(&t), "... and accepted without its far FDE", "%d", rc);
	unwind_table__free(&t);

	/* An endless remember_state, restore_state with nothing remembered, endless advances. */
	for (i = 0; i < 3; i++) {
		struct sb e = { 0 };
		size_t at;

		cie = std_cie(&e, 16);
		at = begin_entry(&e);
		put32(&e, (uint32_t)(e.n - cie));
		put32(&e, (uint32_t)(0x1000 - (SEC_VADDR + e.n)));
		put32(&e, i == 2 ? 0x7fffffff : 0x100);
		uleb(&e, 0);
		for (j = 0; j < 200000; j++) {
			if (i == 2)
				put(&e, (uint8_t[]){ DW_CFA_advance_loc4, 0xff, 0xff, 0xff, 0x7f,
						     DW_CFA_def_cfa_offset, (uint8_t)(j & 0x7f) }, 7);
			else
				put8(&e, i ? DW_CFA_restore_state : DW_CFA_remember_state);
		}
		end_entry(&e, at);
		t0 = now_ms();
		rc = build(&e, 0, &t);
		check((i < 2 ? rc == -ENOEXEC : rc == 0 && table_ok(&t)) && now_ms() - t0 < 2000,
		      i == 0 ? "endless remember_state" : i == 1 ? "restore_state on an empty stack" :
		      "endless advances past the end", "%d in %.0f ms", rc, now_ms() - t0);
		unwind_table__free(&t);
		free(e.d);
	}

	/* Garbage: random bytes, and random corruption of real and hand-made sections. */
	copy = malloc(65536);
	for (i = 0; i < 3000; i++) {
		len = rnd() % 4096;
		for (j = 0; j < len; j++)
			copy[j] = (uint8_t)rnd();
		if (i % 2) /* a plausible start: a small length and a CIE id */
			memcpy(copy, (uint8_t[]){ (uint8_t)(rnd() % 64), 0, 0, 0, 0, 0, 0, 0, 1 },
			       len < 9 ? len : 9);
		n_ok += try_build(copy, len, i % 3 ? 0 : UNWIND_F_DEBUG_FRAME, &bad) == 0;
	}
	b.n = 0;
	sample(&b);
	for (i = 0; i < 20000; i++) {
		memcpy(copy, b.d, b.n);
		for (j = rnd() % 3 + 1; j; j--)
			copy[rnd() % b.n] = (uint8_t)rnd();
		n_ok += try_build(copy, b.n, 0, &bad) == 0;
	}
	free(copy);
	libc_eh = section_copy(LIBC, ".eh_frame", &len, &vaddr);
	copy = libc_eh ? malloc(len) : NULL;
	t0 = now_ms();
	for (i = 0; copy && i < 300; i++) {
		struct unwind_table lt;

		memcpy(copy, libc_eh, len);
		for (j = rnd() % 16 + 1; j; j--)
			copy[rnd() % len] = (uint8_t)rnd();
		rc = unwind_table__build_from_data(copy, i % 10 ? len : rnd() % len, vaddr, 0, 0, &lt);
		bad |= !rc_ok(rc) || (rc == 0 && !table_ok(&lt));
		n_ok += rc == 0;
		unwind_table__free(&lt);
	}
	check(copy && !bad, "23300 random and corrupted sections: -ENOEXEC or a sound table", NULL);
	printf("# %zu of them built a table; 300 corrupted libc sections in %.0f ms\n", n_ok,
	       now_ms() - t0);
	free(copy);
	free(libc_eh);

	/* Files that are not what they should be. */
	check(unwind_table__build_from_file("/nonexistent", &t) == -ENOENT &&
	      unwind_table__build_from_file("/etc/passwd", &t) == -ENOEXEC &&
	      unwind_table__build_from_file("/dev/null", &t) == -ENOEXEC,
	      "missing, non-ELF and non-regular files", NULL);
	/* Opened for reading, a FIFO would wait for a writer: a map may name one. */
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	check(!mkfifo(fifo, 0600) && unwind_table__build_from_file(fifo, &t) == -ENOEXEC,
	      "a FIFO is -ENOEXEC, without blocking", NULL);
	free(b.d);
}

int main(void)
{
	/* A hang is a failure too. */
	alarm(600);
	if (elf_version(EV_CURRENT) == EV_NONE || !mkdtemp(tmpdir)) {
		perror("setup");
		return 1;
	}
	test_instructions();
	test_malformed();
	test_oracle();
	test_fp_calls();
	run("rm -rf %s", tmpdir);
	return unit_exit();
}
