/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one way symbols/ and unwind/ open an ELF file and read its sections.
 * The files are named by other processes' maps and debug directories, so
 * they may be anything: a FIFO or device must not block memtrace, a file may
 * shrink while it is read, and a compressed section's header may claim any
 * size.
 */
#ifndef MEMTRACE_ELF_HANDLE_H
#define MEMTRACE_ELF_HANDLE_H

#include <gelf.h>
#include <stdint.h>
#include <sys/types.h>

/* Refuse to inflate a compressed section claiming more. */
#define ELF_HANDLE_MAX_DECOMPRESSED	(256u << 20)

struct elf_handle {
	int fd;			/* -1 when not owned */
	Elf *elf;		/* read, not mapped: truncation cannot raise SIGBUS */
	GElf_Ehdr eh;
	uint64_t size;		/* at open */
	dev_t dev;
	ino_t ino;
};

/*
 * Open path as an ELF file (ELF_K_ELF with a header). Returns 0 or -errno:
 * -ENOEXEC when it is not a regular file or not ELF; h is then closed.
 */
int elf_handle__open(const char *path, struct elf_handle *h);
/* The same on an fd the caller opened: h owns it on success only. */
int elf_handle__from_fd(int fd, struct elf_handle *h);
/* Ends the Elf, closes the fd unless it is -1; h may be closed again. */
void elf_handle__close(struct elf_handle *h);

/*
 * A section's contents, inflated first when SHF_COMPRESSED and within
 * ELF_HANDLE_MAX_DECOMPRESSED; NULL for SHT_NOBITS, a bad or too large
 * compression header, or a libelf error. d_buf may be NULL for an empty one.
 */
Elf_Data *elf_handle__section_data(Elf_Scn *scn);

/*
 * The size a section takes once inflated, as its header claims: SHF_COMPRESSED
 * or a .zdebug_* section's "ZLIB" header; sh_size for any other.
 */
uint64_t elf_handle__section_size(Elf_Scn *scn, const GElf_Shdr *sh, const char *name);

#endif
