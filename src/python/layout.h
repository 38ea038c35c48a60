/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_LAYOUT_H
#define SG_PYTHON_LAYOUT_H

/*
 * Where things are inside one CPython minor version, as plain numbers.
 *
 * Offsets are facts about a build, so they are data: one const row per minor
 * version in layouts.c (2.7, 3.6 ... 3.12, x86-64/aarch64 LP64 builds), and
 * for 3.13+ a row filled at run time from the _Py_DebugOffsets block the
 * target publishes (debug_offsets.c). Code that walks a target never tests a
 * version number; it asks the row (frame_kind, lasti_kind, ...).
 *
 * All offsets are in bytes from the start of the named struct. An offset of
 * 0 for a field that cannot be at 0 means "this version has no such field"
 * (qualname before 3.11, native_thread_id before 3.11, ...).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A field of a struct copied out of the target, at off bytes into the copy:
 * the one way walkers read what a row's offsets point at (the copy need not
 * be aligned). */
static inline uint64_t sg_layout_u64(const uint8_t *copy, uint32_t off)
{
	uint64_t v;

	memcpy(&v, copy + off, sizeof(v));
	return v;
}

static inline int32_t sg_layout_i32(const uint8_t *copy, uint32_t off)
{
	int32_t v;

	memcpy(&v, copy + off, sizeof(v));
	return v;
}

/* PyObject's header, the same in every version: ob_refcnt, then ob_type. */
#define SG_OB_REFCNT 0
#define SG_OB_TYPE   8

/*
 * Whether an object header, copied out of the target, is a live object of
 * the given type. A freed object keeps its type word for a while, but not
 * its count: pymalloc links free blocks through their first word, so the
 * count reads as a pointer (or 0), and glibc's free lists take both words.
 * A live count is at least 1 and far below 2^32 (3.12's immortal objects
 * hold 2^32 - 1), where heap and mmap addresses are not.
 */
static inline bool sg_layout_live_count(uint64_t refcnt)
{
	return refcnt >= 1 && refcnt <= UINT32_MAX;
}

static inline bool sg_layout_live_object(const uint8_t *copy, uint64_t type)
{
	return sg_layout_u64(copy, SG_OB_TYPE) == type &&
	       sg_layout_live_count(sg_layout_u64(copy, SG_OB_REFCNT));
}

enum sg_frame_kind {
	SG_FRAME_OBJECT, /* <=3.10: PyFrameObject chain from tstate->frame */
	SG_FRAME_INTERP, /* 3.11+: _PyInterpreterFrame chain via ->previous */
};

/* How a frame says which instruction it is at. */
enum sg_lasti_kind {
	SG_LASTI_BYTES,   /* f_lasti is a byte offset into co_code (<=3.9) */
	SG_LASTI_UNITS,   /* f_lasti counts 2-byte code units (3.10) */
	SG_LASTI_POINTER, /* prev_instr/instr_ptr into co_code_adaptive (3.11+) */
};

/* How a frame object says it has finished. Before 3.11 frames are heap
 * objects that outlive their call: a code object keeps one as its zombie
 * frame, and a free list chains the rest through f_back. */
enum sg_frame_state_kind {
	SG_STATE_NONE,      /* frames live in stack chunks (3.11+) */
	SG_STATE_GC_REFS27, /* 2.7: the GC header's gc_refs, `state` bytes before
	                       the frame, is _PyGC_REFS_UNTRACKED once finished */
	SG_STATE_EXECUTING, /* 3.6-3.9: f_executing, 0 once finished */
	SG_STATE_310,       /* 3.10: f_state, > FRAME_EXECUTING but UNWINDING once finished */
};

enum sg_linetable_kind {
	SG_LINETABLE_LNOTAB2,   /* 2.7: co_lnotab, unsigned line deltas */
	SG_LINETABLE_LNOTAB,    /* 3.6-3.9: co_lnotab, signed line deltas */
	SG_LINETABLE_310,       /* 3.10: co_linetable, (u8 bytes, i8 line) */
	SG_LINETABLE_LOCATIONS, /* 3.11+: location table (locations.md) */
};

enum sg_str_kind {
	SG_STR_BYTES,   /* 2.7: names and filenames are PyStringObject */
	SG_STR_UNICODE, /* 3.x: PEP 393 PyUnicodeObject */
};

