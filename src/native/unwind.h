/* SPDX-License-Identifier: MIT */
#ifndef SG_NATIVE_UNWIND_H
#define SG_NATIVE_UNWIND_H

/*
 * Native stacks from perf samples, after the fact, without touching the
 * target: one process's executable mappings (from /proc/PID/maps at the
 * start, then from MMAP2 records), reported to elfutils' libdwfl as modules,
 * and two ways to turn a sample into frames:
 *
 *  - fp: the kernel's frame-pointer callchain, as the sample carries it;
 *    right only through code that keeps frame pointers.
 *  - dwarf: the user registers and the copied top of the user stack,
 *    unwound with the binaries' CFI (.eh_frame, .debug_frame) through
 *    dwfl_attach_state, whose memory reads are served from the copy only
 *    (as perf --call-graph dwarf does). The live target is never read.
 *
 * auto picks per sample by where the user-space leaf runs: fp when its
 * binary keeps frame pointers (a third or more of its functions begin with
 * push %rbp; mov %rsp,%rbp, checked once per binary) and its function has
 * set its own up by then (else the kernel's walk skips the caller), dwarf
 * otherwise; and fp when the dwarf walk could not get past the leaf.
 *
 * Not thread-safe. The Dwfl is owned by the handle.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <elfutils/libdwfl.h>

#include "target/perf.h"

enum sg_unwind_method {
	SG_UNWIND_AUTO,
	SG_UNWIND_FP,
	SG_UNWIND_DWARF,
};

/* One frame of a sample, leaf first. */
struct sg_unwind_frame {
	uint64_t pc;
	bool kernel;
	bool exact; /* pc is where the thread was, not a return address (look up
	             * pc - 1 for the call's line) */
};

/* An executable mapping, as recorded. */
struct sg_unwind_map {
	uint64_t start, end, pgoff;
	char *path; /* owned; as the target names it */
};

struct sg_unwind;

/* A handle for pid's address space, starting from its /proc/PID/maps when
 * read_maps (an attached process) or empty (one that just exec'd: MMAP2
 * records will follow). 0 or SG_ENOMEM. */
int sg_unwind_new(pid_t pid, bool read_maps, struct sg_unwind **out);
/* A handle for a child forked from parent: the same mappings. */
int sg_unwind_fork(const struct sg_unwind *parent, pid_t pid, struct sg_unwind **out);
void sg_unwind_free(struct sg_unwind *uw);

/* An MMAP2 record of an executable mapping: [start, start + len) now maps
 * path at file offset pgoff, replacing whatever it overlapped. 0 or
 * SG_ENOMEM. */
int sg_unwind_map(struct sg_unwind *uw, uint64_t start, uint64_t len, uint64_t pgoff,
                  const char *path);

/* The mapping that holds pc (borrowed until the next sg_unwind_map), or
 * NULL. */
const struct sg_unwind_map *sg_unwind_find(const struct sg_unwind *uw, uint64_t pc);

/* Whether a mapping is of a file that can be read for symbols and CFI: not
 * anonymous memory (named "" in /proc/PID/maps and "//anon" in MMAP2
 * records), [vdso] and the like, or a memfd (where JIT code lives too). */
bool sg_unwind_map_is_file(const struct sg_unwind_map *m);

/* The process this handle is for. */
pid_t sg_unwind_pid(const struct sg_unwind *uw);

/* The libdwfl session with every mapping reported (borrowed; NULL when no
 * module could be reported). */
Dwfl *sg_unwind_dwfl(struct sg_unwind *uw);

/* The frames of one PERF_RECORD_SAMPLE, kernel ones first (leaf first),
 * into frames (up to max). Returns how many; *dwarf says whether the user
 * part came from the DWARF walk. */
size_t sg_unwind_sample(struct sg_unwind *uw, enum sg_unwind_method method,
                        const struct sg_perf_record *rec, struct sg_unwind_frame *frames,
                        size_t max, bool *dwarf);

/* Whether the last sample's DWARF walk ended because it needed the stack
 * above the copy (deeper than the copy, whose size the record limits): its
 * outermost frames are then missing. */
bool sg_unwind_cut(const struct sg_unwind *uw);

#endif
