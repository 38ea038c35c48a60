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

#include <stdint.h>
#include <stdio.h>

#include "profile/profile.h"

struct sg_report_row {
	uint32_t name; /* string ids in the profile */
	uint32_t file;
	uint64_t self;
	uint64_t total;
};

/* Fill rows (caller-owned, capacity max) with the functions of highest self
 * count, highest first (ties by name), leaving out those with none. Returns how many were written,
 * or a negative enum sg_err. Idle samples count like any other. */
int sg_report_top_self(const struct sg_profile *p, struct sg_report_row *rows, size_t max);

/* Print the top `max` functions by self share as a table:
 *   self%  total%  samples  function (file)
 * with each share's 95% interval half-width, to out. Returns 0 or an error. */
int sg_report_print_top(const struct sg_profile *p, size_t max, FILE *out);

#endif
