/* SPDX-License-Identifier: MIT */
/*
 * The census walks each collector list from its head through gc_next, one
 * read per object (its GC header and the first words of the object), then
 * reads what the containers among them refer to, in batches of scattered
 * words, to find the objects the collector does not track.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/pycode.h"
#include "python/pydict.h"
#include "python/pyheap.h"
#include "python/pylocals.h"
#include "python/pystr.h"
#include "python/pythreads.h"
#include "python/pywalk.h"
#include "util/err.h"
#include "util/intern.h"
#include "util/u64map.h"

#define NUM_GENERATIONS 3
/* Bytes of an object read with its GC header: up to set.table. */
#define OBJ_COPY 48
/* Bytes of a type object read at once: up to tp_dictoffset. */
#define TYPE_COPY 296
#define MAX_TYPES 65536
/* tp_flags bits, the same since 2.7. */
#define TPFLAGS_HEAPTYPE (1ul << 9)
#define TPFLAGS_INT27    (1ul << 23)
#define TPFLAGS_LONG     (1ul << 24)
#define TPFLAGS_LIST     (1ul << 25)
#define TPFLAGS_TUPLE    (1ul << 26)
#define TPFLAGS_BYTES    (1ul << 27)
#define TPFLAGS_UNICODE  (1ul << 28)
#define TPFLAGS_DICT     (1ul << 29)
#define TPFLAGS_TYPE     (1ul << 31) /* type and its subclasses: objects are classes */
/* A str's state word (3.3+): its kind (bytes a character) and whether its
 * characters follow the header (compact) or sit in a buffer of their own. */
#define STR_KIND(s)    (((s) >> 2) & 7u)
#define STR_COMPACT(s) (((s) >> 5) & 1u)
/* Referents whose headers are read in one system call. */
#define BATCH 12
/* A list walk that meets this many objects in a row it counted already has
 * left its list (an object moved or freed under it). */
#define WALK_MAX_AGAIN 10000
#define BATCH_WORDS    5

enum kind {
	K_OTHER,
	K_LIST,
	K_TUPLE,
	K_DICT,
	K_SET,
	K_STR,
	K_INT,
	K_FLOAT,
	K_BYTES,
	K_CELL,
	K_FUNC
};

struct typeinfo {
	enum kind kind;
	bool heap;  /* a class defined in Python: may have instance attributes */
	bool valid; /* its type object could be read, with sane sizes */
	bool dummy; /* a type of size 0: the placeholder of deleted dict keys */
	bool meta;  /* its objects are classes (type or a metaclass) */
	uint64_t basicsize, itemsize;
	struct sg_pyattrs_type attrs; /* where a class's instances keep attributes */
	uint64_t tp_dict;             /* a class's own dict */
};

/* A container whose referents are still to be read. */
struct work {
	uint64_t addr;
	uint32_t type; /* index into types */
	uint64_t a, b; /* list: items, size; tuple: -, size; set: table, mask;
	                  dict: its two table words (ma_keys, ma_values) */
};

struct census {
	struct sg_pyproc *pp;
	const struct sg_pylayout *l;
	struct sg_pyheap *out;
	uint64_t max;
	struct sg_u64map seen;  /* object -> its type's index + 1 */
	struct sg_u64map index; /* type object -> index into types + 1 */
	struct typeinfo *info;  /* parallel to out->types */
	size_t cap_types;
	struct work *work;
	size_t nwork, cap_work;
	uint64_t *refs; /* referents of one container */
	size_t nrefs, cap_refs;
	size_t pairs;   /* refs[0..pairs) are a dict's keys and values in turn */
	size_t dict_at; /* refs[dict_at] is an instance's __dict__, or SIZE_MAX */
};

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t cap2 = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (cap2 < need)
		cap2 *= 2;
	p = realloc(*v, cap2 * size);
	if (!p)
		return SG_ENOMEM;
	*v = p;
	*cap = cap2;
	return 0;
}

/* A C string in the target, cut at len - 1 bytes; reads shrink near the
 * end of a mapping. */
static int read_cstr(struct sg_mem *mem, uint64_t addr, char *buf, size_t len)
{
	for (size_t n = len - 1; n >= 8; n /= 2) {
		if (sg_mem_read(mem, addr, buf, n) == 0) {
			buf[n] = '\0';
			buf[strnlen(buf, n)] = '\0';
			return 0;
		}
	}
	return SG_EREAD;
}

