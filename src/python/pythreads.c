/* SPDX-License-Identifier: MIT */
/*
 * Thread names come from the target's own threading module:
 *   interp->modules["threading"].__dict__["_active"]  maps ident -> Thread
 *   Thread._name (2.7: _Thread__name, name-mangled)   is the name
 * Reading them means reading dicts, ints and instance attributes remotely,
 * in each version's layout (layout.h, obj group). Every loop is bounded:
 * the dicts may change while we read them.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "python/pystr.h"
#include "python/pythreads.h"
#include "target/proc.h"
#include "util/err.h"

#define MAX_THREADS      1024
#define MAX_DICT_ENTRIES 65536
#define NAME_MAX_BYTES   128
/* With a thread unknown, read _active again at most this often; find it
 * afresh from interp->modules at least this often. */
#define REFRESH_MIN_NS (20 * 1000 * 1000ull)
#define REFRESH_MAX_NS (1000 * 1000 * 1000ull)

/* PyDictKeysObject fields per dict kind (the struct is the same for every
 * version of a kind; 3.11's gained nothing until free threading). */
#define KEYS36_SIZE              8
#define KEYS36_NENTRIES          32
#define KEYS36_INDICES           40
#define KEYS311_LOG2_SIZE        8
#define KEYS311_LOG2_INDEX_BYTES 9
#define KEYS311_KIND             10
#define KEYS311_NENTRIES         24
#define KEYS311_INDICES          32
#define KEYS311_GENERAL          0 /* DICT_KEYS_GENERAL: entries carry a hash */

#define OB_TYPE            8
#define OB_SIZE            16 /* ob_size, or lv_tag on 3.12+ */
#define MANAGED_DICT       (-3 * 8)
#define MANAGED_VALUES_311 (-4 * 8)
#define INLINE_VALID_313   3 /* PyDictValues.valid */

struct thread_name {
	uint64_t ident;
	char name[NAME_MAX_BYTES];
};

struct sg_pythreads {
	struct sg_pyproc *proc;
	struct thread_name *names; /* from threading._active, by ident */
	size_t n;
	struct thread_name *comms; /* kernel names, by tid, for the others */
	size_t ncomms;
	uint64_t active;       /* threading._active, 0 until found */
	uint64_t refreshed_ns; /* last read of _active; 0: never */
	uint64_t rescanned_ns; /* last search of the modules for _active; 0: never */
	uint64_t rescan_every_ns;
	uint64_t generation;
};

struct entry {
	uint64_t key, value;
};

/* One dict's entries, copied out. */
struct entries {
	struct entry *v;
	size_t n;
};

struct sg_pythreads *sg_pythreads_new(struct sg_pyproc *proc)
{
	struct sg_pythreads *names = calloc(1, sizeof(*names));

	if (names)
		names->proc = proc;
	return names;
}

void sg_pythreads_free(struct sg_pythreads *names)
{
	if (!names)
		return;
	free(names->names);
	free(names->comms);
	free(names);
}

static struct sg_mem *mem_of(struct sg_pythreads *t)
{
	return &t->proc->mem;
}

static int read_u64(struct sg_pythreads *t, uint64_t addr, uint64_t *v)
{
	return sg_mem_read(mem_of(t), addr, v, sizeof(*v));
}

static int read_u8(struct sg_pythreads *t, uint64_t addr, uint8_t *v)
{
	return sg_mem_read(mem_of(t), addr, v, sizeof(*v));
}

/* Copy count entries of stride bytes (key at key_at, value at value_at). */
static int copy_entries(struct sg_pythreads *t, uint64_t at, size_t count, size_t stride,
                        size_t key_at, size_t value_at, uint64_t split_values, struct entries *out)
{
	uint8_t buf[24 * 64];

	out->n = 0;
	if (count > MAX_DICT_ENTRIES)
		return SG_ECORRUPT;
	out->v = calloc(count ? count : 1, sizeof(*out->v));
	if (!out->v)
		return SG_ENOMEM;
	for (size_t done = 0; done < count;) {
		size_t chunk = count - done < 64 ? count - done : 64;
		int err = sg_mem_read(mem_of(t), at + done * stride, buf, chunk * stride);

		if (err)
			return err;
		for (size_t i = 0; i < chunk; i++) {
			struct entry e;

			memcpy(&e.key, buf + i * stride + key_at, 8);
			memcpy(&e.value, buf + i * stride + value_at, 8);
			/* Split tables keep values apart, in entry order. */
			if (split_values && read_u64(t, split_values + 8 * (done + i), &e.value))
				e.value = 0;
			if (e.key && e.value)
				out->v[out->n++] = e;
		}
		done += chunk;
	}
	return 0;
}

