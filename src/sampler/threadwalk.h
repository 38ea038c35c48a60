/* SPDX-License-Identifier: MIT */
#ifndef SG_SAMPLER_THREADWALK_H
#define SG_SAMPLER_THREADWALK_H

/*
 * What the sampler and a one-shot dump share: visiting every thread of
 * every interpreter of a process, and walking a thread's stack again until
 * the walk can be believed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "python/pyproc.h"
#include "python/pywalk.h"
#include "util/u64map.h"

/* A torn walk is walked again at least this many times in all, then while
 * the caller's deadline allows, up to SG_THREADWALK_ATTEMPTS_MAX. */
#define SG_THREADWALK_ATTEMPTS_MIN 4
#define SG_THREADWALK_ATTEMPTS_MAX 32

/* Called for each thread state; a non-zero return stops the visit and is
 * returned by sg_threadwalk_each. */
typedef int (*sg_threadwalk_fn)(void *ctx, struct sg_pythread *th, const struct sg_pyinterp *is);

/* Visit the threads of every interpreter from interp (the head of the
 * list), in list order (newest thread first). A thread list that changes
 * under the visit ends that interpreter's visit early. Returns 0, fn's
 * return, or the error reading an interpreter state. */
int sg_threadwalk_each(struct sg_pyproc *pp, struct sg_pywalker *w, uint64_t interp,
                       sg_threadwalk_fn fn, void *ctx);

/*
 * Walk th's frames (leaf first, into frames of capacity max, as
 * sg_pywalk_frames), walking again while the walk is torn. roots remembers
 * each thread state's outermost frame: a walk is believed when it ends
 * where the last believed one did, or where the previous attempt ended,
 * and every frame, read again after the walk, still runs the same code.
 * Attempts go on while CLOCK_MONOTONIC is before deadline_ns (UINT64_MAX:
 * until SG_THREADWALK_ATTEMPTS_MAX). *retries counts the walks after the
 * first. Returns 0, SG_ENOMEM, SG_EUSAGE, or SG_ECORRUPT / SG_EREAD when no
 * walk could be believed.
 */
int sg_threadwalk_frames(struct sg_pywalker *w, struct sg_u64map *roots,
                         const struct sg_pythread *th, struct sg_pyframe_raw *frames, size_t max,
                         struct sg_pystack *walk, uint64_t deadline_ns, uint64_t *retries);

#endif
