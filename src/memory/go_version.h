/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A Go binary's runtime version as .go.buildinfo records it: "go1.22.12",
 * with the experiments that differ from the release's defaults after it
 * ("go1.25.5 X:greenteagc", "go1.26.8-X:nogreenteagc"). memtrace's tables
 * are per release (minor version); what a version string says decides
 * whether one applies.
 */
#ifndef MEMTRACE_GO_VERSION_H
#define MEMTRACE_GO_VERSION_H

#include <stdbool.h>

struct go_version {
	unsigned minor;		/* 1.minor; 0: not a release this parser knows */
	unsigned patch;
	char exps[96];		/* the experiments, comma-separated; "" for none */
};

/* 0, or -EINVAL for anything but a release ("go1.27rc1", "devel go1.27-1234abcd ..."). */
int go_version__parse(const char *s, struct go_version *v);
/* Whether the experiment is listed. */
bool go_version__has_exp(const struct go_version *v, const char *name);
/*
 * Whether a per-release table applies: a release without experiments, or
 * with the garbage collector's only (they change no structure the tables
 * describe; read off the DWARF of go1.25.5 X:greenteagc and go1.26.8
 * X:nogreenteagc binaries).
 */
bool go_version__table_ok(const struct go_version *v);
/*
 * Whether the runtime is the Green Tea collector's, which keeps a small
 * object span's marks in the span until it is swept: the default from
 * Go 1.26, an experiment in 1.25.
 */
bool go_version__green_tea(const struct go_version *v);

#endif
