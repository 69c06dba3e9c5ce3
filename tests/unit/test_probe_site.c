/* Unit tests: the x86-64 decoder and where probes sit, on real prologues. */
#include <stdio.h>
#include <string.h>
#include "probe/probe_site.h"
#include "symbols/x86_insn.h"
#include "unit.h"

/* How many SysV arguments the probe reads; GO_ARGS: Go's registers, kept as they are. */
#define ARGS1 1
#define ARGS2 2
#define ARGS3 3
#define GO_ARGS 100
#define GO_KEEP (1u << X86_RAX | 1u << X86_RBX | 1u << X86_RCX | 1u << X86_RDI | 1u << X86_RSI)

static struct probe_site site(const uint8_t *code, size_t len, int args)
{
	static const uint8_t sysv[] = { X86_RDI, X86_RSI, X86_RDX };
	struct probe_site ps;

	if (args == GO_ARGS)
		probe_site__choose(code, len, 0x1000, GO_KEEP, NULL, 0, &ps);
	else
		probe_site__choose(code, len, 0x1000, 0, sysv, (size_t)args, &ps);
	return ps;
}

#define SITE(code, keep) site(code, sizeof(code), keep)

static void test_sites(void)
{
	/* glibc 2.36 free: test %rdi,%rdi; je rel32; push %rbp; ...; ret */
	const uint8_t glibc_free[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0x01, 0x00, 0x00, 0x00, 0x55,
				       0xc3 };
	/* glibc malloc: push %r12 at the start */
	const uint8_t push_r12[] = { 0x41, 0x54, 0x55, 0xc3 };
	/* endbr64; push %rbp */
	const uint8_t endbr[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0xc3 };
	/* jemalloc 5.3 malloc: cmp $0x1000,%rdi; ja +0x93; lea rip,%rdx; ...; ret */
	const uint8_t je_malloc[] = { 0x48, 0x81, 0xff, 0x00, 0x10, 0x00, 0x00, 0x0f, 0x87, 0x01,
				      0x00, 0x00, 0x00, 0x48, 0x8d, 0x15, 0x5c, 0x7f, 0x2c, 0x00,
				      0xc3 };
	/*
	 * jemalloc 5.3 free: mov %rdi,%rax; mov rip,%rdx; mov %rdi,%rcx; shr $0x1a,%rax;
	 * and $imm32,%rcx; and $0xf0,%eax; add %fs:0x0,%rax; add %rdx,%rax;
	 * cmp 0x1b0(%rax),%rcx; jne rel32; ret
	 */
	const uint8_t je_free[] = { 0x48, 0x89, 0xf8, 0x48, 0x8b, 0x15, 0x0e, 0x53, 0x0a, 0x00,
				    0x48, 0x89, 0xf9, 0x48, 0xc1, 0xe8, 0x1a, 0x48, 0x81, 0xe1,
				    0x00, 0x00, 0x00, 0xc0, 0x25, 0xf0, 0x00, 0x00, 0x00, 0x64,
				    0x48, 0x03, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00, 0x48, 0x01,
				    0xd0, 0x48, 0x3b, 0x88, 0xb0, 0x01, 0x00, 0x00, 0x0f, 0x85,
				    0x00, 0x00, 0x00, 0x00, 0xc3 };
	/* tcmalloc 2.10 malloc: mov rip,%rax; test %rax,%rax; jne rel8; ret */
	const uint8_t tc_malloc[] = { 0x48, 0x8b, 0x05, 0x59, 0xab, 0x00, 0x00, 0x48, 0x85, 0xc0,
				      0x75, 0x00, 0xc3 };
	/* mimalloc 2.0 malloc: mov rip,%rax; mov %rdi,%rsi; mov %fs:(%rax),%rdi: size moved away */
	const uint8_t mi_malloc[] = { 0x48, 0x8b, 0x05, 0x49, 0xb4, 0x00, 0x00, 0x48, 0x89, 0xfe,
				      0x64, 0x48, 0x8b, 0x38, 0x48, 0x81, 0xfe, 0x00, 0x04, 0x00,
				      0x00, 0x77, 0x00, 0xc3 };
	/*
	 * mimalloc 3 mi_malloc_aligned: mov $-0x68,%rax; mov %rsi,%rdx; mov %rdi,%rsi;
	 * mov %fs:(%rax),%rax; mov %rax,%rdi; jmp rel32
	 */
	const uint8_t mi_malloc_aligned[] = { 0x48, 0xc7, 0xc0, 0x98, 0xff, 0xff, 0xff, 0x48, 0x89,
					      0xf2, 0x48, 0x89, 0xfe, 0x64, 0x48, 0x8b, 0x00, 0x48,
					      0x89, 0xc7, 0xe9, 0x77, 0xff, 0xff, 0xff };
	/*
	 * mimalloc 3 mi_free: mov rip,%rax; mov %rdi,%rdx; mov %rdi,%rsi; shr $0x1d,%rdx;
	 * mov (%rax,%rdx,8),%rdx; mov %rdi,%rax; shr $0x10,%rax; and $0x1fff,%eax;
	 * mov (%rdx,%rax,8),%rdi; test %rdi,%rdi; je rel8; ret
	 */
	const uint8_t mi_free3[] = { 0x48, 0x8b, 0x05, 0xb9, 0xc0, 0x04, 0x00, 0x48, 0x89, 0xfa,
				     0x48, 0x89, 0xfe, 0x48, 0xc1, 0xea, 0x1d, 0x48, 0x8b, 0x14,
				     0xd0, 0x48, 0x89, 0xf8, 0x48, 0xc1, 0xe8, 0x10, 0x25, 0xff,
				     0x1f, 0x00, 0x00, 0x48, 0x8b, 0x3c, 0xc2, 0x48, 0x85, 0xff,
				     0x74, 0x00, 0xc3 };
	/* mov %edi,%esi; mov $0,%edi; jne rel8: a 32-bit copy, then rdi written */
	const uint8_t mov32_away[] = { 0x89, 0xfe, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x75, 0x00, 0xc3 };
	/* jemalloc sdallocx: mov %rdi,%r8; cmp $0x1000,%rsi; ja rel8; ret */
	const uint8_t je_sdallocx[] = { 0x49, 0x89, 0xf8, 0x48, 0x81, 0xfe, 0x00, 0x10, 0x00, 0x00,
					0x77, 0x00, 0xc3 };
	/* cmp $0x1000,%rdi; ja +0; ret; jmp back onto the ja (-5 from the end of the jmp) */
	const uint8_t back_branch[] = { 0x48, 0x81, 0xff, 0x00, 0x10, 0x00, 0x00, 0x77, 0x00, 0xc3,
					0xeb, 0xfb };
	/* the same with the jump to the function's start: a new call as far as probes go */
	const uint8_t restart[] = { 0x48, 0x81, 0xff, 0x00, 0x10, 0x00, 0x00, 0x77, 0x00, 0xc3,
				    0xeb, 0xf4 };
	/* sub $8,%rsp before anything emulated: the return address moves */
	const uint8_t sub_rsp[] = { 0x48, 0x83, 0xec, 0x08, 0x75, 0x00, 0xc3 };
	/* mov %rdi,%rbp before the branch: the frame-pointer walk would start wrong */
	const uint8_t mov_rbp[] = { 0x48, 0x89, 0xfd, 0x75, 0x00, 0xc3 };
	/* an undecodable byte later in the function: branches cannot be checked */
	const uint8_t bad_later[] = { 0x48, 0x85, 0xff, 0x74, 0x00, 0xc3, 0x06 };
	/* truncated jcc rel32 */
	const uint8_t cut[] = { 0x48, 0x85, 0xff, 0x0f, 0x84 };
	/* Go: cmp 0x10(%r14),%rsp; jbe rel32; ret */
	const uint8_t go_small[] = { 0x49, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0x00, 0x00, 0x00, 0x00,
				     0xc3 };
	/* Go: lea -0x10(%rsp),%r12; cmp 0x18(%r14),%r12; jbe rel32; ret */
	const uint8_t go_big[] = { 0x4c, 0x8d, 0x64, 0x24, 0xf0, 0x4d, 0x3b, 0x66, 0x18,
				   0x0f, 0x86, 0x00, 0x00, 0x00, 0x00, 0xc3 };
	struct probe_site ps;

	ps = SITE(glibc_free, ARGS1);
	CHECK(ps.offset == 3 && ps.emulated, "glibc free: the je at +3 (got +%llu)",
	      (unsigned long long)ps.offset);
	ps = SITE(push_r12, ARGS1);
	CHECK(ps.offset == 0 && ps.emulated, "push at the start: the start, emulated");
	ps = SITE(endbr, ARGS1);
	CHECK(ps.offset == 0 && ps.emulated, "endbr64 at the start: the start, emulated");
	ps = SITE(je_malloc, ARGS1);
	CHECK(ps.offset == 7 && ps.emulated, "jemalloc malloc: the ja at +7 (got +%llu)",
	      (unsigned long long)ps.offset);
	ps = SITE(je_free, ARGS1);
	CHECK(ps.offset == 48 && ps.emulated, "jemalloc free: the jne at +48 past 9 instructions "
	      "that write rax, rcx, rdx only (got +%llu: %s)", (unsigned long long)ps.offset,
	      ps.why ? ps.why : "");
	ps = SITE(je_free, ARGS3);
	CHECK(ps.offset == 0 && !ps.emulated && ps.why,
	      "the same code for a 3-argument function: its write to rdx keeps the probe at the start");
	ps = SITE(tc_malloc, ARGS1);
	CHECK(ps.offset == 10 && ps.emulated, "tcmalloc malloc: the jne at +10 (got +%llu)",
	      (unsigned long long)ps.offset);
	ps = SITE(mi_malloc, ARGS1);
	CHECK(ps.offset == 21 && ps.emulated && ps.args_moved && ps.arg_reg[0] == X86_RSI,
	      "mimalloc malloc moves its size to rsi before its branch: the ja at +21, size in rsi "
	      "(got +%llu, reg %u: %s)", (unsigned long long)ps.offset, ps.arg_reg[0],
	      ps.why ? ps.why : "");
	ps = SITE(mi_malloc_aligned, ARGS1);
	CHECK(ps.offset == 20 && ps.emulated && ps.arg_reg[0] == X86_RSI,
	      "mimalloc 3 mi_malloc_aligned, a shim: its jmp at +20, the size in rsi (got +%llu, %u)",
	      (unsigned long long)ps.offset, ps.arg_reg[0]);
	ps = SITE(mi_free3, ARGS1);
	CHECK(ps.offset == 40 && ps.emulated && ps.arg_reg[0] == X86_RSI,
	      "mimalloc 3 mi_free: the je at +40, the pointer in rsi (got +%llu, %u: %s)",
	      (unsigned long long)ps.offset, ps.arg_reg[0], ps.why ? ps.why : "");
	ps = SITE(mov32_away, ARGS1);
	CHECK(ps.offset == 0 && !ps.emulated,
	      "a 32-bit move does not carry a 64-bit argument: the start");
	ps = SITE(glibc_free, ARGS1);
	CHECK(!ps.args_moved && ps.arg_reg[0] == X86_RDI, "glibc free: the pointer stays in rdi");
	ps = SITE(je_sdallocx, ARGS3);
	CHECK(ps.offset == 10 && ps.emulated, "jemalloc sdallocx: the ja at +10 (got +%llu)",
	      (unsigned long long)ps.offset);
	ps = SITE(back_branch, ARGS1);
	CHECK(ps.offset == 0 && !ps.emulated && ps.why && strstr(ps.why, "prologue"),
	      "a branch back onto the site: the start (%s)", ps.why ? ps.why : "");
	ps = SITE(restart, ARGS1);
	CHECK(ps.offset == 7 && ps.emulated, "a branch to the start itself does not matter");
	ps = SITE(sub_rsp, ARGS1);
	CHECK(ps.offset == 0 && !ps.emulated, "sub from rsp first: the start");
	ps = SITE(mov_rbp, ARGS1);
	CHECK(ps.offset == 0 && !ps.emulated, "rbp written first: the start");
	ps = SITE(bad_later, ARGS1);
	CHECK(ps.offset == 0 && !ps.emulated && ps.why && strstr(ps.why, "decoded"),
	      "an undecodable instruction later: the start (%s)", ps.why ? ps.why : "");
	ps = SITE(cut, ARGS1);
	CHECK(ps.offset == 0 && !ps.emulated, "truncated code: the start");
	ps = site(glibc_free, 0, ARGS1);
	CHECK(ps.offset == 0 && !ps.emulated, "no code: the start, single-stepped");
	ps = SITE(go_small, GO_ARGS);
	CHECK(ps.offset == 4 && ps.emulated, "Go stack check: the jbe at +4");
	ps = SITE(go_big, GO_ARGS);
	CHECK(ps.offset == 9 && ps.emulated, "Go big-frame stack check: the jbe at +9");
}

