/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unit tests: where Go allocations are sampled, on real code of the
 * runtime's allocator from Go 1.19 to 1.27 (objdump of binaries each
 * release built), and edits of it that must be refused.
 */
#include <errno.h>
#include <string.h>
#include "probe/go_site.h"
#include "unit.h"

#define FREEINDEX 48	/* runtime.mspan.freeindex, 1.19-1.27 */

/* Go 1.19.8, runtime.mallocgc: from its call of publicationBarrier.abi0 to gcmarknewobject's. */
static const uint8_t go119[] = {
	0xe8, 0x21, 0x10, 0x05, 0x00,			/* call publicationBarrier.abi0 */
	0x45, 0x0f, 0x57, 0xff,				/* xorps %xmm15,%xmm15 */
	0x64, 0x4c, 0x8b, 0x34, 0x25, 0xf8, 0xff, 0xff, 0xff, /* mov %fs:-8,%r14 */
	0x48, 0x8b, 0x44, 0x24, 0x28,			/* mov 0x28(%rsp),%rax */
	0x48, 0x8b, 0x48, 0x30,				/* mov 0x30(%rax),%rcx */
	0x48, 0x89, 0x88, 0x88, 0x00, 0x00, 0x00,	/* mov %rcx,0x88(%rax) */
	0x83, 0x3d, 0x81, 0xc4, 0x14, 0x00, 0x00,	/* cmpl $0,gcphase(%rip) */
	0x74, 0x14,					/* je */
	0x48, 0x8b, 0x5c, 0x24, 0x50,			/* mov 0x50(%rsp),%rbx */
	0x48, 0x8b, 0x4c, 0x24, 0x40,			/* mov 0x40(%rsp),%rcx */
	0x48, 0x8b, 0x7c, 0x24, 0x30,			/* mov 0x30(%rsp),%rdi */
	0xe8, 0xe7, 0x17, 0x01, 0x00,			/* call gcmarknewobject */
};

/* Go 1.23.5, runtime.mallocgc. */
static const uint8_t go123[] = {
	0xe8, 0xe3, 0xa2, 0x00, 0x00,			/* call publicationBarrier */
	0x48, 0x8b, 0x44, 0x24, 0x30,			/* mov 0x30(%rsp),%rax */
	0x0f, 0xb7, 0x48, 0x30,				/* movzwl 0x30(%rax),%ecx */
	0x66, 0x89, 0x48, 0x34,				/* mov %cx,0x34(%rax) */
	0x83, 0x3d, 0x1b, 0x22, 0x11, 0x00, 0x00,	/* cmpl $0,gcphase(%rip) */
	0x74, 0x17,					/* je */
	0x48, 0x8b, 0x5c, 0x24, 0x70,			/* mov 0x70(%rsp),%rbx */
	0x48, 0x89, 0xd9,				/* mov %rbx,%rcx */
	0x48, 0x89, 0xcb,				/* mov %rcx,%rbx */
	0x66, 0x90,					/* nop */
	0xe8, 0x9b, 0xb5, 0xfb, 0xff,			/* call gcmarknewobject */
};

