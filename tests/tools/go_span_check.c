/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * go_span_check PID EXE ADDR:SIZE...: the state go_span gives each object
 * (hex address, rounded size) of a running Go program, one line each,
 * "ADDR live|free|unknown swept|unswept|-" (its span swept since the last
 * collection or not: then its marks decided), after a line "layout VERSION
 * SOURCE ADDR_SOURCE inline|noinline" (Green Tea's inline marks or not). A
 * test tool: memtrace's end-to-end tests run it against a workload that
 * knows which of its objects it kept.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gelf.h>
#include "memory/go_heap.h"
#include "memory/go_span.h"
#include "symbols/elf_handle.h"
#include "util/procmaps.h"

static const char *const names[] = { "unknown", "live", "free" };

/*
 * The version, and what to add to the file's addresses in pid: go_heap's
 * way, which needs no runtime.gcController (a stripped program that never
 * calls runtime.ReadMemStats has no code that names it).
 */
static int exe_info(const char *path, pid_t pid, char *ver, size_t ver_len, uint64_t *bias)
{
	struct proc_maps *maps = NULL;
	struct elf_handle h;
	uint64_t first = 0;
	GElf_Phdr ph;
	size_t i, n = 0;
	int err;

	*bias = 0;
	err = elf_handle__open(path, &h);
	if (err)
		return err;
	err = go_heap__version(h.elf, ver, ver_len);
	if (!err && h.eh.e_type == ET_DYN && !elf_getphdrnum(h.elf, &n)) {
		for (i = 0; i < n; i++) {
			if (gelf_getphdr(h.elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
				first = (ph.p_vaddr - ph.p_offset) & ~4095ULL;
				break;
			}
		}
		err = proc_maps__read((uint32_t)pid, &maps);
		for (i = 0; !err && i < maps->nr; i++) {
			if (maps->vmas[i].path && !maps->vmas[i].pgoff &&
			    !strcmp(maps->vmas[i].path, path)) {
				*bias = maps->vmas[i].start - first;
				break;
			}
		}
		if (!err && i == maps->nr)
			err = -ENOENT;
		proc_maps__free(maps);
	}
	elf_handle__close(&h);
	return err;
}

static int read_word(pid_t pid, uint64_t addr, uint64_t *v)
{
	*v = 0;
	return go_heap__pid_read(&pid, addr, v, 8);
}

/*
 * Whether each object's span was swept since the last collection:
 * sweepgen == mheap_.sweepgen - 2 marks one not swept yet (its marks
 * decide). 1 unswept, 0 swept, -1 unreadable.
 */
static void sweep_states(const struct go_span_layout *lo, pid_t pid, uint64_t bias,
			 const struct go_obj *objs, int n, int *unswept)
{
	uint8_t span[256];
	struct go_span_info si;
	uint64_t l1, ha, sp;
	uint32_t sg = 0, arena, page;
	int i;

	for (i = 0; i < n; i++)
		unswept[i] = -1;
	if (go_heap__pid_read(&pid, lo->mheap + bias + lo->mheap_sweepgen, &sg, 4) ||
	    read_word(pid, lo->mheap + bias + lo->mheap_arenas, &l1))
		return;
	for (i = 0; i < n; i++) {
		if (go_span_layout__index(objs[i].addr, &arena, &page) ||
		    read_word(pid, l1 + 8ULL * arena, &ha) || !ha ||
		    read_word(pid, ha + lo->arena_spans + 8ULL * page, &sp) || !sp ||
		    go_span_layout__span_len(lo) > sizeof(span) ||
		    go_heap__pid_read(&pid, sp, span, go_span_layout__span_len(lo)))
			continue;
		go_span_layout__decode(lo, span, &si);
		unswept[i] = si.sweepgen == sg - 2;
	}
}

int main(int argc, char **argv)
{
	struct go_span *gs = NULL;
	const struct go_span_layout *lo;
	struct go_obj *objs = NULL;
	uint8_t *state = NULL;
	int *unswept = NULL;
	char note[GO_HEAP_NOTE_MAX] = "", version[GO_HEAP_VERSION_MAX], *end;
	uint64_t bias = 0;
	pid_t pid;
	int i, n, err;

	if (argc < 3) {
		fprintf(stderr, "usage: %s PID EXE ADDR:SIZE...\n", argv[0]);
		return 2;
	}
	pid = (pid_t)strtol(argv[1], NULL, 10);
	n = argc - 3;
	objs = calloc(n ? n : 1, sizeof(*objs));
	state = calloc(n ? n : 1, 1);
	unswept = calloc(n ? n : 1, sizeof(*unswept));
	if (!objs || !state || !unswept) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		objs[i].addr = strtoull(argv[3 + i], &end, 16);
		if (*end != ':') {
			fprintf(stderr, "%s: not ADDR:SIZE\n", argv[3 + i]);
			err = -EINVAL;
			goto out;
		}
		objs[i].size = strtoull(end + 1, NULL, 10);
	}
	err = exe_info(argv[2], pid, version, sizeof(version), &bias);
	if (err) {
		snprintf(note, sizeof(note), "no Go version in %s, or no mapping of it in %d",
			 argv[2], pid);
		goto out;
	}
	err = go_span__open(argv[2], version, &gs, note, sizeof(note));
	if (err)
		goto out;
	lo = go_span__layout(gs);
	printf("layout %s %s %s %s\n", version, lo->source, lo->addr_source,
	       lo->inline_marks ? "inline" : "noinline");
	err = go_span__check(gs, pid, bias, objs, (size_t)n, state, note, sizeof(note));
	if (err)
		goto out;
	sweep_states(lo, pid, bias, objs, n, unswept);
	for (i = 0; i < n; i++)
		/* No history here: "likely live" is what the slot holds now. */
		printf("%" PRIx64 " %s %s\n", objs[i].addr,
		       names[state[i] == GO_OBJ_LIKELY_LIVE ? GO_OBJ_LIVE :
			     state[i] <= GO_OBJ_FREE ? state[i] : 0],
		       unswept[i] < 0 ? "-" : unswept[i] ? "unswept" : "swept");

out:
	if (err)
		fprintf(stderr, "go_span_check: %s (%s)\n", note[0] ? note : "failed", strerror(-err));
	go_span__free(gs);
	free(objs);
	free(state);
	free(unswept);
	return err ? 1 : 0;
}
