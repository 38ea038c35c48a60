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
	FRAME_OWNER = 33,
	CODE_SIZE = 34,
	CODE_FILENAME = 35,
	CODE_NAME = 36,
	CODE_QUALNAME = 37,
	CODE_LINETABLE = 38,
	CODE_FIRSTLINENO = 39,
	CODE_ADAPTIVE = 43,
	PYOBJECT_SIZE = 44,
	DICT_SIZE = 56,
	DICT_MA_KEYS = 57,
	DICT_MA_VALUES = 58,
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
	err |= field(buf, UNICODE_STATE, ascii, 4, &l.unicode.state);
	err |= field(buf, UNICODE_LENGTH, ascii, 8, &l.unicode.length);
	if (err)
		return SG_ECORRUPT;
	/* pystr reads the whole compact header at once into 128 bytes. */
	l.unicode.ascii_data = (uint32_t)ascii;
	l.unicode.compact_data = (uint32_t)ascii + COMPACT_EXTRA;
	if (l.unicode.compact_data > 128)
		return SG_ECORRUPT;
	*out = l;
	return 0;
}
