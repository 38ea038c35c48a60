/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "python/debug_offsets.h"
#include "util/err.h"

/* Each field's index, in u64 words, in 3.13's _Py_DebugOffsets (from
 * Include/internal/pycore_runtime.h); the cookie fills word 0. */
enum slot {
	VERSION = 1,
	FREE_THREADED = 2,
	RUNTIME_INTERP_HEAD = 5,
	INTERP_SIZE = 6,
	INTERP_NEXT = 8,
	INTERP_THREADS_HEAD = 9,
	INTERP_IMPORTS_MODULES = 11,
	INTERP_GIL_LOCKED = 17,
	INTERP_GIL_HOLDER = 18,
	TSTATE_SIZE = 19,
	TSTATE_NEXT = 21,
	TSTATE_CURRENT_FRAME = 23,
	TSTATE_THREAD_ID = 24,
	TSTATE_NATIVE_THREAD_ID = 25,
	TSTATE_DATASTACK_CHUNK = 26,
	FRAME_SIZE = 28,
	FRAME_PREVIOUS = 29,
	FRAME_EXECUTABLE = 30,
	FRAME_INSTR_PTR = 31,
	FRAME_LOCALSPLUS = 32,
	FRAME_OWNER = 33,
	CODE_SIZE = 34,
	CODE_FILENAME = 35,
	CODE_NAME = 36,
	CODE_QUALNAME = 37,
	CODE_LINETABLE = 38,
	CODE_FIRSTLINENO = 39,
	CODE_ARGCOUNT = 40,
	CODE_LOCALSPLUSNAMES = 41,
	CODE_LOCALSPLUSKINDS = 42,
	CODE_ADAPTIVE = 43,
	PYOBJECT_SIZE = 44,
	TYPE_SIZE = 46,
	TYPE_TP_NAME = 47,
	TYPE_TP_FLAGS = 49,
	TUPLE_SIZE = 50,
	TUPLE_OB_ITEM = 51,
	TUPLE_OB_SIZE = 52,
	DICT_SIZE = 56,
	DICT_MA_KEYS = 57,
	DICT_MA_VALUES = 58,
	FLOAT_SIZE = 59,
	FLOAT_OB_FVAL = 60,
	LONG_SIZE = 61,
	LONG_OB_DIGIT = 63,
	BYTES_OB_SIZE = 65,
	BYTES_OB_SVAL = 66,
	UNICODE_STATE = 68,
	UNICODE_LENGTH = 69,
	UNICODE_ASCII_SIZE = 70,
	SLOTS_313 = 73,
};

/* No struct we read is anywhere near this; larger means garbage. */
#define MAX_OFFSET 65536
/* What we copy of a struct in one read (pywalk's buffers). */
#define MAX_COPY 1024

/* 3.13's FRAME_OWNED_BY_CSTACK (Include/internal/pycore_frame.h). */
#define OWNER_CSTACK_313 3
/* PyCompactUnicodeObject adds utf8_length and utf8 to PyASCIIObject. */
#define COMPACT_EXTRA 16
/* Not in _Py_DebugOffsets; from the 3.13.0 headers. PyTypeObject's head
 * has kept this layout since 2.7 (see every row of layouts.c). */
#define TYPE_BASICSIZE           32
#define TYPE_DICTOFFSET          288
#define HEAPTYPE_CACHED_KEYS_313 880
#define DICTVALUES_ARRAY_313     8 /* after capacity, size, embedded, valid */
#define CODE_KWONLYARGCOUNT_313  60
#define CODE_FLAGS_313           48
#define DICT_MA_USED             16 /* since 3.0: first after the header */
#define SET_USED                 24 /* since 2.7: after fill */
#define CELL_OB_REF              16 /* since 2.7: the only member */
/* The heap group, none of it in 3.13's _Py_DebugOffsets: printed by
 * tools/gen-layouts.sh (probe-heap.c) from the 3.13.0 headers. */
