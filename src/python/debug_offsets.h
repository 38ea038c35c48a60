/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_DEBUG_OFFSETS_H
#define SG_PYTHON_DEBUG_OFFSETS_H

/*
 * CPython 3.13+ starts _PyRuntime with _Py_DebugOffsets: a cookie
 * ("xdebugpy"), PY_VERSION_HEX, a free-threading flag, then groups of u64
 * offsets and sizes of the structs a debugger reads. spyglass fills its
 * layout row from them, so new patch releases need no new table row.
 *
 * The bytes come from the target and are untrusted: every offset is checked
 * against the size of its struct and a sane maximum before it is used.
 */

#include <stddef.h>

#include "python/layout.h"

/* Bytes to copy from the start of _PyRuntime for the parser. */
#define SG_DEBUG_OFFSETS_SIZE 584

/* Fill out from buf (len bytes copied from _PyRuntime). Returns 0,
 * SG_ECORRUPT (no cookie, short, or offsets out of range) or SG_EVERSION
 * (a version whose block we do not know, or a free-threaded build). */
int sg_pylayout_from_debug_offsets(const void *buf, size_t len, struct sg_pylayout *out);

#endif
