/* SPDX-License-Identifier: MIT */
/*
 * Dev tool, not part of the build: the heap group of a layout row, included
 * by probe.c (2.7-3.12) and probe-heap.c (3.13+, whose other fields come
 * from _Py_DebugOffsets at run time). Needs Python.h with Py_BUILD_CORE and
 * the internal headers of the version, and ROW().
 */
#if PY_VERSION_HEX < 0x03070000
/* Private to Modules/gcmodule.c before 3.7; its definition there. */
struct gc_generation {
	PyGC_Head head;
	int threshold;
	int count;
};
#endif

/* What a census of the heap reads (pyheap.c): the collector's lists and the
 * sizes of what objects own. */
static void heap_row(void)
{
	printf("\t.heap = {\n");
#if PY_VERSION_HEX >= 0x03090000
	printf("\t\t.gc_kind = SG_GC_INTERP,\n");
	ROW(generations, offsetof(PyInterpreterState, gc.generations));
	ROW(permanent, offsetof(PyInterpreterState, gc.permanent_generation));
#elif PY_VERSION_HEX >= 0x03070000
	printf("\t\t.gc_kind = SG_GC_RUNTIME,\n");
	ROW(generations, offsetof(_PyRuntimeState, gc.generations));
	ROW(permanent, offsetof(_PyRuntimeState, gc.permanent_generation));
#else
	printf("\t\t.gc_kind = SG_GC_SYMBOL,\n");
#endif
	ROW(generation_size, sizeof(struct gc_generation));
	ROW(gc_head_size, sizeof(PyGC_Head));
	ROW(type_itemsize, offsetof(PyTypeObject, tp_itemsize));
	ROW(type_dict, offsetof(PyTypeObject, tp_dict));
#if PY_MAJOR_VERSION == 3
	ROW(heaptype_qualname, offsetof(PyHeapTypeObject, ht_qualname));
#endif
	ROW(list_items, offsetof(PyListObject, ob_item));
	ROW(list_allocated, offsetof(PyListObject, allocated));
	ROW(set_mask, offsetof(PySetObject, mask));
	ROW(set_table, offsetof(PySetObject, table));
	ROW(set_smalltable, offsetof(PySetObject, smalltable));
	ROW(set_entry_size, sizeof(setentry));
	ROW(set_entry_key, offsetof(setentry, key));
	ROW(func_closure, offsetof(PyFunctionObject, func_closure));
	ROW(func_module, offsetof(PyFunctionObject, func_module));
#if PY_MAJOR_VERSION == 3
	ROW(func_name, offsetof(PyFunctionObject, func_qualname));
#else
	ROW(func_name, offsetof(PyFunctionObject, func_name));
#endif
	printf("\t},\n");
}
