/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <stdatomic.h>
#include <stdlib.h>
#include "report/report_ref.h"

struct mt_report_ref {
	atomic_uint refs;
	double t_mono, t_real;
	struct mt_report rep;
};

struct mt_report_ref *mt_report_ref__new(struct mt_report *rep, double t_mono, double t_real)
{
	struct mt_report_ref *ref = calloc(1, sizeof(*ref));

	if (!ref) {
		mt_report__free(rep);
		return NULL;
	}
	atomic_init(&ref->refs, 1);
	ref->t_mono = t_mono;
	ref->t_real = t_real;
	ref->rep = *rep;
	*rep = (struct mt_report){ 0 };
	return ref;
}

struct mt_report_ref *mt_report_ref__get(struct mt_report_ref *ref)
{
	if (ref)
		atomic_fetch_add_explicit(&ref->refs, 1, memory_order_relaxed);
	return ref;
}

void mt_report_ref__put(struct mt_report_ref *ref)
{
	/* Release: this thread's reads happen before the free in another. */
	if (!ref || atomic_fetch_sub_explicit(&ref->refs, 1, memory_order_acq_rel) != 1)
		return;
	mt_report__free(&ref->rep);
	free(ref);
}

const struct mt_report *mt_report_ref__report(const struct mt_report_ref *ref)
{
	return &ref->rep;
}

double mt_report_ref__mono(const struct mt_report_ref *ref)
{
	return ref->t_mono;
}

double mt_report_ref__real(const struct mt_report_ref *ref)
{
	return ref->t_real;
}