/* Go 1.24.0, runtime.mallocgcLarge: from its call of publicationBarrier at 0x4130e0. */
static const uint8_t go124_large[] = {
	0xe8, 0x1b, 0xcb, 0x05, 0x00,                   /* call 46fc00 */
	0x48, 0x8b, 0x44, 0x24, 0x20,                   /* mov 0x20(%rsp),%rax */
	0x0f, 0xb7, 0x48, 0x30,                         /* movzwl 0x30(%rax),%ecx */
	0x66, 0x89, 0x48, 0x34,                         /* mov %cx,0x34(%rax) */
	0x80, 0x3d, 0xc7, 0xa2, 0x14, 0x00, 0x00,       /* cmpb $0x0,0x14a2c7(%rip) */
	0x74, 0x15,                                     /* je 413110 */
	0x48, 0x8b, 0x5c, 0x24, 0x48,                   /* mov 0x48(%rsp),%rbx */
	0x48, 0x89, 0xd9,                               /* mov %rbx,%rcx */
	0x48, 0x89, 0xcb,                               /* mov %rcx,%rbx */
};
#define GO124_LARGE_ADDR 0x4130e0ULL
#define GO124_LARGE_BARRIER 0x46fc00ULL
#define GO124_LARGE_MARKNEW 0x4215a0ULL
/* Go 1.24.0, runtime.mallocgcLarge: from its call of publicationBarrier at 0x413277. */
static const uint8_t go124_large_second[] = {
	0xe8, 0x84, 0xc9, 0x05, 0x00,                   /* call 46fc00 */
	0x48, 0x8b, 0x44, 0x24, 0x38,                   /* mov 0x38(%rsp),%rax */
	0x8b, 0x88, 0x08, 0x01, 0x00, 0x00,             /* mov 0x108(%rax),%ecx */
	0x8d, 0x51, 0xff,                               /* lea -0x1(%rcx),%edx */
	0x90,                                           /* nop */
	0x89, 0x90, 0x08, 0x01, 0x00, 0x00,             /* mov %edx,0x108(%rax) */
	0x83, 0xf9, 0x01,                               /* cmp $0x1,%ecx */
	0x75, 0x14,                                     /* jne 4132aa */
	0x41, 0x80, 0xbe, 0xb9, 0x00, 0x00, 0x00, 0x00, /* cmpb $0x0,0xb9(%r14) */
	0x66, 0x90,                                     /* xchg %ax,%ax */
	0x74, 0x08,                                     /* je 4132aa */
	0x49, 0xc7, 0x46, 0x10, 0xde, 0xfa, 0xff, 0xff, /* movq $0xfffffffffffffade,0x10(%r14) */
	0x48, 0x8b, 0x44, 0x24, 0x48,                   /* mov 0x48(%rsp),%rax */
	0x48, 0x8b, 0x5c, 0x24, 0x30,                   /* mov 0x30(%rsp),%rbx */
};
#define GO124_LARGE_SECOND_ADDR 0x413277ULL
#define GO124_LARGE_SECOND_BARRIER 0x46fc00ULL
#define GO124_LARGE_SECOND_MARKNEW 0x4215a0ULL
/* Go 1.26.8, runtime.mallocgcSmallNoscan: from its call of publicationBarrier at 0x41cea5. */
static const uint8_t go126_noscan[] = {
	0xe8, 0xd6, 0x42, 0x06, 0x00,                   /* call 481180 */
	0x80, 0x3d, 0x3f, 0xc5, 0x16, 0x00, 0x00,       /* cmpb $0x0,0x16c53f(%rip) */
	0x75, 0x0f,                                     /* jne 41cec2 */
	0x48, 0x8b, 0x54, 0x24, 0x20,                   /* mov 0x20(%rsp),%rdx */
	0x0f, 0xb7, 0x72, 0x30,                         /* movzwl 0x30(%rdx),%esi */
	0x66, 0x89, 0x72, 0x34,                         /* mov %si,0x34(%rdx) */
	0xeb, 0x15,                                     /* jmp 41ced7 */
	0x48, 0x8b, 0x5c, 0x24, 0x40,                   /* mov 0x40(%rsp),%rbx */
	0x48, 0x89, 0xd9,                               /* mov %rbx,%rcx */
	0x48, 0x8b, 0x44, 0x24, 0x20,                   /* mov 0x20(%rsp),%rax */
	0x48, 0x89, 0xcb,                               /* mov %rcx,%rbx */
	0xe8, 0x69, 0x13, 0x01, 0x00,                   /* call 42e240 */
	0x48, 0x8b, 0x54, 0x24, 0x28,                   /* mov 0x28(%rsp),%rdx */
	0x48, 0x8b, 0x32,                               /* mov (%rdx),%rsi */
};
#define GO126_NOSCAN_ADDR 0x41cea5ULL
#define GO126_NOSCAN_BARRIER 0x481180ULL
#define GO126_NOSCAN_MARKNEW 0x42e240ULL
/* Go 1.27.3, runtime.mallocgcSmallNoScanSC3: from its call of publicationBarrier at 0x41e933. */
static const uint8_t go127_sc3[] = {
	0xe8, 0x68, 0x14, 0x06, 0x00,                   /* call 47fda0 */
	0x48, 0x8b, 0x44, 0x24, 0x28,                   /* mov 0x28(%rsp),%rax */
	0x0f, 0xb7, 0x48, 0x30,                         /* movzwl 0x30(%rax),%ecx */
	0x66, 0x89, 0x48, 0x34,                         /* mov %cx,0x34(%rax) */
};
#define GO127_SC3_ADDR 0x41e933ULL
#define GO127_SC3_BARRIER 0x47fda0ULL
#define GO127_SC3_MARKNEW 0x42d4a0ULL