/* Where the list of interpreters starts. */
enum sg_head_kind {
	SG_HEAD_SYMBOL,  /* <=3.6: symbol interp_head is a PyInterpreterState* */
	SG_HEAD_RUNTIME, /* 3.7+: _PyRuntime + runtime.interp_head */
};

/* How to learn which thread holds the GIL. */
enum sg_gil_kind {
	SG_GIL_SYMBOL,  /* <=3.6: symbol _PyThreadState_Current (tstate*) */
	SG_GIL_RUNTIME, /* 3.7-3.11: _PyRuntime + runtime.gil_tstate_current */
	SG_GIL_INTERP,  /* 3.12+: interp._gil.locked / interp._gil.last_holder */
};

/* How dicts store their entries. */
enum sg_dict_kind {
	SG_DICT_TABLE27, /* 2.7: ma_mask + ma_table of (hash, key, value) */
	SG_DICT_KEYS36,  /* 3.6-3.10: ma_keys with dk_size, then indices, entries */
	SG_DICT_KEYS311, /* 3.11+: dk_log2_size/dk_log2_index_bytes/dk_kind */
};

/* Where an instance keeps its attributes. */
enum sg_attr_kind {
	SG_ATTR_DICTOFFSET, /* <=3.10: a dict at obj + type->tp_dictoffset */
	SG_ATTR_MANAGED311, /* 3.11: dict at obj[-3], else values at obj[-4] */
	SG_ATTR_TAGGED312,  /* 3.12: obj[-3] is a dict, or values - 1 when odd */
	SG_ATTR_INLINE313,  /* 3.13: dict at obj[-3], else values at obj + tp_basicsize */
};

/* How an int object keeps its value. */
enum sg_int_kind {
	SG_INT_PYINT27, /* 2.7 int: a C long */
	SG_INT_OBSIZE,  /* <=3.11: ob_size digits of 30 bits */
	SG_INT_LVTAG,   /* 3.12+: lv_tag >> 3 digits of 30 bits */
};

/* Where the garbage collector keeps its lists of tracked objects: three
 * generations (struct gc_generation, a list head first), and from 3.7 a
 * permanent one (gc.freeze()). */
enum sg_gc_kind {
	SG_GC_SYMBOL,  /* <=3.6: symbol _PyGC_generation0 points at generations[0] */
	SG_GC_RUNTIME, /* 3.7-3.8: _PyRuntime.gc */
	SG_GC_INTERP,  /* 3.9+: PyInterpreterState.gc */
};

/* Where tracemalloc keeps its state (pytracemalloc.c). */
enum sg_tm_where {
	SG_TM_NONE,    /* 2.7: no tracemalloc */
	SG_TM_SYMBOL,  /* 3.6-3.11: statics of Modules/_tracemalloc.c (symbols
	                  tracemalloc_traces, tracemalloc_domains, and the config) */
	SG_TM_RUNTIME, /* 3.12+: _PyRuntime.tracemalloc */
};

/* How its hash table keeps an entry's key and value. */
enum sg_tm_table_kind {
	SG_TM_TABLE36, /* 3.6-3.8: key_size bytes of key, then the trace_t inline */
	SG_TM_TABLE39, /* 3.9+: key and value are pointers, the value a trace_t* */
};

struct sg_pylayout {
	unsigned major, minor;
	enum sg_frame_kind frame_kind;
	enum sg_lasti_kind lasti_kind;
	enum sg_frame_state_kind frame_state_kind;
	enum sg_linetable_kind linetable_kind;
	enum sg_str_kind str_kind;
	enum sg_head_kind head_kind;
	enum sg_gil_kind gil_kind;

	struct {
		uint32_t interp_head;        /* interpreters.head */
		uint32_t gil_tstate_current; /* gilstate.tstate_current, 3.7-3.11 */
	} runtime;

	struct {
		uint32_t next;        /* PyInterpreterState.next */
		uint32_t tstate_head; /* tstate_head (threads.head on 3.12+) */
		uint32_t gil_locked;  /* _gil.locked, an int (3.12+) */
		uint32_t gil_holder;  /* _gil.last_holder, a tstate* (3.12+) */
	} interp;

