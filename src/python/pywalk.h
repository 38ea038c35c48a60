/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_PYWALK_H
#define SG_PYTHON_PYWALK_H

/*
 * Walking a target's Python threads and frames, raw: a walk copies only
 * (code object address, instruction offset) pairs plus what identifies the
 * code object, and resolves nothing. Names, files and lines are looked up
 * afterwards (pycode.h), once per distinct code object.
 *
 * Memory changes under us while we read (frames are pushed and popped; the
 * target never stops). Every pointer is checked before it is followed: a
 * code object must have the target's PyCode_Type as its type, depth is
 * bounded, and a walk that meets something inconsistent fails with
 * SG_ECORRUPT or SG_EREAD so the caller can retry it from the top.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "python/pyproc.h"
#include "target/mem.h"

/* Deeper stacks keep their innermost frames and are marked truncated. */
#define SG_PYWALK_MAX_DEPTH 4096
/* More threads than this in one interpreter means a corrupt list. */
#define SG_PYWALK_MAX_THREADS 4096

/* What identifies a code object, so a cache entry for its address can tell
 * when the address has been reused by another code object. */
struct sg_pycode_id {
	uint64_t addr;
	uint64_t name;     /* co_name object */
	uint64_t filename; /* co_filename object */
	int32_t firstlineno;
};

struct sg_pyframe_raw {
	struct sg_pycode_id code;
	int64_t offset; /* byte offset into the bytecode, -1 when not started */
};

struct sg_pythread {
	uint64_t tstate;
	uint64_t next;                           /* next thread state in the list, 0 at the end */
	uint64_t thread_id;                      /* pthread_t, as threading.get_ident() */
	pid_t tid;                               /* kernel tid, 0 when unknown */
	uint64_t top_frame;                      /* 0 when the thread runs no Python code */
	uint64_t datastack_chunk, datastack_top; /* where 3.11+ keep frames */
};

struct sg_pywalker {
	struct sg_pyproc *proc;
	struct sg_memcache *cache;            /* owned */
	int tid_offset;                       /* of the tid in glibc's struct pthread, <0 unknown */
	uint64_t hints[SG_MEMCACHE_SLOTS];    /* pages recent walks read from */
	uint8_t hint_ages[SG_MEMCACHE_SLOTS]; /* walks since each was needed */
	size_t nhints;
};

/* 0, or SG_ENOMEM. Release with sg_pywalker_release. */
int sg_pywalker_init(struct sg_pywalker *w, struct sg_pyproc *proc);
void sg_pywalker_release(struct sg_pywalker *w);

/* Read the thread state at tstate. Resolves the kernel tid: from
 * native_thread_id on 3.11+, else from glibc's struct pthread, whose tid
 * offset is learnt once by finding the pid in the main thread's. */
int sg_pywalk_thread(struct sg_pywalker *w, uint64_t tstate, struct sg_pythread *out);

/* Walk the frames of a thread, leaf first, into frames (capacity max),
 * from the top frame its thread state names now, read again together with
 * the frames. *depth receives the frames written (0: no Python frame now),
 * *truncated whether more were left, *root the address of the outermost
 * frame reached (0 when truncated). Returns 0, SG_EREAD or SG_ECORRUPT
 * (torn: walk again). */
int sg_pywalk_frames(struct sg_pywalker *w, const struct sg_pythread *th,
                     struct sg_pyframe_raw *frames, size_t max, size_t *depth, bool *truncated,
                     uint64_t *root);

#endif
