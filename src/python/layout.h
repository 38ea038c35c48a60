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

#include <stddef.h>
#include <stdint.h>

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
		uint32_t owner;        /* owner (char), 3.12+, else 0 */
		uint32_t owner_cstack; /* owner value of C-stack shim frames */
	} frame;

	struct {
		uint32_t size;          /* bytes worth copying in one read */
		uint32_t filename;      /* co_filename */
		uint32_t name;          /* co_name */
		uint32_t qualname;      /* co_qualname (3.11+), else 0 */
		uint32_t firstlineno;   /* co_firstlineno (int) */
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

	struct {
		uint32_t length;       /* PyASCIIObject.length */
		uint32_t state;        /* PyASCIIObject.state (bit field word) */
		uint32_t ascii_data;   /* sizeof(PyASCIIObject) */
		uint32_t compact_data; /* sizeof(PyCompactUnicodeObject) */
	} unicode;
};

/* The built-in row for major.minor, or NULL. 3.13+ have no row: use
 * sg_pylayout_from_debug_offsets() in debug_offsets.h. */
const struct sg_pylayout *sg_pylayout_find(unsigned major, unsigned minor);

#endif
