/* Unit tests: where Go allocations are sampled, on real runtime.mallocgc code. */
#include <errno.h>
#include <string.h>
#include "probe/go_site.h"
#include "unit.h"

/* Go 1.19.8: from the call of publicationBarrier.abi0 to gcmarknewobject's. */
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

/* Go 1.23.5: x goes through two registers on its way to rbx. */
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

static void test_real_code(void)
{
	struct go_publish_site s = { 0 };
	int err;

	err = go_site__publish(go119, sizeof(go119), 0x40bb7a, 0x45cba0, 0x41d3a0, &s);
	check(!err && s.offset == 0 && s.x_slot == 0x50 && s.span_slot == 0x28,
	      "go1.19: site at the barrier's call, x at rsp+0x50, span at rsp+0x28",
	      "err %d offset %llu x 0x%x span 0x%x", err, (unsigned long long)s.offset,
	      s.x_slot, s.span_slot);
	memset(&s, 0, sizeof(s));
	err = go_site__publish(go123, sizeof(go123), 0x4612f8, 0x46b5e0, 0x41c8c0, &s);
	check(!err && s.offset == 0 && s.x_slot == 0x70 && s.span_slot == 0x30,
	      "go1.23: x followed through register moves", "err %d x 0x%x span 0x%x", err,
	      s.x_slot, s.span_slot);
}

static void test_refusals(void)
{
	struct go_publish_site s;
	uint8_t code[sizeof(go123)];

	check(go_site__publish(go123, sizeof(go123), 0x4612f8, 0x46b5e1, 0x41c8c0, &s) == -ENOENT,
	      "no call of the barrier: no site", NULL);
	check(go_site__publish(go123, sizeof(go123), 0x4612f8, 0x46b5e0, 0x41c8c1, &s) == -ENOENT,
	      "another call before gcmarknewobject: no site", NULL);
	/* rbx clobbered after its load: xor %ebx,%ebx instead of the nop+mov pair. */
	memcpy(code, go123, sizeof(code));
	code[38] = 0x31;
	code[39] = 0xdb;
	check(go_site__publish(code, sizeof(code), 0x4612f8, 0x46b5e0, 0x41c8c0, &s) == -ENOENT,
	      "x's register overwritten: no site", NULL);
	/* x's slot stored to after the site: mov %rax,0x70(%rsp) in place of the load. */
	memcpy(code, go123, sizeof(code));
	code[28] = 0x89;
	code[30] = 0x44;
	check(go_site__publish(code, sizeof(code), 0x4612f8, 0x46b5e0, 0x41c8c0, &s) == -ENOENT,
	      "x's register not from a slot: no site", NULL);
	check(go_site__publish(go123, 12, 0x4612f8, 0x46b5e0, 0x41c8c0, &s) == -ENOENT,
	      "code cut short: no site", NULL);
}

int main(void)
{
	test_real_code();
	test_refusals();
	return unit_exit();
}