/* The entries of a keys object; values from split_values when nonzero. */
static int keys_entries(struct sg_pythreads *t, uint64_t keys, uint64_t split_values,
                        struct entries *out)
{
	const struct sg_pylayout *l = &t->proc->layout;
	uint64_t size, nentries;
	uint8_t log2_size, log2_index_bytes, kind;
	int err;

	if (l->obj.dict_kind == SG_DICT_KEYS36) {
		size_t index_bytes;

		err = read_u64(t, keys + KEYS36_SIZE, &size);
		if (!err)
			err = read_u64(t, keys + KEYS36_NENTRIES, &nentries);
		if (err)
			return err;
		if (size > MAX_DICT_ENTRIES * 2 || nentries > size)
			return SG_ECORRUPT;
		index_bytes = size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
		return copy_entries(t, keys + KEYS36_INDICES + size * index_bytes, nentries, 24, 8,
		                    16, split_values, out);
	}
	err = read_u8(t, keys + KEYS311_LOG2_SIZE, &log2_size);
	if (!err)
		err = read_u8(t, keys + KEYS311_LOG2_INDEX_BYTES, &log2_index_bytes);
	if (!err)
		err = read_u8(t, keys + KEYS311_KIND, &kind);
	if (!err)
		err = read_u64(t, keys + KEYS311_NENTRIES, &nentries);
	if (err)
		return err;
	if (log2_size > 20 || log2_index_bytes > 23 || nentries > (1ull << log2_size))
		return SG_ECORRUPT;
	if (kind == KEYS311_GENERAL)
		return copy_entries(t, keys + KEYS311_INDICES + (1ull << log2_index_bytes),
		                    nentries, 24, 8, 16, split_values, out);
	return copy_entries(t, keys + KEYS311_INDICES + (1ull << log2_index_bytes), nentries, 16, 0,
	                    8, split_values, out);
}

static int dict_entries(struct sg_pythreads *t, uint64_t dict, struct entries *out)
{
	const struct sg_pylayout *l = &t->proc->layout;
	uint64_t keys, values;
	int err;

	out->v = NULL;
	out->n = 0;
	err = read_u64(t, dict + l->obj.dict_keys, &keys);
	if (!err)
		err = read_u64(t, dict + l->obj.dict_values, &values);
	if (err)
		return err;
	if (l->obj.dict_kind == SG_DICT_TABLE27) {
		/* keys is ma_mask, values is ma_table. */
		if (keys >= MAX_DICT_ENTRIES)
			return SG_ECORRUPT;
		return copy_entries(t, values, keys + 1, 24, 8, 16, 0, out);
	}
	return keys_entries(t, keys, values ? values + l->obj.dictvalues_array : 0, out);
}

static bool str_equals(struct sg_pythreads *t, uint64_t obj, const char *want)
{
	char buf[SG_PYSTR_MAX_CHARS * 4 + 1];

	return sg_pystr_read(mem_of(t), &t->proc->layout, t->proc->str_type, obj, buf,
	                     sizeof(buf)) == 0 &&
	       strcmp(buf, want) == 0;
}

static int find_str(struct sg_pythreads *t, const struct entries *e, const char *key,
                    uint64_t *value)
{
	for (size_t i = 0; i < e->n; i++) {
		if (str_equals(t, e->v[i].key, key)) {
			*value = e->v[i].value;
			return 0;
		}
	}
	return SG_ENOTPY;
}

static int dict_get(struct sg_pythreads *t, uint64_t dict, const char *key, uint64_t *value)
{
	struct entries e;
	int err = dict_entries(t, dict, &e);

	if (!err)
		err = find_str(t, &e, key, value);
	free(e.v);
	return err;
}