	struct {
		uint32_t size;             /* bytes worth copying in one read */
		uint32_t next;             /* PyThreadState.next */
		uint32_t frame;            /* frame (<=3.10) or current_frame (3.13+) */
		uint32_t cframe;           /* cframe pointer (3.11, 3.12), else 0 */
		uint32_t cframe_current;   /* _PyCFrame.current_frame (3.11, 3.12) */
		uint32_t thread_id;        /* pthread_t of the thread */
		uint32_t native_thread_id; /* kernel tid (3.11+), else 0 */
		uint32_t datastack_chunk;  /* _PyStackChunk * holding frames (3.11+) */
		uint32_t datastack_top;    /* first free slot of that chunk */
	} tstate;

	struct {
		uint32_t size;         /* bytes worth copying in one read */
		uint32_t back;         /* f_back (<=3.10) / previous (3.11+) */
		uint32_t code;         /* f_code / f_executable */
		uint32_t lasti;        /* f_lasti (int) or prev_instr/instr_ptr */
		uint32_t state;        /* f_executing or f_state (char), <=3.10; see above */
		uint32_t owner;        /* owner (char), 3.11+, else 0 */
		uint32_t owner_cstack; /* owner value of C-stack shim frames (3.12+), else 0 */
		uint32_t is_entry;     /* is_entry (bool), 3.11 only, else 0 */
		uint32_t localsplus;   /* localsplus (3.11+): a frame's slots of 8 bytes
		                          start there, code.nlocalsplus + code.stacksize
		                          of them */
	} frame;

	struct {
		uint32_t size;          /* bytes worth copying in one read */
		uint32_t filename;      /* co_filename */
		uint32_t name;          /* co_name */
		uint32_t qualname;      /* co_qualname (3.11+), else 0 */
		uint32_t firstlineno;   /* co_firstlineno (int) */
		uint32_t stacksize;     /* co_stacksize (int), 3.11+, else 0 */
		uint32_t nlocalsplus;   /* co_nlocalsplus (int), 3.11+, else 0 */
		uint32_t linetable;     /* co_lnotab or co_linetable (bytes) */
		uint32_t code_adaptive; /* co_code_adaptive (3.11+), else 0 */
	} code;

	struct {
		uint32_t size; /* ob_size of PyBytesObject / PyStringObject */
		uint32_t sval; /* ob_sval */
	} bytes;

	/* Objects read to learn thread names (pythreads.c). */
	struct {
		enum sg_dict_kind dict_kind;
		enum sg_attr_kind attr_kind;
		enum sg_int_kind int_kind;
		uint32_t interp_modules;   /* PyInterpreterState modules dict */
		uint32_t module_dict;      /* PyModuleObject.md_dict */
		uint32_t dict_keys;        /* PyDictObject.ma_keys (2.7: ma_mask) */
		uint32_t dict_values;      /* PyDictObject.ma_values (2.7: ma_table) */
		uint32_t dictvalues_array; /* PyDictValues.values (3.11+) */
		uint32_t type_basicsize;   /* PyTypeObject.tp_basicsize */
		uint32_t type_dictoffset;  /* PyTypeObject.tp_dictoffset */
		uint32_t heaptype_keys;    /* PyHeapTypeObject.ht_cached_keys (3.11+) */
		uint32_t int_value;        /* ob_ival (2.7) or ob_digit */
	} obj;

	/* What a frame's arguments and locals are read through (pylocals.c). */
	struct {
		uint32_t frame_localsplus;    /* f_localsplus (<=3.10) / localsplus (3.11+) */
		uint32_t code_names;          /* co_varnames (<=3.10) / co_localsplusnames */
		uint32_t code_kinds;          /* co_localspluskinds (3.11+), else 0 */
		uint32_t code_cellvars;       /* co_cellvars (<=3.10), else 0: their cells
		                               * follow the locals in f_localsplus */
		uint32_t code_argcount;       /* co_argcount (int) */
		uint32_t code_kwonlyargcount; /* co_kwonlyargcount (int), 3.x, else 0 */
		uint32_t code_flags;          /* co_flags (int) */
		uint32_t type_name;           /* PyTypeObject.tp_name (const char *) */
		uint32_t type_flags;          /* tp_flags (unsigned long) */
		uint32_t var_size;            /* PyVarObject.ob_size */
		uint32_t tuple_items;         /* PyTupleObject.ob_item */
		uint32_t float_value;         /* PyFloatObject.ob_fval */
		uint32_t dict_used;           /* PyDictObject.ma_used */
		uint32_t set_used;            /* PySetObject.used */
		uint32_t cell_ref;            /* PyCellObject.ob_ref */
	} locals;

