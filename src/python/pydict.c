/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "python/pydict.h"
#include "python/pystr.h"
#include "util/err.h"

/* PyDictKeysObject fields per dict kind (the struct is the same for every
 * version of a kind; 3.11's gained nothing until free threading). */
#define KEYS36_REFCNT            0
#define KEYS36_SIZE              8
#define KEYS36_NENTRIES          32
#define KEYS36_INDICES           40
#define KEYS311_LOG2_SIZE        8
#define KEYS311_LOG2_INDEX_BYTES 9
#define KEYS311_KIND             10
#define KEYS311_NENTRIES         24
#define KEYS311_INDICES          32
#define KEYS311_GENERAL          0 /* DICT_KEYS_GENERAL: entries carry a hash */
#define KEYS_HEADER              40

/* 2.7's PyDictObject ends in ma_smalltable: a table elsewhere is owned. */
#define DICT27_SMALLTABLE 56
#define ENTRY_GENERAL     24 /* hash, key, value */
#define ENTRY_UNICODE     16 /* key, value (3.11+ unicode-only keys) */

/* Py_TPFLAGS_MANAGED_DICT (3.11+): the dict pointer precedes the object. */
#define TPFLAGS_MANAGED_DICT (1ul << 4)
#define MANAGED_DICT         (-3 * 8)
#define MANAGED_VALUES_311   (-4 * 8)
#define INLINE_VALID_313     3 /* PyDictValues.valid */

/* Where a table's entries are, and what the dict owns. */
struct table {
	uint64_t at;       /* first entry */
	uint64_t nentries; /* entries in use or deleted, in order */
	size_t stride, key_at, value_at;
	uint64_t owned; /* bytes of keys table and values the dict owns */
};

static int read_u64(struct sg_pyproc *pp, uint64_t addr, uint64_t *v)
{
	return sg_mem_read(&pp->mem, addr, v, sizeof(*v));
}

/* USABLE_FRACTION of a table of size slots, the same in every version. */
static uint64_t usable(uint64_t size)
{
	return (size << 1) / 3;
}

/* A 3.x keys object's header, in one read. */
static int keys_table(struct sg_pyproc *pp, uint64_t keys, size_t max, struct table *t)
{
	uint8_t hdr[KEYS_HEADER];
	uint64_t refcnt, size, index_bytes, entry;
	int err = sg_mem_read(&pp->mem, keys, hdr, sizeof(hdr));

	if (err)
		return err;
	memcpy(&refcnt, hdr + KEYS36_REFCNT, 8);
	t->key_at = 8, t->value_at = 16, t->stride = entry = ENTRY_GENERAL;
	if (pp->layout.obj.dict_kind == SG_DICT_KEYS36) {
		memcpy(&size, hdr + KEYS36_SIZE, 8);
		memcpy(&t->nentries, hdr + KEYS36_NENTRIES, 8);
		if (size > 2 * (uint64_t)max || (size & (size - 1)) || t->nentries > size)
			return SG_ECORRUPT;
		index_bytes = size * (size <= 0xff         ? 1
		                      : size <= 0xffff     ? 2
		                      : size <= 0xffffffff ? 4
		                                           : 8);
		t->at = keys + KEYS36_INDICES + index_bytes;
		index_bytes += KEYS36_INDICES;
	} else {
		if (hdr[KEYS311_LOG2_SIZE] > 32 || hdr[KEYS311_LOG2_INDEX_BYTES] > 35)
			return SG_ECORRUPT;
		size = 1ull << hdr[KEYS311_LOG2_SIZE];
		memcpy(&t->nentries, hdr + KEYS311_NENTRIES, 8);
		if (size > 2 * (uint64_t)max || t->nentries > size)
			return SG_ECORRUPT;
		if (hdr[KEYS311_KIND] != KEYS311_GENERAL)
			t->key_at = 0, t->value_at = 8, t->stride = entry = ENTRY_UNICODE;
		index_bytes = 1ull << hdr[KEYS311_LOG2_INDEX_BYTES];
		t->at = keys + KEYS311_INDICES + index_bytes;
		index_bytes += KEYS311_INDICES;
	}
	/* Shared keys belong to the class; a table of one owner is ours. */
	t->owned = refcnt == 1 ? index_bytes + usable(size) * entry : 0;
	return 0;
}

