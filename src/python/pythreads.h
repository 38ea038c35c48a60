/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_PYTHREADS_H
#define SG_PYTHON_PYTHREADS_H

/*
 * Python thread names (threading.Thread.name), read from the target's
 * threading module: threading._active maps get_ident() values to Thread
 * objects. Thread states carry the same ident (sg_pythread.thread_id).
 */

#include <stddef.h>
#include <stdint.h>

#include "python/pyproc.h"
#include "python/pywalk.h"

struct sg_pythreads;

/* NULL when out of memory. */
struct sg_pythreads *sg_pythreads_new(struct sg_pyproc *proc);
void sg_pythreads_free(struct sg_pythreads *names);

/*
 * The Python name of th's thread into buf (NUL-terminated). Returns 0,
 * SG_ENOTPY when the threading module does not list the thread (threads
 * started through _thread, or not registered yet: ask again later), or
 * SG_ENOMEM.
 *
 * Idents are reused as soon as a thread ends (glibc hands the next thread
 * the same pthread_t), so a reading of threading._active is believed for a
 * thread only if it began after seen_ns, when the caller first saw this
 * thread (CLOCK_MONOTONIC): it then lists no earlier thread under the same
 * ident. _active is read again when a thread is unknown or was seen after
 * the last reading, at most every 1 ms (less often when the reading itself
 * takes long: at most 5% of the time goes to it), and every second in any
 * case, as threads can be renamed.
 */
int sg_pythreads_name(struct sg_pythreads *names, const struct sg_pythread *th, uint64_t seen_ns,
                      char *buf, size_t len);

/* Changes whenever names are read again, so callers know when a name they
 * kept may be stale. */
uint64_t sg_pythreads_generation(const struct sg_pythreads *names);

#endif
