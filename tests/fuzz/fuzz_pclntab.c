/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer harness: a Go .gopclntab section, as read from a (stripped) Go
 * binary. Every name handed to the callback must lie inside the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/go_pclntab.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

struct ctx {
	const uint8_t *data;
	size_t size;
	size_t calls;
	size_t stop_after;	/* the callback fails on this call: the error must come back */
};

static int on_func(void *p, uint64_t addr, uint64_t size, const char *name, size_t len)
{
	struct ctx *c = p;
	const uint8_t *n = (const uint8_t *)name;

	CHECK(len > 0);
	CHECK(n >= c->data && n < c->data + c->size && len <= (size_t)(c->data + c->size - n));
	CHECK(!memchr(name, '\0', len));
	(void)addr;
	(void)size;
	if (++c->calls == c->stop_after)
		return -ECANCELED;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = { .data = data, .size = size };
	int err;

	err = go_pclntab__parse(data, size, on_func, &c);
	CHECK(err == 0 || err == -ENOEXEC);
	if (err || c.calls < 2)
		return 0;
	/* Again, stopping half-way: the callback's error is passed through. */
	c.stop_after = c.calls / 2;
	c.calls = 0;
	err = go_pclntab__parse(data, size, on_func, &c);
	CHECK(err == -ECANCELED);
	return 0;
}
