/* SPDX-License-Identifier: MIT */
#ifndef SG_PYTHON_PYTRACEMALLOC_H
#define SG_PYTHON_PYTRACEMALLOC_H

/*
 * tracemalloc's own traces, read from the target's memory (never stopped,
 * never written) when it runs with tracemalloc on (PYTHONTRACEMALLOC=N, or
 * tracemalloc.start() in its code): live bytes and blocks per allocation
 * traceback, grouped as Snapshot.statistics('lineno') or ('traceback')
 * groups them, and two reads compared as Snapshot.compare_to does.
 *
 * Where the state is, per version (layout.h, tracemalloc group): 3.6-3.11
 * keep it in statics of Modules/_tracemalloc.c, found through the symbol
 * table (a stripped binary, as Debian's, keeps none of them); 3.12+ in
 * _PyRuntime.tracemalloc. The traces are a hash table of allocated
 * address -> (size, traceback), one table per domain from 3.9; a traceback
 * is frames of (filename str, lineno), most recent first, interned by
 * tracemalloc and shared by the traces allocated there.
 *
 * The target allocates while it is read: the tables are copied in chunks
 * as they are first read (sg_mem_snapshot_begin), every chain and array is
 * bounded, and what does not read as a trace (a torn entry, a traceback
 * whose frame count is beyond the configured limit) is skipped and counted.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "python/pyproc.h"
#include "util/intern.h"

enum sg_pytm_status {
	SG_PYTM_OK,         /* traces read */
	SG_PYTM_OFF,        /* tracemalloc is not tracing */
	SG_PYTM_NOSYMBOLS,  /* the binary lacks the symbols of its statics */
	SG_PYTM_UNSUPPORTED /* no tracemalloc in this version (2.7) */
};

enum sg_pytm_group {
	SG_PYTM_LINENO,    /* by the most recent frame: statistics('lineno') */
	SG_PYTM_TRACEBACK, /* by the whole traceback: statistics('traceback') */
};

struct sg_pytm_frame {
	uint32_t file; /* sg_pytm_file() names it */
	uint32_t line;
};

struct sg_pytm_stat {
	const struct sg_pytm_frame *frames; /* nframes, most recent first; borrowed */
	size_t nframes;                     /* 1 when grouped by line */
	uint64_t size;                      /* live bytes */
	uint64_t count;                     /* live blocks */
};

struct sg_pytm {
	enum sg_pytm_status status;
	unsigned max_nframe;        /* the target's limit of frames a traceback */
	struct sg_pytm_stat *stats; /* nstats, by size then count, largest first */
	size_t nstats;
	uint64_t traces;  /* traces counted */
	uint64_t bytes;   /* their bytes */
	uint64_t skipped; /* entries that did not read as traces */
	unsigned domains; /* trace tables read (one per domain) */
	bool truncated;   /* max_traces was reached */
	uint64_t reads;   /* system calls the read made */
	/* Storage the stats point into. */
	struct sg_intern files;  /* file names, UTF-8 */
	struct sg_intern groups; /* frame sequences */
};

#define SG_PYTM_MAX_TRACES (64ull * 1000 * 1000)
/* tracemalloc stores at most 65535 frames a traceback; past this, the
 * frames read are cut (the grouping by line needs one). */
#define SG_PYTM_MAX_FRAMES 1024

/*
 * Read pp's traces into *out, grouped as group says, at most max_traces of
 * them (0: SG_PYTM_MAX_TRACES). Returns 0 with out->status saying whether
 * there were any to read (release *out with sg_pytm_release, also on
 * error), or SG_EGONE, SG_EREAD (the tables could not be read at all),
 * SG_EPERM or SG_ENOMEM.
 */
int sg_pytm_read(struct sg_pyproc *pp, enum sg_pytm_group group, uint64_t max_traces,
                 struct sg_pytm *out);

/* The name of file id of a stat's frame (borrowed from t). */
const char *sg_pytm_file(const struct sg_pytm *t, uint32_t file);

void sg_pytm_release(struct sg_pytm *t);

/* One group of two reads compared, as a StatisticDiff. */
struct sg_pytm_diff {
	const struct sg_pytm_stat *now; /* in the later read, or NULL: gone */
	const struct sg_pytm_stat *was; /* in the earlier one, or NULL: new */
	int64_t size_diff, count_diff;
};

/*
 * The groups of both reads (grouped the same way), matched by file names
 * and lines, into *out (malloc'd, free it; *n of them), sorted as
 * Snapshot.compare_to sorts them: by the size of the change, then the size,
 * the size of the change of count, the count, largest first. 0 or SG_ENOMEM.
 */
int sg_pytm_compare(const struct sg_pytm *before, const struct sg_pytm *after,
                    struct sg_pytm_diff **out, size_t *n);

#endif
