/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols/elf_handle.h"

int elf_handle__from_fd(int fd, struct elf_handle *h)
{
	struct stat st;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	h->size = (uint64_t)st.st_size;
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	/* Not mmap: a file truncated under us would raise SIGBUS. */
	h->elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!h->elf || elf_kind(h->elf) != ELF_K_ELF || !gelf_getehdr(h->elf, &h->eh)) {
		elf_handle__close(h);
		return -ENOEXEC;
	}
	h->fd = fd;
	return 0;
}

int elf_handle__open(const char *path, struct elf_handle *h)
{
	int fd, err;

	/* O_NONBLOCK: a FIFO planted at a mapped path must not hang the tracer. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		memset(h, 0, sizeof(*h));
		h->fd = -1;
		return -errno;
	}
	err = elf_handle__from_fd(fd, h);
	if (err)
		close(fd);
	return err;
}

void elf_handle__close(struct elf_handle *h)
{
	if (h->elf)
		elf_end(h->elf);
	if (h->fd >= 0)
		close(h->fd);
	h->elf = NULL;
	h->fd = -1;
}

Elf_Data *elf_handle__section_data(Elf_Scn *scn)
{
	GElf_Shdr sh;
	GElf_Chdr ch;

	if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
		return NULL;
	if (sh.sh_flags & SHF_COMPRESSED) {
		/* The header's size is trusted only up to a limit: it is an allocation. */
		if (!gelf_getchdr(scn, &ch) || ch.ch_size > ELF_HANDLE_MAX_DECOMPRESSED)
			return NULL;
		if (elf_compress(scn, 0, 0) < 0)
			return NULL;
	}
	return elf_getdata(scn, NULL);
}

uint64_t elf_handle__section_size(Elf_Scn *scn, const GElf_Shdr *sh, const char *name)
{
	const unsigned char *b;
	Elf_Data *d;
	GElf_Chdr ch;
	uint64_t n = 0;
	int i;

	if (sh->sh_flags & SHF_COMPRESSED)
		return gelf_getchdr(scn, &ch) ? ch.ch_size : sh->sh_size;
	if (strncmp(name, ".zdebug", 7))
		return sh->sh_size;
	/* .zdebug_*: "ZLIB" and the size, big-endian. */
	d = elf_rawdata(scn, NULL);
	if (!d || !d->d_buf || d->d_size < 12 || memcmp(d->d_buf, "ZLIB", 4))
		return sh->sh_size;
	b = (const unsigned char *)d->d_buf + 4;
	for (i = 0; i < 8; i++)
		n = n << 8 | b[i];
	return n;
}
