/* SPDX-License-Identifier: MIT */
#ifndef SG_STORE_STORE_H
#define SG_STORE_STORE_H

/*
 * The store: windows of profiles kept by time and label, in one SQLite
 * database (one file, plus SQLite's -wal and -shm beside it while open).
 *
 * Each window is one row: its series (a set of labels, key=value), its mode
 * (cpu or wall), start and end (Unix ns), samples, and the window's profile
 * as a gzipped pprof file, as the pprof writer makes it, so a row taken out
 * with sqlite3 is a file `go tool pprof` opens. The schema (version 1):
 *
 *   spyglass_store(key TEXT PRIMARY KEY, value)  -- 'format' = 'spyglass-store', 'version' = 1
 *   series(id INTEGER PRIMARY KEY, key TEXT UNIQUE)  -- key: "k=v\n" lines, sorted
 *   labels(series, key, value, PRIMARY KEY (series, key))
 *   windows(id INTEGER PRIMARY KEY, series, mode TEXT, start_ns, end_ns, samples, pprof BLOB)
 *
 * Crash safety is SQLite's: write-ahead logging with synchronous=FULL, one
 * transaction per window, so a kill -9, a full disk or a power cut loses at
 * most the window being written, and readers (other processes) may query
 * while a writer adds windows. Retention deletes the oldest windows first.
 *
 * Every function that fails returns a negative enum sg_err and writes one
 * line for the user into why. A store is used by one thread at a time.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"

struct sg_store;

struct sg_store_label {
	const char *key;   /* [A-Za-z0-9_.-]+ */
	const char *value; /* any text; a newline is stored as a space */
};

/* Open the store at path: create it when create is set and it does not
 * exist (a writer), else open it as it is (readonly: for queries). A file
 * that is not a store is refused (SG_EFORMAT), and one of a later version.
 * *out is NULL on failure. */
int sg_store_open(const char *path, bool create, bool readonly, struct sg_store **out, char *why,
                  size_t len);
/* Accepts NULL. */
void sg_store_close(struct sg_store *s);

/* Add the windows (each one's meta gives its start, duration and mode;
 * its samples are its total) to the series of the n labels, all in one
 * transaction: all are stored or none. */
int sg_store_put(struct sg_store *s, const struct sg_store_label *labels, size_t n,
                 const struct sg_profile *const *windows, size_t nwindows, char *why, size_t len);

/* Remove the windows that ended before now_ns - max_age_ns (0: no limit),
 * then the oldest until the database holds at most max_bytes (0: no
 * limit), and give the space back to the file system. *removed (may be
 * NULL) gets how many went. */
int sg_store_retain(struct sg_store *s, uint64_t now_ns, uint64_t max_age_ns, uint64_t max_bytes,
                    uint64_t *removed, char *why, size_t len);

/* Which windows a query takes: those of mode (SG_MODE_UNKNOWN: any) that
 * overlap [from_ns, to_ns) and whose series has every label of where. */
struct sg_store_filter {
	uint64_t from_ns, to_ns;
	const struct sg_store_label *where;
	size_t nwhere;
	enum sg_mode mode;
};

/* Merge the windows the filter takes, oldest first, into into (empty):
 * whole windows, so the time covered is rounded out to theirs. *nwindows
 * gets how many. Each window's pprof goes through the pprof reader. */
int sg_store_merge(struct sg_store *s, const struct sg_store_filter *f, struct sg_profile *into,
                   uint64_t *nwindows, char *why, size_t len);

/* One series of a mode, as sg_store_list reports it. */
struct sg_store_series {
	const char *labels; /* "k=v,k=v", keys sorted (borrowed for the call) */
	enum sg_mode mode;
	uint64_t first_ns, last_ns; /* the first window's start, the last's end */
	uint64_t windows, samples;
};

/* Call fn for each series and mode with windows the filter takes, in
 * label order; stops at fn's first nonzero return, which is returned. */
int sg_store_list(struct sg_store *s, const struct sg_store_filter *f,
                  int (*fn)(void *ctx, const struct sg_store_series *series), void *ctx, char *why,
                  size_t len);

/*
 * The push queue: windows waiting to be sent to a server (store/push.h),
 * a row each in push_queue, added in the transaction that stores the
 * window, so a window is queued exactly when it is stored, and leaves the
 * queue only once sent (or given up on): a crash or a restart sends it
 * later, in order.
 */

/* Queue the windows put from now on (sg_store_put). */
void sg_store_queue_pushes(struct sg_store *s, bool on);

/* A queued window, its copies owned by the item (sg_store_pushed_release). */
struct sg_store_pushed {
	int64_t window; /* its row id, unique in the store */
	enum sg_mode mode;
	uint64_t start_ns, end_ns;
	unsigned attempts; /* failed sends so far */
	void *pprof;
	size_t pprof_len;
	struct sg_store_label *labels; /* sorted by key */
	size_t nlabels;
};

/* The oldest queued window: 1 with *item filled, 0 when the queue is
 * empty, or a negative sg_err. */
int sg_store_next_push(struct sg_store *s, struct sg_store_pushed *item, char *why, size_t len);
void sg_store_pushed_release(struct sg_store_pushed *item);
/* After a send of window: sent or given up on (dequeue), else one more
 * failed attempt counted. */
int sg_store_push_done(struct sg_store *s, int64_t window, bool dequeue, char *why, size_t len);
/* Windows in the queue. */
int sg_store_queued(struct sg_store *s, uint64_t *n);

/* What sg_store_check found. */
struct sg_store_stats {
	uint64_t windows, series, bytes;
	uint64_t first_ns, last_ns;
};

/* Verify the store at path: SQLite's integrity check, the schema, and that
 * every window's pprof reads back with its row's samples and times. Opens
 * it read-only. */
int sg_store_check(const char *path, struct sg_store_stats *stats, char *why, size_t len);

#endif