static const struct {
	uint32_t generations, permanent, generation_size, gc_head_size, type_itemsize, type_dict,
	    heaptype_qualname, list_items, list_allocated, set_mask, set_table, set_smalltable,
	    set_entry_size, set_entry_key, func_closure, func_module, func_name;
} heap313 = {
    .generations = 7424,
    .permanent = 7504,
    .generation_size = 24,
    .gc_head_size = 16,
    .type_itemsize = 40,
    .type_dict = 264,
    .heaptype_qualname = 872,
    .list_items = 24,
    .list_allocated = 32,
    .set_mask = 32,
    .set_table = 40,
    .set_smalltable = 64,
    .set_entry_size = 16,
    .set_entry_key = 0,
    .func_closure = 72,
    .func_module = 104,
    .func_name = 40,
};

/* tracemalloc's group, not in _Py_DebugOffsets either: printed by
 * tools/gen-layouts.sh (probe-heap.c) from the 3.13.0 headers. */
/* clang-format off */
static const struct sg_pylayout tm313 = {
	.tracemalloc = {
		.where = SG_TM_RUNTIME,
		.runtime = 10080,
		.config_tracing = 4,
		.config_nframe = 8,
		.state_config = 0,
		.state_traces = 184,
		.state_domains = 192,
		.table_kind = SG_TM_TABLE39,
		.ht_nentries = 0,
		.ht_nbuckets = 8,
		.ht_buckets = 16,
		.entry_next = 0,
		.entry_hash = 8,
		.entry_key = 16,
		.entry_value = 24,
		.trace_size = 0,
		.trace_traceback = 8,
		.tb_nframe = 8,
		.tb_nframe_size = 2,
		.tb_frames = 12,
		.frame_size = 12,
		.frame_lineno = 8,
	},
};
/* clang-format on */

static uint64_t word(const unsigned char *buf, enum slot s)
{
	uint64_t v;

	memcpy(&v, buf + 8 * (size_t)s, sizeof(v));
	return v;
}

/* An offset of a field of width bytes inside a struct of size bytes. */
static int field(const unsigned char *buf, enum slot off, uint64_t size, uint64_t width,
                 uint32_t *out)
{
	uint64_t v = word(buf, off);

	if (v > MAX_OFFSET || v + width > size)
		return SG_ECORRUPT;
	*out = (uint32_t)v;
	return 0;
}

static int struct_size(const unsigned char *buf, enum slot s, uint64_t max, uint32_t *out)
{
	uint64_t v = word(buf, s);

	if (v == 0 || v > max)
		return SG_ECORRUPT;
	*out = (uint32_t)v;
	return 0;
}

