/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <zlib.h>
#include "symbols/debug_file.h"

#define DEBUG_DIR	"/usr/lib/debug"

static int open_regular_at(int dirfd, const char *path, bool in_root)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	int fd, err;

	/* O_NONBLOCK: a FIFO planted at a debug path must not hang the tracer. */
	if (in_root)
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	else
		fd = open(path, (int)how.flags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOEXEC;
	}
	return fd;
}

int debug_file__open(const char *root, const char *path)
{
	int rootfd, fd;

	if (!root || !root[0])
		return open_regular_at(AT_FDCWD, path, false);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	fd = open_regular_at(rootfd, path, true);
	close(rootfd);
	return fd;
}

struct search {
	const struct debug_search *s;
	debug_accept_fn accept;
	void *ctx;
	bool by_build_id;
};

static bool __attribute__((format(printf, 3, 4)))
try_at(struct search *se, const char *root, const char *fmt, ...)
{
	char path[PATH_MAX], shown[PATH_MAX];
	struct debug_candidate c;
	va_list ap;
	int n, fd;

	va_start(ap, fmt);
	n = vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(path))
		return false;
	n = snprintf(shown, sizeof(shown), "%s%s", root ? root : "", path);
	if (n < 0 || (size_t)n >= sizeof(shown))
		return false;
	fd = debug_file__open(root, path);
	if (fd < 0)
		return false;
	c = (struct debug_candidate){ .fd = fd, .root = root, .path = path, .shown = shown,
				      .by_build_id = se->by_build_id };
	if (se->accept(se->ctx, &c))
		return true;
	close(fd);
	return false;
}

static bool plain_name(const char *name)
{
	return name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

int debug_file__search(const struct debug_search *s, debug_accept_fn accept, void *ctx)
{
	const char *sysroot = s->sysroot && s->sysroot[0] ? s->sysroot : NULL;
	const char *roots[2] = { sysroot, NULL };
	size_t nroots = sysroot ? 2 : 1, i, rlen;
	struct search se = { .s = s, .accept = accept, .ctx = ctx };
	const char *path = s->path, *dir_root = NULL, *slash;
	char dir[PATH_MAX];

	if (s->build_id && strlen(s->build_id) >= 4) {
		se.by_build_id = true;
		for (i = 0; i < nroots; i++)
			if (try_at(&se, roots[i], DEBUG_DIR "/.build-id/%.2s/%s.debug", s->build_id,
				   s->build_id + 2))
				return 0;
		se.by_build_id = false;
	}
	/* Only a plain file name: the link must not lead out of the search dirs. */
	if (!s->debuglink || !plain_name(s->debuglink) || !path)
		return -ENOENT;

	/* The file's directory, and the root it is a path in. */
	if (s->origin_path && s->origin_path[0] == '/') {
		path = s->origin_path;
		dir_root = sysroot;
	} else if (sysroot && path[0] == '/') {
		rlen = strlen(sysroot);
		if (!strncmp(path, sysroot, rlen) && path[rlen] == '/') {
			path += rlen;
			dir_root = sysroot;
		}
	}
	slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -ENOENT;

	if (try_at(&se, dir_root, "%s/%s", dir, s->debuglink) ||
	    try_at(&se, dir_root, "%s/.debug/%s", dir, s->debuglink))
		return 0;
	/* The directory as the process sees it, under the global debug dir. */
	if (path[0] != '/')
		return -ENOENT;
	for (i = 0; i < nroots; i++)
		if (try_at(&se, roots[i], DEBUG_DIR "%s/%s", dir, s->debuglink))
			return 0;
	return -ENOENT;
}

int debug_file__crc(int fd, uint64_t size, uint32_t *out)
{
	unsigned char buf[65536];
	uLong crc = crc32(0L, Z_NULL, 0);
	uint64_t off = 0;
	ssize_t n;

	while (off < size) {
		n = pread(fd, buf, sizeof(buf), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		crc = crc32(crc, buf, (uInt)n);
		off += (uint64_t)n;
	}
	*out = (uint32_t)crc;
	return 0;
}