static bool printable(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void name_type(struct census *c, uint64_t type, const uint8_t *copy, struct typeinfo *ti,
                      char *name, size_t len)
{
	const struct sg_pylayout *l = c->l;
	char tp_name[120], qual[120], module[120];
	uint64_t dict, mod, qualname;

	if (read_cstr(&c->pp->mem, sg_layout_u64(copy, l->locals.type_name), tp_name,
	              sizeof(tp_name)) ||
	    !printable(tp_name)) {
		snprintf(name, len, "<type at 0x%llx>", (unsigned long long)type);
		return;
	}
	snprintf(name, len, "%s", tp_name);
	if (!ti->heap)
		return;
	/* A class's tp_name is its bare name: qualify it as Python does,
	 * __module__ from its dict and (3.x) __qualname__. */
	snprintf(qual, sizeof(qual), "%s", tp_name);
	if (l->heap.heaptype_qualname &&
	    !sg_mem_read_ptr(&c->pp->mem, type + l->heap.heaptype_qualname, &qualname))
		sg_pystr_read(&c->pp->mem, l, c->pp->str_type, qualname, qual, sizeof(qual));
	dict = sg_layout_u64(copy, l->heap.type_dict);
	if (dict && !sg_pydict_get(c->pp, dict, "__module__", &mod) &&
	    !sg_pystr_read(&c->pp->mem, l, c->pp->str_type, mod, module, sizeof(module)) &&
	    strcmp(module, "builtins") != 0 && strcmp(module, "__builtin__") != 0)
		snprintf(name, len, "%s.%s", module, qual);
	else
		snprintf(name, len, "%s", qual);
}

static enum kind kind_of(unsigned long flags, const char *tp_name)
{
	if (flags & TPFLAGS_LIST)
		return K_LIST;
	if (flags & TPFLAGS_TUPLE)
		return K_TUPLE;
	if (flags & TPFLAGS_DICT)
		return K_DICT;
	if (flags & TPFLAGS_UNICODE)
		return K_STR;
	if (flags & TPFLAGS_BYTES)
		return K_BYTES;
	if (flags & (TPFLAGS_LONG | TPFLAGS_INT27))
		return K_INT;
	if (!(flags & TPFLAGS_HEAPTYPE)) {
		if (strcmp(tp_name, "set") == 0 || strcmp(tp_name, "frozenset") == 0)
			return K_SET;
		if (strcmp(tp_name, "float") == 0)
			return K_FLOAT;
		if (strcmp(tp_name, "cell") == 0)
			return K_CELL;
		if (strcmp(tp_name, "function") == 0)
			return K_FUNC;
	}
	return K_OTHER;
}

/* The index of the type at type, read and named the first time; -1 when
 * too many types or out of memory. */
static long type_index(struct census *c, uint64_t type)
{
	const struct sg_pylayout *l = c->l;
	struct sg_pyheap *h = c->out;
	struct sg_pyheap_type *t;
	struct typeinfo *ti;
	uint8_t copy[TYPE_COPY];
	uint64_t at;
	unsigned long flags = 0;

	if (sg_u64map_get(&c->index, type, &at))
		return (long)at - 1;
	if (h->ntypes >= MAX_TYPES ||
	    grow((void **)&h->types, &c->cap_types, h->ntypes + 1, sizeof(*h->types)))
		return -1;
	if (!(ti = realloc(c->info, c->cap_types * sizeof(*c->info))))
		return -1;
	c->info = ti;
	ti = &c->info[h->ntypes];
	t = &h->types[h->ntypes];
	memset(t, 0, sizeof(*t));
	memset(ti, 0, sizeof(*ti));
	t->addr = type;
	if (sg_mem_read(&c->pp->mem, type, copy, sizeof(copy)) == 0) {
		flags = (unsigned long)sg_layout_u64(copy, l->locals.type_flags);
		ti->basicsize = sg_layout_u64(copy, l->obj.type_basicsize);
		ti->itemsize = sg_layout_u64(copy, l->heap.type_itemsize);
		ti->heap = flags & TPFLAGS_HEAPTYPE;
		t->python = ti->heap;
		ti->tp_dict = sg_layout_u64(copy, l->heap.type_dict);
		ti->meta = flags & TPFLAGS_TYPE;
		/* A type object that tore or was freed has no sane sizes. */
		ti->valid =
		    ti->basicsize >= 16 && ti->basicsize <= (1u << 20) && ti->itemsize <= 64;
		ti->dummy = ti->basicsize == 0 && ti->itemsize == 0;
	}
	if (ti->valid) {
		name_type(c, type, copy, ti, t->name, sizeof(t->name));
		ti->kind = kind_of(flags, t->name);
		/* Attributes unread are referents missed, not an error. */
		if (ti->heap && sg_pyattrs_type(c->pp, type, &ti->attrs))
			ti->heap = false;
	}
	if (sg_u64map_put(&c->index, type, h->ntypes + 1))
		return -1;
	return (long)h->ntypes++;
}

/* The bytes of an object of type ti from the first words of its copy
 * (obj, at least OBJ_COPY bytes), with what it owns. */
static uint64_t object_bytes(struct census *c, const struct typeinfo *ti, uint64_t addr,
                             const uint8_t *obj)
{
	const struct sg_pylayout *l = c->l;
	int64_t size = (int64_t)sg_layout_u64(obj, l->locals.var_size);
	uint64_t n = size < 0 ? (uint64_t)-size : (uint64_t)size, bytes;

	switch (ti->kind) {
	case K_STR: {
		uint32_t state = (uint32_t)sg_layout_u64(obj, l->unicode.state);
		unsigned kind = STR_KIND(state);

		if (l->str_kind != SG_STR_UNICODE)
			return ti->basicsize;
		bytes = sg_pystr_sizeof(l, n, state);
		/* Not compact (a str subclass's instance): its characters are
		 * in a buffer of its own, which str.__sizeof__ counts. */
		if (!bytes && !STR_COMPACT(state) && (kind == 1 || kind == 2 || kind == 4) &&
		    n < (1ull << 40))
			bytes = ti->basicsize + (n + 1) * kind;
		return bytes ? bytes : ti->basicsize;
	}
	case K_LIST:
		n = sg_layout_u64(obj, l->heap.list_allocated);
		return ti->basicsize + (n < (1ull << 40) ? n * 8 : 0);
	case K_DICT:
		/* What its tables take is added when they are read (referents). */
		return ti->basicsize;
	case K_SET:
		if (sg_layout_u64(obj, l->heap.set_table) == addr + l->heap.set_smalltable)
			return ti->basicsize;
		n = sg_layout_u64(obj, l->heap.set_mask);
		return ti->basicsize + (n < (1ull << 40) ? (n + 1) * l->heap.set_entry_size : 0);
	case K_INT:
		/* 3.12+'s lv_tag keeps the digit count above three flag bits. */
		if (l->obj.int_kind == SG_INT_LVTAG)
			n = (uint64_t)size >> 3 ? (uint64_t)size >> 3 : 1;
		break;
	default:
		break;
	}
	return ti->basicsize + (ti->itemsize && n < (1ull << 40) ? n * ti->itemsize : 0);
}

/* Count the live object at addr, whose first words are in obj; queue it
 * when its referents are to be read. Returns 0, or SG_ENOMEM. */
static int count(struct census *c, uint64_t addr, const uint8_t *obj, bool tracked)
{
	const struct sg_pylayout *l = c->l;
	uint64_t type = sg_layout_u64(obj, SG_OB_TYPE);
	struct typeinfo *ti;
	struct work *w;
	long i = -1;

	/* Static placeholders (the dummy key of sets and dicts) are all
	 * zeros (3.x sets) or of a type of size 0 (dicts): no object. A freed
	 * object keeps neither a sane count nor, often, its type. */
	if (!type && !sg_layout_u64(obj, SG_OB_REFCNT))
		return 0;
	if (!(type & 7) && sg_layout_live_object(obj, type))
		i = type_index(c, type);
	if (i >= 0 && c->info[i].dummy)
		return 0;
	if (i < 0 || !c->info[i].valid) {
		c->out->skipped++;
		return 0;
	}
	ti = &c->info[i];
	if (sg_u64map_put(&c->seen, addr, (uint64_t)i + 1))
		return SG_ENOMEM;
	c->out->types[i].count++;
	c->out->types[i].bytes +=
	    object_bytes(c, ti, addr, obj) + (tracked ? l->heap.gc_head_size : 0);
	if (tracked)
		c->out->tracked++;
	else
		c->out->untracked++;
	if (ti->kind != K_LIST && ti->kind != K_TUPLE && ti->kind != K_DICT && ti->kind != K_SET &&
	    ti->kind != K_CELL && ti->kind != K_FUNC && !ti->heap)
		return 0;
	if (grow((void **)&c->work, &c->cap_work, c->nwork + 1, sizeof(*c->work)))
		return SG_ENOMEM;
	w = &c->work[c->nwork++];
	w->addr = addr;
	w->type = (uint32_t)i;
	w->b = sg_layout_u64(obj, l->locals.var_size);
	w->a = ti->kind == K_LIST  ? sg_layout_u64(obj, l->heap.list_items)
	       : ti->kind == K_SET ? sg_layout_u64(obj, l->heap.set_table)
	                           : 0;
	if (ti->kind == K_SET)
		w->b = sg_layout_u64(obj, l->heap.set_mask);
	if (ti->kind == K_DICT) {
		w->a = sg_layout_u64(obj, l->obj.dict_keys);
		w->b = sg_layout_u64(obj, l->obj.dict_values);
	}
	return 0;
}

static bool full(const struct census *c)
{
	return c->out->tracked + c->out->untracked + c->out->skipped >= c->max;
}

/* Walk the collector list that starts at heads[which]. A target that
 * exits ends the census (SG_EGONE); a list that tears is cut there. A
 * collection moves objects from list to list while we walk: a walk that
 * arrives at another list's head, or keeps finding objects it counted
 * already (a cycle through freed memory), is cut too. */
static int walk_list(struct census *c, const uint64_t *heads, size_t nheads, size_t which)
{
	const struct sg_pylayout *l = c->l;
	size_t hs = l->heap.gc_head_size;
	uint8_t buf[64 + OBJ_COPY];
	uint64_t node, head = heads[which], again = 0, steps = 0;
	bool cut = false;
	int err = sg_mem_read_ptr(&c->pp->mem, head, &node);

	c->out->lists++;
	/* 3.8+ keep flags in gc_next's low bits only during a collection. */
	for (node &= ~3ull; !err && node && node != head; node = sg_layout_u64(buf, 0) & ~3ull) {
		for (size_t i = 0; i < nheads; i++)
			cut |= node == heads[i];
		if (cut || again > WALK_MAX_AGAIN)
			return 0;
		/* Nodes that are no objects are not counted: bound the steps too. */
		if (full(c) || ++steps > c->max) {
			c->out->truncated = true;
			return 0;
		}
		err = sg_mem_read(&c->pp->mem, node, buf, hs + OBJ_COPY);
		if (!err && sg_u64map_get(&c->seen, node + hs, NULL))
			again++;
		else if (!err)
			again = 0, err = count(c, node + hs, buf + hs, true);
	}
	if (err == SG_EGONE || err == SG_ENOMEM || err == SG_EPERM)
		return err;
	if (!err && node == head)
		c->out->lists_whole++;
	return 0;
}

/* The collector's list heads: the generations, then the permanent one. */
static int list_heads(struct census *c, uint64_t *heads, size_t *n)
{
	const struct sg_pylayout *l = c->l;
	uint64_t base = 0, interp;
	int err = 0;

	*n = 0;
	switch (l->heap.gc_kind) {
	case SG_GC_SYMBOL:
		if (!c->pp->gc_generation0)
			return SG_ENOTPY;
		err = sg_mem_read_ptr(&c->pp->mem, c->pp->gc_generation0, &base);
		break;
	case SG_GC_RUNTIME:
		base = c->pp->runtime;
		break;
	case SG_GC_INTERP:
		err = sg_pyproc_interp_head(c->pp, &base);
		break;
	}
	if (err)
		return err;
	if (!base)
		return SG_ENOTREADY;
	interp = base;
	if (l->heap.gc_kind != SG_GC_SYMBOL)
		base += l->heap.generations;
	for (size_t i = 0; i < NUM_GENERATIONS; i++)
		heads[(*n)++] = base + i * l->heap.generation_size;
	if (l->heap.permanent)
		heads[(*n)++] = interp + l->heap.permanent;
	return 0;
}

/* The referents of the container w, into c->refs: a dict's first (keys
 * and values in turn, c->pairs of them), an instance's __dict__ last (at
 * c->dict_at, else SIZE_MAX). first: the census's own reading, which adds
 * the bytes of a dict's tables to its type. */
static int referents(struct census *c, const struct work *w, bool first)
{
	const struct sg_pylayout *l = c->l;
	const struct typeinfo *ti = &c->info[w->type];
	struct sg_pydict_entry *e = NULL;
	uint64_t n = 0, at = 0, stride = 8, key = 0, dict, values, owned = 0, *v = NULL;
	size_t ne = 0;
	int err = 0;

	c->nrefs = 0;
	c->dict_at = SIZE_MAX;
	switch (ti->kind) {
	case K_LIST:
		n = w->b, at = w->a;
		break;
	case K_TUPLE:
		n = w->b, at = w->addr + l->locals.tuple_items;
		break;
	case K_SET:
		n = w->b + 1, at = w->a, stride = l->heap.set_entry_size;
		key = l->heap.set_entry_key;
		break;
	case K_CELL:
		n = 1, at = w->addr + l->locals.cell_ref;
		break;
	case K_FUNC:
		/* Its closure: the tuple of cells its free variables are in. */
		n = 1, at = w->addr + l->heap.func_closure;
		break;
	case K_DICT:
		/* A dict that changed under the read is counted without its
		 * tables and referents. */
		if (sg_pydict_scan(c->pp, w->addr, w->a, w->b, c->max, &e, &ne, &owned) == 0 &&
		    first)
			c->out->types[w->type].bytes += owned;
		break;
	default:
		break;
	}
	if (n > c->max - c->nrefs || (ti->kind == K_SET && !at))
		n = 0;
	if (!err && grow((void **)&c->refs, &c->cap_refs, n + 2 * ne + 1, sizeof(*c->refs)))
		err = SG_ENOMEM;
	for (size_t i = 0; !err && i < ne; i++) {
		c->refs[c->nrefs++] = e[i].key;
		c->refs[c->nrefs++] = e[i].value;
	}
	c->pairs = c->nrefs;
	free(e);
	e = NULL;
	ne = 0;
	/* Items in chunks: a list that shrank mid-read fails the rest only. */
	for (uint64_t done = 0; !err && done < n;) {
		uint8_t buf[4096];
		uint64_t chunk =
		    (n - done) * stride < sizeof(buf) ? n - done : sizeof(buf) / stride;

		if (sg_mem_read(&c->pp->mem, at + done * stride, buf, chunk * stride))
			break;
		for (uint64_t i = 0; i < chunk; i++)
			c->refs[c->nrefs++] = sg_layout_u64(buf, (uint32_t)(i * stride + key));
		done += chunk;
	}
	if (err || !ti->heap)
		return err;
	/* An instance's attributes: its __dict__ is an object of its own;
	 * values kept in the object (3.11+) are read here. */
	if (sg_pyattrs_home(c->pp, &ti->attrs, w->addr, &dict, &values))
		return 0;
	if (dict) {
		c->dict_at = c->nrefs;
		c->refs[c->nrefs++] = dict;
		return 0;
	}
	if (sg_pyattrs_values(c->pp, &ti->attrs, values, SG_PYDICT_MAX_ENTRIES, &v, &ne) == 0 &&
	    !grow((void **)&c->refs, &c->cap_refs, c->nrefs + ne, sizeof(*c->refs)))
		for (size_t i = 0; i < ne; i++)
			c->refs[c->nrefs++] = v[i];
	free(v);
	return 0;
}

/* Count the referents not seen yet, reading the first words of BATCH of
 * them per system call. */
static int count_referents(struct census *c)
{
	static const uint32_t offs[BATCH_WORDS] = {0, 8, 16, 32, 40};
	uint64_t addrs[BATCH * BATCH_WORDS], words[BATCH * BATCH_WORDS], objs[BATCH];
	size_t i = 0;
	int err = 0;

	while (!err && i < c->nrefs && !full(c)) {
		size_t nb = 0;

		for (; i < c->nrefs && nb < BATCH; i++) {
			uint64_t r = c->refs[i];

			if (!r || (r & 7) || sg_u64map_get(&c->seen, r, NULL))
				continue;
			objs[nb] = r;
			for (size_t k = 0; k < BATCH_WORDS; k++)
				addrs[nb * BATCH_WORDS + k] = r + offs[k];
			nb++;
		}
		if (!nb)
			break;
		if (sg_mem_read_words(&c->pp->mem, addrs, words, nb * BATCH_WORDS)) {
			/* One unreadable referent (freed and unmapped) fails
			 * them all: read them one by one. */
			for (size_t b = 0; b < nb; b++)
				if (sg_mem_read_words(&c->pp->mem, addrs + b * BATCH_WORDS,
				                      words + b * BATCH_WORDS, BATCH_WORDS))
					words[b * BATCH_WORDS + 1] = 0;
		}
		for (size_t b = 0; !err && b < nb; b++) {
			uint8_t obj[OBJ_COPY] = {0};

			for (size_t k = 0; k < BATCH_WORDS; k++)
				memcpy(obj + offs[k], &words[b * BATCH_WORDS + k], 8);
			/* A duplicate within the batch is counted once. */
			if (!sg_u64map_get(&c->seen, objs[b], NULL))
				err = count(c, objs[b], obj, false);
		}
	}
	return err;
}

/* Where an object was found: the container that refers to it, and under
 * which key when the container is a dict (0 otherwise). */
struct parent {
	uint64_t addr, key;
	uint32_t type;
	bool via_dict; /* the container is an instance, and this its __dict__ */
};

/* An object of the type held under a line: a line's count is how many
 * distinct objects it holds, however many of its holders refer to each
 * and however often (held_count). */
struct held {
	uint64_t obj;
	uint32_t line;
};

/* What the referrer search keeps. */
struct referrers {
	struct sg_u64map want;  /* object -> index in parents + 1 (0: not found yet) */
	struct parent *parents; /* of the objects in want, where found */
	size_t nparents, cap;
	struct sg_u64map modules; /* a module's dict -> index in names + 1 */
	struct sg_u64map classes; /* a class's dict -> its type index + 1 */
	char (*names)[128];       /* module names */
	size_t nnames;
	struct sg_u64map locals; /* an object a frame's local holds -> index in frames + 1 */
	char (*frames)[256];     /* "local kept of hold (app.py) in thread 'worker'" */
	size_t nframes, cap_frames;
	struct sg_intern lines; /* the holders' lines said so far, by index */
	struct held *held;      /* the objects each line holds, a pair a reference */
	size_t nheld, cap_held;
};

#define MAX_HOLDERS 65536 /* holders named one by one; the rest are "other" */
#define MAX_DEPTH   6     /* containers between a holder and its root */
/* Frames of a thread whose locals are searched: a deeper stack keeps its
 * innermost and outermost halves (sg_pywalk_frames), where a program's
 * own long-lived locals (its main loop's, a worker's) are. */
#define FRAMES_READ 512
/* Walks of a thread's frames before it is given up as changing too fast
 * to read (a sleeping thread's read once). */
#define FRAME_WALKS 3

static bool is_type(const struct census *c, uint64_t obj, uint32_t *type)
{
	uint64_t v;

	if (!sg_u64map_get(&c->seen, obj, &v))
		return false;
	*type = (uint32_t)(v - 1);
	return true;
}

/* Every container's referents again (from the copy the census made), and
 * for each wanted object not placed yet, where it was found. */
static int find_parents(struct census *c, struct referrers *r)
{
	int err = 0;

	for (size_t i = 0; !err && i < c->nwork; i++) {
		struct work w = c->work[i];

		if (referents(c, &w, false))
			continue;
		for (size_t k = 0; !err && k < c->nrefs; k++) {
			uint64_t at;

			if (!sg_u64map_get(&r->want, c->refs[k], &at) || at)
				continue;
			err = grow((void **)&r->parents, &r->cap, r->nparents + 1,
			           sizeof(*r->parents));
			if (err)
				break;
			r->parents[r->nparents] =
			    (struct parent){w.addr, k < c->pairs && (k & 1) ? c->refs[k - 1] : 0,
			                    w.type, k == c->dict_at};
			err = sg_u64map_put(&r->want, c->refs[k], ++r->nparents);
		}
	}
	return err;
}

/* The module dicts of sys.modules, by name. */
static int find_modules(struct census *c, struct referrers *r)
{
	const struct sg_pylayout *l = c->l;
	struct sg_pydict_entry *e = NULL;
	uint64_t interp, modules, md;
	size_t n = 0;
	int err = sg_pyproc_interp_head(c->pp, &interp);

	if (!err)
		err = sg_mem_read_ptr(&c->pp->mem, interp + l->obj.interp_modules, &modules);
	if (!err)
		err = sg_pydict_entries(c->pp, modules, SG_PYDICT_MAX_ENTRIES, &e, &n);
	if (!err && !(r->names = calloc(n ? n : 1, sizeof(*r->names))))
		err = SG_ENOMEM;
	for (size_t i = 0; !err && i < n; i++) {
		if (sg_mem_read_ptr(&c->pp->mem, e[i].value + l->obj.module_dict, &md) || !md ||
		    sg_pystr_read(&c->pp->mem, l, c->pp->str_type, e[i].key, r->names[r->nnames],
		                  sizeof(r->names[0])))
			continue;
		err = sg_u64map_put(&r->modules, md, ++r->nnames);
	}
	free(e);
	/* Without sys.modules no global is named, but holders still are. */
	return err == SG_ENOMEM ? err : 0;
}

static void str_or(struct census *c, uint64_t obj, char *buf, size_t len, const char *otherwise)
{
	if (!obj || sg_pystr_read(&c->pp->mem, c->l, c->pp->str_type, obj, buf, len))
		snprintf(buf, len, "%s", otherwise);
}

/* The name of an instance's attribute that holds value. */
static void attr_name(struct census *c, uint64_t obj, uint64_t value, char *buf, size_t len)
{
	struct sg_pydict_entry *e;
	uint64_t key = 0;
	size_t n;

	if (sg_pyobj_attrs(c->pp, obj, SG_PYDICT_MAX_ENTRIES, &e, &n) == 0)
		for (size_t i = 0; i < n && !key; i++)
			if (e[i].value == value)
				key = e[i].key;
	free(e);
	str_or(c, key, buf, len, "?");
}

/* An attribute of the instance holder that holds an object of the wanted
 * type; 0 when none. */
static uint64_t wanted_value(struct census *c, uint64_t holder, const bool *target)
{
	struct sg_pydict_entry *e;
	uint64_t found = 0;
	uint32_t t;
	size_t n;

	if (sg_pyobj_attrs(c->pp, holder, SG_PYDICT_MAX_ENTRIES, &e, &n) == 0)
		for (size_t i = 0; i < n && !found; i++)
			if (is_type(c, e[i].value, &t) && target[t])
				found = e[i].value;
	free(e);
	return found;
}

static const struct parent *parent_of(const struct referrers *r, uint64_t obj)
{
	uint64_t at;

	return sg_u64map_get(&r->want, obj, &at) && at ? &r->parents[at - 1] : NULL;
}

/* " of FUNCTION" for the function whose closure has the cell at cell (its
 * tuple's referrer), or "" when not found. */
static void closure_of(struct census *c, const struct referrers *r, uint64_t cell, char *buf,
                       size_t len);

/* snprintf, for text cut where it must be. */
static void say(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

/*
 * Say what holds the objects that holder (of type htype) refers to, from
 * its root: "the dict _SESSIONS in module app.cache", "attribute items of
 * app.Registry objects", "the list in a closure", "a list in the dict
 * _REGISTRY in module app" ...
 */
static void describe(struct census *c, const struct referrers *r, uint64_t holder, uint32_t htype,
                     const bool *target, char *out, size_t len)
{
	const char *tn = c->out->types[htype].name;
	char key[128], what[512] = "";
	uint64_t x = holder, at, v;
	uint32_t xt = htype;

	/* A class's instance holds them in an attribute (3.11+ values). */
	if (c->info[htype].heap && c->info[htype].kind == K_OTHER &&
	    (v = wanted_value(c, holder, target))) {
		attr_name(c, holder, v, key, sizeof(key));
		say(out, len, "attribute %s of %s objects", key, tn);
		return;
	}
	for (int depth = 0; depth < MAX_DEPTH; depth++) {
		const struct parent *p = parent_of(r, x);
		const char *xn = c->out->types[xt].name, *pn;
		char here[512];

		if (!p && sg_u64map_get(&r->locals, x, &at)) {
			say(out, len, "%sthe %s in %s", what, xn, r->frames[at - 1]);
			return;
		}
		if (!p) {
			say(out, len, "%s%s%s (nothing counted refers to it)", what,
			    depth ? "" : "a ", xn);
			return;
		}
		pn = c->out->types[p->type].name;
		str_or(c, p->key, key, sizeof(key), "");
		if (sg_u64map_get(&r->modules, p->addr, &at)) {
			say(out, len, "%sthe %s %s in module %s", what, xn, key, r->names[at - 1]);
			return;
		}
		if (sg_u64map_get(&r->classes, p->addr, &at)) {
			say(out, len, "%sthe %s %s.%s (a class attribute)", what, xn,
			    c->out->types[at - 1].name, key);
			return;
		}
		if (p->via_dict || (c->info[p->type].heap && c->info[p->type].kind == K_OTHER)) {
			/* x is an instance's __dict__: name the attribute in it. */
			if (p->via_dict && (v = wanted_value(c, p->addr, target)) && depth == 0)
				attr_name(c, p->addr, v, key, sizeof(key));
			else if (!p->via_dict)
				attr_name(c, p->addr, x, key, sizeof(key));
			if (p->via_dict && depth == 0)
				say(out, len, "%sattribute %s of %s objects", what, key, pn);
			else
				say(out, len, "%sthe %s in attribute %s of %s objects", what, xn,
				    key, pn);
			return;
		}
		if (c->info[p->type].kind == K_CELL) {
			closure_of(c, r, p->addr, key, sizeof(key));
			say(out, len, "%sthe %s in a closure%s", what, xn, key);
			return;
		}
		if (key[0])
			say(here, sizeof(here), "%sa %s under key %s of ", what, xn, key);
		else
			say(here, sizeof(here), "%sa %s in ", what, xn);
		say(what, sizeof(what), "%s", here);
		x = p->addr;
		xt = p->type;
	}
	say(out, len, "%s... (more than %d containers from a root)", what, MAX_DEPTH);
}

static void closure_of(struct census *c, const struct referrers *r, uint64_t cell, char *buf,
                       size_t len)
{
	const struct parent *tuple = parent_of(r, cell),
	                    *func = tuple ? parent_of(r, tuple->addr) : NULL;
	char name[128], module[128];
	uint64_t qualname, mod;

	buf[0] = '\0';
	if (!func || c->info[func->type].kind != K_FUNC ||
	    sg_mem_read_ptr(&c->pp->mem, func->addr + c->l->heap.func_name, &qualname) ||
	    sg_pystr_read(&c->pp->mem, c->l, c->pp->str_type, qualname, name, sizeof(name)))
		return;
	if (sg_mem_read_ptr(&c->pp->mem, func->addr + c->l->heap.func_module, &mod))
		mod = 0;
	str_or(c, mod, module, sizeof(module), "");
	say(buf, len, " of %s%s%s", module, module[0] ? "." : "", name);
}

struct holder {
	uint64_t addr, count;
	uint32_t type;
};

static int by_held(const void *a, const void *b)
{
	const struct holder *x = a, *y = b;

	return x->count != y->count ? (x->count > y->count ? -1 : 1)
	                            : (x->addr > y->addr) - (x->addr < y->addr);
}

static int by_count(const void *a, const void *b)
{
	const struct sg_pyheap_holder *x = a, *y = b;

	return x->count != y->count ? (x->count > y->count ? -1 : 1) : strcmp(x->what, y->what);
}

/* One more holder said what, merged with a line saying the same: lines
 * are interned in the order they are added, so a line's id (*id) is its
 * index (holders are many when the type is str or int: one per
 * container). The objects a line holds are counted later (held_add). */
static int add_holder(struct sg_pyheap *h, struct sg_intern *lines, size_t *cap, const char *what,
                      uint32_t *id)
{
	if (sg_intern_put(lines, what, strlen(what), id))
		return SG_ENOMEM;
	if (*id < h->nholders) {
		h->holders[*id].holders++;
		return 0;
	}
	if (grow((void **)&h->holders, cap, h->nholders + 1, sizeof(*h->holders)))
		return SG_ENOMEM;
	snprintf(h->holders[h->nholders].what, sizeof(h->holders[0].what), "%s", what);
	h->holders[h->nholders].count = 0;
	h->holders[h->nholders++].holders = 1;
	return 0;
}

static int held_add(struct referrers *r, uint32_t line, uint64_t obj)
{
	if (grow((void **)&r->held, &r->cap_held, r->nheld + 1, sizeof(*r->held)))
		return SG_ENOMEM;
	r->held[r->nheld++] = (struct held){obj, line};
	return 0;
}

static int by_line(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return (x->obj > y->obj) - (x->obj < y->obj);
}

static void held_count(struct sg_pyheap *h, struct held *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), by_line);
	for (size_t i = 0; i < n; i++)
		if (v[i].line < h->nholders &&
		    (i == 0 || v[i].line != v[i - 1].line || v[i].obj != v[i - 1].obj))
			h->holders[v[i].line].count++;
}