/* Copy t's entries (values from split_values when nonzero). */
static int copy_entries(struct sg_pyproc *pp, const struct table *t, size_t max,
                        uint64_t split_values, struct sg_pydict_entry **out, size_t *n)
{
	uint8_t buf[24 * 64];
	uint64_t values[64];

	if (t->nentries > max)
		return SG_ECORRUPT;
	*out = calloc(t->nentries ? t->nentries : 1, sizeof(**out));
	if (!*out)
		return SG_ENOMEM;
	for (size_t done = 0; done < t->nentries;) {
		size_t chunk = t->nentries - done < 64 ? t->nentries - done : 64;
		int err = sg_mem_read(&pp->mem, t->at + done * t->stride, buf, chunk * t->stride);

		/* Split tables keep values apart, in entry order. */
		if (!err && split_values)
			err = sg_mem_read(&pp->mem, split_values + 8 * done, values, chunk * 8);
		if (err)
			return err;
		for (size_t i = 0; i < chunk; i++) {
			struct sg_pydict_entry e;

			memcpy(&e.key, buf + i * t->stride + t->key_at, 8);
			memcpy(&e.value, buf + i * t->stride + t->value_at, 8);
			if (split_values)
				e.value = values[i];
			if (e.key && e.value)
				(*out)[(*n)++] = e;
		}
		done += chunk;
	}
	return 0;
}

int sg_pydict_scan(struct sg_pyproc *pp, uint64_t dict, uint64_t keys, uint64_t values, size_t max,
                   struct sg_pydict_entry **out, size_t *n, uint64_t *owned)
{
	const struct sg_pylayout *l = &pp->layout;
	struct table t;
	int err = 0;

	if (out)
		*out = NULL;
	*n = 0;
	if (l->obj.dict_kind == SG_DICT_TABLE27) {
		/* keys is ma_mask, values is ma_table. */
		if (keys >= 2 * (uint64_t)max)
			return SG_ECORRUPT;
		t = (struct table){
		    values,
		    keys + 1,
		    ENTRY_GENERAL,
		    8,
		    16,
		    values != dict + DICT27_SMALLTABLE ? (keys + 1) * ENTRY_GENERAL : 0};
		values = 0;
		/* Half the slots at most are in use. */
		max *= 2;
	} else {
		err = keys_table(pp, keys, max, &t);
		if (!err && values)
			t.owned += usable(t.nentries ? t.nentries : 1) * 8;
		values = values ? values + l->obj.dictvalues_array : 0;
	}
	if (!err && owned)
		*owned = t.owned;
	if (!err && out)
		err = copy_entries(pp, &t, max, values, out, n);
	return err;
}

int sg_pydict_entries(struct sg_pyproc *pp, uint64_t dict, size_t max, struct sg_pydict_entry **out,
                      size_t *n)
{
	const struct sg_pylayout *l = &pp->layout;
	uint64_t keys, values;
	int err = read_u64(pp, dict + l->obj.dict_keys, &keys);

	*out = NULL;
	*n = 0;
	if (!err)
		err = read_u64(pp, dict + l->obj.dict_values, &values);
	if (!err)
		err = sg_pydict_scan(pp, dict, keys, values, max, out, n, NULL);
	if (!err && *n > max)
		err = SG_ECORRUPT;
	return err;
}

static int find_str(struct sg_pyproc *pp, const struct sg_pydict_entry *v, size_t n,
                    const char *key, uint64_t *value)
{
	char buf[SG_PYSTR_MAX_CHARS * 4 + 1];

	for (size_t i = 0; i < n; i++) {
		if (sg_pystr_read(&pp->mem, &pp->layout, pp->str_type, v[i].key, buf,
		                  sizeof(buf)) == 0 &&
		    strcmp(buf, key) == 0) {
			*value = v[i].value;
			return 0;
		}
	}
	return SG_ENOTPY;
}

int sg_pydict_get(struct sg_pyproc *pp, uint64_t dict, const char *key, uint64_t *value)
{
	struct sg_pydict_entry *v;
	size_t n;
	int err = sg_pydict_entries(pp, dict, SG_PYDICT_MAX_ENTRIES, &v, &n);

	if (!err)
		err = find_str(pp, v, n, key, value);
	free(v);
	return err;
}