static int publish(const uint8_t *code, size_t len, uint64_t addr, uint64_t barrier,
		   uint64_t marknew, uint32_t freeindex, struct go_publish_site *s)
{
	struct go_site_code c = { code, len, addr, barrier, marknew, freeindex };

	memset(s, 0, sizeof(*s));
	return go_site__publish(&c, s);
}

#define PUBLISH(name, NAME, s) publish(name, sizeof(name), NAME##_ADDR, NAME##_BARRIER, \
				       NAME##_MARKNEW, FREEINDEX, s)

static void test_real_code(void)
{
	struct go_publish_site s;
	int err;

	err = publish(go119, sizeof(go119), 0x40bb7a, 0x45cba0, 0x41d3a0, FREEINDEX, &s);
	check(!err && s.offset == 0 && s.span_slot == 0x28,
	      "go1.19 mallocgc: at the barrier's call, span at rsp+0x28",
	      "err %d offset %llu span 0x%x", err, (unsigned long long)s.offset, s.span_slot);
	err = publish(go123, sizeof(go123), 0x4612f8, 0x46b5e0, 0x41c8c0, FREEINDEX, &s);
	check(!err && s.offset == 0 && s.span_slot == 0x30,
	      "go1.23 mallocgc: span at rsp+0x30 (freeIndexForScan = freeindex)",
	      "err %d span 0x%x", err, s.span_slot);
	err = PUBLISH(go124_large, GO124_LARGE, &s);
	check(!err && s.offset == 0 && s.span_slot == 0x20,
	      "go1.24 mallocgcLarge: span at rsp+0x20", "err %d span 0x%x", err, s.span_slot);
	err = PUBLISH(go124_large_second, GO124_LARGE_SECOND, &s);
	check(err == -ENOENT, "go1.24 mallocgcLarge's second barrier, after zeroing: no span, no site",
	      "err %d", err);
	err = PUBLISH(go126_noscan, GO126_NOSCAN, &s);
	check(!err && s.offset == 0 && s.span_slot == 0x20,
	      "go1.26 mallocgcSmallNoscan: both branches (freeIndexForScan, gcmarknewobject) agree",
	      "err %d span 0x%x", err, s.span_slot);
	err = PUBLISH(go127_sc3, GO127_SC3, &s);
	check(!err && s.offset == 0 && s.span_slot == 0x28,
	      "go1.27 mallocgcSmallNoScanSC3's fast path: span at rsp+0x28", "err %d span 0x%x",
	      err, s.span_slot);
}

