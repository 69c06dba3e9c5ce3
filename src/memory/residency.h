/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which pages of a process are in memory, from /proc/PID/pagemap. */
#ifndef MEMTRACE_RESIDENCY_H
#define MEMTRACE_RESIDENCY_H

#include <stdint.h>

/* Bytes of [start, end) present in RAM or swapped out (not given back). -errno on failure. */
int residency__count(int pagemap_fd, uint64_t start, uint64_t end, uint64_t *present);
/* Open /proc/PID/pagemap; -errno on failure. */
int residency__open(uint32_t pid);

#endif