/* The thread th as a holder line names it: by its threading name when
 * threading lists it, else by its kernel tid. */
static void thread_label(struct sg_pythreads *names, const struct sg_pythread *th, char *buf,
                         size_t len)
{
	char name[128];

	if (names && sg_pythreads_name(names, th, 0, name, sizeof(name)) == 0)
		say(buf, len, "thread '%s'", name);
	else if (th->tid)
		say(buf, len, "thread %d", (int)th->tid);
	else
		say(buf, len, "thread 0x%llx", (unsigned long long)th->thread_id);
}

/* One frame's locals: those that hold an object of the wanted type are
 * holders themselves ("local s of f (app.py) in thread 'main'"); the
 * others are roots describe() ends a chain at. */
static int frame_locals(struct census *c, struct referrers *r, struct sg_pycodes *codes,
                        const struct sg_pyframe_raw *f, const char *thread, const bool *target,
                        size_t *cap)
{
	const struct sg_pycode *code;
	struct sg_pyslot *slots = NULL;
	size_t n = 0;
	int err = sg_pycodes_get(codes, &f->code, &code);

	/* A frame popped while we read (its code gone) has nothing to say. */
	if (err || code->shim)
		return err == SG_ENOMEM ? err : 0;
	err = sg_pylocals_slots(c->pp, f->frame, f->code.addr, &slots, &n);
	if (err) {
		free(slots);
		return err == SG_ENOMEM ? err : 0;
	}
	for (size_t i = 0; !err && i < n; i++) {
		const char *file = strrchr(code->filename, '/');
		char label[256];
		uint32_t t;

		say(label, sizeof(label), "local %s of %s (%s) in %s", slots[i].name, code->name,
		    file ? file + 1 : code->filename, thread);
		if (is_type(c, slots[i].value, &t) && target[t]) {
			uint32_t id;

			err = add_holder(c->out, &r->lines, cap, label, &id);
			if (!err)
				err = held_add(r, id, slots[i].value);
			continue;
		}
		/* The innermost frame that holds an object names it. */
		if (sg_u64map_get(&r->locals, slots[i].value, NULL))
			continue;
		err = grow((void **)&r->frames, &r->cap_frames, r->nframes + 1, sizeof(*r->frames));
		if (!err) {
			memcpy(r->frames[r->nframes], label, sizeof(label));
			err = sg_u64map_put(&r->locals, slots[i].value, ++r->nframes);
		}
	}
	free(slots);
	return err;
}

