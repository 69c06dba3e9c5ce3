/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* mkostemp */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "util/log.h"
#include "util/output_file.h"

struct out_file {
	FILE *f;
	char *path;		/* destination, symlinks resolved; NULL when written directly */
	char *tmp_path;		/* NULL when writing directly */
	char *dir;		/* directory of path, synced after the rename */
};

static void out_file__free(struct out_file *of)
{
	free(of->path);
	free(of->tmp_path);
	free(of->dir);
	free(of);
}

/*
 * Split path into a directory and a temporary name in it. The destination is
 * the file a symlink points to, so that the link is kept and its target
 * replaced, as a plain redirection would do.
 */
static int make_names(struct out_file *of, const char *path)
{
	const char *slash, *base;
	char *real;
	size_t dlen;

	real = realpath(path, NULL);
	of->path = real ? real : strdup(path);
	if (!of->path)
		return -ENOMEM;
	slash = strrchr(of->path, '/');
	if (!slash) {
		of->dir = strdup(".");
		base = of->path;
	} else {
		dlen = slash == of->path ? 1 : (size_t)(slash - of->path);
		of->dir = strndup(of->path, dlen);
		base = slash + 1;
	}
	if (!of->dir)
		return -ENOMEM;
	if (!*base)
		return -EISDIR;
	if (asprintf(&of->tmp_path, "%s/.%s.XXXXXX", of->dir, base) < 0) {
		of->tmp_path = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int open_direct(struct out_file *of, const char *path)
{
	of->f = fopen(path, "we");
	return of->f ? 0 : -errno;
}

static int open_temp(struct out_file *of)
{
	int fd, err;

	fd = mkostemp(of->tmp_path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* mkstemp makes the file 0600; a report is as readable as any file
	 * the user would have written with a shell redirection. */
	if (fchmod(fd, 0644) < 0)
		goto err;
	of->f = fdopen(fd, "w");
	if (!of->f)
		goto err;
	return 0;
err:
	err = -errno;
	close(fd);
	unlink(of->tmp_path);
	return err;
}

/* Paths that exist and are not regular files are written in place. */
static int path_kind(const char *path, bool *direct)
{
	struct stat st;

	*direct = false;
	if (stat(path, &st) < 0)
		return 0;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	/* Renaming over a device node would replace it rather than write to it. */
	*direct = !S_ISREG(st.st_mode);
	return 0;
}

int out_file__open(const char *path, struct out_file **out)
{
	struct out_file *of;
	bool direct;
	int err;

	*out = NULL;
	if (!path || !*path)
		return -EINVAL;
	of = calloc(1, sizeof(*of));
	if (!of)
		return -ENOMEM;
	if (!strcmp(path, "-")) {
		of->f = stdout;
		*out = of;
		return 0;
	}
	err = path_kind(path, &direct);
	if (!err && direct)
		err = open_direct(of, path);
	else if (!err)
		err = make_names(of, path);
	if (!err && !direct)
		err = open_temp(of);
	if (err) {
		/* open_temp() removed the file; only the names are left to free. */
		out_file__free(of);
		return err;
	}
	*out = of;
	return 0;
}

FILE *out_file__stream(struct out_file *of)
{
	return of->f;
}

static int close_stream(struct out_file *of)
{
	int err = 0;

	if (fflush(of->f) == EOF)
		err = -errno;
	else if (ferror(of->f))
		err = -EIO;
	/* Only the rename makes the file visible: it must come after the data
	 * is on disk, or a crash could leave an empty report in its place. */
	if (!err && of->tmp_path && fsync(fileno(of->f)) < 0)
		err = -errno;
	if (of->f != stdout && fclose(of->f) == EOF && !err)
		err = -errno;
	of->f = NULL;
	return err;
}

int out_file__commit(struct out_file *of)
{
	int err, dfd;

	err = close_stream(of);
	if (!err && of->tmp_path && rename(of->tmp_path, of->path) < 0)
		err = -errno;
	if (err) {
		if (of->tmp_path)
			unlink(of->tmp_path);
	} else if (of->tmp_path) {
		/* Persist the rename itself. The report is complete and in place
		 * either way, so a failure here is not worth failing for. */
		dfd = open(of->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	out_file__free(of);
	return err;
}

void out_file__abort(struct out_file *of)
{
	if (!of)
		return;
	if (of->f && of->f != stdout)
		fclose(of->f);
	if (of->tmp_path)
		unlink(of->tmp_path);
	out_file__free(of);
}

int out_file__check_writable(const char *path)
{
	struct out_file *of;
	bool direct;
	int err;

	if (path && !strcmp(path, "-"))
		return 0;
	err = path && *path ? path_kind(path, &direct) : -EINVAL;
	if (err)
		return err;
	/* Opening a FIFO would wait for its reader: only ask about it. */
	if (direct)
		return access(path, W_OK) < 0 ? -errno : 0;
	err = out_file__open(path, &of);
	if (err)
		return err;
	out_file__abort(of);
	return 0;
}

int out_file__check_paths(const char *const *paths, size_t n)
{
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		if (!paths[i])
			continue;
		err = out_file__check_writable(paths[i]);
		if (err) {
			mt_err("cannot write %s: %s\n", paths[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

int out_file__write(const char *path, int (*write)(const void *arg, FILE *f), const void *arg)
{
	struct out_file *of;
	struct statvfs sv;
	int err;

	err = out_file__open(path, &of);
	if (err)
		return err;
	err = write(arg, of->f);
	/*
	 * A stream error is only EIO to the writer, the errno of the failed
	 * write long gone: a full file system is the usual cause, so say so.
	 */
	if (err == -EIO && !fstatvfs(fileno(of->f), &sv) && sv.f_bavail == 0)
		err = -ENOSPC;
	if (err) {
		out_file__abort(of);
		return err;
	}
	return out_file__commit(of);
}
