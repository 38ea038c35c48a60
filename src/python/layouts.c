/* SPDX-License-Identifier: MIT */
/*
 * One row per CPython minor version: where the structs the walk reads keep
 * their fields, on LP64 builds (x86-64, aarch64). These are numbers, not
 * copied structs: tools/gen-layouts.sh prints every row below by compiling
 * tools/gen-layouts/probe.c against each version's own headers
 * (offsetof/sizeof), and its output is pasted here unchanged.
 *
 * Checked: Debian's 3.11.2 headers give the same numbers as pyenv's 3.11.7;
 * release builds of one minor version share a layout (debug and
 * free-threaded builds do not, and are not covered).
 * 3.13+ have no row: they publish _Py_DebugOffsets (debug_offsets.c).
 */
#include <stddef.h>

#include "python/layout.h"

/* clang-format off */
/* generated from the 2.7.18 headers */
static const struct sg_pylayout py27 = {
	.major = 2,
	.minor = 7,
	.frame_kind = SG_FRAME_OBJECT,
	.lasti_kind = SG_LASTI_BYTES,
	.frame_state_kind = SG_STATE_GC_REFS27,
	.linetable_kind = SG_LINETABLE_LNOTAB2,
	.str_kind = SG_STR_BYTES,
	.head_kind = SG_HEAD_SYMBOL,
	.gil_kind = SG_GIL_SYMBOL,
	.runtime = {
	},
	.interp = {
		.next = 0,
		.tstate_head = 8,
	},
	.tstate = {
		.size = 152,
		.next = 0,
		.frame = 16,
		.thread_id = 144,
	},
	.frame = {
		.size = 376,
		.back = 24,
		.code = 32,
		.lasti = 120,
		.state = 16,
	},
	.code = {
		.size = 128,
		.filename = 80,
		.name = 88,
		.firstlineno = 96,
		.linetable = 104,
	},
	.obj = {
		.dict_kind = SG_DICT_TABLE27,
		.int_kind = SG_INT_PYINT27,
		.dict_keys = 32,
		.dict_values = 40,
		.int_value = 16,
		.attr_kind = SG_ATTR_DICTOFFSET,
		.interp_modules = 16,
		.module_dict = 16,
		.type_basicsize = 32,
		.type_dictoffset = 288,
	},
	.bytes = {
		.size = 16,
		.sval = 36,
	},
};
/* generated from the 3.6.15 headers */
static const struct sg_pylayout py36 = {
	.major = 3,
	.minor = 6,
	.frame_kind = SG_FRAME_OBJECT,
	.lasti_kind = SG_LASTI_BYTES,
	.frame_state_kind = SG_STATE_EXECUTING,
	.linetable_kind = SG_LINETABLE_LNOTAB,
	.str_kind = SG_STR_UNICODE,
	.head_kind = SG_HEAD_SYMBOL,
	.gil_kind = SG_GIL_SYMBOL,
	.runtime = {
	},
	.interp = {
		.next = 0,
		.tstate_head = 8,
	},
	.tstate = {
		.size = 160,
		.next = 8,
		.frame = 24,
		.thread_id = 152,
	},
	.frame = {
		.size = 376,
		.back = 24,
		.code = 32,
		.lasti = 120,
		.state = 132,
	},
	.code = {
		.size = 144,
		.filename = 96,
		.name = 104,
		.firstlineno = 36,
		.linetable = 112,
	},
	.obj = {
		.dict_kind = SG_DICT_KEYS36,
		.int_kind = SG_INT_OBSIZE,
		.dict_keys = 32,
		.dict_values = 40,
		.int_value = 24,
		.attr_kind = SG_ATTR_DICTOFFSET,
		.interp_modules = 16,
		.module_dict = 16,
		.type_basicsize = 32,
		.type_dictoffset = 288,
	},
	.bytes = {
		.size = 16,
		.sval = 32,
	},
	.unicode = {
		.length = 16,
		.state = 32,
		.ascii_data = 48,
		.compact_data = 72,
	},
};
/* generated from the 3.7.16 headers */
static const struct sg_pylayout py37 = {
	.major = 3,
	.minor = 7,
	.frame_kind = SG_FRAME_OBJECT,
	.lasti_kind = SG_LASTI_BYTES,
	.frame_state_kind = SG_STATE_EXECUTING,
	.linetable_kind = SG_LINETABLE_LNOTAB,
	.str_kind = SG_STR_UNICODE,
	.head_kind = SG_HEAD_RUNTIME,
	.gil_kind = SG_GIL_RUNTIME,
	.runtime = {
		.interp_head = 24,
		.gil_tstate_current = 1480,
	},
	.interp = {
		.next = 0,
		.tstate_head = 8,
	},
	.tstate = {
		.size = 184,
		.next = 8,
		.frame = 24,
		.thread_id = 176,
	},
	.frame = {
		.size = 360,
		.back = 24,
		.code = 32,
		.lasti = 104,
		.state = 116,
	},
	.code = {
		.size = 144,
		.filename = 96,
		.name = 104,
		.firstlineno = 36,
		.linetable = 112,
	},
	.obj = {
		.dict_kind = SG_DICT_KEYS36,
		.int_kind = SG_INT_OBSIZE,
		.dict_keys = 32,
		.dict_values = 40,
		.int_value = 24,
		.attr_kind = SG_ATTR_DICTOFFSET,
		.interp_modules = 40,
		.module_dict = 16,
		.type_basicsize = 32,
		.type_dictoffset = 288,
	},
	.bytes = {
		.size = 16,
		.sval = 32,
	},
	.unicode = {
		.length = 16,
		.state = 32,
		.ascii_data = 48,
		.compact_data = 72,
	},
};
/* generated from the 3.8.18 headers */
static const struct sg_pylayout py38 = {
	.major = 3,
	.minor = 8,
	.frame_kind = SG_FRAME_OBJECT,
	.lasti_kind = SG_LASTI_BYTES,
	.frame_state_kind = SG_STATE_EXECUTING,
	.linetable_kind = SG_LINETABLE_LNOTAB,
	.str_kind = SG_STR_UNICODE,
	.head_kind = SG_HEAD_RUNTIME,
	.gil_kind = SG_GIL_RUNTIME,
	.runtime = {
		.interp_head = 32,
		.gil_tstate_current = 1368,
	},
	.interp = {
		.next = 0,
		.tstate_head = 8,
	},
	.tstate = {
		.size = 184,
		.next = 8,
		.frame = 24,
		.thread_id = 176,
	},
	.frame = {
		.size = 360,
		.back = 24,
		.code = 32,
		.lasti = 104,
		.state = 116,
	},
	.code = {
		.size = 176,
		.filename = 104,
		.name = 112,
		.firstlineno = 40,
		.linetable = 120,
	},
	.obj = {
		.dict_kind = SG_DICT_KEYS36,
		.int_kind = SG_INT_OBSIZE,
		.dict_keys = 32,
		.dict_values = 40,
		.int_value = 24,
		.attr_kind = SG_ATTR_DICTOFFSET,
		.interp_modules = 56,
		.module_dict = 16,
		.type_basicsize = 32,
		.type_dictoffset = 288,
	},
	.bytes = {
		.size = 16,
		.sval = 32,
	},
	.unicode = {
		.length = 16,
		.state = 32,
		.ascii_data = 48,
		.compact_data = 72,
	},
};
/* generated from the 3.9.18 headers */
static const struct sg_pylayout py39 = {
	.major = 3,
	.minor = 9,
	.frame_kind = SG_FRAME_OBJECT,
	.lasti_kind = SG_LASTI_BYTES,
	.frame_state_kind = SG_STATE_EXECUTING,
	.linetable_kind = SG_LINETABLE_LNOTAB,
	.str_kind = SG_STR_UNICODE,
	.head_kind = SG_HEAD_RUNTIME,
	.gil_kind = SG_GIL_RUNTIME,
	.runtime = {
		.interp_head = 32,
		.gil_tstate_current = 568,
	},
	.interp = {
		.next = 0,
		.tstate_head = 8,
	},
	.tstate = {
		.size = 184,
		.next = 8,
		.frame = 24,
		.thread_id = 176,
	},
	.frame = {
		.size = 360,
		.back = 24,
		.code = 32,
		.lasti = 104,
		.state = 116,
	},
	.code = {
		.size = 176,
		.filename = 104,
		.name = 112,
		.firstlineno = 40,
		.linetable = 120,
	},
	.obj = {
		.dict_kind = SG_DICT_KEYS36,
		.int_kind = SG_INT_OBSIZE,
		.dict_keys = 32,
		.dict_values = 40,
		.int_value = 24,
		.attr_kind = SG_ATTR_DICTOFFSET,
		.interp_modules = 856,
		.module_dict = 16,
		.type_basicsize = 32,
		.type_dictoffset = 288,
	},
	.bytes = {
		.size = 16,
		.sval = 32,
	},
	.unicode = {
		.length = 16,
		.state = 32,
		.ascii_data = 48,
		.compact_data = 72,
	},
};
/* generated from the 3.10.13 headers */
static const struct sg_pylayout py310 = {
	.major = 3,
	.minor = 10,
	.frame_kind = SG_FRAME_OBJECT,
	.lasti_kind = SG_LASTI_UNITS,
	.frame_state_kind = SG_STATE_310,
	.linetable_kind = SG_LINETABLE_310,
	.str_kind = SG_STR_UNICODE,
	.head_kind = SG_HEAD_RUNTIME,
	.gil_kind = SG_GIL_RUNTIME,
	.runtime = {
		.interp_head = 32,
		.gil_tstate_current = 568,
	},
	.interp = {
		.next = 0,
		.tstate_head = 8,
	},
	.tstate = {
		.size = 184,
		.next = 8,
		.frame = 24,
		.thread_id = 176,
	},
	.frame = {
		.size = 352,
		.back = 24,
		.code = 32,
		.lasti = 96,
		.state = 108,
	},
	.code = {
		.size = 176,
		.filename = 104,
		.name = 112,
		.firstlineno = 40,
		.linetable = 120,
	},
	.obj = {
		.dict_kind = SG_DICT_KEYS36,
		.int_kind = SG_INT_OBSIZE,
		.dict_keys = 32,
		.dict_values = 40,
		.int_value = 24,
		.attr_kind = SG_ATTR_DICTOFFSET,
		.interp_modules = 856,
		.module_dict = 16,
		.type_basicsize = 32,
		.type_dictoffset = 288,
	},
	.bytes = {
		.size = 16,
		.sval = 32,
	},
	.unicode = {
		.length = 16,
		.state = 32,
		.ascii_data = 48,
		.compact_data = 72,
	},
};
/* generated from the 3.11.7 headers */
static const struct sg_pylayout py311 = {
	.major = 3,
	.minor = 11,
	.frame_kind = SG_FRAME_INTERP,
	.lasti_kind = SG_LASTI_POINTER,
	.frame_state_kind = SG_STATE_NONE,
	.linetable_kind = SG_LINETABLE_LOCATIONS,
	.str_kind = SG_STR_UNICODE,
	.head_kind = SG_HEAD_RUNTIME,
	.gil_kind = SG_GIL_RUNTIME,
	.runtime = {
		.interp_head = 40,
		.gil_tstate_current = 576,
	},
	.interp = {
		.next = 0,
		.tstate_head = 16,
	},
	.tstate = {
		.size = 312,
		.next = 8,
		.cframe = 56,
		.cframe_current = 8,
		.native_thread_id = 160,
		.datastack_chunk = 296,
		.datastack_top = 304,
		.thread_id = 152,
	},
	.frame = {
		.size = 80,
		.back = 48,
		.code = 32,
		.lasti = 56,
	},
	.code = {
		.size = 192,
		.filename = 112,
		.name = 120,
		.qualname = 128,
		.code_adaptive = 184,
		.firstlineno = 72,
		.linetable = 136,
	},
	.obj = {
		.dict_kind = SG_DICT_KEYS311,
		.int_kind = SG_INT_OBSIZE,
		.dict_keys = 32,
		.dict_values = 40,
		.int_value = 24,
		.attr_kind = SG_ATTR_MANAGED311,
		.interp_modules = 888,
		.dictvalues_array = 0,
		.heaptype_keys = 872,
		.module_dict = 16,
		.type_basicsize = 32,
		.type_dictoffset = 288,
	},
	.bytes = {
		.size = 16,
		.sval = 32,
	},
	.unicode = {
		.length = 16,
		.state = 32,
		.ascii_data = 48,
		.compact_data = 72,
	},
};
/* generated from the 3.12.1 headers */
static const struct sg_pylayout py312 = {
	.major = 3,
	.minor = 12,
	.frame_kind = SG_FRAME_INTERP,
	.lasti_kind = SG_LASTI_POINTER,
	.frame_state_kind = SG_STATE_NONE,
	.linetable_kind = SG_LINETABLE_LOCATIONS,
	.str_kind = SG_STR_UNICODE,
	.head_kind = SG_HEAD_RUNTIME,
	.gil_kind = SG_GIL_INTERP,
	.runtime = {
		.interp_head = 40,
	},
	.interp = {
		.next = 0,
		.tstate_head = 72,
		.gil_locked = 1056,
		.gil_holder = 1048,
	},
	.tstate = {
		.size = 248,
		.next = 8,
		.cframe = 56,
		.cframe_current = 0,
		.native_thread_id = 144,
		.datastack_chunk = 232,
		.datastack_top = 240,
		.thread_id = 136,
	},
	.frame = {
		.size = 80,
		.back = 8,
		.code = 0,
		.lasti = 56,
		.owner = 70,
		.owner_cstack = 3,
	},
	.code = {
		.size = 200,
		.filename = 112,
		.name = 120,
		.qualname = 128,
		.code_adaptive = 192,
		.firstlineno = 68,
		.linetable = 136,
	},
	.obj = {
		.dict_kind = SG_DICT_KEYS311,
		.int_kind = SG_INT_LVTAG,
		.dict_keys = 32,
		.dict_values = 40,
		.int_value = 24,
		.attr_kind = SG_ATTR_TAGGED312,
		.interp_modules = 944,
		.dictvalues_array = 0,
		.heaptype_keys = 880,
		.module_dict = 16,
		.type_basicsize = 32,
		.type_dictoffset = 288,
	},
	.bytes = {
		.size = 16,
		.sval = 32,
	},
	.unicode = {
		.length = 16,
		.state = 32,
		.ascii_data = 40,
		.compact_data = 56,
	},
};
/* clang-format on */

static const struct sg_pylayout *const rows[] = {
    &py27, &py36, &py37, &py38, &py39, &py310, &py311, &py312,
};

const struct sg_pylayout *sg_pylayout_find(unsigned major, unsigned minor)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i]->major == major && rows[i]->minor == minor)
			return rows[i];
	return NULL;
}
