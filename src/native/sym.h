/* SPDX-License-Identifier: MIT */
#ifndef SG_NATIVE_SYM_H
#define SG_NATIVE_SYM_H

/*
 * Names for native code addresses, through elfutils' libdwfl: the function
 * from .symtab or .dynsym (of the binary or its separate debug file, found
 * by build-id under /usr/lib/debug/.build-id or by .gnu_debuglink, Debian's
 * -dbgsym layout), and from DWARF where present the functions inlined at
 * that address as frames of their own, each with its file and line. C++
 * and Rust (legacy mangling) names are demangled with libstdc++'s
 * __cxa_demangle. An address that no symbol covers is named FILE+0xOFFSET
 * (its offset in the mapped file), never "??".
 *
 * What an address resolves to is cached by the binary's build-id (its path
 * when it has none) and the address's offset in it, so each address of a
 * binary is looked up once whichever process runs it.
 *
 * Kernel addresses are named from /proc/kallsyms when it gives addresses
 * (read once, when first needed); otherwise "[kernel]".
 *
 * Code outside any file (anonymous executable memory: JIT compilers) is
 * named from the process's /tmp/perf-PID.map ("START SIZE NAME" lines in
 * hex, as CPython 3.12+ -X perf, node --perf-basic-prof and the JVM's
 * jcmd PID Compiler.perfmap write it), read again from where it was left
 * when it has grown (looked at no more than every 50 ms); such frames are
 * marked jit, and never cached (JIT code is freed and its memory reused).
 *
 * Not thread-safe.
 */

#include <stdbool.h>
#include <stdint.h>

#include "native/unwind.h"

/* One frame an address stands for. Strings are borrowed, valid during the
 * callback only. */
struct sg_sym_frame {
	const char *name;
	const char *file; /* source file, or the binary's path when unknown */
	int line;         /* 0 when unknown */
	bool kernel;
	bool jit; /* named from a perf map */
};

/* Called once per frame, innermost (deepest inlined) first. A nonzero
 * return stops the walk and is returned. */
typedef int (*sg_sym_fn)(void *ctx, const struct sg_sym_frame *frame);

struct sg_syms;

/* 0 or SG_ENOMEM. Free with sg_syms_free (accepts NULL). */
int sg_syms_new(struct sg_syms **out);
void sg_syms_free(struct sg_syms *syms);

/* The frames of one unwound frame of uw's process. Returns fn's nonzero
 * return, SG_ENOMEM, or 0. */
int sg_syms_resolve(struct sg_syms *syms, struct sg_unwind *uw, const struct sg_unwind_frame *f,
                    sg_sym_fn fn, void *ctx);

/* A demangled C++ or Rust symbol into buf (always NUL-terminated); name
 * itself when it is not mangled. Returns buf. */
const char *sg_syms_demangle(const char *name, char *buf, size_t len);

#endif