int sg_pyattrs_type(struct sg_pyproc *pp, uint64_t type, struct sg_pyattrs_type *out)
{
	const struct sg_pylayout *l = &pp->layout;
	uint64_t flags = 0, basicsize;
	int err = 0;

	memset(out, 0, sizeof(*out));
	out->kind = l->obj.attr_kind;
	if (out->kind != SG_ATTR_DICTOFFSET)
		err = read_u64(pp, type + l->locals.type_flags, &flags);
	if (err)
		return err;
	/* Types that do not manage their dict keep it where tp_dictoffset says. */
	if (out->kind != SG_ATTR_DICTOFFSET && !(flags & TPFLAGS_MANAGED_DICT))
		out->kind = SG_ATTR_DICTOFFSET;
	if (out->kind == SG_ATTR_DICTOFFSET) {
		err = sg_mem_read(&pp->mem, type + l->obj.type_dictoffset, &out->dictoffset,
		                  sizeof(out->dictoffset));
		/* Negative: counted from the end of a var-sized object, which
		 * classes with attributes worth reading do not need. */
		if (!err && (out->dictoffset < 0 || out->dictoffset > 4096))
			out->dictoffset = 0;
		return err;
	}
	err = read_u64(pp, type + l->obj.heaptype_keys, &out->shared_keys);
	if (!err && out->kind == SG_ATTR_INLINE313) {
		err = read_u64(pp, type + l->obj.type_basicsize, &basicsize);
		if (!err && (basicsize == 0 || basicsize > 4096))
			err = SG_ECORRUPT;
		out->values_at = basicsize;
	}
	return err;
}

int sg_pyattrs_home(struct sg_pyproc *pp, const struct sg_pyattrs_type *t, uint64_t obj,
                    uint64_t *dict, uint64_t *values)
{
	uint64_t words[2];
	uint8_t valid;
	int err = 0;

	*dict = *values = 0;
	switch (t->kind) {
	case SG_ATTR_DICTOFFSET:
		if (!t->dictoffset)
			return SG_ENOTPY;
		err = read_u64(pp, obj + (uint64_t)t->dictoffset, dict);
		break;
	case SG_ATTR_MANAGED311:
		/* values at obj[-4], dict at obj[-3]. */
		err = sg_mem_read(&pp->mem, obj + MANAGED_VALUES_311, words, sizeof(words));
		*dict = words[1];
		*values = words[1] ? 0 : words[0];
		break;
	case SG_ATTR_TAGGED312:
		err = read_u64(pp, obj + MANAGED_DICT, &words[0]);
		/* CPython stores values - 1, an odd address, to tell them apart. */
		if (!err && (words[0] & 1))
			*values = words[0] + 1;
		else
			*dict = words[0];
		break;
	case SG_ATTR_INLINE313:
		err = read_u64(pp, obj + MANAGED_DICT, dict);
		if (!err && !*dict) {
			*values = obj + t->values_at;
			if (!read_u64(pp, *values, &words[0])) {
				memcpy(&valid, (uint8_t *)&words[0] + INLINE_VALID_313, 1);
				if (!valid)
					*values = 0;
			}
		}
		break;
	}
	if (!err && !*dict && !*values)
		err = SG_ENOTPY;
	return err;
}

int sg_pyattrs_values(struct sg_pyproc *pp, const struct sg_pyattrs_type *t, uint64_t values,
                      size_t max, uint64_t **out, size_t *n)
{
	struct table keys;
	int err = keys_table(pp, t->shared_keys, max, &keys);

	*out = NULL;
	*n = 0;
	if (err)
		return err;
	if (keys.nentries > max)
		return SG_ECORRUPT;
	*out = calloc(keys.nentries ? keys.nentries : 1, sizeof(**out));
	if (!*out)
		return SG_ENOMEM;
	err = sg_mem_read(&pp->mem, values + pp->layout.obj.dictvalues_array, *out,
	                  keys.nentries * 8);
	if (!err)
		*n = keys.nentries;
	return err;
}

int sg_pyobj_attrs(struct sg_pyproc *pp, uint64_t obj, size_t max, struct sg_pydict_entry **out,
                   size_t *n)
{
	struct sg_pyattrs_type t;
	struct table keys;
	uint64_t type, dict, values;
	int err = read_u64(pp, obj + SG_OB_TYPE, &type);

	*out = NULL;
	*n = 0;
	if (!err)
		err = sg_pyattrs_type(pp, type, &t);
	if (!err)
		err = sg_pyattrs_home(pp, &t, obj, &dict, &values);
	if (err)
		return err;
	if (dict)
		return sg_pydict_entries(pp, dict, max, out, n);
	/* The values are copied with the type's shared keys, in their order. */
	err = keys_table(pp, t.shared_keys, max, &keys);
	if (!err)
		err =
		    copy_entries(pp, &keys, max, values + pp->layout.obj.dictvalues_array, out, n);
	return err;
}

int sg_pyobj_attr(struct sg_pyproc *pp, uint64_t obj, const char *name, uint64_t *value)
{
	struct sg_pydict_entry *v;
	size_t n;
	int err = sg_pyobj_attrs(pp, obj, SG_PYDICT_MAX_ENTRIES, &v, &n);

	if (!err)
		err = find_str(pp, v, n, name, value);
	free(v);
	return err;
}
