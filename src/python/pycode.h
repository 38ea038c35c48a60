/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_PYCODE_H
#define SG_PYTHON_PYCODE_H

/*
 * What a code object says about itself (name, file, first line, line
 * table), read once per code object and cached by its address. An entry is
 * trusted only while the object at that address still has the same name,
 * file and first line (struct sg_pycode_id), so a freed and reused address
 * is read afresh rather than misnamed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "python/pyproc.h"
#include "python/pywalk.h"

/* Line tables are read whole up to this size; beyond it lines are unknown
 * (0). A table takes a few bytes per line: 64 MiB is millions of lines in
 * one function. */
#define SG_PYCODE_MAX_LINETABLE (64u << 20)

struct sg_pycode {
	struct sg_pycode_id id;
	uint32_t serial; /* unique per cache, never reused: a key for callers */
	char *name;      /* qualified name on 3.11+, co_name before */
	char *filename;  /* co_filename */
	uint8_t *linetable;
	size_t linetable_len;
	bool lines_unknown; /* the table was too long to read: every line is 0 */
	bool shim;          /* CPython's own, not the program's: never shown */
};

struct sg_pycodes;

/* A cache for proc's code objects; NULL when out of memory. */
struct sg_pycodes *sg_pycodes_new(struct sg_pyproc *proc);
void sg_pycodes_free(struct sg_pycodes *codes);

/* The code object identified by id, read now unless cached (borrowed: valid
 * until sg_pycodes_free). Returns 0, SG_EREAD, SG_ECORRUPT or SG_ENOMEM. */
int sg_pycodes_get(struct sg_pycodes *codes, const struct sg_pycode_id *id,
                   const struct sg_pycode **out);

/* The line the code is at, offset bytes into its bytecode (-1: not started).
 * Falls back to the first line, as CPython does, when the table has none;
 * 0 when the table could not be read whole (never a wrong line). */
int sg_pycode_line(const struct sg_pycodes *codes, const struct sg_pycode *code, int64_t offset);

#endif
