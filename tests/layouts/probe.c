/* SPDX-License-Identifier: MIT */
/*
 * Checks the built-in layout row (src/python/layouts.c) of the CPython whose
 * headers this is compiled against: tests/integration/test_layouts.py builds
 * it once per installed version, with layouts.c linked in.
 *
 * Every offset in the row is compared with offsetof() of the real member, the
 * member's width with the bytes spyglass reads there, every member read out of
 * a struct copy with that copy's size, and every size with sizeof() of the
 * real struct. A field no check here claims must be 0 (layout.h: "no such
 * field"), so a row cannot hold a number nothing vouches for.
 *
 * Prints a line per failed check, then a summary; exits 1 on any failure.
 */
#define Py_BUILD_CORE 1 /* the internal headers hold the runtime's structs */
#include <Python.h>
#include <frameobject.h>

/* Where each version keeps the structs its row describes. */
#if PY_MAJOR_VERSION == 3 && PY_MINOR_VERSION < 11
#include <longintrepr.h> /* PyLongObject; Python.h has it from 3.11 */
#endif
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x03080000
#include <internal/pystate.h>
#elif PY_VERSION_HEX >= 0x03080000 && PY_VERSION_HEX < 0x03090000
#include <internal/pycore_pystate.h>
#elif PY_VERSION_HEX >= 0x03090000
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>
#endif
#if PY_VERSION_HEX >= 0x030a0000
#include <internal/pycore_moduleobject.h>
#endif
#if PY_VERSION_HEX >= 0x030b0000
#include <internal/pycore_dict.h>
#include <internal/pycore_frame.h>
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/layout.h"

/* Every uint32_t field of struct sg_pylayout, by name. */
#define ROW_FIELDS(X)                                                                              \
	X(runtime.interp_head)                                                                     \
	X(runtime.gil_tstate_current)                                                              \
	X(interp.next)                                                                             \
	X(interp.tstate_head)                                                                      \
	X(interp.gil_locked)                                                                       \
	X(interp.gil_holder)                                                                       \
	X(tstate.size)                                                                             \
	X(tstate.next)                                                                             \
	X(tstate.frame)                                                                            \
	X(tstate.cframe)                                                                           \
	X(tstate.cframe_current)                                                                   \
	X(tstate.thread_id)                                                                        \
	X(tstate.native_thread_id)                                                                 \
	X(tstate.datastack_chunk)                                                                  \
	X(tstate.datastack_top)                                                                    \
	X(frame.size)                                                                              \
	X(frame.back)                                                                              \
	X(frame.code)                                                                              \
	X(frame.lasti)                                                                             \
	X(frame.state)                                                                             \
	X(frame.owner)                                                                             \
	X(frame.owner_cstack)                                                                      \
	X(frame.is_entry)                                                                          \
	X(frame.localsplus)                                                                        \
	X(code.size)                                                                               \
	X(code.filename)                                                                           \
	X(code.name)                                                                               \
	X(code.qualname)                                                                           \
	X(code.firstlineno)                                                                        \
	X(code.stacksize)                                                                          \
	X(code.nlocalsplus)                                                                        \
	X(code.linetable)                                                                          \
	X(code.code_adaptive)                                                                      \
	X(bytes.size)                                                                              \
	X(bytes.sval)                                                                              \
	X(obj.interp_modules)                                                                      \
	X(obj.module_dict)                                                                         \
	X(obj.dict_keys)                                                                           \
	X(obj.dict_values)                                                                         \
	X(obj.dictvalues_array)                                                                    \
	X(obj.type_basicsize)                                                                      \
	X(obj.type_dictoffset)                                                                     \
	X(obj.heaptype_keys)                                                                       \
	X(obj.int_value)                                                                           \
	X(locals.frame_localsplus)                                                                 \
	X(locals.code_names)                                                                       \
	X(locals.code_kinds)                                                                       \
	X(locals.code_cellvars)                                                                    \
	X(locals.code_argcount)                                                                    \
	X(locals.code_kwonlyargcount)                                                              \
	X(locals.code_flags)                                                                       \
	X(locals.type_name)                                                                        \
	X(locals.type_flags)                                                                       \
	X(locals.var_size)                                                                         \
	X(locals.tuple_items)                                                                      \
	X(locals.float_value)                                                                      \
	X(locals.dict_used)                                                                        \
	X(locals.set_used)                                                                         \
	X(locals.cell_ref)                                                                         \
	X(unicode.length)                                                                          \
	X(unicode.state)                                                                           \
	X(unicode.ascii_data)                                                                      \
	X(unicode.compact_data)                                                                    \
	X(heap.generations)                                                                        \
	X(heap.permanent)                                                                          \
	X(heap.generation_size)                                                                    \
	X(heap.gc_head_size)                                                                       \
	X(heap.type_itemsize)                                                                      \
	X(heap.type_dict)                                                                          \
	X(heap.heaptype_qualname)                                                                  \
	X(heap.list_items)                                                                         \
	X(heap.list_allocated)                                                                     \
	X(heap.set_mask)                                                                           \
	X(heap.set_table)                                                                          \
	X(heap.set_smalltable)                                                                     \
	X(heap.set_entry_size)                                                                     \
	X(heap.set_entry_key)                                                                      \
	X(heap.func_closure)                                                                       \
	X(heap.func_module)                                                                        \
	X(heap.func_name)                                                                          \
	X(tracemalloc.runtime)                                                                     \
	X(tracemalloc.config_tracing)                                                              \
	X(tracemalloc.config_nframe)                                                               \
	X(tracemalloc.state_config)                                                                \
	X(tracemalloc.state_traces)                                                                \
	X(tracemalloc.state_domains)                                                               \
	X(tracemalloc.ht_nentries)                                                                 \
	X(tracemalloc.ht_nbuckets)                                                                 \
	X(tracemalloc.ht_buckets)                                                                  \
	X(tracemalloc.ht_key_size)                                                                 \
	X(tracemalloc.entry_next)                                                                  \
	X(tracemalloc.entry_hash)                                                                  \
	X(tracemalloc.entry_key)                                                                   \
	X(tracemalloc.entry_value)                                                                 \
	X(tracemalloc.trace_size)                                                                  \
	X(tracemalloc.trace_traceback)                                                             \
	X(tracemalloc.tb_nframe)                                                                   \
	X(tracemalloc.tb_nframe_size)                                                              \
	X(tracemalloc.tb_frames)                                                                   \
	X(tracemalloc.frame_size)                                                                  \
	X(tracemalloc.frame_lineno)

