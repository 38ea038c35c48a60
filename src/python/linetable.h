/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_LINETABLE_H
#define SG_PYTHON_LINETABLE_H

/*
 * Line-number decoders for every CPython line-table format, as pure
 * functions over bytes copied out of a target. The bytes are untrusted: no
 * read goes past len, every loop advances through the table, arithmetic is
 * checked, and anything inconsistent yields -1 rather than a guess.
 *
 * Which offset to pass. `offset` is a byte offset into the code object's
 * bytecode and designates the instruction whose line is wanted: any byte of
 * that instruction (opcode, argument, or on 3.11+ its inline CACHE units)
 * gives the same answer. The decoder never adjusts; the caller converts:
 *
 *   <=3.9   f_lasti, already bytes, is the last executed instruction.
 *   3.10    f_lasti counts 2-byte code units: pass 2 * f_lasti.
 *   3.11/12 prev_instr - co_code_adaptive (bytes): the last executed
 *           instruction (a caller frame's prev_instr is its CALL).
 *   3.13+   instr_ptr - co_code_adaptive (bytes), unadjusted: CPython
 *           documents instr_ptr as the instruction "currently executing (or
 *           about to begin)" and its own _PyInterpreterFrame_LASTI and
 *           f_lineno use it as is; a caller frame's instr_ptr is its CALL.
 *
 * A negative f_lasti (<=3.10: frame not started) or a prev_instr one unit
 * before the code (3.11/12: same) cannot be expressed as an offset: CPython
 * reports co_firstlineno there, and so should the caller.
 *
 * Edge cases, matching what the interpreter itself computes:
 *
 *   LNOTAB2, LNOTAB (co_lnotab): the table only lists line changes, so an
 *   empty table means every instruction is on firstlineno, and an offset
 *   past the last entry gets the last line (the table does not know the
 *   code's length; check offset against it if that matters). A trailing
 *   odd byte (a cut pair) yields -1 only if the answer depends on it.
 *
 *   310, LOCATIONS (co_linetable): entries cover the code from offset 0
 *   contiguously, so an empty table or an offset past the last entry is -1,
 *   as are "no line" entries (-128 in 3.10, code 15 in 3.11+).
 */

#include <stddef.h>
#include <stdint.h>

#include "python/layout.h"

/* Source line of the instruction at byte offset `offset` into the code
 * object's bytecode, decoded from its line table (co_lnotab / co_linetable
 * bytes as copied from the target). Returns the line, or -1 when the table
 * says the instruction has no line or the table is malformed/truncated. */
int sg_linetable_line(enum sg_linetable_kind kind, const uint8_t *table, size_t len,
                      int firstlineno, uint32_t offset);

#endif
