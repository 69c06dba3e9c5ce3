/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Ownership of the report snapshot: every string in it belongs to the report
 * (except proc->runtime, a static string), so one call releases everything.
 */
#include <stdlib.h>
#include "report/report.h"

void mt_stack_report__free_frames(struct mt_stack_report *s)
{
	size_t i;

	for (i = 0; i < s->nr_frames; i++) {
		free(s->frames[i].function);
		free(s->frames[i].mangled);
		free(s->frames[i].build_id);
		free(s->frames[i].module);
		free(s->frames[i].file);
	}
	free(s->frames);
	s->frames = NULL;
	s->nr_frames = 0;
}

static void proc_report__free(struct mt_proc_report *p)
{
	size_t i;

	for (i = 0; i < p->nr_stacks; i++)
		mt_stack_report__free_frames(&p->stacks[i]);
	free(p->stacks);
	for (i = 0; i < p->nr_map_stacks; i++)
		mt_stack_report__free_frames(&p->map_stacks[i].stack);
	free(p->map_stacks);
	free(p->exe);
	free(p->cgroup);
	free(p->allocator);
	free(p->allocator_path);
}

void mt_report__free(struct mt_report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nr_procs; i++)
		proc_report__free(&r->procs[i]);
	free(r->procs);
	for (i = 0; i < r->nr_probes; i++) {
		free(r->probes[i].path);
		free(r->probes[i].function);
	}
	free(r->probes);
	r->probes = NULL;
	r->nr_probes = 0;
	/* Leave an empty report behind so that a second free, or writing the
	 * report again, is harmless. */
	r->procs = NULL;
	r->nr_procs = 0;
}
