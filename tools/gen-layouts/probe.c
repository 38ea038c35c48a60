/* SPDX-License-Identifier: MIT */
/*
 * Dev tool, not part of the build: compiled against one CPython's own
 * headers, it prints that version's row of src/python/layouts.c. Run
 * tools/gen-layouts.sh, which compiles it once per installed version.
 * The #if ladder lives here, in a generator, so the product has none.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#include <stddef.h>
#include <stdio.h>

#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x03080000
#include <internal/pystate.h>
#elif PY_VERSION_HEX >= 0x03080000 && PY_VERSION_HEX < 0x03090000
#include <internal/pycore_pystate.h>
#elif PY_VERSION_HEX >= 0x03090000
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>
#endif
#if PY_VERSION_HEX >= 0x030b0000
#include <internal/pycore_dict.h>
#include <internal/pycore_frame.h>
#endif

#define ROW(field, value) printf("\t\t." #field " = %zu,\n", (size_t)(value))
#define MAX2(a, b)        ((a) > (b) ? (a) : (b))
#define MAX3(a, b, c)     MAX2(MAX2(a, b), c)

#include "heap.h"
#include "tracemalloc.h"

int main(void)
{
	unsigned major = PY_MAJOR_VERSION, minor = PY_MINOR_VERSION;

	printf("/* generated from the %s headers */\n", PY_VERSION);
	printf("static const struct sg_pylayout py%u%u = {\n", major, minor);
	printf("\t.major = %u,\n\t.minor = %u,\n", major, minor);
#if PY_VERSION_HEX >= 0x030b0000
	printf("\t.frame_kind = SG_FRAME_INTERP,\n\t.lasti_kind = SG_LASTI_POINTER,\n");
	printf("\t.frame_state_kind = SG_STATE_NONE,\n");
	printf("\t.linetable_kind = SG_LINETABLE_LOCATIONS,\n");
#else
	printf("\t.frame_kind = SG_FRAME_OBJECT,\n");
#if PY_VERSION_HEX >= 0x030a0000
	printf("\t.lasti_kind = SG_LASTI_UNITS,\n\t.frame_state_kind = SG_STATE_310,\n");
	printf("\t.linetable_kind = SG_LINETABLE_310,\n");
#elif PY_MAJOR_VERSION == 2
	printf("\t.lasti_kind = SG_LASTI_BYTES,\n\t.frame_state_kind = SG_STATE_GC_REFS27,\n");
	printf("\t.linetable_kind = SG_LINETABLE_LNOTAB2,\n");
#else
	printf("\t.lasti_kind = SG_LASTI_BYTES,\n\t.frame_state_kind = SG_STATE_EXECUTING,\n");
	printf("\t.linetable_kind = SG_LINETABLE_LNOTAB,\n");
#endif
#endif
	printf("\t.str_kind = %s,\n", major == 2 ? "SG_STR_BYTES" : "SG_STR_UNICODE");
#if PY_VERSION_HEX >= 0x03070000
	printf("\t.head_kind = SG_HEAD_RUNTIME,\n");
#else
	printf("\t.head_kind = SG_HEAD_SYMBOL,\n");
#endif
#if PY_VERSION_HEX >= 0x030c0000
	printf("\t.gil_kind = SG_GIL_INTERP,\n");
#elif PY_VERSION_HEX >= 0x03070000
	printf("\t.gil_kind = SG_GIL_RUNTIME,\n");
#else
	printf("\t.gil_kind = SG_GIL_SYMBOL,\n");
#endif

	printf("\t.runtime = {\n");
#if PY_VERSION_HEX >= 0x03070000
	ROW(interp_head, offsetof(_PyRuntimeState, interpreters.head));
#endif
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x030c0000
	ROW(gil_tstate_current, offsetof(_PyRuntimeState, gilstate.tstate_current));