/* An attribute kept in shared-key values: its index among the type's keys. */
static int values_get(struct sg_pythreads *t, uint64_t type, uint64_t values, const char *name,
                      uint64_t *value)
{
	const struct sg_pylayout *l = &t->proc->layout;
	uint64_t keys;
	struct entries e;
	int err = read_u64(t, type + l->obj.heaptype_keys, &keys);

	if (err)
		return err;
	/* The values are copied too; find the key's position among them. */
	err = keys_entries(t, keys, values + l->obj.dictvalues_array, &e);
	if (!err)
		err = find_str(t, &e, name, value);
	free(e.v);
	return err;
}

static int attr_get(struct sg_pythreads *t, uint64_t obj, const char *name, uint64_t *value)
{
	const struct sg_pylayout *l = &t->proc->layout;
	uint64_t type, dict = 0, values = 0, word;
	int64_t offset;
	uint8_t valid;
	int err = read_u64(t, obj + OB_TYPE, &type);

	if (err)
		return err;
	switch (l->obj.attr_kind) {
	case SG_ATTR_DICTOFFSET:
		err =
		    sg_mem_read(mem_of(t), type + l->obj.type_dictoffset, &offset, sizeof(offset));
		if (!err && (offset <= 0 || offset > 4096))
			err = SG_ECORRUPT;
		if (!err)
			err = read_u64(t, obj + (uint64_t)offset, &dict);
		break;
	case SG_ATTR_MANAGED311:
		err = read_u64(t, obj + MANAGED_DICT, &dict);
		if (!err && !dict)
			err = read_u64(t, obj + MANAGED_VALUES_311, &values);
		break;
	case SG_ATTR_TAGGED312:
		err = read_u64(t, obj + MANAGED_DICT, &word);
		/* CPython stores values - 1, an odd address, to tell them apart. */
		if (!err && (word & 1))
			values = word + 1;
		else
			dict = word;
		break;
	case SG_ATTR_INLINE313:
		err = read_u64(t, obj + MANAGED_DICT, &dict);
		if (!err && !dict) {
			err = sg_mem_read(mem_of(t), type + l->obj.type_basicsize, &offset,
			                  sizeof(offset));
			if (!err && (offset <= 0 || offset > 4096))
				err = SG_ECORRUPT;
			values = err ? 0 : obj + (uint64_t)offset;
			if (!err && !read_u8(t, values + INLINE_VALID_313, &valid) && !valid)
				err = SG_ENOTPY;
		}
		break;
	}
	if (err)
		return err;
	if (dict)
		return dict_get(t, dict, name, value);
	if (values)
		return values_get(t, type, values, name, value);
	return SG_ENOTPY;
}

