/* SPDX-License-Identifier: MIT */
/*
 * Dev tool, not part of the build: for 3.13+, whose rows come from
 * _Py_DebugOffsets, the heap fields _Py_DebugOffsets lacks, for
 * src/python/debug_offsets.c. Run tools/gen-layouts.sh.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>
#include <stddef.h>
#include <stdio.h>

#define ROW(field, value) printf("\t\t." #field " = %zu,\n", (size_t)(value))

#include "heap.h"
#include "tracemalloc.h"

int main(void)
{
	printf("/* heap fields of the %s headers */\n", PY_VERSION);
	heap_row();
	tracemalloc_row();
	return 0;
}