#define FIELD_ENTRY(f) {#f, offsetof(struct sg_pylayout, f), false},
#define FIELD_COUNT(f) +1

/* major, minor and the thirteen kinds are checked by name below. */
enum { N_FIELDS = 0 ROW_FIELDS(FIELD_COUNT), N_OTHERS = 15 };
_Static_assert(sizeof(struct sg_pylayout) == (N_FIELDS + N_OTHERS) * sizeof(uint32_t),
               "struct sg_pylayout changed: list its new fields in ROW_FIELDS and check them");

static struct {
	const char *name;
	size_t at;
	bool checked;
} fields[] = {ROW_FIELDS(FIELD_ENTRY)};

static const struct sg_pylayout *row;
static unsigned checks, failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s ", PY_VERSION);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	failures++;
}

static void claim(const char *name)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(fields[i].name, name) == 0) {
			fields[i].checked = true;
			return;
		}
	}
	fprintf(stderr, "probe.c: %s is not in ROW_FIELDS\n", name);
	exit(2);
}

/* The row's value of a field that is a plain number (a size, a constant). */
static void same(const char *name, uint32_t row_value, size_t header_value, const char *what)
{
	claim(name);
	checks++;
	if (row_value != header_value)
		fail("%s: row %u, headers %zu (%s)", name, row_value, header_value, what);
}

/*
 * The row's offset of a member: it must be offsetof(), spyglass must read as
 * many bytes there as the member has (reads; ADDR when it only takes the
 * member's address), and when the member is read out of a copy of `within`
 * bytes (a row's size), it must end inside that copy.
 */
enum { ADDR = 0 };
static void reads_all(const char *name, size_t reads, size_t width, const char *what)
{
	checks++;
	if (reads != width)
		fail("%s: spyglass reads %zu bytes there, the member has %zu (%s)", name, reads,
		     width, what);
}

static void member(const char *name, uint32_t row_value, size_t offset, size_t width, size_t reads,
                   uint32_t within, const char *what)
{
	same(name, row_value, offset, what);
	if (reads != ADDR)
		reads_all(name, reads, width, what);
	if (within) {
		size_t end = row_value + (reads != ADDR ? reads : width);

		checks++;
		if (end > within)
			fail("%s: ends at %zu, past the %u bytes the row copies", name, end,
			     within);
	}
}