static void test_refusals(void)
{
	/* call barrier; mov %rax,0x28(%rsp); then go127_sc3's reload and store */
	static const uint8_t overwritten[] = {
		0xe8, 0x00, 0x00, 0x00, 0x00,
		0x48, 0x89, 0x44, 0x24, 0x28,
		0x48, 0x8b, 0x44, 0x24, 0x28,
		0x0f, 0xb7, 0x48, 0x30,
		0x66, 0x89, 0x48, 0x34,
	};
	struct go_publish_site s;
	uint8_t code[sizeof(go126_noscan)];
	int err;

	err = publish(go127_sc3, sizeof(go127_sc3), GO127_SC3_ADDR, GO127_SC3_BARRIER + 1,
		      GO127_SC3_MARKNEW, FREEINDEX, &s);
	check(err == -ENODATA, "no call of the barrier: -ENODATA", "err %d", err);
	err = publish(go127_sc3, sizeof(go127_sc3), GO127_SC3_ADDR, GO127_SC3_BARRIER,
		      GO127_SC3_MARKNEW, 56, &s);
	check(err == -ENOENT, "another field than freeindex copied: no site", "err %d", err);
	err = publish(overwritten, sizeof(overwritten), 0x1000, 0x1005, 0x2000, FREEINDEX, &s);
	check(err == -ENOENT, "the span's slot written after the barrier: no site", "err %d", err);
	/* The branch to gcmarknewobject reloads rax from 0x28(%rsp): the paths disagree. */
	memcpy(code, go126_noscan, sizeof(code));
	code[41] = 0x28;
	err = publish(code, sizeof(code), GO126_NOSCAN_ADDR, GO126_NOSCAN_BARRIER,
		      GO126_NOSCAN_MARKNEW, FREEINDEX, &s);
	check(err == -ENOENT, "two paths, two slots: no site", "err %d", err);
	/* mov %rdx,%rax (48 89 d0 + nops) instead: rax is no slot's at gcmarknewobject. */
	memcpy(code, go126_noscan, sizeof(code));
	memcpy(code + 37, "\x48\x89\xd0\x90\x90", 5);
	err = publish(code, sizeof(code), GO126_NOSCAN_ADDR, GO126_NOSCAN_BARRIER,
		      GO126_NOSCAN_MARKNEW, FREEINDEX, &s);
	check(err == -ENOENT, "gcmarknewobject's span not from a slot: no site", "err %d", err);
	err = publish(go127_sc3, 12, GO127_SC3_ADDR, GO127_SC3_BARRIER, GO127_SC3_MARKNEW,
		      FREEINDEX, &s);
	check(err == -ENOENT, "code cut short: no site", "err %d", err);
}

static void test_calls(void)
{
	check(go_site__calls(go127_sc3, sizeof(go127_sc3), GO127_SC3_ADDR, GO127_SC3_BARRIER) == 1,
	      "calls: a size-specialized function calls the barrier", NULL);
	check(go_site__calls(go127_sc3, sizeof(go127_sc3), GO127_SC3_ADDR,
			     GO127_SC3_BARRIER + 1) == 0, "calls: not another function", NULL);
	check(go_site__calls(go127_sc3, 3, GO127_SC3_ADDR, GO127_SC3_BARRIER) == -ENOENT,
	      "calls: an instruction cut short: cannot tell", NULL);
}

static void test_ranges(void)
{
	/* Go 1.27: helpers, newobject, the specialized functions, ..., mallocgc. */
	const struct go_func f[] = {
		{ 0x41bde0, 741, true }, { 0x41c0e0, 805, true }, { 0x41c420, 869, true },
		{ 0x41c7a0, 619, true }, { 0x41ccc0, 60, false }, { 0x41d360, 550, true },
		{ 0x41d5a0, 857, true }, { 0x42de40, 439, false }, { 0x47be40, 461, true },
	};
	uint64_t lo[3], hi[3];
	size_t n = 0;

	check(go_site__ranges(f, 9, lo, hi, 3, &n) == 0 && n == 3 && lo[0] == 0x41bde0 &&
	      hi[0] == 0x41c7a0 + 619 && lo[1] == 0x41d360 && hi[1] == 0x41d5a0 + 857 &&
	      lo[2] == 0x47be40 && hi[2] == 0x47be40 + 461,
	      "ranges: runs of allocator functions merged, others between kept out",
	      "n %zu", n);
	check(go_site__ranges(f, 9, lo, hi, 2, &n) == -E2BIG, "ranges: more than max refused",
	      NULL);
}

int main(void)
{
	test_real_code();
	test_refusals();
	test_calls();
	test_ranges();
	return unit_exit();
}