#endif
	printf("\t},\n\t.interp = {\n");
	ROW(next, offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX >= 0x030b0000
	ROW(tstate_head, offsetof(PyInterpreterState, threads.head));
#else
	ROW(tstate_head, offsetof(PyInterpreterState, tstate_head));
#endif
#if PY_VERSION_HEX >= 0x030c0000
	ROW(gil_locked, offsetof(PyInterpreterState, _gil.locked));
	ROW(gil_holder, offsetof(PyInterpreterState, _gil.last_holder));
#endif
	printf("\t},\n\t.tstate = {\n");
	/* Copy only up to the last field read: some versions end the struct
	 * in large arrays the walk never needs. */
#if PY_VERSION_HEX >= 0x030b0000
	ROW(size, MAX3(MAX2(offsetof(PyThreadState, cframe), offsetof(PyThreadState, thread_id)),
	               offsetof(PyThreadState, native_thread_id),
	               offsetof(PyThreadState, datastack_top)) +
	              8);
#else
	ROW(size, MAX3(offsetof(PyThreadState, next), offsetof(PyThreadState, frame),
	               offsetof(PyThreadState, thread_id)) +
	              8);
#endif
	ROW(next, offsetof(PyThreadState, next));
#if PY_VERSION_HEX >= 0x030b0000
	ROW(cframe, offsetof(PyThreadState, cframe));
	ROW(cframe_current, offsetof(_PyCFrame, current_frame));
	ROW(native_thread_id, offsetof(PyThreadState, native_thread_id));
	ROW(datastack_chunk, offsetof(PyThreadState, datastack_chunk));
	ROW(datastack_top, offsetof(PyThreadState, datastack_top));
#else
	ROW(frame, offsetof(PyThreadState, frame));
#endif
	ROW(thread_id, offsetof(PyThreadState, thread_id));
	printf("\t},\n\t.frame = {\n");
#if PY_VERSION_HEX >= 0x030b0000
	ROW(size, sizeof(_PyInterpreterFrame));
	ROW(back, offsetof(_PyInterpreterFrame, previous));
	ROW(code, offsetof(_PyInterpreterFrame, f_code));
	ROW(lasti, offsetof(_PyInterpreterFrame, prev_instr));
	ROW(owner, offsetof(_PyInterpreterFrame, owner));
#if PY_VERSION_HEX >= 0x030c0000
	/* 3.11 has no C-stack shim frames. */
	ROW(owner_cstack, FRAME_OWNED_BY_CSTACK);
#else
	/* 3.11 alone marks the frame an eval call entered with. */
	ROW(is_entry, offsetof(_PyInterpreterFrame, is_entry));
#endif
	ROW(localsplus, offsetof(_PyInterpreterFrame, localsplus));
#else
	ROW(size, offsetof(PyFrameObject, f_localsplus));
	ROW(back, offsetof(PyFrameObject, f_back));
	ROW(code, offsetof(PyFrameObject, f_code));
	ROW(lasti, offsetof(PyFrameObject, f_lasti));
#if PY_VERSION_HEX >= 0x030a0000
	ROW(state, offsetof(PyFrameObject, f_state));
#elif PY_MAJOR_VERSION == 3
	ROW(state, offsetof(PyFrameObject, f_executing));
#else
	ROW(state, sizeof(PyGC_Head) - offsetof(PyGC_Head, gc.gc_refs));
#endif
#endif
	printf("\t},\n\t.code = {\n");
	ROW(size, sizeof(PyCodeObject));
	ROW(filename, offsetof(PyCodeObject, co_filename));
	ROW(name, offsetof(PyCodeObject, co_name));
#if PY_VERSION_HEX >= 0x030b0000
	ROW(qualname, offsetof(PyCodeObject, co_qualname));
	ROW(code_adaptive, offsetof(PyCodeObject, co_code_adaptive));
	ROW(stacksize, offsetof(PyCodeObject, co_stacksize));
	ROW(nlocalsplus, offsetof(PyCodeObject, co_nlocalsplus));
#endif
	ROW(firstlineno, offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX >= 0x030a0000
	ROW(linetable, offsetof(PyCodeObject, co_linetable));
#else
	ROW(linetable, offsetof(PyCodeObject, co_lnotab));
#endif
	printf("\t},\n\t.obj = {\n");
#if PY_MAJOR_VERSION == 2
	printf("\t\t.dict_kind = SG_DICT_TABLE27,\n\t\t.int_kind = SG_INT_PYINT27,\n");
	ROW(dict_keys, offsetof(PyDictObject, ma_mask));
	ROW(dict_values, offsetof(PyDictObject, ma_table));
	ROW(int_value, offsetof(PyIntObject, ob_ival));
#else
	printf("\t\t.dict_kind = %s,\n",
	       PY_VERSION_HEX >= 0x030b0000 ? "SG_DICT_KEYS311" : "SG_DICT_KEYS36");
	printf("\t\t.int_kind = %s,\n",
	       PY_VERSION_HEX >= 0x030c0000 ? "SG_INT_LVTAG" : "SG_INT_OBSIZE");
	ROW(dict_keys, offsetof(PyDictObject, ma_keys));
	ROW(dict_values, offsetof(PyDictObject, ma_values));
#if PY_VERSION_HEX >= 0x030c0000
	ROW(int_value, offsetof(PyLongObject, long_value.ob_digit));
#else
	ROW(int_value, offsetof(PyLongObject, ob_digit));
#endif
#endif
#if PY_VERSION_HEX >= 0x030c0000
	printf("\t\t.attr_kind = SG_ATTR_TAGGED312,\n");
	ROW(interp_modules, offsetof(PyInterpreterState, imports.modules));
#elif PY_VERSION_HEX >= 0x030b0000
	printf("\t\t.attr_kind = SG_ATTR_MANAGED311,\n");
	ROW(interp_modules, offsetof(PyInterpreterState, modules));
#else
	printf("\t\t.attr_kind = SG_ATTR_DICTOFFSET,\n");
	ROW(interp_modules, offsetof(PyInterpreterState, modules));
#endif
#if PY_VERSION_HEX >= 0x030b0000
	ROW(dictvalues_array, offsetof(PyDictValues, values));
	ROW(heaptype_keys, offsetof(PyHeapTypeObject, ht_cached_keys));
#endif
	/* PyModuleObject is private to moduleobject.c; its md_dict follows
	 * the object header in every version. */
	ROW(module_dict, sizeof(PyObject));
	ROW(type_basicsize, offsetof(PyTypeObject, tp_basicsize));
	ROW(type_dictoffset, offsetof(PyTypeObject, tp_dictoffset));
	printf("\t},\n\t.bytes = {\n");
#if PY_MAJOR_VERSION == 2
	ROW(size, offsetof(PyStringObject, ob_size));
	ROW(sval, offsetof(PyStringObject, ob_sval));
	printf("\t},\n");
#else
	ROW(size, offsetof(PyBytesObject, ob_base.ob_size));
	ROW(sval, offsetof(PyBytesObject, ob_sval));
	printf("\t},\n\t.unicode = {\n");
	ROW(length, offsetof(PyASCIIObject, length));
	ROW(state, offsetof(PyASCIIObject, state));
	ROW(ascii_data, sizeof(PyASCIIObject));
	ROW(compact_data, sizeof(PyCompactUnicodeObject));
	printf("\t},\n");
#endif
	printf("\t.locals = {\n");
#if PY_VERSION_HEX >= 0x030b0000
	ROW(frame_localsplus, offsetof(_PyInterpreterFrame, localsplus));
	ROW(code_names, offsetof(PyCodeObject, co_localsplusnames));
	ROW(code_kinds, offsetof(PyCodeObject, co_localspluskinds));
#else
	ROW(frame_localsplus, offsetof(PyFrameObject, f_localsplus));
	ROW(code_names, offsetof(PyCodeObject, co_varnames));
	ROW(code_cellvars, offsetof(PyCodeObject, co_cellvars));
#endif
	ROW(code_argcount, offsetof(PyCodeObject, co_argcount));
#if PY_MAJOR_VERSION == 3
	ROW(code_kwonlyargcount, offsetof(PyCodeObject, co_kwonlyargcount));
#endif
	ROW(code_flags, offsetof(PyCodeObject, co_flags));
	ROW(type_name, offsetof(PyTypeObject, tp_name));
	ROW(type_flags, offsetof(PyTypeObject, tp_flags));
	ROW(var_size, offsetof(PyVarObject, ob_size));
	ROW(tuple_items, offsetof(PyTupleObject, ob_item));
	ROW(float_value, offsetof(PyFloatObject, ob_fval));
	ROW(dict_used, offsetof(PyDictObject, ma_used));
	ROW(set_used, offsetof(PySetObject, used));
	ROW(cell_ref, offsetof(PyCellObject, ob_ref));
	printf("\t},\n");
	heap_row();
	tracemalloc_row();
	printf("};\n");
	return 0;
}
