/* SPDX-License-Identifier: MIT */
#ifndef SG_PROFILE_LIVE_H
#define SG_PROFILE_LIVE_H

/*
 * A profile that is still filling, read now and then (spyglass top): what
 * each function did between the last two readings (the interval) and since
 * the start, and what each thread did.
 *
 * A reading copies the rows' counts, O(rows). A view is built from the last
 * two readings with sg_query (by function, over given counts), so it can
 * be built again, sorted or split another way, while the profile goes on
 * filling: samples added since the last reading are not in it. The live
 * object borrows the profile, which must outlive it; rows may be added to
 * the profile between calls, never changed otherwise (no renaming). Not
 * thread-safe.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "profile/profile.h"

struct sg_live;

/* 0, or SG_ENOMEM. Free with sg_live_free (accepts NULL). */
int sg_live_new(const struct sg_profile *p, struct sg_live **out);
void sg_live_free(struct sg_live *l);

/* Take a reading: the interval now runs from the one before (the start, at
 * the first) to now. 0 or SG_ENOMEM (the readings are then unchanged). */
int sg_live_read(struct sg_live *l);

/* One function (a (name, file) pair, lines added up). self: samples with
 * it at the leaf; total: with it anywhere on the stack, once per sample;
 * *_idle: of those, samples of threads that were not on a CPU. */
struct sg_live_fn {
	const char *key; /* "name (file)", borrowed until the view is released */
	uint64_t self, self_idle, total, total_idle;                 /* in the interval */
	uint64_t all_self, all_self_idle, all_total, all_total_idle; /* since the start */
};

struct sg_live_thread {
	pid_t pid, tid;
	const char *name;            /* as the profile names it in its latest row (borrowed);
	                                the caller may point it elsewhere */
	char state;                  /* not set here: for the caller to fill ('\0') */
	uint64_t samples, idle, gil; /* in the interval: all, idle, holding the GIL */
	uint64_t all_samples, all_idle;
	struct sg_live_fn *fns; /* by_thread: its functions, sorted as asked */
	size_t nfns;
};

enum sg_live_sort {
	SG_LIVE_SELF,      /* self in the interval */
	SG_LIVE_TOTAL,     /* total in the interval */
	SG_LIVE_ALL_SELF,  /* self since the start */
	SG_LIVE_ALL_TOTAL, /* total since the start */
};

struct sg_live_view_opts {
	enum sg_live_sort sort;
	bool idle;      /* count idle samples; false: leave them out everywhere */
	bool by_thread; /* each thread's functions (fns of the first max_threads) */
	size_t max_threads;
	/* How function keys show files, as sg_query_filter's file_name. */
	const char *(*file_name)(const struct sg_profile *p, const char *file, void *arg);
	void *file_arg;
};

struct sg_live_view {
	uint64_t samples, idle, gil; /* in the interval (idle counted even when left out) */
	uint64_t all_samples, all_idle;
	pid_t *pids; /* processes with samples in the interval, in first-seen order */
	size_t npids;
	/* Every function seen since the start, sorted: most first by the sort
	 * key, then by the other figure of the same span, then by key. With
	 * idle left out, the figures are without idle samples, and functions
	 * left with none are not listed. */
	struct sg_live_fn *fns;
	size_t nfns;
	/* Every thread seen since the start, most samples in the interval
	 * first (without idle ones when they are left out), then most since
	 * the start, then by tid. */
	struct sg_live_thread *threads;
	size_t nthreads;
	void *priv; /* what the keys are borrowed from */
};

/* Build the view of the last two readings into v. 0 or SG_ENOMEM (v is
 * then empty). Release with sg_live_view_release. */
int sg_live_view(const struct sg_live *l, const struct sg_live_view_opts *opts,
                 struct sg_live_view *v);
void sg_live_view_release(struct sg_live_view *v);

/* fn's figures as the view counts them: without idle samples unless idle. */
uint64_t sg_live_fn_self(const struct sg_live_fn *fn, bool idle);
uint64_t sg_live_fn_total(const struct sg_live_fn *fn, bool idle);
uint64_t sg_live_fn_all_self(const struct sg_live_fn *fn, bool idle);
uint64_t sg_live_fn_all_total(const struct sg_live_fn *fn, bool idle);

#endif
