/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where memtrace samples Go allocations: inside runtime.mallocgc, at the
 * call of runtime.publicationBarrier, which every allocation but a tiny
 * one combined into the current 16-byte block passes once the object is
 * set up (Go 1.19-1.23). A call is an instruction the kernel emulates, and
 * the object (x) and its span are kept in stack slots across that call:
 * the call of runtime.gcmarknewobject(span, x, ...) that follows reloads
 * them from there into rax and rbx. No return probe
 * is ever put on a Go function; this is an entry-style probe in the body.
 */
#ifndef MEMTRACE_GO_SITE_H
#define MEMTRACE_GO_SITE_H

#include <stddef.h>
#include <stdint.h>

struct go_publish_site {
	uint64_t offset;	/* of the call, from mallocgc's start */
	uint32_t x_slot;	/* x is at rsp + x_slot at the site */
	uint32_t span_slot;	/* its *mspan at rsp + span_slot */
};

/*
 * Find the site in mallocgc's code (len bytes at address addr), given the
 * addresses of runtime.publicationBarrier and runtime.gcmarknewobject.
 * 0, or -ENOENT when the code does not have the expected shape.
 */
int go_site__publish(const uint8_t *code, size_t len, uint64_t addr, uint64_t barrier,
		     uint64_t marknew, struct go_publish_site *out);

#endif
