/* SPDX-License-Identifier: MIT */
#ifndef SG_SAMPLER_SNAPSHOT_H
#define SG_SAMPLER_SNAPSHOT_H

/*
 * One look at every Python thread of a process (and, if asked, of its
 * descendants): each thread's stack resolved to names, files and lines,
 * with what the kernel says the thread is doing. The target is only read,
 * never stopped. Each stack is walked until two walks agree on where it
 * starts (sampler/threadwalk.h); a thread that could not be read that way
 * is kept, with the reason, and no frames.
 *
 * With native, each thread's native stack too, merged with its Python
 * frames as record --native merges them (sampler/merge.h). A thread that
 * is not running has no perf sample to copy its stack, so each thread in
 * turn is held still (target/hold.h: one thread, never the process, never
 * two at once) for as long as it takes to copy its registers and the used
 * part of its stack (at most SG_SNAPSHOT_STACK_BYTES) and to walk its
 * Python frames, then let go; the copy is unwound after. How long each was
 * held is kept. A thread that cannot be held (another tracer, ptrace not
 * allowed, uninterruptible sleep) keeps its Python frames and the reason.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "python/pylocals.h"
#include "python/pyversion.h"

enum sg_snapframe_kind {
	SG_SNAPFRAME_PYTHON,
	SG_SNAPFRAME_NATIVE,    /* file: the source file, else the binary */
	SG_SNAPFRAME_JIT,       /* named from the process's perf map */
	SG_SNAPFRAME_UNMATCHED, /* "[unmatched]": the stacks did not match */
};

struct sg_snapframe {
	char *function; /* qualified name on 3.11+ */
	char *file;
	int line;
	enum sg_snapframe_kind kind;
	/* With opts->locals: arguments first, then locals (python/pylocals.h).
	 * Owned. locals_err says why none could be read (0: read). */
	struct sg_pylocal *locals;
	size_t nlocals;
	int locals_err;
};

struct sg_snapthread {
	pid_t tid;          /* kernel tid, 0 when unknown */
	uint64_t thread_id; /* threading.get_ident() */
	char name[256];     /* Python's name, else the kernel's, else empty */
	bool gil;           /* holds the GIL */
	char state;         /* scheduler state letter, '?' when unknown */
	long syscall;       /* sg_proc_task_syscall's number, or LONG_MIN unknown */
	/* Outermost call first, as a traceback prints them. Owned. */
	struct sg_snapframe *frames;
	size_t nframes;
	/* Deeper than SG_PYWALK_MAX_DEPTH: omitted frames were left out after
	 * the first omitted_at frames (both ends of the stack are kept). */
	size_t omitted, omitted_at;
	int err; /* 0, or why the stack could not be read (SG_ECORRUPT: it
	          * kept changing under every walk) */
	/* With opts->native: whether frames hold native ones (native_err 0),
	 * and whether they matched the Python frames (else one
	 * SG_SNAPFRAME_UNMATCHED frame, as merge.h says). */
	bool native, matched;
	int native_err;   /* why not: SG_EPERM, SG_ENOTREADY (did not stop) ... */
	uint64_t held_ns; /* how long the thread was held still */
};

struct sg_snapproc {
	pid_t pid;
	char command[1024];
	struct sg_pyversion version;
	/* Oldest thread (usually the main one) first. Owned. */
	struct sg_snapthread *threads;
	size_t nthreads;
	int err;       /* 0, or why this process could not be read at all */
	char why[512]; /* and the reason in words */
	/* With opts->native: one line when no thread's stacks can match (the
	 * eval loop has no symbol), else "". */
	char native_note[700];
};

struct sg_snapshot {
	struct sg_snapproc *procs; /* the target first, then its descendants */
	size_t nprocs;
};

struct sg_snapshot_opts {
	bool subprocesses; /* descendants too: those that run CPython */
	bool locals;       /* each frame's arguments and locals too */
	bool native;       /* each thread's native stack too, merged */
};

/* The most of a thread's stack copied for its native frames: enough for
 * a few thousand Python calls before 3.11, which take C stack each. */
#define SG_SNAPSHOT_STACK_BYTES (1024 * 1024)

/* Take a snapshot of pid into *out (release with sg_snapshot_release, also
 * after a failure). Returns 0, or a negative sg_err with one line for the
 * user in why when pid itself cannot be read: gone, not CPython, a
 * version not supported, not allowed. */
int sg_snapshot_take(pid_t pid, const struct sg_snapshot_opts *opts, struct sg_snapshot *out,
                     char *why, size_t whylen);
void sg_snapshot_release(struct sg_snapshot *snap);

#endif