/* A copy size of the row: no larger than the struct it copies. */
static void fits(const char *name, uint32_t row_value, size_t header_size, const char *what)
{
	claim(name);
	checks++;
	if (row_value > header_size)
		fail("%s: row %u, larger than %s = %zu", name, row_value, what, header_size);
}

static void kind(const char *name, int row_value, int header_value)
{
	checks++;
	if (row_value != header_value)
		fail("%s: row %d, this version's is %d (layout.h's enum)", name, row_value,
		     header_value);
}

#define WIDTH(type, m) sizeof(((type *)0)->m)
#define AT(f, type, m, reads, within)                                                              \
	member(#f, row->f, offsetof(type, m), WIDTH(type, m), reads, within,                       \
	       "offsetof(" #type ", " #m ")")
#define SAME(f, value) same(#f, row->f, value, #value)
#define FITS(f, type)  fits(#f, row->f, sizeof(type), "sizeof(" #type ")")
#define KIND(f, value) kind(#f, (int)row->f, value)

/* The kinds follow the version, as layout.h's enums document. */
static void check_kinds(void)
{
	KIND(frame_kind, PY_VERSION_HEX >= 0x030b0000 ? SG_FRAME_INTERP : SG_FRAME_OBJECT);
	KIND(lasti_kind, PY_VERSION_HEX >= 0x030b0000   ? SG_LASTI_POINTER
	                 : PY_VERSION_HEX >= 0x030a0000 ? SG_LASTI_UNITS
	                                                : SG_LASTI_BYTES);
	KIND(frame_state_kind, PY_VERSION_HEX >= 0x030b0000   ? SG_STATE_NONE
	                       : PY_VERSION_HEX >= 0x030a0000 ? SG_STATE_310
	                       : PY_MAJOR_VERSION == 3        ? SG_STATE_EXECUTING
	                                                      : SG_STATE_GC_REFS27);
	KIND(linetable_kind, PY_VERSION_HEX >= 0x030b0000   ? SG_LINETABLE_LOCATIONS
	                     : PY_VERSION_HEX >= 0x030a0000 ? SG_LINETABLE_310
	                     : PY_MAJOR_VERSION == 3        ? SG_LINETABLE_LNOTAB
	                                                    : SG_LINETABLE_LNOTAB2);
	KIND(str_kind, PY_MAJOR_VERSION == 3 ? SG_STR_UNICODE : SG_STR_BYTES);
	KIND(head_kind, PY_VERSION_HEX >= 0x03070000 ? SG_HEAD_RUNTIME : SG_HEAD_SYMBOL);
	KIND(gil_kind, PY_VERSION_HEX >= 0x030c0000   ? SG_GIL_INTERP
	               : PY_VERSION_HEX >= 0x03070000 ? SG_GIL_RUNTIME
	                                              : SG_GIL_SYMBOL);
	KIND(obj.dict_kind, PY_VERSION_HEX >= 0x030b0000 ? SG_DICT_KEYS311
	                    : PY_MAJOR_VERSION == 3      ? SG_DICT_KEYS36
	                                                 : SG_DICT_TABLE27);
	KIND(obj.attr_kind, PY_VERSION_HEX >= 0x030c0000   ? SG_ATTR_TAGGED312
	                    : PY_VERSION_HEX >= 0x030b0000 ? SG_ATTR_MANAGED311
	                                                   : SG_ATTR_DICTOFFSET);
	KIND(heap.gc_kind, PY_VERSION_HEX >= 0x03090000   ? SG_GC_INTERP
	                   : PY_VERSION_HEX >= 0x03070000 ? SG_GC_RUNTIME
	                                                  : SG_GC_SYMBOL);
	KIND(obj.int_kind, PY_VERSION_HEX >= 0x030c0000 ? SG_INT_LVTAG
	                   : PY_MAJOR_VERSION == 3      ? SG_INT_OBSIZE
	                                                : SG_INT_PYINT27);
	KIND(tracemalloc.where, PY_VERSION_HEX >= 0x030c0000 ? SG_TM_RUNTIME
	                        : PY_MAJOR_VERSION == 3      ? SG_TM_SYMBOL
	                                                     : SG_TM_NONE);
	KIND(tracemalloc.table_kind, PY_VERSION_HEX >= 0x03090000 ? SG_TM_TABLE39 : SG_TM_TABLE36);
}

static void check_runtime_interp(void)
{
#if PY_VERSION_HEX >= 0x03070000
	AT(runtime.interp_head, _PyRuntimeState, interpreters.head, 8, 0);
#endif
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x030c0000
	AT(runtime.gil_tstate_current, _PyRuntimeState, gilstate.tstate_current, 8, 0);
#endif
	AT(interp.next, PyInterpreterState, next, 8, 0);
#if PY_VERSION_HEX >= 0x030b0000
	AT(interp.tstate_head, PyInterpreterState, threads.head, 8, 0);
#else
	AT(interp.tstate_head, PyInterpreterState, tstate_head, 8, 0);
#endif
#if PY_VERSION_HEX >= 0x030c0000
	AT(interp.gil_locked, PyInterpreterState, _gil.locked, 4, 0);
	AT(interp.gil_holder, PyInterpreterState, _gil.last_holder, 8, 0);
#endif
}

/* A thread state is copied in one read of tstate.size bytes. */
static void check_tstate(void)
{
	uint32_t size = row->tstate.size;

	FITS(tstate.size, PyThreadState);
	AT(tstate.next, PyThreadState, next, 8, size);
	AT(tstate.thread_id, PyThreadState, thread_id, 8, size);
#if PY_VERSION_HEX >= 0x030b0000
	AT(tstate.cframe, PyThreadState, cframe, 8, size);
	AT(tstate.cframe_current, _PyCFrame, current_frame, 8, 0);
	AT(tstate.native_thread_id, PyThreadState, native_thread_id, 8, size);
	AT(tstate.datastack_chunk, PyThreadState, datastack_chunk, 8, size);
	AT(tstate.datastack_top, PyThreadState, datastack_top, 8, size);
#else
	AT(tstate.frame, PyThreadState, frame, 8, size);
#endif
}

/* A frame is copied in one read of frame.size bytes. */
static void check_frame(void)
{
	uint32_t size = row->frame.size;

#if PY_VERSION_HEX >= 0x030b0000
	FITS(frame.size, _PyInterpreterFrame);
	AT(frame.back, _PyInterpreterFrame, previous, 8, size);
	AT(frame.code, _PyInterpreterFrame, f_code, 8, size);
	AT(frame.lasti, _PyInterpreterFrame, prev_instr, 8, size);
#else
	FITS(frame.size, PyFrameObject);
	AT(frame.back, PyFrameObject, f_back, 8, size);
	AT(frame.code, PyFrameObject, f_code, 8, size);
	AT(frame.lasti, PyFrameObject, f_lasti, 4, size);
#if PY_VERSION_HEX >= 0x030a0000
	AT(frame.state, PyFrameObject, f_state, 1, size);
#elif PY_MAJOR_VERSION == 3
	AT(frame.state, PyFrameObject, f_executing, 1, size);
#else
	/* 2.7 marks a finished frame in the GC header in front of it: frame.state
	 * is how far before the frame its gc_refs starts. */
	SAME(frame.state, sizeof(PyGC_Head) - offsetof(PyGC_Head, gc.gc_refs));
	reads_all("frame.state", 8, WIDTH(PyGC_Head, gc.gc_refs), "PyGC_Head.gc.gc_refs");
#endif
#endif
#if PY_VERSION_HEX >= 0x030b0000
	AT(frame.owner, _PyInterpreterFrame, owner, 1, size);
	/* A frame's slots end the struct; pywalk counts a frame's size from them. */
	AT(frame.localsplus, _PyInterpreterFrame, localsplus, ADDR, 0);
	SAME(frame.localsplus, sizeof(_PyInterpreterFrame) - sizeof(PyObject *));
	SAME(frame.localsplus, 8 * FRAME_SPECIALS_SIZE);
#endif
#if PY_VERSION_HEX >= 0x030c0000
	/* 3.11 pushes no C-stack shim frames. */
	SAME(frame.owner_cstack, FRAME_OWNED_BY_CSTACK);
#elif PY_VERSION_HEX >= 0x030b0000
	/* Only 3.11 marks the frame an eval call entered with (merge.h). */
	AT(frame.is_entry, _PyInterpreterFrame, is_entry, 1, size);
#endif
}

/* A code object is copied in one read of code.size bytes; its line table
 * and instructions are read on their own. */
static void check_code(void)
{
	uint32_t size = row->code.size;

	FITS(code.size, PyCodeObject);
	AT(code.filename, PyCodeObject, co_filename, 8, size);
	AT(code.name, PyCodeObject, co_name, 8, size);
	AT(code.firstlineno, PyCodeObject, co_firstlineno, 4, size);
#if PY_VERSION_HEX >= 0x030b0000
	AT(code.qualname, PyCodeObject, co_qualname, 8, size);
	AT(code.stacksize, PyCodeObject, co_stacksize, 4, size);
	AT(code.nlocalsplus, PyCodeObject, co_nlocalsplus, 4, size);
	AT(code.code_adaptive, PyCodeObject, co_code_adaptive, ADDR, 0);
#endif
#if PY_VERSION_HEX >= 0x030a0000
	AT(code.linetable, PyCodeObject, co_linetable, 8, 0);
#else
	AT(code.linetable, PyCodeObject, co_lnotab, 8, 0);
#endif
}

static void check_strings(void)
{
#if PY_MAJOR_VERSION == 2
	AT(bytes.size, PyStringObject, ob_size, 8, 0);
	AT(bytes.sval, PyStringObject, ob_sval, ADDR, 0);
#else
	AT(bytes.size, PyBytesObject, ob_base.ob_size, 8, 0);
	AT(bytes.sval, PyBytesObject, ob_sval, ADDR, 0);
	/* A str's header is copied in one read of unicode.compact_data bytes. */
	SAME(unicode.ascii_data, sizeof(PyASCIIObject));
	SAME(unicode.compact_data, sizeof(PyCompactUnicodeObject));
	AT(unicode.length, PyASCIIObject, length, 8, row->unicode.compact_data);
	AT(unicode.state, PyASCIIObject, state, 4, row->unicode.compact_data);
#endif
}

/* What thread names are read through (pythreads.c). */
static void check_objects(void)
{
#if PY_VERSION_HEX >= 0x030c0000
	AT(obj.interp_modules, PyInterpreterState, imports.modules, 8, 0);
#else
	AT(obj.interp_modules, PyInterpreterState, modules, 8, 0);
#endif
#if PY_VERSION_HEX >= 0x030a0000
	AT(obj.module_dict, PyModuleObject, md_dict, 8, 0);
#else
	/* PyModuleObject is private to moduleobject.c before 3.10; there md_dict
	 * is the first member after the object header. */
	SAME(obj.module_dict, sizeof(PyObject));
#endif
#if PY_MAJOR_VERSION == 2
	AT(obj.dict_keys, PyDictObject, ma_mask, 8, 0);
	AT(obj.dict_values, PyDictObject, ma_table, 8, 0);
	AT(obj.int_value, PyIntObject, ob_ival, 8, 0);
#else
	AT(obj.dict_keys, PyDictObject, ma_keys, 8, 0);
	AT(obj.dict_values, PyDictObject, ma_values, 8, 0);
#if PY_VERSION_HEX >= 0x030c0000
	AT(obj.int_value, PyLongObject, long_value.ob_digit, 4, 0);
#else
	AT(obj.int_value, PyLongObject, ob_digit, 4, 0);
#endif
#endif
#if PY_VERSION_HEX >= 0x030b0000
	AT(obj.dictvalues_array, PyDictValues, values, ADDR, 0);
	AT(obj.heaptype_keys, PyHeapTypeObject, ht_cached_keys, 8, 0);
#endif
	AT(obj.type_basicsize, PyTypeObject, tp_basicsize, 8, 0);
	AT(obj.type_dictoffset, PyTypeObject, tp_dictoffset, 8, 0);
}

/* What a frame's arguments and locals are read through (pylocals.c): the
 * code object's members out of its copy of code.size bytes. */
static void check_locals(void)
{
	uint32_t code = row->code.size;

#if PY_VERSION_HEX >= 0x030b0000
	AT(locals.frame_localsplus, _PyInterpreterFrame, localsplus, ADDR, 0);
	AT(locals.code_names, PyCodeObject, co_localsplusnames, 8, code);
	AT(locals.code_kinds, PyCodeObject, co_localspluskinds, 8, code);
#else
	AT(locals.frame_localsplus, PyFrameObject, f_localsplus, ADDR, 0);
	AT(locals.code_names, PyCodeObject, co_varnames, 8, code);
	AT(locals.code_cellvars, PyCodeObject, co_cellvars, 8, code);
#endif
	AT(locals.code_argcount, PyCodeObject, co_argcount, 4, code);
#if PY_MAJOR_VERSION == 3
	AT(locals.code_kwonlyargcount, PyCodeObject, co_kwonlyargcount, 4, code);
#endif
	AT(locals.code_flags, PyCodeObject, co_flags, 4, code);
	AT(locals.type_name, PyTypeObject, tp_name, 8, 0);
	AT(locals.type_flags, PyTypeObject, tp_flags, 8, 0);
	AT(locals.var_size, PyVarObject, ob_size, 8, 0);
	AT(locals.tuple_items, PyTupleObject, ob_item, ADDR, 0);
	AT(locals.float_value, PyFloatObject, ob_fval, 8, 0);
	AT(locals.dict_used, PyDictObject, ma_used, 8, 0);
	AT(locals.set_used, PySetObject, used, 8, 0);
	AT(locals.cell_ref, PyCellObject, ob_ref, 8, 0);
}

#if PY_VERSION_HEX < 0x03070000
/* Private to Modules/gcmodule.c before 3.7; its definition there. */
struct gc_generation {
	PyGC_Head head;
	int threshold;
	int count;
};
#endif

/* What a heap census reads (pyheap.c): the collector's lists, and what the
 * objects own. */
static void check_heap(void)
{
#if PY_VERSION_HEX >= 0x03090000
	AT(heap.generations, PyInterpreterState, gc.generations, ADDR, 0);
	AT(heap.permanent, PyInterpreterState, gc.permanent_generation, ADDR, 0);
#elif PY_VERSION_HEX >= 0x03070000
	AT(heap.generations, _PyRuntimeState, gc.generations, ADDR, 0);
	AT(heap.permanent, _PyRuntimeState, gc.permanent_generation, ADDR, 0);
#endif
	SAME(heap.generation_size, sizeof(struct gc_generation));
	SAME(heap.gc_head_size, sizeof(PyGC_Head));
	/* The census follows gc_next, the first word of the head. */
	checks++;
	if (offsetof(struct gc_generation, head) != 0)
		fail("gc_generation.head is not first");
	AT(heap.type_itemsize, PyTypeObject, tp_itemsize, 8, 0);
	AT(heap.type_dict, PyTypeObject, tp_dict, 8, 0);
#if PY_MAJOR_VERSION == 3
	AT(heap.heaptype_qualname, PyHeapTypeObject, ht_qualname, 8, 0);
#endif
	AT(heap.list_items, PyListObject, ob_item, 8, 0);
	AT(heap.list_allocated, PyListObject, allocated, 8, 0);
	AT(heap.set_mask, PySetObject, mask, 8, 0);
	AT(heap.set_table, PySetObject, table, 8, 0);
	AT(heap.set_smalltable, PySetObject, smalltable, ADDR, 0);
	SAME(heap.set_entry_size, sizeof(setentry));
	SAME(heap.set_entry_key, offsetof(setentry, key));
	AT(heap.func_closure, PyFunctionObject, func_closure, 8, 0);
	AT(heap.func_module, PyFunctionObject, func_module, 8, 0);
#if PY_MAJOR_VERSION == 3
	AT(heap.func_name, PyFunctionObject, func_qualname, 8, 0);
#else
	AT(heap.func_name, PyFunctionObject, func_name, 8, 0);
#endif
}

#if PY_VERSION_HEX >= 0x03090000
#include <internal/pycore_hashtable.h>
#endif
#if PY_VERSION_HEX >= 0x030c0000
#include <internal/pycore_tracemalloc.h>
#endif

/* What tracemalloc's traces are read through (pytracemalloc.c). Before
 * 3.12 its structs, and before 3.9 its hash table, are private to
 * Modules/_tracemalloc.c and Modules/hashtable.c: their numbers are checked
 * against those files' definitions here, and against live targets by
 * test_heap_traces.py. trace_t ({size_t size; traceback_t *traceback}) is
 * private in every version. */
static void check_tracemalloc(void)
{
#if PY_MAJOR_VERSION == 3
#if PY_VERSION_HEX >= 0x030c0000
	AT(tracemalloc.runtime, _PyRuntimeState, tracemalloc, ADDR, 0);
	AT(tracemalloc.state_config, struct _tracemalloc_runtime_state, config, ADDR, 0);
	AT(tracemalloc.state_traces, struct _tracemalloc_runtime_state, traces, 8, 0);
	AT(tracemalloc.state_domains, struct _tracemalloc_runtime_state, domains, 8, 0);
	AT(tracemalloc.config_tracing, struct _PyTraceMalloc_Config, tracing, 4, 16);
	AT(tracemalloc.config_nframe, struct _PyTraceMalloc_Config, max_nframe, 4, 16);
	AT(tracemalloc.tb_nframe, struct tracemalloc_traceback, nframe, 2, 0);
	SAME(tracemalloc.tb_nframe_size, WIDTH(struct tracemalloc_traceback, nframe));
	AT(tracemalloc.tb_frames, struct tracemalloc_traceback, frames, ADDR, 0);
	SAME(tracemalloc.frame_size, sizeof(struct tracemalloc_frame));
	AT(tracemalloc.frame_lineno, struct tracemalloc_frame, lineno, 4, 0);
#else
	/* {int initialized; int tracing; int max_nframe; ...} */
	SAME(tracemalloc.config_tracing, sizeof(int));
	SAME(tracemalloc.config_nframe, 2 * sizeof(int));
	/* {Py_uhash_t hash; nframe (int; 3.9+: uint16_t, then total_nframe);
	 * frame_t frames[]} with frame_t packed: {PyObject *filename; unsigned
	 * int lineno;} */
	SAME(tracemalloc.tb_nframe, sizeof(Py_uhash_t));
	SAME(tracemalloc.tb_nframe_size, PY_VERSION_HEX >= 0x03090000 ? 2 : sizeof(int));
	SAME(tracemalloc.tb_frames, sizeof(Py_uhash_t) + 4);
	SAME(tracemalloc.frame_size, sizeof(PyObject *) + sizeof(unsigned int));
	SAME(tracemalloc.frame_lineno, sizeof(PyObject *));
#endif
#if PY_VERSION_HEX >= 0x03090000
	AT(tracemalloc.ht_nentries, _Py_hashtable_t, nentries, 8, 64);
	AT(tracemalloc.ht_nbuckets, _Py_hashtable_t, nbuckets, 8, 64);
	AT(tracemalloc.ht_buckets, _Py_hashtable_t, buckets, 8, 64);
	AT(tracemalloc.entry_next, _Py_hashtable_entry_t, _Py_slist_item, 8, 0);
	AT(tracemalloc.entry_hash, _Py_hashtable_entry_t, key_hash, 8, 0);
	AT(tracemalloc.entry_key, _Py_hashtable_entry_t, key, 8, 0);
	AT(tracemalloc.entry_value, _Py_hashtable_entry_t, value, 8, 0);
#else
	/* {size_t num_buckets; size_t entries; _Py_slist_t *buckets; size_t
	 * key_size; ...}; an entry {next; Py_uhash_t key_hash;}, then the key
	 * and the data inline. */
	SAME(tracemalloc.ht_nbuckets, 0);
	SAME(tracemalloc.ht_nentries, sizeof(size_t));
	SAME(tracemalloc.ht_buckets, 2 * sizeof(size_t));
	SAME(tracemalloc.ht_key_size, 3 * sizeof(size_t));
	SAME(tracemalloc.entry_next, 0);
	SAME(tracemalloc.entry_hash, sizeof(void *));
	SAME(tracemalloc.entry_key, sizeof(void *) + sizeof(Py_uhash_t));
#endif
	SAME(tracemalloc.trace_size, 0);
	SAME(tracemalloc.trace_traceback, sizeof(size_t));
#endif
}

/* Fields this version's headers have no member for must say so with 0. */
static void check_unclaimed(void)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint32_t value;

		if (fields[i].checked)
			continue;
		memcpy(&value, (const char *)row + fields[i].at, sizeof(value));
		checks++;
		if (value != 0)
			fail("%s: row %u, but no check here finds that member in these headers "
			     "(0 means none)",
			     fields[i].name, value);
	}
}

int main(void)
{
	row = sg_pylayout_find(PY_MAJOR_VERSION, PY_MINOR_VERSION);
	if (!row) {
		fail("no built-in row for %d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION);
		return 1;
	}
	check_kinds();
	check_runtime_interp();
	check_tstate();
	check_frame();
	check_code();
	check_strings();
	check_objects();
	check_locals();
	check_heap();
	check_tracemalloc();
	check_unclaimed();
	printf("%s: %u checks, %u failed\n", PY_VERSION, checks, failures);
	return failures ? 1 : 0;
}
