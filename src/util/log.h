/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* memtrace's messages: errors always, diagnostics behind -v. */
#ifndef MEMTRACE_LOG_H
#define MEMTRACE_LOG_H

#include <stdbool.h>

extern int mt_verbose;

void mt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mt_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mt_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mt_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* While held, messages are kept (the display owns the terminal) and printed on release. */
void mt_log_hold(bool hold);

#endif
