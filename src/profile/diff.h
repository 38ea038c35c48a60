/* SPDX-License-Identifier: MIT */
#ifndef SG_PROFILE_DIFF_H
#define SG_PROFILE_DIFF_H

/*
 * A differential profile, for `spyglass diff BASE NEW`: the same question
 * (a query, profile/query.h) asked of two profiles, and per key and per
 * call path how its share moved. Each side is normalised to its own total
 * (the samples its filters keep), so runs of different length compare.
 *
 * The change in a share is new% - base%, in percentage points, with the 95%
 * interval of Newcombe's hybrid score method (his method 10), which is
 * built from the Wilson interval of each side (sg_report_interval_of),
 * stays inside [-100, 100] and keeps a nonzero width for counts of 0.
 *
 * Whether a change is significant: a two-proportion z test (pooled, two
 * sided) for each figure compared, and Holm's step-down correction over the
 * family of figures compared (every key's self and total, or every box of a
 * flame graph), so that the chance of calling at least one unchanged figure
 * changed stays under alpha however many are compared.
 *
 * Samples are not independent draws: consecutive samples of one long call,
 * or of a thread descheduled or slowed on a busy machine, are one event
 * seen several times. Each side's variance of a figure, in the test and in
 * the intervals, is that of independent samples times the figure's design
 * effect on that side (sg_query_row), as if it had n / design effect
 * samples. Without a timeline (collapsed files) samples are taken as
 * independent.
 *
 * Keys of the two sides are matched by their display strings. The diff
 * borrows nothing from the queries once built. Not thread-safe.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/query.h"

enum sg_diff_side { SG_DIFF_BASE, SG_DIFF_NEW };

/* The default family-wise alpha of the marks. */
#define SG_DIFF_ALPHA 0.01

/* One share compared: k of n samples on each side. */
struct sg_diff_change {
	uint64_t k[2], n[2];     /* by enum sg_diff_side */
	double effect[2];        /* the design effects the variances are multiplied by */
	double pct[2];           /* k / n in percent (0 when n is 0) */
	double lo[2], hi[2];     /* each share's 95% Wilson interval, percent */
	double change, clo, chi; /* new% - base%, points, and its 95% interval */
	double z, p;             /* pooled z (positive: grew), two-sided p-value */
	bool tested;             /* false when there is nothing to test (p = 1):
	                          * a side without samples, or pooled share 0 or 100% */
	double p_holm;           /* p adjusted for the family (Holm), in [p, 1] */
	bool significant;        /* p_holm < alpha */
};

/* Compare k_base of n_base with k_new of n_new (k <= n), the variance of
 * each side's share multiplied by its design effect deff[side] (less than
 * 1 counts as 1).
 * Sets every field but p_holm (= p) and significant (false): see
 * sg_diff_holm. */
void sg_diff_compare(uint64_t k_base, uint64_t n_base, uint64_t k_new, uint64_t n_new,
                     const double deff[2], struct sg_diff_change *c);

/* Holm's correction over the n changes at *c[0..n) (pointers, so a family
 * may gather figures from anywhere): p_holm of the i-th smallest of the m
 * tested p-values is max over j <= i of min(1, (m - j + 1) p_(j)); changes
 * not tested keep p_holm = 1. Then significant = p_holm < alpha. Returns
 * m, or SG_ENOMEM. */
int sg_diff_holm(struct sg_diff_change *const *c, size_t n, double alpha);

/* One key of the flat comparison. */
struct sg_diff_row {
	const char *key; /* borrowed from the diff */
	struct sg_diff_change self, total;
};

/* A node of the merged call tree: the path of keys from the root, seen on
 * either side. Node 0 is the root (key ""), holding every sample; a parent
 * comes before its children. self and total are counts per side. */
struct sg_diff_node {
	const char *key;
	uint32_t parent; /* SG_QUERY_NONE for the root */
	uint32_t depth;  /* 0 for the root */
	uint64_t self[2], total[2];
	double effect[2]; /* the design effect of its key's total (1 for the root) */
};

struct sg_diff;

/* Compare the queries base and new (of the same view): the flat rows, with
 * Holm's correction over every key's self and total at alpha, and the
 * merged call tree (tree false: not built; true needs frame keys, not
 * SG_BY_THREAD nor SG_BY_PROCESS, else SG_EUSAGE). 0, SG_EUSAGE or
 * SG_ENOMEM. */
int sg_diff_new(const struct sg_query *base, const struct sg_query *new, double alpha, bool tree,
                struct sg_diff **out);
/* Accepts NULL. */
void sg_diff_free(struct sg_diff *d);

/* Samples kept on a side. */
uint64_t sg_diff_total(const struct sg_diff *d, enum sg_diff_side side);
double sg_diff_alpha(const struct sg_diff *d);
/* How many figures the flat rows' correction was over (tested ones). */
size_t sg_diff_tests(const struct sg_diff *d);

/* The rows, largest move first: by the larger of |self change| and |total
 * change|, ties by name. */
size_t sg_diff_nrows(const struct sg_diff *d);
const struct sg_diff_row *sg_diff_row(const struct sg_diff *d, size_t i);

size_t sg_diff_nnodes(const struct sg_diff *d);
const struct sg_diff_node *sg_diff_node(const struct sg_diff *d, uint32_t i);

#endif
