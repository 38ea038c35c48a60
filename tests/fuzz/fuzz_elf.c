/* SPDX-License-Identifier: MIT */
/* ELF files come from the target's file system: arbitrary bytes must not
 * crash symbol lookup, soname reading or version detection. */
#include <stddef.h>
#include <stdint.h>

#include "elf/elf.h"
#include "python/pyversion.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_elf *elf;
	struct sg_pyversion v;
	uint64_t value, base;
	const uint8_t *rodata;
	size_t len;
	char soname[64];
	uint8_t word[8];

	sg_pyversion_scan(data, size, 0, 0, &v);
	if (sg_elf_open_mem(data, size, &elf))
		return 0;
	if (sg_elf_symbol(elf, "_PyRuntime", &value, NULL) == 0)
		sg_elf_read_vaddr(elf, value, word, sizeof(word));
	sg_elf_load_base(elf, &base);
	sg_elf_soname(elf, soname, sizeof(soname));
	sg_elf_section(elf, ".rodata", &rodata, &len);
	sg_pyversion_detect(elf, &v);
	sg_elf_free(elf);
	return 0;
}