	struct {
		uint32_t length;       /* PyASCIIObject.length */
		uint32_t state;        /* PyASCIIObject.state (bit field word) */
		uint32_t ascii_data;   /* sizeof(PyASCIIObject) */
		uint32_t compact_data; /* sizeof(PyCompactUnicodeObject) */
	} unicode;

	/* What a census of the heap reads (pyheap.c). */
	struct {
		enum sg_gc_kind gc_kind;
		uint32_t generations;       /* gc.generations in runtime/interp (not SYMBOL) */
		uint32_t permanent;         /* gc.permanent_generation (3.7+), else 0 */
		uint32_t generation_size;   /* sizeof(struct gc_generation) */
		uint32_t gc_head_size;      /* sizeof(PyGC_Head): it precedes the object */
		uint32_t type_itemsize;     /* PyTypeObject.tp_itemsize */
		uint32_t type_dict;         /* PyTypeObject.tp_dict */
		uint32_t heaptype_qualname; /* PyHeapTypeObject.ht_qualname (3.x), else 0 */
		uint32_t list_items;        /* PyListObject.ob_item */
		uint32_t list_allocated;    /* PyListObject.allocated */
		uint32_t set_mask;          /* PySetObject.mask */
		uint32_t set_table;         /* PySetObject.table */
		uint32_t set_smalltable;    /* PySetObject.smalltable */
		uint32_t set_entry_size;    /* sizeof(setentry) */
		uint32_t set_entry_key;     /* setentry.key (after the hash on 2.7) */
		uint32_t func_closure;      /* PyFunctionObject.func_closure */
		uint32_t func_module;       /* PyFunctionObject.func_module (__module__) */
		uint32_t func_name;         /* func_qualname (3.x), func_name (2.7) */
	} heap;

	/* What tracemalloc's traces are read through (pytracemalloc.c). */
	struct {
		enum sg_tm_where where;
		enum sg_tm_table_kind table_kind;
		uint32_t runtime;         /* _PyRuntime.tracemalloc (RUNTIME), else 0 */
		uint32_t config_tracing;  /* config.tracing (int), in the config */
		uint32_t config_nframe;   /* config.max_nframe (int) */
		uint32_t state_config;    /* the config in the state (RUNTIME) */
		uint32_t state_traces;    /* traces, a _Py_hashtable_t* (RUNTIME) */
		uint32_t state_domains;   /* domains, a _Py_hashtable_t* (RUNTIME) */
		uint32_t ht_nentries;     /* _Py_hashtable_t.entries / nentries */
		uint32_t ht_nbuckets;     /* _Py_hashtable_t.num_buckets / nbuckets */
		uint32_t ht_buckets;      /* buckets, an array of entry pointers */
		uint32_t ht_key_size;     /* key_size (TABLE36), else 0 */
		uint32_t entry_next;      /* _Py_hashtable_entry_t: next in the bucket */
		uint32_t entry_hash;      /* key_hash (Py_uhash_t) */
		uint32_t entry_key;       /* the key (inline on TABLE36) */
		uint32_t entry_value;     /* the value pointer (TABLE39), else 0 */
		uint32_t trace_size;      /* trace_t.size (size_t) */
		uint32_t trace_traceback; /* trace_t.traceback, a traceback_t* */
		uint32_t tb_nframe;       /* traceback_t.nframe */
		uint32_t tb_nframe_size;  /* its width: 4 (int, <=3.8) or 2 (uint16_t) */
		uint32_t tb_frames;       /* traceback_t.frames, packed frame_t */
		uint32_t frame_size;      /* sizeof(frame_t): filename, then lineno */
		uint32_t frame_lineno;    /* frame_t.lineno (unsigned int) */
	} tracemalloc;
};

/* The built-in row for major.minor, or NULL. 3.13+ have no row: use
 * sg_pylayout_from_debug_offsets() in debug_offsets.h. */
const struct sg_pylayout *sg_pylayout_find(unsigned major, unsigned minor);

#endif
