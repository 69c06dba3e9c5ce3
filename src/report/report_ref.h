/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A report shared between threads: immutable once made, freed with its last
 * reference. The main loop makes one at each refresh; the display and the
 * HTTP server each hold a reference for as long as they read it.
 */
#ifndef MEMTRACE_REPORT_REF_H
#define MEMTRACE_REPORT_REF_H

#include "report/report.h"

struct mt_report_ref;

/*
 * Takes over what *rep owns (*rep is left empty); t_mono is when it was
 * read (CLOCK_MONOTONIC, seconds), t_real the same on the wall clock.
 * NULL on failure, *rep then freed.
 */
struct mt_report_ref *mt_report_ref__new(struct mt_report *rep, double t_mono, double t_real);
struct mt_report_ref *mt_report_ref__get(struct mt_report_ref *ref);
/* NULL-safe. */
void mt_report_ref__put(struct mt_report_ref *ref);
const struct mt_report *mt_report_ref__report(const struct mt_report_ref *ref);
double mt_report_ref__mono(const struct mt_report_ref *ref);
double mt_report_ref__real(const struct mt_report_ref *ref);

#endif
