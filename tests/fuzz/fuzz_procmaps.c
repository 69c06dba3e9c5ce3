/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer harness: /proc/PID/maps text. The input is handed over as is,
 * without a NUL terminator, as proc_maps__parse() allows; then lookups at the
 * edges of what was parsed and at addresses taken from the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/procmaps.h"

/* The fuzzer reports an abort(): a broken promise of the parser's API. */
#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void check_find(const struct proc_maps *m, uint64_t addr)
{
	const struct vma *v = proc_maps__find(m, addr);

	if (v) {
		CHECK(v >= m->vmas && v < m->vmas + m->nr);
		CHECK(addr >= v->start && addr < v->end);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_maps *m = NULL;
	uint64_t word;
	size_t i;
	int err;

	err = proc_maps__parse((const char *)data, size, 42, &m);
	if (err) {
		CHECK(!m);
		return 0;
	}
	CHECK(m && m->pid == 42);
	for (i = 0; i < m->nr; i++) {
		const struct vma *v = &m->vmas[i];

		CHECK(v->start < v->end);
		CHECK(!i || m->vmas[i - 1].start <= v->start);
		CHECK(strlen(v->perms) == 4);
		if (v->path)
			CHECK(strlen(v->path) <= size);
		(void)vma__is_file(v);
		/* The edges of the first mappings: binary search boundaries. */
		if (i < 64) {
			check_find(m, v->start);
			check_find(m, v->start - 1);
			check_find(m, v->end - 1);
			check_find(m, v->end);
		}
	}
	check_find(m, 0);
	check_find(m, UINT64_MAX);
	for (i = 0; i + sizeof(word) <= size && i < 16 * sizeof(word); i += sizeof(word)) {
		memcpy(&word, data + i, sizeof(word));
		check_find(m, word);
	}
	proc_maps__free(m);
	return 0;
}
