/* SPDX-License-Identifier: MIT */
#ifndef SG_PROFILE_QUERY_H
#define SG_PROFILE_QUERY_H

/*
 * Questions asked of a saved profile, for `spyglass report`: which samples
 * count (filters), what a row is (the key frames are grouped by), and the
 * views over them: a flat table of self and total, the call tree (top-down
 * or inverted), and the callers or callees of some functions.
 *
 * A query is built once from a profile (sg_query_new) and every view reads
 * it. Shares are of the samples the filters keep (sg_query_total). A key's
 * total counts a sample once however often the key is on its stack
 * (recursion); its self counts samples whose leaf frame has the key. Keys
 * are dense ids with a display string. The query borrows the profile, which
 * must outlive it and not change. Not thread-safe.
 */

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"

enum sg_query_by {
	SG_BY_FUNCTION, /* "name (file)": the lines of a function add up */
	SG_BY_LINE,     /* "name (file:line)" */
	SG_BY_FILE,     /* the file, "[no file]" for frames without one */
	SG_BY_MODULE,   /* the dotted Python module, from the file (sg_query_module) */
	SG_BY_THREAD,   /* "thread TID: NAME", a label of the sample, not a frame */
	SG_BY_PROCESS,  /* "process PID: COMMAND" */
};

/* Which samples count. A frame matches a regular expression when its
 * function name or its file does. */
struct sg_query_filter {
	const regex_t *focus;  /* keep samples with a matching frame; NULL: all */
	const regex_t *ignore; /* drop samples with a matching frame; NULL: none */
	const char *thread;    /* a thread's name, or its tid in decimal; NULL: all */
	/* Keep the samples taken in [from_ns, to_ns) since the run's start (needs
	 * a timeline: sg_profile_nruns > 0). A run of the timeline that straddles
	 * a bound counts in proportion to its overlap, its samples being spread
	 * evenly over it. */
	bool window;
	uint64_t from_ns, to_ns;
	/* Count row i (sg_profile_sample) as counts[i] samples instead of its
	 * own count, rows from ncounts on as none: e.g. the samples added
	 * between two readings of the rows' counts, while a profile fills
	 * (spyglass top). NULL: the rows' counts. Not with window. */
	const uint64_t *counts;
	size_t ncounts;
	/* Not a filter: have sg_query_flat measure each row's design effects
	 * (sg_query_row), a pass over the timeline (0.3 s for 1M samples in
	 * 180k runs); false: they are 1. */
	bool effects;
	/* Not a filter: how keys name a file. A suffix of file to show (e.g.
	 * relative to the folder it was imported from), or NULL: whole paths.
	 * With SG_BY_MODULE, a relative suffix is the module's path. */
	const char *(*file_name)(const struct sg_profile *p, const char *file, void *arg);
	void *file_arg;
};

struct sg_query;

/* Build the query, or return SG_ENOMEM, or SG_EUSAGE when filter->window is
 * set and the profile has no timeline, or with counts. */
int sg_query_new(const struct sg_profile *p, enum sg_query_by by,
                 const struct sg_query_filter *filter, struct sg_query **out);
/* Accepts NULL. */
void sg_query_free(struct sg_query *q);

/* Count the rows the filters keep anew, row i as counts[i] samples (rows
 * from ncounts on as none; counts NULL: their own counts), as a filter's
 * counts would: keys and the other choices the query was built with stay,
 * so several countings of one profile (each thread's rows, say) cost one
 * query's keys. Its rows' design effects are then 1 (the timeline is not
 * what was counted). SG_EUSAGE for a query
 * built with a window; 0 or SG_ENOMEM (the query then counts part of the
 * rows). */
int sg_query_recount(struct sg_query *q, const uint64_t *counts, size_t ncounts);

/* Samples the filters keep, and of those, samples of idle threads. */
uint64_t sg_query_total(const struct sg_query *q);
uint64_t sg_query_total_idle(const struct sg_query *q);
/* The display string of a key (borrowed, valid for the query's life). In
 * the frame views keys follow from the profile's frames and the filter's
 * file_name alone: two queries of one profile, built with no frame added
 * in between, give a function the same key. */
