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

/* How many frames a sample keeps by default (record --max-depth). */
#define SG_PYWALK_MAX_DEPTH 4096
/* A walk goes on to the root past the frames it keeps, up to this many
 * frames in all: a longer chain is taken for a corrupt one. */
#define SG_PYWALK_WALK_LIMIT (1u << 20)
/* More thread states than this in one process means a corrupt list (a
 * real one this long is not sampled past it). */
#define SG_PYWALK_MAX_THREADS 65536

/* What identifies a code object, so a cache entry for its address can tell
 * when the address has been reused by another code object. */
struct sg_pycode_id {
	uint64_t addr;
	uint64_t name;     /* co_name object */
	uint64_t filename; /* co_filename object */
	int32_t firstlineno;
};

struct sg_pyframe_raw {
	uint64_t frame; /* the frame (object, or interpreter frame on 3.11+) */
	uint64_t back;  /* its caller's frame, as the walk read it */
	struct sg_pycode_id code;
	int64_t offset; /* byte offset into the bytecode, -1 when not started */
	/* The outermost frame of those one C-level call of the eval loop runs
	 * (record --native matches those calls with the native stack's): every
	 * frame before 3.11; on 3.11 one marked is_entry; on 3.12+ one whose
	 * caller is a C-stack shim frame (the shim itself is not kept). */
	bool entry;
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

/* What a walk found besides the frames it wrote. */
struct sg_pystack {
	size_t depth;   /* frames written (0: no Python frame now) */
	size_t omitted; /* frames walked but not written, which were between
	                   frames[inner - 1] and frames[inner] */
	size_t inner;   /* when omitted: how many of the frames are the innermost */
	uint64_t root;  /* address of the outermost frame */
};

/* Walk the frames of a thread, leaf first, into frames (capacity max >= 2),
 * from the top frame its thread state names now, read again together with
 * the frames. The walk always goes on to the root: a stack deeper than max
 * keeps its innermost (max + 1) / 2 and its outermost max / 2 frames, and
 * says how many it left out between them. Returns 0, SG_EUSAGE (max < 2),
 * SG_EREAD or SG_ECORRUPT (torn: walk again). */
int sg_pywalk_frames(struct sg_pywalker *w, const struct sg_pythread *th,
                     struct sg_pyframe_raw *frames, size_t max, struct sg_pystack *out);

#endif
