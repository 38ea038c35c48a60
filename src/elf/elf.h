/* SPDX-License-Identifier: MIT */
#ifndef SG_ELF_ELF_H
#define SG_ELF_ELF_H

/*
 * Binary knowledge from ELF files, through libelf's class-independent gelf_
 * API: symbol values, section contents and the file offset behind a virtual
 * address. The file is untrusted input (it comes from the target's mount
 * namespace); every lookup is bounds-checked.
 */

#include <stddef.h>
#include <stdint.h>

struct sg_elf;

/* Open path (an ELF file) or wrap an in-memory image (buf, len), which must
 * outlive the handle. Return 0 and a handle to free with sg_elf_free, or
 * SG_EIO (cannot open) / SG_EFORMAT (not ELF). */
int sg_elf_open(const char *path, struct sg_elf **out);
int sg_elf_open_mem(const void *buf, size_t len, struct sg_elf **out);
void sg_elf_free(struct sg_elf *elf);

/* The value (link-time virtual address) and size of the named symbol, from
 * .dynsym and then .symtab. Returns 0 or SG_ENOTPY when absent. */
int sg_elf_symbol(const struct sg_elf *elf, const char *name, uint64_t *value, uint64_t *size);

/* The page-aligned link-time address of the segment loaded from file offset
 * 0. A symbol's live address is its value + (where the target mapped file
 * offset 0) - this. Returns 0 or SG_ECORRUPT. */
int sg_elf_load_base(const struct sg_elf *elf, uint64_t *vaddr);

/* DT_SONAME from the dynamic section, into buf. 0 or SG_ENOTPY when absent. */
int sg_elf_soname(const struct sg_elf *elf, char *buf, size_t len);

/* Copy len bytes stored in the file at link-time address vaddr (initialised
 * data only, not .bss). Returns 0 or SG_ECORRUPT. */
int sg_elf_read_vaddr(const struct sg_elf *elf, uint64_t vaddr, void *buf, size_t len);

/* The contents of the named section (borrowed, valid until sg_elf_free).
 * Returns 0 or SG_ENOTPY when absent or without file contents. */
int sg_elf_section(const struct sg_elf *elf, const char *name, const uint8_t **data, size_t *len);

#endif
