/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pure parts of the Go heap reader: the version in .go.buildinfo, the
 * offset table, the sanity checks, reads that must agree twice, and finding
 * runtime.gcController from a function's rip-relative operands.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "memory/go_heap.h"
#include "unit.h"

static void test_buildinfo(void)
{
	uint8_t bi[64] = "\xff Go buildinf:";
	char ver[GO_HEAP_VERSION_MAX];

	bi[14] = 8;
	bi[15] = 2;
	bi[32] = 8;
	memcpy(bi + 33, "go1.19.8", 8);
	CHECK(go_heap__parse_buildinfo(bi, sizeof(bi), ver, sizeof(ver)) == 0 &&
	      !strcmp(ver, "go1.19.8"), "buildinfo: inline version read");
	CHECK(go_heap__parse_buildinfo(bi, 38, ver, sizeof(ver)) == -ENOEXEC,
	      "buildinfo: a version past the section's end is refused");
	bi[15] = 0;
	CHECK(go_heap__parse_buildinfo(bi, sizeof(bi), ver, sizeof(ver)) == -ENOEXEC,
	      "buildinfo: pre-1.18 pointer format refused");
	bi[15] = 2;
	bi[1] = 'X';
	CHECK(go_heap__parse_buildinfo(bi, sizeof(bi), ver, sizeof(ver)) == -ENOEXEC,
	      "buildinfo: bad magic refused");
}

/* The table's offsets of version into u/r/f/m (heapInUse, heapReleased, heapFree, heapMarked). */
static int table(const char *version, uint32_t *u, uint32_t *r, uint32_t *f, uint32_t *m)
{
	struct go_heap_layout lo = { 0 };
	int err = go_heap__table_offsets(version, &lo);

	*u = lo.off_inuse;
	*r = lo.off_released;
	*f = lo.off_free;
	*m = lo.off_marked;
	return err;
}

static void test_table(void)
{
	uint32_t u = 0, r = 0, f = 0, m = 0;

	CHECK(table("go1.19.8", &u, &r, &f, &m) == 0 && u == 304 && r == 312 && f == 320 &&
	      m == 184, "table: go1.19.8 -> 304/312/320, heapMarked 184");
	CHECK(table("go1.19", &u, &r, &f, &m) == 0, "table: go1.19");
	CHECK(table("go1.190", &u, &r, &f, &m) == -ENOENT, "table: go1.190 unknown");
	CHECK(table("go1.19rc1", &u, &r, &f, &m) == -ENOENT,
	      "table: a release candidate is not assumed");
	CHECK(table("go1.19.", &u, &r, &f, &m) == -ENOENT, "table: go1.19. unknown");
	CHECK(table("devel go1.24-abc", &u, &r, &f, &m) == -ENOENT, "table: devel build unknown");
	CHECK(table("go1.18.10", &u, &r, &f, &m) == -ENOENT, "table: go1.18 unknown");
	CHECK(table("go1.21.13", &u, &r, &f, &m) == 0 && u == 272 && r == 280 && f == 288 &&
	      m == 152, "table: go1.21.13 -> 272/280/288, 152");
	CHECK(table("go1.22.12", &u, &r, &f, &m) == 0 && u == 272 && r == 280 && f == 288,
	      "table: go1.22.12 -> 272/280/288");
	CHECK(table("go1.23", &u, &r, &f, &m) == 0 && u == 272 && r == 280 && f == 288,
	      "table: go1.23 -> 272/280/288");
	/* go1.20: from its sources only (lastConsMark is one float64, not 1.21's four). */
	CHECK(table("go1.20.14", &u, &r, &f, &m) == 0 && u == 248 && r == 256 && f == 264 &&
	      m == 128, "table: go1.20.14 -> 248/256/264, 128");
	CHECK(table("go1.20", &u, &r, &f, &m) == 0 && u == 248, "table: go1.20");
	CHECK(table("go1.20rc3", &u, &r, &f, &m) == -ENOENT, "table: go1.20rc3 unknown");
	/* DWARF of go1.24.0, go1.25.5, go1.26.8 and go1.27.3 binaries. */
	CHECK(table("go1.24.0", &u, &r, &f, &m) == 0 && u == 272 && r == 280 && f == 288 &&
	      m == 152, "table: go1.24.0 -> 272/280/288, 152");
	CHECK(table("go1.25.5 X:greenteagc", &u, &r, &f, &m) == 0 && u == 272 && m == 152,
	      "table: go1.25.5 X:greenteagc (the GC's experiment changes no offset)");
	CHECK(table("go1.26.8-X:nogreenteagc", &u, &r, &f, &m) == 0 && u == 272 && m == 152,
	      "table: go1.26.8-X:nogreenteagc");
	CHECK(table("go1.27.3", &u, &r, &f, &m) == 0 && u == 272 && r == 280 && f == 288 &&
	      m == 152, "table: go1.27.3 -> 272/280/288, 152");
	CHECK(table("go1.26.8 X:staticlockranking", &u, &r, &f, &m) == -ENOENT,
	      "table: another experiment is not assumed");
	CHECK(table("go1.28.0", &u, &r, &f, &m) == -ENOENT, "table: go1.28 unknown");
	CHECK(table("go1.2", &u, &r, &f, &m) == -ENOENT, "table: go1.2 unknown");
}

