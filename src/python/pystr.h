/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_PYSTR_H
#define SG_PYTHON_PYSTR_H

/*
 * Copying a Python string object out of the target as UTF-8: PEP 393
 * compact unicode on 3.x (ASCII, Latin-1, UCS-2, UCS-4), PyStringObject
 * bytes on 2.7 (taken as UTF-8, bytes that are not becoming U+FFFD), so
 * what comes out is always valid UTF-8.
 */

#include <stddef.h>
#include <stdint.h>

#include "python/layout.h"
#include "target/mem.h"

/* Strings longer than this many characters are cut; names and file names
 * never come close. */
#define SG_PYSTR_MAX_CHARS 1024

/* Read the string object at addr, check that its type is type_addr (the
 * target's PyUnicode_Type, or PyString_Type on 2.7; 0 skips the check), and
 * write it as NUL-terminated UTF-8 into buf (len >= 4 * SG_PYSTR_MAX_CHARS + 1
 * always suffices). Returns 0, SG_EREAD, or SG_ECORRUPT when the object is
 * not a string (a torn pointer). */
int sg_pystr_read(struct sg_mem *mem, const struct sg_pylayout *layout, uint64_t type_addr,
                  uint64_t addr, char *buf, size_t len);

/* The bytes a compact 3.x str object of length characters takes, header and
 * data and NUL (what sys.getsizeof says, less a cached UTF-8 copy), from
 * its PyASCIIObject.state word; 0 when state is not a compact string's. */
uint64_t sg_pystr_sizeof(const struct sg_pylayout *layout, uint64_t length, uint32_t state);

/* Encode count code points of the given width (1, 2 or 4 bytes each, native
 * endian) as UTF-8 into buf, NUL-terminated, cutting at a whole character
 * when buf is too small. Invalid code points become U+FFFD. Returns the
 * bytes written, excluding the NUL. */
size_t sg_pystr_utf8(const void *chars, size_t count, unsigned width, char *buf, size_t len);

#endif
