/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_PYHEAP_H
#define SG_PYTHON_PYHEAP_H

/*
 * A census of the live Python objects of a target, read from its memory
 * only (never stopped, never written): per type, how many objects and how
 * many bytes.
 *
 * Counted: every object on the garbage collector's lists (its three
 * generations and, 3.7+, the permanent one of gc.freeze()), which is what
 * gc.get_objects() returns; and the objects they refer to that the
 * collector does not track (str, bytes, int, float, and tuples and dicts it
 * untracked because they hold only such things), found through list,
 * tuple, dict and set items and instance attributes, and then through those
 * untracked containers in turn. Not counted: objects only C code refers to,
 * objects reachable only through other kinds of referents (a frame's
 * locals, a cell's content, a function's defaults), and static objects.
 *
 * Bytes are the object (sys.getsizeof's basic and item sizes, with its GC
 * header when tracked) plus what it owns: a list's item array, a dict's
 * keys table (unless shared with its class) and values, a set's table. A
 * str's data is inside the object. An instance's __dict__ is a dict of its
 * own where it is one (<=3.10, or once materialized).
 *
 * The heap changes while it is read. The census copies the memory it
 * reads in chunks of 64 KiB, each once, so that it takes a few thousand
 * system calls instead of millions and moments instead of seconds; still,
 * chunks are copied at different moments. An object freed mid-census (its count
 * or type no longer those of a live object) is skipped and counted as
 * such; a list that does not lead back to its head within the bounds is
 * cut there and said so. Every read is bounded by max_objects.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "python/pyproc.h"

struct sg_pyheap_type {
	uint64_t addr;  /* the type object */
	char name[256]; /* module.qualname (app.sessions.Session), or tp_name */
	uint64_t count; /* objects */
	uint64_t bytes; /* their bytes, with what they own */
	bool python;    /* a class defined in Python (a heap type), not built in */
};

/* What holds the objects of one type (sg_pyheap_opts.referrers): one line
 * per kind of holder, holders that say the same merged. */
struct sg_pyheap_holder {
	char what[512];   /* "the dict _SESSIONS in module app.cache" */
	uint64_t count;   /* objects of the type held directly, each once */
	uint64_t holders; /* containers merged into this line */
};

struct sg_pyheap {
	struct sg_pyheap_type *types; /* ntypes, by bytes, largest first */
	size_t ntypes;
	struct sg_pyheap_holder *holders; /* nholders, most objects first */
	size_t nholders;
	uint64_t referred;    /* objects of the type whose referrers were asked */
	uint64_t tracked;     /* objects read from the collector's lists */
	uint64_t untracked;   /* objects found through what refers to them */
	uint64_t skipped;     /* freed or torn mid-census */
	unsigned lists;       /* collector lists walked */
	unsigned lists_whole; /* of those, how many led back to their head */
	bool truncated;       /* max_objects was reached */
	uint64_t reads;       /* system calls the census made */
};

struct sg_pyheap_opts {
	uint64_t max_objects; /* 0: SG_PYHEAP_MAX_OBJECTS */
	/* A type's name as sg_pyheap_type.name shows it, or NULL: then also
	 * find what holds the objects of that type (holders): the containers
	 * that refer to them, named from a root (a module global, a class
	 * attribute, an instance attribute, a closure, a local of a frame a
	 * thread is running), up to six containers away. A local that holds
	 * such an object itself is a holder. Suspended generators' frames are
	 * not searched (they are objects the census counts, not roots). */
	const char *referrers;
};

#define SG_PYHEAP_MAX_OBJECTS (64ull * 1000 * 1000)
/* The census copies the target's memory in chunks as it first reads them
 * (sg_mem_snapshot_begin), up to this much; past it, it reads object by
 * object. */
#define SG_PYHEAP_COPY_MAX (1024ull * 1024 * 1024)

/*
 * Take a census of pp's heap into *out (release it with
 * sg_pyheap_release, also on error). Returns 0, SG_ENOTREADY (no
 * interpreter yet), SG_EGONE (the target exited), SG_EREAD (the collector's
 * lists could not be read at all), SG_EPERM or SG_ENOMEM.
 */
int sg_pyheap_census(struct sg_pyproc *pp, const struct sg_pyheap_opts *opts,
                     struct sg_pyheap *out);

void sg_pyheap_release(struct sg_pyheap *heap);

#endif