static void test_check(void)
{
	struct go_heap_figures f = { 8 << 20, 600 << 20, 4 << 20 };
	char why[GO_HEAP_NOTE_MAX];

	CHECK(go_heap__check(&f, 640 << 20, why, sizeof(why)) == 0, "check: plausible figures pass");
	CHECK(go_heap__check(&f, 600 << 20, why, sizeof(why)) == -ERANGE,
	      "check: more than the mapped arenas refused");
	f.free += 12;
	CHECK(go_heap__check(&f, 640 << 20, why, sizeof(why)) == -ERANGE,
	      "check: unaligned word refused");
	f.free -= 12;
	f.inuse = 0;
	CHECK(go_heap__check(&f, 640 << 20, why, sizeof(why)) == -ERANGE,
	      "check: nothing in use refused (not initialized, or not these words)");
	f = (struct go_heap_figures){ 1ULL << 50, 0, 0 };
	CHECK(go_heap__check(&f, UINT64_MAX, why, sizeof(why)) == -ERANGE,
	      "check: implausible size refused");
	f = (struct go_heap_figures){ 8 << 20, 600 << 20, 4 << 20, (8 << 20) - 48 };
	CHECK(go_heap__check(&f, 640 << 20, why, sizeof(why)) == 0,
	      "check: a live heap within the heap in use passes");
	f.live = (8 << 20) + 8;
	CHECK(go_heap__check(&f, 640 << 20, why, sizeof(why)) == -ERANGE,
	      "check: a live heap above the heap in use refused");
	f.live = 1001;
	CHECK(go_heap__check(&f, 640 << 20, why, sizeof(why)) == -ERANGE,
	      "check: a live heap not in 8-byte slots refused");
}

/* A process whose words change the first `changes` times they are read. */
struct fake {
	uint64_t mem[64];
	int reads, changes, fail_at;
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *fk = ctx;

	if (++fk->reads == fk->fail_at)
		return -ESRCH;
	if (addr < 0x1000 || addr - 0x1000 + len > sizeof(fk->mem))
		return -EFAULT;
	memcpy(buf, (uint8_t *)fk->mem + (addr - 0x1000), len);
	if (fk->changes > 0) {
		fk->changes--;
		fk->mem[40] += 8192;	/* heapInUse moves between two reads */
	}
	return 0;
}

static void test_read_stable(void)
{
	struct go_heap_layout lo = { .off_inuse = 320, .off_released = 328, .off_free = 336,
				     .off_marked = 200 };
	struct go_heap_figures f;
	struct fake fk = { .changes = 2 };
	int err;

	fk.mem[40] = 8192;
	fk.mem[41] = 4096;
	fk.mem[42] = 1 << 20;
	fk.mem[25] = 5000;
	err = go_heap__read_stable(fake_read, &fk, 0x1000, &lo, &f);
	CHECK(err == 0 && f.inuse == 3 * 8192 && f.released == 4096 && f.free == 1 << 20 &&
	      f.live == 5000,
	      "read: settles once two reads agree, heapMarked with the rest (err %d, inuse %llu)",
	      err, (unsigned long long)f.inuse);
	fk = (struct fake){ .changes = 100 };
	CHECK(go_heap__read_stable(fake_read, &fk, 0x1000, &lo, &f) == -EAGAIN,
	      "read: words that keep changing give -EAGAIN, not a torn figure");
	fk = (struct fake){ .fail_at = 2 };
	CHECK(go_heap__read_stable(fake_read, &fk, 0x1000, &lo, &f) == -ESRCH,
	      "read: a process exiting mid-read gives its error");
}

static void test_find_base(void)
{
	struct go_heap_layout lo = { .off_inuse = 304, .off_released = 312, .off_free = 320 };
	const uint64_t B = 0x564080, M = 0x570000;
	uint64_t t1[] = { M, B + 304, 0x4000, B + 320, B + 312, M + 8 };
	/* memstats' consecutive fields fit too; only gcController is named itself. */
	uint64_t t2[] = { M, M + 8, M + 16, M + 24, B + 304, B + 312, B + 320, B };
	uint64_t t3[] = { M, M + 8, M + 16, M + 24 };
	uint64_t t4[] = { B + 304, B + 320 };
	uint64_t base = 0;

	CHECK(go_heap__find_base(t1, 6, &lo, &base) == 0 && base == B, "find_base: one fit");
	CHECK(go_heap__find_base(t2, 8, &lo, &base) == 0 && base == B,
	      "find_base: the base named itself wins over runs of words");
	CHECK(go_heap__find_base(t3, 4, &lo, &base) == -ENOENT,
	      "find_base: several fits, none named: refused");
	CHECK(go_heap__find_base(t4, 2, &lo, &base) == -ENOENT, "find_base: a word missing");
}

int main(void)
{
	test_buildinfo();
	test_table();
	test_check();
	test_read_stable();
	test_find_base();
	return unit_exit();
}
