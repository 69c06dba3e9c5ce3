/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every unit test needs, kept in one place so that all of them print
 * the same "ok - ..." / "not ok - ..." lines tests/run.py counts, and exit
 * the same way. Functions are static inline so that a test that does not
 * call one of them gets no unused-function warning.
 */
#ifndef MT_TESTS_UNIT_H
#define MT_TESTS_UNIT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int unit_failures;

/* Ends an "ok"/"not ok" line and counts a failure; returns ok. */
static inline int unit_end_line(int ok)
{
	putchar('\n');
	if (!ok)
		unit_failures++;
	return ok;
}

static inline void check(int ok, const char *desc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prints "ok - desc" or "not ok - desc: details"; details only matter on failure. */
static inline void check(int ok, const char *desc, const char *fmt, ...)
{
	va_list ap;

	printf("%s - %s", ok ? "ok" : "not ok", desc);
	if (!ok && fmt) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	unit_end_line(ok);
}

static inline int checkf(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "ok - text" or "not ok - text", the text formatted either way; returns ok. */
static inline int checkf(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	return unit_end_line(ok);
}

/* CHECK(cond, fmt, ...): the formatted text describes the check and is printed either way. */
#define CHECK(cond, ...) checkf(!!(cond), __VA_ARGS__)

static inline int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Tests that build their inputs with the toolchain, or rearrange files, do it in shell. */
static inline int run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* main's exit status: non-zero when any check failed, for run.py and make. */
static inline int unit_exit(void)
{
	return unit_failures ? 1 : 0;
}

/* The same, after the "all passed" / "FAILED" line that a reader of the raw output looks for. */
static inline int unit_exit_summary(void)
{
	printf("%s\n", unit_failures ? "FAILED" : "all passed");
	return unit_exit();
}

#endif /* MT_TESTS_UNIT_H */
