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

/* The name of th's Python thread into buf (NUL-terminated). Falls back to
 * the kernel's thread name when the threading module does not know the
 * thread (threads started through _thread, or not yet registered). Names
 * are cached and read again at most every 20 ms when a thread is unknown,
 * and every second in any case. Returns 0 for a Python name, 1 for the
 * kernel's (worth asking again later), or a negative sg_err when no name
 * could be read at all. */
int sg_pythreads_name(struct sg_pythreads *names, const struct sg_pythread *th, char *buf,
                      size_t len);

/* Changes whenever names are read again, so callers know when a name they
 * kept may be stale. */
uint64_t sg_pythreads_generation(const struct sg_pythreads *names);

#endif
