/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_PYLOCALS_H
#define SG_PYTHON_PYLOCALS_H

/*
 * A frame's arguments and local variables, with short reprs read from the
 * target's memory: nothing is ever called in the target (no __repr__), so
 * values are shown for the built-in types whose layout is known (str,
 * bytes, int of any size, float, bool, None) and as type name plus length
 * for containers (list, tuple, dict, set, frozenset), type name alone for
 * anything else. A running thread's locals change while they are read:
 * each value is what its slot held at the moment it was read.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "python/pyproc.h"

/* Reprs longer than this are cut, ending "...". */
#define SG_PYLOCALS_REPR 96

struct sg_pylocal {
	char name[128];
	char value[SG_PYLOCALS_REPR];
	bool argument; /* a parameter of the function, *args and **kwargs included */
};

/* One local of a frame, unread: where the frame keeps it and the object it
 * holds, for callers that follow objects rather than show them (heap
 * --referrers). */
struct sg_pyslot {
	char name[128];
	uint64_t value; /* the object; a cell variable's content */
	uint64_t slot;  /* the frame's slot it was read from */
	bool argument;
	bool cell; /* the slot holds a cell, and value is its content */
};

/* As sg_pylocals_read, but each local's object address instead of its
 * repr, read once: a running thread may have rebound the slot since. */
int sg_pylocals_slots(struct sg_pyproc *pp, uint64_t frame, uint64_t code, struct sg_pyslot **out,
                      size_t *n);

/* The arguments and locals of the frame at frame (sg_pyframe_raw.frame)
 * running the code object at code, in the code's order (arguments first),
 * into *out (malloc'd: free it; *n may be 0). Unbound locals and, on 3.11+,
 * free variables (the enclosing function's) are left out; a cell variable
 * shows its content. Returns 0, SG_EREAD, SG_ECORRUPT (not a frame of that
 * code any more) or SG_ENOMEM. */
int sg_pylocals_read(struct sg_pyproc *pp, uint64_t frame, uint64_t code, struct sg_pylocal **out,
                     size_t *n);

/* A short repr of the object at addr into buf (len >= SG_PYLOCALS_REPR):
 * 'text', b'bytes', 42, 2.5, True, None, <list of 3>, <Foo object>. Returns
 * 0, or SG_EREAD with <unreadable> in buf when its type cannot be read (a
 * freed object, a torn pointer). */
int sg_pyrepr(struct sg_pyproc *pp, uint64_t addr, char *buf, size_t len);

#endif