/* The locals of every thread's frames, as frame_locals takes them. A
 * thread whose frames cannot be walked (it runs and they change too fast)
 * is left out: its locals name nothing. The lists of interpreters and
 * thread states are read as they are now: one that leads back to a state
 * already seen (torn, or corrupt) ends there, and SG_PYWALK_MAX_THREADS
 * states are read at most in all. */
static int find_frame_locals(struct census *c, struct referrers *r, const bool *target, size_t *cap)
{
	struct sg_pywalker w;
	struct sg_pycodes *codes = sg_pycodes_new(c->pp);
	struct sg_pythreads *names = sg_pythreads_new(c->pp);
	struct sg_pyframe_raw *frames = calloc(FRAMES_READ, sizeof(*frames));
	struct sg_u64map seen = SG_U64MAP_INIT; /* interpreter and thread states */
	uint64_t interp = 0;
	size_t nstates = 0;
	int err = !codes || !names || !frames ? SG_ENOMEM : sg_pywalker_init(&w, c->pp);
	bool walker = !err;

	if (!err && sg_pyproc_interp_head(c->pp, &interp))
		interp = 0;
	while (!err && interp && nstates++ < SG_PYWALK_MAX_THREADS &&
	       !sg_u64map_get(&seen, interp, NULL)) {
		struct sg_pyinterp is;
		uint64_t tstate;

		if ((err = sg_u64map_put(&seen, interp, 1)) ||
		    sg_pyproc_interp_read(c->pp, interp, &is))
			break;
		for (tstate = is.tstate_head; !err && tstate && nstates++ < SG_PYWALK_MAX_THREADS &&
		                              !sg_u64map_get(&seen, tstate, NULL);) {
			struct sg_pythread th;
			struct sg_pystack st = {0};
			char thread[160];
			int werr = SG_EREAD;

			if ((err = sg_u64map_put(&seen, tstate, 1)) ||
			    sg_pywalk_thread(&w, tstate, &th))
				break;
			for (int k = 0;
			     th.top_frame && werr && werr != SG_ENOMEM && k < FRAME_WALKS; k++)
				werr = sg_pywalk_frames(&w, &th, frames, FRAMES_READ, &st);
			if (werr == SG_ENOMEM)
				err = werr;
			thread_label(names, &th, thread, sizeof(thread));
			for (size_t i = 0; !err && !werr && i < st.depth; i++)
				err = frame_locals(c, r, codes, &frames[i], thread, target, cap);
			tstate = th.next;
		}
		interp = is.next;
	}
	if (walker)
		sg_pywalker_release(&w);
	sg_u64map_release(&seen);
	sg_pythreads_free(names);
	sg_pycodes_free(codes);
	free(frames);
	return err;
}