const char *sg_query_key(const struct sg_query *q, uint32_t key);

/* The dotted module of a Python source path: what follows site-packages/
 * or dist-packages/, or the standard library's lib/pythonX.Y/, with ".py"
 * and "/__init__" dropped ("/usr/lib/python3.11/json/decoder.py" ->
 * "json.decoder"); "<frozen NAME>" -> NAME; any other path its file name
 * without ".py" (a script: "tests/cpu_split.py" -> "cpu_split"); "" ->
 * "[no file]". Writes at most len bytes, NUL included (len > 0). */
void sg_query_module(const char *path, char *buf, size_t len);

struct sg_query_row {
	uint32_t key;
	uint64_t self, self_idle;   /* samples with the key at the leaf; of those, idle */
	uint64_t total, total_idle; /* samples with the key anywhere; of those, idle */
	/* Design effects: how much less self (total) knows than as many
	 * independent samples would. Consecutive samples are one event seen
	 * several times when they come of one long call, or of a thread that
	 * runs slowly or not at all (descheduled on a busy machine), and one
	 * key's clump moves every other key's share too. By batch means: the
	 * timeline cut into 32 stretches of equal time, the variance of the
	 * key's share estimated from how its count differs between stretches,
	 * over the binomial variance; 1 at least (the estimate is good to
	 * about 25%), and 1 unless the filter asked for them (effects), without a timeline
	 * (taken as independent), or in
	 * the thread and process views. The variance of the share grows by
	 * about that factor. */
	double self_effect, total_effect;
};

enum sg_query_sort { SG_SORT_SELF, SG_SORT_TOTAL, SG_SORT_NAME };

/* The flat table: one row per key seen, sorted (self or total descending,
 * ties by name; or by name). *rows is the caller's to free. 0 or SG_ENOMEM. */
int sg_query_flat(const struct sg_query *q, enum sg_query_sort sort, struct sg_query_row **rows,
                  size_t *n);

#define SG_QUERY_NONE UINT32_MAX

/* A node of the call tree: the path of keys from the root to it. Node 0 is
 * the root, with key SG_QUERY_NONE, holding every sample. Children are
 * linked from first_child through next_sibling, highest total first (ties
 * by name); SG_QUERY_NONE ends a list. total = self + the children's totals. */
struct sg_query_node {
	uint32_t key, parent, first_child, next_sibling;
	uint32_t depth;             /* 0 for the root */
	uint64_t self, self_idle;   /* samples whose stack ends here */
	uint64_t total, total_idle; /* samples whose stack passes here */
};

/* The call tree of frame keys (not for SG_BY_THREAD or SG_BY_PROCESS:
 * SG_EUSAGE). inverted: stacks read leaf first, so roots are the leaf
 * functions and below them their callers ("self" is then where the stack
 * began). collapse_recursion: consecutive frames of the same key count as
 * one (direct recursion; a;b;a;b stays as it is). *nodes is the caller's. */
int sg_query_tree(const struct sg_query *q, bool inverted, bool collapse_recursion,
                  struct sg_query_node **nodes, size_t *n);

/* One edge from or to the functions asked about: key is the caller (or
 * callee), SG_QUERY_NONE for "none": the matched frame was the root (or the
 * leaf). count: samples with that edge, each counted once. */
struct sg_query_edge {
	uint32_t key;
	uint64_t count, idle;
};

/* The callers (callees false: the callees) of the frames matching re, frame
 * keys only (SG_EUSAGE otherwise). *through: samples with a matching frame,
 * which is what each edge's share is of; with recursion or several matching
 * functions an edge's samples may also pass through another, so the edges
 * may add up to more than *through. Sorted by count descending, ties by
 * name. *edges is the caller's. */
int sg_query_neighbours(const struct sg_query *q, const regex_t *re, bool callers,
                        struct sg_query_edge **edges, size_t *n, uint64_t *through);

#endif
