/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_PYDICT_H
#define SG_PYTHON_PYDICT_H

/*
 * Reading dicts and instance attributes out of the target, in each
 * version's layout (layout.h, obj group): 2.7's open table, 3.6-3.10's keys
 * object, 3.11+'s with unicode-only keys, split tables whose values live
 * apart (3.11+: in the instance itself). The dicts may change while they are
 * read: every loop is bounded, and what a torn read yields is skipped or
 * reported, never trusted further than one entry.
 */

#include <stddef.h>
#include <stdint.h>

#include "python/pyproc.h"

/* Dicts larger than this are refused (SG_ECORRUPT) unless a caller asks
 * for more. */
#define SG_PYDICT_MAX_ENTRIES 65536

struct sg_pydict_entry {
	uint64_t key, value; /* object addresses, both nonzero */
};

/*
 * The live entries of the dict at dict, at most max of them (more:
 * SG_ECORRUPT), into *out (malloc'd, free it; set even on error, maybe
 * NULL). Returns 0, SG_EREAD, SG_ECORRUPT or SG_ENOMEM.
 */
int sg_pydict_entries(struct sg_pyproc *pp, uint64_t dict, size_t max, struct sg_pydict_entry **out,
                      size_t *n);

/*
 * The same for a caller that has read the dict's two table words already
 * (at layout obj.dict_keys and obj.dict_values: ma_keys and ma_values, or
 * 2.7's ma_mask and ma_table): out may then be NULL for none, and *owned
 * (when owned is not NULL) gets the bytes of the tables the dict owns
 * beyond the object itself (its keys table unless shared, its values
 * array), as sys.getsizeof counts them.
 */
int sg_pydict_scan(struct sg_pyproc *pp, uint64_t dict, uint64_t keys, uint64_t values, size_t max,
                   struct sg_pydict_entry **out, size_t *n, uint64_t *owned);

/* The value under the str key in dict: 0, SG_ENOTPY when absent, or an
 * error as sg_pydict_entries. */
int sg_pydict_get(struct sg_pyproc *pp, uint64_t dict, const char *key, uint64_t *value);

/* Where the instances of one type keep their attributes, read once per
 * type (sg_pyattrs_type). */
struct sg_pyattrs_type {
	enum sg_attr_kind kind; /* DICTOFFSET too for 3.11+ types that do not manage a dict */
	int64_t dictoffset;     /* DICTOFFSET: the dict pointer's place; 0: none */
	uint64_t values_at;     /* INLINE313: the values' place in the object */
	uint64_t shared_keys;   /* 3.11+: the keys the values are in the order of */
};

/* 0, or an error as sg_mem_read. */
int sg_pyattrs_type(struct sg_pyproc *pp, uint64_t type, struct sg_pyattrs_type *out);

/* Where the object at obj, of a type t describes, keeps its attributes:
 * its __dict__'s address into *dict, or (3.11+, no dict made yet) that of
 * the values kept in the object into *values, the other 0. SG_ENOTPY when
 * it has neither, else 0 or an error as sg_mem_read. */
int sg_pyattrs_home(struct sg_pyproc *pp, const struct sg_pyattrs_type *t, uint64_t obj,
                    uint64_t *dict, uint64_t *values);

/* The attribute values at values (from sg_pyattrs_home), without their
 * names, into *out (malloc'd, free it), at most max. */
int sg_pyattrs_values(struct sg_pyproc *pp, const struct sg_pyattrs_type *t, uint64_t values,
                      size_t max, uint64_t **out, size_t *n);

/* The instance attributes of the object at obj (its __dict__, or on 3.11+
 * the values kept in the object), name -> value, as sg_pydict_entries.
 * SG_ENOTPY when it has none. */
int sg_pyobj_attrs(struct sg_pyproc *pp, uint64_t obj, size_t max, struct sg_pydict_entry **out,
                   size_t *n);

/* One instance attribute: 0, SG_ENOTPY when absent, or an error. */
int sg_pyobj_attr(struct sg_pyproc *pp, uint64_t obj, const char *name, uint64_t *value);

#endif
