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

#include "python/pydict.h"
#include "python/pystr.h"
#include "python/pythreads.h"
#include "util/err.h"
#include "util/u64map.h"

#define NAME_MAX_BYTES 128
/* With a thread unknown, read _active again at most this often, and at
 * most REFRESH_COST_SHARE times as long as the last reading took (a
 * thousand threads take milliseconds to read); find it afresh from
 * interp->modules at least every REFRESH_MAX_NS. The floor is low because a
 * thread-per-request server's threads live for a few samples: at 20 ms, 12%
 * of such a run's samples never got a Python name; the cost share bounds
 * what reading more often takes. */
#define REFRESH_MIN_NS     (1000 * 1000ull)
#define REFRESH_MAX_NS     (1000 * 1000 * 1000ull)
#define REFRESH_COST_SHARE 20

#define OB_SIZE 16 /* ob_size, or lv_tag on 3.12+ */

struct thread_name {
	uint64_t ident;
	char name[NAME_MAX_BYTES];
};

struct sg_pythreads {
	struct sg_pyproc *proc;
	struct thread_name *names; /* from threading._active */
	size_t n;
	struct sg_u64map by_ident; /* ident -> index in names + 1 */
	uint64_t active;           /* threading._active, 0 until found */
	uint64_t refreshed_ns;     /* when the last reading of _active began; 0: never */
	uint64_t refresh_cost_ns;  /* how long it took */
	uint64_t rescanned_ns;     /* last search of the modules for _active; 0: never */
	uint64_t rescan_every_ns;
	uint64_t generation;
};

struct sg_pythreads *sg_pythreads_new(struct sg_pyproc *proc)
{
	struct sg_pythreads *names = calloc(1, sizeof(*names));

	if (names) {
		names->proc = proc;
		sg_u64map_init(&names->by_ident);
	}
	return names;
}

void sg_pythreads_free(struct sg_pythreads *names)
{
	if (!names)
		return;
	free(names->names);
	sg_u64map_release(&names->by_ident);
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
		err = sg_pydict_get(t->proc, modules, "threading", &threading);
	if (!err)
		err = read_u64(t, threading + l->obj.module_dict, &module_dict);
	if (!err)
		err = sg_pydict_get(t->proc, module_dict, "_active", active);
	return err;
}

static int refresh(struct sg_pythreads *t, bool rediscover)
{
	const struct sg_pylayout *l = &t->proc->layout;
	const char *attr = l->major == 2 ? "_Thread__name" : "_name";
	struct sg_pydict_entry *e = NULL;
	size_t n = 0;
	int err = 0;

	/* Scanning interp->modules costs hundreds of reads: only once a
	 * second, however many threads the threading module does not list. */
	if (!rediscover && !t->active)
		return SG_ENOTPY;
	t->n = 0;
	sg_u64map_release(&t->by_ident);
	t->generation++;
	if (rediscover)
		err = find_active(t, &t->active);
	if (!err)
		err = sg_pydict_entries(t->proc, t->active, SG_PYDICT_MAX_ENTRIES, &e, &n);
	if (err)
		t->active = 0;
	if (!err && !(t->names = realloc(t->names, (n ? n : 1) * sizeof(*t->names))))
		err = SG_ENOMEM;
	for (size_t i = 0; !err && i < n; i++) {
		struct thread_name *tn = &t->names[t->n];
		uint64_t name;

		if (int_value(t, e[i].key, &tn->ident) || !tn->ident ||
		    sg_pyobj_attr(t->proc, e[i].value, attr, &name) ||
		    sg_pystr_read(mem_of(t), l, t->proc->str_type, name, tn->name,
		                  sizeof(tn->name)))
			continue;
		err = sg_u64map_put(&t->by_ident, tn->ident, t->n + 1);
		t->n++;
	}
	free(e);
	return err;
}

uint64_t sg_pythreads_generation(const struct sg_pythreads *names)
{
	return names->generation;
}

/* The name of th in the last reading of _active, if that reading can be
 * believed for a thread first seen at seen_ns. */
static const char *lookup(const struct sg_pythreads *t, const struct sg_pythread *th,
                          uint64_t seen_ns)
{
	uint64_t at;

	if (!t->refreshed_ns || t->refreshed_ns < seen_ns ||
	    !sg_u64map_get(&t->by_ident, th->thread_id, &at))
		return NULL;
	return t->names[at - 1].name;
}

int sg_pythreads_name(struct sg_pythreads *names, const struct sg_pythread *th, uint64_t seen_ns,
                      char *buf, size_t len)
{
	uint64_t now = now_ns();
	uint64_t age = now - names->refreshed_ns;
	uint64_t min_age = names->refresh_cost_ns * REFRESH_COST_SHARE;
	const char *name = lookup(names, th, seen_ns);
	/* A target caught before it imported threading has no _active yet:
	 * search again soon, backing off to once a second, so that its
	 * threads are named within moments of starting. */
	bool rescan = !names->rescanned_ns || now - names->rescanned_ns > names->rescan_every_ns;

	if (min_age < REFRESH_MIN_NS)
		min_age = REFRESH_MIN_NS;
	/* Threads come and go: look again when one is unknown (not too
	 * often), and every second in any case, as threads can be renamed. */
	if (rescan || age > REFRESH_MAX_NS || (!name && age > min_age)) {
		int err = refresh(names, rescan);

		if (err == SG_ENOMEM)
			return err;
		names->refreshed_ns = now;
		/* What reading _active costs; finding it again costs more, but
		 * only once a second. */
		if (!rescan)
			names->refresh_cost_ns = now_ns() - now;
		if (rescan) {
			names->rescanned_ns = now;
			names->rescan_every_ns =
			    names->active ? REFRESH_MAX_NS : names->rescan_every_ns * 2;
			if (names->rescan_every_ns < REFRESH_MIN_NS)
				names->rescan_every_ns = REFRESH_MIN_NS;
			if (names->rescan_every_ns > REFRESH_MAX_NS)
				names->rescan_every_ns = REFRESH_MAX_NS;
		}
		name = lookup(names, th, seen_ns);
	}
	if (!name)
		return SG_ENOTPY;
	snprintf(buf, len, "%s", name);
	return 0;
}