static void test_lengths(void)
{
	static const struct {
		const char *what;
		uint8_t code[15];
		size_t len;
	} cases[] = {
		{ "movabs $imm64,%rax", { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 }, 10 },
		{ "mov $imm32,%eax", { 0xb8, 1, 2, 3, 4 }, 5 },
		{ "mov $imm16,%ax", { 0x66, 0xb8, 1, 2 }, 4 },
		{ "nopw 0x0(%rax,%rax,1)", { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 }, 6 },
		{ "data16 cs nopw 0x0(%rax,%rax,1)", { 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0 },
		  10 },
		{ "vmovdqu (%rsi),%ymm0", { 0xc5, 0xfe, 0x6f, 0x06 }, 4 },
		{ "vpcmpeqb (%rdi),%ymm0,%ymm1 (c4)", { 0xc4, 0xe1, 0x7d, 0x74, 0x0f }, 5 },
		{ "vpshufd $0,%xmm0,%xmm0", { 0xc5, 0xf9, 0x70, 0xc0, 0x00 }, 5 },
		{ "vmovdqu64 (%rsi),%zmm16 (evex)", { 0x62, 0xe1, 0xfe, 0x48, 0x6f, 0x06 }, 6 },
		{ "test $0x1,%dil", { 0x40, 0xf6, 0xc7, 0x01 }, 4 },
		{ "testl $imm32,disp32(%rip)", { 0xf7, 0x05, 1, 2, 3, 4, 5, 6, 7, 8 }, 10 },
		{ "pshufd $0,%xmm0,%xmm1", { 0x66, 0x0f, 0x70, 0xc8, 0x00 }, 5 },
		{ "palignr $8,%xmm1,%xmm0", { 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08 }, 6 },
		{ "pshufb %xmm1,%xmm0", { 0x66, 0x0f, 0x38, 0x00, 0xc1 }, 5 },
		{ "lock cmpxchg %rcx,(%rdx)", { 0xf0, 0x48, 0x0f, 0xb1, 0x0a }, 5 },
		{ "mov %fs:0x28,%rax", { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0 }, 9 },
		{ "leave", { 0xc9 }, 1 },
		{ "ret $8", { 0xc2, 0x08, 0x00 }, 3 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct x86_insn in;
		int err = x86_insn__decode(cases[i].code, sizeof(cases[i].code), 0, &in);

		CHECK(!err && in.len == cases[i].len, "%s: %zu bytes (got %d, %u)", cases[i].what,
		      cases[i].len, err, in.len);
	}
}

static void test_effects(void)
{
	/* jne -2 at 0x1000: the target is the instruction itself */
	const uint8_t jne_self[] = { 0x75, 0xfe };
	/* push %r12 (emulated); push $1 (stepped) */
	const uint8_t push_r12[] = { 0x41, 0x54 }, push_imm[] = { 0x6a, 0x01 };
	/* mov %rdi,%rsi (89 fe): writes rsi; mov %rdi,(%rsi): writes memory only */
	const uint8_t mov_rr[] = { 0x48, 0x89, 0xfe }, mov_store[] = { 0x48, 0x89, 0x3e };
	/* mov %dil,%al (REX: the low byte of rdi, not bh) */
	const uint8_t mov_dil_al[] = { 0x40, 0x88, 0xf8 };
	/* mov %al,%ah: register 4 without REX is ah, not rsp */
	const uint8_t mov_al_ah[] = { 0x88, 0xc4 };
	/* loop rel8: a branch the kernel single-steps */
	const uint8_t loop[] = { 0xe2, 0xfe };
	struct x86_insn in;

	CHECK(!x86_insn__decode(jne_self, sizeof(jne_self), 0x1000, &in) && in.is_branch &&
	      in.target == 0x1000 && in.emulated, "jne rel8: target and emulated");
	CHECK(!x86_insn__decode(push_r12, sizeof(push_r12), 0, &in) && in.is_push && in.emulated &&
	      (in.writes & (1u << X86_RSP)), "push %%r12: emulated, writes rsp");
	CHECK(!x86_insn__decode(push_imm, sizeof(push_imm), 0, &in) && !in.emulated,
	      "push $imm8: single-stepped");
	CHECK(!x86_insn__decode(mov_rr, sizeof(mov_rr), 0, &in) && in.effects_known &&
	      in.writes == 1u << X86_RSI, "mov %%rdi,%%rsi writes rsi");
	CHECK(in.copy_from == X86_RDI && in.copy_to == X86_RSI, "mov %%rdi,%%rsi copies rdi to rsi");
	CHECK(!x86_insn__decode(mov_store, sizeof(mov_store), 0, &in) && in.copy_from < 0,
	      "a store copies no register");
	CHECK(!x86_insn__decode(mov_store, sizeof(mov_store), 0, &in) && in.effects_known &&
	      in.writes == 0, "a store writes no register");
	CHECK(!x86_insn__decode(mov_dil_al, sizeof(mov_dil_al), 0, &in) &&
	      in.writes == 1u << X86_RAX, "mov %%dil,%%al writes rax");
	CHECK(!x86_insn__decode(mov_al_ah, sizeof(mov_al_ah), 0, &in) &&
	      (in.writes & (1u << X86_RAX)), "mov %%al,%%ah writes rax (not rsp)");
	CHECK(!x86_insn__decode(loop, sizeof(loop), 0, &in) && in.is_branch && !in.emulated,
	      "loop: a branch, single-stepped");
}

int main(void)
{
	test_sites();
	test_lengths();
	test_effects();
	return unit_exit_summary();
}