/* A thread ident: a small non-negative int. */
static int int_value(struct sg_pythreads *t, uint64_t obj, uint64_t *out)
{
	const struct sg_pylayout *l = &t->proc->layout;
	uint32_t digits[3];
	int64_t size;
	uint64_t n;
	int err = sg_mem_read(mem_of(t), obj + OB_SIZE, &size, sizeof(size));

	if (err)
		return err;
	if (l->obj.int_kind == SG_INT_PYINT27)
		return read_u64(t, obj + l->obj.int_value, out);
	n = l->obj.int_kind == SG_INT_LVTAG ? (uint64_t)size >> 3 : (uint64_t)size;
	if (n > 3 || size < 0)
		return SG_ECORRUPT;
	err = sg_mem_read(mem_of(t), obj + l->obj.int_value, digits, n * sizeof(digits[0]));
	if (err)
		return err;
	*out = 0;
	for (uint64_t i = n; i-- > 0;)
		*out = *out << 30 | (digits[i] & 0x3fffffff);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Find threading._active through interp->modules. */
static int find_active(struct sg_pythreads *t, uint64_t *active)
{
	const struct sg_pylayout *l = &t->proc->layout;
	uint64_t interp, modules, threading, module_dict;
	int err = sg_pyproc_interp_head(t->proc, &interp);

	if (!err)
		err = read_u64(t, interp + l->obj.interp_modules, &modules);
	if (!err)
		err = dict_get(t, modules, "threading", &threading);
	if (!err)
		err = read_u64(t, threading + l->obj.module_dict, &module_dict);
	if (!err)
		err = dict_get(t, module_dict, "_active", active);
	return err;
}

static int refresh(struct sg_pythreads *t, bool rediscover)
{
	const struct sg_pylayout *l = &t->proc->layout;
	const char *attr = l->major == 2 ? "_Thread__name" : "_name";
	struct entries e = {0};
	int err = 0;

	/* Scanning interp->modules costs hundreds of reads: only once a
	 * second, however many threads the threading module does not list. */
	if (!rediscover && !t->active)
		return SG_ENOTPY;
	t->n = 0;
	t->ncomms = 0;
	t->generation++;
	if (rediscover)
		err = find_active(t, &t->active);
	if (!err)
		err = dict_entries(t, t->active, &e);
	if (err)
		t->active = 0;
	if (!err && e.n > MAX_THREADS)
		err = SG_ECORRUPT;
	if (!err && !(t->names = realloc(t->names, (e.n ? e.n : 1) * sizeof(*t->names))))
		err = SG_ENOMEM;
	for (size_t i = 0; !err && i < e.n; i++) {
		struct thread_name *tn = &t->names[t->n];
		uint64_t name;

		if (int_value(t, e.v[i].key, &tn->ident) ||
		    attr_get(t, e.v[i].value, attr, &name) ||
		    sg_pystr_read(mem_of(t), l, t->proc->str_type, name, tn->name,
		                  sizeof(tn->name)))
			continue;
		t->n++;
	}
	free(e.v);
	return err;
}

static const char *lookup(const struct thread_name *v, size_t n, uint64_t key)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ident == key)
			return v[i].name;
	return NULL;
}

/* The kernel's name of a thread the threading module does not know,
 * remembered until the next refresh. */
static const char *comm_name(struct sg_pythreads *t, pid_t tid)
{
	const char *known = lookup(t->comms, t->ncomms, (uint64_t)tid);
	struct thread_name *grown, *tn;

	if (known || !tid)
		return known;
	grown = realloc(t->comms, (t->ncomms + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	t->comms = grown;
	tn = &t->comms[t->ncomms];
	if (sg_proc_task_comm(t->proc->pid, tid, tn->name, sizeof(tn->name)))
		return NULL;
	tn->ident = (uint64_t)tid;
	t->ncomms++;
	return tn->name;
}

uint64_t sg_pythreads_generation(const struct sg_pythreads *names)
{
	return names->generation;
}

int sg_pythreads_name(struct sg_pythreads *names, const struct sg_pythread *th, char *buf,
                      size_t len)
{
	uint64_t now = now_ns();
	uint64_t age = now - names->refreshed_ns;
	const char *name = lookup(names->names, names->n, th->thread_id);
	/* A target caught before it imported threading has no _active yet:
	 * search again soon, backing off to once a second, so that its
	 * threads are named within moments of starting. */
	bool rescan = !names->rescanned_ns || now - names->rescanned_ns > names->rescan_every_ns;

	/* Threads come and go: look again when one is unknown (not too
	 * often), and every second in any case, as threads can be renamed. */
	if (rescan || age > REFRESH_MAX_NS || (!name && age > REFRESH_MIN_NS)) {
		refresh(names, rescan);
		names->refreshed_ns = now;
		if (rescan) {
			names->rescanned_ns = now;
			names->rescan_every_ns =
			    names->active ? REFRESH_MAX_NS : names->rescan_every_ns * 2;
			if (names->rescan_every_ns < REFRESH_MIN_NS)
				names->rescan_every_ns = REFRESH_MIN_NS;
			if (names->rescan_every_ns > REFRESH_MAX_NS)
				names->rescan_every_ns = REFRESH_MAX_NS;
		}
		name = lookup(names->names, names->n, th->thread_id);
	}
	if (name) {
		snprintf(buf, len, "%s", name);
		return 0;
	}
	name = comm_name(names, th->tid);
	if (!name)
		return SG_ENOPROC;
	snprintf(buf, len, "%s", name);
	return 1;
}