/* The line for an object a root dict (a module's globals, a class's
 * dict) holds under key, as describe names what a root holds: "the list
 * _CACHE in module app", "the list app.Registry.items (a class
 * attribute)". False when holder is no root or key no str. */
static bool root_line(struct census *c, const struct referrers *r, uint64_t holder, uint64_t key,
                      const char *tn, char *out, size_t len)
{
	char k[128];
	uint64_t at;

	if (!key || sg_pystr_read(&c->pp->mem, c->l, c->pp->str_type, key, k, sizeof(k)))
		return false;
	if (sg_u64map_get(&r->modules, holder, &at))
		say(out, len, "the %s %s in module %s", tn, k, r->names[at - 1]);
	else if (sg_u64map_get(&r->classes, holder, &at))
		say(out, len, "the %s %s.%s (a class attribute)", tn, c->out->types[at - 1].name,
		    k);
	else
		return false;
	return true;
}

/* A root's lines are said reference by reference (root_line); its
 * others once, the first time one is needed. */
#define ROOT_HOLDER (1ull << 63)

/* What holds the objects whose type is named name, grouped by what it is. */
static int find_referrers(struct census *c, const char *name)
{
	struct sg_pyheap *h = c->out;
	struct referrers r = {0};
	struct sg_u64map held = SG_U64MAP_INIT;    /* holder -> its references to the type */
	struct sg_u64map line_of = SG_U64MAP_INIT; /* holder -> its line + 1, or ROOT_HOLDER */
	struct holder *hs = NULL;
	bool *target = NULL;
	size_t nh = 0, cap = 0, hcap = 0, pos = 0, kept = 0;
	uint64_t addr, n;
	uint32_t other = UINT32_MAX;
	int err = 0;

	sg_u64map_init(&r.want);
	sg_u64map_init(&r.modules);
	sg_u64map_init(&r.classes);
	sg_u64map_init(&r.locals);
	sg_intern_init(&r.lines);
	/* Every class the census met is a root, whether or not it has
	 * instances: a class never instantiated holds its attributes still.
	 * Its type is read here (it adds a type of no objects, dropped with
	 * the others the census ends with). */
	while (sg_u64map_next(&c->seen, &pos, &addr, &n))
		if (c->info[n - 1].meta && type_index(c, addr) < 0)
			break;
	if (!(target = calloc(h->ntypes ? h->ntypes : 1, sizeof(*target))))
		err = SG_ENOMEM;
	for (size_t i = 0; !err && i < h->ntypes; i++) {
		target[i] = strcmp(h->types[i].name, name) == 0;
		h->referred += target[i] ? h->types[i].count : 0;
		if (h->types[i].python && c->info[i].tp_dict)
			err = sg_u64map_put(&r.classes, c->info[i].tp_dict, i + 1);
	}
	/* The holders: the containers that refer to the objects directly. */
	for (size_t i = 0; !err && i < c->nwork; i++) {
		struct work w = c->work[i];
		uint64_t count = 0;
		uint32_t t;

		if (referents(c, &w, false))
			continue;
		for (size_t k = 0; k < c->nrefs; k++)
			count += is_type(c, c->refs[k], &t) && target[t] && k != c->dict_at;
		if (count) {
			uint64_t was = 0;

			sg_u64map_get(&held, w.addr, &was);
			err = sg_u64map_put(&held, w.addr, was + count);
		}
	}
	for (pos = 0; !err && sg_u64map_next(&held, &pos, &addr, &n);) {
		uint32_t t = 0;

		if (!(err = grow((void **)&hs, &cap, nh + 1, sizeof(*hs))) && is_type(c, addr, &t))
			hs[nh++] = (struct holder){addr, n, t};
	}
	if (nh)
		qsort(hs, nh, sizeof(*hs), by_held);
	/* Up from the largest holders, one level of containers per pass. */
	for (size_t i = 0; !err && i < nh && i < MAX_HOLDERS; i++)
		err = sg_u64map_put(&r.want, hs[i].addr, 0);
	if (!err)
		err = find_modules(c, &r);
	if (!err)
		err = find_frame_locals(c, &r, target, &hcap);
	for (int depth = 0; !err && depth < MAX_DEPTH; depth++) {
		size_t before = r.nparents;

		err = find_parents(c, &r);
		/* The parents found are wanted next, unless they are roots. */
		for (size_t i = before; !err && i < r.nparents; i++) {
			uint64_t p = r.parents[i].addr, at;

			if (!sg_u64map_get(&r.modules, p, NULL) &&
			    !sg_u64map_get(&r.classes, p, NULL) && !sg_u64map_get(&r.want, p, &at))
				err = sg_u64map_put(&r.want, p, 0);
		}
		if (r.nparents == before)
			break;
	}
	/* Each holder's line; a root's are its keys'. */
	for (size_t i = 0; !err && i < nh; i++) {
		char what[512];
		uint32_t id;

		if (i < MAX_HOLDERS && (sg_u64map_get(&r.modules, hs[i].addr, NULL) ||
		                        sg_u64map_get(&r.classes, hs[i].addr, NULL))) {
			err = sg_u64map_put(&line_of, hs[i].addr, ROOT_HOLDER);
			continue;
		}
		if (i >= MAX_HOLDERS && other != UINT32_MAX) {
			h->holders[other].holders++;
			id = other;
		} else if (i >= MAX_HOLDERS) {
			err = add_holder(h, &r.lines, &hcap, "other holders, each of fewer objects",
			                 &other);
			id = other;
		} else {
			describe(c, &r, hs[i].addr, hs[i].type, target, what, sizeof(what));
			err = add_holder(h, &r.lines, &hcap, what, &id);
		}
		if (!err)
			err = sg_u64map_put(&line_of, hs[i].addr, (uint64_t)id + 1);
	}
	/* The objects each line holds, each reference once. */
	for (size_t i = 0; !err && i < c->nwork; i++) {
		struct work w = c->work[i];
		uint32_t fallback = UINT32_MAX, t;
		uint64_t line, refs;

		/* A holder met twice in the work is read once. */
		if (!sg_u64map_get(&held, w.addr, &refs) || !refs ||
		    !sg_u64map_get(&line_of, w.addr, &line) || referents(c, &w, false))
			continue;
		err = sg_u64map_put(&held, w.addr, 0);
		for (size_t k = 0; !err && k < c->nrefs; k++) {
			uint64_t obj = c->refs[k],
			         key = k < c->pairs && (k & 1) ? c->refs[k - 1] : 0;
			char what[512];
			uint32_t id;

			if (!is_type(c, obj, &t) || !target[t] || k == c->dict_at)
				continue;
			if (line != ROOT_HOLDER) {
				err = held_add(&r, (uint32_t)(line - 1), obj);
				continue;
			}
			if (root_line(c, &r, w.addr, key, h->types[t].name, what, sizeof(what))) {
				err = add_holder(h, &r.lines, &hcap, what, &id);
			} else if (fallback == UINT32_MAX) {
				describe(c, &r, w.addr, w.type, target, what, sizeof(what));
				err = add_holder(h, &r.lines, &hcap, what, &fallback);
				id = fallback;
			} else {
				id = fallback;
			}
			if (!err)
				err = held_add(&r, id, obj);
		}
	}
	if (!err)
		held_count(h, r.held, r.nheld);
	/* A line whose holder changed between the two reads holds nothing. */
	for (size_t i = 0; i < h->nholders; i++)
		if (h->holders[i].count)
			h->holders[kept++] = h->holders[i];
	h->nholders = kept;
	if (h->nholders)
		qsort(h->holders, h->nholders, sizeof(*h->holders), by_count);
	sg_u64map_release(&held);
	sg_u64map_release(&line_of);
	sg_u64map_release(&r.want);
	sg_u64map_release(&r.modules);
	sg_u64map_release(&r.classes);
	sg_u64map_release(&r.locals);
	sg_intern_release(&r.lines);
	free(r.held);
	free(r.parents);
	free(r.names);
	free(r.frames);
	free(hs);
	free(target);
	return err;
}

