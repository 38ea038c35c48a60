/* SPDX-License-Identifier: MIT */
#ifndef SG_FORMATS_TIMELINE_H
#define SG_FORMATS_TIMELINE_H

/*
 * What the per-thread, time-ordered writers (speedscope, chrometrace) share:
 * the profile cut into threads, each a list of spans in time order, and
 * fast output of large JSON files.
 *
 * Spans come from the profile's timeline when it has one (one span per run).
 * A profile without one (read from a collapsed file) gets each thread's rows
 * laid end to end in row order, starting at 0, so that both writers still
 * have a time axis to draw on.
 *
 * A span's weight_ns is its share of its row's nanoseconds, split over the
 * row's runs by count (the last run takes the rounding remainder), so spans
 * add up to exactly what the rows say. A row's nanoseconds are its
 * weight_ns, or count times the sampling period when weight_ns is 0 (rows
 * read from collapsed files): the period of meta.rate_asked_hz, or of 100 Hz
 * (record's default) when the rate is unknown.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "profile/profile.h"
#include "util/strbuf.h"

/* A stretch of one thread spent in one row's stack. */
struct sg_tl_span {
	uint32_t row; /* index of the aggregated sample */
	uint64_t start_ns, end_ns;
	uint64_t count;     /* samples it stands for */
	uint64_t weight_ns; /* nanoseconds it stands for (see above) */
};

/* A thread: every row with the same pid and tid. */
struct sg_tl_thread {
	pid_t pid, tid;
	uint32_t name;        /* string id: its latest non-empty thread name */
	uint64_t weight_ns;   /* sum over its spans */
	uint64_t busy_ns;     /* of that, in samples not marked idle */
	uint64_t start_ns;    /* its first span's start */
	uint64_t end_ns;      /* its last span's end */
	size_t first, nspans; /* spans[first .. first + nspans), in time order */
};

struct sg_timeline {
	struct sg_tl_thread *threads; /* in the order their first rows were seen */
	size_t nthreads;
	struct sg_tl_span *spans;
	size_t nspans;
	bool timed;        /* spans come from the profile's timeline */
	bool several_pids; /* threads of more than one process */
	/* Dense numbering of the frames that some span's stack uses, in frame
	 * id order: frame_index[frame id] is its number, UINT32_MAX if unused. */
	uint32_t *frame_index;
	size_t nused_frames;
	bool any_idle; /* some span's row is marked idle */
};

/* Cut p into threads and spans. Rows with no samples are left out.
 * 0 or SG_ENOMEM; tl must be released either way. */
int sg_timeline_build(struct sg_timeline *tl, const struct sg_profile *p);
void sg_timeline_release(struct sg_timeline *tl);

/* Append the frame's name, as every format names it (sg_text_frame), as a
 * JSON string. 0 or SG_ENOMEM. */
int sg_tl_json_name(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_frame *f,
                    bool full);

/* Append ',"file":FILE' and ',"line":LINE', each only when known (JSON
 * members for viewers that show where a frame is apart). 0 or SG_ENOMEM. */
int sg_tl_json_where(struct sg_strbuf *sb, const struct sg_profile *p, const struct sg_frame *f);

/* Bytes of the longest uint64_t in decimal. */
#define SG_TL_U64_MAX 20

/* Write v in decimal at out, which has room for SG_TL_U64_MAX bytes; returns
 * the end. For loops that write many numbers into a local piece and append
 * whole pieces: per-number appends cost more than the digits. */
char *sg_tl_put_u64(char *out, uint64_t v);

/* Append v in decimal, without printf's per-call cost. 0 or SG_ENOMEM. */
int sg_tl_u64(struct sg_strbuf *sb, uint64_t v);

/* Write sb out and empty it once it holds at least `over` bytes (0: always),
 * so a large file never sits whole in memory. 0 or SG_EIO. */
int sg_tl_flush(struct sg_strbuf *sb, FILE *out, size_t over);

#endif
