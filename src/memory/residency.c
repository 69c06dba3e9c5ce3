/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "memory/residency.h"

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define BATCH 4096

int residency__open(uint32_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int residency__count(int fd, uint64_t start, uint64_t end, uint64_t *present)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t entries[BATCH], vpn, last;
	ssize_t n, i;

	*present = 0;
	if (page <= 0 || end <= start)
		return 0;
	vpn = start / (uint64_t)page;
	last = (end + (uint64_t)page - 1) / (uint64_t)page;
	/* One 8-byte entry per page; the file offset is the page number times 8. */
	while (vpn < last) {
		size_t want = last - vpn < BATCH ? (size_t)(last - vpn) : BATCH;

		n = pread(fd, entries, want * sizeof(entries[0]), (off_t)(vpn * sizeof(entries[0])));
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		for (i = 0; i < n / (ssize_t)sizeof(entries[0]); i++)
			if (entries[i] & (PM_PRESENT | PM_SWAPPED))
				*present += (uint64_t)page;
		vpn += (uint64_t)n / sizeof(entries[0]);
	}
	return 0;
}
