/* SPDX-License-Identifier: MIT */
/*
 * Dev tool, not part of the build: the tracemalloc group of a layout row,
 * included by probe.c (2.7-3.12) and probe-heap.c (3.13+). Needs Python.h
 * with Py_BUILD_CORE and the version's internal headers, and ROW().
 *
 * Before 3.12 tracemalloc's structs are private to Modules/_tracemalloc.c,
 * and before 3.9 its hash table to Modules/hashtable.h (neither installed):
 * their definitions there, with the members spyglass reads, follow. trace_t
 * is private in every version.
 */
#if PY_MAJOR_VERSION == 3
#if PY_VERSION_HEX >= 0x03090000
#include <internal/pycore_hashtable.h>
#endif
#if PY_VERSION_HEX >= 0x030c0000
#include <internal/pycore_tracemalloc.h>
typedef struct tracemalloc_frame tm_frame_t;
typedef struct tracemalloc_traceback tm_traceback_t;
#else
typedef struct __attribute__((packed)) {
	PyObject *filename;
	unsigned int lineno;
} tm_frame_t;
typedef struct {
	Py_uhash_t hash;
#if PY_VERSION_HEX >= 0x03090000
	uint16_t nframe;
	uint16_t total_nframe;
#else
	int nframe;
#endif
	tm_frame_t frames[1];
} tm_traceback_t;
/* The config (tracemalloc_config, _Py_tracemalloc_config from 3.8). */
typedef struct {
	int initialized;
	int tracing;
	int max_nframe;
} tm_config_t;
#endif
#if PY_VERSION_HEX < 0x03090000
typedef struct {
	void *next;
	Py_uhash_t key_hash;
	/* key (key_size bytes) and then data (data_size bytes) follow */
} tm_entry_t;
typedef struct {
	size_t num_buckets;
	size_t entries;
	void *buckets;
	size_t key_size;
	size_t data_size;
} tm_hashtable_t;
#endif
typedef struct {
	size_t size;
	tm_traceback_t *traceback;
} tm_trace_t;
#endif

static void tracemalloc_row(void)
{
	printf("\t.tracemalloc = {\n");
#if PY_MAJOR_VERSION == 2
	printf("\t\t.where = SG_TM_NONE,\n");
#else
#if PY_VERSION_HEX >= 0x030c0000
	printf("\t\t.where = SG_TM_RUNTIME,\n");
	ROW(runtime, offsetof(_PyRuntimeState, tracemalloc));
	ROW(config_tracing, offsetof(struct _PyTraceMalloc_Config, tracing));
	ROW(config_nframe, offsetof(struct _PyTraceMalloc_Config, max_nframe));
	ROW(state_config, offsetof(struct _tracemalloc_runtime_state, config));
	ROW(state_traces, offsetof(struct _tracemalloc_runtime_state, traces));
	ROW(state_domains, offsetof(struct _tracemalloc_runtime_state, domains));
#else
	printf("\t\t.where = SG_TM_SYMBOL,\n");
	ROW(config_tracing, offsetof(tm_config_t, tracing));
	ROW(config_nframe, offsetof(tm_config_t, max_nframe));
#endif
#if PY_VERSION_HEX >= 0x03090000
	printf("\t\t.table_kind = SG_TM_TABLE39,\n");
	ROW(ht_nentries, offsetof(_Py_hashtable_t, nentries));
	ROW(ht_nbuckets, offsetof(_Py_hashtable_t, nbuckets));
	ROW(ht_buckets, offsetof(_Py_hashtable_t, buckets));
	ROW(entry_next, offsetof(_Py_hashtable_entry_t, _Py_slist_item));
	ROW(entry_hash, offsetof(_Py_hashtable_entry_t, key_hash));
	ROW(entry_key, offsetof(_Py_hashtable_entry_t, key));
	ROW(entry_value, offsetof(_Py_hashtable_entry_t, value));
#else
	printf("\t\t.table_kind = SG_TM_TABLE36,\n");
	ROW(ht_nentries, offsetof(tm_hashtable_t, entries));
	ROW(ht_nbuckets, offsetof(tm_hashtable_t, num_buckets));
	ROW(ht_buckets, offsetof(tm_hashtable_t, buckets));
	ROW(ht_key_size, offsetof(tm_hashtable_t, key_size));
	ROW(entry_next, offsetof(tm_entry_t, next));
	ROW(entry_hash, offsetof(tm_entry_t, key_hash));
	ROW(entry_key, sizeof(tm_entry_t));
#endif
	ROW(trace_size, offsetof(tm_trace_t, size));
	ROW(trace_traceback, offsetof(tm_trace_t, traceback));
	ROW(tb_nframe, offsetof(tm_traceback_t, nframe));
	ROW(tb_nframe_size, sizeof(((tm_traceback_t *)0)->nframe));
	ROW(tb_frames, offsetof(tm_traceback_t, frames));
	ROW(frame_size, sizeof(tm_frame_t));
	ROW(frame_lineno, offsetof(tm_frame_t, lineno));
#endif
	printf("\t},\n");
}
