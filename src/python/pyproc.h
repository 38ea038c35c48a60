/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_PYPROC_H
#define SG_PYTHON_PYPROC_H

/*
 * A CPython found inside a target process: which ELF file holds the
 * interpreter (the executable, or a libpython it maps, as in embedded
 * interpreters), which version it is, its layout row, and the live addresses
 * of the few globals the walk starts from.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "python/layout.h"
#include "python/pyversion.h"
#include "target/mem.h"
#include "util/strbuf.h"

struct sg_pyproc {
	pid_t pid;
	struct sg_mem mem;
	struct sg_pyversion version;
	struct sg_pylayout layout;
	char binary[512];         /* the file holding the interpreter */
	uint64_t runtime;         /* _PyRuntime (3.7+) */
	uint64_t interp_head_sym; /* interp_head (<=3.6) */
	uint64_t tstate_current;  /* _PyThreadState_Current (<=3.6) */
	uint64_t code_type;       /* PyCode_Type, to validate frames */
	uint64_t str_type;        /* PyUnicode_Type (PyString_Type on 2.7) */
	uint64_t gc_generation0;  /* _PyGC_generation0 (<=3.6), for heap censuses */
	/* The eval loop's function (sg_pyproc_eval_name), for native stacks:
	 * 0 when the binary's symbol tables lack it. */
	uint64_t eval_loop;
	/* tracemalloc's statics (3.6-3.11; pytracemalloc.h): 0 when the binary
	 * lacks them (a stripped one keeps only the exported config). */
	uint64_t tm_config;  /* _Py_tracemalloc_config, or tracemalloc_config (<=3.7) */
	uint64_t tm_traces;  /* tracemalloc_traces, a _Py_hashtable_t* */
	uint64_t tm_domains; /* tracemalloc_domains (3.9+) */
};

/*
 * Find the interpreter in pid's mappings and fill *pp. On failure returns
 * SG_ENOPROC, SG_EPERM, SG_ENOTPY (no CPython mapped, yet: a launched
 * program may not have loaded it), SG_EVERSION (with why naming the version)
 * or SG_ENOSYS; why receives one line for the user.
 */
int sg_pyproc_open(pid_t pid, struct sg_pyproc *pp, char *why, size_t whylen);

/* The eval loop's function in a CPython of that major version: each of
 * its native calls runs Python frames. */
const char *sg_pyproc_eval_name(unsigned major);

/*
 * Append the folders the interpreter imports from, as the target sees
 * them, each followed by '\n', to sb: the standard library (lib/pythonX.Y
 * or lib64/pythonX.Y under the binary's folder or one of its two parents,
 * where that exists) and, for a python command line, sys.path[0] (the
 * script's folder, symbolic links resolved; the working directory for -c,
 * -m, - or no script). site-packages folders are not listed: they are told
 * by name where file names are shown. What cannot be read is left out.
 * 0 or SG_ENOMEM.
 */
int sg_pyproc_path_roots(const struct sg_pyproc *pp, struct sg_strbuf *sb);

/* The first interpreter state, or SG_ENOTREADY while the interpreter is not
 * initialised. */
int sg_pyproc_interp_head(struct sg_pyproc *pp, uint64_t *interp);

/* What one sample needs of an interpreter state. */
struct sg_pyinterp {
	uint64_t tstate_head; /* first thread state */
	uint64_t next;        /* next interpreter, 0 at the end */
	uint64_t gil_holder;  /* thread state holding the GIL, 0 when none */
};

/* Read it with as few reads as the layout allows (one, on 3.12+). */
int sg_pyproc_interp_read(struct sg_pyproc *pp, uint64_t interp, struct sg_pyinterp *out);

#endif