int sg_pylayout_from_debug_offsets(const void *buf_in, size_t len, struct sg_pylayout *out)
{
	const unsigned char *buf = buf_in;
	struct sg_pylayout l;
	uint64_t version, interp_size, ascii;
	int err = 0;

	if (len < 8 * SLOTS_313 || memcmp(buf, "xdebugpy", 8) != 0)
		return SG_ECORRUPT;
	version = word(buf, VERSION);
	if ((version >> 24) != 3 || ((version >> 16) & 0xff) != 13)
		return SG_EVERSION;
	/* Free-threaded builds lay out objects differently (ob_tid, ...). */
	if (word(buf, FREE_THREADED))
		return SG_EVERSION;

	memset(&l, 0, sizeof(l));
	l.major = 3;
	l.minor = 13;
	l.frame_kind = SG_FRAME_INTERP;
	l.lasti_kind = SG_LASTI_POINTER;
	l.linetable_kind = SG_LINETABLE_LOCATIONS;
	l.str_kind = SG_STR_UNICODE;
	l.head_kind = SG_HEAD_RUNTIME;
	l.gil_kind = SG_GIL_INTERP;
	l.frame.owner_cstack = OWNER_CSTACK_313;
	l.obj.dict_kind = SG_DICT_KEYS311;
	l.obj.attr_kind = SG_ATTR_INLINE313;
	l.obj.int_kind = SG_INT_LVTAG;
	l.obj.dictvalues_array = DICTVALUES_ARRAY_313;
	l.obj.type_basicsize = TYPE_BASICSIZE;
	l.obj.type_dictoffset = TYPE_DICTOFFSET;
	l.obj.heaptype_keys = HEAPTYPE_CACHED_KEYS_313;
	l.locals.code_kwonlyargcount = CODE_KWONLYARGCOUNT_313;
	l.locals.code_flags = CODE_FLAGS_313;
	l.locals.dict_used = DICT_MA_USED;
	l.locals.set_used = SET_USED;
	l.locals.cell_ref = CELL_OB_REF;
	l.heap.gc_kind = SG_GC_INTERP;
	l.heap.generations = heap313.generations;
	l.heap.permanent = heap313.permanent;
	l.heap.generation_size = heap313.generation_size;
	l.heap.gc_head_size = heap313.gc_head_size;
	l.heap.type_itemsize = heap313.type_itemsize;
	l.heap.type_dict = heap313.type_dict;
	l.heap.heaptype_qualname = heap313.heaptype_qualname;
	l.heap.list_items = heap313.list_items;
	l.heap.list_allocated = heap313.list_allocated;
	l.heap.set_mask = heap313.set_mask;
	l.heap.set_table = heap313.set_table;
	l.heap.set_smalltable = heap313.set_smalltable;
	l.heap.set_entry_size = heap313.set_entry_size;
	l.heap.set_entry_key = heap313.set_entry_key;
	l.heap.func_closure = heap313.func_closure;
	l.heap.func_module = heap313.func_module;
	l.heap.func_name = heap313.func_name;
	l.tracemalloc = tm313.tracemalloc;

	interp_size = word(buf, INTERP_SIZE);
	ascii = word(buf, UNICODE_ASCII_SIZE);
	if (interp_size == 0 || interp_size > 16 * MAX_OFFSET || ascii == 0 || ascii > 256)
		return SG_ECORRUPT;
	err |= field(buf, RUNTIME_INTERP_HEAD, MAX_OFFSET, 8, &l.runtime.interp_head);
	err |= field(buf, INTERP_NEXT, interp_size, 8, &l.interp.next);
	err |= field(buf, INTERP_THREADS_HEAD, interp_size, 8, &l.interp.tstate_head);
	err |= field(buf, INTERP_GIL_LOCKED, interp_size, 4, &l.interp.gil_locked);
	err |= field(buf, INTERP_GIL_HOLDER, interp_size, 8, &l.interp.gil_holder);
	err |= struct_size(buf, TSTATE_SIZE, MAX_COPY, &l.tstate.size);
	err |= struct_size(buf, FRAME_SIZE, MAX_COPY, &l.frame.size);
	err |= struct_size(buf, CODE_SIZE, MAX_COPY, &l.code.size);
	if (err)
		return SG_ECORRUPT;
	err |= field(buf, TSTATE_NEXT, l.tstate.size, 8, &l.tstate.next);
	err |= field(buf, TSTATE_CURRENT_FRAME, l.tstate.size, 8, &l.tstate.frame);
	err |= field(buf, TSTATE_THREAD_ID, l.tstate.size, 8, &l.tstate.thread_id);
	err |= field(buf, TSTATE_NATIVE_THREAD_ID, l.tstate.size, 8, &l.tstate.native_thread_id);
	/* datastack_top follows datastack_chunk (Include/cpython/pystate.h). */
	err |= field(buf, TSTATE_DATASTACK_CHUNK, l.tstate.size - 8, 8, &l.tstate.datastack_chunk);
	l.tstate.datastack_top = l.tstate.datastack_chunk + 8;
	err |= field(buf, FRAME_PREVIOUS, l.frame.size, 8, &l.frame.back);
	err |= field(buf, FRAME_EXECUTABLE, l.frame.size, 8, &l.frame.code);
	err |= field(buf, FRAME_INSTR_PTR, l.frame.size, 8, &l.frame.lasti);
	err |= field(buf, FRAME_OWNER, l.frame.size, 1, &l.frame.owner);
	err |= field(buf, CODE_FILENAME, l.code.size, 8, &l.code.filename);
	err |= field(buf, CODE_NAME, l.code.size, 8, &l.code.name);
	err |= field(buf, CODE_QUALNAME, l.code.size, 8, &l.code.qualname);
	err |= field(buf, CODE_LINETABLE, l.code.size, 8, &l.code.linetable);
	err |= field(buf, CODE_FIRSTLINENO, l.code.size, 4, &l.code.firstlineno);
	/* The bytecode follows the header: co_code_adaptive may equal size. */
	err |= field(buf, CODE_ADAPTIVE, l.code.size, 0, &l.code.code_adaptive);
	err |= field(buf, INTERP_IMPORTS_MODULES, interp_size, 8, &l.obj.interp_modules);
	err |= field(buf, DICT_MA_KEYS, word(buf, DICT_SIZE), 8, &l.obj.dict_keys);
	err |= field(buf, DICT_MA_VALUES, word(buf, DICT_SIZE), 8, &l.obj.dict_values);
	err |= field(buf, LONG_OB_DIGIT, word(buf, LONG_SIZE), 4, &l.obj.int_value);
	err |= field(buf, PYOBJECT_SIZE, MAX_OFFSET, 8, &l.obj.module_dict);
	err |= field(buf, BYTES_OB_SIZE, MAX_OFFSET, 8, &l.bytes.size);
	err |= field(buf, BYTES_OB_SVAL, MAX_OFFSET, 1, &l.bytes.sval);
	/* The frame's locals follow its header: localsplus may equal size. */
	err |= field(buf, FRAME_LOCALSPLUS, l.frame.size, 0, &l.locals.frame_localsplus);
	err |= field(buf, CODE_ARGCOUNT, l.code.size, 4, &l.locals.code_argcount);
	err |= field(buf, CODE_LOCALSPLUSNAMES, l.code.size, 8, &l.locals.code_names);
	err |= field(buf, CODE_LOCALSPLUSKINDS, l.code.size, 8, &l.locals.code_kinds);
	err |= field(buf, TYPE_TP_NAME, word(buf, TYPE_SIZE), 8, &l.locals.type_name);
	err |= field(buf, TYPE_TP_FLAGS, word(buf, TYPE_SIZE), 8, &l.locals.type_flags);
	err |= field(buf, TUPLE_OB_SIZE, word(buf, TUPLE_SIZE), 8, &l.locals.var_size);
	err |= field(buf, TUPLE_OB_ITEM, word(buf, TUPLE_SIZE), 0, &l.locals.tuple_items);
	err |= field(buf, FLOAT_OB_FVAL, word(buf, FLOAT_SIZE), 8, &l.locals.float_value);
	err |= field(buf, UNICODE_STATE, ascii, 4, &l.unicode.state);
	err |= field(buf, UNICODE_LENGTH, ascii, 8, &l.unicode.length);
	if (err)
		return SG_ECORRUPT;
	/* Not in _Py_DebugOffsets; from the 3.13.0 headers, as in 3.11 and
	 * 3.12: co_stacksize, co_firstlineno, co_nlocalsplus are consecutive
	 * ints, and the frame's slots (localsplus[1]) end _PyInterpreterFrame. */
	l.code.stacksize = l.code.firstlineno - 4;
	l.code.nlocalsplus = l.code.firstlineno + 4;
	l.frame.localsplus = l.frame.size - 8;
	if (l.code.firstlineno < 4 || l.code.nlocalsplus + 4 > l.code.size || l.frame.size < 8 ||
	    l.frame.owner >= l.frame.localsplus)
		return SG_ECORRUPT;
	/* pystr reads the whole compact header at once into 128 bytes. */
	l.unicode.ascii_data = (uint32_t)ascii;
	l.unicode.compact_data = (uint32_t)ascii + COMPACT_EXTRA;
	if (l.unicode.compact_data > 128)
		return SG_ECORRUPT;
	*out = l;
	return 0;
}
