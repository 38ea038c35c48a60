/* SPDX-License-Identifier: MIT */
#ifndef SG_PROFILE_REPORT_H
#define SG_PROFILE_REPORT_H

/*
 * Self and total figures per function, computed from a profile.
 *
 * A "function" is a (name, file) pair, so the lines of one function add up.
 * self = samples whose leaf frame is the function; total = samples whose
 * stack contains it at least once (recursion is counted once per sample).
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "profile/profile.h"

struct sg_report_row {
	uint32_t name; /* string ids in the profile */
	uint32_t file;
	uint64_t self;
	uint64_t idle; /* of self, samples taken while the thread was idle */
	uint64_t total;
};

/* Fill rows (caller-owned, capacity max) with the `max` functions of
 * highest self count (idle samples included), leaving out those with none,
 * in order of on-CPU self count (self - idle) then self, ties by name: so in
 * wall mode a function that only waits is listed, after those that run.
 * Returns how many were written, or a negative enum sg_err. */
int sg_report_top_self(const struct sg_profile *p, struct sg_report_row *rows, size_t max);
/* The same, with self and total (and idle) in value's unit: bytes of RSS
 * growth for SG_VALUE_RSS_GROWTH (record --memory). */
int sg_report_top_value(const struct sg_profile *p, enum sg_value value, struct sg_report_row *rows,
                        size_t max);

/* The 95% interval of a share of k samples out of n, as fractions
 * lo <= k/n <= hi: Wilson's score interval, which stays inside [0, 1] and
 * has nonzero width whenever n > 0 (one sample of one gives 0.21-1, not
 * 1 +/- 0). n == 0 gives [0, 1]. Every interval we print comes from here. */
void sg_report_interval(uint64_t k, uint64_t n, double *lo, double *hi);
/* The same for a share p (k > 0 samples of them, or none) over n
 * effective samples, which need not be whole: a share of n' samples worth n
 * independent ones (n = n' / design effect, query.h). n <= 0 gives [0, 1]. */
void sg_report_interval_of(uint64_t k, double p, double n, double *lo, double *hi);

/* Print the top `max` functions as a table to out, shares in percent of all
 * samples, each with its 95% interval ("lo-hi"):
 *   cpu mode:  self%  95% CI  total%  samples  function (file)
 *   wall mode: on-CPU%  95% CI  idle%  95% CI  total%  samples  function
 * where wall mode splits self into the samples that ran and those that
 * waited, sorted by on-CPU share, so a function blocked in wait() does not
 * pass for the hottest. samples is self. Files are shown as
 * sg_profile_short_file shows them, or whole when full_filenames. Returns 0
 * or an error. */
int sg_report_print_top(const struct sg_profile *p, size_t max, bool full_filenames, FILE *out);

/*
 * The RSS over a run (record --memory's series, sg_profile_rss), and what
 * its shape says:
 *
 * - The run is cut into SG_REPORT_TREND_WINDOWS windows of equal time, and
 *   each window's lowest and highest read are its floor and its peak.
 * - floor_slope, the growth rate of what stays (bytes/s), is the Theil-Sen
 *   slope of the floors (the median of the slopes between every two): a
 *   start-up ramp in the first window or the fall at exit in the last do
 *   not tilt it. floor_rise is that slope times the time from the first floor to the
 *   last.
 * - range: the second highest peak less the second lowest floor, so that
 *   no single window (start-up, exit) makes it.
 * - flat_below: the larger of SG_REPORT_FLAT_BYTES and SG_REPORT_FLAT_SHARE
 *   of the lowest RSS: allocator noise and a big process's small wobbles.
 * - teeth: falls, from the highest read since the last tooth, of at least
 *   half the range (and at least flat_below), each followed by a climb back
 *   by as much (so that a program's end, when its memory goes, is not a
 *   tooth). With 2 to SG_REPORT_TREND_WINDOWS teeth, the floors are the
 *   teeth's troughs instead (floors_are_troughs): a window shorter than a
 *   tooth has for floor whatever phase of the tooth it holds.
 *
 * Then, in this order: range < flat_below is FLAT; floor_rise >= range / 2
 * is STAIRCASE (the floor climbs across cycles: a leak, whatever comes and
 * goes on top); two teeth or more is SAWTOOTH (memory comes back: a cache
 * cleared, a collection); anything else is UNCLEAR.
 */
#define SG_REPORT_TREND_WINDOWS 10
#define SG_REPORT_FLAT_BYTES    (8.0 * 1024 * 1024)
#define SG_REPORT_FLAT_SHARE    0.05

enum sg_report_trend {
	SG_TREND_FLAT,
	SG_TREND_SAWTOOTH,
	SG_TREND_STAIRCASE,
	SG_TREND_UNCLEAR,
};

struct sg_report_memory {
	size_t points;   /* of the series */
	double span_s;   /* from its first read to its last */
	uint64_t first;  /* bytes: the first read */
	uint64_t last;   /* the last */
	uint64_t lowest; /* and the extremes */
	uint64_t highest;
	uint64_t growth, freed;  /* bytes the rows were given (sg_sample) */
	size_t windows;          /* the floors: windows with reads, or troughs */
	bool floors_are_troughs; /* (then peak_slope is 0) */
	double floor_slope;      /* bytes/s */
	double peak_slope;       /* the same over the windows' peaks */
	double floor_rise;       /* bytes */
	double range;            /* bytes */
	double flat_below;       /* bytes */
	unsigned teeth;          /* falls and climbs back of half the range or more */
	enum sg_report_trend trend;
};

/* "flat", "sawtooth", "staircase" or "unclear". */
const char *sg_report_trend_name(enum sg_report_trend trend);

/* Fill *m from p's series: 0, or SG_EUSAGE when it has fewer than two
 * points (not recorded with --memory). */
int sg_report_memory(const struct sg_profile *p, struct sg_report_memory *m);

#endif
