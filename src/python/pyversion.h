/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_PYVERSION_H
#define SG_PYTHON_PYVERSION_H

/*
 * Which CPython an ELF file carries, read from the file's own data; never by
 * running it and never from its file name:
 *   1. 3.11+ export `Py_Version` (PY_VERSION_HEX) in .rodata;
 *   2. a libpython names its minor version in DT_SONAME (libpython3.9.so.1.0),
 *      a field of the dynamic section;
 *   3. the PY_VERSION string literal ("3.9.18") lies in .rodata, often as the
 *      tail of a longer string after the linker merged them.
 * Step 3 alone is a heuristic, used for micro versions and for static
 * executables older than 3.11.
 */

#include <stddef.h>
#include <stdint.h>

#include "elf/elf.h"

struct sg_pyversion {
	unsigned major, minor, micro;
};

/* 0 and *v, or SG_ENOTPY when the file carries no CPython version. */
int sg_pyversion_detect(const struct sg_elf *elf, struct sg_pyversion *v);

/* Scan buf (a .rodata image) for a NUL-terminated version string "M.N.P"
 * (optionally with a release suffix like "rc1" or "+") that is not preceded
 * by a digit or '.'. When want_major is nonzero only M == want_major and
 * N == want_minor match. Returns 0 for the first match, SG_ENOTPY for none. */
int sg_pyversion_scan(const uint8_t *buf, size_t len, unsigned want_major, unsigned want_minor,
                      struct sg_pyversion *v);

#endif
