/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libFuzzer harness: ELF files as memtrace opens them (symbols, notes,
 * program headers, .gnu_debuglink, compressed sections, .gopclntab).
 *
 * The input is written to a file in a private directory and opened twice:
 * without debug files, then with the directory as sysroot. An input may
 * carry a second ELF after the line SPLIT below: that one is the separate
 * debug file, written where the lookup will find it (by build-id or as
 * fuzz.debug next to the file, the name tests/fuzz/seeds.sh puts in
 * .gnu_debuglink), so the debug-file loading is fuzzed too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols/demangle.h"
#include "symbols/elf_file.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define SPLIT "\n--memtrace-fuzz-debug-file--\n"
#define DEBUG_NAME "fuzz.debug"

static char dir[PATH_MAX];
static char target[PATH_MAX + 16];

static void write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	while (size) {
		ssize_t n = write(fd, data, size);

		CHECK(n > 0);
		data += n;
		size -= (size_t)n;
	}
	close(fd);
}

static void cleanup(void)
{
	char cmd[PATH_MAX + 32];

	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			return;
	}
}

static void make_dir(const char *fmt, const char *arg)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), fmt, dir, arg);
	CHECK(!mkdir(path, 0700) || errno == EEXIST);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* tmpfs when there is one: every input is written out. */
	const char *base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";

	snprintf(dir, sizeof(dir), "%s/mt-fuzz-elf-XXXXXX", base);
	CHECK(mkdtemp(dir));
	snprintf(target, sizeof(target), "%s/target", dir);
	atexit(cleanup);
	make_dir("%s/usr%s", "");
	make_dir("%s/usr/lib%s", "");
	make_dir("%s/usr/lib/debug%s", "");
	make_dir("%s/usr/lib/debug/.build-id%s", "");
	return 0;
}

static uint64_t word_at(const uint8_t *data, size_t size, size_t i)
{
	uint64_t w = 0;

	if (size >= sizeof(w))
		memcpy(&w, data + (i * 8) % (size - sizeof(w) + 1), sizeof(w));
	return w;
}

static void lookup(const struct elf_file *ef, uint64_t vaddr)
{
	const struct elf_sym *s;
	uint64_t off = 0, back;
	char *dm;

	s = elf_file__lookup(ef, vaddr, &off);
	if (s) {
		CHECK(s->name && vaddr >= s->addr && off == vaddr - s->addr);
		dm = mt_demangle(s->name);
		free(dm);
		/* The symbol's own address maps back to it, or to an alias (a
		 * symbol at the very last address covers nothing). */
		CHECK(s->addr == UINT64_MAX || elf_file__lookup(ef, s->addr, NULL));
	}
	if (!elf_file__vaddr_to_offset(ef, vaddr, &off)) {
		CHECK(!elf_file__offset_to_vaddr(ef, off, &back));
	}
}

static void exercise(const struct elf_file *ef, const uint8_t *data, size_t size)
{
	const char *bid = elf_file__build_id(ef);
	const struct elf_sym *s;
	unsigned char buf[64];
	uint64_t vaddr, off;
	size_t i;

	CHECK(bid && strlen(bid) <= 128);
	(void)elf_file__is_dynamic(ef);
	(void)elf_file__is_pie_or_dso(ef);
	(void)elf_file__is_go(ef);
	(void)elf_file__debug_path(ef);
	(void)elf_file__nr_syms(ef);
	/* What choosing the allocator asks. */
	for (i = 0; i < 4; i++) {
		static const char *const names[] = { "malloc", "free", "runtime.mallocgc", "_Znwm" };

		s = elf_file__find_func(ef, names[i], i & 1);
		if (s)
			lookup(ef, s->addr);
	}
	lookup(ef, 0);
	lookup(ef, UINT64_MAX);
	for (i = 0; i < 8; i++) {
		uint64_t w = word_at(data, size, i);

		lookup(ef, w);
		lookup(ef, w & 0xffffff);
		if (!elf_file__offset_to_vaddr(ef, w & 0xfffff, &vaddr))
			lookup(ef, vaddr);
		off = w % (size + 1);
		if (!elf_file__read(ef, off, buf, sizeof(buf) < size - off ? sizeof(buf) : size - off))
			CHECK(!memcmp(buf, data + off, sizeof(buf) < size - off ? sizeof(buf)
									     : size - off));
		CHECK(elf_file__read(ef, size + 1, buf, 1) == -ERANGE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_file_opts opts = { .no_debug_files = true };
	const uint8_t *dbg = NULL;
	const uint8_t *split;
	char path[PATH_MAX + 128];
	char bid[160] = "";
	struct elf_file *ef;
	size_t dbg_size = 0;

	split = memmem(data, size, SPLIT, strlen(SPLIT));
	if (split) {
		dbg = split + strlen(SPLIT);
		dbg_size = size - (size_t)(dbg - data);
		size = (size_t)(split - data);
	}
	write_file(target, data, size);

	if (!elf_file__open(target, &opts, &ef)) {
		exercise(ef, data, size);
		snprintf(bid, sizeof(bid), "%s", elf_file__build_id(ef));
		elf_file__free(ef);
	}
	if (!dbg)
		return 0;

	/* By build-id under the sysroot, or by debuglink next to the file. */
	if (strlen(bid) >= 4 && (dbg_size & 1)) {
		make_dir("%s/usr/lib/debug/.build-id/%.2s", bid);
		snprintf(path, sizeof(path), "%s/usr/lib/debug/.build-id/%.2s/%s.debug", dir, bid,
			 bid + 2);
	} else {
		snprintf(path, sizeof(path), "%s/" DEBUG_NAME, dir);
	}
	write_file(path, dbg, dbg_size);
	opts = (struct elf_file_opts){ .sysroot = dir };
	if (!elf_file__open(target, &opts, &ef)) {
		exercise(ef, data, size);
		elf_file__free(ef);
	}
	unlink(path);
	return 0;
}
