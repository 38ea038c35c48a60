/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf/elf.h"
#include "util/err.h"

struct sg_elf {
	Elf *elf;
	int fd; /* -1 for in-memory images */
};

static int wrap(Elf *e, int fd, struct sg_elf **out)
{
	struct sg_elf *elf;

	if (!e || elf_kind(e) != ELF_K_ELF) {
		elf_end(e);
		return SG_EFORMAT;
	}
	elf = malloc(sizeof(*elf));
	if (!elf) {
		elf_end(e);
		return SG_ENOMEM;
	}
	elf->elf = e;
	elf->fd = fd;
	*out = elf;
	return 0;
}

int sg_elf_open(const char *path, struct sg_elf **out)
{
	int fd, err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return SG_EIO;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return SG_EIO;
	err = wrap(elf_begin(fd, ELF_C_READ_MMAP, NULL), fd, out);
	if (err)
		close(fd);
	return err;
}

int sg_elf_open_mem(const void *buf, size_t len, struct sg_elf **out)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return SG_EIO;
	/* libelf wants a mutable pointer but does not write in read mode. */
	return wrap(elf_memory((char *)(uintptr_t)buf, len), -1, out);
}

void sg_elf_free(struct sg_elf *elf)
{
	if (!elf)
		return;
	elf_end(elf->elf);
	if (elf->fd >= 0)
		close(elf->fd);
	free(elf);
}

static int find_in_symtab(Elf *e, Elf_Scn *scn, const GElf_Shdr *shdr, const char *name,
                          uint64_t *value, uint64_t *size)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t count;

	if (!data || shdr->sh_entsize == 0)
		return SG_ENOTPY;
	count = shdr->sh_size / shdr->sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		const char *sym_name;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		sym_name = elf_strptr(e, shdr->sh_link, sym.st_name);
		if (sym_name && strcmp(sym_name, name) == 0) {
			*value = sym.st_value;
			if (size)
				*size = sym.st_size;
			return 0;
		}
	}
	return SG_ENOTPY;
}

int sg_elf_symbol(const struct sg_elf *elf, const char *name, uint64_t *value, uint64_t *size)
{
	static const Elf64_Word order[] = {SHT_DYNSYM, SHT_SYMTAB};

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(elf->elf, scn))) {
			GElf_Shdr shdr;

			if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != order[k])
				continue;
			if (find_in_symtab(elf->elf, scn, &shdr, name, value, size) == 0)
				return 0;
		}
	}
	return SG_ENOTPY;
}

int sg_elf_load_base(const struct sg_elf *elf, uint64_t *vaddr)
{
	size_t nphdr;

	if (elf_getphdrnum(elf->elf, &nphdr) != 0)
		return SG_ECORRUPT;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (ph.p_offset == 0) {
			*vaddr = ph.p_vaddr & ~(uint64_t)0xfff;
			return 0;
		}
	}
	return SG_ECORRUPT;
}

int sg_elf_soname(const struct sg_elf *elf, char *buf, size_t len)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf->elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_DYNAMIC ||
		    shdr.sh_entsize == 0)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Dyn dyn;
			const char *name;

			if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag != DT_SONAME)
				continue;
			name = elf_strptr(elf->elf, shdr.sh_link, dyn.d_un.d_val);
			if (!name)
				return SG_ENOTPY;
			snprintf(buf, len, "%s", name);
			return 0;
		}
	}
	return SG_ENOTPY;
}

int sg_elf_read_vaddr(const struct sg_elf *elf, uint64_t vaddr, void *buf, size_t len)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf->elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;
		uint64_t at;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS ||
		    !(shdr.sh_flags & SHF_ALLOC))
			continue;
		if (vaddr < shdr.sh_addr || vaddr - shdr.sh_addr >= shdr.sh_size)
			continue;
		at = vaddr - shdr.sh_addr;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf || at > data->d_size || len > data->d_size - at)
			return SG_ECORRUPT;
		memcpy(buf, (const char *)data->d_buf + at, len);
		return 0;
	}
	return SG_ECORRUPT;
}

int sg_elf_section(const struct sg_elf *elf, const char *name, const uint8_t **data, size_t *len)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf->elf, &shstrndx) != 0)
		return SG_ENOTPY;
	while ((scn = elf_nextscn(elf->elf, scn))) {
		GElf_Shdr shdr;
		const char *scn_name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
			continue;
		scn_name = elf_strptr(elf->elf, shstrndx, shdr.sh_name);
		if (!scn_name || strcmp(scn_name, name) != 0)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			return SG_ENOTPY;
		*data = d->d_buf;
		*len = d->d_size;
		return 0;
	}
	return SG_ENOTPY;
}
