/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Report files that are written whole or not at all: the text goes to a
 * temporary file next to the destination and is renamed over it only once
 * everything reached the disk, so a reader (or a crash, or a full disk)
 * never sees half a report, and a failed write leaves the previous one.
 */
#ifndef MEMTRACE_OUTPUT_FILE_H
#define MEMTRACE_OUTPUT_FILE_H

#include <stddef.h>
#include <stdio.h>

struct out_file;

/*
 * Start writing path. "-" is stdout, written directly. An existing path that
 * is not a regular file (/dev/stdout, a FIFO) is also written directly: it
 * cannot be replaced, nor should it be. Otherwise a temporary file
 * ".<basename>.XXXXXX" is created in path's directory, so that a directory
 * that does not exist or cannot be written to is reported here.
 * Returns 0 or -errno (-EISDIR when path is a directory).
 */
int out_file__open(const char *path, struct out_file **out);
FILE *out_file__stream(struct out_file *of);
/*
 * Flush, sync and rename the temporary file over path. On any error the
 * temporary file is removed and whatever was at path is left as it was.
 * The out_file is freed in every case; the same path may be opened again,
 * e.g. for the next periodic report. Returns 0 or -errno.
 */
int out_file__commit(struct out_file *of);
/* Drop what was written: remove the temporary file and free. NULL is fine. */
void out_file__abort(struct out_file *of);
/* Whether path could be written, by creating and removing a temporary file
 * as out_file__open() would; meant to be called before tracing starts. */
int out_file__check_writable(const char *path);
/* out_file__check_writable() for each of paths, NULL and "-" (stdout)
 * skipped, printing "cannot write PATH: why" for the first that fails. */
int out_file__check_paths(const char *const *paths, size_t n);

/*
 * The whole of path, written by write(arg, stream) then committed; on any
 * error nothing is left at path but what was there. Returns 0 or -errno
 * (the writer's or out_file's).
 */
int out_file__write(const char *path, int (*write)(const void *arg, FILE *f), const void *arg);

#endif /* MEMTRACE_OUTPUT_FILE_H */
