/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where a file's separate debug file may be, in the order gdb looks: by
 * build-id under /usr/lib/debug/.build-id, then by the .gnu_debuglink name
 * next to the file, in its .debug directory and under /usr/lib/debug. For a
 * file of a traced process the process's root (/proc/PID/root) is searched
 * first, and paths there are resolved inside that root: no link in a
 * container can lead memtrace to a file of the host.
 */
#ifndef MEMTRACE_DEBUG_FILE_H
#define MEMTRACE_DEBUG_FILE_H

#include <stdbool.h>
#include <stdint.h>

/* A candidate larger than this is not read whole for its CRC. */
#define DEBUG_FILE_MAX_CRC_BYTES	(4ULL << 30)

struct debug_search {
	const char *build_id;	/* lowercase hex; NULL or "": none */
	const char *debuglink;	/* .gnu_debuglink file name; NULL: none */
	const char *path;	/* the file as opened */
	const char *origin_path; /* its name inside sysroot when opened by another name; or NULL */
	const char *sysroot;	/* the process's root; NULL or "": the host's only */
};

struct debug_candidate {
	int fd;			/* a regular file, opened read-only */
	const char *root;	/* NULL: the host's / */
	const char *path;	/* inside root: debug_file__open(root, path) opens it again */
	const char *shown;	/* root and path joined, for messages */
	bool by_build_id;	/* found under .build-id (else by .gnu_debuglink) */
};

/*
 * Called with each candidate. Returns true to keep it, taking c->fd; on
 * false the search closes c->fd and goes on.
 */
typedef bool (*debug_accept_fn)(void *ctx, const struct debug_candidate *c);

/* Returns 0 once a candidate is kept, -ENOENT when none is. */
int debug_file__search(const struct debug_search *s, debug_accept_fn accept, void *ctx);

/*
 * Open path (absolute) as a regular file inside root: symbolic links and
 * ".." resolve within root, magic links (/proc/N/...) are refused. root
 * NULL or "" is the host's /. Returns an fd or -errno.
 */
int debug_file__open(const char *root, const char *path);

/* The zlib CRC-32 of the first size bytes of fd, as .gnu_debuglink records it. */
int debug_file__crc(int fd, uint64_t size, uint32_t *out);

#endif