static int by_bytes(const void *a, const void *b)
{
	const struct sg_pyheap_type *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

int sg_pyheap_census(struct sg_pyproc *pp, const struct sg_pyheap_opts *opts, struct sg_pyheap *out)
{
	struct census c = {0};
	uint64_t heads[NUM_GENERATIONS + 1], reads0 = pp->mem.reads + pp->mem.faults;
	size_t nheads, kept = 0;
	int err;

	memset(out, 0, sizeof(*out));
	c.pp = pp;
	c.l = &pp->layout;
	c.out = out;
	c.max = opts && opts->max_objects ? opts->max_objects : SG_PYHEAP_MAX_OBJECTS;
	sg_u64map_init(&c.seen);
	sg_u64map_init(&c.index);
	err = sg_mem_snapshot_begin(&pp->mem, SG_PYHEAP_COPY_MAX);
	if (!err)
		err = list_heads(&c, heads, &nheads);
	for (size_t i = 0; !err && i < nheads; i++)
		err = walk_list(&c, heads, nheads, i);
	if (!err && out->lists_whole == 0 && out->tracked == 0)
		err = SG_EREAD;
	/* c.work grows while it is read: untracked containers are queued
	 * behind the tracked ones. */
	for (size_t i = 0; !err && i < c.nwork && !full(&c); i++) {
		struct work w = c.work[i];

		err = referents(&c, &w, true);
		if (!err)
			err = count_referents(&c);
	}
	if (full(&c))
		out->truncated = true;
	if (!err && opts && opts->referrers)
		err = find_referrers(&c, opts->referrers);
	/* Types whose objects were all skipped say nothing. */
	for (size_t i = 0; i < out->ntypes; i++)
		if (out->types[i].count)
			out->types[kept++] = out->types[i];
	out->ntypes = kept;
	if (out->ntypes)
		qsort(out->types, out->ntypes, sizeof(*out->types), by_bytes);
	sg_mem_snapshot_end(&pp->mem);
	out->reads = pp->mem.reads + pp->mem.faults - reads0;
	sg_u64map_release(&c.seen);
	sg_u64map_release(&c.index);
	free(c.info);
	free(c.work);
	free(c.refs);
	return err;
}

void sg_pyheap_release(struct sg_pyheap *heap)
{
	if (!heap)
		return;
	free(heap->types);
	free(heap->holders);
	memset(heap, 0, sizeof(*heap));
}
